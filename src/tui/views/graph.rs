//! The Identity graph tab: identifiers as nodes, links with provenance, "why" between two
//! marked identifiers, and violations with their reasons.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::widgets::canvas::{Canvas, Line as Segment};

use unicode_width::UnicodeWidthStr;

use crate::model::{Identifier, Link, Provenance, Violation, ViolationCounts};
use crate::query::why::why_path;
use crate::tui::action::Action;
use crate::tui::keymap::KeyContext;
use crate::tui::state::{GraphFocus, ProfileData, ProfileView, State};
use crate::tui::text::{clean, count, fit_middle, short_time, wrap};
use crate::tui::update::shown;

use super::{Ctx, HitMap, list_row, panel, scroll_offset};

fn position(i: usize, n: usize) -> (f64, f64) {
    let angle = std::f64::consts::TAU * i as f64 / n.max(1) as f64 + std::f64::consts::FRAC_PI_2;
    (angle.cos(), angle.sin())
}

fn id_text(state: &State, id: &Identifier) -> String {
    format!("{}:{}", clean(&id.kind), shown(state, &id.kind, &id.value))
}

/// Fewest columns a shortened messageId keeps.
const MIN_MESSAGE_ID: usize = 9;

/// `lead` and `event ID · source · time` (and the journal op of a manual link), the messageId
/// shortened in its middle so the line fits `width` and source and time always show (the
/// event JSON on the Timeline has the whole id).
fn provenance_line(lead: &str, p: &Provenance, width: usize, tail: &str) -> String {
    let op = p.op.map(|o| format!(" op #{o}")).unwrap_or_default();
    let lead = format!("{lead}event ");
    let rest = format!(" · {} · {}{op}{tail}", clean(&p.source), short_time(p.time));
    let room = width
        .saturating_sub(lead.width() + rest.width())
        .max(MIN_MESSAGE_ID);
    format!("{lead}{}{rest}", fit_middle(&clean(&p.message_id), room))
}

/// "Violations (N)", saying how many of them are routine sign-out releases.
fn violations_title(violations: &[Violation]) -> String {
    match ViolationCounts::of(violations).released {
        0 => format!("Violations ({})", violations.len()),
        released => format!(
            "Violations ({}, {})",
            violations.len(),
            count(released as u64, "sign-out release")
        ),
    }
}

pub fn render(
    frame: &mut Frame,
    area: Rect,
    state: &State,
    view: &ProfileView,
    data: &ProfileData,
    ctx: &Ctx,
    hits: &mut HitMap,
) {
    let t = ctx.theme;
    // Violations take a band across the bottom (up to two fifths of the tab), so their
    // reasons get the whole width.
    let wanted = if data.violations.is_empty() {
        0
    } else {
        (2 * data.violations.len() + 2).min(u16::MAX as usize) as u16
    };
    let [graph_area, violations_area] = Layout::vertical([
        Constraint::Min(6),
        Constraint::Length(wanted.min((area.height * 2 / 5).max(5))),
    ])
    .areas(area);
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)])
            .areas(graph_area);
    let nodes = &data.nodes;
    let marked: Vec<&Identifier> = view
        .graph
        .marked
        .iter()
        .filter_map(|&i| nodes.get(i))
        .collect();
    let path: Option<Vec<&Link>> = match marked.as_slice() {
        [a, b] => why_path(&data.links, a, b),
        _ => None,
    };
    let on_path = |l: &Link| {
        path.as_ref()
            .is_some_and(|p| p.iter().any(|x| std::ptr::eq(*x, l)))
    };
    let index_of = |id: &Identifier| nodes.iter().position(|n| n == id);

    // The drawing.
    let edge_color = t.edge.fg.unwrap_or(Color::Reset);
    let path_color = t.path.fg.unwrap_or(Color::Reset);
    let canvas = Canvas::default()
        .block(panel(
            format!(
                "Graph · {} · {}",
                count(nodes.len() as u64, "identifier"),
                count(data.links.len() as u64, "link")
            ),
            false,
            t,
        ))
        .x_bounds([-1.3, 1.3])
        .y_bounds([-1.3, 1.3])
        .paint(|c| {
            for link in &data.links {
                let (Some(a), Some(b)) = (index_of(&link.from), index_of(&link.to)) else {
                    continue;
                };
                let (x1, y1) = position(a, nodes.len());
                let (x2, y2) = position(b, nodes.len());
                let color = if on_path(link) {
                    path_color
                } else {
                    edge_color
                };
                c.draw(&Segment {
                    x1,
                    y1,
                    x2,
                    y2,
                    color,
                });
            }
            c.layer();
            for (i, _) in nodes.iter().enumerate() {
                let (x, y) = position(i, nodes.len());
                let style = if view.graph.marked.contains(&i) {
                    t.node_marked
                } else if i == view.graph.cursor.selected {
                    t.selected
                } else {
                    t.node
                };
                c.print(x, y, Span::styled(format!("{}", i + 1), style));
            }
        });
    frame.render_widget(canvas, left);

    // Nodes list and details.
    let detail_h = (right.height / 2).max(6);
    let [list_area, detail_area] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(detail_h)]).areas(right);
    let focused = view.graph.focus == GraphFocus::Identifiers;
    let block = panel("Identifiers (space marks two for why)", focused, t);
    let inner = block.inner(list_area);
    frame.render_widget(block, list_area);
    let height = inner.height as usize;
    if focused {
        hits.viewport = height;
    }
    let offset = scroll_offset(view.graph.cursor.selected, height, nodes.len());
    for (row, id) in nodes.iter().enumerate().skip(offset).take(height) {
        let (rect, base) = list_row(
            inner,
            row,
            offset,
            view.graph.cursor.selected,
            t.selected,
            t.base,
        );
        let mark = match view.graph.marked.iter().position(|&m| m == row) {
            Some(0) => Span::styled("A ", base.patch(t.node_marked)),
            Some(_) => Span::styled("B ", base.patch(t.node_marked)),
            None => Span::styled("  ", base),
        };
        let held = data.profile.has(id);
        let spans = vec![
            mark,
            Span::styled(format!("{:>2} ", row + 1), base.patch(t.node)),
            Span::styled(
                id_text(state, id),
                base.patch(if held { t.value } else { t.dim }),
            ),
            Span::styled(if held { "" } else { "  (not held)" }, base.patch(t.dim)),
        ];
        frame.render_widget(Paragraph::new(Line::from(spans)).style(base), rect);
        if focused {
            hits.rows.push((rect, row));
        } else {
            hits.other_rows.push((rect, row));
        }
    }

    let mut lines: Vec<Line> = Vec::new();
    let width = detail_area.width.saturating_sub(2) as usize;
    let link_line = |l: &Link, style| {
        let lead = format!("   {} · ", l.rule.name());
        vec![
            Line::from(vec![
                Span::styled(id_text(state, &l.from), style),
                Span::styled(" — ", t.dim),
                Span::styled(id_text(state, &l.to), style),
            ]),
            Line::from(Span::styled(
                provenance_line(&lead, &l.provenance, width, ""),
                t.dim,
            )),
        ]
    };
    let title = match (&marked[..], &path) {
        ([a, b], Some(p)) => {
            lines.push(Line::styled(
                format!(
                    "{} → {}: {}",
                    id_text(state, a),
                    id_text(state, b),
                    count(p.len() as u64, "link")
                ),
                t.path,
            ));
            for l in p {
                lines.extend(link_line(l, t.path));
                lines.push(Line::styled(format!("   {}", l.rule.explain()), t.label));
            }
            "Why are they together?".to_string()
        }
        ([a, b], None) => {
            lines.push(Line::styled(
                format!(
                    "No chain of links joins {} and {}.",
                    id_text(state, a),
                    id_text(state, b)
                ),
                t.warning,
            ));
            "Why are they together?".to_string()
        }
        _ => {
            let selected = nodes.get(view.graph.cursor.selected);
            for l in data
                .links
                .iter()
                .filter(|l| selected.is_some_and(|s| *s == l.from || *s == l.to))
            {
                lines.extend(link_line(l, t.value));
            }
            if lines.is_empty() {
                lines.push(Line::styled("No link touches this identifier.", t.dim));
            }
            "Links of the selected identifier".to_string()
        }
    };
    frame.render_widget(
        Paragraph::new(lines).block(panel(title, false, t)),
        detail_area,
    );
    if !data.violations.is_empty() {
        violations(frame, violations_area, state, view, data, ctx, hits);
    }
}

/// Fewest columns the reason of a violation gets beside its identifier.
const MIN_REASON: usize = 24;

/// The violations as a list of their own: each its identifier and reason (wrapped at word
/// boundaries), then the event that carried it; the keys move it once it has the focus.
fn violations(
    frame: &mut Frame,
    area: Rect,
    state: &State,
    view: &ProfileView,
    data: &ProfileData,
    ctx: &Ctx,
    hits: &mut HitMap,
) {
    let t = ctx.theme;
    let focused = view.graph.focus == GraphFocus::Violations;
    let selected = view.graph.violations.selected;
    let mut title = format!(
        "{} · {}/{}",
        violations_title(&data.violations),
        selected + 1,
        data.violations.len()
    );
    if !focused && let Some(key) = ctx.keymap.key_for(&[KeyContext::Graph], Action::SwitchList) {
        title.push_str(&format!(" · {key} selects"));
    }
    let open = [KeyContext::Graph, KeyContext::Navigation];
    if focused && let Some(key) = ctx.keymap.key_for(&open, Action::Open) {
        title.push_str(&format!(" · {key}: the profile holding it, or its event"));
    }
    let block = panel(title, focused, t);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = inner.width as usize;
    let mut lines: Vec<Line> = Vec::new();
    let mut starts = Vec::with_capacity(data.violations.len());
    for (i, v) in data.violations.iter().enumerate() {
        starts.push(lines.len());
        let base = if focused && i == selected {
            t.selected
        } else {
            t.base
        };
        let id = fit_middle(
            &id_text(state, &v.identifier),
            width.saturating_sub(2 + 1 + MIN_REASON).max(MIN_MESSAGE_ID),
        );
        let lead = format!("  {id} ");
        let reason = clean(&v.reason.to_string()).into_owned();
        let mut pieces = wrap(
            &reason,
            width.saturating_sub(lead.width()),
            width.saturating_sub(4),
        )
        .into_iter();
        lines.push(
            Line::from(vec![
                Span::styled(lead, base.patch(t.value)),
                Span::styled(pieces.next().unwrap_or_default(), base.patch(t.warning)),
            ])
            .style(base),
        );
        lines.extend(
            pieces.map(|piece| Line::styled(format!("    {piece}"), base.patch(t.warning))),
        );
        let holder = data
            .holders
            .get(&v.identifier)
            .map(|holder| format!(" · now held by {holder}"))
            .unwrap_or_default();
        lines.push(Line::styled(
            provenance_line("    ", &v.provenance, width, &holder),
            base.patch(t.dim),
        ));
    }
    let height = inner.height as usize;
    if focused {
        // Moves go by violations, about two lines each.
        hits.viewport = (height / 2).max(1);
    }
    // The first line shown is a violation's first, so none shows cut at the top.
    let offset = scroll_offset(
        starts.get(selected).copied().unwrap_or(0),
        height,
        lines.len(),
    );
    let offset = starts
        .iter()
        .copied()
        .find(|&start| start >= offset)
        .unwrap_or(offset);
    for (i, &start) in starts.iter().enumerate() {
        if start >= offset && start < offset + height {
            let rect = Rect {
                y: inner.y + (start - offset) as u16,
                height: 1,
                ..inner
            };
            if focused {
                hits.rows.push((rect, i));
            } else {
                hits.other_rows.push((rect, i));
            }
        }
    }
    // The selected violation is highlighted across the whole width, as rows of other
    // lists are.
    if focused && let Some(&start) = starts.get(selected) {
        let end = starts.get(selected + 1).copied().unwrap_or(lines.len());
        let (top, bottom) = (start.max(offset), end.min(offset + height));
        if top < bottom {
            let rows = Rect {
                y: inner.y + (top - offset) as u16,
                height: (bottom - top) as u16,
                ..inner
            };
            frame.buffer_mut().set_style(rows, t.selected);
        }
    }
    frame.render_widget(Paragraph::new(lines).scroll((offset as u16, 0)), inner);
}
