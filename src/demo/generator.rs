//! The generator: an iterator of delivered event lines. It plans one unit (a person, or a
//! household of two) at a time and holds only that unit and a small reorder buffer, so a
//! million people never sit in memory at once.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::delivery::ReorderBuffer;
use super::ids::{Codes, splitmix};
use super::journey::{Unit, calendar_shift, plan_unit};
use super::plan::Group;
use super::settings::{Settings, SettingsError};
use super::sources::SourceId;
use super::stats::GenerationStats;
use super::truth::{TruthRecord, Unlinkable};
use super::wire::{Renderer, message_id};
use crate::config::DEFAULT_SPACE;

/// One delivered line of the event stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The event as one line of JSON (no trailing newline).
    pub json: String,
    /// The event's truth on its first delivery; `None` on a duplicate delivery.
    pub truth: Option<TruthRecord>,
}

/// Streams realistic, messy journeys as Segment-spec JSON lines with their ground truth.
/// Same settings and seed give the same lines.
#[derive(Debug)]
pub struct Generator {
    settings: Settings,
    codes: Codes,
    /// Drives journeys and event content.
    rng: ChaCha8Rng,
    /// Drives delivery noise (late arrival, duplicates) only.
    noise: ChaCha8Rng,
    next_person: u64,
    pending: std::vec::IntoIter<Delivery>,
    buffer: ReorderBuffer<Delivery>,
    stats: GenerationStats,
    by_source: [u64; SourceId::ALL.len()],
    renderer: Renderer,
}

impl Generator {
    /// A generator for `settings` (checked first).
    pub fn new(settings: Settings) -> Result<Generator, SettingsError> {
        settings.validate()?;
        Ok(Generator {
            renderer: Renderer::default(),
            codes: Codes::new(settings.seed, settings.people),
            rng: ChaCha8Rng::seed_from_u64(settings.seed),
            noise: ChaCha8Rng::seed_from_u64(splitmix(settings.seed ^ 0x6465_6c69_7665_7279)),
            settings,
            next_person: 0,
            pending: Vec::new().into_iter(),
            buffer: ReorderBuffer::default(),
            stats: GenerationStats::default(),
            by_source: [0; SourceId::ALL.len()],
        })
    }

    /// People planned so far (all of them once the iterator is exhausted).
    pub fn people_done(&self) -> u64 {
        self.next_person
    }

    /// Events planned but not yet delivered (the current unit plus the reorder buffer):
    /// stays small however many people are generated.
    pub fn held(&self) -> usize {
        self.pending.len() + self.buffer.len()
    }

    /// What has been generated so far (everything once the iterator is exhausted).
    pub fn stats(&self) -> GenerationStats {
        let mut stats = self.stats.clone();
        for (source, &count) in SourceId::ALL.iter().zip(&self.by_source) {
            if count > 0 {
                stats
                    .events_by_source
                    .insert(source.name().to_string(), count);
            }
        }
        stats
    }

    /// Plans the next unit and renders its events in time order.
    fn next_unit(&mut self) {
        let remaining = self.settings.people - self.next_person;
        let mut unit = plan_unit(
            &mut self.rng,
            &self.settings,
            &self.codes,
            self.next_person,
            remaining,
            &mut self.stats,
        );
        self.next_person += unit.people.len() as u64;
        if let Some(end) = self.settings.ends_at {
            let shift = calendar_shift(&self.settings);
            for event in &mut unit.events {
                event.time += shift;
            }
            unit.events.retain(|e| e.time <= end);
        }
        unit.events.sort_by_key(|e| e.time);
        self.count_unlinkable_people(&unit);
        let rendered = self
            .render_unit(&unit)
            .expect("generated events have string keys only, so serde_json cannot fail");
        self.pending = rendered.into_iter();
    }

    /// Renders the unit's events with their truth, in order.
    fn render_unit(&mut self, unit: &Unit) -> serde_json::Result<Vec<Delivery>> {
        self.renderer.start_unit(unit)?;
        let mut rendered = Vec::with_capacity(unit.events.len());
        for event in &unit.events {
            let id = message_id(&mut self.rng, event.source, event.time);
            let mut line = Vec::with_capacity(1536);
            self.renderer.render(unit, event, &id, &mut line)?;
            let json = String::from_utf8(line).map_err(serde::ser::Error::custom)?;
            let person = &unit.people[event.person];
            let space = event.source.space(self.settings.second_space);
            let (fragment, unlinkable) = match event.group {
                Group::Main => (None, None),
                Group::Fragment { id, reason } => {
                    self.stats.unlinkable.entry(reason).or_default().events += 1;
                    (Some(format!("{}/f{id}", person.key)), Some(reason))
                }
            };
            self.stats.events += 1;
            self.by_source[event.source as usize] += 1;
            rendered.push(Delivery {
                json,
                truth: Some(TruthRecord {
                    message_id: id,
                    person: person.key.to_string(),
                    space: (space != DEFAULT_SPACE).then(|| space.to_string()),
                    fragment,
                    unlinkable,
                }),
            });
        }
        Ok(rendered)
    }

    fn count_unlinkable_people(&mut self, unit: &Unit) {
        let mut seen: Vec<(usize, Unlinkable)> = Vec::new();
        for event in &unit.events {
            if let Group::Fragment { reason, .. } = event.group
                && !seen.contains(&(event.person, reason))
            {
                seen.push((event.person, reason));
                self.stats.unlinkable.entry(reason).or_default().people += 1;
            }
        }
    }

    /// Hands a rendered event to the reorder buffer, maybe late, maybe twice.
    fn deliver(&mut self, delivery: Delivery) {
        let window = u64::from(self.settings.reorder_window);
        let late = window > 0 && self.noise.random_bool(self.settings.late_rate);
        let delay = if late {
            self.stats.late += 1;
            self.noise.random_range(1..=window)
        } else {
            0
        };
        let duplicate = window > 0 && self.noise.random_bool(self.settings.duplicate_rate);
        self.stats.deliveries += 1;
        if duplicate {
            // A retry: the same bytes, after the original.
            let copy = Delivery {
                json: delivery.json.clone(),
                truth: None,
            };
            self.buffer.push(delivery, delay);
            let extra = self.noise.random_range(1..=window);
            self.buffer.push(copy, delay + extra);
            self.stats.duplicates += 1;
            self.stats.deliveries += 1;
        } else {
            self.buffer.push(delivery, delay);
        }
    }
}

impl Iterator for Generator {
    type Item = Delivery;

    fn next(&mut self) -> Option<Delivery> {
        loop {
            if let Some(ready) = self.buffer.pop_ready() {
                return Some(ready);
            }
            if let Some(delivery) = self.pending.next() {
                self.deliver(delivery);
            } else if self.next_person < self.settings.people {
                self.next_unit();
            } else {
                return self.buffer.pop_any();
            }
        }
    }
}
