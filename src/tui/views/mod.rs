//! Rendering: pure functions of `&State` onto a ratatui frame. Every string that came from
//! data passes through [`clean`](super::text::clean) (or masking) before it is drawn.

mod audiences;
mod find;
mod graph;
mod lists;
mod modals;
mod profile;
mod profile_header;
mod timeline;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::keymap::Keymap;
use super::state::{Screen, State, StoreStatus, Tab};
use super::text::{clean, count, fit};
use super::theme::Theme;
use super::update::{key_contexts, offered};
use unicode_width::UnicodeWidthStr;

/// What views need besides the state.
pub struct Ctx<'a> {
    pub theme: &'a Theme,
    pub keymap: &'a Keymap,
}

/// Where the last frame drew clickable things (for mouse hit-testing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HitMap {
    pub tabs: Vec<(Rect, Tab)>,
    /// Screen rows of the focused list and the list row each shows.
    pub rows: Vec<(Rect, usize)>,
    /// Screen rows of a list out of focus beside it (the identity graph tab's other list).
    pub other_rows: Vec<(Rect, usize)>,
    /// Rows in the focused list's viewport (for half-page moves).
    pub viewport: usize,
}

impl HitMap {
    /// What is at a screen position.
    pub fn at(&self, x: u16, y: u16) -> Option<super::update::Target> {
        let inside = |r: &Rect| x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height;
        if let Some((_, tab)) = self.tabs.iter().find(|(r, _)| inside(r)) {
            return Some(super::update::Target::Tab(*tab));
        }
        let row = |rows: &[(Rect, usize)]| rows.iter().find(|(r, _)| inside(r)).map(|(_, n)| *n);
        row(&self.rows)
            .map(super::update::Target::Row)
            .or_else(|| row(&self.other_rows).map(super::update::Target::OtherRow))
    }
}

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// Draws the whole screen.
pub fn render(frame: &mut Frame, state: &State, ctx: &Ctx, hits: &mut HitMap) {
    *hits = HitMap::default();
    let area = frame.area();
    frame.render_widget(Block::default().style(ctx.theme.base), area);
    let [top, main, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    status_bar(frame, top, state, ctx);
    match state.screen {
        Screen::Find => find::render(frame, main, state, ctx, hits),
        Screen::Profile => profile::render(frame, main, state, ctx, hits),
        Screen::Health => lists::health(frame, main, state, ctx, hits),
        Screen::Audiences => audiences::render(frame, main, state, ctx, hits),
    }
    if state.modal.is_some() {
        hits.rows.clear();
        hits.other_rows.clear();
        hits.tabs.clear();
        modals::render(frame, area, state, ctx, hits);
    }
    command_bar(frame, bottom, state, ctx);
}

fn status_bar(frame: &mut Frame, area: Rect, state: &State, ctx: &Ctx) {
    let t = ctx.theme;
    let notice = state.notice.as_ref().map(|n| {
        let style = if n.error { t.error } else { t.ok };
        (format!("│ {}", clean(&n.text)), on_status_bar(t, style))
    });
    let wanted = notice.as_ref().map_or(0, |(text, _)| text.width());
    // A notice comes first: the rest says less and less until it fits beside it.
    let mut spans = Vec::new();
    for brevity in 0..=STATUS_BREVITY {
        spans = status_spans(state, t, brevity);
        if spans.iter().map(Span::width).sum::<usize>() + wanted <= area.width as usize {
            break;
        }
    }
    if let Some((text, style)) = notice {
        let room = (area.width as usize).saturating_sub(spans.iter().map(Span::width).sum());
        spans.push(Span::styled(fit(&text, room), style));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)).style(t.status), area);
}

/// `style` in the status bar's background.
fn on_status_bar(t: &Theme, style: Style) -> Style {
    style.patch(Style::default().bg(t.status.bg.unwrap_or_default()))
}

/// The briefest way [`status_spans`] has of saying where things stand.
const STATUS_BREVITY: u8 = 3;

/// The status line before any notice, the briefer the higher `brevity`: 0 says it all; 1
/// leaves out the live server's address; 2 shows the new events as `live +N`; 3 also
/// leaves out the profile count.
fn status_spans<'a>(state: &State, t: &Theme, brevity: u8) -> Vec<Span<'a>> {
    let mut spans = vec![
        Span::styled(" idgraph ", t.title.patch(t.status)),
        Span::styled(format!("space {} ", clean(&state.space)), t.status),
    ];
    match &state.store {
        StoreStatus::Opening => spans.push(Span::styled("· opening store ", t.status)),
        StoreStatus::Ready { .. } if brevity >= 3 => {}
        StoreStatus::Ready { profiles } => spans.push(Span::styled(
            format!("· {} ", count(*profiles, "profile")),
            t.status,
        )),
        StoreStatus::Failed(_) => spans.push(Span::styled(
            "· store unavailable ",
            t.error.patch(t.status),
        )),
    }
    if state.index.is_none() && matches!(state.store, StoreStatus::Ready { .. }) {
        spans.push(Span::styled("· indexing ", t.status));
    }
    if let Some(addr) = &state.settings.live {
        let new_events = state.new_events;
        let live = match brevity {
            0 => format!("· live {} ", clean(addr)),
            1 => "· live ".to_string(),
            _ if new_events > 0 => format!("· live +{new_events} "),
            _ => "· live ".to_string(),
        };
        spans.push(Span::styled(live, on_status_bar(t, t.ok)));
        if new_events > 0 && brevity < 2 {
            let events = count(new_events, "new event");
            spans.push(Span::styled(format!("· {events} "), t.status));
        }
    }
    if state.settings.redact {
        spans.push(Span::styled("· redacted ", t.warning.patch(t.status)));
    }
    if state.busy() {
        spans.push(Span::styled(
            format!("{} ", SPINNER[state.tick % SPINNER.len()]),
            t.status,
        ));
    }
    spans
}

fn command_bar(frame: &mut Frame, area: Rect, state: &State, ctx: &Ctx) {
    let t = ctx.theme;
    let contexts = key_contexts(state);
    let mut spans = Vec::new();
    let mut width = 0usize;
    let mut entries: Vec<(String, String)> = Vec::new();
    for context in contexts
        .iter()
        .filter(|c| **c != super::keymap::KeyContext::Navigation)
    {
        entries.extend(
            ctx.keymap
                .grouped(*context)
                .into_iter()
                .filter(|(action, ..)| offered(state, *action))
                .map(|(_, keys, desc)| (keys, desc)),
        );
    }
    // Help is always offered: its room at the right end is kept, whatever else is cut.
    let help = ctx
        .keymap
        .key_for(&contexts, super::action::Action::Help)
        .map(|key| (key, "help".to_string()));
    let mut seen: Vec<String> = help.iter().map(|(_, desc)| desc.clone()).collect();
    let mut shown_keys: Vec<String> = help.iter().map(|(key, _)| key.clone()).collect();
    let budget = (area.width as usize).saturating_sub(help.as_ref().map_or(0, entry_width));
    for (keys, desc) in entries {
        if seen.contains(&desc) {
            continue;
        }
        // Grouped keys are joined with '/', which is also the search key itself.
        let key = match keys.strip_prefix('/') {
            Some(_) => "/".to_string(),
            None => keys.split('/').next().unwrap_or(&keys).to_string(),
        };
        // A key bound in a more specific context hides its other bindings.
        if shown_keys.contains(&key) {
            continue;
        }
        let entry = (key, desc);
        if width + entry_width(&entry) > budget {
            break;
        }
        width += entry_width(&entry);
        seen.push(entry.1.clone());
        shown_keys.push(entry.0.clone());
        spans.extend(entry_spans(entry, t));
    }
    spans.extend(help.into_iter().flat_map(|entry| entry_spans(entry, t)));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// Columns a command bar entry (key, description) takes: each is padded by a space on
/// both sides.
fn entry_width((key, desc): &(String, String)) -> usize {
    key.width() + desc.width() + 4
}

fn entry_spans<'a>((key, desc): (String, String), t: &Theme) -> [Span<'a>; 2] {
    [
        Span::styled(format!(" {key} "), t.key),
        Span::styled(format!(" {desc} "), t.key_desc),
    ]
}

/// A bordered block with a title.
fn panel<'a>(title: impl Into<String>, focused: bool, t: &Theme) -> Block<'a> {
    Block::bordered()
        .border_style(if focused { t.border_focus } else { t.border })
        .title(Span::styled(format!(" {} ", title.into()), t.title))
}

/// The first row to show so that `selected` stays visible in `height` rows.
fn scroll_offset(selected: usize, height: usize, len: usize) -> usize {
    if height == 0 || len <= height {
        return 0;
    }
    let half = height / 2;
    selected.saturating_sub(half).min(len - height)
}

/// Row `row` of a list drawn in `area` and scrolled by `offset`: its one-line area, and its
/// base style (`selected` on the cursor row, else `plain`).
fn list_row(
    area: Rect,
    row: usize,
    offset: usize,
    cursor: usize,
    selected: Style,
    plain: Style,
) -> (Rect, Style) {
    let rect = Rect {
        y: area.y + (row - offset) as u16,
        height: 1,
        ..area
    };
    (rect, if row == cursor { selected } else { plain })
}

/// Width of a profile id column over these ids: the longest id and a space (at least 6).
fn id_column(ids: impl IntoIterator<Item = crate::model::ProfileId>) -> usize {
    ids.into_iter()
        .map(|id| id.to_string().len() + 1)
        .max()
        .unwrap_or(0)
        .max(6)
}

/// Width of an identifier type column over these identifiers: the longest type as drawn and
/// a space, so no type runs into its value.
fn kind_column<'a>(ids: impl IntoIterator<Item = &'a crate::model::Identifier>) -> usize {
    ids.into_iter()
        .map(|id| unicode_width::UnicodeWidthStr::width(clean(&id.kind).as_ref()) + 1)
        .max()
        .unwrap_or(0)
}

/// A text padded or cut to exactly `width` columns.
fn cell(text: &str, width: usize) -> String {
    let cut = fit(text, width);
    let w = unicode_width::UnicodeWidthStr::width(cut.as_str());
    format!("{cut}{}", " ".repeat(width.saturating_sub(w)))
}

/// A line with the characters at `positions` highlighted.
fn highlighted<'a>(text: &str, positions: &[usize], base: Style, mark: Style) -> Vec<Span<'a>> {
    let mut spans = Vec::new();
    let mut run = String::new();
    let mut run_marked = false;
    for (i, c) in text.chars().enumerate() {
        let m = positions.contains(&i);
        if m != run_marked && !run.is_empty() {
            spans.push(Span::styled(
                std::mem::take(&mut run),
                if run_marked { base.patch(mark) } else { base },
            ));
        }
        run_marked = m;
        run.push(c);
    }
    if !run.is_empty() {
        spans.push(Span::styled(
            run,
            if run_marked { base.patch(mark) } else { base },
        ));
    }
    spans
}

/// A centered popup area.
fn popup_area(area: Rect, width_pct: u16, height_pct: u16) -> Rect {
    let w = (area.width * width_pct / 100).max(40).min(area.width);
    let h = (area.height * height_pct / 100).max(8).min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

#[cfg(test)]
mod tests;
