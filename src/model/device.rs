//! What an event's `context` says about the app and the device that sent it, as the
//! explorer's timeline shows them.

use serde_json::{Map, Value};

use super::event::scalar_text;

/// `context.app.name` as text.
pub(super) fn app_name(context: Option<&Map<String, Value>>) -> Option<String> {
    let app = context?.get("app")?;
    app.as_object()?.get("name").and_then(scalar_text)
}

/// A short description of the device a context names: `MODEL (ID…)`, or the browser family
/// its user agent names.
pub(super) fn device_label(context: Option<&Map<String, Value>>) -> Option<String> {
    let device = context
        .and_then(|c| c.get("device"))
        .and_then(Value::as_object);
    let part = |key: &str| device.and_then(|d| d.get(key)).and_then(scalar_text);
    match (part("type"), part("model"), part("id")) {
        (None, None, None) => context
            .and_then(|c| c.get("userAgent"))
            .and_then(scalar_text)
            .map(|ua| browser_family(&ua).to_string()),
        (t, m, id) => {
            let mut parts: Vec<String> = Vec::new();
            if let Some(m) = m.or(t) {
                parts.push(m);
            }
            if let Some(id) = id {
                let short: String = id.chars().take(8).collect();
                parts.push(format!("({short})"));
            }
            Some(parts.join(" "))
        }
    }
}

/// User-agent markers of platforms, in the order they are tested (an iPhone's agent also
/// says "Mac OS", Android's says "Linux").
const PLATFORMS: [(&str, &str); 6] = [
    ("iPhone", "iOS"),
    ("iPad", "iOS"),
    ("Android", "Android"),
    ("Mac OS", "macOS"),
    ("Windows", "Windows"),
    ("Linux", "Linux"),
];

/// User-agent markers of browsers, in the order they are tested (Edge's agent also says
/// "Chrome", Chrome's says "Safari").
const BROWSERS: [(&str, &str); 4] = [
    ("Edg/", "Edge"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
];

/// The name of the first marker the user agent holds, else `otherwise`.
fn first_marked(
    user_agent: &str,
    markers: &[(&str, &'static str)],
    otherwise: &'static str,
) -> &'static str {
    markers
        .iter()
        .find(|(marker, _)| user_agent.contains(marker))
        .map_or(otherwise, |(_, name)| name)
}

fn browser_family(user_agent: &str) -> &'static str {
    let platform = first_marked(user_agent, &PLATFORMS, "");
    let browser = first_marked(user_agent, &BROWSERS, "Browser");
    match (browser, platform) {
        ("Chrome", "macOS") => "Chrome on macOS",
        ("Chrome", "Windows") => "Chrome on Windows",
        ("Chrome", "Android") => "Chrome on Android",
        ("Chrome", "Linux") => "Chrome on Linux",
        ("Safari", "iOS") => "Safari on iOS",
        ("Safari", "macOS") => "Safari on macOS",
        ("Firefox", "Windows") => "Firefox on Windows",
        ("Firefox", "macOS") => "Firefox on macOS",
        ("Firefox", "Linux") => "Firefox on Linux",
        ("Edge", _) => "Edge",
        ("Chrome", _) => "Chrome",
        ("Safari", _) => "Safari",
        ("Firefox", _) => "Firefox",
        _ => "Browser",
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{Event, ReadFields};
    use serde_json::json;

    #[test]
    fn describes_apps_devices_and_browsers() {
        let e = Event::from_json(json!({"type":"screen","userId":"u","name":"Cart",
            "context":{"app":{"name":"Shop","version":"2.1"},
            "device":{"type":"ios","model":"iPhone15,2","id":"ABCDEF123456"}}}))
        .unwrap();
        assert_eq!(e.device.as_deref(), Some("iPhone15,2 (ABCDEF12)"));
        assert_eq!(e.app.as_deref(), Some("Shop"));
        let w = Event::from_json(json!({"type":"page","anonymousId":"a","context":{"userAgent":
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15"}}))
        .unwrap();
        assert_eq!(w.device.as_deref(), Some("Safari on macOS"));
        assert_eq!(w.app, None);
        // Read from a line as `idgraph ingest` reads it (only the fields it uses parsed).
        let line = r#"{"type":"page","anonymousId":"a","messageId":"m","context":{"app":{"name":"Web"},"userAgent":"Mozilla/5.0 (Windows NT 10.0) Chrome/120.0 Safari/537.36"}}"#;
        let read = Event::from_line(line, &ReadFields::default()).unwrap();
        assert_eq!(
            (read.app.as_deref(), read.device.as_deref()),
            (Some("Web"), Some("Chrome on Windows"))
        );
    }
}
