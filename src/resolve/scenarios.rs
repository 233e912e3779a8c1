//! Scenario tests of the pure resolution against DESIGN.md "Resolution semantics".
//!
//! A small simulator owns a [`WorkingGraph`], the compiled [`Rules`] of one space, a
//! profile-id counter and an ingest sequence, and feeds `serde_json::json!` events through
//! [`resolve`] and [`WorkingGraph::apply`] exactly as the store does. Each test below is one
//! rule of the specification, written as a short event sequence and the profiles expected.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::config::{Config, DEFAULT_SPACE, Rules};
use crate::model::time::{DAY, format_time};
use crate::model::{
    Event, Identifier, LinkRule, Millis, PinMark, Profile, ProfileId, ViolationReason,
};

use super::{Attribution, Decision, GraphView, WorkingGraph, resolve};

/// 2024-03-04T00:00:00Z, a Monday: day 0 of every scenario.
const BASE: Millis = 1_709_510_400_000;
/// One minute in milliseconds.
const MINUTE: Millis = 60_000;

/// The event time `day` days and `minute` minutes after [`BASE`], as RFC 3339 text.
fn at(day: i64, minute: i64) -> String {
    format_time(BASE + day * DAY + minute * MINUTE)
}

/// What happened to one ingested event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Its messageId was already stored.
    Duplicate,
    /// Every identifier was blocked: nothing to attribute it to.
    Unresolvable,
    /// Attributed to this profile.
    Attributed(ProfileId),
}

/// A recorded violation: the dropped identifier, why, and the event that carried it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Dropped {
    id: Identifier,
    reason: ViolationReason,
    message_id: String,
}

/// One space's identity graph driven through the pure resolution.
#[derive(Clone)]
struct Sim {
    graph: WorkingGraph,
    rules: Rules,
    next_profile: u64,
    seq: u64,
    /// The wall clock handed to `resolve` (only used for events without any time).
    now: Millis,
    violations: Vec<Dropped>,
    outcomes: Vec<Outcome>,
    /// Links the plans made, as `(from, to, rule, messageId)` text.
    links: Vec<(String, String, LinkRule, String)>,
    /// Identifiers some plan put in a profile.
    attributed_ids: BTreeSet<Identifier>,
    /// Every identifier resolution saw in a plan (attributed or not).
    touched: BTreeSet<Identifier>,
}

impl Sim {
    /// A space with the default rules.
    fn new() -> Sim {
        Sim::with_rules(Config::defaults().rules_for(DEFAULT_SPACE).unwrap())
    }

    /// A space with TOML settings laid over the defaults.
    fn with_toml(text: &str) -> Sim {
        let config = Config::from_toml_str(text, "scenario").unwrap();
        Sim::with_rules(config.rules_for(DEFAULT_SPACE).unwrap())
    }

    fn with_rules(rules: Rules) -> Sim {
        Sim {
            graph: WorkingGraph::new(),
            rules,
            next_profile: 1,
            seq: 0,
            now: BASE + 1_000 * DAY,
            violations: Vec::new(),
            outcomes: Vec::new(),
            links: Vec::new(),
            attributed_ids: BTreeSet::new(),
            touched: BTreeSet::new(),
        }
    }

    /// Ingests one event from the source `web`.
    fn ingest(&mut self, event: Value) -> Outcome {
        self.ingest_from("web", event)
    }

    /// Ingests several events in order from the source `web`.
    fn ingest_all(&mut self, events: impl IntoIterator<Item = Value>) -> Vec<Outcome> {
        events.into_iter().map(|e| self.ingest(e)).collect()
    }

    /// Ingests one event from a named source: resolve, then apply the plan.
    fn ingest_from(&mut self, source: &str, event: Value) -> Outcome {
        let event = Event::from_json(event).expect("scenario events are valid");
        let outcome = match resolve(&event, &self.rules, &self.graph, self.now) {
            Decision::Duplicate => Outcome::Duplicate,
            Decision::Unresolvable { violations } => {
                self.record(&event, violations);
                // The store keeps unresolvable events too, so their messageId is known.
                self.graph.load_seen(event.message_id.clone());
                Outcome::Unresolvable
            }
            Decision::Apply(plan) => {
                self.seq += 1;
                let traits = event.profile_traits();
                let attribution = Attribution {
                    seq: self.seq,
                    time: event.time().unwrap_or(self.now),
                    source,
                    message_id: &event.message_id,
                    traits: &traits,
                };
                let next = &mut self.next_profile;
                let mut next_id = || {
                    let id = ProfileId(*next);
                    *next += 1;
                    id
                };
                let profile = self.graph.apply(&plan, &attribution, &mut next_id);
                for (from, to, rule) in &plan.links {
                    self.links.push((
                        from.to_string(),
                        to.to_string(),
                        *rule,
                        event.message_id.clone(),
                    ));
                }
                self.attributed_ids.extend(plan.identifiers.iter().cloned());
                for id in &plan.released {
                    self.attributed_ids.remove(id);
                }
                self.touched.extend(plan.identifiers.iter().cloned());
                self.touched.extend(
                    plan.links
                        .iter()
                        .flat_map(|(a, b, _)| [a.clone(), b.clone()]),
                );
                self.record(&event, plan.violations);
                Outcome::Attributed(profile)
            }
        };
        self.outcomes.push(outcome);
        outcome
    }

    fn record(&mut self, event: &Event, violations: Vec<(Identifier, ViolationReason)>) {
        for (id, reason) in violations {
            self.violations.push(Dropped {
                id,
                reason,
                message_id: event.message_id.clone(),
            });
        }
    }

    /// The profile holding `type:value`, if any.
    fn owner(&self, id: &str) -> Option<ProfileId> {
        self.graph.profile_of(&Identifier::parse(id).unwrap())
    }

    /// The profile holding `type:value` (panics when none does).
    fn profile(&self, id: &str) -> &Profile {
        let owner = self
            .owner(id)
            .unwrap_or_else(|| panic!("no profile holds {id}"));
        self.graph
            .profile(owner)
            .expect("owners point at live profiles")
    }

    /// Whether two identifiers share a profile.
    fn same(&self, a: &str, b: &str) -> bool {
        match (self.owner(a), self.owner(b)) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        }
    }

    /// The identifiers of the profile holding `id`, sorted, as `type:value` text.
    fn ids_of(&self, id: &str) -> Vec<String> {
        self.profile(id)
            .sorted_identifiers()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    /// The live traits of the profile holding `id`.
    fn traits(&self, id: &str) -> Map<String, Value> {
        self.profile(id).trait_map()
    }

    /// Number of live profiles.
    fn profile_count(&self) -> usize {
        self.graph.len()
    }

    /// Violations recorded for `type:value`.
    fn violations_of(&self, id: &str) -> Vec<&Dropped> {
        let id = Identifier::parse(id).unwrap();
        self.violations.iter().filter(|d| d.id == id).collect()
    }

    /// Every profile, sorted by id, for whole-graph comparisons.
    fn snapshot(&self) -> Vec<Profile> {
        let mut profiles: Vec<Profile> = self.graph.profiles().cloned().collect();
        profiles.sort_by_key(|p| p.id);
        for p in &mut profiles {
            p.identifiers.sort_by(|a, b| a.id.cmp(&b.id));
        }
        profiles
    }

    /// Number of events attributed to a profile.
    fn attributed(&self) -> u64 {
        self.outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Attributed(_)))
            .count() as u64
    }

    /// Checks the graph's structural invariants; `Err` names the first one broken.
    fn check_invariants(&self) -> Result<(), String> {
        let mut holder: BTreeMap<&Identifier, ProfileId> = BTreeMap::new();
        for profile in self.graph.profiles() {
            for held in &profile.identifiers {
                if let Some(other) = holder.insert(&held.id, profile.id) {
                    return Err(format!("{} is held by {other} and {}", held.id, profile.id));
                }
                if self.graph.profile_of(&held.id) != Some(profile.id) {
                    return Err(format!(
                        "{} is listed by {} but owned by {:?}",
                        held.id,
                        profile.id,
                        self.graph.profile_of(&held.id)
                    ));
                }
                if held.first_seen > held.last_seen {
                    return Err(format!("{} first seen after last seen", held.id));
                }
            }
            if profile.created_at > profile.last_seen {
                return Err(format!("{} created after its last event", profile.id));
            }
            if profile.identifiers.len() > self.rules.max_identifiers as usize {
                return Err(format!("{} exceeds the identifier cap", profile.id));
            }
            if profile.merge_count > self.rules.max_merges {
                return Err(format!("{} exceeds the merge cap", profile.id));
            }
            let mut per_type: BTreeMap<&str, u32> = BTreeMap::new();
            for held in &profile.identifiers {
                *per_type.entry(&held.id.kind).or_default() += 1;
            }
            for (kind, n) in per_type {
                let limit = self.rules.limit(kind);
                if limit.window == crate::config::Window::Ever && n > limit.max {
                    return Err(format!(
                        "{} holds {n} {kind} (limit {})",
                        profile.id, limit.max
                    ));
                }
            }
        }
        // Every identifier resolution ever touched is owned by nobody (dropped) or by a live
        // profile that lists it; every identifier a plan attributed is owned.
        for id in self
            .touched
            .iter()
            .chain(self.violations.iter().map(|d| &d.id))
        {
            match self.graph.profile_of(id) {
                None if self.attributed_ids.contains(id) => {
                    return Err(format!("{id} was attributed but nobody owns it"));
                }
                None => {}
                Some(owner) => match self.graph.profile(owner) {
                    Some(p) if p.has(id) => {}
                    Some(_) => {
                        return Err(format!("{id} is owned by {owner}, which does not list it"));
                    }
                    None => return Err(format!("{id} is owned by a dead profile {owner}")),
                },
            }
        }
        // What the store would flush is consistent with the graph.
        for (id, owner) in self.graph.changed_owners() {
            let Some(owner) = owner else { continue };
            match self.graph.profile(owner) {
                Some(p) if p.has(id) => {}
                _ => return Err(format!("changed owner {id} -> {owner} is stale")),
            }
        }
        for removed in self.graph.removed_profiles() {
            if self.graph.has_profile(removed) {
                return Err(format!("{removed} is both removed and live"));
            }
        }
        for (cluster, owner) in self.graph.moved_clusters() {
            match self.graph.profile(owner) {
                Some(p) if p.clusters.contains(&cluster) => {}
                _ => {
                    return Err(format!(
                        "cluster {cluster} moved to {owner}, which lacks it"
                    ));
                }
            }
        }
        let counted: u64 = self.graph.profiles().map(|p| p.event_count).sum();
        if counted != self.attributed() {
            return Err(format!(
                "profiles count {counted} events, {} were attributed",
                self.attributed()
            ));
        }
        Ok(())
    }
}

/// Spaces routed by source, as the ingest layer does: each space is its own graph.
struct Spaces {
    config: Config,
    spaces: BTreeMap<String, Sim>,
}

impl Spaces {
    fn new(toml: &str) -> Spaces {
        let config = Config::from_toml_str(toml, "scenario").unwrap();
        let spaces = config
            .space_names()
            .into_iter()
            .map(|name| {
                let rules = config.rules_for(&name).unwrap();
                (name, Sim::with_rules(rules))
            })
            .collect();
        Spaces { config, spaces }
    }

    fn ingest(&mut self, source: &str, event: Value) -> Outcome {
        let space = self
            .config
            .source_by_name(source)
            .unwrap()
            .config
            .space
            .clone();
        self.spaces
            .get_mut(&space)
            .unwrap()
            .ingest_from(source, event)
    }

    fn space(&self, name: &str) -> &Sim {
        &self.spaces[name]
    }
}

fn id(text: &str) -> Identifier {
    Identifier::parse(text).unwrap()
}

// ---------------------------------------------------------------------------------------
// Anonymous to known, cross-device, cross-app, spaces
// ---------------------------------------------------------------------------------------

#[test]
fn anonymous_page_views_join_the_known_profile_on_identify_and_the_older_survives() {
    let mut sim = Sim::new();
    let first = sim.ingest(
        json!({"type": "page", "name": "Home", "anonymousId": "a1", "timestamp": at(0, 0)}),
    );
    sim.ingest(
        json!({"type": "page", "name": "Pricing", "anonymousId": "a1", "timestamp": at(0, 5)}),
    );
    // A separate known profile for the same user exists already, created later in event time.
    sim.ingest(
        json!({"type": "track", "event": "Signed Up", "userId": "u1", "timestamp": at(0, 9)}),
    );
    assert_eq!(sim.profile_count(), 2);

    sim.ingest(
        json!({"type": "identify", "anonymousId": "a1", "userId": "u1",
        "traits": {"email": "Ana@Acme.io", "name": "Ana"}, "timestamp": at(0, 10)}),
    );

    assert_eq!(sim.profile_count(), 1);
    assert_eq!(
        sim.ids_of("user_id:u1"),
        ["anonymous_id:a1", "email:ana@acme.io", "user_id:u1"]
    );
    let profile = sim.profile("email:ana@acme.io");
    assert_eq!(
        Outcome::Attributed(profile.id),
        first,
        "the anonymous (older) profile survives"
    );
    assert_eq!(profile.event_count, 4);
    assert_eq!(profile.merge_count, 1);
    assert_eq!(profile.created_at, BASE);
    assert_eq!(sim.traits("user_id:u1")["name"], "Ana");
    assert!(sim.violations.is_empty());
    sim.check_invariants().unwrap();
}

#[test]
fn a_second_device_joins_through_the_same_user_id() {
    let mut sim = Sim::new();
    sim.ingest(
        json!({"type": "identify", "userId": "u1", "anonymousId": "web-a",
        "traits": {"email": "ana@acme.io"}, "timestamp": at(0, 0)}),
    );
    // The phone browses anonymously first: its own profile.
    sim.ingest(
        json!({"type": "screen", "name": "Home", "anonymousId": "ios-a",
        "context": {"device": {"id": "IPHONE-1", "type": "ios"}}, "timestamp": at(1, 0)}),
    );
    assert!(!sim.same("ios.id:IPHONE-1", "user_id:u1"));
    // Logging in on the phone brings the device and its anonymousId over.
    sim.ingest(
        json!({"type": "identify", "userId": "u1", "anonymousId": "ios-a",
        "context": {"device": {"id": "IPHONE-1", "type": "ios"}}, "timestamp": at(1, 3)}),
    );
    // A third device logs in straight away.
    sim.ingest(
        json!({"type": "track", "event": "Opened", "userId": "u1", "anonymousId": "droid-a",
        "context": {"device": {"id": "PIXEL-7", "type": "android"}}, "timestamp": at(2, 0)}),
    );

    assert_eq!(sim.profile_count(), 1);
    assert_eq!(
        sim.ids_of("user_id:u1"),
        [
            "android.id:PIXEL-7",
            "anonymous_id:droid-a",
            "anonymous_id:ios-a",
            "anonymous_id:web-a",
            "email:ana@acme.io",
            "ios.id:IPHONE-1",
            "user_id:u1"
        ]
    );
    assert_eq!(sim.profile("ios.id:IPHONE-1").event_count, 4);
    sim.check_invariants().unwrap();
}

#[test]
fn two_apps_in_one_space_share_a_profile() {
    let mut spaces = Spaces::new(
        "[sources.shop-web]\nspace = \"shop\"\nchannel = \"web\"\n\
         [sources.shop-ios]\nspace = \"shop\"\nchannel = \"ios\"\n",
    );
    spaces.ingest(
        "shop-web",
        json!({"type": "identify", "userId": "u1", "anonymousId": "w1",
        "traits": {"email": "ana@acme.io"}, "timestamp": at(0, 0)}),
    );
    spaces.ingest("shop-ios", json!({"type": "screen", "name": "Cart", "userId": "u1",
        "anonymousId": "i1", "context": {"device": {"id": "D1", "type": "ios"}}, "timestamp": at(0, 30)}));
    let shop = spaces.space("shop");
    assert_eq!(shop.profile_count(), 1);
    assert!(shop.same("anonymous_id:w1", "ios.id:D1"));
    let profile = shop.profile("user_id:u1");
    assert_eq!(
        profile.identifier(&id("anonymous_id:w1")).unwrap().source,
        "shop-web"
    );
    assert_eq!(
        profile.identifier(&id("ios.id:D1")).unwrap().source,
        "shop-ios"
    );
    assert_eq!(spaces.space(DEFAULT_SPACE).profile_count(), 0);
}

#[test]
fn two_spaces_never_share_profiles_and_keep_their_own_rules() {
    let mut spaces = Spaces::new(
        "[sources.shop-web]\nspace = \"shop\"\n\
         [sources.crm]\nspace = \"b2b\"\n\
         [spaces.b2b.identity]\nalias_merges = true\n",
    );
    spaces.ingest(
        "shop-web",
        json!({"type": "identify", "userId": "u1", "anonymousId": "w1",
        "traits": {"email": "ana@acme.io"}, "timestamp": at(0, 0)}),
    );
    spaces.ingest(
        "crm",
        json!({"type": "identify", "userId": "u1",
        "traits": {"email": "ana@acme.io", "phone": "+4915112345678"}, "timestamp": at(0, 1)}),
    );
    spaces.ingest(
        "crm",
        json!({"type": "alias", "userId": "u1", "previousId": "lead-9", "timestamp": at(0, 2)}),
    );
    spaces.ingest(
        "shop-web",
        json!({"type": "alias", "userId": "u1", "previousId": "lead-9", "timestamp": at(0, 3)}),
    );

    let shop = spaces.space("shop");
    let b2b = spaces.space("b2b");
    assert_eq!(shop.profile_count(), 1);
    assert_eq!(b2b.profile_count(), 1);
    assert_eq!(
        shop.ids_of("user_id:u1"),
        ["anonymous_id:w1", "email:ana@acme.io", "user_id:u1"]
    );
    assert_eq!(
        b2b.ids_of("user_id:u1"),
        [
            "anonymous_id:lead-9",
            "email:ana@acme.io",
            "phone:+4915112345678",
            "user_id:u1"
        ]
    );
    assert_eq!(
        shop.owner("phone:+4915112345678"),
        None,
        "nothing leaks across spaces"
    );
    assert_eq!(b2b.owner("anonymous_id:w1"), None);
    assert_eq!(
        shop.owner("anonymous_id:lead-9"),
        None,
        "shop does not merge on alias"
    );
}

// ---------------------------------------------------------------------------------------
// Limits: shared devices, shared emails, junk, windows, caps
// ---------------------------------------------------------------------------------------

#[test]
fn a_shared_anonymous_id_after_logout_keeps_two_users_apart() {
    let mut sim = Sim::new();
    sim.ingest(
        json!({"type": "identify", "userId": "alice", "anonymousId": "laptop",
        "traits": {"email": "alice@acme.io"}, "timestamp": at(0, 0)}),
    );
    // Alice logs out without reset(); Bob logs in on the same browser.
    sim.ingest(
        json!({"type": "identify", "userId": "bob", "anonymousId": "laptop",
        "messageId": "bob-login", "traits": {"email": "bob@acme.io"}, "timestamp": at(0, 30)}),
    );
    sim.ingest(
        json!({"type": "track", "event": "Viewed", "userId": "bob", "anonymousId": "laptop",
        "timestamp": at(0, 31)}),
    );

    assert_eq!(sim.profile_count(), 2);
    assert!(!sim.same("user_id:alice", "user_id:bob"));
    assert_eq!(
        sim.ids_of("user_id:bob"),
        ["email:bob@acme.io", "user_id:bob"]
    );
    assert_eq!(sim.profile("user_id:bob").event_count, 2);
    assert!(
        sim.same("anonymous_id:laptop", "user_id:alice"),
        "the device stays with its first user"
    );
    let dropped = sim.violations_of("anonymous_id:laptop");
    assert_eq!(dropped.len(), 2);
    assert_eq!(dropped[0].message_id, "bob-login");
    assert_eq!(
        dropped[0].reason,
        ViolationReason::Limit {
            identifier_type: "user_id".into(),
            max: 1,
            window: "ever".into()
        }
    );
    sim.check_invariants().unwrap();
}

#[test]
fn signing_out_releases_the_browser_so_the_next_person_starts_afresh() {
    let mut sim = Sim::new();
    sim.ingest_all([
        json!({"type": "identify", "userId": "alice", "anonymousId": "laptop",
            "timestamp": at(0, 0)}),
        json!({"type": "page", "name": "Home", "userId": "alice", "anonymousId": "laptop",
            "timestamp": at(0, 1)}),
        // No reset() on logout: the browser keeps its anonymousId.
        json!({"type": "track", "event": "Signed Out", "userId": "alice",
            "anonymousId": "laptop", "messageId": "alice-out", "timestamp": at(0, 2)}),
        // Bob browses on the same browser, then logs in.
        json!({"type": "page", "name": "Deals", "anonymousId": "laptop", "timestamp": at(0, 30)}),
        json!({"type": "identify", "userId": "bob", "anonymousId": "laptop",
            "timestamp": at(0, 31)}),
    ]);

    assert_eq!(sim.profile_count(), 2);
    assert!(!sim.same("user_id:alice", "user_id:bob"));
    assert!(sim.same("anonymous_id:laptop", "user_id:bob"));
    assert_eq!(sim.profile("user_id:alice").event_count, 3);
    assert_eq!(
        sim.profile("user_id:bob").event_count,
        2,
        "Bob's visit is his"
    );
    assert_eq!(sim.ids_of("user_id:alice"), ["user_id:alice"]);
    let released = sim.violations_of("anonymous_id:laptop");
    assert_eq!(released.len(), 1);
    assert_eq!(released[0].message_id, "alice-out");
    assert_eq!(
        released[0].reason,
        ViolationReason::SignedOut {
            event: "Signed Out".into()
        }
    );
    sim.check_invariants().unwrap();
}

#[test]
fn a_family_ipad_passes_from_one_account_to_the_next() {
    let ipad = json!({"type": "ios", "id": "IPAD-1", "token": "push-1"});
    let mut sim = Sim::new();
    sim.ingest_all([
        json!({"type": "identify", "userId": "alice", "anonymousId": "a1",
            "context": {"device": ipad}, "timestamp": at(0, 0)}),
        json!({"type": "track", "event": "Logged Out", "userId": "alice", "anonymousId": "a1",
            "context": {"device": ipad}, "timestamp": at(0, 5)}),
        // The app resets its anonymousId; the device id stays.
        json!({"type": "screen", "name": "Log In", "anonymousId": "a2",
            "context": {"device": ipad}, "timestamp": at(1, 0)}),
        json!({"type": "identify", "userId": "bob", "anonymousId": "a2",
            "context": {"device": ipad}, "timestamp": at(1, 1)}),
    ]);

    assert_eq!(sim.profile_count(), 2);
    assert_eq!(sim.profile("user_id:bob").event_count, 2);
    assert_eq!(
        sim.ids_of("user_id:bob"),
        [
            "anonymous_id:a2",
            "ios.id:IPAD-1",
            "ios.push_token:push-1",
            "user_id:bob"
        ]
    );
    assert_eq!(sim.ids_of("user_id:alice"), ["user_id:alice"]);
    assert_eq!(sim.violations_of("ios.id:IPAD-1").len(), 1);
    sim.check_invariants().unwrap();
}

#[test]
fn a_user_who_signs_out_and_back_in_keeps_one_profile() {
    let mut sim = Sim::new();
    sim.ingest_all([
        json!({"type": "identify", "userId": "alice", "anonymousId": "laptop",
            "timestamp": at(0, 0)}),
        json!({"type": "track", "event": "signed out", "userId": "alice",
            "anonymousId": "laptop", "timestamp": at(0, 2)}),
        json!({"type": "page", "name": "Home", "anonymousId": "laptop", "timestamp": at(1, 0)}),
        json!({"type": "identify", "userId": "alice", "anonymousId": "laptop",
            "timestamp": at(1, 1)}),
    ]);

    assert_eq!(sim.profile_count(), 1);
    assert_eq!(sim.profile("user_id:alice").event_count, 4);
    assert_eq!(
        sim.ids_of("user_id:alice"),
        ["anonymous_id:laptop", "user_id:alice"]
    );
    sim.check_invariants().unwrap();
}

#[test]
fn sign_out_releases_nothing_when_anonymous_or_turned_off() {
    let events = [
        json!({"type": "identify", "userId": "alice", "anonymousId": "laptop",
            "timestamp": at(0, 0)}),
        json!({"type": "track", "event": "Signed Out", "anonymousId": "laptop",
            "timestamp": at(0, 1)}),
        json!({"type": "page", "name": "Home", "anonymousId": "laptop", "timestamp": at(0, 2)}),
    ];
    let mut sim = Sim::new();
    sim.ingest_all(events.clone());
    assert_eq!(
        sim.profile_count(),
        1,
        "an anonymous sign-out releases nothing"
    );

    let mut sim = Sim::with_toml("[identity]\nsign_out_events = []\n");
    sim.ingest_all([
        events[0].clone(),
        json!({"type": "track", "event": "Signed Out", "userId": "alice",
            "anonymousId": "laptop", "timestamp": at(0, 1)}),
        events[2].clone(),
    ]);
    assert_eq!(sim.profile_count(), 1);
    assert!(sim.same("anonymous_id:laptop", "user_id:alice"));
    sim.check_invariants().unwrap();
}

#[test]
fn a_shared_family_email_keeps_two_users_apart() {
    let mut sim = Sim::new();
    sim.ingest(json!({"type": "identify", "userId": "u1", "traits": {"email": "Smiths@Acme.io"}, "timestamp": at(0, 0)}));
    sim.ingest(json!({"type": "identify", "userId": "u2", "traits": {"email": "smiths@acme.io"}, "timestamp": at(0, 1)}));
    sim.ingest(
        json!({"type": "identify", "userId": "u2", "anonymousId": "a2",
        "traits": {"email": "smiths@acme.io"}, "timestamp": at(0, 2)}),
    );

    assert_eq!(sim.profile_count(), 2);
    assert!(!sim.same("user_id:u1", "user_id:u2"));
    assert!(sim.same("email:smiths@acme.io", "user_id:u1"));
    assert_eq!(sim.violations_of("email:smiths@acme.io").len(), 2);
    // As specified, the lowest-priority identifier is dropped first even when it is not the
    // one in conflict: the anonymousId goes before the email, and is recorded.
    assert_eq!(sim.ids_of("user_id:u2"), ["user_id:u2"]);
    assert_eq!(sim.violations_of("anonymous_id:a2").len(), 1);
    sim.check_invariants().unwrap();
}

#[test]
fn a_role_mailbox_is_blocked_by_default() {
    let mut sim = Sim::new();
    sim.ingest(json!({"type": "identify", "userId": "u1", "traits": {"email": "Office@Acme.io"}, "timestamp": at(0, 0)}));
    sim.ingest(json!({"type": "identify", "userId": "u2", "traits": {"email": "office@acme.io"}, "timestamp": at(0, 1)}));
    // A ticket written from the mailbox: nothing on it says which colleague wrote.
    sim.ingest(
        json!({"type": "track", "event": "Ticket Created", "anonymousId": "zd-1",
        "context": {"traits": {"email": "office@acme.io"}}, "timestamp": at(0, 2)}),
    );

    assert_eq!(sim.profile_count(), 3);
    assert!(!sim.same("user_id:u1", "user_id:u2"));
    assert_eq!(sim.ids_of("user_id:u1"), ["user_id:u1"]);
    assert_eq!(sim.ids_of("anonymous_id:zd-1"), ["anonymous_id:zd-1"]);
    let blocked = sim.violations_of("email:office@acme.io");
    assert_eq!(blocked.len(), 3);
    assert!(
        blocked
            .iter()
            .all(|v| matches!(v.reason, ViolationReason::Blocked { .. })),
        "{blocked:?}"
    );
    sim.check_invariants().unwrap();
}

#[test]
fn junk_values_are_never_identifiers_and_are_recorded_as_blocked() {
    let mut sim = Sim::new();
    let junk_users = [
        "undefined",
        "null",
        "[object Object]",
        "0",
        "-1",
        "",
        "  ",
        "NaN",
        "anonymous",
    ];
    for (i, junk) in junk_users.iter().enumerate() {
        sim.ingest(
            json!({"type": "track", "event": "x", "userId": junk, "anonymousId": format!("a{i}"),
            "timestamp": at(0, i as i64)}),
        );
    }
    // Numbers are read as text: 0 and -1 are junk too.
    sim.ingest(json!({"type": "track", "event": "x", "userId": 0, "anonymousId": "a-num", "timestamp": at(0, 20)}));
    sim.ingest(json!({"type": "track", "event": "x", "userId": -1, "anonymousId": "a-num2", "timestamp": at(0, 21)}));
    for (i, email) in [
        "test@test.com",
        "none@example.com",
        "asdf@foo.io",
        "x@mailinator.com",
    ]
    .iter()
    .enumerate()
    {
        sim.ingest(
            json!({"type": "identify", "anonymousId": format!("e{i}"), "traits": {"email": email},
            "timestamp": at(1, i as i64)}),
        );
    }
    // Nothing was merged through junk: every anonymousId is its own profile.
    assert_eq!(sim.profile_count(), junk_users.len() + 2 + 4);
    for profile in sim.graph.profiles() {
        assert_eq!(profile.identifiers.len(), 1, "{:?}", profile.identifiers);
        assert_eq!(profile.identifiers[0].id.kind, "anonymous_id");
    }
    assert_eq!(sim.violations.len(), junk_users.len() + 2 + 4);
    assert!(
        sim.violations
            .iter()
            .all(|d| matches!(d.reason, ViolationReason::Blocked { .. }))
    );
    assert_eq!(sim.violations_of("user_id:[object Object]").len(), 1);
    assert_eq!(sim.violations_of("email:test@test.com").len(), 1);

    // An event with nothing but junk cannot be attributed; its junk is still recorded.
    let outcome = sim.ingest(
        json!({"type": "page", "userId": "undefined", "anonymousId": "null",
        "messageId": "all-junk", "timestamp": at(2, 0)}),
    );
    assert_eq!(outcome, Outcome::Unresolvable);
    assert_eq!(
        sim.violations_of("anonymous_id:null")[0].message_id,
        "all-junk"
    );
    sim.check_invariants().unwrap();
}

const WEEKLY_EMAIL: &str = "[identity.types.email]\nlimit = 1\nwindow = \"weekly\"\n";

#[test]
fn weekly_limit_drops_a_second_email_within_the_week_and_accepts_it_after() {
    let mut sim = Sim::with_toml(WEEKLY_EMAIL);
    sim.ingest(json!({"type": "identify", "userId": "u1", "traits": {"email": "one@acme.io"}, "timestamp": at(0, 0)}));
    sim.ingest(
        json!({"type": "identify", "userId": "u1", "traits": {"email": "two@acme.io"},
        "messageId": "too-soon", "timestamp": at(6, 0)}),
    );
    assert_eq!(
        sim.ids_of("user_id:u1"),
        ["email:one@acme.io", "user_id:u1"]
    );
    assert_eq!(sim.owner("email:two@acme.io"), None);
    let dropped = sim.violations_of("email:two@acme.io");
    assert_eq!(dropped.len(), 1);
    assert_eq!(
        dropped[0].reason,
        ViolationReason::Limit {
            identifier_type: "email".into(),
            max: 1,
            window: "weekly".into()
        }
    );
    assert_eq!(
        sim.profile("user_id:u1").event_count,
        2,
        "the event is still attributed"
    );

    sim.ingest(json!({"type": "identify", "userId": "u1", "traits": {"email": "two@acme.io"}, "timestamp": at(8, 0)}));
    assert_eq!(
        sim.ids_of("user_id:u1"),
        ["email:one@acme.io", "email:two@acme.io", "user_id:u1"]
    );
    sim.check_invariants().unwrap();
}

#[test]
fn by_default_anonymous_ids_count_over_a_week_so_a_long_life_collects_many() {
    let mut sim = Sim::new();
    // A new browser or install every ten days for a year: one person, one profile.
    for n in 0..36 {
        sim.ingest(
            json!({"type": "identify", "userId": "u1", "anonymousId": format!("a{n}"),
            "timestamp": at(10 * n, 0)}),
        );
    }
    assert_eq!(sim.ids_of("user_id:u1").len(), 37);
    assert!(sim.violations.is_empty());
    // Six in one week are more than a person has: the sixth is dropped.
    for n in 0..6 {
        sim.ingest(
            json!({"type": "identify", "userId": "u2", "anonymousId": format!("b{n}"),
            "timestamp": at(0, n)}),
        );
    }
    assert_eq!(sim.ids_of("user_id:u2").len(), 6);
    assert_eq!(
        sim.violations_of("anonymous_id:b5")[0].reason,
        ViolationReason::Limit {
            identifier_type: "anonymous_id".into(),
            max: 5,
            window: "weekly".into()
        }
    );
    sim.check_invariants().unwrap();
}

#[test]
fn windows_are_measured_on_event_time_so_replay_is_identical() {
    let events = vec![
        json!({"type": "identify", "userId": "u1", "traits": {"email": "one@acme.io"}, "timestamp": at(0, 0)}),
        json!({"type": "identify", "userId": "u1", "traits": {"email": "two@acme.io"}, "timestamp": at(3, 0)}),
        json!({"type": "identify", "userId": "u1", "traits": {"email": "three@acme.io"}, "timestamp": at(9, 0)}),
    ];
    let mut live = Sim::with_toml(WEEKLY_EMAIL);
    live.now = BASE + 9 * DAY;
    live.ingest_all(events.clone());
    // A replay a year later gives the same graph: no wall clock is involved.
    let mut replay = Sim::with_toml(WEEKLY_EMAIL);
    replay.now = BASE + 400 * DAY;
    replay.ingest_all(events);
    assert_eq!(live.snapshot(), replay.snapshot());
    assert_eq!(live.violations, replay.violations);
    assert_eq!(
        live.ids_of("user_id:u1"),
        ["email:one@acme.io", "email:three@acme.io", "user_id:u1"]
    );
}

#[test]
fn windows_look_both_ways_so_a_late_old_event_is_judged_by_its_own_time() {
    // The newer email arrives first; an email from ten days earlier arrives late. A weekly
    // window around the late event does not contain the newer email, so it is accepted —
    // just as it would have been had the events arrived in time order.
    let mut late = Sim::with_toml(WEEKLY_EMAIL);
    late.ingest(json!({"type": "identify", "userId": "u1", "traits": {"email": "new@acme.io"}, "timestamp": at(10, 0)}));
    late.ingest(json!({"type": "identify", "userId": "u1", "traits": {"email": "old@acme.io"}, "timestamp": at(0, 0)}));
    assert_eq!(
        late.ids_of("user_id:u1"),
        ["email:new@acme.io", "email:old@acme.io", "user_id:u1"]
    );
    assert!(late.violations.is_empty(), "{:?}", late.violations);

    // But a late email from two days before the newer one is within its week: dropped.
    late.ingest(json!({"type": "identify", "userId": "u1", "traits": {"email": "mid@acme.io"}, "timestamp": at(8, 0)}));
    assert_eq!(late.owner("email:mid@acme.io"), None);
    assert_eq!(late.violations_of("email:mid@acme.io").len(), 1);
}

#[test]
fn merge_cap_stops_merging_but_events_are_still_attributed() {
    let mut sim = Sim::with_toml("[identity]\nmax_merges = 2\n");
    for i in 0..4 {
        sim.ingest(
            json!({"type": "page", "anonymousId": format!("a{i}"), "timestamp": at(0, i),
            "context": {"device": {"id": format!("D{i}")}}}),
        );
    }
    assert_eq!(sim.profile_count(), 4);
    sim.ingest(
        json!({"type": "identify", "userId": "u1", "anonymousId": "a0", "timestamp": at(1, 0)}),
    );
    // Each login from another device merges one anonymous profile...
    sim.ingest(json!({"type": "track", "event": "Login", "userId": "u1", "anonymousId": "a1", "timestamp": at(1, 1)}));
    sim.ingest(json!({"type": "track", "event": "Login", "userId": "u1", "anonymousId": "a2", "timestamp": at(1, 2)}));
    assert_eq!(sim.profile("user_id:u1").merge_count, 2);
    // ...until the cap: the third stays apart, but the event still counts for the user.
    let outcome = sim.ingest(json!({"type": "track", "event": "Login", "userId": "u1",
        "context": {"device": {"id": "D3"}}, "messageId": "capped", "timestamp": at(1, 3)}));
    assert_eq!(
        outcome,
        Outcome::Attributed(sim.owner("user_id:u1").unwrap())
    );
    assert_eq!(sim.profile_count(), 2);
    assert!(!sim.same("user_id:u1", "anonymous_id:a3"));
    let user = sim.profile("user_id:u1");
    assert_eq!(user.merge_count, 2);
    assert_eq!(user.event_count, 3 + 4);
    let dropped = sim.violations_of("device_id:D3");
    assert_eq!(
        dropped.len(),
        1,
        "the event's identifier that could not merge is recorded"
    );
    assert!(
        sim.violations_of("anonymous_id:a3").is_empty(),
        "not some other identifier"
    );
    assert_eq!(dropped[0].message_id, "capped");
    assert!(matches!(
        dropped[0].reason,
        ViolationReason::MergeCap { .. }
    ));
    sim.check_invariants().unwrap();
}

#[test]
fn identifier_cap_stops_growth_but_events_are_still_attributed() {
    let mut sim = Sim::with_toml("[identity]\nmax_identifiers = 3\n");
    sim.ingest(
        json!({"type": "identify", "userId": "u1", "anonymousId": "a1",
        "traits": {"email": "one@acme.io"}, "timestamp": at(0, 0)}),
    );
    sim.ingest(json!({"type": "track", "event": "x", "userId": "u1", "anonymousId": "a2", "timestamp": at(0, 1)}));
    assert_eq!(
        sim.ids_of("user_id:u1"),
        ["anonymous_id:a1", "email:one@acme.io", "user_id:u1"]
    );
    assert_eq!(sim.profile("user_id:u1").event_count, 2);
    assert!(matches!(
        sim.violations_of("anonymous_id:a2")[0].reason,
        ViolationReason::MergeCap { .. }
    ));
    // A profile that would push the union over the cap is not merged either.
    sim.ingest(json!({"type": "page", "anonymousId": "a3", "timestamp": at(0, 2)}));
    sim.ingest(json!({"type": "page", "userId": "u1", "anonymousId": "a3", "timestamp": at(0, 3)}));
    assert!(!sim.same("user_id:u1", "anonymous_id:a3"));
    assert_eq!(sim.profile("user_id:u1").event_count, 3);
    sim.check_invariants().unwrap();
}

// ---------------------------------------------------------------------------------------
// Traits
// ---------------------------------------------------------------------------------------

#[test]
fn newest_trait_wins_by_event_time_regardless_of_arrival_order() {
    let newer = json!({"type": "identify", "userId": "u1", "traits": {"plan": "pro"}, "timestamp": at(0, 10)});
    let older = json!({"type": "identify", "userId": "u1", "traits": {"plan": "free", "name": "Ana"}, "timestamp": at(0, 0)});
    for order in [
        [newer.clone(), older.clone()],
        [older.clone(), newer.clone()],
    ] {
        let mut sim = Sim::new();
        sim.ingest_all(order);
        assert_eq!(
            sim.traits("user_id:u1"),
            *json!({"plan": "pro", "name": "Ana"}).as_object().unwrap()
        );
    }
}

#[test]
fn null_removes_a_trait_and_an_empty_string_sets_it_empty() {
    let mut sim = Sim::new();
    sim.ingest(json!({"type": "identify", "userId": "u1", "traits": {"company": "Acme", "title": "CTO"}, "timestamp": at(0, 0)}));
    sim.ingest(json!({"type": "identify", "userId": "u1", "traits": {"company": null, "title": ""}, "timestamp": at(0, 1)}));
    // An older event arriving late cannot resurrect the removed trait.
    sim.ingest(
        json!({"type": "identify", "userId": "u1", "traits": {"company": "Initech"},
        "context": {"traits": {"title": "Intern"}}, "timestamp": at(0, 0)}),
    );
    assert_eq!(
        sim.traits("user_id:u1"),
        *json!({"title": ""}).as_object().unwrap()
    );
    // context.traits count for identify calls; other calls never set traits.
    sim.ingest(json!({"type": "identify", "userId": "u1", "context": {"traits": {"title": "CEO"}}, "timestamp": at(0, 2)}));
    sim.ingest(json!({"type": "track", "event": "x", "userId": "u1", "context": {"traits": {"title": "Janitor"}}, "timestamp": at(0, 3)}));
    assert_eq!(sim.traits("user_id:u1")["title"], "CEO");
}

#[test]
fn a_merge_keeps_the_newest_value_of_each_trait() {
    let mut sim = Sim::new();
    // The anonymous profile is older but has the newest "plan"; the known one the newest "name".
    sim.ingest(json!({"type": "identify", "anonymousId": "a1", "traits": {"plan": "trial", "name": "A."}, "timestamp": at(0, 0)}));
    sim.ingest(json!({"type": "identify", "userId": "u1", "traits": {"plan": "free", "name": "Ana", "city": "Oslo"}, "timestamp": at(0, 5)}));
    sim.ingest(json!({"type": "identify", "anonymousId": "a1", "traits": {"plan": "pro", "city": null}, "timestamp": at(0, 8)}));
    sim.ingest(json!({"type": "track", "event": "Login", "userId": "u1", "anonymousId": "a1", "timestamp": at(0, 9)}));
    assert_eq!(sim.profile_count(), 1);
    assert_eq!(
        sim.traits("user_id:u1"),
        *json!({"name": "Ana", "plan": "pro"}).as_object().unwrap()
    );
}

// ---------------------------------------------------------------------------------------
// Alias, externalIds, idempotence, priorities, survivors, multi-merge, pins
// ---------------------------------------------------------------------------------------

fn alias_journey() -> Vec<Value> {
    vec![
        json!({"type": "page", "anonymousId": "anon-9", "timestamp": at(0, 0)}),
        json!({"type": "identify", "userId": "u1", "traits": {"email": "ana@acme.io"}, "timestamp": at(0, 5)}),
        json!({"type": "alias", "userId": "u1", "previousId": "anon-9", "messageId": "alias-1", "timestamp": at(0, 6)}),
    ]
}

#[test]
fn alias_does_not_link_by_default() {
    let mut sim = Sim::new();
    sim.ingest_all(alias_journey());
    assert_eq!(sim.profile_count(), 2);
    assert!(!sim.same("anonymous_id:anon-9", "user_id:u1"));
    assert_eq!(
        sim.profile("user_id:u1").event_count,
        2,
        "the alias call is still attributed by its userId"
    );
}

#[test]
fn alias_links_when_enabled_but_stays_within_limits() {
    let mut sim = Sim::with_toml("[identity]\nalias_merges = true\n");
    sim.ingest_all(alias_journey());
    assert_eq!(sim.profile_count(), 1);
    assert!(sim.same("anonymous_id:anon-9", "user_id:u1"));
    // Aliasing one known user to another would put two user_ids in one profile: refused.
    sim.ingest(json!({"type": "identify", "userId": "u2", "timestamp": at(1, 0)}));
    sim.ingest(json!({"type": "alias", "userId": "u2", "previousId": "u1", "messageId": "alias-2", "timestamp": at(1, 1)}));
    assert_eq!(sim.profile_count(), 2);
    assert!(!sim.same("user_id:u1", "user_id:u2"));
    let dropped = sim.violations_of("user_id:u1");
    assert_eq!(dropped.len(), 1);
    assert_eq!(dropped[0].message_id, "alias-2");
    sim.check_invariants().unwrap();
}

#[test]
fn external_ids_in_the_users_collection_are_identifiers() {
    let mut sim = Sim::new();
    sim.ingest(json!({"type": "identify", "userId": "u1", "timestamp": at(0, 0),
        "context": {"externalIds": [
            {"id": "cus_123", "type": "stripe_customer_id", "collection": "users", "encoding": "none"},
            {"id": "Ana@Acme.io", "type": "email", "collection": "users"},
            {"id": "acct_9", "type": "account_id", "collection": "accounts"}
        ]}}));
    assert_eq!(
        sim.ids_of("user_id:u1"),
        [
            "email:ana@acme.io",
            "stripe_customer_id:cus_123",
            "user_id:u1"
        ]
    );
    // A support tool that only knows the Stripe customer reaches the same person.
    sim.ingest(json!({"type": "track", "event": "Ticket Opened", "anonymousId": "zendesk-77", "timestamp": at(1, 0),
        "context": {"externalIds": [{"id": "cus_123", "type": "stripe_customer_id", "collection": "users"}]}}));
    assert!(sim.same("anonymous_id:zendesk-77", "user_id:u1"));
    assert_eq!(sim.owner("account_id:acct_9"), None);
}

#[test]
fn reingesting_the_same_events_changes_nothing() {
    let events = vec![
        json!({"type": "page", "anonymousId": "a1", "timestamp": at(0, 0)}),
        json!({"type": "identify", "anonymousId": "a1", "userId": "u1", "traits": {"plan": "free"}, "timestamp": at(0, 1)}),
        json!({"type": "identify", "anonymousId": "a1", "userId": "u2", "messageId": "m-u2", "traits": {"plan": "pro"}, "timestamp": at(0, 2)}),
        json!({"type": "track", "event": "x", "userId": "undefined", "anonymousId": "a2", "messageId": "m-junk", "timestamp": at(0, 3)}),
    ];
    let mut sim = Sim::new();
    sim.ingest_all(events.clone());
    let before = sim.snapshot();
    let violations = sim.violations.clone();
    let mut again = events;
    again.reverse();
    assert_eq!(sim.ingest_all(again), vec![Outcome::Duplicate; 4]);
    assert_eq!(sim.snapshot(), before);
    assert_eq!(sim.violations, violations);
    // The same messageId with different content is a duplicate too.
    let outcome = sim.ingest(
        json!({"type": "identify", "userId": "u1", "messageId": "m-u2",
        "traits": {"plan": "enterprise"}, "timestamp": at(5, 0)}),
    );
    assert_eq!(outcome, Outcome::Duplicate);
    assert_eq!(sim.traits("user_id:u1")["plan"], "free");
}

#[test]
fn identifiers_are_dropped_lowest_priority_first() {
    let mut sim = Sim::new();
    // One profile for "owner" holding one of each type.
    sim.ingest(
        json!({"type": "identify", "userId": "owner", "anonymousId": "a1", "timestamp": at(0, 0),
        "traits": {"email": "o@acme.io", "phone": "+4915100000001"},
        "context": {"device": {"id": "D1", "type": "ios"}}}),
    );
    // Another user's event carries all of them: each is dropped in priority order until no
    // conflict is left — phone, ios.id, anonymous_id (alphabetically after email), email.
    sim.ingest(
        json!({"type": "identify", "userId": "intruder", "anonymousId": "a1", "timestamp": at(0, 1),
        "messageId": "intruder", "traits": {"email": "o@acme.io", "phone": "+4915100000001"},
        "context": {"device": {"id": "D1", "type": "ios"}}}),
    );
    let order: Vec<String> = sim.violations.iter().map(|d| d.id.kind.clone()).collect();
    assert_eq!(order, ["phone", "ios.id", "anonymous_id", "email"]);
    assert_eq!(sim.ids_of("user_id:intruder"), ["user_id:intruder"]);
    assert_eq!(sim.profile_count(), 2);

    // When dropping a low-priority identifier is enough, the rest still link.
    sim.ingest(
        json!({"type": "identify", "userId": "owner", "anonymousId": "a9", "timestamp": at(0, 2),
        "traits": {"email": "new@acme.io"}}),
    );
    sim.ingest(json!({"type": "page", "anonymousId": "a9", "context": {"device": {"id": "D2"}}, "timestamp": at(0, 3)}));
    sim.ingest(
        json!({"type": "track", "event": "x", "userId": "intruder", "timestamp": at(0, 4),
        "anonymousId": "a-int", "context": {"device": {"id": "D2"}}}),
    );
    assert!(sim.same("anonymous_id:a-int", "user_id:intruder"));
    assert!(sim.same("device_id:D2", "user_id:owner"));
    assert_eq!(sim.violations.last().unwrap().id, id("device_id:D2"));
    sim.check_invariants().unwrap();
}

#[test]
fn the_older_profile_survives_even_when_it_arrived_later() {
    let mut sim = Sim::new();
    let young = sim.ingest(json!({"type": "identify", "userId": "u1", "traits": {"email": "ana@acme.io"}, "timestamp": at(5, 0)}));
    let old = sim.ingest(json!({"type": "page", "anonymousId": "a1", "timestamp": at(1, 0)}));
    assert_eq!(
        (young, old),
        (
            Outcome::Attributed(ProfileId(1)),
            Outcome::Attributed(ProfileId(2))
        )
    );
    sim.ingest(json!({"type": "track", "event": "x", "userId": "u1", "anonymousId": "a1", "timestamp": at(6, 0)}));
    let survivor = sim.profile("user_id:u1");
    assert_eq!(
        survivor.id,
        ProfileId(2),
        "p2 saw the first event, so it survives"
    );
    assert_eq!(survivor.created_at, BASE + DAY);
    assert!(!sim.graph.has_profile(ProfileId(1)));
    assert!(sim.graph.was_removed(ProfileId(1)));
    // A late event older than both moves the profile's start, not its identity.
    sim.ingest(json!({"type": "page", "userId": "u1", "timestamp": at(0, 0)}));
    assert_eq!(sim.profile("user_id:u1").created_at, BASE);
    sim.check_invariants().unwrap();
}

#[test]
fn three_profiles_merge_at_once_into_the_oldest() {
    let mut sim = Sim::new();
    sim.ingest(json!({"type": "identify", "anonymousId": "a3", "traits": {"email": "ana@acme.io", "name": "Ana"}, "timestamp": at(0, 30)}));
    sim.ingest(json!({"type": "page", "anonymousId": "a1", "timestamp": at(0, 0)}));
    sim.ingest(json!({"type": "screen", "anonymousId": "a2", "context": {"device": {"id": "D2", "type": "android"}}, "timestamp": at(0, 20)}));
    assert_eq!(sim.profile_count(), 3);
    let oldest = sim.owner("anonymous_id:a1").unwrap();
    sim.ingest(json!({"type": "identify", "userId": "u1", "anonymousId": "a1", "timestamp": at(1, 0),
        "traits": {"email": "ana@acme.io"}, "context": {"device": {"id": "D2", "type": "android"}}}));
    assert_eq!(sim.profile_count(), 1);
    let profile = sim.profile("user_id:u1");
    assert_eq!(profile.id, oldest);
    assert_eq!(profile.merge_count, 2);
    assert_eq!(profile.event_count, 4);
    assert_eq!(
        sim.ids_of("user_id:u1"),
        [
            "android.id:D2",
            "anonymous_id:a1",
            "anonymous_id:a2",
            "anonymous_id:a3",
            "email:ana@acme.io",
            "user_id:u1"
        ]
    );
    assert_eq!(sim.traits("anonymous_id:a2")["name"], "Ana");
    sim.check_invariants().unwrap();
}

#[test]
fn pins_from_a_split_keep_later_events_from_re_merging() {
    let mut sim = Sim::new();
    sim.ingest(
        json!({"type": "identify", "userId": "u1", "anonymousId": "kiosk", "timestamp": at(0, 0),
        "traits": {"email": "ana@acme.io"}}),
    );
    // Someone splits the shared kiosk browser out of Ana's profile (split op #7).
    let mut ana = sim.profile("user_id:u1").clone();
    let mut kiosk = Profile::new(ProfileId(100), BASE);
    let held = ana
        .identifiers
        .iter()
        .position(|h| h.id == id("anonymous_id:kiosk"))
        .unwrap();
    let mut moved = ana.identifiers.remove(held);
    moved.pins.push(PinMark { op: 7, side: 1 });
    kiosk.identifiers.push(moved);
    for stayed in &mut ana.identifiers {
        stayed.pins.push(PinMark { op: 7, side: 0 });
    }
    sim.graph.put_profile(ana);
    sim.graph.put_profile(kiosk);
    assert!(!sim.same("user_id:u1", "anonymous_id:kiosk"));

    // Later events carrying both sides do not re-merge them.
    sim.ingest(
        json!({"type": "track", "event": "x", "userId": "u1", "anonymousId": "kiosk",
        "messageId": "again", "timestamp": at(1, 0)}),
    );
    sim.ingest(json!({"type": "identify", "anonymousId": "kiosk", "traits": {"email": "ana@acme.io"}, "timestamp": at(1, 1)}));
    assert!(!sim.same("user_id:u1", "anonymous_id:kiosk"));
    let dropped = sim.violations_of("anonymous_id:kiosk");
    assert_eq!(dropped[0].message_id, "again");
    assert_eq!(dropped[0].reason, ViolationReason::Pinned { op: 7 });
    // Not even through a third, unpinned profile.
    sim.ingest(json!({"type": "page", "anonymousId": "bridge", "context": {"device": {"id": "B1"}}, "timestamp": at(2, 0)}));
    sim.ingest(json!({"type": "page", "anonymousId": "kiosk", "context": {"device": {"id": "B1"}}, "timestamp": at(2, 1)}));
    sim.ingest(
        json!({"type": "page", "userId": "u1", "anonymousId": "bridge", "timestamp": at(2, 2)}),
    );
    assert!(!sim.same("user_id:u1", "anonymous_id:kiosk"));
    assert!(sim.same("device_id:B1", "anonymous_id:kiosk"));
    // Identifiers on the same side still join freely.
    sim.ingest(json!({"type": "track", "event": "y", "userId": "u1", "anonymousId": "phone", "timestamp": at(3, 0)}));
    assert!(sim.same("user_id:u1", "anonymous_id:phone"));
}

#[test]
fn every_link_names_the_event_and_rule_that_made_it() {
    let mut sim = Sim::with_toml("[identity]\nalias_merges = true\n");
    sim.ingest(
        json!({"type": "page", "anonymousId": "a1", "messageId": "view", "timestamp": at(0, 0)}),
    );
    sim.ingest(
        json!({"type": "identify", "userId": "u1", "messageId": "signup",
        "traits": {"email": "ana@acme.io"}, "timestamp": at(0, 1)}),
    );
    sim.ingest(
        json!({"type": "track", "event": "Login", "userId": "u1", "anonymousId": "a1",
        "messageId": "login", "timestamp": at(0, 2)}),
    );
    sim.ingest(
        json!({"type": "alias", "userId": "u1", "previousId": "lead-7", "messageId": "alias",
        "timestamp": at(0, 3)}),
    );
    sim.ingest(
        json!({"type": "track", "event": "Login", "userId": "u1", "anonymousId": "a1",
        "messageId": "known", "timestamp": at(0, 4)}),
    );
    let link = |from: &str, to: &str, rule, message: &str| {
        (from.to_string(), to.to_string(), rule, message.to_string())
    };
    assert_eq!(
        sim.links,
        [
            link(
                "user_id:u1",
                "email:ana@acme.io",
                LinkRule::SameEvent,
                "signup"
            ),
            // The anonymous profile is older: it survives, and the link starts from it.
            link("anonymous_id:a1", "user_id:u1", LinkRule::Merge, "login"),
            link(
                "user_id:u1",
                "anonymous_id:lead-7",
                LinkRule::Alias,
                "alias"
            ),
        ]
    );
}

#[test]
fn a_manual_merge_preview_shows_the_survivor_and_the_rules_it_would_break() {
    let mut sim = Sim::with_toml("[identity]\nmax_merges = 1\n");
    sim.ingest(json!({"type": "identify", "userId": "u1", "traits": {"name": "Ana"}, "timestamp": at(1, 0)}));
    sim.ingest(json!({"type": "identify", "userId": "u2", "traits": {"name": "Bo"}, "timestamp": at(2, 0)}));
    sim.ingest(json!({"type": "page", "anonymousId": "a1", "timestamp": at(0, 0)}));
    let (u1, u2, a1) = (
        sim.profile("user_id:u1").clone(),
        sim.profile("user_id:u2").clone(),
        sim.profile("anonymous_id:a1").clone(),
    );
    let now = BASE + 3 * DAY;
    // Anonymous + known: clean, and the anonymous profile is older.
    let clean = super::preview_merge(&u1, &a1, &sim.rules, now);
    assert_eq!((clean.survivor, clean.absorbed), (a1.id, u1.id));
    assert!(clean.conflicts.is_empty());
    assert_eq!(clean.result.trait_text("name").as_deref(), Some("Ana"));
    assert_eq!(clean.result.event_count, 2);
    // Two users: the user_id limit would break (a forced merge records the override).
    let users = super::preview_merge(&u2, &u1, &sim.rules, now);
    assert_eq!(users.survivor, u1.id);
    assert_eq!(
        users.conflicts,
        [ViolationReason::Limit {
            identifier_type: "user_id".into(),
            max: 1,
            window: "ever".into()
        }]
    );
    // A profile at its merge cap reports the cap.
    let mut capped = clean.result.clone();
    capped.merge_count = 1;
    let over = super::preview_merge(&capped, &u2, &sim.rules, now);
    assert!(
        over.conflicts
            .iter()
            .any(|c| matches!(c, ViolationReason::MergeCap { .. }))
    );
}

// ---------------------------------------------------------------------------------------
// Properties over generated event streams
// ---------------------------------------------------------------------------------------

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Small pools so that collisions (shared devices, emails, anonymousIds, junk) are frequent.
    const USERS: [&str; 6] = ["u0", "u1", "u2", "u3", "u4", "undefined"];
    const ANONS: [&str; 7] = ["a0", "a1", "a2", "a3", "a4", "a5", "null"];
    const EMAILS: [&str; 6] = [
        "e0@acme.io",
        "e1@acme.io",
        " E1@Acme.IO ",
        "e2@acme.io",
        "smiths@acme.io",
        "test@test.com",
    ];
    const DEVICES: [&str; 5] = ["d0", "d1", "d2", "d3", "0"];
    const PLANS: [Option<&str>; 4] = [Some("free"), Some("pro"), Some(""), None];

    /// One generated event, kept as a plain description so failures print readably.
    #[derive(Debug, Clone)]
    struct Spec {
        call: u8,
        user: Option<usize>,
        anon: Option<usize>,
        email: Option<(usize, bool)>,
        device: Option<(usize, u8)>,
        external: Option<usize>,
        previous: (bool, usize),
        day: i64,
        minute: i64,
        message: Option<usize>,
        plan: Option<usize>,
    }

    impl Spec {
        fn to_json(&self) -> Value {
            let call = ["identify", "track", "page", "screen", "alias"][usize::from(self.call)];
            let mut user = self.user.map(|u| USERS[u]);
            let mut anon = self.anon.map(|a| ANONS[a]);
            if call == "alias" && user.is_none() {
                user = Some(USERS[0]);
            }
            if user.is_none() && anon.is_none() {
                anon = Some(ANONS[0]);
            }
            let mut event = json!({"type": call, "timestamp": at(self.day, self.minute)});
            let map = event.as_object_mut().unwrap();
            if let Some(u) = user {
                map.insert("userId".into(), json!(u));
            }
            if let Some(a) = anon {
                map.insert("anonymousId".into(), json!(a));
            }
            if call == "track" {
                // Every third track is a sign-out, which releases the device's ids.
                let name = if self.minute % 3 == 0 {
                    "Signed Out"
                } else {
                    "Clicked"
                };
                map.insert("event".into(), json!(name));
            }
            if call == "alias" {
                let (known, i) = self.previous;
                let previous = if known {
                    USERS[i % USERS.len()]
                } else {
                    ANONS[i % ANONS.len()]
                };
                map.insert("previousId".into(), json!(previous));
            }
            if let Some(m) = self.message {
                map.insert("messageId".into(), json!(format!("m{m}")));
            }
            let mut traits = Map::new();
            let mut context = Map::new();
            let mut context_traits = Map::new();
            if let Some((e, in_context)) = self.email {
                if in_context {
                    context_traits.insert("email".into(), json!(EMAILS[e]));
                } else {
                    traits.insert("email".into(), json!(EMAILS[e]));
                }
            }
            if let Some(p) = self.plan {
                traits.insert("plan".into(), PLANS[p].map_or(Value::Null, |p| json!(p)));
            }
            if let Some((d, platform)) = self.device {
                let mut device = json!({"id": DEVICES[d]});
                if platform > 0 {
                    device["type"] = json!(["ios", "android"][usize::from(platform - 1)]);
                }
                context.insert("device".into(), device);
            }
            if let Some(x) = self.external {
                context.insert(
                    "externalIds".into(),
                    json!([{"id": format!("cus_{x}"), "type": "stripe_id", "collection": "users"}]),
                );
            }
            if !context_traits.is_empty() {
                context.insert("traits".into(), Value::Object(context_traits));
            }
            if !traits.is_empty() {
                map.insert("traits".into(), Value::Object(traits));
            }
            if !context.is_empty() {
                map.insert("context".into(), Value::Object(context));
            }
            event
        }
    }

    prop_compose! {
        fn spec()(
            call in 0u8..5,
            user in proptest::option::weighted(0.5, 0..USERS.len()),
            anon in proptest::option::weighted(0.7, 0..ANONS.len()),
            email in proptest::option::weighted(0.4, (0..EMAILS.len(), any::<bool>())),
            device in proptest::option::weighted(0.4, (0..DEVICES.len(), 0u8..3)),
            external in proptest::option::weighted(0.15, 0usize..3),
            previous in (any::<bool>(), 0usize..8),
            day in 0i64..21,
            minute in 0i64..1440,
            message in proptest::option::weighted(0.8, 0usize..60),
            plan in proptest::option::weighted(0.5, 0..PLANS.len()),
        ) -> Spec {
            Spec { call, user, anon, email, device, external, previous, day, minute, message, plan }
        }
    }

    fn events(max: usize) -> impl Strategy<Value = Vec<Value>> {
        proptest::collection::vec(spec(), 1..max)
            .prop_map(|specs| specs.iter().map(Spec::to_json).collect())
    }

    /// Tight rules: caps and limits are reached often; alias links; a windowed email limit.
    const TIGHT: &str = "[identity]\nalias_merges = true\nmax_merges = 2\nmax_identifiers = 6\n\
        [identity.types.email]\nlimit = 1\nwindow = \"weekly\"\n\
        [identity.types.anonymous_id]\nlimit = 2\n";

    fn run(mut sim: Sim, events: &[Value]) -> Sim {
        sim.ingest_all(events.iter().cloned());
        sim
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

        /// (a) A second ingest of the same events, in any order, changes nothing.
        #[test]
        fn reingest_in_any_order_changes_nothing(
            (events, shuffled) in events(40).prop_flat_map(|v| (Just(v.clone()), Just(v).prop_shuffle())),
            tight in any::<bool>(),
        ) {
            let sim = if tight { Sim::with_toml(TIGHT) } else { Sim::new() };
            let mut sim = run(sim, &events);
            let before = sim.snapshot();
            let violations = sim.violations.len();
            let outcomes = sim.ingest_all(shuffled);
            prop_assert!(outcomes.iter().all(|o| *o == Outcome::Duplicate), "{outcomes:?}");
            prop_assert_eq!(sim.snapshot(), before);
            prop_assert_eq!(sim.violations.len(), violations);
        }

        /// (b) Structural invariants hold after any sequence, under default and tight rules.
        #[test]
        fn invariants_hold_after_any_sequence(events in events(60), tight in any::<bool>()) {
            let sim = if tight { Sim::with_toml(TIGHT) } else { Sim::new() };
            let sim = run(sim, &events);
            if let Err(broken) = sim.check_invariants() {
                prop_assert!(false, "{broken}\nevents: {events:#?}");
            }
        }

        /// (c) Two different user_ids never end up in one profile (default rules, and with
        /// alias links on).
        #[test]
        fn two_user_ids_never_share_a_profile(events in events(60), alias in any::<bool>()) {
            let sim = if alias { Sim::with_toml("[identity]\nalias_merges = true\n") } else { Sim::new() };
            let sim = run(sim, &events);
            for profile in sim.graph.profiles() {
                let users: Vec<&str> = profile
                    .identifiers
                    .iter()
                    .filter(|h| h.id.kind == "user_id")
                    .map(|h| h.id.value.as_str())
                    .collect();
                prop_assert!(users.len() <= 1, "{} holds {users:?}", profile.id);
            }
            for user in USERS {
                let id = Identifier::new("user_id", user);
                if sim.attributed_ids.contains(&id) {
                    prop_assert!(sim.graph.profile_of(&id).is_some(), "{id} lost");
                }
            }
        }

        /// Replaying the same stream later (another wall clock) gives the same graph.
        #[test]
        fn replay_gives_the_same_graph(events in events(40), tight in any::<bool>()) {
            let fresh = || if tight { Sim::with_toml(TIGHT) } else { Sim::new() };
            let live = run(fresh(), &events);
            let mut later = fresh();
            later.now += 500 * DAY;
            let later = run(later, &events);
            prop_assert_eq!(live.snapshot(), later.snapshot());
            prop_assert_eq!(live.violations, later.violations);
        }
    }
}

#[test]
fn a_phone_number_is_one_identifier_however_it_was_formatted() {
    let mut sim = Sim::new();
    sim.ingest(json!({"type": "identify", "userId": "u1",
        "traits": {"phone": "+49 (151) 1234-5678"}, "timestamp": at(0, 0)}));
    // The SMS channel sends it in E.164; the contact from the SMS is the same person.
    sim.ingest(
        json!({"type": "track", "event": "SMS Replied", "anonymousId": "sms-1",
        "context": {"traits": {"phone": "+4915112345678"}}, "timestamp": at(0, 1)}),
    );
    assert_eq!(
        sim.ids_of("user_id:u1"),
        ["anonymous_id:sms-1", "phone:+4915112345678", "user_id:u1"]
    );
}
