//! The channel an event reached us through (web, ios, android, support, sales, ...).

use super::event::{Event, scalar_text};

/// Derives an event's channel when its source does not name one: `context.channel`
/// (Segment's `browser`/`mobile`/`server`, or any explicit name), then the device type,
/// then the tracking library.
pub fn derive_channel(event: &Event) -> String {
    let context = event.context();
    let text = |key: &str, inner: Option<&str>| {
        let value = context?.get(key)?;
        let value = match inner {
            Some(inner) => value.as_object()?.get(inner)?,
            None => value,
        };
        scalar_text(value)
    };
    let device = text("device", Some("type")).map(|d| d.to_ascii_lowercase());
    if let Some(channel) = text("channel", None) {
        let channel = channel.trim().to_ascii_lowercase();
        match channel.as_str() {
            "browser" => return "web".into(),
            "mobile" => return device.filter(|d| is_mobile(d)).unwrap_or(channel),
            "" => {}
            _ => return channel,
        }
    }
    if let Some(device) = device.filter(|d| is_mobile(d)) {
        return device;
    }
    let library = text("library", Some("name"))
        .unwrap_or_default()
        .to_ascii_lowercase();
    let has = |key: &str| context.is_some_and(|c| c.contains_key(key));
    if library.contains("ios") || library.contains("swift") {
        "ios".into()
    } else if library.contains("android") || library.contains("kotlin") {
        "android".into()
    } else if library.contains("analytics.js")
        || library.contains("browser")
        || has("userAgent")
        || has("page")
    {
        "web".into()
    } else {
        "server".into()
    }
}

fn is_mobile(device_type: &str) -> bool {
    matches!(device_type, "ios" | "android")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn channel_of(v: serde_json::Value) -> String {
        derive_channel(&Event::from_json(v).unwrap())
    }

    #[test]
    fn derives_from_context_device_and_library() {
        assert_eq!(
            channel_of(json!({"type":"page","userId":"u","context":{"channel":"browser"}})),
            "web"
        );
        assert_eq!(
            channel_of(json!({"type":"page","userId":"u","context":{"channel":"support"}})),
            "support"
        );
        assert_eq!(
            channel_of(json!({"type":"screen","userId":"u","context":{"device":{"type":"iOS"}}})),
            "ios"
        );
        assert_eq!(
            channel_of(
                json!({"type":"track","event":"x","userId":"u","context":{"library":{"name":"analytics-android"}}})
            ),
            "android"
        );
        assert_eq!(
            channel_of(
                json!({"type":"track","event":"x","userId":"u","context":{"library":{"name":"analytics-python"}}})
            ),
            "server"
        );
    }
}
