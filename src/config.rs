//! The settings file (TOML): identity rules, spaces, sources, server limits.
//!
//! Defaults live in `assets/default-config.toml`, embedded in the binary. A user file is
//! laid over the defaults table by table, and `[spaces.NAME.identity]` over `[identity]`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use regex::{Regex, RegexSet};
use serde::Deserialize;

use crate::audience::{AudienceConfig, AudienceSet, ConfigText};
use crate::model::ReadFields;

/// The default configuration file, as shipped.
pub const DEFAULT_CONFIG: &str = include_str!("../assets/default-config.toml");

/// The name of the space used when none is given.
pub const DEFAULT_SPACE: &str = "default";

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {error}")]
    Read { path: String, error: std::io::Error },
    #[error("config {path}: {message}")]
    Invalid { path: String, message: String },
}

/// Sections kept free-form in [`Config::extra`], owned by other parts of idgraph
/// (the explorer's keys, theme and switches). Any other unknown section is an error.
pub const EXTRA_SECTIONS: [&str; 3] = ["keys", "theme", "explorer"];

/// The whole settings file. (Unknown top-level sections are rejected by hand in
/// [`Config::from_toml_str`]: serde's `deny_unknown_fields` cannot be combined with the
/// flattened `extra` map.)
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    pub identity: IdentityConfig,
    #[serde(default)]
    pub spaces: BTreeMap<String, SpaceConfig>,
    #[serde(default)]
    pub sources: BTreeMap<String, SourceConfig>,
    pub server: ServerConfig,
    /// `[audiences.NAME]` definitions as written (compiled in [`Config::audiences`]).
    #[serde(default)]
    pub audiences: BTreeMap<String, AudienceConfig>,
    /// The enabled audiences, compiled when the config is loaded.
    #[serde(skip)]
    compiled_audiences: Arc<AudienceSet>,
    /// Free-form sections owned by other parts (keys, theme, audiences): kept as TOML.
    #[serde(flatten)]
    pub extra: BTreeMap<String, toml::Value>,
    /// The merged TOML table the config was read from (for per-space overlays).
    #[serde(skip)]
    table: toml::Table,
}

/// Identity resolution rules for a space.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
    pub alias_merges: bool,
    pub max_merges: u32,
    pub max_identifiers: u32,
    #[serde(default)]
    pub blocked_values: Vec<String>,
    #[serde(default)]
    pub blocked_patterns: Vec<String>,
    #[serde(default)]
    pub promote: Vec<PromoteRule>,
    /// Track events that mean the user signed out (compared case-insensitively).
    #[serde(default)]
    pub sign_out_events: Vec<String>,
    /// Identifier types a sign-out releases from the profile (the device's ids).
    #[serde(default)]
    pub released_on_sign_out: Vec<String>,
    #[serde(default)]
    pub types: BTreeMap<String, TypeConfig>,
}

/// A trait/property promoted to an identifier.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PromoteRule {
    pub path: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// Rules for one identifier type.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypeConfig {
    pub limit: Option<u32>,
    pub window: Option<Window>,
    pub priority: Option<u32>,
    #[serde(default)]
    pub blocked_values: Vec<String>,
    #[serde(default)]
    pub blocked_patterns: Vec<String>,
}

/// The period over which an identifier limit counts distinct values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Window {
    #[default]
    Ever,
    Daily,
    Weekly,
    Monthly,
    Annually,
}

impl Window {
    /// The window's length in milliseconds (`None` for ever). Windows are rolling.
    pub fn millis(self) -> Option<i64> {
        use crate::model::time::DAY;
        match self {
            Window::Ever => None,
            Window::Daily => Some(DAY),
            Window::Weekly => Some(7 * DAY),
            Window::Monthly => Some(30 * DAY),
            Window::Annually => Some(365 * DAY),
        }
    }

    /// The config name of the window.
    pub fn name(self) -> &'static str {
        match self {
            Window::Ever => "ever",
            Window::Daily => "daily",
            Window::Weekly => "weekly",
            Window::Monthly => "monthly",
            Window::Annually => "annually",
        }
    }
}

/// Per-space settings (an identity overlay).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SpaceConfig {
    /// Partial `[identity]` table laid over the global one.
    #[serde(default)]
    pub identity: Option<toml::Table>,
}

/// A source: an app or tool sending events with its own write key.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    #[serde(default)]
    pub write_key: Option<String>,
    #[serde(default = "default_space")]
    pub space: String,
    #[serde(default)]
    pub channel: Option<String>,
}

fn default_space() -> String {
    DEFAULT_SPACE.to_string()
}

/// HTTP server settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: String,
    pub max_message_bytes: usize,
    pub max_batch_bytes: usize,
    pub max_batch_messages: usize,
    pub read_token: String,
    /// Seconds a client has to send a request's headers (also how long an idle keep-alive
    /// connection stays open).
    pub header_read_timeout_secs: u64,
    /// Seconds a client has to send a tracking request's whole body once its headers arrived.
    pub body_read_timeout_secs: u64,
    /// Most connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
}

impl ServerConfig {
    /// How long a client has to send a request's headers.
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_secs)
    }

    /// How long a client has to send a tracking request's body.
    pub fn body_read_timeout(&self) -> Duration {
        Duration::from_secs(self.body_read_timeout_secs)
    }

    /// The first setting that cannot work, as `[server] KEY must be at least 1`.
    fn check(&self) -> Result<(), String> {
        let positive = [
            ("header_read_timeout_secs", self.header_read_timeout_secs),
            ("body_read_timeout_secs", self.body_read_timeout_secs),
            ("max_connections", self.max_connections as u64),
        ];
        match positive.iter().find(|(_, value)| *value == 0) {
            Some((key, _)) => Err(format!("[server] {key} must be at least 1")),
            None => Ok(()),
        }
    }
}

/// A configured source, found by name or write key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRef<'a> {
    pub name: &'a str,
    pub config: &'a SourceConfig,
}

impl Config {
    /// The built-in defaults.
    pub fn defaults() -> Config {
        Config::from_toml_str(DEFAULT_CONFIG, "<default config>")
            .expect("the embedded default config is valid")
    }

    /// Loads a user file laid over the defaults.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.display().to_string(),
            error,
        })?;
        Config::from_toml_str(&text, &path.display().to_string())
    }

    /// Parses TOML text laid over the defaults; `origin` names it in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: origin.to_string(),
            message,
        };
        let user: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| invalid(one_line(&e)))?;
        let mut table: toml::Table = DEFAULT_CONFIG
            .parse()
            .map_err(|e: toml::de::Error| invalid(one_line(&e)))?;
        overlay(&mut table, user);
        let mut config: Config = toml::Value::Table(table.clone())
            .try_into()
            .map_err(|e: toml::de::Error| invalid(one_line(&e)))?;
        config.table = table;
        if let Some(unknown) = config
            .extra
            .keys()
            .find(|k| !EXTRA_SECTIONS.contains(&k.as_str()))
        {
            return Err(invalid(format!("unknown section [{unknown}]")));
        }
        let texts = [
            ConfigText { text, origin },
            ConfigText {
                text: DEFAULT_CONFIG,
                origin: "<default config>",
            },
        ];
        config.compiled_audiences = Arc::new(
            crate::audience::config::compile(&config.audiences, &texts).map_err(|e| {
                ConfigError::Invalid {
                    path: e.origin,
                    message: e.message,
                }
            })?,
        );
        for name in config.spaces.keys() {
            config
                .identity_for(name)
                .map_err(|e| invalid(format!("[spaces.{name}.identity]: {e}")))?;
        }
        Rules::compile(&config.identity).map_err(|e| invalid(format!("[identity]: {e}")))?;
        for (name, source) in &config.sources {
            if source.write_key.as_deref() == Some("") {
                return Err(invalid(format!("[sources.{name}] write_key is empty")));
            }
        }
        config.server.check().map_err(invalid)?;
        Ok(config)
    }

    /// The identity rules of a space: `[identity]` with `[spaces.NAME.identity]` laid over it.
    pub fn identity_for(&self, space: &str) -> Result<IdentityConfig, String> {
        let Some(overlay_table) = self.spaces.get(space).and_then(|s| s.identity.clone()) else {
            return Ok(self.identity.clone());
        };
        let mut base = self
            .table
            .get("identity")
            .and_then(|v| v.as_table())
            .cloned()
            .unwrap_or_default();
        overlay(&mut base, overlay_table);
        toml::Value::Table(base)
            .try_into()
            .map_err(|e: toml::de::Error| one_line(&e))
    }

    /// The enabled audiences (the same for every space).
    pub fn audiences(&self) -> &Arc<AudienceSet> {
        &self.compiled_audiences
    }

    /// The compiled resolution rules of a space.
    pub fn rules_for(&self, space: &str) -> Result<Rules, String> {
        Rules::compile(&self.identity_for(space)?)
    }

    /// What ingest reads of an event's JSON in any space: the built-in fields plus every
    /// promoted identifier path.
    pub fn read_fields(&self) -> ReadFields {
        let spaces = self.space_names();
        let identities: Vec<IdentityConfig> = spaces
            .iter()
            .filter_map(|space| self.identity_for(space).ok())
            .collect();
        ReadFields::with_paths(
            identities
                .iter()
                .flat_map(|identity| identity.promote.iter().map(|rule| rule.path.as_str())),
        )
    }

    /// The source whose write key this is.
    pub fn source_by_write_key(&self, key: &str) -> Option<SourceRef<'_>> {
        self.sources
            .iter()
            .find(|(_, s)| s.write_key.as_deref() == Some(key))
            .map(|(name, config)| SourceRef { name, config })
    }

    /// The source with this name.
    pub fn source_by_name(&self, name: &str) -> Option<SourceRef<'_>> {
        self.sources
            .get_key_value(name)
            .map(|(name, config)| SourceRef { name, config })
    }

    /// Every space named anywhere in the config, plus the default space.
    pub fn space_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.spaces.keys().cloned().collect();
        names.extend(self.sources.values().map(|s| s.space.clone()));
        names.push(DEFAULT_SPACE.to_string());
        names.sort();
        names.dedup();
        names
    }
}

/// Lists that add to the ones beneath them instead of replacing them: a value blocked by
/// default stays blocked whatever else a config blocks.
const ADDITIVE_LISTS: [&str; 2] = ["blocked_values", "blocked_patterns"];

/// Lays `top` over `base`: tables merge key by key, [`ADDITIVE_LISTS`] gain the items they
/// lack, any other value replaces.
fn overlay(base: &mut toml::Table, top: toml::Table) {
    for (key, value) in top {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(t)) => overlay(b, t),
            (Some(toml::Value::Array(b)), toml::Value::Array(t))
                if ADDITIVE_LISTS.contains(&key.as_str()) =>
            {
                for item in t {
                    if !b.contains(&item) {
                        b.push(item);
                    }
                }
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// A TOML error on one line: its position and message, without the quoted source lines
/// (`N | text`) and carets under them.
fn one_line(error: &toml::de::Error) -> String {
    let is_quote = |line: &str| {
        let after_number = line.trim_start_matches(|c: char| c.is_ascii_digit());
        after_number.starts_with('|') || after_number.starts_with(" |")
    };
    error
        .to_string()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !is_quote(l) && !l.chars().all(|c| c == '^'))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Identity rules compiled for fast use during resolution.
#[derive(Debug, Clone)]
pub struct Rules {
    pub alias_merges: bool,
    pub max_merges: u32,
    pub max_identifiers: u32,
    pub promote: Vec<PromoteRule>,
    sign_out_events: rustc_hash::FxHashSet<String>,
    released_on_sign_out: rustc_hash::FxHashSet<String>,
    blocklist: Blocklist,
    types: BTreeMap<String, CompiledType>,
}

#[derive(Debug, Clone)]
struct CompiledType {
    limit: Option<u32>,
    window: Window,
    priority: Option<u32>,
    blocklist: Blocklist,
}

/// Blocked values (a set, compared lower-cased) and patterns (one regex set).
#[derive(Debug, Clone)]
struct Blocklist {
    values: rustc_hash::FxHashSet<String>,
    longest_value: usize,
    patterns: RegexSet,
}

impl Blocklist {
    fn compile(values: &[String], patterns: &[String]) -> Result<Blocklist, String> {
        for p in patterns {
            Regex::new(p)
                .map_err(|e| format!("bad pattern '{p}': {}", first_line(&e.to_string())))?;
        }
        let values: rustc_hash::FxHashSet<String> =
            values.iter().map(|v| v.trim().to_lowercase()).collect();
        Ok(Blocklist {
            longest_value: values.iter().map(String::len).max().unwrap_or(0),
            values,
            patterns: RegexSet::new(patterns).map_err(|e| first_line(&e.to_string()))?,
        })
    }

    /// The rule that blocks a trimmed value, if any.
    fn check(&self, trimmed: &str) -> Option<String> {
        if trimmed.len() <= self.longest_value {
            let lowered = trimmed.to_lowercase();
            if self.values.contains(&lowered) {
                return Some(format!("blocked value \"{lowered}\""));
            }
        }
        self.patterns
            .matches(trimmed)
            .iter()
            .next()
            .map(|i| format!("blocked pattern {}", self.patterns.patterns()[i]))
    }
}

/// The limit that applies to one identifier type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: u32,
    pub window: Window,
}

/// Default limit for types the config does not list.
pub const DEFAULT_TYPE_LIMIT: u32 = 5;

impl Rules {
    /// Compiles an identity section (regexes checked here, with the offending pattern named).
    pub fn compile(identity: &IdentityConfig) -> Result<Rules, String> {
        let mut types = BTreeMap::new();
        for (name, t) in &identity.types {
            types.insert(
                name.clone(),
                CompiledType {
                    limit: t.limit,
                    window: t.window.unwrap_or_default(),
                    priority: t.priority,
                    blocklist: Blocklist::compile(&t.blocked_values, &t.blocked_patterns)
                        .map_err(|e| format!("types.{name}: {e}"))?,
                },
            );
        }
        Ok(Rules {
            alias_merges: identity.alias_merges,
            max_merges: identity.max_merges,
            max_identifiers: identity.max_identifiers,
            promote: identity.promote.clone(),
            sign_out_events: identity
                .sign_out_events
                .iter()
                .map(|e| e.trim().to_lowercase())
                .collect(),
            released_on_sign_out: identity.released_on_sign_out.iter().cloned().collect(),
            blocklist: Blocklist::compile(&identity.blocked_values, &identity.blocked_patterns)?,
            types,
        })
    }

    /// Whether a track event of this name means the user signed out.
    pub fn is_sign_out(&self, event_name: &str) -> bool {
        !self.sign_out_events.is_empty()
            && self
                .sign_out_events
                .contains(&event_name.trim().to_lowercase())
    }

    /// Whether a sign-out releases identifiers of this type from the profile.
    pub fn released_on_sign_out(&self, kind: &str) -> bool {
        self.released_on_sign_out.contains(kind)
    }

    /// The blocking rule a value falls under, if any (e.g. `value "null"`, `pattern ^[0-]*$`).
    pub fn blocked_by(&self, kind: &str, value: &str) -> Option<String> {
        let trimmed = value.trim();
        self.blocklist.check(trimmed).or_else(|| {
            self.types
                .get(kind)
                .and_then(|t| t.blocklist.check(trimmed))
        })
    }

    /// The limit on distinct values of a type per profile.
    pub fn limit(&self, kind: &str) -> Limit {
        match self.types.get(kind) {
            Some(t) => Limit {
                max: t.limit.unwrap_or(DEFAULT_TYPE_LIMIT),
                window: t.window,
            },
            None => Limit {
                max: DEFAULT_TYPE_LIMIT,
                window: Window::Ever,
            },
        }
    }

    /// Sort key for priority: smaller is more important. Types without a priority come after
    /// all prioritised types, alphabetically.
    pub fn priority_key<'a>(&self, kind: &'a str) -> (u32, &'a str) {
        let priority = self.types.get(kind).and_then(|t| t.priority);
        (priority.unwrap_or(u32::MAX), kind)
    }
}

fn first_line(text: &str) -> String {
    text.lines().last().unwrap_or(text).trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_load_with_documented_rules() {
        let config = Config::defaults();
        let rules = config.rules_for(DEFAULT_SPACE).unwrap();
        assert_eq!(rules.limit("user_id").max, 1);
        assert_eq!(rules.limit("email").max, 5);
        assert_eq!(rules.limit("ios.id").max, 5);
        assert!(rules.priority_key("user_id") < rules.priority_key("email"));
        assert!(rules.priority_key("email") < rules.priority_key("anonymous_id"));
        assert!(rules.priority_key("anonymous_id") < rules.priority_key("phone"));
        assert!(!rules.alias_merges);
        assert_eq!(rules.max_merges, 100);
    }

    #[test]
    fn default_blocklist_covers_junk() {
        let rules = Config::defaults().rules_for(DEFAULT_SPACE).unwrap();
        for junk in [
            "",
            "null",
            "NULL",
            " undefined ",
            "NaN",
            "0",
            "-1",
            "anonymous",
            "[object Object]",
            "0000-000",
        ] {
            assert!(
                rules.blocked_by("user_id", junk).is_some(),
                "{junk:?} should be blocked"
            );
        }
        assert!(rules.blocked_by("email", "test@test.com").is_some());
        assert!(rules.blocked_by("email", "ana@example.com").is_some());
        assert!(rules.blocked_by("email", "ana@acme.io").is_none());
        assert!(rules.blocked_by("user_id", "u-1001").is_none());
    }

    #[test]
    fn blocked_lists_of_a_config_add_to_the_defaults() {
        let config = Config::from_toml_str(
            "[identity]\nblocked_values = [\"SPECIAL\", \"null\"]\n\
             [identity.types.phone]\nblocked_patterns = ['^\\+?42$']\n\
             [spaces.b2b.identity]\nblocked_values = [\"acme\"]\n",
            "test",
        )
        .unwrap();
        let rules = config.rules_for(DEFAULT_SPACE).unwrap();
        for (kind, value) in [
            ("user_id", "special"),
            ("user_id", "null"),
            ("user_id", "undefined"),
            ("phone", "+42"),
            ("phone", "+1234567890"),
        ] {
            assert!(rules.blocked_by(kind, value).is_some(), "{kind}:{value}");
        }
        assert!(rules.blocked_by("user_id", "acme").is_none());
        let b2b = config.rules_for("b2b").unwrap();
        for value in ["acme", "special", "undefined"] {
            assert!(b2b.blocked_by("user_id", value).is_some(), "{value}");
        }
    }

    #[test]
    fn space_overlay_changes_only_that_space() {
        let config = Config::from_toml_str(
            "[spaces.b2b.identity.types.email]\nlimit = 20\n[identity]\nalias_merges = true\n",
            "test",
        )
        .unwrap();
        assert_eq!(config.rules_for("b2b").unwrap().limit("email").max, 20);
        assert!(config.rules_for("b2b").unwrap().alias_merges);
        assert_eq!(config.rules_for("default").unwrap().limit("email").max, 5);
        assert_eq!(config.rules_for("b2b").unwrap().limit("user_id").max, 1);
    }

    #[test]
    fn errors_name_the_problem_on_one_line() {
        let err = Config::from_toml_str("[identity]\nmax_merges = \"many\"\n", "cfg.toml")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("config cfg.toml:"), "{err}");
        assert!(!err.contains('\n'), "{err}");
        let err = Config::from_toml_str("[identity]\nblocked_patterns = ['(']\n", "c")
            .unwrap_err()
            .to_string();
        assert!(err.contains("bad pattern '('"), "{err}");
        assert!(Config::from_toml_str("[identiti]\n", "c").is_err());
        let err = Config::from_toml_str("bad toml [[\n", "bad.toml")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("config bad.toml: TOML parse error at line 1, column ")
                && !err.contains("bad toml [["),
            "{err}"
        );
    }

    #[test]
    fn server_connection_limits_default_and_must_be_positive() {
        let server = Config::defaults().server;
        assert_eq!(server.header_read_timeout(), Duration::from_secs(10));
        assert_eq!(server.body_read_timeout(), Duration::from_secs(30));
        assert_eq!(server.max_connections, 1024);
        let config =
            Config::from_toml_str("[server]\nheader_read_timeout_secs = 2\n", "t").unwrap();
        assert_eq!(config.server.header_read_timeout(), Duration::from_secs(2));
        for key in [
            "header_read_timeout_secs",
            "body_read_timeout_secs",
            "max_connections",
        ] {
            let err = Config::from_toml_str(&format!("[server]\n{key} = 0\n"), "t")
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(&format!("[server] {key} must be at least 1")),
                "{err}"
            );
        }
    }

    #[test]
    fn sources_are_found_by_key_and_name() {
        let config = Config::from_toml_str(
            "[sources.web]\nwrite_key = \"K1\"\nspace = \"shop\"\nchannel = \"web\"\n",
            "t",
        )
        .unwrap();
        assert_eq!(config.source_by_write_key("K1").unwrap().name, "web");
        assert_eq!(config.source_by_name("web").unwrap().config.space, "shop");
        assert!(config.source_by_write_key("K2").is_none());
        assert_eq!(config.space_names(), vec!["default", "shop"]);
    }
}
