//! Tokens of the condition language, each with its byte span in the condition text.

use crate::model::Millis;

use super::error::ParseError;

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Kind {
    /// A word: keyword, name or dotted path (`did`, `cart`, `properties.total`).
    Word(String),
    /// A quoted string, unescaped.
    Str(String),
    /// A number (`42`, `-1.5`).
    Number(f64),
    /// A duration such as `7d`, in milliseconds.
    Duration(Millis),
    /// A comparison operator.
    Op(Op),
    LParen,
    RParen,
    Comma,
    /// The end of the condition.
    End,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

/// A token and where it is in the condition text.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
}

impl Token {
    /// How the token reads in an error message.
    pub fn describe(&self, text: &str) -> String {
        match &self.kind {
            Kind::End => "the end of the condition".to_string(),
            _ => format!("'{}'", &text[self.start..self.end]),
        }
    }

    /// Whether this is the keyword `word` (keywords are case-insensitive).
    pub fn is_keyword(&self, word: &str) -> bool {
        matches!(&self.kind, Kind::Word(w) if w.eq_ignore_ascii_case(word))
    }
}

/// The longest duration accepted (100 years), so that time arithmetic never overflows.
const MAX_DURATION: Millis = 100 * 366 * 86_400_000;

/// Splits a condition into tokens; `#` starts a comment that runs to the end of the line.
pub(super) fn tokenize(text: &str) -> Result<Vec<Token>, ParseError> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        let kind = match c {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'(' => {
                i += 1;
                Kind::LParen
            }
            b')' => {
                i += 1;
                Kind::RParen
            }
            b',' => {
                i += 1;
                Kind::Comma
            }
            b'=' | b'!' | b'<' | b'>' => {
                let (op, len) = operator(bytes, i).ok_or_else(|| {
                    ParseError::new(i, "expected a comparison (=, !=, <, >, <=, >=), found '!'")
                })?;
                i += len;
                Kind::Op(op)
            }
            b'"' | b'\'' => {
                let (value, len) = string(text, i)?;
                i += len;
                Kind::Str(value)
            }
            b'0'..=b'9' | b'-' => {
                let (kind, len) = number_or_duration(text, i)?;
                i += len;
                kind
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                while i < bytes.len() && is_word_byte(bytes[i]) {
                    i += 1;
                }
                Kind::Word(text[start..i].to_string())
            }
            _ => {
                let found = text[i..].chars().next().unwrap_or('?');
                return Err(ParseError::new(
                    i,
                    format!("unexpected character '{found}'"),
                ));
            }
        };
        tokens.push(Token {
            kind,
            start,
            end: i,
        });
    }
    tokens.push(Token {
        kind: Kind::End,
        start: text.len(),
        end: text.len(),
    });
    Ok(tokens)
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-'
}

fn operator(bytes: &[u8], i: usize) -> Option<(Op, usize)> {
    let next = bytes.get(i + 1).copied();
    match (bytes[i], next) {
        (b'=', Some(b'=')) => Some((Op::Eq, 2)),
        (b'=', _) => Some((Op::Eq, 1)),
        (b'!', Some(b'=')) => Some((Op::Ne, 2)),
        (b'<', Some(b'=')) => Some((Op::Le, 2)),
        (b'<', Some(b'>')) => Some((Op::Ne, 2)),
        (b'<', _) => Some((Op::Lt, 1)),
        (b'>', Some(b'=')) => Some((Op::Ge, 2)),
        (b'>', _) => Some((Op::Gt, 1)),
        _ => None,
    }
}

/// A quoted string starting at `start`: `"..."` with `\"`, `\\`, `\n`, `\t` escapes, or
/// `'...'` taken literally. Returns the value and the length of the literal.
fn string(text: &str, start: usize) -> Result<(String, usize), ParseError> {
    let quote = text.as_bytes()[start] as char;
    let mut value = String::new();
    let mut chars = text[start + 1..].char_indices();
    while let Some((offset, c)) = chars.next() {
        let at = start + 1 + offset;
        match c {
            c if c == quote => return Ok((value, at + 1 - start)),
            '\n' => break,
            '\\' if quote == '"' => match chars.next() {
                Some((_, '"')) => value.push('"'),
                Some((_, '\\')) => value.push('\\'),
                Some((_, 'n')) => value.push('\n'),
                Some((_, 't')) => value.push('\t'),
                Some((_, other)) => {
                    return Err(ParseError::new(
                        at,
                        format!("unknown escape '\\{other}' (use \\\" \\\\ \\n or \\t)"),
                    ));
                }
                None => break,
            },
            c => value.push(c),
        }
    }
    Err(ParseError::new(
        start,
        format!("string is not closed: expected a closing {quote} on the same line"),
    ))
}

/// A number (`12`, `-3.5`) or a duration (`30s`, `15m`, `12h`, `7d`, `2w`).
fn number_or_duration(text: &str, start: usize) -> Result<(Kind, usize), ParseError> {
    let bytes = text.as_bytes();
    let mut i = start;
    if bytes[i] == b'-' {
        i += 1;
    }
    let digits_start = i;
    while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
        i += 1;
    }
    if i == digits_start {
        return Err(ParseError::new(start, "expected a number after '-'"));
    }
    let digits = &text[start..i];
    let word_end = {
        let mut j = i;
        while j < bytes.len() && is_word_byte(bytes[j]) {
            j += 1;
        }
        j
    };
    let unit = &text[i..word_end];
    if unit.is_empty() {
        let n: f64 = digits
            .parse()
            .map_err(|_| ParseError::new(start, format!("'{digits}' is not a number")))?;
        return Ok((Kind::Number(n), i - start));
    }
    let per_unit: Millis = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => {
            return Err(ParseError::new(
                start,
                format!(
                    "'{}' is not a duration: expected a whole number and a unit s, m, h, d or w (e.g. 7d)",
                    &text[start..word_end]
                ),
            ));
        }
    };
    let amount: Millis = digits.parse().map_err(|_| {
        ParseError::new(
            start,
            format!(
                "'{}' is not a duration: expected a whole, non-negative number before the unit",
                &text[start..word_end]
            ),
        )
    })?;
    if amount < 0 {
        return Err(ParseError::new(start, "a duration cannot be negative"));
    }
    match amount.checked_mul(per_unit).filter(|d| *d <= MAX_DURATION) {
        Some(ms) => Ok((Kind::Duration(ms), word_end - start)),
        None => Err(ParseError::new(
            start,
            "duration too long (at most 100 years)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<Kind> {
        tokenize(text)
            .unwrap()
            .into_iter()
            .map(|t| t.kind)
            .collect()
    }

    #[test]
    fn reads_words_strings_numbers_durations_and_operators() {
        assert_eq!(
            kinds("did \"Product Added\" within 7d # comment\nwhere properties.total >= -2.5"),
            vec![
                Kind::Word("did".into()),
                Kind::Str("Product Added".into()),
                Kind::Word("within".into()),
                Kind::Duration(7 * 86_400_000),
                Kind::Word("where".into()),
                Kind::Word("properties.total".into()),
                Kind::Op(Op::Ge),
                Kind::Number(-2.5),
                Kind::End,
            ]
        );
        assert_eq!(
            kinds("'a\\b' \"q\\\"\""),
            vec![Kind::Str("a\\b".into()), Kind::Str("q\"".into()), Kind::End]
        );
    }

    #[test]
    fn errors_point_at_the_offending_text() {
        let err = tokenize("did x within 7x").unwrap_err();
        assert_eq!(err.offset, 13);
        assert!(err.message.contains("'7x' is not a duration"), "{err:?}");
        assert_eq!(tokenize("did \"open").unwrap_err().offset, 4);
        assert_eq!(tokenize("a ! b").unwrap_err().offset, 2);
        assert_eq!(tokenize("a ; b").unwrap_err().offset, 2);
        assert!(tokenize("within 1.5d").is_err());
    }
}
