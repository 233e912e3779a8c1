//! Display text: sanitising untrusted strings, redaction, times, widths.

use std::borrow::Cow;

use unicode_width::UnicodeWidthStr;

use crate::model::Millis;
use crate::model::time::DAY;

pub use crate::words::{count, plural};

/// Replaces control characters (C0, DEL, C1) and bidi overrides with visible escapes so
/// nothing inside traits or event JSON can reach the terminal as an escape sequence.
pub fn clean(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) {
            match c {
                '\u{1b}' => out.push('␛'),
                '\n' | '\r' | '\t' => out.push(' '),
                c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

/// Identifier types and trait keys whose values are personal data masked by `--redact`.
pub fn is_personal(kind: &str) -> bool {
    let k = kind.to_ascii_lowercase();
    matches!(
        k.as_str(),
        "email"
            | "phone"
            | "name"
            | "firstname"
            | "first_name"
            | "lastname"
            | "last_name"
            | "username"
            | "address"
    ) || k.ends_with("email")
        || k.ends_with("phone")
}

/// Masks a personal value, keeping its shape: `a***@e***.com`, `+3*******78`, `A** S****`.
pub fn mask(kind: &str, value: &str) -> String {
    if value.contains('@') {
        return mask_email(value);
    }
    let k = kind.to_ascii_lowercase();
    if k.contains("phone") {
        let chars: Vec<char> = value.chars().collect();
        return chars
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                if i == 0 || i + 2 >= chars.len() || !c.is_ascii_digit() {
                    c
                } else {
                    '*'
                }
            })
            .collect();
    }
    value
        .split(' ')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => std::iter::once(first).chain(chars.map(|_| '*')).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn mask_email(value: &str) -> String {
    let (local, domain) = value.rsplit_once('@').unwrap_or((value, ""));
    let first = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
    let (host, tld) = match domain.rsplit_once('.') {
        Some((host, tld)) => (host, format!(".{tld}")),
        None => (domain, String::new()),
    };
    format!("{}***@{}***{tld}", first(local), first(host))
}

/// Redacts personal data inside free text (emails anywhere in it).
pub fn mask_free_text(text: &str) -> String {
    text.split(' ')
        .map(|w| {
            if w.contains('@') && w.contains('.') {
                mask_email(w)
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Redacts personal values inside an event's JSON (by key, and any email-looking string).
/// A `name` is a person's only inside traits: the name of a screen, a product or the
/// library that sent the event stays readable.
pub fn redact_json(value: &mut serde_json::Value) {
    redact_within(value, false);
}

fn redact_within(value: &mut serde_json::Value, in_traits: bool) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                let personal = is_personal(key) && (in_traits || !key.eq_ignore_ascii_case("name"));
                match v {
                    serde_json::Value::String(s) if personal || looks_like_email(s) => {
                        *s = mask(key, s)
                    }
                    _ => redact_within(v, in_traits || key == "traits"),
                }
            }
        }
        serde_json::Value::Array(items) => items
            .iter_mut()
            .for_each(|item| redact_within(item, in_traits)),
        serde_json::Value::String(s) if looks_like_email(s) => *s = mask_email(s),
        _ => {}
    }
}

fn looks_like_email(s: &str) -> bool {
    s.contains('@') && s.contains('.') && !s.contains(' ')
}

/// `2024-03-01 10:00` (UTC).
pub fn short_time(ms: Millis) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(ts) => ts.strftime("%Y-%m-%d %H:%M").to_string(),
        Err(_) => ms.to_string(),
    }
}

/// `3d ago`, `5h ago`, `just now` relative to `now`.
pub fn ago(ms: Millis, now: Millis) -> String {
    match age(ms, now).as_str() {
        "now" => "just now".into(),
        "future" => "in future".into(),
        age => format!("{age} ago"),
    }
}

/// How long before `now` a time is, in its largest unit: `12m`, `5h`, `3d`, `11mo`; `now`
/// under a minute, `future` after `now`.
pub fn age(ms: Millis, now: Millis) -> String {
    let d = now - ms;
    if d < 0 {
        return "future".into();
    }
    let minutes = d / 60_000;
    match () {
        _ if minutes < 1 => "now".into(),
        _ if minutes < 60 => format!("{minutes}m"),
        _ if d < DAY => format!("{}h", minutes / 60),
        _ if d < 60 * DAY => format!("{}d", d / DAY),
        _ => format!("{}mo", d / (30 * DAY)),
    }
}

/// Cuts `text` to at most `width` display columns, ending with `…` when cut.
pub fn fit(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    format!("{}…", take_width(text.chars(), width - 1))
}

/// Columns of the ` …` that closes a line some parts were left out of.
const LEFT_OUT: usize = 2;

/// How many of the parts, `widths` display columns each and joined by a separator `sep`
/// columns wide, fit whole in `width` columns: all of them, or as many as leave room for a
/// closing ` …`.
pub fn parts_that_fit(widths: &[usize], sep: usize, width: usize) -> usize {
    let all = widths.iter().sum::<usize>() + sep * widths.len().saturating_sub(1);
    if all <= width {
        return widths.len();
    }
    let mut used = 0;
    for (i, part) in widths.iter().enumerate() {
        used += part + if i > 0 { sep } else { 0 };
        if used + LEFT_OUT > width {
            return i;
        }
    }
    widths.len()
}

/// `parts` joined by `sep` in at most `width` display columns: whole parts only, and a
/// closing `…` when some were left out (a first part too long alone is cut, see [`fit`]).
pub fn fit_parts(parts: &[String], sep: &str, width: usize) -> String {
    let widths: Vec<usize> = parts.iter().map(|p| p.width()).collect();
    match parts_that_fit(&widths, sep.width(), width) {
        all if all == parts.len() => parts.join(sep),
        0 => fit(&parts[0], width),
        some => parts[..some].join(sep) + " …",
    }
}

/// Cuts `text` to at most `width` display columns by taking out its middle, marked `…`, so
/// both its head and its tail stay (`3f2a9c…e7b1`).
pub fn fit_middle(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let keep = width - 1;
    let head = take_width(text.chars(), keep.div_ceil(2));
    let tail: String = take_width(text.chars().rev(), keep / 2)
        .chars()
        .rev()
        .collect();
    format!("{head}…{tail}")
}

/// Breaks `text` at spaces into lines of at most `width` display columns, the first of at
/// most `first` (a word longer than a line is split, so nothing is lost).
pub fn wrap(text: &str, first: usize, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = vec![String::new()];
    let mut room = first;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let mut word = word.to_string();
        loop {
            let line = lines.last_mut().expect("one line at least");
            let gap = usize::from(!line.is_empty());
            if line.width() + gap + word.width() <= room {
                if gap == 1 {
                    line.push(' ');
                }
                line.push_str(&word);
                break;
            }
            if line.is_empty() && room == width {
                // Longer than a whole line: as much as fits here (at least a character),
                // the rest on the next.
                let mut head = take_width(word.chars(), width);
                if head.is_empty() {
                    head = word.chars().take(1).collect();
                }
                word = word[head.len()..].to_string();
                line.push_str(&head);
                if word.is_empty() {
                    break;
                }
            }
            lines.push(String::new());
            room = width;
        }
    }
    lines
}

/// The leading characters of `chars` that fill at most `width` display columns.
fn take_width(chars: impl Iterator<Item = char>, width: usize) -> String {
    let mut used = 0;
    chars
        .take_while(|&c| {
            used += unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
            used <= width
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_fit_whole_or_not_at_all() {
        let parts = [
            "shares 4 identifiers".to_string(),
            "1 junk value blocked".to_string(),
        ];
        assert_eq!(
            fit_parts(&parts, "; ", 60),
            "shares 4 identifiers; 1 junk value blocked"
        );
        assert_eq!(fit_parts(&parts, "; ", 30), "shares 4 identifiers …");
        assert_eq!(fit_parts(&parts, "; ", 10), "shares 4 …");
        assert_eq!(fit_parts(&[], "; ", 10), "");
    }

    #[test]
    fn escapes_never_pass() {
        assert_eq!(clean("Eve \u{1b}[31mRed"), "Eve ␛[31mRed");
        assert_eq!(
            clean("a\u{7}b\u{9b}c\u{202e}d"),
            "a\\u{7}b\\u{9b}c\\u{202e}d"
        );
        assert!(matches!(clean("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn masks_keep_shape() {
        assert_eq!(mask("email", "ana.silva@example.com"), "a***@e***.com");
        assert_eq!(mask("phone", "+351912345678"), "+**********78");
        assert_eq!(mask("name", "Ana Silva"), "A** S****");
        let mut v = serde_json::json!({"traits": {"email": "x@y.io", "name": "Bo Li", "plan": "pro"}, "userId": "u1"});
        redact_json(&mut v);
        assert_eq!(v["traits"]["email"], "x***@y***.io");
        assert_eq!(v["traits"]["name"], "B* L*");
        assert_eq!(v["traits"]["plan"], "pro");
        let mut v = serde_json::json!({"name": "Checkout", "properties": {"name": "Blue Shoe"},
            "context": {"library": {"name": "analytics.js"}, "traits": {"name": "Bo Li"}}});
        redact_json(&mut v);
        assert_eq!(v["name"], "Checkout");
        assert_eq!(v["properties"]["name"], "Blue Shoe");
        assert_eq!(v["context"]["library"]["name"], "analytics.js");
        assert_eq!(v["context"]["traits"]["name"], "B* L*");
        assert_eq!(mask_free_text("mail bo@x.io now"), "mail b***@x***.io now");
    }

    #[test]
    fn times_and_widths() {
        assert_eq!(short_time(1_709_287_200_000), "2024-03-01 10:00");
        assert_eq!(ago(0, 3 * DAY), "3d ago");
        assert_eq!(ago(0, 90_000), "1m ago");
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("abc", 4), "abc");
        assert_eq!(fit_middle("0123456789", 7), "012…789");
        assert_eq!(fit_middle("0123456789", 6), "012…89");
        assert_eq!(fit_middle("0123456789", 10), "0123456789");
        assert_eq!(fit_middle("日本語テキスト", 7), "日…ト");
        assert_eq!(fit_middle("abc", 0), "");
        assert_eq!(
            wrap(
                "limit of 1 user_id per profile (ever) would be exceeded",
                20,
                16
            ),
            [
                "limit of 1 user_id",
                "per profile",
                "(ever) would be",
                "exceeded"
            ]
        );
        assert_eq!(wrap("a bb", 10, 10), ["a bb"]);
        assert_eq!(wrap("abcdefgh ij", 3, 4), ["", "abcd", "efgh", "ij"]);
        assert_eq!(wrap("", 5, 5), [""]);
        assert_eq!(wrap("日本", 1, 1), ["日", "本"]);
    }
}
