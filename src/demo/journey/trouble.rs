//! Trouble cases: e-mail changes, buggy clients sending junk ids, a browser shared without
//! anonymousId reset, and a family iPad.

use std::collections::HashMap;
use std::sync::Arc;

use rand::RngExt;

use super::{Customer, DAY, HOUR, LAST_START, MINUTE, Planner, SECOND};
use crate::demo::devices::DeviceKind;
use crate::demo::plan::{Group, Page, Payload, PlannedEvent, Props, Scalar};
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
        let (since, logged_in) = self.log_in(a.p, install, t, false);
        let user = self.unit.people[a.p].user_id.clone();
        // The session (and its sign-out) follows everything the login sent.
        let start = (since + 2 * MINUTE).max(logged_in);
        let mut s = self.session(a.p, install, start, Some(user), Group::Main);
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
            let (since, logged_in) = self.log_in(p, install, t, false);
            let user = self.unit.people[p].user_id.clone();
            let start = (since + MINUTE).max(logged_in);
            let mut s = self.session(p, install, start, Some(user), Group::Main);
            let pages = self.rng.random_range(1..=3);
            let pages = self.scaled(pages, 1);
            self.browse(&mut s, pages);
            self.track(&mut s, "Signed Out", Props::default());
            self.unit.installs[install].reset(self.rng, DeviceKind::Ios);
            t = s.t + self.between(DAY, 7 * DAY);
        }
    }

    /// After a shared-team-mailbox unit is planned: the events of each colleague that tools
    /// knew only through the mailbox (a CRM lead, an e-mail contact, a desk requester never
    /// seen in the app) cannot be linked to the rest of the person once the mailbox is
    /// blocked; they become fragments, so the truth's recall ceiling stays exact.
    pub(super) fn cut_off_mailbox_contacts(&mut self, mailbox: &str) {
        for person in 0..self.unit.people.len() {
            let main: Vec<usize> = (0..self.unit.events.len())
                .filter(|&i| {
                    let e = &self.unit.events[i];
                    e.person == person && e.group == Group::Main
                })
                .collect();
            let mut links = Links::new(main.len());
            for (n, &i) in main.iter().enumerate() {
                for key in link_keys(&self.unit.events[i], mailbox) {
                    links.join(n, key);
                }
            }
            let known = main
                .iter()
                .position(|&i| self.unit.events[i].user_id.is_some())
                .map(|n| links.root(n));
            let mut fragments: HashMap<usize, Group> = HashMap::new();
            for (n, &i) in main.iter().enumerate() {
                let root = links.root(n);
                if Some(root) != known {
                    let group = *fragments
                        .entry(root)
                        .or_insert_with(|| self.fragment(Unlinkable::SharedMailboxOnly));
                    self.unit.events[i].group = group;
                }
            }
        }
    }
}

/// What links a planned event to others of its person under the default rules, leaving out
/// the (blocked) team mailbox.
fn link_keys(event: &PlannedEvent, mailbox: &str) -> Vec<String> {
    let mut keys = Vec::new();
    if let Some(user) = &event.user_id {
        keys.push(format!("user:{user}"));
    }
    if let Some(anonymous) = &event.anonymous_id {
        keys.push(format!("anonymous:{anonymous}"));
    }
    if let Some(install) = event.install {
        keys.push(format!("install:{install}"));
    }
    let traits = match &event.payload {
        Payload::Identify { traits } => Some(traits),
        _ => None,
    };
    let text = |key| match traits.and_then(|t| t.get(key)) {
        Some(Scalar::Text(text)) => Some(text.clone()),
        _ => None,
    };
    if let Some(phone) = text("phone") {
        keys.push(format!("phone:{phone}"));
    }
    for email in event.context_email.iter().chain(text("email").iter()) {
        let email = email.trim().to_lowercase();
        if email != mailbox {
            keys.push(format!("email:{email}"));
        }
    }
    keys
}

/// Union-find over event positions, joined through shared link keys.
struct Links {
    parent: Vec<usize>,
    first: HashMap<String, usize>,
}

impl Links {
    fn new(len: usize) -> Links {
        Links {
            parent: (0..len).collect(),
            first: HashMap::new(),
        }
    }

    fn root(&mut self, mut n: usize) -> usize {
        while self.parent[n] != n {
            self.parent[n] = self.parent[self.parent[n]];
            n = self.parent[n];
        }
        n
    }

    fn join(&mut self, n: usize, key: String) {
        match self.first.get(&key) {
            Some(&m) => {
                let (a, b) = (self.root(n), self.root(m));
                self.parent[a] = b;
            }
            None => {
                self.first.insert(key, n);
            }
        }
    }
}
