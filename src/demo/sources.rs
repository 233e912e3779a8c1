//! The apps and tools of Brightbasket, the fictional grocery-delivery company whose
//! customers the demo data follows: one Segment source each, with its write key, channel
//! and space.

use std::fmt::Write as _;

use serde::Serialize;

use crate::config::DEFAULT_SPACE;

/// The space the companion (recipes) apps move to when they live in a second space.
pub const SECOND_SPACE: &str = "recipes";

/// The domain of the company's website.
pub(crate) const WEB_ORIGIN: &str = "https://www.brightbasket.com";

/// One source of the demo company: an app or tool sending events with its own write key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DemoSource {
    /// The source name, used as the `[sources.NAME]` key in a config file.
    pub name: &'static str,
    /// The write key every event of the source carries in `writeKey`.
    pub write_key: &'static str,
    /// The channel its events reach people through (web, ios, android, support, ...).
    pub channel: &'static str,
    /// The space (isolated identity graph) the source feeds.
    pub space: &'static str,
}

/// The sources, as the generator refers to them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum SourceId {
    Website,
    IosApp,
    AndroidApp,
    RecipesIos,
    RecipesAndroid,
    SupportDesk,
    Crm,
    EmailTool,
}

/// The tracking library a source's events name in `context.library`.
#[derive(Clone, Copy, Debug, Serialize)]
pub(crate) struct Library {
    pub name: &'static str,
    pub version: &'static str,
}

/// A mobile app's identity (`context.app`), one entry per released version.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AppRelease {
    pub name: &'static str,
    pub namespace: &'static str,
    pub version: &'static str,
    pub build: &'static str,
}

impl SourceId {
    /// Every source, in the order they are listed in configs.
    pub(crate) const ALL: [SourceId; 8] = [
        SourceId::Website,
        SourceId::IosApp,
        SourceId::AndroidApp,
        SourceId::RecipesIos,
        SourceId::RecipesAndroid,
        SourceId::SupportDesk,
        SourceId::Crm,
        SourceId::EmailTool,
    ];

    /// The source's config name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            SourceId::Website => "website",
            SourceId::IosApp => "ios_app",
            SourceId::AndroidApp => "android_app",
            SourceId::RecipesIos => "recipes_ios",
            SourceId::RecipesAndroid => "recipes_android",
            SourceId::SupportDesk => "support_desk",
            SourceId::Crm => "crm",
            SourceId::EmailTool => "email_tool",
        }
    }

    /// The write key sent in every event of the source.
    pub(crate) fn write_key(self) -> &'static str {
        match self {
            SourceId::Website => "bb_web_Q2x7TfK9sLm3",
            SourceId::IosApp => "bb_ios_Hn4vR8pXw2Ze",
            SourceId::AndroidApp => "bb_and_Lk6tY3mBq9Dc",
            SourceId::RecipesIos => "bb_rci_Wm2hG7sNv5Pa",
            SourceId::RecipesAndroid => "bb_rca_Zp8dJ4kFx1Ur",
            SourceId::SupportDesk => "bb_sup_Tc5nE9wQh3Ly",
            SourceId::Crm => "bb_crm_Vb7gM2rKs6Ho",
            SourceId::EmailTool => "bb_eml_Fy3qA8zCt4Nj",
        }
    }

    /// The channel the source's events belong to.
    pub(crate) fn channel(self) -> &'static str {
        match self {
            SourceId::Website => "web",
            SourceId::IosApp | SourceId::RecipesIos => "ios",
            SourceId::AndroidApp | SourceId::RecipesAndroid => "android",
            SourceId::SupportDesk => "support",
            SourceId::Crm => "sales",
            SourceId::EmailTool => "email",
        }
    }

    /// The space of the source: the recipes apps can live in a second space.
    pub(crate) fn space(self, second_space: bool) -> &'static str {
        match self {
            SourceId::RecipesIos | SourceId::RecipesAndroid if second_space => SECOND_SPACE,
            _ => DEFAULT_SPACE,
        }
    }

    /// Server-side tools (support desk, CRM, e-mail tool) rather than client SDKs.
    pub(crate) fn is_server(self) -> bool {
        matches!(
            self,
            SourceId::SupportDesk | SourceId::Crm | SourceId::EmailTool
        )
    }

    /// Whether identify calls put their traits in `context.traits` only (RudderStack style).
    pub(crate) fn traits_in_context(self) -> bool {
        matches!(self, SourceId::Crm | SourceId::RecipesAndroid)
    }

    /// Whether the library writes absent ids as explicit `null` (the Python clients do).
    pub(crate) fn writes_null_ids(self) -> bool {
        matches!(self, SourceId::Crm)
    }

    /// The tracking library of the source.
    pub(crate) fn library(self) -> Library {
        let (name, version) = match self {
            SourceId::Website => ("analytics.js", "next-1.76.0"),
            SourceId::IosApp | SourceId::RecipesIos => ("analytics-ios", "4.1.8"),
            SourceId::AndroidApp | SourceId::RecipesAndroid => ("analytics-android", "4.11.3"),
            SourceId::SupportDesk | SourceId::EmailTool => ("analytics-node", "3.1.0"),
            SourceId::Crm => ("analytics-python", "2.4.0"),
        };
        Library { name, version }
    }

    /// The releases of a mobile app (newest last); empty for web and server sources.
    pub(crate) fn releases(self) -> &'static [AppRelease] {
        const fn release(
            name: &'static str,
            namespace: &'static str,
            version: &'static str,
            build: &'static str,
        ) -> AppRelease {
            AppRelease {
                name,
                namespace,
                version,
                build,
            }
        }
        const IOS: &[AppRelease] = &[
            release("Brightbasket", "com.brightbasket.app", "5.1.4", "5140"),
            release("Brightbasket", "com.brightbasket.app", "5.2.0", "5200"),
            release("Brightbasket", "com.brightbasket.app", "5.3.1", "5310"),
        ];
        const ANDROID: &[AppRelease] = &[
            release("Brightbasket", "com.brightbasket.android", "5.1.2", "51020"),
            release("Brightbasket", "com.brightbasket.android", "5.2.3", "52030"),
            release("Brightbasket", "com.brightbasket.android", "5.3.0", "53000"),
        ];
        const RECIPES_IOS: &[AppRelease] = &[
            release(
                "Brightbasket Recipes",
                "com.brightbasket.recipes",
                "2.2.0",
                "220",
            ),
            release(
                "Brightbasket Recipes",
                "com.brightbasket.recipes",
                "2.3.1",
                "231",
            ),
        ];
        const RECIPES_ANDROID: &[AppRelease] = &[
            release(
                "Brightbasket Recipes",
                "com.brightbasket.recipes",
                "2.2.1",
                "2210",
            ),
            release(
                "Brightbasket Recipes",
                "com.brightbasket.recipes",
                "2.3.0",
                "2300",
            ),
        ];
        match self {
            SourceId::IosApp => IOS,
            SourceId::AndroidApp => ANDROID,
            SourceId::RecipesIos => RECIPES_IOS,
            SourceId::RecipesAndroid => RECIPES_ANDROID,
            _ => &[],
        }
    }

    /// The public description of the source.
    fn describe(self, second_space: bool) -> DemoSource {
        DemoSource {
            name: self.name(),
            write_key: self.write_key(),
            channel: self.channel(),
            space: self.space(second_space),
        }
    }
}

/// The demo company's sources, every one in the default space.
pub fn demo_sources() -> Vec<DemoSource> {
    demo_sources_in(false)
}

/// The demo company's sources; with `second_space` the recipes apps feed the
/// [`SECOND_SPACE`] space instead of the default one.
pub fn demo_sources_in(second_space: bool) -> Vec<DemoSource> {
    SourceId::ALL
        .iter()
        .map(|s| s.describe(second_space))
        .collect()
}

/// Renders sources as `[sources.NAME]` tables (`write_key`, `space`, `channel`) to paste
/// into or append to an idgraph config file.
pub fn sources_toml(sources: &[DemoSource]) -> String {
    let mut out = String::new();
    for (i, source) in sources.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "[sources.{}]\nwrite_key = \"{}\"\nspace = \"{}\"\nchannel = \"{}\"",
            source.name, source.write_key, source.space, source.channel
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn toml_loads_as_config_sources() {
        let sources = demo_sources_in(true);
        let config = Config::from_toml_str(&sources_toml(&sources), "demo").unwrap();
        for source in &sources {
            let found = config.source_by_write_key(source.write_key).unwrap();
            assert_eq!(found.name, source.name);
            assert_eq!(found.config.space, source.space);
            assert_eq!(found.config.channel.as_deref(), Some(source.channel));
        }
        assert_eq!(config.space_names(), vec!["default", "recipes"]);
    }

    #[test]
    fn covers_every_channel_and_unique_keys() {
        let sources = demo_sources();
        let mut channels: Vec<_> = sources.iter().map(|s| s.channel).collect();
        channels.sort_unstable();
        channels.dedup();
        assert_eq!(
            channels,
            vec!["android", "email", "ios", "sales", "support", "web"]
        );
        let mut keys: Vec<_> = sources.iter().map(|s| s.write_key).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), sources.len());
        assert!(sources.iter().all(|s| s.space == DEFAULT_SPACE));
    }
}
