//! The people behind the events: names, e-mails, phones and the ids every company system
//! knows them by, made with `fake` and made unique with [`Codes`].

use fake::Fake;
use fake::faker::company::raw::CompanyName;
use fake::faker::internet::raw::{FreeEmailProvider, IPv4};
use fake::faker::name::raw::{FirstName, LastName};
use fake::faker::phone_number::raw::CellNumber;
use fake::locales::EN;
use rand::RngExt;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

use super::catalog::{LOCALES, TEAM_MAILBOXES};
use super::ids::Codes;
use super::plan::Text;
use crate::model::Millis;

/// One true person.
#[derive(Debug)]
pub(crate) struct Person {
    /// The ground-truth label, e.g. `person-0000042`.
    pub key: Text,
    pub first_name: &'static str,
    pub last_name: &'static str,
    /// The app's user id.
    pub user_id: Text,
    /// The sign-up e-mail (canonical: lower case, no whitespace).
    pub email: Text,
    /// The local part of the person's own address (unique: it carries their tag), kept when
    /// `email` is a shared team mailbox.
    pub own_local: Text,
    /// A later e-mail address and when it replaced the first.
    pub changed_email: Option<(Millis, Text)>,
    /// Whether e-mails of this person arrive in varying case and whitespace.
    pub email_variants: bool,
    pub phone: Option<Text>,
    /// The company they buy for, when known.
    pub company: Option<Text>,
    /// The support desk's requester id.
    pub support_id: Text,
    /// The desk's requester id for what the person writes from a shared team mailbox (the
    /// desk files it apart from their personal tickets).
    pub mailbox_support_id: Text,
    /// The CRM's lead id.
    pub lead_id: Text,
    /// The e-mail tool's contact id.
    pub contact_id: Text,
    pub locale: &'static str,
    pub timezone: &'static str,
    /// Home IP address.
    pub ip: Text,
}

impl Person {
    /// A new person with index `index` (unique in the data set).
    pub(crate) fn new(rng: &mut ChaCha8Rng, codes: &Codes, index: u64) -> Person {
        let first_name: &'static str = FirstName(EN).fake_with_rng(rng);
        let last_name: &'static str = LastName(EN).fake_with_rng(rng);
        let (first, last) = (slug(first_name), slug(last_name));
        let tag = codes.tag(index);
        let provider: &str = FreeEmailProvider(EN).fake_with_rng(rng);
        let local = match rng.random_range(0..5) {
            0 => format!("{first}.{last}{tag}"),
            1 => format!("{first}{last}{tag}"),
            2 => format!("{}{last}{tag}", &first[..first.len().min(1)]),
            3 => format!("{first}_{last}{tag}"),
            _ => format!("{first}{tag}"),
        };
        let phone = rng.random_bool(0.45).then(|| {
            let cell: String = CellNumber(EN).fake_with_rng(rng);
            let area: String = cell
                .trim_start_matches("1-")
                .chars()
                .filter(char::is_ascii_digit)
                .take(3)
                .collect();
            Text::from(format!("+1{area}{}", codes.subscriber(index)))
        });
        let &(locale, timezone) = LOCALES.choose(rng).unwrap_or(&LOCALES[0]);
        let ip: String = IPv4(EN).fake_with_rng(rng);
        Person {
            key: format!("person-{index:07}").into(),
            first_name,
            last_name,
            user_id: format!("usr_{}", codes.opaque(index, 1)).into(),
            email: format!("{local}@{provider}").into(),
            own_local: local.into(),
            changed_email: None,
            email_variants: false,
            phone,
            company: None,
            support_id: format!("zd-{}", codes.opaque(index, 2)).into(),
            mailbox_support_id: format!("zd-{}", codes.opaque(index, 5)).into(),
            lead_id: format!("00Q{}", codes.opaque(index, 3)).into(),
            contact_id: format!("cio_{}", codes.opaque(index, 4)).into(),
            locale,
            timezone,
            ip: ip.into(),
        }
    }

    /// The full name.
    pub(crate) fn name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }

    /// The person's e-mail address at time `t`, canonical.
    pub(crate) fn email_at(&self, t: Millis) -> Text {
        match &self.changed_email {
            Some((since, email)) if t >= *since => email.clone(),
            _ => self.email.clone(),
        }
    }

    /// The e-mail at `t` as a system would send it: for people with the e-mail-variants
    /// trouble often in other case or with whitespace around it.
    pub(crate) fn email_as_sent(&self, rng: &mut ChaCha8Rng, t: Millis) -> Text {
        let email = self.email_at(t);
        if self.email_variants && rng.random_bool(0.6) {
            variant(rng, &email).into()
        } else {
            email
        }
    }

    /// A second address for the e-mail-change trouble (unique: it keeps the person's tag).
    pub(crate) fn another_email(&self, rng: &mut ChaCha8Rng) -> Text {
        let local = &self.own_local;
        let domain = if self.email.ends_with("@gmail.com") {
            "outlook.com"
        } else {
            "gmail.com"
        };
        let stem = if rng.random_bool(0.5) { "new." } else { "" };
        format!("{stem}{local}@{domain}").into()
    }
}

/// A `fake` company and a shared team mailbox there, unique through `tag`.
pub(crate) fn team_mailbox(rng: &mut ChaCha8Rng, tag: &str) -> (Text, Text) {
    let company: String = CompanyName(EN).fake_with_rng(rng);
    let domain = slug(&company);
    let mailbox = TEAM_MAILBOXES.choose(rng).copied().unwrap_or("team");
    (
        company.into(),
        format!("{mailbox}@{domain}{tag}.com").into(),
    )
}

/// An e-mail as mistyped by forms and tools: other case, or whitespace around it.
pub(crate) fn variant(rng: &mut ChaCha8Rng, email: &str) -> String {
    match rng.random_range(0..4) {
        0 => email.to_uppercase(),
        1 => capitalise_words(email),
        2 => format!(" {email}"),
        _ => format!("{} ", capitalise_words(email)),
    }
}

fn capitalise_words(email: &str) -> String {
    let mut out = String::with_capacity(email.len());
    let mut start = true;
    for c in email.chars() {
        out.push(if start { c.to_ascii_uppercase() } else { c });
        start = matches!(c, '.' | '@' | '_');
    }
    out
}

/// Lower-case ASCII letters and digits of a name.
fn slug(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::identifier::normalize_value;
    use rand::SeedableRng;

    #[test]
    fn people_are_fake_but_unique_and_variants_normalise_back() {
        let codes = Codes::new(3, 500);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut emails = std::collections::HashSet::new();
        for i in 0..500 {
            let p = Person::new(&mut rng, &codes, i);
            assert!(emails.insert(p.email.clone()), "duplicate {}", p.email);
            assert!(p.email.contains('@') && p.email.to_lowercase() == *p.email);
            let other = p.another_email(&mut rng);
            assert_ne!(other, p.email);
            for _ in 0..4 {
                let v = variant(&mut rng, &p.email);
                assert_eq!(normalize_value("email", &v), *p.email);
            }
        }
        let (company, mailbox) = team_mailbox(&mut rng, "0042");
        assert!(!company.is_empty());
        let (role, domain) = mailbox.split_once('@').expect("an address");
        assert!(TEAM_MAILBOXES.contains(&role), "{mailbox}");
        assert!(domain.ends_with("0042.com"), "{mailbox}");
    }
}
