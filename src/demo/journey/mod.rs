//! Journeys: what one person, or a household of two, does over the year, planned as events
//! tagged with their true person and with whether shared identifiers link them to the rest
//! of that person's events.
//!
//! This module picks the kind of unit and holds the planner's helpers; `customers` plans
//! sign-ups, devices and apps, `channels` the support desk, CRM and e-mail tool, `trouble`
//! the trouble cases, and `sessions` the events of one visit.

mod channels;
mod customers;
mod sessions;
mod trouble;

use rand::RngExt;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

use super::catalog::{JUNK_IDS, PRODUCTS, Product};
use super::clock::YEAR_END;
use super::devices::{Device, DeviceKind, Install};
use super::ids::Codes;
use super::people::{Person, team_mailbox};
use super::plan::{Group, PlannedEvent, Text};
use super::settings::Settings;
use super::sources::SourceId;
use super::stats::GenerationStats;
use super::truth::Unlinkable;
use crate::model::Millis;
use crate::model::time::DAY;

const SECOND: Millis = 1000;
const MINUTE: Millis = 60 * SECOND;
const HOUR: Millis = 60 * MINUTE;
/// Sessions start no later than this, so follow-ups (at most a week) stay inside the year.
const LAST_START: Millis = YEAR_END - 10 * DAY;
/// Journeys start within the first 300 days.
const START_DAYS: i64 = 300;

/// How far planned times move so the last sessions start at [`Settings::ends_at`] (0
/// without it: the fixed 2025 calendar).
pub(crate) fn calendar_shift(settings: &Settings) -> Millis {
    settings.ends_at.map_or(0, |end| end - LAST_START)
}

/// What kind of unit is generated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum UnitKind {
    Single,
    LogoutWithoutReset,
    FamilyIpad,
    SharedTeamEmail,
}

/// One person, or a household of two, with every device, install and planned event.
#[derive(Debug, Default)]
pub(crate) struct Unit {
    pub people: Vec<Person>,
    pub devices: Vec<Device>,
    pub installs: Vec<Install>,
    pub events: Vec<PlannedEvent>,
}

/// Plans the next unit, starting at person index `first_index` with `remaining` people
/// still to generate, and counts what it contains in `stats`.
pub(crate) fn plan_unit(
    rng: &mut ChaCha8Rng,
    settings: &Settings,
    codes: &Codes,
    first_index: u64,
    remaining: u64,
    stats: &mut GenerationStats,
) -> Unit {
    let mut planner = Planner {
        rng,
        settings,
        codes,
        stats,
        unit: Unit::default(),
        fragments: 0,
    };
    planner.plan(first_index, remaining);
    planner.unit
}

struct Planner<'a> {
    rng: &'a mut ChaCha8Rng,
    settings: &'a Settings,
    codes: &'a Codes,
    stats: &'a mut GenerationStats,
    unit: Unit,
    fragments: u32,
}

/// A signed-up person while their journey is planned.
struct Customer {
    p: usize,
    /// When they signed up (the conversion point).
    signup: Millis,
    /// Shop installs (website, shop apps) they are logged in on, and since when.
    logins: Vec<(usize, Millis)>,
    /// Their web install whose client sends junk ids.
    buggy: Option<usize>,
    /// Orders: when, and the order id.
    orders: Vec<(Millis, Text)>,
}

impl Planner<'_> {
    fn plan(&mut self, first_index: u64, remaining: u64) {
        let settings = self.settings;
        let trouble = &settings.trouble;
        let draw: f64 = self.rng.random();
        let kind = if remaining < 2 {
            UnitKind::Single
        } else if draw < trouble.logout_without_reset {
            UnitKind::LogoutWithoutReset
        } else if draw < trouble.logout_without_reset + trouble.family_ipad {
            UnitKind::FamilyIpad
        } else if draw < trouble.household_total() {
            UnitKind::SharedTeamEmail
        } else {
            UnitKind::Single
        };
        match kind {
            UnitKind::Single => {
                let p = self.add_person(first_index);
                if self.chance(self.settings.anonymous_only) {
                    self.visitor(p);
                } else {
                    self.customer(p);
                }
            }
            UnitKind::LogoutWithoutReset => {
                let (a, b) = (
                    self.add_person(first_index),
                    self.add_person(first_index + 1),
                );
                let (ca, cb) = (self.customer(a), self.customer(b));
                self.logout_without_reset(&ca, &cb);
                self.stats.trouble.logout_without_reset += 1;
            }
            UnitKind::FamilyIpad => {
                let (a, b) = (
                    self.add_person(first_index),
                    self.add_person(first_index + 1),
                );
                let (ca, cb) = (self.customer(a), self.customer(b));
                self.family_ipad(&ca, &cb);
                self.stats.trouble.family_ipad += 1;
            }
            UnitKind::SharedTeamEmail => {
                let (a, b) = (
                    self.add_person(first_index),
                    self.add_person(first_index + 1),
                );
                let (company, mailbox) = team_mailbox(self.rng, &self.codes.tag(first_index));
                for p in [a, b] {
                    self.unit.people[p].email = mailbox.clone();
                    self.unit.people[p].company = Some(company.clone());
                }
                for p in [a, b] {
                    let c = self.customer(p);
                    // Each colleague writes to support from the team mailbox.
                    self.support(&c, true);
                }
                self.cut_off_mailbox_contacts(&mailbox);
                self.stats.trouble.shared_team_email += 1;
            }
        }
        self.stats.units += 1;
        self.stats.people += self.unit.people.len() as u64;
    }

    fn add_person(&mut self, index: u64) -> usize {
        let person = Person::new(self.rng, self.codes, index);
        self.unit.people.push(person);
        self.unit.people.len() - 1
    }

    /// A new device of `owner` with the shop app (or the website) on it.
    fn add_device_with_shop(&mut self, kind: DeviceKind, owner: usize, tablet: bool) -> usize {
        let device = Device::new(self.rng, kind, &self.unit.people[owner], tablet);
        self.unit.devices.push(device);
        let source = match kind {
            DeviceKind::Web => SourceId::Website,
            DeviceKind::Ios => SourceId::IosApp,
            DeviceKind::Android => SourceId::AndroidApp,
        };
        self.add_install(self.unit.devices.len() - 1, source)
    }

    fn add_install(&mut self, device: usize, source: SourceId) -> usize {
        let kind = self.unit.devices[device].kind;
        let install = Install::new(self.rng, device, kind, source);
        self.unit.installs.push(install);
        self.unit.installs.len() - 1
    }

    fn kind_of(&self, install: usize) -> DeviceKind {
        self.unit.devices[self.unit.installs[install].device].kind
    }

    /// The device a person signs up on: web, iPhone or Android.
    fn primary_kind(&mut self) -> (DeviceKind, bool) {
        match self.rng.random_range(0..20) {
            0..10 => (DeviceKind::Web, false),
            10..16 => (DeviceKind::Ios, false),
            _ => (DeviceKind::Android, false),
        }
    }

    /// Another device: a browser, a phone or an iPad.
    fn extra_kind(&mut self) -> (DeviceKind, bool) {
        match self.rng.random_range(0..20) {
            0..8 => (DeviceKind::Web, false),
            8..13 => (DeviceKind::Ios, false),
            13..18 => (DeviceKind::Android, false),
            _ => (DeviceKind::Ios, true),
        }
    }

    /// A logged-in shop install at time `t` (the sign-up install twice as likely).
    fn logged_in_install(&mut self, c: &Customer, t: Millis) -> usize {
        let ready: Vec<usize> = c
            .logins
            .iter()
            .filter(|&&(_, since)| since <= t)
            .map(|&(i, _)| i)
            .collect();
        if ready.is_empty() || self.chance(1.0 / (ready.len() as f64 + 1.0)) {
            c.logins[0].0
        } else {
            ready[self.rng.random_range(0..ready.len())]
        }
    }

    fn fragment(&mut self, reason: Unlinkable) -> Group {
        self.fragments += 1;
        Group::Fragment {
            id: self.fragments,
            reason,
        }
    }

    /// The person's e-mail at `t`, as a form or tool would send it.
    fn email_sent(&mut self, p: usize, t: Millis) -> Text {
        self.unit.people[p].email_as_sent(self.rng, t)
    }

    /// The e-mail the marketing tool uses at `t`: it learns about a change two weeks late.
    fn tool_email(&mut self, p: usize, t: Millis) -> Text {
        let stale = match &self.unit.people[p].changed_email {
            Some((since, _)) => t >= *since && t < *since + 14 * DAY,
            None => false,
        };
        if stale {
            self.unit.people[p].email.clone()
        } else {
            self.email_sent(p, t)
        }
    }

    fn junk(&mut self) -> Text {
        Text::from(JUNK_IDS.choose(self.rng).copied().unwrap_or("undefined"))
    }

    fn product(&mut self) -> &'static Product {
        PRODUCTS.choose(self.rng).unwrap_or(&PRODUCTS[0])
    }

    /// `n` scaled by the activity setting (rounded at random, so the expected value
    /// scales exactly), at least `min`.
    fn scaled(&mut self, n: u32, min: u32) -> u32 {
        let scaled = f64::from(n) * self.settings.activity;
        let whole = scaled.floor();
        let extra = u32::from(self.chance(scaled - whole));
        (whole as u32 + extra).max(min)
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p.clamp(0.0, 1.0))
    }

    /// A uniform duration or time in `[lo, hi)` (`lo` when the range is empty).
    fn between(&mut self, lo: Millis, hi: Millis) -> Millis {
        if hi <= lo {
            lo
        } else {
            self.rng.random_range(lo..hi)
        }
    }

    /// A start time: a random day of the first 300, in waking hours.
    fn day_start(&mut self) -> Millis {
        let day = self.rng.random_range(0..START_DAYS);
        let hour = self.rng.random_range(7..23);
        super::clock::YEAR_START + day * DAY + hour * HOUR + self.between(0, HOUR)
    }
}
