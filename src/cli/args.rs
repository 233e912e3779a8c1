//! Parsers of command-line values: a bad value is a usage error (exit 2), reported before
//! anything is opened.

use crate::model::{Identifier, ProfileId};

/// An identifier written `TYPE:VALUE`.
pub fn identifier(text: &str) -> Result<Identifier, String> {
    Identifier::parse(text).map_err(|e| e.to_string())
}

/// A profile reference: an identifier (`TYPE:VALUE`) or a profile id (`p12`).
pub fn profile_reference(text: &str) -> Result<String, String> {
    if text.parse::<ProfileId>().is_ok() || Identifier::parse(text).is_ok() {
        Ok(text.to_string())
    } else {
        Err(format!(
            "'{text}' is neither an identifier (TYPE:VALUE, e.g. email:ana@example.com) nor a profile id (p12)"
        ))
    }
}

/// Text that is not blank (a reason, a space name).
pub fn not_blank(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        Err("must not be empty".to_string())
    } else {
        Ok(text.to_string())
    }
}

/// A clap error (other than help and version) on one line: the message, what the lines
/// under it add (missing arguments, tips), and where to read more; no usage block.
pub fn one_line_usage_error(error: &clap::Error) -> String {
    let text = error.render().to_string();
    let mut parts: Vec<String> = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with("Usage:") {
            continue;
        }
        let line = line.strip_prefix("error: ").unwrap_or(line);
        match parts.last_mut() {
            // Lines right under a message ending with ':' complete it.
            Some(last) if last.ends_with(':') => {
                last.push(' ');
                last.push_str(line);
            }
            _ => parts.push(line.to_string()),
        }
    }
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::Parser;

    fn usage_error(args: &[&str]) -> String {
        let error = Cli::try_parse_from(args).expect_err("a usage error");
        one_line_usage_error(&error)
    }

    #[test]
    fn usage_errors_are_one_line_with_their_tips() {
        assert_eq!(
            usage_error(&["idgraph", "show"]),
            "the following required arguments were not provided: <REFERENCE> · For more information, try '--help'."
        );
        let unknown = usage_error(&["idgraph", "serch"]);
        assert!(
            unknown.starts_with("unrecognized subcommand 'serch' · tip: ")
                && unknown.contains("'search'"),
            "{unknown}"
        );
    }

    #[test]
    fn bad_values_are_usage_errors_naming_the_argument() {
        for (args, expected) in [
            (
                &["idgraph", "show", "nocolon"][..],
                "is neither an identifier",
            ),
            (
                &["idgraph", "why", "user_id:u1", "x"],
                "expected TYPE:VALUE",
            ),
            (
                &["idgraph", "split", "email:", "--reason", "r"],
                "TYPE:VALUE",
            ),
            (
                &["idgraph", "merge", "p1", "p2", "--reason", " "],
                "must not be empty",
            ),
            (&["idgraph", "--space", "", "export"], "must not be empty"),
        ] {
            let error = Cli::try_parse_from(args).expect_err("a usage error");
            assert_eq!(error.exit_code(), 2);
            let line = one_line_usage_error(&error);
            assert!(
                line.contains(expected) && !line.contains('\n'),
                "{args:?}: {line}"
            );
        }
        assert!(Cli::try_parse_from(["idgraph", "show", "p12"]).is_ok());
    }
}
