//! An in-memory `GraphRead + GraphRepair + AudienceRead` with a handful of realistic
//! profiles, for tests:
//! an anonymous-to-known journey across web, iOS and Android; a support complaint that
//! marketing must see; a bad merge on a shared tablet with violations; a duplicate of the
//! first person; a profile whose traits carry terminal escape sequences; and a second,
//! isolated space. Its audiences are in [`audiences`].

mod audiences;

use std::sync::Mutex;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::audience::AudienceSet;
use crate::config::{Config, Rules};
use crate::model::{
    CallType, Identifier, JournalAction, JournalEntry, Link, LinkRule, Millis, PinMark, Profile,
    ProfileId, Provenance, StoredEvent, Violation, ViolationReason, time::parse_time_str,
};
use crate::query::{ChangeLog, Changes, GraphRead, GraphRepair, OpOutcome, SplitPreview};
use crate::resolve::{MergePreview, preview_merge};

/// The fixed "now" of the fixture: 2024-03-20T12:00:00Z.
pub const NOW: Millis = 1_710_936_000_000;

#[derive(Debug, Clone, Default)]
struct Data {
    profiles: Vec<Profile>,
    events: Vec<(ProfileId, StoredEvent)>,
    links: Vec<(ProfileId, Link)>,
    violations: Vec<(ProfileId, Violation)>,
    journal: Vec<JournalEntry>,
    next_seq: u64,
}

/// One space held in memory.
#[derive(Debug)]
pub struct Fixture {
    space: String,
    rules: Rules,
    data: Mutex<Data>,
    /// State before each manual operation, by op number (undo restores it).
    before: Mutex<Vec<(u64, Data)>>,
    /// The change feed (manual operations and events that [`Fixture::arrive`]).
    changes: Mutex<ChangeLog>,
    /// The audiences whose members it answers for.
    audiences: AudienceSet,
}

fn t(text: &str) -> Millis {
    parse_time_str(text).expect("fixture time")
}

fn id(text: &str) -> Identifier {
    Identifier::parse(text).expect("fixture identifier")
}

struct EventSpec<'a> {
    time: &'a str,
    call: CallType,
    label: &'a str,
    channel: &'a str,
    source: &'a str,
    app: Option<&'a str>,
    device: Option<&'a str>,
    ids: &'a [&'a str],
    extra: Value,
}

impl Data {
    fn profile(&mut self, n: u64, created: &str, ids: &[(&str, &str, &str)], traits: Value) {
        let created = t(created);
        let mut p = Profile::new(ProfileId(n), created);
        for (text, first, source) in ids {
            p.add_identifier(&id(text), t(first), source);
        }
        self.next_seq += 1;
        p.apply_traits(
            created,
            self.next_seq,
            traits.as_object().expect("traits object"),
        );
        self.profiles.push(p);
    }

    fn event(&mut self, profile: u64, e: EventSpec<'_>) {
        self.next_seq += 1;
        let seq = self.next_seq;
        let time = t(e.time);
        let identifiers: Vec<Identifier> = e.ids.iter().map(|i| id(i)).collect();
        let mut raw = json!({
            "type": e.call.as_str(),
            "messageId": format!("m-{seq:03}"),
            "timestamp": e.time,
        });
        for i in &identifiers {
            match i.kind.as_str() {
                "user_id" => raw["userId"] = json!(i.value),
                "anonymous_id" => raw["anonymousId"] = json!(i.value),
                _ => {}
            }
        }
        match e.call {
            CallType::Track => raw["event"] = json!(e.label),
            CallType::Page | CallType::Screen => {
                raw["name"] = json!(e.label.split_once(' ').map_or(e.label, |(_, n)| n));
            }
            _ => {}
        }
        if let (Value::Object(target), Value::Object(extra)) = (&mut raw, e.extra) {
            target.extend(extra);
        }
        let p = self
            .profiles
            .iter_mut()
            .find(|p| p.id.0 == profile)
            .expect("fixture profile");
        p.event_count += 1;
        p.last_seen = p.last_seen.max(time);
        self.events.push((
            ProfileId(profile),
            StoredEvent {
                seq,
                message_id: format!("m-{seq:03}"),
                call: e.call,
                time,
                received_at: time + 150,
                source: e.source.into(),
                channel: e.channel.into(),
                app: e.app.map(str::to_string),
                device: e.device.map(str::to_string),
                label: e.label.into(),
                identifiers,
                raw_json: raw.to_string(),
                links: Vec::new(),
            },
        ));
    }

    #[allow(clippy::too_many_arguments)]
    fn link(
        &mut self,
        profile: u64,
        a: &str,
        b: &str,
        rule: LinkRule,
        message: u64,
        source: &str,
        time: &str,
    ) {
        self.links.push((
            ProfileId(profile),
            Link {
                from: id(a),
                to: id(b),
                rule,
                provenance: Provenance {
                    message_id: format!("m-{message:03}"),
                    source: source.into(),
                    time: t(time),
                    op: None,
                },
            },
        ));
    }

    fn violation(
        &mut self,
        profile: u64,
        ident: &str,
        reason: ViolationReason,
        message: u64,
        time: &str,
    ) {
        self.violations.push((
            ProfileId(profile),
            Violation {
                identifier: id(ident),
                reason,
                provenance: Provenance {
                    message_id: format!("m-{message:03}"),
                    source: "ios-app".into(),
                    time: t(time),
                    op: None,
                },
            },
        ));
    }
}

fn spec<'a>(
    time: &'a str,
    call: CallType,
    label: &'a str,
    channel: &'a str,
    ids: &'a [&'a str],
) -> EventSpec<'a> {
    let (source, app, device) = match channel {
        "web" => ("website", Some("Shop Web"), Some("Chrome on macOS")),
        "ios" => ("ios-app", Some("Shop iOS"), Some("iPhone15,2 (IOS-7F3A)")),
        "android" => (
            "android-app",
            Some("Shop Android"),
            Some("Pixel 8 (AND-91C2)"),
        ),
        "support" => ("zendesk", None, None),
        "marketing" => ("braze", None, None),
        "sales" => ("salesforce", None, None),
        _ => ("server", None, None),
    };
    EventSpec {
        time,
        call,
        label,
        channel,
        source,
        app,
        device,
        ids,
        extra: json!({}),
    }
}

fn default_space() -> Data {
    use CallType::*;
    let mut d = Data::default();
    // p1: Ana Silva, anonymous on web and iOS, signs up on web, then iOS and Android.
    d.profile(
        1,
        "2024-03-01T09:12:00Z",
        &[
            ("anonymous_id:a-web-5f1c", "2024-03-01T09:12:00Z", "website"),
            ("anonymous_id:a-ios-88d0", "2024-03-02T19:40:00Z", "ios-app"),
            ("ios.id:IOS-7F3A", "2024-03-02T19:40:00Z", "ios-app"),
            ("user_id:u-1001", "2024-03-03T08:05:00Z", "website"),
            ("email:ana.silva@acme.io", "2024-03-03T08:05:00Z", "website"),
            ("android.id:AND-91C2", "2024-03-10T07:30:00Z", "android-app"),
            ("phone:+351912345678", "2024-03-10T07:30:00Z", "android-app"),
        ],
        json!({"name": "Ana Silva", "email": "ana.silva@acme.io", "plan": "pro", "city": "Lisbon", "company": "Acme"}),
    );
    let e = &mut d;
    e.event(
        1,
        spec(
            "2024-03-01T09:12:00Z",
            Page,
            "page Pricing",
            "web",
            &["anonymous_id:a-web-5f1c"],
        ),
    );
    e.event(
        1,
        spec(
            "2024-03-01T09:15:00Z",
            Page,
            "page Blog: Moving to Lisbon",
            "web",
            &["anonymous_id:a-web-5f1c"],
        ),
    );
    e.event(
        1,
        spec(
            "2024-03-02T19:40:00Z",
            Screen,
            "screen Home",
            "ios",
            &["anonymous_id:a-ios-88d0", "ios.id:IOS-7F3A"],
        ),
    );
    e.event(
        1,
        spec(
            "2024-03-02T19:42:00Z",
            Track,
            "Product Viewed",
            "ios",
            &["anonymous_id:a-ios-88d0", "ios.id:IOS-7F3A"],
        ),
    );
    let mut signup = spec(
        "2024-03-03T08:05:00Z",
        Identify,
        "identify",
        "web",
        &[
            "anonymous_id:a-web-5f1c",
            "user_id:u-1001",
            "email:ana.silva@acme.io",
        ],
    );
    signup.extra =
        json!({"traits": {"name": "Ana Silva", "email": "ana.silva@acme.io", "plan": "free"}});
    e.event(1, signup);
    e.event(
        1,
        spec(
            "2024-03-03T08:06:00Z",
            Track,
            "Signed Up",
            "web",
            &["anonymous_id:a-web-5f1c", "user_id:u-1001"],
        ),
    );
    e.event(
        1,
        spec(
            "2024-03-04T20:10:00Z",
            Track,
            "Logged In",
            "ios",
            &[
                "anonymous_id:a-ios-88d0",
                "user_id:u-1001",
                "ios.id:IOS-7F3A",
            ],
        ),
    );
    e.event(
        1,
        spec(
            "2024-03-05T12:00:00Z",
            Track,
            "Order Completed",
            "web",
            &["user_id:u-1001"],
        ),
    );
    e.event(
        1,
        spec(
            "2024-03-08T10:30:00Z",
            Track,
            "Ticket Opened: parcel arrived damaged",
            "support",
            &["email:ana.silva@acme.io"],
        ),
    );
    e.event(
        1,
        spec(
            "2024-03-09T16:00:00Z",
            Track,
            "Call logged: upsell to pro",
            "sales",
            &["email:ana.silva@acme.io"],
        ),
    );
    e.event(
        1,
        spec(
            "2024-03-10T07:30:00Z",
            Track,
            "Logged In",
            "android",
            &[
                "user_id:u-1001",
                "android.id:AND-91C2",
                "phone:+351912345678",
            ],
        ),
    );
    e.event(
        1,
        spec(
            "2024-03-12T09:00:00Z",
            Track,
            "Email Opened: Spring Sale",
            "marketing",
            &["email:ana.silva@acme.io"],
        ),
    );
    e.event(
        1,
        spec(
            "2024-03-15T18:20:00Z",
            Screen,
            "screen Orders",
            "android",
            &["user_id:u-1001", "android.id:AND-91C2"],
        ),
    );
    e.link(
        1,
        "anonymous_id:a-ios-88d0",
        "ios.id:IOS-7F3A",
        LinkRule::SameEvent,
        3,
        "ios-app",
        "2024-03-02T19:40:00Z",
    );
    e.link(
        1,
        "anonymous_id:a-web-5f1c",
        "user_id:u-1001",
        LinkRule::SameEvent,
        5,
        "website",
        "2024-03-03T08:05:00Z",
    );
    e.link(
        1,
        "email:ana.silva@acme.io",
        "user_id:u-1001",
        LinkRule::SameEvent,
        5,
        "website",
        "2024-03-03T08:05:00Z",
    );
    e.link(
        1,
        "anonymous_id:a-ios-88d0",
        "user_id:u-1001",
        LinkRule::Merge,
        7,
        "ios-app",
        "2024-03-04T20:10:00Z",
    );
    e.link(
        1,
        "android.id:AND-91C2",
        "user_id:u-1001",
        LinkRule::SameEvent,
        11,
        "android-app",
        "2024-03-10T07:30:00Z",
    );
    e.link(
        1,
        "phone:+351912345678",
        "user_id:u-1001",
        LinkRule::SameEvent,
        11,
        "android-app",
        "2024-03-10T07:30:00Z",
    );
    e.journal.push(JournalEntry {
        op: 1,
        at: t("2024-03-04T20:10:00Z"),
        user: "idgraph".into(),
        reason: "event carried identifiers of two profiles".into(),
        action: JournalAction::AutoMerge {
            survivor: ProfileId(1),
            absorbed: vec![ProfileId(7)],
            message_id: "m-007".into(),
        },
        profiles: vec![ProfileId(1), ProfileId(7)],
        undone_by: None,
    });

    // p2: Bruno Okafor, complained to support; marketing is about to ask for a review.
    e.profile(
        2,
        "2024-02-20T10:00:00Z",
        &[
            ("user_id:u-1002", "2024-02-20T10:00:00Z", "website"),
            (
                "email:bruno.okafor@mail.example.org",
                "2024-02-20T10:00:00Z",
                "website",
            ),
            ("phone:+4915112345678", "2024-03-11T14:00:00Z", "zendesk"),
        ],
        json!({"firstName": "Bruno", "lastName": "Okafor", "plan": "free"}),
    );
    e.event(
        2,
        spec(
            "2024-02-20T10:00:00Z",
            Identify,
            "identify",
            "web",
            &["user_id:u-1002", "email:bruno.okafor@mail.example.org"],
        ),
    );
    e.event(
        2,
        spec(
            "2024-03-06T11:00:00Z",
            Track,
            "Order Completed",
            "web",
            &["user_id:u-1002"],
        ),
    );
    let mut complaint = spec(
        "2024-03-11T14:00:00Z",
        Track,
        "Complaint: refund not received",
        "support",
        &[
            "email:bruno.okafor@mail.example.org",
            "phone:+4915112345678",
        ],
    );
    complaint.extra = json!({"properties": {"priority": "high", "ticket": 8812}});
    e.event(2, complaint);
    e.event(
        2,
        spec(
            "2024-03-18T09:00:00Z",
            Track,
            "Review Request Scheduled",
            "marketing",
            &["email:bruno.okafor@mail.example.org"],
        ),
    );
    e.link(
        2,
        "email:bruno.okafor@mail.example.org",
        "user_id:u-1002",
        LinkRule::SameEvent,
        15,
        "website",
        "2024-02-20T10:00:00Z",
    );
    e.link(
        2,
        "email:bruno.okafor@mail.example.org",
        "phone:+4915112345678",
        LinkRule::SameEvent,
        17,
        "zendesk",
        "2024-03-11T14:00:00Z",
    );

    // p3: a shared family tablet glued three people together before limits stopped it.
    e.profile(
        3,
        "2024-01-15T17:00:00Z",
        &[
            ("ios.id:IPAD-SHARED-01", "2024-01-15T17:00:00Z", "ios-app"),
            ("anonymous_id:a-ipad-001", "2024-01-15T17:00:00Z", "ios-app"),
            ("user_id:u-2001", "2024-01-16T08:00:00Z", "ios-app"),
            (
                "email:carla.novak@home.example.net",
                "2024-01-16T08:00:00Z",
                "ios-app",
            ),
            (
                "email:kid.novak@school.example.net",
                "2024-02-02T15:00:00Z",
                "ios-app",
            ),
            (
                "email:grandpa.novak@mail.example.net",
                "2024-02-10T11:00:00Z",
                "ios-app",
            ),
            ("anonymous_id:a-ipad-002", "2024-02-02T15:00:00Z", "ios-app"),
            ("anonymous_id:a-ipad-003", "2024-02-10T11:00:00Z", "ios-app"),
            ("email:test@test.com", "2024-02-12T11:00:00Z", "ios-app"),
        ],
        json!({"name": "Carla Novak", "plan": "family"}),
    );
    e.event(
        3,
        spec(
            "2024-01-15T17:00:00Z",
            Screen,
            "screen Welcome",
            "ios",
            &["ios.id:IPAD-SHARED-01", "anonymous_id:a-ipad-001"],
        ),
    );
    e.event(
        3,
        spec(
            "2024-01-16T08:00:00Z",
            Identify,
            "identify",
            "ios",
            &[
                "ios.id:IPAD-SHARED-01",
                "user_id:u-2001",
                "email:carla.novak@home.example.net",
            ],
        ),
    );
    e.event(
        3,
        spec(
            "2024-02-02T15:00:00Z",
            Identify,
            "identify",
            "ios",
            &[
                "ios.id:IPAD-SHARED-01",
                "anonymous_id:a-ipad-002",
                "email:kid.novak@school.example.net",
            ],
        ),
    );
    e.event(
        3,
        spec(
            "2024-02-10T11:00:00Z",
            Identify,
            "identify",
            "ios",
            &[
                "ios.id:IPAD-SHARED-01",
                "anonymous_id:a-ipad-003",
                "email:grandpa.novak@mail.example.net",
            ],
        ),
    );
    e.event(
        3,
        spec(
            "2024-02-12T11:00:00Z",
            Track,
            "Newsletter Signup",
            "ios",
            &["ios.id:IPAD-SHARED-01", "email:test@test.com"],
        ),
    );
    e.event(
        3,
        spec(
            "2024-03-01T10:00:00Z",
            Track,
            "Logged In",
            "ios",
            &["ios.id:IPAD-SHARED-01"],
        ),
    );
    e.link(
        3,
        "ios.id:IPAD-SHARED-01",
        "anonymous_id:a-ipad-001",
        LinkRule::SameEvent,
        20,
        "ios-app",
        "2024-01-15T17:00:00Z",
    );
    e.link(
        3,
        "ios.id:IPAD-SHARED-01",
        "user_id:u-2001",
        LinkRule::SameEvent,
        21,
        "ios-app",
        "2024-01-16T08:00:00Z",
    );
    e.link(
        3,
        "email:carla.novak@home.example.net",
        "user_id:u-2001",
        LinkRule::SameEvent,
        21,
        "ios-app",
        "2024-01-16T08:00:00Z",
    );
    e.link(
        3,
        "ios.id:IPAD-SHARED-01",
        "email:kid.novak@school.example.net",
        LinkRule::SameEvent,
        22,
        "ios-app",
        "2024-02-02T15:00:00Z",
    );
    e.link(
        3,
        "ios.id:IPAD-SHARED-01",
        "anonymous_id:a-ipad-002",
        LinkRule::SameEvent,
        22,
        "ios-app",
        "2024-02-02T15:00:00Z",
    );
    e.link(
        3,
        "ios.id:IPAD-SHARED-01",
        "email:grandpa.novak@mail.example.net",
        LinkRule::SameEvent,
        23,
        "ios-app",
        "2024-02-10T11:00:00Z",
    );
    e.link(
        3,
        "ios.id:IPAD-SHARED-01",
        "anonymous_id:a-ipad-003",
        LinkRule::SameEvent,
        23,
        "ios-app",
        "2024-02-10T11:00:00Z",
    );
    e.link(
        3,
        "ios.id:IPAD-SHARED-01",
        "email:test@test.com",
        LinkRule::SameEvent,
        24,
        "ios-app",
        "2024-02-12T11:00:00Z",
    );
    let limit = ViolationReason::Limit {
        identifier_type: "user_id".into(),
        max: 1,
        window: "ever".into(),
    };
    e.violation(
        3,
        "user_id:u-2002",
        limit.clone(),
        22,
        "2024-02-02T15:00:00Z",
    );
    e.violation(3, "user_id:u-2003", limit, 23, "2024-02-10T11:00:00Z");
    e.violation(
        3,
        "email:null",
        ViolationReason::Blocked {
            rule: "blocked value \"null\"".into(),
        },
        24,
        "2024-02-12T11:00:00Z",
    );

    // p4: Ana again, from her personal Android phone before she logged in there.
    e.profile(
        4,
        "2024-03-07T21:00:00Z",
        &[
            (
                "anonymous_id:a-and-2b7e",
                "2024-03-07T21:00:00Z",
                "android-app",
            ),
            (
                "email:ana.silva@gmail.com",
                "2024-03-07T21:05:00Z",
                "android-app",
            ),
        ],
        json!({"name": "Ana S."}),
    );
    e.event(
        4,
        spec(
            "2024-03-07T21:00:00Z",
            Screen,
            "screen Deals",
            "android",
            &["anonymous_id:a-and-2b7e"],
        ),
    );
    e.event(
        4,
        spec(
            "2024-03-07T21:05:00Z",
            Track,
            "Newsletter Signup",
            "android",
            &["anonymous_id:a-and-2b7e", "email:ana.silva@gmail.com"],
        ),
    );
    e.link(
        4,
        "anonymous_id:a-and-2b7e",
        "email:ana.silva@gmail.com",
        LinkRule::SameEvent,
        33,
        "android-app",
        "2024-03-07T21:05:00Z",
    );

    // p5: traits and events carrying terminal escape sequences.
    e.profile(
        5,
        "2024-03-14T08:00:00Z",
        &[("user_id:u-1005", "2024-03-14T08:00:00Z", "website")],
        json!({"name": "Eve \u{1b}[31mRed\u{1b}[0m \u{7}Bell", "company": "Evil\u{1b}]52;c;aGk=\u{7}Corp"}),
    );
    let mut evil = spec(
        "2024-03-14T08:00:00Z",
        Track,
        "Clicked \u{1b}[2J",
        "web",
        &["user_id:u-1005"],
    );
    evil.extra = json!({"properties": {"note": "\u{1b}]0;pwned\u{7}"}});
    e.event(5, evil);
    d
}

fn eu_space() -> Data {
    let mut d = Data::default();
    d.profile(
        1,
        "2024-03-02T10:00:00Z",
        &[
            ("user_id:eu-77", "2024-03-02T10:00:00Z", "eu-web"),
            (
                "email:farid.haddad@example.de",
                "2024-03-02T10:00:00Z",
                "eu-web",
            ),
        ],
        json!({"name": "Farid Haddad"}),
    );
    d.event(
        1,
        spec(
            "2024-03-02T10:00:00Z",
            CallType::Identify,
            "identify",
            "web",
            &["user_id:eu-77", "email:farid.haddad@example.de"],
        ),
    );
    d.link(
        1,
        "email:farid.haddad@example.de",
        "user_id:eu-77",
        LinkRule::SameEvent,
        1,
        "eu-web",
        "2024-03-02T10:00:00Z",
    );
    d
}

impl Fixture {
    /// The fixture space `default` (or `eu-shop`; any other name is empty).
    pub fn space(name: &str) -> Fixture {
        let data = match name {
            "default" => default_space(),
            "eu-shop" => eu_space(),
            _ => Data::default(),
        };
        let events = data.events.len() as u64;
        Fixture {
            space: name.to_string(),
            rules: Config::defaults()
                .rules_for("default")
                .expect("default rules"),
            data: Mutex::new(data),
            before: Mutex::new(Vec::new()),
            changes: Mutex::new(ChangeLog::new(events)),
            audiences: audiences::audience_set(),
        }
    }

    /// An event arriving while the explorer runs (as over HTTP): attached to `profile`, or
    /// to a new profile holding `ids` when `None`. Returns the profile it went to.
    pub fn arrive(&self, profile: Option<u64>, time: &str, label: &str, ids: &[&str]) -> ProfileId {
        let mut data = self.data();
        let target = match profile {
            Some(n) => n,
            None => {
                let n = data.profiles.iter().map(|p| p.id.0).max().unwrap_or(0) + 1;
                let held: Vec<(&str, &str, &str)> =
                    ids.iter().map(|i| (*i, time, "website")).collect();
                data.profile(n, time, &held, json!({}));
                n
            }
        };
        data.event(target, spec(time, CallType::Track, label, "web", ids));
        self.changes.lock().expect("fixture lock").record(
            vec![ProfileId(target)],
            Vec::new(),
            data.events.len() as u64,
        );
        ProfileId(target)
    }

    /// Opens a fixture space as the explorer's store worker would.
    pub fn open(name: &str) -> anyhow::Result<crate::tui::SpaceHandle> {
        Ok(Box::new(Fixture::space(name)))
    }

    fn data(&self) -> std::sync::MutexGuard<'_, Data> {
        self.data.lock().expect("fixture lock")
    }

    fn record(
        &self,
        data: &mut Data,
        profiles: Vec<ProfileId>,
        reason: &str,
        action: JournalAction,
    ) -> OpOutcome {
        let op = data.journal.len() as u64 + 1;
        let entry = JournalEntry {
            op,
            at: NOW,
            user: "tester".into(),
            reason: reason.into(),
            action,
            profiles,
            undone_by: None,
        };
        data.journal.push(entry.clone());
        let (changed, removed) = entry
            .profiles
            .iter()
            .partition(|id| data.profiles.iter().any(|p| p.id == **id));
        self.changes.lock().expect("fixture lock").record(
            changed,
            removed,
            data.events.len() as u64,
        );
        OpOutcome { entry }
    }
}

impl GraphRead for Fixture {
    fn space(&self) -> &str {
        &self.space
    }

    fn profile_count(&self) -> anyhow::Result<u64> {
        Ok(self.data().profiles.len() as u64)
    }

    fn for_each_profile(&self, visit: &mut dyn FnMut(&Profile) -> bool) -> anyhow::Result<()> {
        let mut profiles = self.data().profiles.clone();
        profiles.sort_by_key(|p| p.id);
        for p in &profiles {
            if !visit(p) {
                break;
            }
        }
        Ok(())
    }

    fn profile(&self, id: ProfileId) -> anyhow::Result<Option<Profile>> {
        Ok(self.data().profiles.iter().find(|p| p.id == id).cloned())
    }

    fn owner(&self, ident: &Identifier) -> anyhow::Result<Option<ProfileId>> {
        Ok(self
            .data()
            .profiles
            .iter()
            .find(|p| p.has(ident))
            .map(|p| p.id))
    }

    fn timeline(&self, id: ProfileId, limit: usize) -> anyhow::Result<Vec<StoredEvent>> {
        let mut events: Vec<StoredEvent> = self
            .data()
            .events
            .iter()
            .filter(|(p, _)| *p == id)
            .map(|(_, e)| e.clone())
            .collect();
        events.sort_by_key(|e| std::cmp::Reverse((e.time, e.seq)));
        events.truncate(limit);
        Ok(events)
    }

    fn links(&self, id: ProfileId) -> anyhow::Result<Vec<Link>> {
        Ok(self
            .data()
            .links
            .iter()
            .filter(|(p, _)| *p == id)
            .map(|(_, l)| l.clone())
            .collect())
    }

    fn violations(&self, id: ProfileId) -> anyhow::Result<Vec<Violation>> {
        Ok(self
            .data()
            .violations
            .iter()
            .filter(|(p, _)| *p == id)
            .map(|(_, v)| v.clone())
            .collect())
    }

    fn for_each_violation(
        &self,
        visit: &mut dyn FnMut(u64, Violation) -> bool,
    ) -> anyhow::Result<()> {
        // Filed under each profile's first cluster, as a store files a profile's own.
        let data = self.data();
        let mut filed: Vec<(u64, &Violation)> = data
            .violations
            .iter()
            .filter_map(|(p, v)| {
                let profile = data.profiles.iter().find(|x| x.id == *p)?;
                Some((*profile.clusters.first()?, v))
            })
            .collect();
        filed.sort_by_key(|(cluster, _)| *cluster);
        for (cluster, v) in filed {
            if !visit(cluster, v.clone()) {
                break;
            }
        }
        Ok(())
    }

    fn journal_for(&self, id: ProfileId) -> anyhow::Result<Vec<JournalEntry>> {
        Ok(self
            .data()
            .journal
            .iter()
            .filter(|e| e.profiles.contains(&id))
            .cloned()
            .collect())
    }

    fn journal(&self) -> anyhow::Result<Vec<JournalEntry>> {
        Ok(self.data().journal.clone())
    }

    fn changes_since(&self, version: u64) -> anyhow::Result<Changes> {
        Ok(self.changes.lock().expect("fixture lock").since(version))
    }
}

impl GraphRepair for Fixture {
    fn preview_merge(&self, a: ProfileId, b: ProfileId) -> anyhow::Result<MergePreview> {
        if a == b {
            bail!("cannot merge {a} with itself");
        }
        let pa = self
            .profile(a)?
            .with_context(|| format!("no profile {a}"))?;
        let pb = self
            .profile(b)?
            .with_context(|| format!("no profile {b}"))?;
        Ok(preview_merge(&pa, &pb, &self.rules, NOW))
    }

    fn merge(
        &self,
        a: ProfileId,
        b: ProfileId,
        reason: &str,
        force: bool,
    ) -> anyhow::Result<OpOutcome> {
        let preview = self.preview_merge(a, b)?;
        if !preview.conflicts.is_empty() && !force {
            let why: Vec<String> = preview.conflicts.iter().map(ToString::to_string).collect();
            bail!(
                "merge would break rules: {} (force to override)",
                why.join("; ")
            );
        }
        let mut data = self.data();
        let snapshot = data.clone();
        let (survivor, absorbed) = (preview.survivor, preview.absorbed);
        data.profiles.retain(|p| p.id != absorbed);
        let first_of = |p: &Profile| p.sorted_identifiers().into_iter().next();
        let link = match (
            first_of(&preview.result),
            snapshot
                .profiles
                .iter()
                .find(|p| p.id == absorbed)
                .and_then(first_of),
        ) {
            (Some(x), Some(y)) => Some((x, y)),
            _ => None,
        };
        for p in data.profiles.iter_mut().filter(|p| p.id == survivor) {
            *p = preview.result.clone();
        }
        for (owner, _) in data.events.iter_mut().filter(|(o, _)| *o == absorbed) {
            *owner = survivor;
        }
        for (owner, _) in data.links.iter_mut().filter(|(o, _)| *o == absorbed) {
            *owner = survivor;
        }
        for (owner, _) in data.violations.iter_mut().filter(|(o, _)| *o == absorbed) {
            *owner = survivor;
        }
        let overrides: Vec<String> = if force {
            preview.conflicts.iter().map(ToString::to_string).collect()
        } else {
            Vec::new()
        };
        let outcome = self.record(
            &mut data,
            vec![survivor, absorbed],
            reason,
            JournalAction::Merge {
                survivor,
                absorbed,
                overrides,
            },
        );
        if let Some((from, to)) = link {
            data.links.push((
                survivor,
                Link {
                    from,
                    to,
                    rule: LinkRule::ManualMerge,
                    provenance: Provenance {
                        message_id: format!("op-{}", outcome.entry.op),
                        source: "idgraph".into(),
                        time: NOW,
                        op: Some(outcome.entry.op),
                    },
                },
            ));
        }
        self.before
            .lock()
            .expect("fixture lock")
            .push((outcome.entry.op, snapshot));
        Ok(outcome)
    }

    fn preview_split(
        &self,
        from: ProfileId,
        moving: &[Identifier],
    ) -> anyhow::Result<SplitPreview> {
        let profile = self
            .profile(from)?
            .with_context(|| format!("no profile {from}"))?;
        if moving.is_empty() {
            bail!("mark at least one identifier to move");
        }
        if moving.len() >= profile.identifiers.len() {
            bail!("at least one identifier must stay");
        }
        let staying: Vec<Identifier> = profile
            .sorted_identifiers()
            .into_iter()
            .filter(|i| !moving.contains(i))
            .collect();
        let events = self.timeline(from, usize::MAX)?;
        let (moving_events, staying_events): (Vec<StoredEvent>, Vec<StoredEvent>) =
            events.into_iter().partition(|e| {
                !e.identifiers.is_empty() && e.identifiers.iter().all(|i| moving.contains(i))
            });
        Ok(SplitPreview {
            from,
            moving: moving.to_vec(),
            staying,
            moving_events,
            staying_events: staying_events.len() as u64,
        })
    }

    fn split(
        &self,
        from: ProfileId,
        moving: &[Identifier],
        reason: &str,
    ) -> anyhow::Result<OpOutcome> {
        let preview = self.preview_split(from, moving)?;
        let mut data = self.data();
        let snapshot = data.clone();
        let into = ProfileId(data.profiles.iter().map(|p| p.id.0).max().unwrap_or(0) + 1);
        let op = data.journal.len() as u64 + 1;
        let mut new = Profile::new(into, NOW);
        if let Some(old) = data.profiles.iter_mut().find(|p| p.id == from) {
            let (moved, kept): (Vec<_>, Vec<_>) = old
                .identifiers
                .drain(..)
                .partition(|i| moving.contains(&i.id));
            old.identifiers = kept;
            for i in &mut old.identifiers {
                i.pins.push(PinMark { op, side: 0 });
            }
            new.identifiers = moved;
            for i in &mut new.identifiers {
                i.pins.push(PinMark { op, side: 1 });
            }
            old.event_count -= preview.moving_events.len() as u64;
        }
        new.event_count = preview.moving_events.len() as u64;
        if let Some(first) = new.identifiers.iter().map(|i| i.first_seen).min() {
            new.created_at = first;
            new.last_seen = new
                .identifiers
                .iter()
                .map(|i| i.last_seen)
                .max()
                .unwrap_or(first);
        }
        data.profiles.push(new);
        let moved_seqs: Vec<u64> = preview.moving_events.iter().map(|e| e.seq).collect();
        for (owner, e) in data.events.iter_mut() {
            if moved_seqs.contains(&e.seq) {
                *owner = into;
            }
        }
        for (owner, l) in data.links.iter_mut() {
            if *owner == from && moving.contains(&l.from) && moving.contains(&l.to) {
                *owner = into;
            }
        }
        data.links.retain(|(owner, l)| {
            !(*owner == from && (moving.contains(&l.from) || moving.contains(&l.to)))
        });
        let outcome = self.record(
            &mut data,
            vec![from, into],
            reason,
            JournalAction::Split {
                from,
                into,
                identifiers: moving.to_vec(),
                moved_events: moved_seqs.len() as u64,
            },
        );
        self.before
            .lock()
            .expect("fixture lock")
            .push((op, snapshot));
        Ok(outcome)
    }

    fn undo(&self, op: u64, reason: &str) -> anyhow::Result<OpOutcome> {
        let mut before = self.before.lock().expect("fixture lock");
        let mut data = self.data();
        let entry = data
            .journal
            .iter()
            .find(|e| e.op == op)
            .cloned()
            .with_context(|| format!("no journal entry #{op}"))?;
        if !entry.undoable() {
            bail!("#{op} cannot be undone");
        }
        let position = before
            .iter()
            .position(|(o, _)| *o == op)
            .with_context(|| format!("#{op} was not made here"))?;
        let (_, snapshot) = before.remove(position);
        let journal = std::mem::take(&mut data.journal);
        *data = snapshot;
        data.journal = journal;
        let undo_op = data.journal.len() as u64 + 1;
        if let Some(e) = data.journal.iter_mut().find(|e| e.op == op) {
            e.undone_by = Some(undo_op);
        }
        Ok(self.record(
            &mut data,
            entry.profiles.clone(),
            reason,
            JournalAction::Undo { op },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journeys_are_consistent() {
        let f = Fixture::space("default");
        assert_eq!(f.profile_count().unwrap(), 5);
        let tl = f.timeline(ProfileId(1), 100).unwrap();
        assert_eq!(tl.len(), 13);
        assert!(tl[0].time > tl[12].time);
        assert_eq!(
            f.owner(&id("email:ana.silva@acme.io")).unwrap(),
            Some(ProfileId(1))
        );
        assert_eq!(Fixture::space("eu-shop").profile_count().unwrap(), 1);
    }

    #[test]
    fn merge_split_and_undo() {
        let f = Fixture::space("default");
        assert!(
            !f.preview_merge(ProfileId(1), ProfileId(3))
                .unwrap()
                .conflicts
                .is_empty()
        );
        assert!(f.merge(ProfileId(1), ProfileId(3), "x", false).is_err());
        let m = f
            .merge(ProfileId(1), ProfileId(4), "same person", false)
            .unwrap();
        assert_eq!(f.profile_count().unwrap(), 4);
        assert_eq!(f.timeline(ProfileId(1), 100).unwrap().len(), 15);
        f.undo(m.entry.op, "oops").unwrap();
        assert_eq!(f.profile_count().unwrap(), 5);
        let moving = [
            id("email:kid.novak@school.example.net"),
            id("anonymous_id:a-ipad-002"),
        ];
        let preview = f.preview_split(ProfileId(3), &moving).unwrap();
        assert_eq!(preview.moving_events.len(), 0);
        let s = f.split(ProfileId(3), &moving, "kid's account").unwrap();
        assert_eq!(
            f.profile(ProfileId(6)).unwrap().unwrap().identifiers.len(),
            2
        );
        assert_eq!(f.journal().unwrap().len(), 4);
        assert!(f.journal().unwrap()[s.entry.op as usize - 1].undoable());
    }
}
