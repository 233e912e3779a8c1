//! Themes: a struct of semantic styles read from TOML (`assets/themes/*.toml`), chosen with
//! `[theme] name = "light"` and adjustable per style under `[theme.styles]`. With `NO_COLOR`
//! every colour is dropped and only text attributes remain.

use std::collections::BTreeMap;
use std::str::FromStr;

use anyhow::{Context, bail};
use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

const DARK: &str = include_str!("../../assets/themes/dark.toml");
const LIGHT: &str = include_str!("../../assets/themes/light.toml");

/// One style as written in a theme file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StyleSpec {
    fg: Option<String>,
    bg: Option<String>,
    #[serde(default)]
    bold: bool,
    #[serde(default)]
    dim: bool,
    #[serde(default)]
    italic: bool,
    #[serde(default)]
    underlined: bool,
    #[serde(default)]
    reversed: bool,
}

#[derive(Debug, Deserialize)]
struct ThemeFile {
    styles: BTreeMap<String, StyleSpec>,
}

macro_rules! theme_struct {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        /// The semantic styles every view uses.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct Theme {
            $($(#[$doc])* pub $name: Style,)*
        }

        impl Theme {
            fn from_specs(specs: &BTreeMap<String, StyleSpec>, colors: bool) -> anyhow::Result<Theme> {
                for key in specs.keys() {
                    if ![$(stringify!($name)),*].contains(&key.as_str()) {
                        bail!("unknown theme style '{key}'");
                    }
                }
                Ok(Theme {
                    $($name: to_style(specs.get(stringify!($name)), colors)
                        .with_context(|| format!("theme style '{}'", stringify!($name)))?,)*
                })
            }
        }
    };
}

theme_struct!(
    /// Ordinary text.
    base,
    /// Secondary text.
    dim,
    /// Panel titles.
    title,
    border,
    border_focus,
    /// The selected row.
    selected,
    /// Characters matched by the search.
    matched,
    label,
    value,
    /// Identifier types.
    kind,
    tab,
    tab_active,
    status,
    /// Key names in the command bar and help.
    key,
    key_desc,
    error,
    warning,
    ok,
    /// Events before sign-up.
    anonymous,
    /// The sign-up event linking anonymous to known.
    conversion,
    channel,
    sparkline,
    node,
    node_marked,
    edge,
    /// Links on a "why" path.
    path,
    popup,
);

fn to_style(spec: Option<&StyleSpec>, colors: bool) -> anyhow::Result<Style> {
    let Some(spec) = spec else {
        return Ok(Style::default());
    };
    let mut style = Style::default();
    if colors {
        if let Some(fg) = &spec.fg {
            style = style.fg(parse_color(fg)?);
        }
        if let Some(bg) = &spec.bg {
            style = style.bg(parse_color(bg)?);
        }
    }
    let flags = [
        (spec.bold, Modifier::BOLD),
        (spec.dim, Modifier::DIM),
        (spec.italic, Modifier::ITALIC),
        (spec.underlined, Modifier::UNDERLINED),
        (spec.reversed, Modifier::REVERSED),
    ];
    for (on, modifier) in flags {
        if on {
            style = style.add_modifier(modifier);
        }
    }
    Ok(style)
}

fn parse_color(text: &str) -> anyhow::Result<Color> {
    Color::from_str(text).map_err(|_| {
        anyhow::anyhow!("'{text}' is not a colour (a name like \"cyan\", \"#rrggbb\" or 0-255)")
    })
}

impl Theme {
    /// A built-in theme by name (`dark` or `light`), without overrides.
    pub fn named(name: &str, colors: bool) -> anyhow::Result<Theme> {
        Theme::load(name, None, colors)
    }

    /// A built-in theme with `[theme.styles]`-style overrides laid over it. Without colours
    /// (`NO_COLOR`), selection and highlights fall back to reverse video and underlines.
    pub fn load(
        name: &str,
        overrides: Option<&toml::Table>,
        colors: bool,
    ) -> anyhow::Result<Theme> {
        let text = match name {
            "dark" => DARK,
            "light" => LIGHT,
            other => bail!("unknown theme '{other}' (expected dark or light)"),
        };
        let mut file: ThemeFile = toml::from_str(text).context("built-in theme")?;
        if let Some(table) = overrides {
            for (key, value) in table {
                let spec: StyleSpec = value
                    .clone()
                    .try_into()
                    .with_context(|| format!("[theme.styles] {key}"))?;
                file.styles.insert(key.clone(), spec);
            }
        }
        let mut theme = Theme::from_specs(&file.styles, colors)?;
        if !colors {
            theme.selected = Style::default().add_modifier(Modifier::REVERSED);
            theme.tab_active = Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD);
            theme.matched = Style::default().add_modifier(Modifier::UNDERLINED | Modifier::BOLD);
            theme.key = Style::default().add_modifier(Modifier::BOLD);
            theme.node_marked = Style::default().add_modifier(Modifier::REVERSED);
            theme.path = Style::default().add_modifier(Modifier::BOLD);
        }
        Ok(theme)
    }

    /// The theme selected by the config's `[theme]` section (`name`, `styles`).
    pub fn from_config(section: Option<&toml::Value>, colors: bool) -> anyhow::Result<Theme> {
        let table = section.and_then(toml::Value::as_table);
        let name = match table.and_then(|t| t.get("name")) {
            Some(v) => v.as_str().context("[theme] name must be a string")?,
            None => "dark",
        };
        if let Some(t) = table {
            for key in t.keys() {
                if key != "name" && key != "styles" {
                    bail!("[theme] has no setting '{key}' (expected name, styles)");
                }
            }
        }
        let styles = table
            .and_then(|t| t.get("styles"))
            .and_then(toml::Value::as_table);
        Theme::load(name, styles, colors)
    }
}

/// Whether colours are allowed: `NO_COLOR` set to anything non-empty turns them off.
pub fn colors_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_themes_load() {
        let dark = Theme::named("dark", true).unwrap();
        let light = Theme::named("light", true).unwrap();
        assert_ne!(dark.title, light.title);
        assert!(Theme::named("neon", true).is_err());
    }

    #[test]
    fn no_color_drops_every_colour() {
        let plain = Theme::named("dark", false).unwrap();
        for style in [
            plain.title,
            plain.selected,
            plain.status,
            plain.error,
            plain.popup,
        ] {
            assert_eq!(style.fg, None);
            assert_eq!(style.bg, None);
        }
        assert!(plain.selected.add_modifier.contains(Modifier::REVERSED));
    }

    #[test]
    fn config_selects_and_overrides() {
        let section: toml::Value =
            toml::from_str("name = \"light\"\n[styles]\ntitle = { fg = \"red\" }\n").unwrap();
        let theme = Theme::from_config(Some(&section), true).unwrap();
        assert_eq!(theme.title.fg, Some(Color::Red));
        let bad: toml::Value = toml::from_str("[styles]\ntitle = { fg = \"nocolour\" }\n").unwrap();
        assert!(Theme::from_config(Some(&bad), true).is_err());
        let typo: toml::Value = toml::from_str("nmae = \"light\"").unwrap();
        assert!(Theme::from_config(Some(&typo), true).is_err());
    }
}
