//! The Audiences screen (every audience, or one audience's members) and the text of a
//! membership's "why", shared with the profile's Overview.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::audience::{Reason, Why};
use crate::tui::audiences::{Loaded, MembersView};
use crate::tui::state::{ProfileData, State};
use crate::tui::text::{clean, plural, short_time};
use crate::tui::theme::Theme;
use crate::tui::update::shown;

use super::{Ctx, HitMap, cell, id_column, list_row, panel, scroll_offset};

pub fn render(frame: &mut Frame, area: Rect, state: &State, ctx: &Ctx, hits: &mut HitMap) {
    match &state.audiences.members {
        Some(view) => members(frame, area, state, view, ctx, hits),
        None => list(frame, area, state, ctx, hits),
    }
}

/// What to show instead of rows: a failure, loading, nothing loaded yet, or no rows.
fn placeholder<'a, T>(
    loaded: &Loaded<T>,
    loading: &'a str,
    empty: &'a str,
    is_empty: bool,
    t: &Theme,
) -> Option<Line<'a>> {
    match (&loaded.error, loaded.pending, &loaded.data) {
        (Some(e), ..) => Some(Line::styled(format!("Cannot read: {}", clean(e)), t.error)),
        (None, Some(_), None) => Some(Line::styled(loading, t.dim)),
        (None, None, None) => Some(Line::styled("Press r to load.", t.dim)),
        _ => is_empty.then(|| Line::styled(empty, t.dim)),
    }
}

fn list(frame: &mut Frame, area: Rect, state: &State, ctx: &Ctx, hits: &mut HitMap) {
    let t = ctx.theme;
    let loaded = &state.audiences.list;
    let rows = loaded.data.as_deref().unwrap_or_default();
    let [list_area, detail] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(5)]).areas(area);
    let block = panel(
        format!(
            "Audiences ({}) · members as of {} · Enter lists them",
            rows.len(),
            short_time(state.now)
        ),
        true,
        t,
    );
    let inner = block.inner(list_area);
    frame.render_widget(block, list_area);
    if let Some(line) = placeholder(
        loaded,
        "Evaluating every audience…",
        "No audience is configured: define one under [audiences.NAME] in the config.",
        rows.is_empty(),
        t,
    ) {
        frame.render_widget(Paragraph::new(line), inner);
        return;
    }
    let name_w = rows
        .iter()
        .map(|a| a.name.chars().count())
        .max()
        .unwrap_or(8)
        .clamp(8, 28);
    let height = inner.height as usize;
    hits.viewport = height;
    let offset = scroll_offset(loaded.cursor.selected, height, rows.len());
    for (row, audience) in rows.iter().enumerate().skip(offset).take(height) {
        let (rect, base) = list_row(
            inner,
            row,
            offset,
            loaded.cursor.selected,
            t.selected,
            t.base,
        );
        let spans = vec![
            Span::styled(cell(&clean(&audience.name), name_w), base.patch(t.title)),
            Span::styled(format!(" {:>7} ", audience.members), base.patch(t.value)),
            Span::styled(
                format!("{}  ", cell(&plural(audience.members as u64, "member"), 7)),
                base.patch(t.dim),
            ),
            Span::styled(
                clean(&audience.description).into_owned(),
                base.patch(t.label),
            ),
        ];
        frame.render_widget(Paragraph::new(Line::from(spans)).style(base), rect);
        hits.rows.push((rect, row));
    }
    if let Some(chosen) = rows.get(loaded.cursor.selected) {
        frame.render_widget(
            Paragraph::new(Line::styled(
                clean(&chosen.description).into_owned(),
                t.value,
            ))
            .wrap(Wrap { trim: true })
            .block(panel(clean(&chosen.name), false, t)),
            detail,
        );
    }
}

fn members(
    frame: &mut Frame,
    area: Rect,
    state: &State,
    view: &MembersView,
    ctx: &Ctx,
    hits: &mut HitMap,
) {
    let t = ctx.theme;
    let loaded = &view.members;
    let [header, list_area, detail] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(6),
    ])
    .areas(area);
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(format!(" {} ", clean(&view.audience)), t.title),
            Span::styled(clean(&view.description).into_owned(), t.label),
        ])),
        header,
    );
    let data = loaded.data.as_ref();
    let rows = data.map_or(&[][..], |d| &d.rows);
    let total = data.map_or(0, |d| d.total);
    let shown_of = if rows.len() < total {
        format!("first {} of {total}", rows.len())
    } else {
        total.to_string()
    };
    let block = panel(
        format!(
            "Members ({shown_of}) as of {} · Enter opens a profile",
            short_time(state.now)
        ),
        true,
        t,
    );
    let inner = block.inner(list_area);
    frame.render_widget(block, list_area);
    if let Some(line) = placeholder(
        loaded,
        "Evaluating the audience…",
        "Nobody is in this audience now.",
        rows.is_empty(),
        t,
    ) {
        frame.render_widget(Paragraph::new(line), inner);
        return;
    }
    let width = inner.width as usize;
    let id_w = id_column(rows.iter().map(|r| r.profile));
    let name_w = if width >= 120 { 22 } else { 14 };
    let ids_w = (width.saturating_sub(id_w + name_w + 9) * 11 / 20).max(12);
    let height = inner.height as usize;
    hits.viewport = height;
    let offset = scroll_offset(loaded.cursor.selected, height, rows.len());
    for (row, member) in rows.iter().enumerate().skip(offset).take(height) {
        let (rect, base) = list_row(
            inner,
            row,
            offset,
            loaded.cursor.selected,
            t.selected,
            t.base,
        );
        let name = member
            .name
            .as_deref()
            .map(|n| shown(state, "name", n))
            .unwrap_or_else(|| "(no name)".into());
        let ids: Vec<String> = member
            .identifiers
            .iter()
            .map(|i| format!("{}:{}", clean(&i.kind), shown(state, &i.kind, &i.value)))
            .collect();
        let spans = vec![
            Span::styled(cell(&member.profile.to_string(), id_w), base.patch(t.dim)),
            Span::styled(cell(&name, name_w), base.patch(t.value)),
            Span::styled(" ", base),
            Span::styled(cell(&ids.join(" "), ids_w), base.patch(t.kind)),
            Span::styled(
                format!(
                    " {:>3} {:<3}  ",
                    member.identifier_count,
                    plural(member.identifier_count as u64, "id")
                ),
                base.patch(t.dim),
            ),
            Span::styled(why_short(state, &member.why), base.patch(t.label)),
        ];
        frame.render_widget(Paragraph::new(Line::from(spans)).style(base), rect);
        hits.rows.push((rect, row));
    }
    if let Some(member) = rows.get(loaded.cursor.selected) {
        let lines: Vec<Line> = member
            .why
            .reasons
            .iter()
            .map(|r| reason_line(state, r, t))
            .collect();
        frame.render_widget(
            Paragraph::new(lines).block(panel(
                format!("Why {} is in {}", member.profile, clean(&view.audience)),
                false,
                t,
            )),
            detail,
        );
    }
}

/// ✓ for a clause that counted toward membership, ✗ for one that counted against it.
fn mark(reason: &Reason) -> &'static str {
    if reason.satisfied() { "✓" } else { "✗" }
}

/// The evidence of a clause: its trait, its newest matching event (and how many more),
/// or that nothing matched.
fn evidence(state: &State, reason: &Reason) -> String {
    if let Some(tr) = reason.traits.first() {
        let key = clean(&tr.key);
        return match &tr.value_json {
            Some(v) => format!("{key} = {}", shown(state, &tr.key, v)),
            None => format!("{key} not set"),
        };
    }
    let Some(newest) = reason.events.first() else {
        return "no matching event".into();
    };
    let mut text = format!(
        "{} {} on {}",
        clean(&newest.label),
        short_time(newest.time),
        clean(&newest.channel)
    );
    if reason.matched > 1 {
        text.push_str(&format!(" (+{} more)", reason.matched - 1));
    }
    text
}

/// One clause in full: mark, clause as written, evidence.
pub(super) fn reason_line<'a>(state: &State, reason: &Reason, t: &Theme) -> Line<'a> {
    let not = if reason.negated { "not " } else { "" };
    let style = if reason.satisfied() { t.ok } else { t.warning };
    Line::from(vec![
        Span::styled(format!(" {} ", mark(reason)), style),
        Span::styled(format!("{not}{}", clean(&reason.clause)), t.value),
        Span::styled(format!(": {}", evidence(state, reason)), t.dim),
    ])
}

/// One clause in a few words: the event or trait that satisfied it, or the exclusion
/// checked.
fn reason_short(state: &State, reason: &Reason) -> String {
    let text = if !reason.traits.is_empty() || reason.satisfied() && !reason.negated {
        evidence(state, reason)
    } else if reason.satisfied() {
        let clause = reason.clause.strip_prefix("did ").unwrap_or(&reason.clause);
        format!("no {}", clean(clause))
    } else {
        let not = if reason.negated { "not " } else { "" };
        format!("{not}{}", clean(&reason.clause))
    };
    format!("{} {text}", mark(reason))
}

/// Every clause of a membership in a few words, on one line.
pub(super) fn why_short(state: &State, why: &Why) -> String {
    why.reasons
        .iter()
        .map(|r| reason_short(state, r))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// The lines of the Overview's Audiences panel, at most `max` of them: each audience the
/// profile is in with every clause in full when that fits, else one line per audience.
pub(super) fn profile_lines<'a>(
    state: &State,
    data: &ProfileData,
    t: &Theme,
    max: usize,
) -> Vec<Line<'a>> {
    let memberships = match &data.audiences {
        Err(e) => {
            return vec![Line::styled(
                format!("Cannot read the audiences: {}", clean(e)),
                t.error,
            )];
        }
        Ok(m) if m.is_empty() => return vec![Line::styled("In no audience now.", t.dim)],
        Ok(m) => m,
    };
    let detailed: usize = memberships
        .iter()
        .map(|(_, why)| 1 + why.reasons.len())
        .sum();
    if detailed <= max {
        let mut lines = Vec::with_capacity(detailed);
        for (name, why) in memberships {
            lines.push(Line::styled(clean(name).into_owned(), t.title));
            lines.extend(why.reasons.iter().map(|r| reason_line(state, r, t)));
        }
        return lines;
    }
    let name_w = memberships
        .iter()
        .map(|(n, _)| n.chars().count())
        .max()
        .unwrap_or(8)
        .min(24);
    memberships
        .iter()
        .map(|(name, why)| {
            Line::from(vec![
                Span::styled(cell(&clean(name), name_w), t.title),
                Span::styled(format!("  {}", why_short(state, why)), t.label),
            ])
        })
        .collect()
}
