//! Text that is safe to print on a terminal: event data (traits, labels, identifiers,
//! messageIds) is stored exactly as it arrived, but control characters and terminal escape
//! sequences in it must never reach a terminal raw, where they could move the cursor,
//! recolour or retitle the window, or hide text. Every human-readable line the CLI prints
//! from stored data goes through [`printable`]; JSON output is already escaped by serde.

use std::borrow::Cow;

/// Whether a character must not be printed raw: C0 and C1 controls, DEL, and the Unicode
/// bidirectional controls that can reorder what a reader sees.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// The text with every unsafe character replaced by a visible `\u{…}` escape, so a line
/// stays one line and shows what was there.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Prints one line of human-readable output, made [`printable`].
pub fn say(line: &str) {
    println!("{}", printable(line));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_controls_and_keeps_the_rest() {
        assert_eq!(printable("Ana Lima ☕"), "Ana Lima ☕");
        assert!(matches!(printable("plain"), Cow::Borrowed(_)));
        assert_eq!(printable("a\u{1b}[31mred\u{7}"), "a\\u{1b}[31mred\\u{7}");
        assert_eq!(printable("two\nlines\r"), "two\\u{a}lines\\u{d}");
        assert_eq!(
            printable("\u{9b}2J \u{202e}evil"),
            "\\u{9b}2J \\u{202e}evil"
        );
    }
}
