//! `[audiences.NAME]` sections: reading them and reporting condition errors at their line
//! and column in the config file.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::error::line_col;
use super::{Audience, AudienceSet, Condition};

/// One `[audiences.NAME]` section as written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudienceConfig {
    /// What the audience is for, shown next to its name.
    #[serde(default)]
    pub description: String,
    /// The condition, in the audience condition language.
    pub condition: Option<String>,
    /// Set to false to switch off an audience (e.g. one shipped in the defaults).
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

/// A config text the audiences may come from, in order of precedence (user file first).
#[derive(Debug, Clone, Copy)]
pub struct ConfigText<'a> {
    pub text: &'a str,
    /// The file name used in messages.
    pub origin: &'a str,
}

/// An invalid audience definition: the file it is in and a one-line message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudienceConfigError {
    pub origin: String,
    pub message: String,
}

/// Compiles the enabled audiences; `texts` are the files they were read from, used to
/// give the line and column of a condition error.
pub fn compile(
    sections: &BTreeMap<String, AudienceConfig>,
    texts: &[ConfigText<'_>],
) -> Result<AudienceSet, AudienceConfigError> {
    let mut audiences = Vec::new();
    let first_origin = texts.first().map_or("<config>", |t| t.origin);
    for (name, section) in sections {
        let fail = |message: String| AudienceConfigError {
            origin: first_origin.to_string(),
            message: format!("[audiences.{name}] {message}"),
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(fail(
                "name: use letters, digits, '_' and '-' only".to_string(),
            ));
        }
        if !section.enabled {
            continue;
        }
        let Some(text) = &section.condition else {
            return Err(fail("has no condition".to_string()));
        };
        let condition =
            Condition::parse(text).map_err(|e| match locate(name, text, e.offset, texts) {
                Some((origin, line, column)) => AudienceConfigError {
                    origin,
                    message: format!(
                        "[audiences.{name}] condition, line {line}, column {column}: {}",
                        e.message
                    ),
                },
                None => {
                    let (line, column) = e.line_col(text);
                    fail(format!(
                        "condition, line {line}, column {column} of the condition: {}",
                        e.message
                    ))
                }
            })?;
        audiences.push(Audience {
            name: name.clone(),
            description: section.description.trim().to_string(),
            condition,
        });
    }
    Ok(AudienceSet::new(audiences))
}

#[derive(Deserialize)]
struct SpannedFile {
    #[serde(default)]
    audiences: BTreeMap<String, SpannedSection>,
}

#[derive(Deserialize)]
struct SpannedSection {
    condition: Option<toml::Spanned<String>>,
}

/// The file, line and column of byte `offset` of audience `name`'s condition.
fn locate(
    name: &str,
    condition: &str,
    offset: usize,
    texts: &[ConfigText<'_>],
) -> Option<(String, usize, usize)> {
    texts.iter().find_map(|source| {
        let file: SpannedFile = toml::from_str(source.text).ok()?;
        let spanned = file.audiences.get(name)?.condition.as_ref()?;
        if spanned.get_ref() != condition {
            return None;
        }
        let span = spanned.span();
        let literal = source.text.get(span.clone())?;
        let at = span.start + offset_in_literal(literal, offset);
        let (line, column) = line_col(source.text, at);
        Some((source.origin.to_string(), line, column))
    })
}

/// Maps a byte offset in a TOML string's value to the offset in its literal (quotes and
/// escapes included).
fn offset_in_literal(literal: &str, offset: usize) -> usize {
    let (delimiter, literal_string) = if literal.starts_with("'''") {
        (3, true)
    } else if literal.starts_with("\"\"\"") {
        (3, false)
    } else {
        (1, literal.starts_with('\''))
    };
    let mut start = delimiter;
    if delimiter == 3 {
        if literal[start..].starts_with("\r\n") {
            start += 2;
        } else if literal[start..].starts_with('\n') {
            start += 1;
        }
    }
    if literal_string {
        return start + offset;
    }
    let bytes = literal.as_bytes();
    let (mut raw, mut decoded) = (start, 0);
    while raw < bytes.len() {
        let escape = (bytes[raw] == b'\\')
            .then(|| bytes.get(raw + 1).copied())
            .flatten();
        if let Some(b'\n' | b'\r' | b' ' | b'\t') = escape {
            // A line-ending backslash: it and the whitespace after it decode to nothing.
            raw += 1;
            while raw < bytes.len() && bytes[raw].is_ascii_whitespace() {
                raw += 1;
            }
            continue;
        }
        if decoded >= offset {
            break;
        }
        match escape {
            None => {
                let width = literal[raw..].chars().next().map_or(1, char::len_utf8);
                raw += width;
                decoded += width;
            }
            Some(kind @ (b'u' | b'U')) => {
                let digits = if kind == b'u' { 4 } else { 8 };
                let code = literal
                    .get(raw + 2..raw + 2 + digits)
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .and_then(char::from_u32);
                raw += 2 + digits;
                decoded += code.map_or(1, char::len_utf8);
            }
            Some(_) => {
                raw += 2;
                decoded += 1;
            }
        }
    }
    raw
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sections(text: &str) -> BTreeMap<String, AudienceConfig> {
        #[derive(Deserialize)]
        struct File {
            audiences: BTreeMap<String, AudienceConfig>,
        }
        toml::from_str::<File>(text).unwrap().audiences
    }

    fn error(text: &str) -> String {
        let texts = [ConfigText {
            text,
            origin: "cfg.toml",
        }];
        let err = compile(&sections(text), &texts).unwrap_err();
        assert_eq!(err.origin, "cfg.toml");
        err.message
    }

    #[test]
    fn errors_give_the_file_line_and_column() {
        let text = "# top\n[audiences.cart]\ndescription = \"x\"\ncondition = '''\ndid \"Product Added\"\n  and not did \"Order Completed\" aftr it\n'''\n";
        assert_eq!(
            error(text),
            "[audiences.cart] condition, line 6, column 33: expected 'and', 'or' or the end of the condition, found 'aftr'"
        );
        let text = "[audiences.x]\ncondition = \"did \\\"A\\\" within 7q\"\n";
        assert_eq!(
            error(text),
            "[audiences.x] condition, line 2, column 31: '7q' is not a duration: expected a whole number and a unit s, m, h, d or w (e.g. 7d)"
        );
        let text = "[audiences.y]\ncondition = 'did any within'\n";
        assert!(
            error(text)
                .starts_with("[audiences.y] condition, line 2, column 28: expected a duration"),
            "{}",
            error(text)
        );
    }

    #[test]
    fn sections_need_a_valid_name_and_a_condition_unless_disabled() {
        assert_eq!(
            error("[audiences.a]\ndescription = \"d\"\n"),
            "[audiences.a] has no condition"
        );
        assert!(error("[audiences.\"a b\"]\ncondition = 'did any'\n").contains("name"));
        let off = sections("[audiences.a]\nenabled = false\n");
        assert!(compile(&off, &[]).unwrap().is_empty());
    }

    #[test]
    fn offsets_map_through_escapes_and_multiline_openers() {
        assert_eq!(offset_in_literal("'abc'", 1), 2);
        assert_eq!(offset_in_literal("'''\nabc'''", 1), 5);
        assert_eq!(offset_in_literal("\"a\\\"b\"", 2), 4);
        assert_eq!(offset_in_literal("\"\\u00e9x\"", 2), 7);
        assert_eq!(offset_in_literal("\"\"\"a\\\n   b\"\"\"", 1), 9);
    }
}
