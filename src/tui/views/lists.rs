//! The History tab and the Health screen.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::query::health::{Finding, Severity};
use crate::tui::state::{ProfileData, ProfileView, State};
use unicode_width::UnicodeWidthStr;

use crate::tui::text::{clean, count, fit, fit_parts, parts_that_fit, plural, short_time};
use crate::tui::update::shown;

use super::{Ctx, HitMap, cell, id_column, list_row, panel, scroll_offset};

/// Columns of the user column of a History row.
const USER_W: usize = 10;

pub fn history(
    frame: &mut Frame,
    area: Rect,
    _state: &State,
    view: &ProfileView,
    data: &ProfileData,
    ctx: &Ctx,
    hits: &mut HitMap,
) {
    let t = ctx.theme;
    let block = panel(
        format!(
            "History · {} (u undoes the selected one)",
            count(data.journal.len() as u64, "journal entry")
        ),
        true,
        t,
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if data.journal.is_empty() {
        frame.render_widget(
            Paragraph::new(Span::styled(
                "No merge, split or undo touched this profile.",
                t.dim,
            )),
            inner,
        );
        return;
    }
    let height = inner.height as usize / 2;
    hits.viewport = height;
    let offset = scroll_offset(view.history.selected, height, data.journal.len());
    let op_w = data
        .journal
        .iter()
        .map(|e| e.op.to_string().len())
        .max()
        .unwrap_or(1);
    for (row, entry) in data.journal.iter().enumerate().skip(offset).take(height) {
        let y = inner.y + ((row - offset) * 2) as u16;
        let rect = Rect {
            y,
            height: 2,
            ..inner
        };
        let base = if row == view.history.selected {
            t.selected
        } else {
            t.base
        };
        let status = match (entry.undone_by, entry.undoable()) {
            (Some(by), _) => Span::styled(format!("  undone by #{by}"), base.patch(t.warning)),
            (None, true) => Span::styled("", base),
            (None, false) => Span::styled("", base),
        };
        let op = format!("#{:<op_w$} ", entry.op);
        let time = format!("{}  ", short_time(entry.at));
        let user = cell(&clean(&entry.user), USER_W);
        // The summary gives way so that "undone by" always shows.
        let room = (inner.width as usize)
            .saturating_sub(op.width() + time.width() + user.width() + status.width());
        let lines = vec![
            Line::from(vec![
                Span::styled(op, base.patch(t.title)),
                Span::styled(time, base.patch(t.dim)),
                Span::styled(user, base.patch(t.label)),
                Span::styled(fit(&clean(&entry.summary()), room), base.patch(t.value)),
                status,
            ])
            .style(base),
            Line::from(vec![
                Span::styled("      why: ", base.patch(t.dim)),
                Span::styled(clean(&entry.reason).into_owned(), base.patch(t.label)),
            ])
            .style(base),
        ];
        frame.render_widget(Paragraph::new(lines).style(base), rect);
        hits.rows.push((rect, row));
    }
}

pub fn health(frame: &mut Frame, area: Rect, state: &State, ctx: &Ctx, hits: &mut HitMap) {
    let t = ctx.theme;
    let h = &state.health;
    let Some(report) = &h.report else {
        let text = match (&h.error, h.pending) {
            (Some(e), _) => Line::styled(format!("Health scan failed: {}", clean(e)), t.error),
            (None, Some(_)) => Line::styled(
                match h.progress {
                    Some(progress) => format!(
                        "Scanning every profile and its violations… {}%",
                        progress.percent()
                    ),
                    None => "Scanning every profile and its violations…".to_string(),
                },
                t.dim,
            ),
            (None, None) => Line::styled("Press r to scan.", t.dim),
        };
        frame.render_widget(
            Paragraph::new(text).block(panel("Graph health", true, t)),
            area,
        );
        return;
    };
    let [summary, list] = Layout::vertical([Constraint::Length(4), Constraint::Min(1)]).areas(area);
    let mut spans = vec![Span::styled(
        format!(
            "{} · typical {} · by identifier count: ",
            count(report.profiles, "profile"),
            count(report.typical_identifiers as u64, "identifier")
        ),
        t.label,
    )];
    for (label, count) in &report.distribution {
        spans.push(Span::styled(label.to_string(), t.kind));
        spans.push(Span::styled(format!(" {count}  "), t.value));
    }
    let lead = "Junk blocked most: ";
    let mut junk = vec![Span::styled(lead, t.label)];
    if report.junk.is_empty() {
        junk.push(Span::styled("none", t.dim));
    }
    let entries: Vec<[Span; 3]> = report
        .junk
        .iter()
        .map(|j| {
            let value = shown(state, &j.identifier.kind, &j.identifier.value);
            let sources: Vec<&str> = j.sources.iter().map(String::as_str).collect();
            [
                Span::styled(format!("{}:", j.identifier.kind), t.kind),
                Span::styled(clean(&value).into_owned(), t.value),
                Span::styled(format!(" {}x ({})", j.times, sources.join(", ")), t.dim),
            ]
        })
        .collect();
    // Whole entries only, as many as the line holds.
    let sep = " · ";
    let widths: Vec<usize> = entries
        .iter()
        .map(|entry| entry.iter().map(Span::width).sum())
        .collect();
    let room = (summary.width as usize).saturating_sub(2 + lead.width());
    let shown_entries = parts_that_fit(&widths, sep.width(), room);
    for (i, entry) in entries.into_iter().take(shown_entries).enumerate() {
        if i > 0 {
            junk.push(Span::styled(sep, t.dim));
        }
        junk.extend(entry);
    }
    if shown_entries < widths.len() {
        junk.push(Span::styled(" …", t.dim));
    }
    frame.render_widget(
        Paragraph::new(vec![Line::from(spans), Line::from(junk)]).block(panel(
            "Graph health",
            false,
            t,
        )),
        summary,
    );
    let listed = report.suspicious_items().len();
    let mut title = if report.suspicious > listed {
        format!(
            "Suspicious profiles ({}): the {listed} most suspicious",
            report.suspicious
        )
    } else {
        format!(
            "Suspicious profiles ({}), most suspicious first",
            report.suspicious
        )
    };
    if report.routine > 0 && report.items.len() > listed {
        title.push_str(&format!(
            " · then {} where the rules held",
            count(report.routine as u64, "profile")
        ));
    }
    let block = panel(title, true, t);
    let inner = block.inner(list);
    frame.render_widget(block, list);
    if report.items.is_empty() {
        frame.render_widget(
            Paragraph::new(Span::styled("Nothing suspicious.", t.ok)),
            inner,
        );
        return;
    }
    let height = inner.height as usize;
    hits.viewport = height;
    let offset = scroll_offset(h.cursor.selected, height, report.items.len());
    let name_w = if inner.width >= 120 { 20 } else { 14 };
    let id_w = id_column(report.items.iter().map(|item| item.profile));
    for (row, item) in report.items.iter().enumerate().skip(offset).take(height) {
        let (rect, base) = list_row(inner, row, offset, h.cursor.selected, t.selected, t.base);
        let name = item
            .name
            .as_deref()
            .map(|n| shown(state, "name", n))
            .unwrap_or_else(|| "(no name)".into());
        let findings: Vec<String> = item
            .findings
            .iter()
            .map(|f| match f {
                Finding::JunkHeld { identifier, .. } => {
                    format!(
                        "holds junk {}:{}",
                        identifier.kind,
                        shown(state, &identifier.kind, &identifier.value)
                    )
                }
                other => other.to_string(),
            })
            .collect();
        let severity = match item.severity {
            Severity::Serious => t.error,
            Severity::Suspect => t.warning,
            Severity::Routine => t.dim,
        };
        let mut spans = vec![
            Span::styled(
                format!("{:<8}", item.severity.label()),
                base.patch(severity),
            ),
            Span::styled(cell(&item.profile.to_string(), id_w), base.patch(t.dim)),
            Span::styled(cell(&name, name_w), base.patch(t.value)),
            Span::styled(
                format!(
                    " {:>3} {:<3} {:>4} ev  ",
                    item.identifiers,
                    plural(item.identifiers as u64, "id"),
                    item.events
                ),
                base.patch(t.label),
            ),
        ];
        let used: usize = spans.iter().map(Span::width).sum();
        let findings: Vec<String> = findings.iter().map(|f| clean(f).into_owned()).collect();
        spans.push(Span::styled(
            fit_parts(&findings, "; ", (inner.width as usize).saturating_sub(used)),
            base.patch(t.value),
        ));
        frame.render_widget(Paragraph::new(Line::from(spans)).style(base), rect);
        hits.rows.push((rect, row));
    }
}
