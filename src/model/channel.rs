//! The channel an event reached us through (web, ios, android, support, sales, ...).

use super::event::Event;

/// Derives an event's channel when its source does not name one: `context.channel`
/// (Segment's `browser`/`mobile`/`server`, or any explicit name), then the device type,
/// then the tracking library.
pub fn derive_channel(event: &Event) -> String {
    let device = event
        .path_str("context.device.type")
        .map(|d| d.to_ascii_lowercase());
    if let Some(channel) = event.path_str("context.channel") {
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
    let library = event
        .path_str("context.library.name")
        .unwrap_or_default()
        .to_ascii_lowercase();
    if library.contains("ios") || library.contains("swift") {
        "ios".into()
    } else if library.contains("android") || library.contains("kotlin") {
        "android".into()
    } else if library.contains("analytics.js")
        || library.contains("browser")
        || event.path("context.userAgent").is_some()
        || event.path("context.page").is_some()
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
