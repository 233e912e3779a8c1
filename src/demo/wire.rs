//! Rendering planned events as the JSON real SDKs send: Segment-spec fields, a `context`
//! shaped like analytics.js, analytics-ios/-android or a server library's, and `writeKey`.
//!
//! Most of an event's bytes are its `context`, and most of that never changes for an app
//! install (library, app, device, os, user agent, ip, locale, time zone): it is serialised
//! once per unit and copied into each event, which is what makes generation fast. Every
//! value still goes through serde_json.

use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::clock::format_into;
use super::devices::{Device, Install};
use super::ids::{push_hex, push_uuid};
use super::journey::Unit;
use super::plan::{Payload, PlannedEvent};
use super::sources::{Library, SourceId};
use crate::model::Millis;

/// Renders the events of one unit after another.
#[derive(Debug, Default)]
pub(crate) struct Renderer {
    /// Per source: `{"library":…` (and `"channel":…` for server tools), not closed.
    sources: Vec<String>,
    /// Per install of the current unit: its constant `context` members, not closed.
    installs: Vec<String>,
}

impl Renderer {
    /// Serialises the constant context of every install of `unit` (and, the first time,
    /// of every source).
    pub(crate) fn start_unit(&mut self, unit: &Unit) -> serde_json::Result<()> {
        if self.sources.is_empty() {
            for source in SourceId::ALL {
                self.sources.push(open_object(&SourceContext {
                    library: source.library(),
                    channel: source.is_server().then(|| source.channel()),
                })?);
            }
        }
        self.installs.clear();
        for install in &unit.installs {
            let device = &unit.devices[install.device];
            self.installs
                .push(open_object(&install_context(install, device))?);
        }
        Ok(())
    }

    /// Writes `event` of the current unit as one line of JSON (no newline) into `out`.
    pub(crate) fn render(
        &self,
        unit: &Unit,
        event: &PlannedEvent,
        message_id: &str,
        out: &mut Vec<u8>,
    ) -> serde_json::Result<()> {
        let source = event.source;
        let skew = event
            .install
            .map_or(0, |i| unit.devices[unit.installs[i].device].clock_skew);
        let (call, name) = match &event.payload {
            Payload::Page { name } => ("page", Some(*name)),
            Payload::Screen { name, .. } => ("screen", Some(*name)),
            Payload::Track { .. } => ("track", None),
            Payload::Identify { .. } => ("identify", None),
        };
        out.extend_from_slice(b"{\"type\":\"");
        out.extend_from_slice(call.as_bytes());
        out.extend_from_slice(b"\",\"messageId\":");
        string(out, message_id)?;
        let mut text = [0u8; 24];
        format_into(event.time, &mut text);
        time(out, b",\"timestamp\":", &text);
        if skew != 0 {
            format_into(event.time + skew, &mut text);
        }
        time(out, b",\"originalTimestamp\":", &text);
        format_into(event.time + skew + event.send_delay, &mut text);
        time(out, b",\"sentAt\":", &text);
        let nulls = source.writes_null_ids();
        id(out, b",\"userId\":", event.user_id.as_deref(), nulls)?;
        id(
            out,
            b",\"anonymousId\":",
            event.anonymous_id.as_deref(),
            nulls,
        )?;
        if let Payload::Track { event, .. } = &event.payload {
            out.extend_from_slice(b",\"event\":");
            string(out, event)?;
        }
        if let Some(name) = name {
            out.extend_from_slice(b",\"name\":");
            string(out, name)?;
        }
        match &event.payload {
            Payload::Page { .. } => {
                if let Some(page) = &event.page {
                    out.extend_from_slice(b",\"properties\":");
                    out.extend_from_slice(page.json().as_bytes());
                }
            }
            Payload::Screen { props, .. } if props.is_empty() => {}
            Payload::Screen { props, .. } | Payload::Track { props, .. } => {
                out.extend_from_slice(b",\"properties\":");
                serde_json::to_writer(&mut *out, props)?;
            }
            Payload::Identify { traits } if !source.traits_in_context() => {
                out.extend_from_slice(b",\"traits\":");
                serde_json::to_writer(&mut *out, traits)?;
            }
            Payload::Identify { .. } => {}
        }
        out.extend_from_slice(b",\"context\":");
        let context = match event.install {
            Some(i) => &self.installs[i],
            None => &self.sources[source as usize],
        };
        out.extend_from_slice(context.as_bytes());
        if let Some(page) = &event.page {
            out.extend_from_slice(b",\"page\":");
            out.extend_from_slice(page.json().as_bytes());
        }
        match (&event.payload, &event.context_email) {
            (Payload::Identify { traits }, _) if source.traits_in_context() => {
                out.extend_from_slice(b",\"traits\":");
                serde_json::to_writer(&mut *out, traits)?;
            }
            (Payload::Identify { .. }, _) | (_, None) => {}
            (_, Some(email)) => {
                out.extend_from_slice(b",\"traits\":{\"email\":");
                string(out, email)?;
                out.push(b'}');
            }
        }
        out.extend_from_slice(b"},\"writeKey\":");
        string(out, source.write_key())?;
        out.push(b'}');
        Ok(())
    }
}

/// A messageId in the style of the source's library: analytics.js `ajs-next-<hex>`,
/// upper-case UUIDs on iOS, `node-next-<ms>-<uuid>` from Node, plain UUIDs elsewhere.
pub(crate) fn message_id(rng: &mut ChaCha8Rng, source: SourceId, at: Millis) -> String {
    let mut id = String::with_capacity(60);
    match source {
        SourceId::Website => {
            id.push_str("ajs-next-");
            push_hex(rng, 32, &mut id);
        }
        SourceId::IosApp | SourceId::RecipesIos => push_uuid(rng, true, &mut id),
        SourceId::SupportDesk | SourceId::EmailTool => {
            id.push_str("node-next-");
            id.push_str(itoa(at, &mut [0u8; 20]));
            id.push('-');
            push_uuid(rng, false, &mut id);
        }
        _ => push_uuid(rng, false, &mut id),
    }
    id
}

/// A non-negative number as decimal text, in `buf`.
fn itoa(mut n: Millis, buf: &mut [u8; 20]) -> &str {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n <= 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[at..]).unwrap_or_default()
}

fn string(out: &mut Vec<u8>, text: &str) -> serde_json::Result<()> {
    serde_json::to_writer(out, text)
}

fn time(out: &mut Vec<u8>, key: &[u8], text: &[u8; 24]) {
    out.extend_from_slice(key);
    out.push(b'"');
    out.extend_from_slice(text);
    out.push(b'"');
}

/// An id member: omitted when absent, or an explicit `null` for clients that write one.
fn id(out: &mut Vec<u8>, key: &[u8], value: Option<&str>, nulls: bool) -> serde_json::Result<()> {
    match value {
        Some(value) => {
            out.extend_from_slice(key);
            string(out, value)
        }
        None if nulls => {
            out.extend_from_slice(key);
            out.extend_from_slice(b"null");
            Ok(())
        }
        None => Ok(()),
    }
}

/// A JSON object without its closing brace, for more members to follow.
fn open_object<T: Serialize>(value: &T) -> serde_json::Result<String> {
    let mut text = serde_json::to_string(value)?;
    text.pop();
    Ok(text)
}

fn install_context<'a>(install: &'a Install, device: &'a Device) -> InstallContext<'a> {
    let source = install.source;
    InstallContext {
        library: source.library(),
        app: source.releases().get(install.release).map(|r| App {
            name: r.name,
            version: r.version,
            build: r.build,
            namespace: r.namespace,
        }),
        device: device.type_name().map(|kind| DeviceContext {
            id: device.id.as_deref(),
            kind,
            model: device.model,
            manufacturer: device.manufacturer,
            advertising_id: device.advertising_id.as_deref(),
            ad_tracking_enabled: device.ad_tracking,
            token: install.push_token.as_deref(),
        }),
        os: device.type_name().map(|_| Os {
            name: device.os_name(),
            version: device.os_version,
        }),
        user_agent: device.user_agent,
        ip: &device.ip,
        locale: device.locale,
        timezone: device.type_name().map(|_| device.timezone),
    }
}

#[derive(Serialize)]
struct SourceContext {
    library: Library,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InstallContext<'a> {
    library: Library,
    #[serde(skip_serializing_if = "Option::is_none")]
    app: Option<App>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device: Option<DeviceContext<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    os: Option<Os>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_agent: Option<&'static str>,
    ip: &'a str,
    locale: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    timezone: Option<&'static str>,
}

#[derive(Serialize)]
struct App {
    name: &'static str,
    version: &'static str,
    build: &'static str,
    namespace: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeviceContext<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(rename = "type")]
    kind: &'static str,
    model: &'static str,
    manufacturer: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    advertising_id: Option<&'a str>,
    ad_tracking_enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<&'a str>,
}

#[derive(Serialize)]
struct Os {
    name: &'static str,
    version: &'static str,
}
