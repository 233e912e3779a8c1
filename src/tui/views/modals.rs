//! Popups: help (generated from the live keymap), event JSON, space and filter pickers,
//! the merge, split and undo forms, and confirmations.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use crate::model::Identifier;
use crate::tui::action::Action;
use crate::tui::keymap::KeyContext;
use crate::tui::state::{
    ConfirmAction, FilterField, MergeFlow, Modal, SplitFlow, SplitStage, State,
};
use crate::tui::text::{clean, count, short_time};
use crate::tui::update::shown;

use super::{Ctx, HitMap, cell, kind_column, list_row, panel, popup_area, scroll_offset};

pub fn render(frame: &mut Frame, area: Rect, state: &State, ctx: &Ctx, hits: &mut HitMap) {
    let Some(modal) = &state.modal else {
        return;
    };
    match modal {
        Modal::Help { scroll } => help(frame, area, ctx, *scroll),
        Modal::Event {
            title,
            json,
            scroll,
        } => event(frame, area, ctx, title, json, *scroll),
        Modal::Spaces { cursor } => spaces(frame, area, state, ctx, cursor.selected, hits),
        Modal::Filter { cursor } => filter(frame, area, state, ctx, cursor.selected),
        Modal::Merge(flow) => merge(frame, area, state, ctx, flow, hits),
        Modal::Split(flow) => split(frame, area, state, ctx, flow, hits),
        Modal::Undo {
            entry,
            reason,
            hint,
        } => {
            let popup = popup_area(area, 70, 40);
            frame.render_widget(Clear, popup);
            let t = ctx.theme;
            let mut lines = vec![
                Line::styled(
                    format!("Undo #{}: {}", entry.op, clean(&entry.summary())),
                    t.value,
                ),
                Line::styled(
                    format!(
                        "made {} by {} — {}",
                        short_time(entry.at),
                        clean(&entry.user),
                        clean(&entry.reason)
                    ),
                    t.dim,
                ),
                Line::default(),
            ];
            lines.extend(reason_lines(ctx, reason, hint.as_deref()));
            frame.render_widget(
                Paragraph::new(lines)
                    .wrap(Wrap { trim: false })
                    .block(panel("Undo", true, t))
                    .style(t.popup),
                popup,
            );
        }
        Modal::Confirm(action) => confirm(frame, area, state, ctx, action),
    }
}

fn help(frame: &mut Frame, area: Rect, ctx: &Ctx, scroll: u16) {
    let t = ctx.theme;
    let popup = popup_area(area, 80, 85);
    frame.render_widget(Clear, popup);
    let mut lines = Vec::new();
    for context in KeyContext::ALL {
        let bindings = ctx.keymap.grouped(context);
        if bindings.is_empty() {
            continue;
        }
        lines.push(Line::styled(context.title(), t.title));
        for (_, keys, desc) in bindings {
            lines.push(Line::from(vec![
                Span::styled(format!("  {} ", cell(&keys, 22)), t.kind),
                Span::styled(desc, t.value),
            ]));
        }
        lines.push(Line::default());
    }
    let max = lines
        .len()
        .saturating_sub(popup.height.saturating_sub(2) as usize) as u16;
    frame.render_widget(
        Paragraph::new(lines)
            .scroll((scroll.min(max), 0))
            .block(panel("Keys (from your keymap; Esc closes)", true, t))
            .style(t.popup),
        popup,
    );
}

fn event(frame: &mut Frame, area: Rect, ctx: &Ctx, title: &str, json: &str, scroll: u16) {
    let t = ctx.theme;
    let popup = popup_area(area, 85, 85);
    frame.render_widget(Clear, popup);
    let lines: Vec<Line> = json
        .lines()
        .map(|l| Line::styled(clean(l).into_owned(), t.value))
        .collect();
    let max = lines
        .len()
        .saturating_sub(popup.height.saturating_sub(2) as usize) as u16;
    let copies = ctx
        .keymap
        .key_for(&[KeyContext::Event], Action::Copy)
        .map(|key| format!("; {key} copies"))
        .unwrap_or_default();
    frame.render_widget(
        Paragraph::new(lines)
            .scroll((scroll.min(max), 0))
            .block(panel(
                format!("Event {} (original JSON{copies})", clean(title)),
                true,
                t,
            ))
            .style(t.popup),
        popup,
    );
}

fn spaces(
    frame: &mut Frame,
    area: Rect,
    state: &State,
    ctx: &Ctx,
    selected: usize,
    hits: &mut HitMap,
) {
    let t = ctx.theme;
    let h = (state.spaces.len() as u16 + 4).min(area.height);
    let popup = Rect {
        height: h,
        ..popup_area(area, 40, 10)
    };
    let popup = Rect {
        y: area.y + (area.height.saturating_sub(h)) / 2,
        ..popup
    };
    frame.render_widget(Clear, popup);
    let block = panel("Switch space (isolated graphs)", true, t).style(t.popup);
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    for (i, space) in state.spaces.iter().enumerate().take(inner.height as usize) {
        let rect = Rect {
            y: inner.y + i as u16,
            height: 1,
            ..inner
        };
        let base = if i == selected { t.selected } else { t.popup };
        let current = if *space == state.space {
            "  (current)"
        } else {
            ""
        };
        frame.render_widget(
            Paragraph::new(Line::from(vec![
                Span::styled(format!(" {}", clean(space)), base.patch(t.value)),
                Span::styled(current, base.patch(t.dim)),
            ]))
            .style(base),
            rect,
        );
        hits.rows.push((rect, i));
    }
}

fn filter(frame: &mut Frame, area: Rect, state: &State, ctx: &Ctx, selected: usize) {
    let t = ctx.theme;
    let popup = Rect {
        height: 8.min(area.height),
        ..popup_area(area, 50, 10)
    };
    let popup = Rect {
        y: area.y + area.height.saturating_sub(popup.height) / 2,
        ..popup
    };
    frame.render_widget(Clear, popup);
    let filter = state
        .profile
        .as_ref()
        .map(|p| p.timeline.filter.clone())
        .unwrap_or_default();
    let mut lines = Vec::new();
    for (i, field) in FilterField::ALL.iter().enumerate() {
        let value = match field {
            FilterField::Channel => filter.channel.clone(),
            FilterField::App => filter.app.clone(),
            FilterField::Device => filter.device.clone(),
            FilterField::Type => filter.call.map(|c| c.as_str().to_string()),
        };
        let base = if i == selected { t.selected } else { t.popup };
        lines.push(
            Line::from(vec![
                Span::styled(format!(" {:<8}", field.title()), base.patch(t.label)),
                Span::styled("◀ ", base.patch(t.dim)),
                Span::styled(
                    clean(value.as_deref().unwrap_or("any")).into_owned(),
                    base.patch(t.value),
                ),
                Span::styled(" ▶", base.patch(t.dim)),
            ])
            .style(base),
        );
    }
    lines.push(Line::default());
    lines.push(Line::styled(" ←/→ change · x clear all · Esc done", t.dim));
    frame.render_widget(
        Paragraph::new(lines)
            .block(panel("Filter timeline", true, t))
            .style(t.popup),
        popup,
    );
}

fn reason_lines<'a>(ctx: &Ctx, reason: &str, hint: Option<&str>) -> Vec<Line<'a>> {
    let t = ctx.theme;
    let mut lines = vec![Line::from(vec![
        Span::styled("Reason: ", t.label),
        Span::styled(clean(reason).into_owned(), t.value),
        Span::styled("▏", t.border_focus),
    ])];
    if let Some(h) = hint {
        lines.push(Line::styled(h.to_string(), t.warning));
    }
    lines
}

fn ids_line(state: &State, ids: &[Identifier]) -> String {
    ids.iter()
        .map(|i| format!("{}:{}", clean(&i.kind), shown(state, &i.kind, &i.value)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn merge(
    frame: &mut Frame,
    area: Rect,
    state: &State,
    ctx: &Ctx,
    flow: &MergeFlow,
    hits: &mut HitMap,
) {
    let t = ctx.theme;
    let popup = popup_area(area, 90, 85);
    frame.render_widget(Clear, popup);
    let me = state
        .profile
        .as_ref()
        .map(|p| p.id.to_string())
        .unwrap_or_default();
    match flow {
        MergeFlow::Pick {
            query,
            results,
            cursor,
            pending,
            ..
        } => {
            let block = panel(
                format!("Merge {me} with… (pick the other profile)"),
                true,
                t,
            )
            .style(t.popup);
            let inner = block.inner(popup);
            frame.render_widget(block, popup);
            let [input, list] =
                Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(inner);
            frame.render_widget(
                Paragraph::new(Line::from(vec![
                    Span::styled("/ ", t.dim),
                    Span::styled(clean(query).into_owned(), t.value),
                    Span::styled("▏", t.border_focus),
                ])),
                input,
            );
            if results.hits.is_empty() {
                let text = if pending.is_some() {
                    "Searching…"
                } else {
                    "No other profile matches."
                };
                frame.render_widget(Paragraph::new(Span::styled(text, t.dim)), list);
            } else {
                super::find::hit_rows(
                    frame,
                    list,
                    state,
                    ctx,
                    &results.hits,
                    cursor.selected,
                    hits,
                );
            }
        }
        MergeFlow::Preview {
            other,
            preview,
            error,
            reason,
            force,
            scroll,
            hint,
            ..
        } => {
            let mut lines = Vec::new();
            match (preview, error) {
                (_, Some(e)) => lines.push(Line::styled(
                    format!("Cannot preview: {}", clean(e)),
                    t.error,
                )),
                (None, None) => lines.push(Line::styled("Computing the merged profile…", t.dim)),
                (Some(p), None) => {
                    lines.push(Line::from(vec![Span::styled(
                        format!(
                            "{} survives (older), {} is absorbed",
                            p.survivor, p.absorbed
                        ),
                        t.value,
                    )]));
                    let r = &p.result;
                    let name = r
                        .display_name()
                        .map(|n| shown(state, "name", &n))
                        .unwrap_or_else(|| "(no name)".into());
                    lines.push(Line::styled(
                        format!(
                            "Result: {name} · {} · {} · {}",
                            count(r.identifiers.len() as u64, "identifier"),
                            count(r.event_count, "event"),
                            count(r.merge_count as u64, "merge")
                        ),
                        t.label,
                    ));
                    if p.conflicts.is_empty() {
                        lines.push(Line::styled("No rule is broken.", t.ok));
                    } else {
                        lines.push(Line::styled(
                            format!("Conflicts ({}):", p.conflicts.len()),
                            t.error,
                        ));
                        for c in &p.conflicts {
                            lines.push(Line::styled(
                                format!("  ✗ {}", clean(&c.to_string())),
                                t.error,
                            ));
                        }
                        let f = if *force { "[x]" } else { "[ ]" };
                        lines.push(Line::styled(
                            format!(
                                "{f} force past the conflicts (ctrl-f); the override is journaled"
                            ),
                            if *force { t.warning } else { t.dim },
                        ));
                    }
                    lines.push(Line::default());
                    lines.push(Line::styled("Identifiers after the merge:", t.title));
                    let ids = r.sorted_identifiers();
                    let kind_w = kind_column(&ids);
                    for id in ids {
                        lines.push(Line::from(vec![
                            Span::styled(format!("  {}", cell(&clean(&id.kind), kind_w)), t.kind),
                            Span::styled(shown(state, &id.kind, &id.value), t.value),
                        ]));
                    }
                }
            }
            let [body, form] =
                Layout::vertical([Constraint::Min(3), Constraint::Length(4)]).areas(popup);
            frame.render_widget(
                Paragraph::new(lines)
                    .scroll((*scroll, 0))
                    .block(panel(format!("Merge {me} with {other} — preview"), true, t))
                    .style(t.popup),
                body,
            );
            frame.render_widget(
                Paragraph::new(reason_lines(ctx, reason, hint.as_deref()))
                    .block(panel("Why? (journaled)", false, t))
                    .style(t.popup),
                form,
            );
        }
    }
}

fn split(
    frame: &mut Frame,
    area: Rect,
    state: &State,
    ctx: &Ctx,
    flow: &SplitFlow,
    hits: &mut HitMap,
) {
    let t = ctx.theme;
    let popup = popup_area(area, 90, 85);
    frame.render_widget(Clear, popup);
    match &flow.stage {
        SplitStage::Mark { hint } => {
            let block = panel(
                format!(
                    "Split {}: mark identifiers to move out (space), Enter previews",
                    flow.from
                ),
                true,
                t,
            )
            .style(t.popup);
            let inner = block.inner(popup);
            frame.render_widget(block, popup);
            let [list, foot] =
                Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
            let height = list.height as usize;
            let offset = scroll_offset(flow.cursor.selected, height, flow.identifiers.len());
            let kind_w = kind_column(&flow.identifiers);
            for (row, id) in flow
                .identifiers
                .iter()
                .enumerate()
                .skip(offset)
                .take(height)
            {
                let (rect, base) =
                    list_row(list, row, offset, flow.cursor.selected, t.selected, t.popup);
                let marked = flow.marked.contains(&row);
                let spans = vec![
                    Span::styled(
                        if marked { " [x] " } else { " [ ] " },
                        base.patch(if marked { t.warning } else { t.dim }),
                    ),
                    Span::styled(cell(&clean(&id.kind), kind_w), base.patch(t.kind)),
                    Span::styled(shown(state, &id.kind, &id.value), base.patch(t.value)),
                ];
                frame.render_widget(Paragraph::new(Line::from(spans)).style(base), rect);
                hits.rows.push((rect, row));
            }
            let text = match hint {
                Some(h) => Line::styled(h.clone(), t.warning),
                None => Line::styled(
                    format!("{} of {} marked", flow.marked.len(), flow.identifiers.len()),
                    t.dim,
                ),
            };
            frame.render_widget(Paragraph::new(text), foot);
        }
        SplitStage::Preview {
            preview,
            error,
            reason,
            scroll,
            hint,
            ..
        } => {
            let mut lines = Vec::new();
            match (preview, error) {
                (_, Some(e)) => lines.push(Line::styled(
                    format!("Cannot preview: {}", clean(e)),
                    t.error,
                )),
                (None, None) => lines.push(Line::styled("Working out which events move…", t.dim)),
                (Some(p), None) => {
                    lines.push(Line::from(vec![
                        Span::styled("Moving to a new profile: ", t.label),
                        Span::styled(ids_line(state, &p.moving), t.warning),
                    ]));
                    lines.push(Line::from(vec![
                        Span::styled("Staying in ", t.label),
                        Span::styled(format!("{}: ", p.from), t.label),
                        Span::styled(ids_line(state, &p.staying), t.value),
                    ]));
                    lines.push(Line::styled(
                        format!(
                            "{} to move (only the moving identifiers explain them), {} to stay. The split is pinned.",
                            count(p.moving_events.len() as u64, "event"),
                            p.staying_events
                        ),
                        t.label,
                    ));
                    for e in &p.moving_events {
                        lines.push(Line::from(vec![
                            Span::styled(format!("  {}  ", short_time(e.time)), t.dim),
                            Span::styled(cell(&clean(&e.channel), 10), t.channel),
                            Span::styled(clean(&e.label).into_owned(), t.value),
                        ]));
                    }
                }
            }
            let [body, form] =
                Layout::vertical([Constraint::Min(3), Constraint::Length(4)]).areas(popup);
            frame.render_widget(
                Paragraph::new(lines)
                    .wrap(Wrap { trim: false })
                    .scroll((*scroll, 0))
                    .block(panel(format!("Split {} — preview", flow.from), true, t))
                    .style(t.popup),
                body,
            );
            frame.render_widget(
                Paragraph::new(reason_lines(ctx, reason, hint.as_deref()))
                    .block(panel("Why? (journaled)", false, t))
                    .style(t.popup),
                form,
            );
        }
    }
}

fn confirm(frame: &mut Frame, area: Rect, state: &State, ctx: &Ctx, action: &ConfirmAction) {
    let t = ctx.theme;
    let (title, mut lines) = match action {
        ConfirmAction::Merge {
            survivor,
            absorbed,
            reason,
            force,
            conflicts,
        } => {
            let mut l = vec![Line::styled(
                format!("Merge {absorbed} into {survivor}?"),
                t.value,
            )];
            if *force {
                l.push(Line::styled(
                    format!("FORCED past: {}", clean(&conflicts.join("; "))),
                    t.error,
                ));
            }
            l.push(Line::styled(format!("Reason: {}", clean(reason)), t.label));
            ("Confirm merge", l)
        }
        ConfirmAction::Split {
            from,
            moving,
            reason,
            moving_events,
        } => (
            "Confirm split",
            vec![
                Line::styled(
                    format!(
                        "Move {} out of {from} with {}?",
                        ids_line(state, moving),
                        count(*moving_events as u64, "event")
                    ),
                    t.value,
                ),
                Line::styled(format!("Reason: {}", clean(reason)), t.label),
            ],
        ),
        ConfirmAction::Undo {
            op,
            summary,
            reason,
        } => (
            "Confirm undo",
            vec![
                Line::styled(format!("Undo #{op}: {}?", clean(summary)), t.value),
                Line::styled(format!("Reason: {}", clean(reason)), t.label),
            ],
        ),
    };
    lines.push(Line::default());
    lines.push(Line::styled(
        "y / Enter: yes, do it    n / Esc: no",
        t.key_desc,
    ));
    let popup = popup_area(area, 60, 30);
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(panel(title, true, t))
            .style(t.popup),
        popup,
    );
}
