//! The search screen: the query box and the ranked matches.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::query::search::SearchHit;
use crate::tui::action::Action;
use crate::tui::keymap::KeyContext;
use crate::tui::state::{State, StoreStatus};
use unicode_width::UnicodeWidthStr;

use crate::tui::text::{ago, clean, count, fit, is_personal, mask};

use super::{Ctx, HitMap, cell, highlighted, id_column, panel, scroll_offset};

pub fn render(frame: &mut Frame, area: Rect, state: &State, ctx: &Ctx, hits: &mut HitMap) {
    let t = ctx.theme;
    let [input, list] = Layout::vertical([Constraint::Length(3), Constraint::Min(1)]).areas(area);
    let find = &state.find;
    let cursor = if find.editing { "▏" } else { "" };
    let query = Line::from(vec![
        Span::styled("/ ", t.dim),
        Span::styled(clean(&find.query).into_owned(), t.value),
        Span::styled(cursor, t.border_focus),
    ]);
    let title = "Search names, emails, phones, ids (TYPE:VALUE for exact)";
    frame.render_widget(
        Paragraph::new(query).block(panel(title, find.editing, t)),
        input,
    );

    let results = &find.results;
    let heading = if matches!(state.store, StoreStatus::Failed(_)) {
        "Store unavailable".to_string()
    } else if find.query.trim().is_empty() {
        "Recently seen".to_string()
    } else {
        let more = if results.complete {
            ""
        } else {
            " (still searching)"
        };
        format!(
            "{}{more}",
            count(results.matched as u64, "matching profile")
        )
    };
    let block = panel(heading, !find.editing, t);
    let inner = block.inner(list);
    frame.render_widget(block, list);
    if results.hits.is_empty() {
        let text = match (&state.store, state.index) {
            (StoreStatus::Failed(e), _) => {
                let mut lines = vec![Line::styled(
                    format!("The store could not be opened: {}", clean(e)),
                    t.error,
                )];
                let contexts = [KeyContext::Unavailable, KeyContext::Global];
                if let (Some(retry), Some(quit)) = (
                    ctx.keymap.key_for(&contexts, Action::Refresh),
                    ctx.keymap.key_for(&contexts, Action::Quit),
                ) {
                    lines.push(Line::default());
                    lines.push(Line::styled(
                        format!("Press {retry} to try again, {quit} to quit."),
                        t.label,
                    ));
                }
                lines
            }
            (_, None) => vec![Line::styled(
                "Opening the store and indexing profiles…",
                t.dim,
            )],
            _ if find.pending.is_some() => vec![Line::styled("Searching…", t.dim)],
            _ => vec![Line::styled(
                "No profile matches. Try fewer letters or words, or TYPE:VALUE.",
                t.dim,
            )],
        };
        // The whole text, wrapped: a store error says what to do about it at its end.
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), inner);
        return;
    }
    hit_rows(
        frame,
        inner,
        state,
        ctx,
        &results.hits,
        find.cursor.selected,
        hits,
    );
}

/// Draws ranked hits (shared with the merge picker); only visible rows are built.
pub fn hit_rows(
    frame: &mut Frame,
    area: Rect,
    state: &State,
    ctx: &Ctx,
    list: &[SearchHit],
    selected: usize,
    hits: &mut HitMap,
) {
    let t = ctx.theme;
    let height = area.height as usize;
    hits.viewport = height;
    let offset = scroll_offset(selected, height, list.len());
    let wide = area.width >= 100;
    let name_w = if wide { 26 } else { 18 };
    let id_w = id_column(list.iter().map(|hit| hit.profile));
    for (row, hit) in list.iter().enumerate().skip(offset).take(height) {
        let y = area.y + (row - offset) as u16;
        let rect = Rect {
            y,
            height: 1,
            ..area
        };
        let base = if row == selected { t.selected } else { t.base };
        let name = hit
            .name
            .as_deref()
            .map(|n| shown(state, "name", n))
            .unwrap_or_else(|| "(no name)".into());
        let mut spans = vec![
            Span::styled(cell(&hit.profile.to_string(), id_w), base.patch(t.dim)),
            Span::styled(cell(&name, name_w), base.patch(t.value)),
            Span::styled(" ", base),
            Span::styled(format!("{}:", clean(&hit.kind)), base.patch(t.kind)),
        ];
        let ids = count(hit.identifiers.into(), "id");
        let tail = if wide {
            format!("{ids} · {}", ago(hit.last_seen, state.now))
        } else {
            ids
        };
        let exact = if hit.exact { " exact" } else { "" };
        let head: usize = spans.iter().map(Span::width).sum();
        // The text gets what the tail (a gap before it, a space after) and the marker leave;
        // other texts the query's words matched follow while there is room.
        let room = (area.width as usize).saturating_sub(head + exact.len() + tail.width() + 2);
        let text = matched_spans(state, ctx, &hit.kind, &hit.text, &hit.positions, room, base);
        let mut left = room.saturating_sub(text.iter().map(Span::width).sum());
        spans.extend(text);
        for more in &hit.also {
            let label = format!("  {}:", clean(&more.kind));
            let room = left.saturating_sub(label.width());
            if room < MIN_MORE_TEXT {
                break;
            }
            let text = matched_spans(
                state,
                ctx,
                &more.kind,
                &more.text,
                &more.positions,
                room,
                base,
            );
            left = room.saturating_sub(text.iter().map(Span::width).sum());
            spans.push(Span::styled(label, base.patch(t.kind)));
            spans.extend(text);
        }
        if hit.exact {
            spans.push(Span::styled(exact, base.patch(t.ok)));
        }
        let used: usize = spans.iter().map(Span::width).sum();
        let pad = (area.width as usize).saturating_sub(used + tail.width() + 1);
        spans.push(Span::styled(" ".repeat(pad), base));
        spans.push(Span::styled(format!("{tail} "), base.patch(t.dim)));
        frame.render_widget(Paragraph::new(Line::from(spans)).style(base), rect);
        hits.rows.push((rect, row));
    }
}

/// Columns a further matched text needs at least to be worth showing.
const MIN_MORE_TEXT: usize = 6;

/// A matched text cut to `room` columns: masked under `--redact` when it is personal, else
/// with its matched characters highlighted.
fn matched_spans<'a>(
    state: &State,
    ctx: &Ctx,
    kind: &str,
    text: &str,
    positions: &[usize],
    room: usize,
    base: ratatui::style::Style,
) -> Vec<Span<'a>> {
    if state.settings.redact && is_personal(kind) {
        vec![Span::styled(fit(&mask(kind, text), room), base)]
    } else {
        highlighted(&fit(&clean(text), room), positions, base, ctx.theme.matched)
    }
}

fn shown(state: &State, kind: &str, value: &str) -> String {
    crate::tui::update::shown(state, kind, value)
}
