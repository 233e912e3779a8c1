//! Journeys: what one person, or a household of two, does over the year, planned as events
//! tagged with their true person and with whether shared identifiers link them to the rest
//! of that person's events.

use std::sync::Arc;

use fake::Fake;
use fake::faker::company::raw::CompanyName;
use fake::locales::EN;
use rand::RngExt;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

use super::catalog::{
    BROWSE_PAGES, CAMPAIGNS, COMPLAINTS, JUNK_IDS, PRODUCTS, Product, RECIPES, REFERRERS,
    SALES_REPS, SHOP_SCREENS, TICKET_SUBJECTS,
};
use super::clock::YEAR_END;
use super::devices::{Device, DeviceKind, Install};
use super::ids::{Codes, hex};
use super::people::{Person, team_mailbox};
use super::plan::{Group, Page, Payload, PlannedEvent, Props, Scalar, Text};
use super::settings::Settings;
use super::sources::SourceId;
use super::stats::GenerationStats;
use super::truth::Unlinkable;
use crate::model::Millis;
use crate::model::time::{DAY, format_time};

const SECOND: Millis = 1000;
const MINUTE: Millis = 60 * SECOND;
const HOUR: Millis = 60 * MINUTE;
/// Sessions start no later than this, so follow-ups (at most a week) stay inside the year.
const LAST_START: Millis = YEAR_END - 10 * DAY;
/// Journeys start within the first 300 days.
const START_DAYS: i64 = 300;

/// What kind of unit is generated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum UnitKind {
    Single,
    LogoutWithoutReset,
    FamilyIpad,
    SharedTeamEmail,
}

/// One person, or a household of two, with every device, install and planned event.
#[derive(Debug, Default)]
pub(crate) struct Unit {
    pub people: Vec<Person>,
    pub devices: Vec<Device>,
    pub installs: Vec<Install>,
    pub events: Vec<PlannedEvent>,
}

/// Plans the next unit, starting at person index `first_index` with `remaining` people
/// still to generate, and counts what it contains in `stats`.
pub(crate) fn plan_unit(
    rng: &mut ChaCha8Rng,
    settings: &Settings,
    codes: &Codes,
    first_index: u64,
    remaining: u64,
    stats: &mut GenerationStats,
) -> Unit {
    let mut planner = Planner {
        rng,
        settings,
        codes,
        stats,
        unit: Unit::default(),
        fragments: 0,
    };
    planner.plan(first_index, remaining);
    planner.unit
}

struct Planner<'a> {
    rng: &'a mut ChaCha8Rng,
    settings: &'a Settings,
    codes: &'a Codes,
    stats: &'a mut GenerationStats,
    unit: Unit,
    fragments: u32,
}

/// A signed-up person while their journey is planned.
struct Customer {
    p: usize,
    /// When they signed up (the conversion point).
    signup: Millis,
    /// Shop installs (website, shop apps) they are logged in on, and since when.
    logins: Vec<(usize, Millis)>,
    /// Their web install whose client sends junk ids.
    buggy: Option<usize>,
    /// Orders: when, and the order id.
    orders: Vec<(Millis, Text)>,
}

/// How a server-side tool knows a person: the ids and e-mail it sends.
struct Known {
    source: SourceId,
    user: Option<Text>,
    anonymous: Option<Text>,
    /// Sent as `context.traits.email` on track calls.
    email: Option<Text>,
}

/// A run of events on one install: a cursor in time that knows who is logged in.
struct Session {
    p: usize,
    install: usize,
    t: Millis,
    user: Option<Text>,
    group: Group,
    buggy: bool,
    page: Option<Arc<Page>>,
    landing: Text,
    cart: Option<Text>,
}

impl Planner<'_> {
    fn plan(&mut self, first_index: u64, remaining: u64) {
        let settings = self.settings;
        let trouble = &settings.trouble;
        let draw: f64 = self.rng.random();
        let kind = if remaining < 2 {
            UnitKind::Single
        } else if draw < trouble.logout_without_reset {
            UnitKind::LogoutWithoutReset
        } else if draw < trouble.logout_without_reset + trouble.family_ipad {
            UnitKind::FamilyIpad
        } else if draw < trouble.household_total() {
            UnitKind::SharedTeamEmail
        } else {
            UnitKind::Single
        };
        match kind {
            UnitKind::Single => {
                let p = self.add_person(first_index);
                if self.chance(self.settings.anonymous_only) {
                    self.visitor(p);
                } else {
                    self.customer(p);
                }
            }
            UnitKind::LogoutWithoutReset => {
                let (a, b) = (
                    self.add_person(first_index),
                    self.add_person(first_index + 1),
                );
                let (ca, cb) = (self.customer(a), self.customer(b));
                self.logout_without_reset(&ca, &cb);
                self.stats.trouble.logout_without_reset += 1;
            }
            UnitKind::FamilyIpad => {
                let (a, b) = (
                    self.add_person(first_index),
                    self.add_person(first_index + 1),
                );
                let (ca, cb) = (self.customer(a), self.customer(b));
                self.family_ipad(&ca, &cb);
                self.stats.trouble.family_ipad += 1;
            }
            UnitKind::SharedTeamEmail => {
                let (a, b) = (
                    self.add_person(first_index),
                    self.add_person(first_index + 1),
                );
                let (company, mailbox) = team_mailbox(self.rng, &self.codes.tag(first_index));
                for p in [a, b] {
                    self.unit.people[p].email = mailbox.clone();
                    self.unit.people[p].company = Some(company.clone());
                }
                for p in [a, b] {
                    let c = self.customer(p);
                    // Each colleague writes to support from the team mailbox.
                    self.support(&c, true);
                }
                self.stats.trouble.shared_team_email += 1;
            }
        }
        self.stats.units += 1;
        self.stats.people += self.unit.people.len() as u64;
    }

    // ---- journeys of one person -------------------------------------------------------

    /// Someone who browses anonymously and never signs up.
    fn visitor(&mut self, p: usize) {
        self.stats.journeys.anonymous_only += 1;
        let devices = if self.chance(0.15) { 2 } else { 1 };
        for d in 0..devices {
            let kind = match self.rng.random_range(0..20) {
                0..14 => DeviceKind::Web,
                14..17 => DeviceKind::Ios,
                _ => DeviceKind::Android,
            };
            let install = self.add_device_with_shop(kind, p, false);
            let group = if d == 0 {
                Group::Main
            } else {
                self.fragment(Unlinkable::NeverSignedUp)
            };
            let mut t = self.day_start();
            let sessions = self.rng.random_range(1..=2);
            for _ in 0..self.scaled(sessions, 1) {
                let mut s = self.session(p, install, t, None, group);
                let pages = self.rng.random_range(1..=3);
                self.browse(&mut s, pages);
                t = (s.t + self.between(HOUR, 20 * DAY)).min(LAST_START);
            }
        }
    }

    /// Someone who signs up and goes on across devices, apps and channels.
    fn customer(&mut self, p: usize) -> Customer {
        let settings = self.settings;
        self.stats.journeys.signed_up += 1;
        let heavy = self.chance(settings.heavy_users);
        let multi = !heavy && self.chance(settings.multi_device);
        let junk = self.chance(settings.trouble.junk_ids);
        let variants = self.chance(settings.trouble.email_variants);
        let change = self.chance(settings.trouble.email_change);
        let handoff = self.chance(settings.cart_handoff);
        let companion = self.chance(settings.companion_app);
        let orphan = self.chance(settings.orphan_device);
        let support = self.chance(settings.support);
        let sales = self.chance(settings.sales);
        let marketing = self.chance(settings.marketing);
        let complaint = self.chance(settings.complaint_before_review);

        // Devices: the one they sign up on first.
        let mut kinds = vec![self.primary_kind()];
        let devices = if heavy {
            self.rng.random_range(3..=5)
        } else if multi {
            2
        } else {
            1
        };
        while kinds.len() < devices {
            let extra = self.extra_kind();
            kinds.push(extra);
        }
        if handoff {
            for needed in [DeviceKind::Ios, DeviceKind::Android] {
                if !kinds.contains(&(needed, false)) {
                    kinds.push((needed, false));
                }
            }
        }
        if junk && !kinds.iter().any(|k| k.0 == DeviceKind::Web) {
            kinds.push((DeviceKind::Web, false));
        }
        if companion && kinds.iter().all(|k| k.0 == DeviceKind::Web) {
            let mobile = if self.chance(0.55) {
                DeviceKind::Ios
            } else {
                DeviceKind::Android
            };
            kinds.push((mobile, false));
        }
        let installs: Vec<usize> = kinds
            .iter()
            .map(|&(kind, tablet)| self.add_device_with_shop(kind, p, tablet))
            .collect();

        let start = self.day_start();
        let signup = self.sign_up(p, installs[0], start);
        let mut c = Customer {
            p,
            signup,
            logins: vec![(installs[0], signup)],
            buggy: None,
            orders: Vec::new(),
        };
        if variants {
            self.unit.people[p].email_variants = true;
            self.stats.trouble.email_variants += 1;
        }
        for &install in &installs[1..] {
            let latest = (signup + 120 * DAY).min(LAST_START);
            let t = self.between(signup + 2 * HOUR, latest);
            let since = self.log_in(p, install, t, true);
            c.logins.push((install, since));
        }
        if change {
            self.change_email(&c);
        }
        let sessions = if heavy {
            self.rng.random_range(6..=16)
        } else if multi {
            self.rng.random_range(1..=4)
        } else {
            self.rng.random_range(0..=2)
        };
        let sessions = self.scaled(sessions, 0);
        for _ in 0..sessions {
            let t = self.between(signup + HOUR, LAST_START);
            let install = self.logged_in_install(&c, t);
            self.shop_session(&mut c, install, t);
        }
        if junk {
            self.buggy_client(&mut c);
        }
        if companion {
            self.companion_app(&c);
        }
        if handoff {
            self.cart_handoff(&mut c);
        }
        if complaint {
            self.complaint_before_review(&mut c);
        }
        if orphan {
            self.orphan_device(&c);
        }
        if support {
            self.support(&c, false);
        }
        if sales {
            self.sales(&c);
        }
        if marketing {
            self.marketing(&c);
        }
        let journeys = &mut self.stats.journeys;
        journeys.heavy_users += u64::from(heavy);
        journeys.multi_device += u64::from(multi);
        journeys.companion_app += u64::from(companion);
        journeys.cart_handoff += u64::from(handoff);
        journeys.complaint_before_review += u64::from(complaint);
        journeys.orphan_device += u64::from(orphan);
        journeys.support += u64::from(support);
        journeys.sales += u64::from(sales);
        journeys.marketing += u64::from(marketing);
        c
    }

    /// Anonymous visits, then the sign-up: identify with userId and e-mail (the conversion
    /// point). Returns the time of the identify.
    fn sign_up(&mut self, p: usize, install: usize, start: Millis) -> Millis {
        let web = self.kind_of(install) == DeviceKind::Web;
        let visits = match (web, self.rng.random_range(0..10)) {
            (true, 0..3) | (false, 0..7) => 0,
            (true, 3..8) | (false, _) => 1,
            _ => 2,
        };
        let mut t = start;
        for _ in 0..self.scaled(visits, 0) {
            let mut s = self.session(p, install, t, None, Group::Main);
            let pages = self.rng.random_range(1..=3);
            self.browse(&mut s, pages);
            t = s.t + self.between(2 * HOUR, 9 * DAY);
        }
        let mut s = self.session(p, install, t, None, Group::Main);
        if web {
            self.page(
                &mut s,
                "Sign Up",
                "/signup",
                "Create your account | Brightbasket",
            );
        } else {
            self.screen(&mut s, "Sign Up", Props::default());
        }
        let email = self.email_sent(p, s.t);
        let person = &self.unit.people[p];
        s.user = Some(person.user_id.clone());
        let mut traits = Props::default()
            .with("email", email)
            .with("firstName", person.first_name)
            .with("lastName", person.last_name)
            .with("name", self.unit.people[p].name())
            .with("createdAt", format_time(s.t));
        if let Some(phone) = self.unit.people[p].phone.clone() {
            traits.push("phone", phone);
        }
        if let Some(company) = self.unit.people[p].company.clone() {
            traits.push(
                "company",
                Scalar::Object(Props::default().with("name", company)),
            );
        }
        traits.push("newsletter", self.chance(0.4));
        let converted = s.t;
        self.identify(&mut s, traits);
        let method = ["email", "google", "apple"]
            .choose(self.rng)
            .copied()
            .unwrap_or("email");
        self.track(&mut s, "Signed Up", Props::default().with("method", method));
        let pages = self.rng.random_range(0..=1);
        let pages = self.scaled(pages, 0);
        self.browse(&mut s, pages);
        converted
    }

    /// A login on another install (maybe after browsing there anonymously). Returns the
    /// time of the identify.
    fn log_in(&mut self, p: usize, install: usize, t: Millis, may_browse_first: bool) -> Millis {
        let mut t = t;
        if may_browse_first && self.chance(0.4) {
            let mut s = self.session(p, install, t, None, Group::Main);
            let pages = self.rng.random_range(1..=2);
            self.browse(&mut s, pages);
            t = s.t + self.between(MINUTE, 30 * MINUTE);
        }
        let mut s = self.session(p, install, t, None, Group::Main);
        if self.kind_of(install) == DeviceKind::Web {
            self.page(&mut s, "Log In", "/login", "Log in | Brightbasket");
        } else {
            self.screen(&mut s, "Log In", Props::default());
        }
        s.user = Some(self.unit.people[p].user_id.clone());
        let mut traits = Props::default();
        if self.chance(0.6) {
            traits.push("email", self.email_sent(p, s.t));
        }
        let at = s.t;
        self.identify(&mut s, traits);
        let method = ["password", "google", "apple", "magic link"]
            .choose(self.rng)
            .copied()
            .unwrap_or("password");
        self.track(&mut s, "Signed In", Props::default().with("method", method));
        let pages = self.rng.random_range(0..=2);
        let pages = self.scaled(pages, 0);
        self.browse(&mut s, pages);
        at
    }

    /// A logged-in shopping session, sometimes ending in an order.
    fn shop_session(&mut self, c: &mut Customer, install: usize, t: Millis) {
        let user = self.unit.people[c.p].user_id.clone();
        let mut s = self.session(c.p, install, t, Some(user), Group::Main);
        s.buggy = c.buggy == Some(install);
        let pages = self.rng.random_range(1..=3);
        self.browse(&mut s, pages);
        if self.chance(0.2) {
            let order = self.checkout(&mut s);
            c.orders.push(order);
        }
    }

    /// The e-mail-change trouble: a later identify with a new address.
    fn change_email(&mut self, c: &Customer) {
        let at = self.between(c.signup + 7 * DAY, LAST_START);
        let new_email = self.unit.people[c.p].another_email(self.rng);
        self.unit.people[c.p].changed_email = Some((at, new_email));
        let user = self.unit.people[c.p].user_id.clone();
        let mut s = self.session(c.p, c.logins[0].0, at, Some(user), Group::Main);
        if self.kind_of(c.logins[0].0) == DeviceKind::Web {
            self.page(&mut s, "Account", "/account", "Your account | Brightbasket");
        } else {
            self.screen(&mut s, "Account", Props::default());
        }
        let email = self.email_sent(c.p, s.t);
        self.identify(&mut s, Props::default().with("email", email));
        self.track(&mut s, "Email Changed", Props::default());
        self.stats.trouble.email_change += 1;
    }

    /// The junk-ids trouble: the web client's bug shows in a session, and some events
    /// carry nothing but junk.
    fn buggy_client(&mut self, c: &mut Customer) {
        let Some(&(install, since)) = c
            .logins
            .iter()
            .find(|(i, _)| self.kind_of(*i) == DeviceKind::Web)
        else {
            return;
        };
        c.buggy = Some(install);
        self.stats.trouble.junk_ids += 1;
        let t = self.between(since + HOUR, LAST_START);
        let user = self.unit.people[c.p].user_id.clone();
        let mut s = self.session(c.p, install, t, Some(user), Group::Main);
        s.buggy = true;
        self.browse(&mut s, 2);
        let junk = self.junk();
        self.emit(
            &s,
            Some(junk),
            None,
            Payload::Track {
                event: "Product List Viewed",
                props: Props::default().with("list_id", "deals"),
            },
        );
        s.t += self.between(5 * SECOND, MINUTE);
        for _ in 0..self.rng.random_range(1..=2) {
            let group = self.fragment(Unlinkable::JunkIdsOnly);
            let (user, anonymous) = (self.junk(), self.junk());
            let mut lost = self.session(c.p, install, s.t, None, group);
            let referrer = s
                .page
                .as_ref()
                .map(|p| Text::from(p.url()))
                .unwrap_or_default();
            let title = "This week's deals | Brightbasket".to_string();
            lost.page = Some(Arc::new(Page::new("/deals", title, referrer)));
            self.emit(
                &lost,
                Some(user),
                Some(anonymous),
                Payload::Page { name: "Deals" },
            );
            s.t += self.between(5 * SECOND, MINUTE);
        }
    }

    /// The companion recipes app on one of the person's phones or tablets.
    fn companion_app(&mut self, c: &Customer) {
        let Some(device) = c
            .logins
            .iter()
            .map(|&(i, _)| self.unit.installs[i].device)
            .find(|&d| self.unit.devices[d].kind != DeviceKind::Web)
        else {
            return;
        };
        let source = if self.unit.devices[device].kind == DeviceKind::Ios {
            SourceId::RecipesIos
        } else {
            SourceId::RecipesAndroid
        };
        let install = self.add_install(device, source);
        let t = self.between(c.signup + DAY, LAST_START);
        let since = self.log_in(c.p, install, t, true);
        let visits = self.rng.random_range(1..=3);
        for _ in 0..self.scaled(visits, 1) {
            let t = self.between(since + HOUR, LAST_START);
            let user = self.unit.people[c.p].user_id.clone();
            let mut s = self.session(c.p, install, t, Some(user), Group::Main);
            self.screen(&mut s, "Recipe Feed", Props::default());
            let &(id, title) = RECIPES.choose(self.rng).unwrap_or(&RECIPES[0]);
            let recipe = Props::default().with("recipe_id", id).with("title", title);
            self.track(&mut s, "Recipe Viewed", recipe.clone());
            if self.chance(0.3) {
                self.track(&mut s, "Recipe Saved", recipe.clone());
            }
            if self.chance(0.2) {
                let items = self.rng.random_range(3..=9);
                self.track(
                    &mut s,
                    "Ingredients Added to Cart",
                    recipe.with("items", Scalar::Int(items)),
                );
            }
        }
    }

    /// Seed example: a cart filled in the iPhone app, checked out in the Android app.
    fn cart_handoff(&mut self, c: &mut Customer) {
        let find = |planner: &Self, source: SourceId| {
            c.logins.iter().copied().find(|&(i, _)| {
                let install = &planner.unit.installs[i];
                install.source == source
                    && !planner.unit.devices[install.device]
                        .model
                        .starts_with("iPad")
            })
        };
        let (Some((iphone, ios_since)), Some((android, android_since))) = (
            find(self, SourceId::IosApp),
            find(self, SourceId::AndroidApp),
        ) else {
            return;
        };
        let t = self.between(ios_since.max(android_since) + HOUR, LAST_START);
        let user = self.unit.people[c.p].user_id.clone();
        let mut s = self.session(c.p, iphone, t, Some(user.clone()), Group::Main);
        let cart: Text = format!("cart_{}", hex(self.rng, 12)).into();
        s.cart = Some(cart.clone());
        let mut added = Vec::new();
        for _ in 0..self.rng.random_range(1..=3) {
            let product = self.product();
            self.screen(&mut s, "Product Detail", product_props(product));
            let quantity = self.rng.random_range(1..=3);
            self.track(
                &mut s,
                "Product Added",
                product_props(product)
                    .with("cart_id", cart.clone())
                    .with("quantity", Scalar::Int(quantity)),
            );
            added.push((product, quantity));
        }
        let later = s.t + self.between(HOUR, 2 * DAY);
        let mut s = self.session(c.p, android, later, Some(user), Group::Main);
        s.cart = Some(cart.clone());
        self.screen(&mut s, "Cart", Props::default());
        self.track(
            &mut s,
            "Cart Viewed",
            Props::default().with("cart_id", cart.clone()),
        );
        let order = self.complete_order(&mut s, &added);
        c.orders.push(order);
    }

    /// Seed example: an order, a complaint with support a day later, and a review request
    /// e-mail a few hours after that.
    fn complaint_before_review(&mut self, c: &mut Customer) {
        let install = c.logins[0].0;
        let t = self.between(c.signup + DAY, LAST_START);
        let user = self.unit.people[c.p].user_id.clone();
        let mut s = self.session(c.p, install, t, Some(user.clone()), Group::Main);
        let (ordered, order_id) = self.checkout(&mut s);
        c.orders.push((ordered, order_id.clone()));
        let complained = ordered + self.between(DAY, 2 * DAY);
        let desk = Known {
            source: SourceId::SupportDesk,
            user: None,
            anonymous: Some(self.unit.people[c.p].support_id.clone()),
            email: Some(self.email_sent(c.p, complained)),
        };
        let ticket = Scalar::Int(self.rng.random_range(100_000..999_999));
        let created = Props::default()
            .with("ticket_id", ticket.clone())
            .with("subject", "Damaged items in my order")
            .with("priority", "high")
            .with("via", "email")
            .with("order_id", order_id.clone());
        self.server(c.p, &desk, complained, "Ticket Created", created);
        let complaint = Props::default()
            .with("ticket_id", ticket)
            .with("category", "damaged items")
            .with("severity", "high")
            .with("order_id", order_id.clone());
        self.server(
            c.p,
            &desk,
            complained + 4 * MINUTE,
            "Complaint Logged",
            complaint,
        );
        let review = complained + self.between(2 * HOUR, 20 * HOUR);
        let tool = Known {
            source: SourceId::EmailTool,
            user: Some(user),
            anonymous: None,
            email: Some(self.email_sent(c.p, review)),
        };
        let request = Props::default()
            .with("order_id", order_id)
            .with("campaign_id", "cmp-review-request")
            .with("email_id", format!("em_{}", hex(self.rng, 16)));
        self.server(c.p, &tool, review, "Review Request Sent", request);
    }

    /// Anonymous browsing on a device the person never logs in on.
    fn orphan_device(&mut self, c: &Customer) {
        let install = self.add_device_with_shop(DeviceKind::Web, c.p, false);
        let group = self.fragment(Unlinkable::DeviceNeverLoggedIn);
        for _ in 0..self.rng.random_range(1..=2) {
            let t = self.between(c.signup, LAST_START);
            let mut s = self.session(c.p, install, t, None, group);
            let pages = self.rng.random_range(1..=3);
            self.browse(&mut s, pages);
        }
    }

    /// Support tickets. The desk knows people by its own requester id and their e-mail,
    /// and by userId only when they write from inside the app.
    fn support(&mut self, c: &Customer, email_only: bool) {
        let tickets = if self.chance(0.8) { 1 } else { 2 };
        for n in 0..tickets {
            let mut t = self.between(c.signup + DAY, LAST_START);
            let in_app = !email_only && self.chance(0.5);
            let person = &self.unit.people[c.p];
            let mut desk = Known {
                source: SourceId::SupportDesk,
                user: in_app.then(|| person.user_id.clone()),
                anonymous: Some(person.support_id.clone()),
                email: None,
            };
            if n == 0 {
                let traits = Props::default()
                    .with("email", self.email_sent(c.p, t))
                    .with("name", self.unit.people[c.p].name());
                self.server_identify(c.p, &desk, t - MINUTE, traits);
            }
            desk.email = Some(self.email_sent(c.p, t));
            let ticket = Scalar::Int(self.rng.random_range(100_000..999_999));
            let subject = TICKET_SUBJECTS
                .choose(self.rng)
                .copied()
                .unwrap_or("Refund request");
            let via = if in_app {
                "in-app"
            } else {
                ["email", "web"][self.rng.random_range(0..2)]
            };
            let priority = ["low", "normal", "high"][self.rng.random_range(0..3)];
            let created = Props::default()
                .with("ticket_id", ticket.clone())
                .with("subject", subject)
                .with("priority", priority)
                .with("via", via);
            self.server(c.p, &desk, t, "Ticket Created", created);
            if self.chance(0.2) {
                let category = COMPLAINTS
                    .choose(self.rng)
                    .copied()
                    .unwrap_or("late delivery");
                let complaint = Props::default()
                    .with("ticket_id", ticket.clone())
                    .with("category", category)
                    .with("severity", "normal");
                self.server(c.p, &desk, t + 5 * MINUTE, "Complaint Logged", complaint);
            }
            for _ in 0..self.rng.random_range(1..=3) {
                t += self.between(HOUR, 30 * HOUR);
                let author = if self.chance(0.6) {
                    "agent"
                } else {
                    "customer"
                };
                let reply = Props::default()
                    .with("ticket_id", ticket.clone())
                    .with("author", author);
                self.server(c.p, &desk, t, "Ticket Replied", reply);
            }
        }
    }

    /// Sales touches from the CRM: synced contacts by userId, leads by the CRM's own id.
    fn sales(&mut self, c: &Customer) {
        let synced = self.chance(0.7);
        let mut t = self.between(c.signup + DAY, LAST_START);
        let email = self.email_sent(c.p, t);
        let person = &self.unit.people[c.p];
        let crm = Known {
            source: SourceId::Crm,
            user: synced.then(|| person.user_id.clone()),
            anonymous: (!synced).then(|| person.lead_id.clone()),
            email: Some(email.clone()),
        };
        let mut traits = Props::default()
            .with("email", email)
            .with("name", person.name());
        if let Some(phone) = person.phone.clone() {
            traits.push("phone", phone);
        }
        // Sales deal with people buying for an office: the CRM knows their company.
        let company = match person.company.clone() {
            Some(company) => company,
            None => CompanyName(EN).fake_with_rng::<String, _>(self.rng).into(),
        };
        let account = Props::default().with("name", company.clone());
        traits.push("company", Scalar::Object(account));
        self.server_identify(c.p, &crm, t, traits);
        for _ in 0..self.rng.random_range(1..=2) {
            t += self.between(10 * MINUTE, 3 * DAY);
            let rep = SALES_REPS.choose(self.rng).copied().unwrap_or("sam.o");
            let outcome = ["connected", "voicemail", "no answer"][self.rng.random_range(0..3)];
            let call = Props::default()
                .with("call_id", format!("call_{}", hex(self.rng, 10)))
                .with("duration_s", Scalar::Int(self.rng.random_range(20..1800)))
                .with("outcome", outcome)
                .with("rep", rep);
            self.server(c.p, &crm, t, "Call Logged", call);
        }
        if self.chance(0.4) {
            t += self.between(HOUR, 2 * DAY);
            let amount = f64::from(self.rng.random_range(20..200u32)) * 25.0;
            let opportunity = Props::default()
                .with("opportunity_id", format!("006{}", hex(self.rng, 12)))
                .with("amount", Scalar::Money(amount))
                .with("stage", "qualification")
                .with("account_name", company.clone())
                .with("product", "Office pantry subscription");
            self.server(c.p, &crm, t, "Opportunity Created", opportunity);
        }
    }

    /// Marketing e-mail: campaigns sent, opened, clicked, unsubscribed, and review requests
    /// after orders. The tool knows most people by userId, list imports only by e-mail.
    fn marketing(&mut self, c: &Customer) {
        let by_user = self.chance(0.8);
        let person = &self.unit.people[c.p];
        let mut tool = Known {
            source: SourceId::EmailTool,
            user: by_user.then(|| person.user_id.clone()),
            anonymous: (!by_user).then(|| person.contact_id.clone()),
            email: None,
        };
        let campaigns = self.rng.random_range(1..=3);
        let mut sends: Vec<Millis> = (0..self.scaled(campaigns, 1))
            .map(|_| self.between(c.signup + DAY, LAST_START))
            .collect();
        sends.sort_unstable();
        for t in sends {
            tool.email = Some(self.tool_email(c.p, t));
            let &(id, name, subject) = CAMPAIGNS.choose(self.rng).unwrap_or(&CAMPAIGNS[0]);
            let email_id: Text = format!("em_{}", hex(self.rng, 16)).into();
            let props = Props::default()
                .with("campaign_id", id)
                .with("email_id", email_id);
            let sent = props
                .clone()
                .with("campaign_name", name)
                .with("email_subject", subject);
            self.server(c.p, &tool, t, "Email Sent", sent);
            if self.chance(0.35) {
                let opened = t + self.between(10 * MINUTE, 2 * DAY);
                self.server(c.p, &tool, opened, "Email Opened", props.clone());
                if self.chance(0.3) {
                    let clicked = opened + self.between(10 * SECOND, 30 * MINUTE);
                    let link = format!("https://www.brightbasket.com/deals?utm_campaign={id}");
                    self.server(
                        c.p,
                        &tool,
                        clicked,
                        "Email Clicked",
                        props.clone().with("link_url", link),
                    );
                }
            }
            if self.chance(0.03) {
                let at = t + self.between(HOUR, DAY);
                self.server(c.p, &tool, at, "Unsubscribed", props);
                break;
            }
        }
        for (ordered, order_id) in &c.orders {
            if self.chance(0.3) {
                let at = *ordered + self.between(2 * DAY, 4 * DAY);
                tool.email = Some(self.tool_email(c.p, at));
                let request = Props::default()
                    .with("order_id", order_id.clone())
                    .with("campaign_id", "cmp-review-request");
                self.server(c.p, &tool, at, "Review Request Sent", request);
            }
        }
    }

    // ---- households -------------------------------------------------------------------

    /// A shared browser: A logs out but the client never resets its anonymousId, then B
    /// browses and logs in with A's anonymousId still in place.
    fn logout_without_reset(&mut self, a: &Customer, b: &Customer) {
        let install = self.add_device_with_shop(DeviceKind::Web, a.p, false);
        let t = self.between(a.signup.max(b.signup) + DAY, LAST_START - 8 * DAY);
        let since = self.log_in(a.p, install, t, false);
        let user = self.unit.people[a.p].user_id.clone();
        let mut s = self.session(a.p, install, since + 2 * MINUTE, Some(user), Group::Main);
        self.browse(&mut s, 1);
        self.track(&mut s, "Signed Out", Props::default());
        let later = s.t + self.between(HOUR, 7 * DAY);
        let mut s = self.session(b.p, install, later, None, Group::Main);
        let pages = self.rng.random_range(1..=2);
        self.browse(&mut s, pages);
        self.log_in(b.p, install, s.t + MINUTE, false);
    }

    /// A family iPad: two accounts take turns, each logging in and out (with reset).
    fn family_ipad(&mut self, a: &Customer, b: &Customer) {
        let install = self.add_device_with_shop(DeviceKind::Ios, a.p, true);
        let mut t = self.between(a.signup.max(b.signup) + DAY, LAST_START - 40 * DAY);
        for turn in 0..self.rng.random_range(2..=4) {
            let p = if turn % 2 == 0 { a.p } else { b.p };
            let since = self.log_in(p, install, t, false);
            let user = self.unit.people[p].user_id.clone();
            let mut s = self.session(p, install, since + MINUTE, Some(user), Group::Main);
            let pages = self.rng.random_range(1..=3);
            let pages = self.scaled(pages, 1);
            self.browse(&mut s, pages);
            self.track(&mut s, "Signed Out", Props::default());
            self.unit.installs[install].reset(self.rng, DeviceKind::Ios);
            t = s.t + self.between(DAY, 7 * DAY);
        }
    }

    // ---- sessions and events ----------------------------------------------------------

    fn session(
        &mut self,
        p: usize,
        install: usize,
        t: Millis,
        user: Option<Text>,
        group: Group,
    ) -> Session {
        let landing = REFERRERS.choose(self.rng).copied().unwrap_or("");
        Session {
            p,
            install,
            t,
            user,
            group,
            buggy: false,
            page: None,
            landing: landing.into(),
            cart: None,
        }
    }

    /// `pages` page or screen views, some of products, some adding to the cart.
    fn browse(&mut self, s: &mut Session, pages: u32) {
        let web = self.kind_of(s.install) == DeviceKind::Web;
        for _ in 0..pages {
            if self.chance(0.3) {
                let product = self.product();
                if web {
                    let path = format!("/products/{}", product.slug);
                    self.page(
                        s,
                        "Product",
                        &path,
                        &format!("{} | Brightbasket", product.name),
                    );
                } else {
                    self.screen(
                        s,
                        "Product Detail",
                        Props::default().with("product_id", product.sku),
                    );
                }
                self.track(s, "Product Viewed", product_props(product));
                if self.chance(0.2) {
                    let cart = match &s.cart {
                        Some(cart) => cart.clone(),
                        None => {
                            let cart: Text = format!("cart_{}", hex(self.rng, 12)).into();
                            s.cart = Some(cart.clone());
                            cart
                        }
                    };
                    self.track(
                        s,
                        "Product Added",
                        product_props(product)
                            .with("cart_id", cart)
                            .with("quantity", Scalar::Int(1)),
                    );
                }
            } else if web {
                let &(name, path, title) =
                    BROWSE_PAGES.choose(self.rng).unwrap_or(&BROWSE_PAGES[0]);
                self.page(s, name, path, title);
            } else {
                let name = SHOP_SCREENS.choose(self.rng).copied().unwrap_or("Home");
                self.screen(s, name, Props::default());
            }
        }
    }

    /// Cart, checkout and a completed order. Returns when it was ordered and the order id.
    fn checkout(&mut self, s: &mut Session) -> (Millis, Text) {
        let items: Vec<(&'static Product, i64)> = (0..self.rng.random_range(1..=3))
            .map(|_| (self.product(), self.rng.random_range(1..=3)))
            .collect();
        if self.kind_of(s.install) == DeviceKind::Web {
            self.page(s, "Cart", "/cart", "Your cart | Brightbasket");
        } else {
            self.screen(s, "Cart", Props::default());
        }
        self.complete_order(s, &items)
    }

    fn complete_order(
        &mut self,
        s: &mut Session,
        items: &[(&'static Product, i64)],
    ) -> (Millis, Text) {
        let order_id: Text = format!("BB{:08}", self.rng.random_range(0..100_000_000u32)).into();
        let total: f64 = items.iter().map(|(p, q)| p.price * *q as f64).sum();
        let mut started = Props::default()
            .with("order_id", order_id.clone())
            .with("value", Scalar::Money(total))
            .with("currency", "USD");
        if let Some(cart) = &s.cart {
            started.push("cart_id", cart.clone());
        }
        self.track(s, "Checkout Started", started);
        if self.kind_of(s.install) == DeviceKind::Web {
            self.page(s, "Checkout", "/checkout", "Checkout | Brightbasket");
        } else {
            self.screen(s, "Checkout", Props::default());
        }
        let products = items
            .iter()
            .map(|&(p, q)| product_props(p).with("quantity", Scalar::Int(q)))
            .collect();
        let mut completed = Props::default()
            .with("order_id", order_id.clone())
            .with("total", Scalar::Money(total))
            .with("revenue", Scalar::Money(total))
            .with("currency", "USD")
            .with("products", Scalar::List(products));
        if let Some(cart) = &s.cart {
            completed.push("cart_id", cart.clone());
        }
        let at = s.t;
        self.track(s, "Order Completed", completed);
        (at, order_id)
    }

    fn page(&mut self, s: &mut Session, name: &'static str, path: &str, title: &str) {
        let referrer = match &s.page {
            Some(previous) => Text::from(previous.url()),
            None => s.landing.clone(),
        };
        s.page = Some(Arc::new(Page::new(path, title.to_string(), referrer)));
        let anonymous = (s.buggy && s.user.is_some() && self.chance(0.15)).then(|| self.junk());
        self.emit(s, None, anonymous, Payload::Page { name });
        s.t += self.between(8 * SECOND, 2 * MINUTE);
    }

    fn screen(&mut self, s: &mut Session, name: &'static str, props: Props) {
        self.emit(s, None, None, Payload::Screen { name, props });
        s.t += self.between(5 * SECOND, 90 * SECOND);
    }

    fn track(&mut self, s: &mut Session, event: &'static str, props: Props) {
        let user = (s.buggy && s.user.is_some() && self.chance(0.35)).then(|| self.junk());
        self.emit(s, user, None, Payload::Track { event, props });
        s.t += self.between(2 * SECOND, 40 * SECOND);
    }

    fn identify(&mut self, s: &mut Session, traits: Props) {
        self.emit(s, None, None, Payload::Identify { traits });
        s.t += self.between(SECOND, 5 * SECOND);
    }

    /// Plans a client event of session `s`; `user`/`anonymous` override the session's ids.
    fn emit(&mut self, s: &Session, user: Option<Text>, anonymous: Option<Text>, payload: Payload) {
        let kind = self.kind_of(s.install);
        let send_delay = match kind {
            DeviceKind::Web => self.between(150, 3 * SECOND),
            _ if self.chance(0.05) => self.between(10 * MINUTE, 6 * HOUR),
            _ => self.between(SECOND, 30 * SECOND),
        };
        let install = &self.unit.installs[s.install];
        self.unit.events.push(PlannedEvent {
            time: s.t,
            person: s.p,
            source: install.source,
            install: Some(s.install),
            user_id: user.or_else(|| s.user.clone()),
            anonymous_id: Some(anonymous.unwrap_or_else(|| install.anonymous_id.clone())),
            context_email: None,
            page: if kind == DeviceKind::Web {
                s.page.clone()
            } else {
                None
            },
            payload,
            group: s.group,
            send_delay,
        });
    }

    /// Plans a server-side track call by a tool that knows the person as `who`.
    fn server(&mut self, p: usize, who: &Known, t: Millis, event: &'static str, props: Props) {
        self.server_event(
            p,
            who,
            t,
            who.email.clone(),
            Payload::Track { event, props },
        );
    }

    /// Plans a server-side identify call (the e-mail goes in the traits).
    fn server_identify(&mut self, p: usize, who: &Known, t: Millis, traits: Props) {
        self.server_event(p, who, t, None, Payload::Identify { traits });
    }

    fn server_event(
        &mut self,
        p: usize,
        who: &Known,
        t: Millis,
        email: Option<Text>,
        payload: Payload,
    ) {
        let send_delay = self.between(50, 1500);
        self.unit.events.push(PlannedEvent {
            time: t,
            person: p,
            source: who.source,
            install: None,
            user_id: who.user.clone(),
            anonymous_id: who.anonymous.clone(),
            context_email: email,
            page: None,
            payload,
            group: Group::Main,
            send_delay,
        });
    }

    // ---- small helpers ----------------------------------------------------------------

    fn add_person(&mut self, index: u64) -> usize {
        let person = Person::new(self.rng, self.codes, index);
        self.unit.people.push(person);
        self.unit.people.len() - 1
    }

    /// A new device of `owner` with the shop app (or the website) on it.
    fn add_device_with_shop(&mut self, kind: DeviceKind, owner: usize, tablet: bool) -> usize {
        let device = Device::new(self.rng, kind, &self.unit.people[owner], tablet);
        self.unit.devices.push(device);
        let source = match kind {
            DeviceKind::Web => SourceId::Website,
            DeviceKind::Ios => SourceId::IosApp,
            DeviceKind::Android => SourceId::AndroidApp,
        };
        self.add_install(self.unit.devices.len() - 1, source)
    }

    fn add_install(&mut self, device: usize, source: SourceId) -> usize {
        let kind = self.unit.devices[device].kind;
        let install = Install::new(self.rng, device, kind, source);
        self.unit.installs.push(install);
        self.unit.installs.len() - 1
    }

    fn kind_of(&self, install: usize) -> DeviceKind {
        self.unit.devices[self.unit.installs[install].device].kind
    }

    /// The device a person signs up on: web, iPhone or Android.
    fn primary_kind(&mut self) -> (DeviceKind, bool) {
        match self.rng.random_range(0..20) {
            0..10 => (DeviceKind::Web, false),
            10..16 => (DeviceKind::Ios, false),
            _ => (DeviceKind::Android, false),
        }
    }

    /// Another device: a browser, a phone or an iPad.
    fn extra_kind(&mut self) -> (DeviceKind, bool) {
        match self.rng.random_range(0..20) {
            0..8 => (DeviceKind::Web, false),
            8..13 => (DeviceKind::Ios, false),
            13..18 => (DeviceKind::Android, false),
            _ => (DeviceKind::Ios, true),
        }
    }

    /// A logged-in shop install at time `t` (the sign-up install twice as likely).
    fn logged_in_install(&mut self, c: &Customer, t: Millis) -> usize {
        let ready: Vec<usize> = c
            .logins
            .iter()
            .filter(|&&(_, since)| since <= t)
            .map(|&(i, _)| i)
            .collect();
        if ready.is_empty() || self.chance(1.0 / (ready.len() as f64 + 1.0)) {
            c.logins[0].0
        } else {
            ready[self.rng.random_range(0..ready.len())]
        }
    }

    fn fragment(&mut self, reason: Unlinkable) -> Group {
        self.fragments += 1;
        Group::Fragment {
            id: self.fragments,
            reason,
        }
    }

    /// The person's e-mail at `t`, as a form or tool would send it.
    fn email_sent(&mut self, p: usize, t: Millis) -> Text {
        self.unit.people[p].email_as_sent(self.rng, t)
    }

    /// The e-mail the marketing tool uses at `t`: it learns about a change two weeks late.
    fn tool_email(&mut self, p: usize, t: Millis) -> Text {
        let stale = match &self.unit.people[p].changed_email {
            Some((since, _)) => t >= *since && t < *since + 14 * DAY,
            None => false,
        };
        if stale {
            self.unit.people[p].email.clone()
        } else {
            self.email_sent(p, t)
        }
    }

    fn junk(&mut self) -> Text {
        Text::from(JUNK_IDS.choose(self.rng).copied().unwrap_or("undefined"))
    }

    fn product(&mut self) -> &'static Product {
        PRODUCTS.choose(self.rng).unwrap_or(&PRODUCTS[0])
    }

    /// `n` scaled by the activity setting (rounded at random, so the expected value
    /// scales exactly), at least `min`.
    fn scaled(&mut self, n: u32, min: u32) -> u32 {
        let scaled = f64::from(n) * self.settings.activity;
        let whole = scaled.floor();
        let extra = u32::from(self.chance(scaled - whole));
        (whole as u32 + extra).max(min)
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p.clamp(0.0, 1.0))
    }

    /// A uniform duration or time in `[lo, hi)` (`lo` when the range is empty).
    fn between(&mut self, lo: Millis, hi: Millis) -> Millis {
        if hi <= lo {
            lo
        } else {
            self.rng.random_range(lo..hi)
        }
    }

    /// A start time: a random day of the first 300, in waking hours.
    fn day_start(&mut self) -> Millis {
        let day = self.rng.random_range(0..START_DAYS);
        let hour = self.rng.random_range(7..23);
        super::clock::YEAR_START + day * DAY + hour * HOUR + self.between(0, HOUR)
    }
}

/// The standard product properties of the e-commerce spec.
fn product_props(product: &'static Product) -> Props {
    Props::default()
        .with("product_id", product.sku)
        .with("sku", product.sku)
        .with("name", product.name)
        .with("category", product.category)
        .with("price", Scalar::Money(product.price))
}
