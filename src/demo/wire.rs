//! Rendering planned events as the JSON real SDKs send: Segment-spec fields, a `context`
//! shaped like analytics.js, analytics-ios/-android or a server library's, and `writeKey`.

use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::clock::Time;
use super::devices::Device;
use super::ids::{hex, uuid};
use super::journey::Unit;
use super::plan::{Page, Payload, PlannedEvent, Props};
use super::sources::{Library, SourceId};
use crate::model::Millis;

/// `event` of `unit` as one line of JSON (no newline).
pub(crate) fn render(
    unit: &Unit,
    event: &PlannedEvent,
    message_id: &str,
) -> serde_json::Result<String> {
    let source = event.source;
    let install = event.install.map(|i| &unit.installs[i]);
    let device = install.map(|i| &unit.devices[i.device]);
    let skew = device.map_or(0, |d| d.clock_skew);
    let original = event.time + skew;
    let (call, name, properties, traits) = match &event.payload {
        Payload::Page { name } => (
            "page",
            Some(*name),
            event.page.as_deref().map(Properties::Page),
            None,
        ),
        Payload::Screen { name, props } => ("screen", Some(*name), non_empty(props), None),
        Payload::Track { props, .. } => ("track", None, Some(Properties::Props(props)), None),
        Payload::Identify { traits } => ("identify", None, None, Some(traits)),
    };
    let event_name = match &event.payload {
        Payload::Track { event, .. } => Some(*event),
        _ => None,
    };
    let (top_traits, context_traits) = match traits {
        Some(traits) if source.traits_in_context() => (None, Some(ContextTraits::All(traits))),
        Some(traits) => (Some(traits), None),
        None => (
            None,
            event
                .context_email
                .as_deref()
                .map(|email| ContextTraits::Email { email }),
        ),
    };
    let nulls = source.writes_null_ids();
    let wire = Wire {
        call,
        message_id,
        timestamp: Time(event.time),
        original_timestamp: Time(original),
        sent_at: Time(original + event.send_delay),
        user_id: nullable(event.user_id.as_deref(), nulls),
        anonymous_id: nullable(event.anonymous_id.as_deref(), nulls),
        event: event_name,
        name,
        properties,
        traits: top_traits,
        context: Context {
            library: source.library(),
            app: install.and_then(|i| {
                source.releases().get(i.release).map(|r| App {
                    name: r.name,
                    version: r.version,
                    build: r.build,
                    namespace: r.namespace,
                })
            }),
            device: device
                .and_then(|d| device_context(d, install.and_then(|i| i.push_token.as_deref()))),
            os: device.and_then(|d| {
                d.type_name().map(|_| Os {
                    name: d.os_name(),
                    version: d.os_version,
                })
            }),
            page: event.page.as_deref(),
            user_agent: device.and_then(|d| d.user_agent),
            ip: device.map(|d| &*d.ip),
            locale: device.map(|d| d.locale),
            timezone: device
                .filter(|d| d.type_name().is_some())
                .map(|d| d.timezone),
            channel: source.is_server().then(|| source.channel()),
            traits: context_traits,
        },
        write_key: source.write_key(),
    };
    serde_json::to_string(&wire)
}

/// An id field: omitted when absent, or an explicit `null` for clients that write one.
fn nullable(id: Option<&str>, nulls: bool) -> Option<Option<&str>> {
    match id {
        Some(id) => Some(Some(id)),
        None if nulls => Some(None),
        None => None,
    }
}

fn non_empty(props: &Props) -> Option<Properties<'_>> {
    (!props.is_empty()).then_some(Properties::Props(props))
}

fn device_context<'a>(device: &'a Device, token: Option<&'a str>) -> Option<DeviceContext<'a>> {
    Some(DeviceContext {
        id: device.id.as_deref(),
        kind: device.type_name()?,
        model: device.model,
        manufacturer: device.manufacturer,
        advertising_id: device.advertising_id.as_deref(),
        ad_tracking_enabled: device.ad_tracking,
        token,
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Wire<'a> {
    #[serde(rename = "type")]
    call: &'static str,
    message_id: &'a str,
    timestamp: Time,
    original_timestamp: Time,
    sent_at: Time,
    /// Outer `None`: omitted; `Some(None)`: an explicit `null` (Python clients).
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    anonymous_id: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    properties: Option<Properties<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    traits: Option<&'a Props>,
    context: Context<'a>,
    write_key: &'static str,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Properties<'a> {
    Props(&'a Props),
    Page(&'a Page),
}

#[derive(Serialize)]
#[serde(untagged)]
enum ContextTraits<'a> {
    Email { email: &'a str },
    All(&'a Props),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Context<'a> {
    library: Library,
    #[serde(skip_serializing_if = "Option::is_none")]
    app: Option<App>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device: Option<DeviceContext<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    os: Option<Os>,
    #[serde(skip_serializing_if = "Option::is_none")]
    page: Option<&'a Page>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_agent: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    locale: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timezone: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    traits: Option<ContextTraits<'a>>,
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

/// A messageId in the style of the source's library: analytics.js `ajs-next-<hex>`,
/// upper-case UUIDs on iOS, `node-next-<ms>-<uuid>` from Node, plain UUIDs elsewhere.
pub(crate) fn message_id(rng: &mut ChaCha8Rng, source: SourceId, at: Millis) -> String {
    match source {
        SourceId::Website => format!("ajs-next-{}", hex(rng, 32)),
        SourceId::IosApp | SourceId::RecipesIos => uuid(rng, true),
        SourceId::SupportDesk | SourceId::EmailTool => {
            format!("node-next-{at}-{}", uuid(rng, false))
        }
        _ => uuid(rng, false),
    }
}
