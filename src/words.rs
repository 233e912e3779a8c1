//! Words for counts in human-readable output, shared by the CLI, the explorer and the
//! reports, so a count of one always reads in the singular.

/// A noun for a count: `contact` for 1, `contacts` for any other; a noun ending in a
/// consonant and `y` ends in `ies` (`journal entries`).
pub fn plural(count: u64, noun: &str) -> String {
    if count == 1 {
        return noun.to_string();
    }
    match noun.strip_suffix('y') {
        Some(stem) if stem.ends_with(|c: char| c.is_alphabetic() && !"aeiou".contains(c)) => {
            format!("{stem}ies")
        }
        _ => format!("{noun}s"),
    }
}

/// A count and its noun: `1 profile`, `3 profiles`.
pub fn count(n: u64, noun: &str) -> String {
    format!("{n} {}", plural(n, noun))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_is_singular_any_other_count_plural() {
        assert_eq!(plural(1, "contact"), "contact");
        assert_eq!(plural(0, "contact"), "contacts");
        assert_eq!(plural(2, "matching profile"), "matching profiles");
        assert_eq!(plural(1, "journal entry"), "journal entry");
        assert_eq!(plural(2, "journal entry"), "journal entries");
        assert_eq!(plural(2, "day"), "days");
        assert_eq!(count(1, "id"), "1 id");
        assert_eq!(count(7, "id"), "7 ids");
    }
}
