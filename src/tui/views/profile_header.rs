//! The profile's header line: name, id, counts, last seen and findings. On a short line the
//! least important parts give way whole, and a closing `…` says some did.

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthStr;

use crate::model::ViolationCounts;
use crate::query::health::Finding;
use crate::tui::state::{ProfileData, ProfileView, State};
use crate::tui::text::{ago, count, fit};
use crate::tui::theme::Theme;

/// Marks a header that left parts out.
const CUT: &str = " …";

/// A part after the name and id: what leads it, its text and style, and its rank when the
/// line is short (the highest gives way first).
struct Part {
    lead: &'static str,
    text: String,
    style: Style,
    gives_way: u8,
}

impl Part {
    fn width(&self) -> usize {
        self.lead.width() + self.text.width()
    }
}

/// The header of a loaded profile, `width` columns at most.
pub fn header<'a>(
    state: &State,
    view: &ProfileView,
    data: &ProfileData,
    name: &str,
    t: &Theme,
    width: usize,
) -> Line<'a> {
    let parts = parts(state, view, data, t);
    let id = data.profile.id.to_string();
    let fixed = format!(" {name} ").width() + id.width();
    // Keep the parts ranked below `keep`, lowering it until they fit.
    let mut keep = u8::MAX;
    let cut = |keep: u8| parts.iter().any(|p| p.gives_way >= keep);
    let used = |keep: u8| {
        let kept: usize = parts
            .iter()
            .filter(|p| p.gives_way < keep)
            .map(Part::width)
            .sum();
        fixed + kept + if cut(keep) { CUT.width() } else { 0 }
    };
    while keep > 0 && used(keep) > width {
        keep = parts
            .iter()
            .map(|p| p.gives_way)
            .filter(|&rank| rank < keep)
            .max()
            .unwrap_or(0);
    }
    let cut = cut(keep);
    // Only a name too long for the line by itself is cut (marked with its own `…`).
    let room = width.saturating_sub(id.width() + 2 + if cut { CUT.width() } else { 0 });
    let mut spans = vec![
        Span::styled(format!(" {} ", fit(name, room)), t.title),
        Span::styled(id, t.dim),
    ];
    for part in parts.into_iter().filter(|p| p.gives_way < keep) {
        spans.push(Span::styled(part.lead, t.label));
        spans.push(Span::styled(part.text, part.style));
    }
    if cut {
        spans.push(Span::styled(CUT, t.dim));
    }
    Line::from(spans)
}

/// The parts after the name and id, in the order shown. Violations that need a look stay
/// longest, then whether the profile is reloading and when it was last seen; the counts
/// the tabs show anyway give way first.
fn parts(state: &State, view: &ProfileView, data: &ProfileData, t: &Theme) -> Vec<Part> {
    let p = &data.profile;
    let part = |text: String, style: Style, gives_way: u8| Part {
        lead: " · ",
        text,
        style,
        gives_way,
    };
    let mut parts = vec![
        part(count(p.identifiers.len() as u64, "identifier"), t.label, 5),
        part(count(p.event_count, "event"), t.label, 6),
        part(count(p.merge_count as u64, "merge"), t.label, 7),
        part(format!("seen {}", ago(p.last_seen, state.now)), t.label, 3),
    ];
    // In Health's words and numbers; routine sign-out releases are left to the graph tab.
    let counts = ViolationCounts::of(&data.violations);
    if counts.problems > 0 {
        let finding = Finding::Violations {
            count: counts.problems,
        };
        parts.push(part(finding.to_string(), t.warning, 1));
    }
    if counts.blocked > 0 {
        let finding = Finding::JunkBlocked {
            count: counts.blocked,
        };
        parts.push(part(finding.to_string(), t.warning, 4));
    }
    if view.pending.is_some() {
        parts.push(Part {
            lead: " ",
            text: "(reloading)".into(),
            style: t.dim,
            gives_way: 2,
        });
    }
    parts
}
