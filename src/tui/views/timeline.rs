//! The Timeline tab: every event, newest first, with the anonymous part of the journey and
//! the sign-up marked.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

use crate::query::timeline::Phase;
use crate::tui::state::{ProfileData, ProfileView, State};
use crate::tui::summary::event_summary;
use crate::tui::text::{clean, count, short_time};
use crate::tui::update::shown;

use super::{Ctx, HitMap, cell, list_row, panel, scroll_offset};

/// Fewest columns the event label keeps on a narrow terminal.
const MIN_LABEL: usize = 10;

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
    let tl = &view.timeline;
    let mut title = format!(
        "Timeline · {} of {}",
        tl.rows.len(),
        count(data.events.len() as u64, "event")
    );
    if let Some((_, total)) = data.partial() {
        title.push_str(&format!(" (the newest of {total})"));
    }
    if !tl.filter.is_empty() {
        title.push_str(&format!(" · filter {}", clean(&tl.filter.describe())));
    }
    if data.conversion.is_some() {
        title.push_str(" · ◌ anonymous before sign-up");
    }
    let block = panel(title, true, t);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if tl.rows.is_empty() {
        let text = if data.events.is_empty() {
            "No events."
        } else {
            "No event passes the filter (F clears it)."
        };
        frame.render_widget(Paragraph::new(Span::styled(text, t.dim)), inner);
        return;
    }
    let height = inner.height as usize;
    hits.viewport = height;
    let offset = scroll_offset(tl.cursor.selected, height, tl.rows.len());
    // Columns by width, roomier from 90 and 120 columns on; the app column is as wide as the
    // profile's longest app name (up to a limit), so apps named alike (`Brightbasket`,
    // `Brightbasket Recipes`) stay apart. Narrower, the label gives way first: time,
    // channel, app and device say where an event happened, the label is cut to what is left.
    let longest_app = data
        .events
        .iter()
        .filter_map(|e| e.app.as_deref())
        .map(UnicodeWidthStr::width)
        .max()
        .unwrap_or(1);
    let (channel_w, app_w, device_w, label_w) = match inner.width {
        120.. => (10, longest_app.clamp(3, 24), 22, 30),
        90.. => (9, longest_app.clamp(3, 20), 14, 24),
        width => {
            let app_w = longest_app.clamp(3, 14);
            let device_w = 12;
            // Marker, time, and a space after each column.
            let used = 2 + 17 + 9 + 1 + app_w + 1 + device_w + 1;
            let label_w = (width as usize).saturating_sub(used).clamp(MIN_LABEL, 24);
            (9, app_w, device_w, label_w)
        }
    };
    for (row, &i) in tl.rows.iter().enumerate().skip(offset).take(height) {
        let e = &data.events[i];
        let phase = data.phases[i];
        let (rect, base) = list_row(inner, row, offset, tl.cursor.selected, t.selected, t.base);
        let (marker, marker_style) = match phase {
            Phase::Anonymous => ("◌ ", t.anonymous),
            Phase::Conversion => ("★ ", t.conversion),
            Phase::Known => ("  ", t.base),
        };
        let mut spans = vec![
            Span::styled(marker, base.patch(marker_style)),
            Span::styled(format!("{} ", short_time(e.time)), base.patch(t.dim)),
            Span::styled(cell(&clean(&e.channel), channel_w), base.patch(t.channel)),
            Span::styled(" ", base),
        ];
        spans.push(Span::styled(
            cell(&clean(e.app.as_deref().unwrap_or("-")), app_w),
            base.patch(t.label),
        ));
        spans.push(Span::styled(" ", base));
        spans.push(Span::styled(
            cell(&clean(e.device.as_deref().unwrap_or("-")), device_w),
            base.patch(t.label),
        ));
        spans.push(Span::styled(" ", base));
        let label_style = match phase {
            Phase::Anonymous => t.anonymous,
            Phase::Conversion => t.conversion,
            Phase::Known => t.value,
        };
        spans.push(Span::styled(
            cell(&clean(&e.label), label_w),
            base.patch(label_style),
        ));
        // The sign-up mark, what the event carries, then the identifiers that attributed it.
        let mut gap = " ";
        if phase == Phase::Conversion {
            spans.push(Span::styled(
                " sign-up: anonymous → known",
                base.patch(t.conversion),
            ));
            gap = "  ";
        }
        let says = event_summary(e, state.settings.redact);
        if !says.is_empty() {
            spans.push(Span::styled(format!("{gap}{says}"), base.patch(t.label)));
            gap = "  ";
        }
        let identifiers = e
            .identifiers
            .iter()
            .map(|id| format!("{}:{}", id.kind, shown(state, &id.kind, &id.value)))
            .collect::<Vec<_>>()
            .join(" ");
        spans.push(Span::styled(
            format!("{gap}{}", clean(&identifiers)),
            base.patch(t.dim),
        ));
        frame.render_widget(Paragraph::new(Line::from(spans)).style(base), rect);
        hits.rows.push((rect, row));
    }
}
