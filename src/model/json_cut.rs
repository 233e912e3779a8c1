//! Leaving members out of a JSON object's text while keeping every other byte of it.
//!
//! Events read from a line are stored as the text that arrived; a member that must not be
//! stored (the `writeKey` credential) is cut out of that text rather than the whole event
//! being written out anew.

use std::ops::Range;

/// The text of a JSON object without the top-level members whose values lie at `values`
/// (byte ranges into `text`, in order), every other byte unchanged. A member leaves with
/// the comma and whitespace before it; the first member left out with those after it, so
/// the rest stays valid JSON. `None` when a range is not the value of a member of `text`.
pub fn cut_members(text: &str, values: &[Range<usize>]) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    // Bytes before `kept_to` are in `out` or cut.
    let mut kept_to = 0;
    for value in values {
        text.get(value.clone())?;
        let key = key_start(bytes, value.start)?;
        let before = skip_space_back(bytes, key);
        let separator = *bytes.get(before.checked_sub(1)?)?;
        let previous_end = skip_space_back(bytes, before - 1);
        let cut = match separator {
            // A member stays before this one: cut from the end of its value.
            b',' if previous_end >= kept_to => previous_end..value.end,
            // The first member, or every member before it was cut: cut up to the next key.
            b'{' | b',' => key..next_key(bytes, value.end)?,
            _ => return None,
        };
        out.push_str(text.get(kept_to..cut.start)?);
        kept_to = cut.end;
    }
    out.push_str(text.get(kept_to..)?);
    Some(out)
}

fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

/// The start of the whitespace that ends just before `end`.
fn skip_space_back(bytes: &[u8], end: usize) -> usize {
    let mut at = end;
    while at > 0 && is_space(bytes[at - 1]) {
        at -= 1;
    }
    at
}

/// The end of the whitespace that begins at `start`.
fn skip_space(bytes: &[u8], start: usize) -> usize {
    let mut at = start;
    while at < bytes.len() && is_space(bytes[at]) {
        at += 1;
    }
    at
}

/// Where the key of the member whose value starts at `value` starts (its opening quote).
fn key_start(bytes: &[u8], value: usize) -> Option<usize> {
    let colon = skip_space_back(bytes, value).checked_sub(1)?;
    if bytes[colon] != b':' {
        return None;
    }
    let closing = skip_space_back(bytes, colon).checked_sub(1)?;
    if bytes[closing] != b'"' {
        return None;
    }
    // The opening quote is the first one before that an even run of backslashes precedes.
    (0..closing).rev().find(|&at| {
        bytes[at] == b'"'
            && bytes[..at]
                .iter()
                .rev()
                .take_while(|&&b| b == b'\\')
                .count()
                % 2
                == 0
    })
}

/// Where the member after a value ending at `end` starts, or `end` when the object closes.
fn next_key(bytes: &[u8], end: usize) -> Option<usize> {
    let after = skip_space(bytes, end);
    match bytes.get(after)? {
        b',' => Some(skip_space(bytes, after + 1)),
        b'}' => Some(end),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cuts the members named `writeKey` (spelled plainly) out of a one-level object.
    fn cut(text: &str) -> Option<String> {
        let values: Vec<Range<usize>> = text
            .match_indices("\"writeKey\"")
            .map(|(at, key)| {
                let start = skip_space(text.as_bytes(), at + key.len());
                let start = skip_space(text.as_bytes(), start + 1);
                let end = text[start..]
                    .find([',', '}'])
                    .map_or(text.len(), |i| start + i);
                start..text[..end].trim_end().len()
            })
            .collect();
        cut_members(text, &values)
    }

    /// Cuts the member whose value lies at `value`.
    fn cut_one(text: &str, value: Range<usize>) -> Option<String> {
        cut_members(text, std::slice::from_ref(&value))
    }

    #[test]
    fn a_member_leaves_with_its_comma_wherever_it_is() {
        let cases = [
            (r#"{"writeKey":"k","a":1,"b":2}"#, r#"{"a":1,"b":2}"#),
            (r#"{"a":1,"writeKey":"k","b":2}"#, r#"{"a":1,"b":2}"#),
            (r#"{"a":1,"b":2,"writeKey":"k"}"#, r#"{"a":1,"b":2}"#),
            (r#"{"writeKey":"k"}"#, r#"{}"#),
            (r#"{"writeKey":1,"writeKey":2,"a":3}"#, r#"{"a":3}"#),
            (
                r#"{"writeKey":1,"a":2,"writeKey":3,"writeKey":4}"#,
                r#"{"a":2}"#,
            ),
            (r#"{"writeKey":1,"writeKey":null}"#, r#"{}"#),
        ];
        for (text, expected) in cases {
            assert_eq!(cut(text).as_deref(), Some(expected), "{text}");
        }
    }

    #[test]
    fn whitespace_of_the_members_kept_stays_byte_for_byte() {
        let cases = [
            ("{ \"writeKey\" :\t\"k\" ,\n  \"a\" : 1 }", "{ \"a\" : 1 }"),
            (
                "{\n  \"a\": 1,\n  \"writeKey\": \"k\",\n  \"b\":  2\n}",
                "{\n  \"a\": 1,\n  \"b\":  2\n}",
            ),
            ("{\"a\" :1 ,  \"writeKey\" : \"k\"\r\n}", "{\"a\" :1\r\n}"),
            ("{ \"writeKey\" : \"k\" }", "{  }"),
        ];
        for (text, expected) in cases {
            assert_eq!(cut(text).as_deref(), Some(expected), "{text:?}");
        }
    }

    #[test]
    fn keys_with_quotes_and_backslashes_are_found_whole() {
        let text = r#"{"a\"b":1,"c\\":2,"writeKey":3}"#;
        let value = text.rfind('3').unwrap();
        assert_eq!(
            cut_one(text, value..value + 1).as_deref(),
            Some(r#"{"a\"b":1,"c\\":2}"#)
        );
        let text = r#"{"c\\":2,"d":3}"#;
        let value = text.find('2').unwrap();
        assert_eq!(
            cut_one(text, value..value + 1).as_deref(),
            Some(r#"{"d":3}"#)
        );
        let text = r#"{"x":0,"\"q\\\"":2}"#;
        let value = text.rfind('2').unwrap();
        assert_eq!(
            cut_one(text, value..value + 1).as_deref(),
            Some(r#"{"x":0}"#)
        );
    }

    #[test]
    fn a_range_that_is_no_member_value_is_refused() {
        let text = r#"{"a":[1,2],"b":3}"#;
        // An array element, the object itself, past the end.
        assert_eq!(cut_one(text, 8..9), None);
        assert_eq!(cut_one(text, 0..text.len()), None);
        assert_eq!(cut_one(text, 40..41), None);
        assert_eq!(cut_members(text, &[]).as_deref(), Some(text));
    }
}
