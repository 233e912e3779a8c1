//! The keymap: contexts of bindings read from `assets/keymap.toml`, overridable per binding
//! from the config's `[keys]` section. Help and the command bar are generated from it.

use std::collections::BTreeMap;
use std::fmt;

use anyhow::{Context as _, bail};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::Deserialize;

use super::action::Action;

/// The default keymap, as shipped.
pub const DEFAULT_KEYMAP: &str = include_str!("../../assets/keymap.toml");

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyContext {
    Global,
    Navigation,
    Input,
    Find,
    /// The search screen while the store could not be opened.
    Unavailable,
    Profile,
    Timeline,
    Touchpoints,
    Graph,
    History,
    Health,
    Audiences,
    Popup,
    Event,
    Spaces,
    Filter,
    /// Picking the other profile of a merge.
    Pick,
    Split,
    Form,
    Confirm,
}

impl KeyContext {
    /// Every context, in help order.
    pub const ALL: [KeyContext; 20] = [
        KeyContext::Global,
        KeyContext::Navigation,
        KeyContext::Input,
        KeyContext::Find,
        KeyContext::Unavailable,
        KeyContext::Profile,
        KeyContext::Timeline,
        KeyContext::Touchpoints,
        KeyContext::Graph,
        KeyContext::History,
        KeyContext::Health,
        KeyContext::Audiences,
        KeyContext::Popup,
        KeyContext::Event,
        KeyContext::Spaces,
        KeyContext::Filter,
        KeyContext::Pick,
        KeyContext::Split,
        KeyContext::Form,
        KeyContext::Confirm,
    ];

    /// The section name in TOML.
    pub fn name(self) -> &'static str {
        match self {
            KeyContext::Global => "global",
            KeyContext::Navigation => "navigation",
            KeyContext::Input => "input",
            KeyContext::Find => "find",
            KeyContext::Unavailable => "unavailable",
            KeyContext::Profile => "profile",
            KeyContext::Timeline => "timeline",
            KeyContext::Touchpoints => "touchpoints",
            KeyContext::Graph => "graph",
            KeyContext::History => "history",
            KeyContext::Health => "health",
            KeyContext::Audiences => "audiences",
            KeyContext::Popup => "popup",
            KeyContext::Event => "event",
            KeyContext::Spaces => "spaces",
            KeyContext::Filter => "filter",
            KeyContext::Pick => "pick",
            KeyContext::Split => "split",
            KeyContext::Form => "form",
            KeyContext::Confirm => "confirm",
        }
    }

    /// A heading for the help popup.
    pub fn title(self) -> &'static str {
        match self {
            KeyContext::Global => "Everywhere",
            KeyContext::Navigation => "Lists",
            KeyContext::Input => "Typing a search",
            KeyContext::Find => "Search results",
            KeyContext::Unavailable => "Store unavailable",
            KeyContext::Profile => "Profile",
            KeyContext::Timeline => "Timeline tab",
            KeyContext::Touchpoints => "Touchpoints tab",
            KeyContext::Graph => "Identity graph tab",
            KeyContext::History => "History tab",
            KeyContext::Health => "Health",
            KeyContext::Audiences => "Audiences",
            KeyContext::Popup => "Popups",
            KeyContext::Event => "Event JSON",
            KeyContext::Spaces => "Switch space",
            KeyContext::Filter => "Timeline filter",
            KeyContext::Pick => "Merge: picking the other profile",
            KeyContext::Split => "Split: marking",
            KeyContext::Form => "Merge/split/undo form",
            KeyContext::Confirm => "Confirmation",
        }
    }

    fn from_name(name: &str) -> Option<KeyContext> {
        KeyContext::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// One key press: a code and its modifiers (shift is folded into characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Chord {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl Chord {
    /// Normalises a terminal key event.
    pub fn from_event(event: &KeyEvent) -> Chord {
        let mut mods =
            event.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        let code = match event.code {
            KeyCode::Char(c) => {
                mods.remove(KeyModifiers::SHIFT);
                if mods.contains(KeyModifiers::CONTROL) {
                    KeyCode::Char(c.to_ascii_lowercase())
                } else {
                    KeyCode::Char(c)
                }
            }
            KeyCode::BackTab => {
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            other => other,
        };
        Chord { code, mods }
    }

    /// Reads one key like `ctrl-d`, `G`, `shift-tab`, `space`.
    pub fn parse(text: &str) -> anyhow::Result<Chord> {
        let mut mods = KeyModifiers::NONE;
        let mut rest = text;
        loop {
            let lower = rest.to_ascii_lowercase();
            if rest.len() > 1 && lower.starts_with("ctrl-") {
                mods |= KeyModifiers::CONTROL;
                rest = &rest[5..];
            } else if rest.len() > 1 && lower.starts_with("alt-") {
                mods |= KeyModifiers::ALT;
                rest = &rest[4..];
            } else if rest.len() > 1 && lower.starts_with("shift-") {
                mods |= KeyModifiers::SHIFT;
                rest = &rest[6..];
            } else {
                break;
            }
        }
        let lower = rest.to_ascii_lowercase();
        let code = match lower.as_str() {
            "enter" | "return" => KeyCode::Enter,
            "esc" | "escape" => KeyCode::Esc,
            "tab" if mods.contains(KeyModifiers::SHIFT) => {
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            "tab" => KeyCode::Tab,
            "backtab" => KeyCode::BackTab,
            "space" => KeyCode::Char(' '),
            "backspace" => KeyCode::Backspace,
            "delete" | "del" => KeyCode::Delete,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "pageup" => KeyCode::PageUp,
            "pagedown" => KeyCode::PageDown,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            f if f.len() > 1
                && f.starts_with('f')
                && f[1..].parse::<u8>().is_ok_and(|n| (1..=12).contains(&n)) =>
            {
                KeyCode::F(f[1..].parse().unwrap_or(1))
            }
            _ => {
                let mut chars = rest.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => {
                        if mods.contains(KeyModifiers::SHIFT) {
                            mods.remove(KeyModifiers::SHIFT);
                            KeyCode::Char(c.to_ascii_uppercase())
                        } else if mods.contains(KeyModifiers::CONTROL) {
                            KeyCode::Char(c.to_ascii_lowercase())
                        } else {
                            KeyCode::Char(c)
                        }
                    }
                    _ => bail!("'{text}' is not a key (e.g. q, G, ctrl-d, enter, shift-tab, f1)"),
                }
            }
        };
        Ok(Chord { code, mods })
    }
}

impl fmt::Display for Chord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mods.contains(KeyModifiers::CONTROL) {
            write!(f, "ctrl-")?;
        }
        if self.mods.contains(KeyModifiers::ALT) {
            write!(f, "alt-")?;
        }
        if self.mods.contains(KeyModifiers::SHIFT) {
            write!(f, "shift-")?;
        }
        match self.code {
            KeyCode::Char(' ') => write!(f, "space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Enter => write!(f, "enter"),
            KeyCode::Esc => write!(f, "esc"),
            KeyCode::Tab => write!(f, "tab"),
            KeyCode::BackTab => write!(f, "shift-tab"),
            KeyCode::Backspace => write!(f, "backspace"),
            KeyCode::Delete => write!(f, "delete"),
            KeyCode::Up => write!(f, "↑"),
            KeyCode::Down => write!(f, "↓"),
            KeyCode::Left => write!(f, "←"),
            KeyCode::Right => write!(f, "→"),
            KeyCode::PageUp => write!(f, "pageup"),
            KeyCode::PageDown => write!(f, "pagedown"),
            KeyCode::Home => write!(f, "home"),
            KeyCode::End => write!(f, "end"),
            KeyCode::F(n) => write!(f, "f{n}"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// A key sequence and what it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub keys: Vec<Chord>,
    pub action: Action,
    pub desc: String,
}

impl Binding {
    /// The keys as written, e.g. `g g`.
    pub fn key_text(&self) -> String {
        self.keys
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum BindingSpec {
    Action(String),
    Full {
        action: String,
        desc: Option<String>,
    },
}

/// What a key press resolved to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolved {
    Action(Action),
    /// The start of a longer sequence (e.g. the first `g` of `g g`).
    Pending,
    Unbound,
}

/// Bindings per context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keymap {
    sections: BTreeMap<KeyContext, Vec<Binding>>,
}

impl Keymap {
    /// The default keymap.
    pub fn defaults() -> Keymap {
        let table: toml::Table = DEFAULT_KEYMAP
            .parse()
            .expect("embedded keymap is valid TOML");
        let mut keymap = Keymap {
            sections: BTreeMap::new(),
        };
        keymap
            .apply(&table, true)
            .expect("embedded keymap is valid");
        keymap
    }

    /// The defaults with the config's `[keys]` section laid over them.
    pub fn from_config(section: Option<&toml::Value>) -> anyhow::Result<Keymap> {
        let mut keymap = Keymap::defaults();
        if let Some(value) = section {
            let table = value
                .as_table()
                .context("[keys] must be a table of contexts")?;
            keymap.apply(table, false)?;
        }
        Ok(keymap)
    }

    fn apply(&mut self, table: &toml::Table, defaults: bool) -> anyhow::Result<()> {
        for (context_name, bindings) in table {
            let context = KeyContext::from_name(context_name).with_context(|| {
                let names: Vec<&str> = KeyContext::ALL.iter().map(|c| c.name()).collect();
                format!(
                    "[keys.{context_name}]: unknown context (expected one of {})",
                    names.join(", ")
                )
            })?;
            let bindings = bindings
                .as_table()
                .with_context(|| format!("[keys.{context_name}] must be a table"))?;
            for (key_text, spec) in bindings {
                let keys = key_text
                    .split_whitespace()
                    .map(Chord::parse)
                    .collect::<anyhow::Result<Vec<_>>>()
                    .with_context(|| format!("[keys.{context_name}]"))?;
                if keys.is_empty() {
                    bail!("[keys.{context_name}]: empty key");
                }
                let spec: BindingSpec = spec
                    .clone()
                    .try_into()
                    .with_context(|| format!("[keys.{context_name}] \"{key_text}\": expected an action name or {{ action, desc }}"))?;
                let (action_name, desc) = match spec {
                    BindingSpec::Action(a) => (a, None),
                    BindingSpec::Full { action, desc } => (action, desc),
                };
                let section = self.sections.entry(context).or_default();
                section.retain(|b| b.keys != keys);
                if action_name == "none" {
                    continue;
                }
                let action: Action = toml::Value::String(action_name.clone())
                    .try_into()
                    .map_err(|_| {
                        anyhow::anyhow!(
                            "[keys.{context_name}] \"{key_text}\": unknown action '{action_name}'"
                        )
                    })?;
                let desc = desc
                    .or_else(|| {
                        (!defaults)
                            .then(|| Keymap::defaults().desc_of(action))
                            .flatten()
                    })
                    .unwrap_or_else(|| action_name.replace('_', " "));
                section.push(Binding { keys, action, desc });
            }
        }
        Ok(())
    }

    fn desc_of(&self, action: Action) -> Option<String> {
        self.sections
            .values()
            .flatten()
            .find(|b| b.action == action)
            .map(|b| b.desc.clone())
    }

    /// The bindings of one context, in file order.
    pub fn bindings(&self, context: KeyContext) -> &[Binding] {
        self.sections
            .get(&context)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Resolves `pending` + `key` in the active contexts, most specific first.
    pub fn resolve(&self, contexts: &[KeyContext], pending: &[Chord], key: Chord) -> Resolved {
        let mut sequence = pending.to_vec();
        sequence.push(key);
        let mut prefix = false;
        for context in contexts {
            for b in self.bindings(*context) {
                if b.keys == sequence {
                    return Resolved::Action(b.action);
                }
                if b.keys.len() > sequence.len() && b.keys.starts_with(&sequence) {
                    prefix = true;
                }
            }
        }
        if prefix {
            Resolved::Pending
        } else if !pending.is_empty() {
            self.resolve(contexts, &[], key)
        } else {
            Resolved::Unbound
        }
    }

    /// The first key bound to `action` in the active contexts (for hints like "press m").
    pub fn key_for(&self, contexts: &[KeyContext], action: Action) -> Option<String> {
        contexts
            .iter()
            .flat_map(|c| self.bindings(*c))
            .find(|b| b.action == action)
            .map(Binding::key_text)
    }

    /// A context's bindings grouped by action: (action, keys joined with `/`, description).
    pub fn grouped(&self, context: KeyContext) -> Vec<(Action, String, String)> {
        let mut out: Vec<(Action, Vec<String>, String)> = Vec::new();
        for b in self.bindings(context) {
            match out
                .iter_mut()
                .find(|(a, _, d)| *a == b.action && *d == b.desc)
            {
                Some((_, keys, _)) => keys.push(b.key_text()),
                None => out.push((b.action, vec![b.key_text()], b.desc.clone())),
            }
        }
        out.into_iter()
            .map(|(action, keys, desc)| (action, keys.join("/"), desc))
            .collect()
    }
}

/// Turns key presses into actions, remembering the first half of a sequence.
#[derive(Debug, Default, Clone)]
pub struct KeyReader {
    pending: Vec<Chord>,
}

impl KeyReader {
    /// Feeds one key; returns the action once a binding is complete.
    pub fn feed(&mut self, keymap: &Keymap, contexts: &[KeyContext], key: Chord) -> Resolved {
        match keymap.resolve(contexts, &self.pending, key) {
            Resolved::Pending => {
                self.pending.push(key);
                Resolved::Pending
            }
            other => {
                self.pending.clear();
                other
            }
        }
    }

    /// Whether a sequence is half typed.
    pub fn is_pending(&self) -> bool {
        !self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> Chord {
        Chord::parse(text).unwrap()
    }

    #[test]
    fn parses_and_prints_keys() {
        for text in ["q", "G", "ctrl-d", "enter", "shift-tab", "space", "f5", "?"] {
            let printed = key(text).to_string();
            assert_eq!(key(&printed.replace('↑', "up")), key(text), "{text}");
        }
        assert_eq!(key("shift-g"), key("G"));
        assert!(Chord::parse("nope").is_err());
        let ev = KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert_eq!(Chord::from_event(&ev), key("G"));
        let ev = KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT);
        assert_eq!(Chord::from_event(&ev), key("shift-tab"));
    }

    #[test]
    fn specific_contexts_win_and_sequences_wait() {
        let km = Keymap::defaults();
        let profile = [
            KeyContext::Profile,
            KeyContext::Navigation,
            KeyContext::Global,
        ];
        assert_eq!(
            km.resolve(&profile, &[], key("n")),
            Resolved::Action(Action::NextMatch)
        );
        assert_eq!(
            km.resolve(&profile, &[], key("q")),
            Resolved::Action(Action::Quit)
        );
        let mut reader = KeyReader::default();
        assert_eq!(reader.feed(&km, &profile, key("g")), Resolved::Pending);
        assert_eq!(
            reader.feed(&km, &profile, key("g")),
            Resolved::Action(Action::Top)
        );
        assert_eq!(reader.feed(&km, &profile, key("g")), Resolved::Pending);
        assert_eq!(
            reader.feed(&km, &profile, key("j")),
            Resolved::Action(Action::Down)
        );
        assert_eq!(
            km.resolve(&[KeyContext::Input], &[], key("q")),
            Resolved::Unbound
        );
    }

    #[test]
    fn config_overrides_single_bindings() {
        let section: toml::Value = toml::from_str(
            "[timeline]\n\"t\" = \"filter\"\n\"f\" = \"none\"\n[global]\n\"ctrl-q\" = { action = \"quit\", desc = \"leave\" }\n",
        )
        .unwrap();
        let km = Keymap::from_config(Some(&section)).unwrap();
        let tl = [KeyContext::Timeline];
        assert_eq!(
            km.resolve(&tl, &[], key("t")),
            Resolved::Action(Action::Filter)
        );
        assert_eq!(km.resolve(&tl, &[], key("f")), Resolved::Unbound);
        assert!(km.grouped(KeyContext::Timeline).contains(&(
            Action::Filter,
            "t".into(),
            "filter".into()
        )));
        assert!(km.grouped(KeyContext::Global).contains(&(
            Action::Quit,
            "ctrl-q".into(),
            "leave".into()
        )));
        let bad: toml::Value = toml::from_str("[timeline]\n\"t\" = \"fly\"\n").unwrap();
        assert!(
            Keymap::from_config(Some(&bad))
                .unwrap_err()
                .to_string()
                .contains("unknown action 'fly'")
        );
        let bad: toml::Value = toml::from_str("[nowhere]\n\"t\" = \"quit\"\n").unwrap();
        assert!(Keymap::from_config(Some(&bad)).is_err());
    }

    #[test]
    fn help_groups_keys_by_action() {
        let km = Keymap::defaults();
        let nav = km.grouped(KeyContext::Navigation);
        assert_eq!(
            nav[0],
            (Action::Down, "j/↓".to_string(), "down".to_string())
        );
    }
}
