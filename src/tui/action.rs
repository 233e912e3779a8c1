//! What a key can ask for: the serde-named actions of the keymap.

use serde::{Deserialize, Serialize};

/// A keymap action; its snake_case name is what `assets/keymap.toml` and `[keys]` use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Quit,
    Help,
    Back,
    Search,
    Health,
    Audiences,
    SwitchSpace,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Left,
    Right,
    Open,
    NextMatch,
    PrevMatch,
    ClearInput,
    NextTab,
    PrevTab,
    TabOverview,
    TabTimeline,
    TabTouchpoints,
    TabGraph,
    TabHistory,
    Merge,
    Split,
    Undo,
    Copy,
    CopyJson,
    Refresh,
    Filter,
    ClearFilter,
    Mark,
    ClearMarks,
    SwitchList,
    ToggleForce,
    Confirm,
}
