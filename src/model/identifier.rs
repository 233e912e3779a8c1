//! Typed identifiers (`type:value`) such as `user_id:42` or `email:ana@example.com`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A typed identifier value. Displayed and parsed as `type:value`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Identifier {
    /// The identifier type, e.g. `user_id`, `email`, `ios.id`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The normalised value.
    pub value: String,
}

/// Why a `type:value` string could not be read as an identifier.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("'{0}' is not an identifier: expected TYPE:VALUE, e.g. email:ana@example.com")]
pub struct ParseIdentifierError(pub String);

impl Identifier {
    /// Builds an identifier from a type and an already normalised value.
    pub fn new(kind: impl Into<String>, value: impl Into<String>) -> Self {
        Identifier {
            kind: kind.into(),
            value: value.into(),
        }
    }

    /// Parses `type:value` (split at the first colon) and normalises the value.
    pub fn parse(text: &str) -> Result<Self, ParseIdentifierError> {
        let (kind, value) = text
            .split_once(':')
            .ok_or_else(|| ParseIdentifierError(text.to_string()))?;
        let kind = kind.trim();
        let value = normalize_value(kind, value);
        if kind.is_empty() || value.is_empty() {
            return Err(ParseIdentifierError(text.to_string()));
        }
        Ok(Identifier::new(kind, value))
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.value)
    }
}

/// Normalises a raw value for its type: emails are trimmed and lower-cased, the rest trimmed.
pub fn normalize_value(kind: &str, raw: &str) -> String {
    let trimmed = raw.trim();
    match kind {
        EMAIL => trimmed.to_lowercase(),
        PHONE => normalize_phone(trimmed),
        _ => trimmed.to_string(),
    }
}

/// A phone number without the characters people format it with (spaces, dashes, dots,
/// brackets, slashes): `+1 (226) 378-5428` is `+12263785428`. Country codes and leading
/// zeros stay as written.
pub fn normalize_phone(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '.' | '(' | ')' | '/'))
        .collect()
}

/// Whether a search text is a phone number as people type one: digits (at least six) with
/// only formatting characters and a leading `+` between them.
pub fn looks_like_phone(text: &str) -> bool {
    let digits = text.chars().filter(char::is_ascii_digit).count();
    digits >= 6
        && text.trim_start().trim_start_matches('+').chars().all(|c| {
            c.is_ascii_digit() || c.is_whitespace() || matches!(c, '-' | '.' | '(' | ')' | '/')
        })
}

/// The `user_id` identifier type.
pub const USER_ID: &str = "user_id";
/// The `anonymous_id` identifier type.
pub const ANONYMOUS_ID: &str = "anonymous_id";
/// The `email` identifier type.
pub const EMAIL: &str = "email";
/// The `phone` identifier type.
pub const PHONE: &str = "phone";

/// Longest identifier value accepted, in bytes after normalisation. Longer values are junk
/// (or an attack on the index): they are recorded as violations, never used.
pub const MAX_IDENTIFIER_BYTES: usize = 1024;

/// Longest identifier type accepted, in bytes (types come from `context.externalIds[].type`
/// and the config).
pub const MAX_IDENTIFIER_TYPE_BYTES: usize = 128;

/// At most `max` bytes of `text` (cut on a character boundary), with `...` when cut: how
/// over-long values are quoted in violations and errors.
pub fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_lose_their_formatting() {
        for typed in [
            "+1 (226) 378-5428",
            "+1.226.378.5428",
            " +1 226 378 5428 ",
            "+12263785428",
        ] {
            assert_eq!(normalize_value(PHONE, typed), "+12263785428", "{typed:?}");
        }
        assert_eq!(
            Identifier::parse("phone:0049 30 1234/567").unwrap().value,
            "0049301234567"
        );
        assert_eq!(
            normalize_value(USER_ID, "a b-c"),
            "a b-c",
            "other types keep theirs"
        );
        for phone in ["226-378-5428", "(226) 378 5428", "+1 226 378", "2263785"] {
            assert!(looks_like_phone(phone), "{phone}");
        }
        for other in ["12345", "ana 226-378-5428", "p12", "2024-05-01T12"] {
            assert!(!looks_like_phone(other), "{other}");
        }
    }

    #[test]
    fn parses_type_and_value_at_first_colon() {
        let id = Identifier::parse("anonymous_id:a:b:c").unwrap();
        assert_eq!(id.kind, "anonymous_id");
        assert_eq!(id.value, "a:b:c");
        assert_eq!(id.to_string(), "anonymous_id:a:b:c");
    }

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        let id = Identifier::parse("email: Ana@Example.COM ").unwrap();
        assert_eq!(id.value, "ana@example.com");
        assert_eq!(normalize_value("user_id", " U1 "), "U1");
    }

    #[test]
    fn clips_on_character_boundaries() {
        assert_eq!(clip("abc", 5), "abc");
        assert_eq!(clip("ééé", 3), "é...");
    }

    #[test]
    fn rejects_text_without_type_or_value() {
        assert!(Identifier::parse("nocolon").is_err());
        assert!(Identifier::parse(":x").is_err());
        assert!(Identifier::parse("email:  ").is_err());
    }
}
