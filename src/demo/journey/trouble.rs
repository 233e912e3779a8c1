//! Trouble cases: e-mail changes, buggy clients sending junk ids, a browser shared without
//! anonymousId reset, and a family iPad.

use std::sync::Arc;

use rand::RngExt;

use super::{Customer, DAY, HOUR, LAST_START, MINUTE, Planner, SECOND};
use crate::demo::devices::DeviceKind;
use crate::demo::plan::{Group, Page, Payload, Props};
use crate::demo::truth::Unlinkable;

impl Planner<'_> {
    /// The e-mail-change trouble: a later identify with a new address.
    pub(super) fn change_email(&mut self, c: &Customer) {
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
    pub(super) fn buggy_client(&mut self, c: &mut Customer) {
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
            let referrer = s.page.as_ref().map_or("", |p| p.url());
            let title = "This week's deals | Brightbasket";
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

    /// A shared browser: A logs out but the client never resets its anonymousId, then B
    /// browses and logs in with A's anonymousId still in place.
    pub(super) fn logout_without_reset(&mut self, a: &Customer, b: &Customer) {
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
    pub(super) fn family_ipad(&mut self, a: &Customer, b: &Customer) {
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
}
