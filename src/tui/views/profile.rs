//! A profile: header, tabs, the Overview and Touchpoints tabs.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline, Tabs};
use unicode_width::UnicodeWidthStr;

use crate::query::timeline::{activity, bucket_width};
use crate::tui::action::Action;
use crate::tui::keymap::KeyContext;
use crate::tui::state::{ProfileData, ProfileView, State, Tab};
use crate::tui::summary::event_summary;
use crate::tui::text::{age, ago, clean, count, fit, plural, short_time};
use crate::tui::update::{overview_order, shown};

use super::{Ctx, HitMap, cell, list_row, panel, scroll_offset};

/// Traits shown first in the overview, in this order.
const KEY_TRAITS: [&str; 8] = [
    "name", "email", "phone", "plan", "company", "title", "city", "country",
];

pub fn render(frame: &mut Frame, area: Rect, state: &State, ctx: &Ctx, hits: &mut HitMap) {
    let t = ctx.theme;
    let Some(view) = &state.profile else {
        return;
    };
    let [header, tabs_area, body] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(1),
    ])
    .areas(area);
    let Some(data) = &view.data else {
        let text = match &view.error {
            Some(e) => Line::styled(format!("{}: {}", view.id, clean(e)), t.error),
            None => Line::styled(format!("Loading {}…", view.id), t.dim),
        };
        frame.render_widget(Paragraph::new(text), header);
        return;
    };
    let name = shown_name(state, data);
    frame.render_widget(
        Paragraph::new(super::profile_header::header(
            state,
            view,
            data,
            &name,
            t,
            header.width as usize,
        )),
        header,
    );

    let titles: Vec<Line> = Tab::ALL
        .iter()
        .enumerate()
        .map(|(i, tab)| Line::from(format!("{} {}", i + 1, tab.title())))
        .collect();
    frame.render_widget(
        Tabs::new(titles)
            .select(view.tab.index())
            .style(t.tab)
            .highlight_style(t.tab_active)
            .divider("│"),
        tabs_area,
    );
    // Tab hit boxes: " N Title " separated by one divider column.
    let mut x = tabs_area.x;
    for (i, tab) in Tab::ALL.iter().enumerate() {
        let w = format!("{} {}", i + 1, tab.title()).chars().count() as u16 + 2;
        hits.tabs.push((
            Rect {
                x,
                y: tabs_area.y,
                width: w,
                height: 1,
            },
            *tab,
        ));
        x += w + 1;
    }
    match view.tab {
        Tab::Overview => overview(frame, body, state, view, data, ctx, hits),
        Tab::Timeline => super::timeline::render(frame, body, state, view, data, ctx, hits),
        Tab::Touchpoints => touchpoints(frame, body, state, view, data, ctx, hits),
        Tab::Graph => super::graph::render(frame, body, state, view, data, ctx, hits),
        Tab::History => super::lists::history(frame, body, state, view, data, ctx, hits),
    }
}

fn shown_name(state: &State, data: &ProfileData) -> String {
    data.profile
        .display_name()
        .map(|n| shown(state, "name", &n))
        .unwrap_or_else(|| "(no name)".into())
}

fn overview(
    frame: &mut Frame,
    area: Rect,
    state: &State,
    view: &ProfileView,
    data: &ProfileData,
    ctx: &Ctx,
    hits: &mut HitMap,
) {
    let t = ctx.theme;
    let channels = data.touchpoints.len().min(6) as u16;
    // The audience panel takes what the traits and identifiers (at least 6 rows) and the
    // activity leave, and no more than it needs.
    let room = area.height.saturating_sub(channels + 2 + 6 + 2).max(1);
    let memberships = super::audiences::profile_lines(state, data, t, room as usize);
    let audience_rows = (memberships.len() as u16).min(room) + 2;
    let [top, audiences, spark] = Layout::vertical([
        Constraint::Min(6),
        Constraint::Length(audience_rows),
        Constraint::Length(channels + 2),
    ])
    .areas(area);
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(36), Constraint::Percentage(64)]).areas(top);

    // Traits and counts.
    let traits = data.profile.trait_map();
    let mut keys: Vec<&String> = KEY_TRAITS
        .iter()
        .filter_map(|k| traits.get_key_value(*k).map(|(k, _)| k))
        .collect();
    keys.extend(traits.keys().filter(|k| !KEY_TRAITS.contains(&k.as_str())));
    let label_w = 9;
    // What the panel leaves a value, inside its borders, after the label and a space: a
    // longer value ends in `…` rather than being cut off unmarked.
    let value_w = (left.width as usize).saturating_sub(2 + label_w + 1);
    let row = |label: &str, value: &str| {
        Line::from(vec![
            Span::styled(cell(label, label_w), t.label),
            Span::styled(" ", t.base),
            Span::styled(fit(value, value_w), t.value),
        ])
    };
    let mut lines: Vec<Line> = keys
        .iter()
        .map(|key| {
            let value = data.profile.trait_text(key).unwrap_or_default();
            row(&clean(key), &shown(state, key, &value))
        })
        .collect();
    let p = &data.profile;
    let channel_list = data
        .touchpoints
        .iter()
        .map(|c| clean(&c.channel).into_owned())
        .collect::<Vec<_>>()
        .join(", ");
    let height = left.height.saturating_sub(2) as usize;
    let space = clean(&state.space).into_owned();
    let created = short_time(p.created_at);
    let last_seen = short_time(p.last_seen);
    if lines.len() + 7 <= height {
        lines.push(Line::default());
        for (label, value) in [
            ("space", space),
            ("created", created),
            ("last seen", last_seen),
            ("events", p.event_count.to_string()),
            ("merges", p.merge_count.to_string()),
            ("channels", channel_list),
        ] {
            lines.push(row(label, &value));
        }
    } else {
        // Short of room: last seen and the counts always show (events and merges on one
        // row), the traits get what is left (the last row saying how many more there are),
        // then created, the channels and the space if room is left over.
        let room = height.saturating_sub(2);
        if lines.len() > room {
            let more = lines.len() + 1 - room;
            lines.truncate(room.saturating_sub(1));
            if room > 0 {
                let copies = ctx
                    .keymap
                    .key_for(&[KeyContext::Profile], Action::CopyJson)
                    .map(|key| format!(" ({key} copies all)"))
                    .unwrap_or_default();
                lines.push(Line::styled(
                    fit(&format!("+{more} more{copies}"), label_w + 1 + value_w),
                    t.dim,
                ));
            }
        }
        let spare = room - lines.len();
        let show = |rank: usize| rank < spare;
        if spare > 3 {
            lines.push(Line::default());
        }
        let events = format!(
            "{} · {}",
            p.event_count,
            count(p.merge_count as u64, "merge")
        );
        // In the order of the full list; the rank says which go first when room is short.
        for (label, value, shown) in [
            ("space", space, show(2)),
            ("created", created, show(0)),
            ("last seen", last_seen, true),
            ("events", events, true),
            ("channels", channel_list, show(1)),
        ] {
            if shown {
                lines.push(row(label, &value));
            }
        }
    }
    frame.render_widget(Paragraph::new(lines).block(panel("Traits", false, t)), left);

    // Identifiers grouped by type.
    let order = overview_order(data);
    let mut title = format!("Identifiers ({})", p.identifiers.len());
    // The panel's rows, inside its border.
    let height = right.height.saturating_sub(2) as usize;
    let offset = scroll_offset(view.overview.selected, height, order.len());
    if height > 0 && order.len() > height {
        let last = (offset + height).min(order.len());
        title.push_str(&format!(" · {}-{last} shown", offset + 1));
    }
    let block = panel(title, true, t);
    let inner = block.inner(right);
    frame.render_widget(block, right);
    hits.viewport = height;
    let wide = inner.width >= 90;
    let kind_w = order
        .iter()
        .map(|&i| p.identifiers[i].id.kind.chars().count())
        .max()
        .unwrap_or(4)
        .min(14);
    let mut previous_kind: Option<&str> = None;
    for (row, &i) in order.iter().enumerate().skip(offset).take(height) {
        let held = &p.identifiers[i];
        let (rect, base) = list_row(
            inner,
            row,
            offset,
            view.overview.selected,
            t.selected,
            t.base,
        );
        let kind = if previous_kind == Some(held.id.kind.as_str()) {
            String::new()
        } else {
            held.id.kind.clone()
        };
        previous_kind = Some(&held.id.kind);
        let value_w = (inner.width as usize)
            .saturating_sub(kind_w + if wide { 47 } else { 24 })
            .max(8);
        let mut spans = vec![
            Span::styled(cell(&clean(&kind), kind_w), base.patch(t.kind)),
            Span::styled(" ", base),
            Span::styled(
                cell(&shown(state, &held.id.kind, &held.id.value), value_w),
                base.patch(t.value),
            ),
        ];
        if wide {
            spans.push(Span::styled(
                format!(
                    " {} → {} ",
                    short_time(held.first_seen),
                    short_time(held.last_seen)
                ),
                base.patch(t.dim),
            ));
        } else {
            // First and last seen, as ages: `11mo→3d`.
            spans.push(Span::styled(
                format!(
                    " {:>4}→{:<4} ",
                    age(held.first_seen, state.now),
                    age(held.last_seen, state.now)
                ),
                base.patch(t.dim),
            ));
        }
        spans.push(Span::styled(
            cell(&clean(&held.source), 11),
            base.patch(t.channel),
        ));
        frame.render_widget(Paragraph::new(Line::from(spans)).style(base), rect);
        hits.rows.push((rect, row));
    }

    // The audiences it is in, and why.
    let audience_count = data.audiences.as_ref().map_or(0, Vec::len);
    frame.render_widget(
        Paragraph::new(memberships).block(panel(
            format!(
                "Audiences ({audience_count}) as of {}",
                short_time(state.now)
            ),
            false,
            t,
        )),
        audiences,
    );

    // Activity per channel.
    let mut title = "Activity per channel (events per bucket, oldest → newest)".to_string();
    if let Some((loaded, _)) = data.partial() {
        title.push_str(&format!(" · newest {}", count(loaded as u64, "event")));
    }
    let block = panel(title, false, t);
    let inner = block.inner(spark);
    frame.render_widget(block, spark);
    let first = data
        .events
        .iter()
        .map(|e| e.time)
        .min()
        .unwrap_or(state.now);
    let last = data
        .events
        .iter()
        .map(|e| e.time)
        .max()
        .unwrap_or(state.now);
    let label_w = 11u16;
    let buckets = inner.width.saturating_sub(label_w + 8).max(1) as usize;
    let width = bucket_width(first, last, buckets);
    let end = first + width * buckets as i64;
    for (i, tp) in data.touchpoints.iter().take(channels as usize).enumerate() {
        let row = Rect {
            y: inner.y + i as u16,
            height: 1,
            ..inner
        };
        let [label, line, count] = Layout::horizontal([
            Constraint::Length(label_w),
            Constraint::Min(1),
            Constraint::Length(8),
        ])
        .areas(row);
        frame.render_widget(
            Paragraph::new(Span::styled(
                cell(&clean(&tp.channel), label_w as usize),
                t.channel,
            )),
            label,
        );
        let counts = activity(&data.events, &tp.channel, end, buckets, width);
        frame.render_widget(Sparkline::default().data(&counts).style(t.sparkline), line);
        frame.render_widget(
            Paragraph::new(Span::styled(format!(" {:>5}", tp.count), t.dim)),
            count,
        );
    }
}

fn touchpoints(
    frame: &mut Frame,
    area: Rect,
    state: &State,
    view: &ProfileView,
    data: &ProfileData,
    ctx: &Ctx,
    hits: &mut HitMap,
) {
    let t = ctx.theme;
    let mut title = "Touchpoints per channel, most recent contact first".to_string();
    if let Some((loaded, total)) = data.partial() {
        title.push_str(&format!(
            " · counted over the newest {loaded} of {}",
            count(total, "event")
        ));
    }
    let block = panel(title, true, t);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let mut lines: Vec<Line> = Vec::new();
    let mut starts = Vec::new();
    for (i, tp) in data.touchpoints.iter().enumerate() {
        starts.push(lines.len());
        let base = if i == view.touchpoints.selected {
            t.selected
        } else {
            t.base
        };
        lines.push(
            Line::from(vec![
                Span::styled(cell(&clean(&tp.channel), 11), base.patch(t.channel)),
                Span::styled(
                    format!("{:>4} {:<10}", tp.count, plural(tp.count, "contact")),
                    base.patch(t.value),
                ),
                Span::styled(
                    format!(
                        "first {}  last {} ({})",
                        short_time(tp.first),
                        short_time(tp.last),
                        ago(tp.last, state.now)
                    ),
                    base.patch(t.dim),
                ),
            ])
            .style(base),
        );
        for e in &tp.latest {
            let app = e
                .app
                .as_deref()
                .map(|a| format!(" · {}", clean(a)))
                .unwrap_or_default();
            let mut spans = vec![
                Span::styled("    ", t.base),
                Span::styled(format!("{}  ", short_time(e.time)), t.dim),
                Span::styled(clean(&e.label).into_owned(), t.value),
                Span::styled(format!("  {}{app}", clean(&e.source)), t.dim),
            ];
            // What the event says takes the rest of the line, ending in … when it is longer.
            let used: usize = spans.iter().map(|s| s.content.width()).sum();
            let room = (inner.width as usize).saturating_sub(used + 2);
            let says = event_summary(e, state.settings.redact);
            if !says.is_empty() && room > 0 {
                spans.push(Span::styled(format!("  {}", fit(&says, room)), t.label));
            }
            lines.push(Line::from(spans));
        }
    }
    let height = inner.height as usize;
    hits.viewport = height;
    let selected_line = starts.get(view.touchpoints.selected).copied().unwrap_or(0);
    let offset = scroll_offset(selected_line, height, lines.len());
    for (i, start) in starts.iter().enumerate() {
        if *start >= offset && *start < offset + height {
            hits.rows.push((
                Rect {
                    y: inner.y + (start - offset) as u16,
                    height: 1,
                    ..inner
                },
                i,
            ));
        }
    }
    frame.render_widget(Paragraph::new(lines).scroll((offset as u16, 0)), inner);
}
