//! Which source, space and channel an event belongs to.

use crate::config::Config;
use crate::model::{Event, derive_channel};

/// Where an event goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routing {
    pub source: String,
    pub space: String,
    pub channel: String,
}

/// Routes an event: a configured source (named explicitly, or found by the write key given
/// by the transport or carried in the event's `writeKey`) decides space and channel; other
/// events go to `default_space`, their source named by `context.app.name` or
/// `context.library.name`, and their channel derived from the event.
pub fn route_event(
    event: &Event,
    config: &Config,
    default_space: &str,
    source_name: Option<&str>,
    write_key: Option<&str>,
) -> Routing {
    let configured = source_name
        .and_then(|name| config.source_by_name(name))
        .or_else(|| {
            write_key
                .or(event.write_key())
                .and_then(|key| config.source_by_write_key(key))
        });
    match configured {
        Some(source) => Routing {
            source: source.name.to_string(),
            space: source.config.space.clone(),
            channel: source
                .config
                .channel
                .clone()
                .unwrap_or_else(|| derive_channel(event)),
        },
        None => Routing {
            source: source_name
                .map(str::to_string)
                .or_else(|| event.app.clone())
                .or_else(|| event.path_str("context.library.name"))
                .unwrap_or_else(|| "unknown".to_string()),
            space: default_space.to_string(),
            channel: derive_channel(event),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config() -> Config {
        Config::from_toml_str(
            "[sources.zendesk]\nwrite_key = \"ZK\"\nspace = \"acme\"\nchannel = \"support\"\n",
            "t",
        )
        .unwrap()
    }

    #[test]
    fn configured_sources_decide_space_and_channel() {
        let e = Event::from_json(
            json!({"type":"track","event":"Ticket Created","userId":"u","writeKey":"ZK"}),
        )
        .unwrap();
        let r = route_event(&e, &config(), "default", None, None);
        assert_eq!(
            r,
            Routing {
                source: "zendesk".into(),
                space: "acme".into(),
                channel: "support".into()
            }
        );
        let plain = Event::from_json(json!({"type":"screen","userId":"u",
            "context":{"app":{"name":"Acme iOS"},"device":{"type":"ios"}}}))
        .unwrap();
        let r = route_event(&plain, &config(), "default", None, Some("ZK"));
        assert_eq!(r.space, "acme");
        let r = route_event(&plain, &config(), "default", None, None);
        assert_eq!(
            r,
            Routing {
                source: "Acme iOS".into(),
                space: "default".into(),
                channel: "ios".into()
            }
        );
    }
}
