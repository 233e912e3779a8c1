//! Journeys of one person: anonymous visits, sign-up, logins on more devices, shopping,
//! the companion app, and the iPhone-to-Android cart hand-off.

use rand::RngExt;
use rand::seq::IndexedRandom;

use super::sessions::product_props;
use super::{Customer, DAY, HOUR, LAST_START, MINUTE, Planner, calendar_shift};
use crate::demo::catalog::RECIPES;
use crate::demo::devices::DeviceKind;
use crate::demo::ids::hex;
use crate::demo::plan::{Group, Props, Scalar, Text};
use crate::demo::sources::SourceId;
use crate::demo::truth::Unlinkable;
use crate::model::Millis;
use crate::model::time::format_time;

impl Planner<'_> {
    /// Someone who browses anonymously and never signs up.
    pub(super) fn visitor(&mut self, p: usize) {
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
    pub(super) fn customer(&mut self, p: usize) -> Customer {
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
            let (since, _) = self.log_in(p, install, t, true);
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
    pub(super) fn sign_up(&mut self, p: usize, install: usize, start: Millis) -> Millis {
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
            .with(
                "createdAt",
                format_time(s.t + calendar_shift(self.settings)),
            );
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
    /// time of the identify and the time after the login's last event.
    pub(super) fn log_in(
        &mut self,
        p: usize,
        install: usize,
        t: Millis,
        may_browse_first: bool,
    ) -> (Millis, Millis) {
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
        (at, s.t)
    }

    /// A logged-in shopping session, sometimes ending in an order.
    pub(super) fn shop_session(&mut self, c: &mut Customer, install: usize, t: Millis) {
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

    /// The companion recipes app on one of the person's phones or tablets.
    pub(super) fn companion_app(&mut self, c: &Customer) {
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
        let (since, _) = self.log_in(c.p, install, t, true);
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
    pub(super) fn cart_handoff(&mut self, c: &mut Customer) {
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
        let earliest = ios_since.max(android_since) + HOUR;
        let t = if self.settings.ends_at.is_some() {
            // Shown by the demo: a cart a day or two before the end, so some are checked
            // out on Android by then and some are still open.
            self.between(earliest.max(LAST_START - 60 * HOUR), LAST_START - 2 * HOUR)
        } else {
            self.between(earliest, LAST_START)
        };
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

    /// Anonymous browsing on a device the person never logs in on.
    pub(super) fn orphan_device(&mut self, c: &Customer) {
        let install = self.add_device_with_shop(DeviceKind::Web, c.p, false);
        let group = self.fragment(Unlinkable::DeviceNeverLoggedIn);
        for _ in 0..self.rng.random_range(1..=2) {
            let t = self.between(c.signup, LAST_START);
            let mut s = self.session(c.p, install, t, None, group);
            let pages = self.rng.random_range(1..=3);
            self.browse(&mut s, pages);
        }
    }
}
