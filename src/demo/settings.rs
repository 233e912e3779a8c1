//! What to generate: how many people, the seed, and the proportions of every journey and
//! trouble case.

use serde::{Deserialize, Serialize};

use crate::model::Millis;

/// Generator settings. The defaults resemble a consumer app: most people on one or two
/// devices, a small tail of heavy users, and a few percent of trouble cases.
///
/// Rates are probabilities in `[0, 1]`. Unless said otherwise a rate applies to each
/// person who signs up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Number of people to generate.
    pub people: u64,
    /// Seed of the random generator: same settings and seed give byte-identical output.
    pub seed: u64,
    /// Put the companion (recipes) apps in a second space.
    pub second_space: bool,
    /// Scales how many sessions, app visits and campaigns each person has (1 = default;
    /// sign-ups and logins are not scaled).
    pub activity: f64,
    /// Share of people (not in a household) who browse anonymously and never sign up.
    pub anonymous_only: f64,
    /// Use two devices (web, iOS, Android or iPad).
    pub multi_device: f64,
    /// Heavy users: three to five devices and many sessions.
    pub heavy_users: f64,
    /// Also use the companion recipes app.
    pub companion_app: f64,
    /// Browse anonymously on a device they never log in on (unrecoverable by rules).
    pub orphan_device: f64,
    /// Open support tickets.
    pub support: f64,
    /// Get touched by sales (calls, opportunities).
    pub sales: f64,
    /// Receive marketing e-mail.
    pub marketing: f64,
    /// Fill a cart in the iPhone app and check out in the Android app.
    pub cart_handoff: f64,
    /// Complain to support shortly before a review request e-mail goes out.
    pub complaint_before_review: f64,
    /// Rates of the trouble cases.
    pub trouble: TroubleRates,
    /// Share of events delivered twice (same messageId, identical JSON), per event.
    pub duplicate_rate: f64,
    /// Share of events arriving late (after later events), per event.
    pub late_rate: f64,
    /// How many positions a late event or a duplicate may arrive after its place.
    pub reorder_window: u32,
    /// Move the calendar so the last sessions start at this instant and leave out every
    /// event after it, with the seed examples (cart handoff, complaint before review) in
    /// the final days: journeys that end now, for audiences with windows relative to now
    /// (`idgraph demo`). `None` keeps the fixed 2025 calendar.
    #[serde(default)]
    pub ends_at: Option<Millis>,
}

/// Rates of the trouble cases that make identity resolution hard.
///
/// The first three need two people: each is the probability that a new *unit* (a person,
/// or a household of two) is such a household. The others apply per signed-up person.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TroubleRates {
    /// Someone logs out without the client resetting its anonymousId and another person
    /// logs in on the same browser (two people).
    pub logout_without_reset: f64,
    /// A family iPad used by two accounts (two people).
    pub family_ipad: f64,
    /// Two colleagues sign up with one shared team e-mail address (two people).
    pub shared_team_email: f64,
    /// A buggy web client sends `"undefined"`, `"null"` or `"[object Object]"` as ids.
    pub junk_ids: f64,
    /// The e-mail arrives in other letter case or with surrounding whitespace.
    pub email_variants: f64,
    /// The person changes e-mail address.
    pub email_change: f64,
}

impl TroubleRates {
    /// Every trouble case at the same rate.
    pub fn uniform(rate: f64) -> TroubleRates {
        TroubleRates {
            logout_without_reset: rate,
            family_ipad: rate,
            shared_team_email: rate,
            junk_ids: rate,
            email_variants: rate,
            email_change: rate,
        }
    }

    /// The household rates summed: the probability that a unit is a household.
    pub fn household_total(&self) -> f64 {
        self.logout_without_reset + self.family_ipad + self.shared_team_email
    }
}

impl Default for TroubleRates {
    fn default() -> Self {
        TroubleRates {
            logout_without_reset: 0.01,
            family_ipad: 0.01,
            shared_team_email: 0.005,
            junk_ids: 0.02,
            email_variants: 0.03,
            email_change: 0.02,
        }
    }
}

/// People in the bundled demo data set.
pub const DEMO_PEOPLE: u64 = 200;
/// Activity of the bundled demo data set (lighter than default, to keep the file small).
pub const DEMO_ACTIVITY: f64 = 0.25;
/// Seed of the bundled demo data set.
pub const DEMO_SEED: u64 = 2025;
/// Trouble rate of the bundled demo data set (higher than the default, so every trouble
/// case shows up among few people).
pub const DEMO_TROUBLE_RATE: f64 = 0.03;

impl Default for Settings {
    fn default() -> Self {
        Settings {
            people: 1000,
            seed: 1,
            second_space: false,
            activity: 1.0,
            anonymous_only: 0.30,
            multi_device: 0.25,
            heavy_users: 0.04,
            companion_app: 0.15,
            orphan_device: 0.05,
            support: 0.12,
            sales: 0.04,
            marketing: 0.60,
            cart_handoff: 0.03,
            complaint_before_review: 0.02,
            trouble: TroubleRates::default(),
            duplicate_rate: 0.005,
            late_rate: 0.01,
            reorder_window: 64,
            ends_at: None,
        }
    }
}

/// Why settings cannot be used.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SettingsError {
    #[error("{name} must be a probability between 0 and 1, got {value}")]
    NotAProbability { name: &'static str, value: f64 },
    #[error("the household trouble rates add up to {0}, more than 1")]
    HouseholdsAboveOne(f64),
    #[error("reorder_window must be at least 1 when late_rate or duplicate_rate is set")]
    NoReorderWindow,
    #[error("activity must be between 0 and 100, got {0}")]
    BadActivity(f64),
}

impl Settings {
    /// Default proportions for `people` people under `seed`.
    pub fn new(people: u64, seed: u64) -> Settings {
        Settings {
            people,
            seed,
            ..Settings::default()
        }
    }

    /// The settings of the bundled demo data set (`assets/demo/`).
    pub fn demo() -> Settings {
        Settings {
            activity: DEMO_ACTIVITY,
            trouble: TroubleRates::uniform(DEMO_TROUBLE_RATE),
            ..Settings::new(DEMO_PEOPLE, DEMO_SEED)
        }
    }

    /// Checks every rate.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let t = &self.trouble;
        let rates = [
            ("anonymous_only", self.anonymous_only),
            ("multi_device", self.multi_device),
            ("heavy_users", self.heavy_users),
            ("companion_app", self.companion_app),
            ("orphan_device", self.orphan_device),
            ("support", self.support),
            ("sales", self.sales),
            ("marketing", self.marketing),
            ("cart_handoff", self.cart_handoff),
            ("complaint_before_review", self.complaint_before_review),
            ("trouble.logout_without_reset", t.logout_without_reset),
            ("trouble.family_ipad", t.family_ipad),
            ("trouble.shared_team_email", t.shared_team_email),
            ("trouble.junk_ids", t.junk_ids),
            ("trouble.email_variants", t.email_variants),
            ("trouble.email_change", t.email_change),
            ("duplicate_rate", self.duplicate_rate),
            ("late_rate", self.late_rate),
        ];
        for (name, value) in rates {
            if !(0.0..=1.0).contains(&value) {
                return Err(SettingsError::NotAProbability { name, value });
            }
        }
        if !(0.0..=100.0).contains(&self.activity) {
            return Err(SettingsError::BadActivity(self.activity));
        }
        if t.household_total() > 1.0 {
            return Err(SettingsError::HouseholdsAboveOne(t.household_total()));
        }
        if self.reorder_window == 0 && (self.late_rate > 0.0 || self.duplicate_rate > 0.0) {
            return Err(SettingsError::NoReorderWindow);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_rates_are_named() {
        assert_eq!(Settings::default().validate(), Ok(()));
        assert_eq!(Settings::demo().validate(), Ok(()));
        let bad = Settings {
            support: 1.5,
            ..Settings::default()
        };
        assert_eq!(
            bad.validate(),
            Err(SettingsError::NotAProbability {
                name: "support",
                value: 1.5
            })
        );
        let crowded = Settings {
            trouble: TroubleRates::uniform(0.4),
            ..Settings::default()
        };
        assert!(matches!(
            crowded.validate(),
            Err(SettingsError::HouseholdsAboveOne(_))
        ));
    }
}
