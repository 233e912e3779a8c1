//! The demo generator: determinism, realism of the wire format, rates of every journey and
//! trouble case, the seed examples, and ground truth that matches identifier connectivity.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{Read, Write};
use std::sync::OnceLock;

use idgraph::config::{Config, Rules};
use idgraph::demo::{
    GenerationStats, Generator, SECOND_SPACE, Settings, TroubleRates, Truth, TruthRecord,
    Unlinkable, demo_sources_in, write_dataset, write_files,
};
use idgraph::ingest::reader::parse_line;
use idgraph::ingest::route_event;
use idgraph::model::identifier::normalize_value;
use idgraph::model::{Event, StoredEvent};
use idgraph::resolve::extract_identifiers;
use serde_json::Value;

struct Dataset {
    events: Vec<u8>,
    truth: Vec<u8>,
    stats: GenerationStats,
}

impl Dataset {
    fn lines(&self) -> Vec<&str> {
        std::str::from_utf8(&self.events).unwrap().lines().collect()
    }

    fn parsed(&self) -> Vec<Event> {
        self.lines()
            .iter()
            .map(|l| Event::from_json(serde_json::from_str(l).unwrap()).unwrap())
            .collect()
    }

    fn truth_records(&self) -> Vec<TruthRecord> {
        std::str::from_utf8(&self.truth)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn person_of(&self) -> HashMap<String, TruthRecord> {
        self.truth_records()
            .into_iter()
            .map(|r| (r.message_id.clone(), r))
            .collect()
    }
}

fn generate(settings: Settings) -> Dataset {
    let mut generator = Generator::new(settings).unwrap();
    let (mut events, mut truth) = (Vec::new(), Vec::new());
    write_dataset(
        &mut generator,
        &mut events,
        Some(&mut truth as &mut dyn Write),
        &mut |_| {},
    )
    .unwrap();
    Dataset {
        events,
        truth,
        stats: generator.stats(),
    }
}

/// A few thousand people with every trouble case common enough to measure.
fn busy_settings() -> Settings {
    Settings {
        trouble: TroubleRates {
            logout_without_reset: 0.04,
            family_ipad: 0.04,
            shared_team_email: 0.04,
            junk_ids: 0.05,
            email_variants: 0.05,
            email_change: 0.05,
        },
        second_space: true,
        duplicate_rate: 0.01,
        late_rate: 0.02,
        ..Settings::new(4000, 99)
    }
}

fn busy() -> &'static Dataset {
    static DATA: OnceLock<Dataset> = OnceLock::new();
    DATA.get_or_init(|| generate(busy_settings()))
}

/// Identifiers of an event, following the extraction rules of DESIGN.md (blocked values
/// dropped), for checking the truth without the resolver.
fn identifiers(event: &Event, rules: &Rules) -> Vec<String> {
    let mut out = Vec::new();
    let mut add = |kind: &str, value: Option<String>| {
        if let Some(value) = value {
            let value = normalize_value(kind, &value);
            if rules.blocked_by(kind, &value).is_none() {
                out.push(format!("{kind}:{value}"));
            }
        }
    };
    add("user_id", event.user_id.clone());
    add("anonymous_id", event.anonymous_id.clone());
    add("email", event.path_str("traits.email"));
    add("email", event.path_str("context.traits.email"));
    add("phone", event.path_str("traits.phone"));
    add("phone", event.path_str("context.traits.phone"));
    let kind = event
        .path_str("context.device.type")
        .unwrap_or_else(|| "device".into());
    add(&format!("{kind}.id"), event.path_str("context.device.id"));
    if event.path("context.device.adTrackingEnabled") == Some(&Value::Bool(true)) {
        add(
            &format!("{kind}.idfa"),
            event.path_str("context.device.advertisingId"),
        );
    }
    add(
        &format!("{kind}.push_token"),
        event.path_str("context.device.token"),
    );
    out
}

fn rules() -> Rules {
    Config::defaults().rules_for("default").unwrap()
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let a = generate(Settings::new(300, 5));
    let b = generate(Settings::new(300, 5));
    assert!(
        a.events == b.events && a.truth == b.truth,
        "same seed must give identical bytes"
    );
    assert_eq!(a.stats, b.stats);
    let c = generate(Settings::new(300, 6));
    assert_ne!(a.events, c.events);
    assert_ne!(a.truth, c.truth);
    assert!(a.stats.events > 1000, "{} events", a.stats.events);
}

#[test]
fn every_line_is_a_valid_segment_event_with_truth() {
    let data = busy();
    let truth = data.person_of();
    let mut seen: HashMap<String, &str> = HashMap::new();
    let lines = data.lines();
    for (line, event) in lines.iter().zip(data.parsed()) {
        let raw: Value = serde_json::from_str(line).unwrap();
        assert!(
            truth.contains_key(&event.message_id),
            "no truth for {}",
            event.message_id
        );
        assert!(
            event.timestamp.is_some()
                && event.original_timestamp.is_some()
                && event.sent_at.is_some()
        );
        let t = event.timestamp.unwrap();
        assert!((idgraph::demo::YEAR_START..idgraph::demo::YEAR_END).contains(&t));
        assert!(raw["writeKey"].is_string());
        assert!(raw["context"]["library"]["name"].is_string());
        if let Some(previous) = seen.insert(event.message_id.clone(), line) {
            assert_eq!(
                previous, *line,
                "a duplicate delivery must be byte-identical"
            );
        }
    }
    assert_eq!(lines.len() as u64, data.stats.deliveries);
    assert_eq!(seen.len() as u64, data.stats.events);
    assert_eq!(
        truth.len() as u64,
        data.stats.events,
        "the truth lists each messageId once"
    );
    assert_eq!(lines.len() - seen.len(), data.stats.duplicates as usize);
    assert!(data.stats.duplicates > 0);
    let people: HashSet<&str> = truth.values().map(|r| r.person.as_str()).collect();
    assert_eq!(people.len() as u64, data.stats.people);
}

#[test]
fn events_look_like_what_each_sdk_sends() {
    let data = busy();
    let sources: HashMap<&str, _> = demo_sources_in(true)
        .into_iter()
        .map(|s| (s.write_key, s))
        .collect();
    let mut libraries: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let (mut context_traits_identifies, mut explicit_nulls, mut ios_zero_idfa) = (0, 0, 0);
    for line in data.lines() {
        let raw: Value = serde_json::from_str(line).unwrap();
        let source = &sources[raw["writeKey"].as_str().unwrap()];
        let ctx = &raw["context"];
        libraries
            .entry(source.name)
            .or_default()
            .insert(ctx["library"]["name"].as_str().unwrap().to_string());
        match source.channel {
            "ios" | "android" => {
                assert_eq!(ctx["device"]["type"], source.channel, "{line}");
                assert!(
                    ctx["device"]["id"].is_string() && ctx["app"]["build"].is_string(),
                    "{line}"
                );
                assert!(ctx["device"]["adTrackingEnabled"].is_boolean(), "{line}");
                assert!(ctx["os"]["name"].is_string(), "{line}");
                if ctx["device"]["advertisingId"] == "00000000-0000-0000-0000-000000000000" {
                    ios_zero_idfa += 1;
                    assert_eq!(ctx["device"]["adTrackingEnabled"], false);
                }
            }
            "web" => {
                assert!(
                    ctx["userAgent"].is_string() && ctx["page"]["url"].is_string(),
                    "{line}"
                );
                assert!(ctx.get("device").is_none());
            }
            channel => {
                assert_eq!(ctx["channel"], channel, "{line}");
                assert!(
                    ctx.get("device").is_none() && raw.get("anonymousId").is_some()
                        || raw.get("userId").is_some()
                );
            }
        }
        if raw["type"] == "identify"
            && raw.get("traits").is_none()
            && ctx["traits"]["email"].is_string()
        {
            context_traits_identifies += 1;
        }
        if raw.get("userId") == Some(&Value::Null) || raw.get("anonymousId") == Some(&Value::Null) {
            explicit_nulls += 1;
        }
        if raw["type"] == "page" {
            assert_eq!(raw["properties"]["url"], ctx["page"]["url"]);
        }
    }
    assert_eq!(
        libraries["website"],
        BTreeSet::from(["analytics.js".to_string()])
    );
    assert_eq!(
        libraries["ios_app"],
        BTreeSet::from(["analytics-ios".to_string()])
    );
    assert_eq!(
        libraries["android_app"],
        BTreeSet::from(["analytics-android".to_string()])
    );
    assert_eq!(
        libraries["crm"],
        BTreeSet::from(["analytics-python".to_string()])
    );
    assert_eq!(
        libraries["support_desk"],
        BTreeSet::from(["analytics-node".to_string()])
    );
    assert_eq!(libraries.len(), 8, "every source sends: {libraries:?}");
    assert!(
        context_traits_identifies > 0,
        "RudderStack-style identifies"
    );
    assert!(explicit_nulls > 0, "Python clients write explicit nulls");
    assert!(
        ios_zero_idfa > 0,
        "iOS without tracking consent reports a zero IDFA"
    );
}

/// |observed - n p| within four standard deviations (plus one for tiny counts).
fn assert_rate(name: &str, observed: u64, n: u64, p: f64) {
    let expected = n as f64 * p;
    let tolerance = 4.0 * (n as f64 * p * (1.0 - p)).sqrt() + 1.0;
    assert!(
        (observed as f64 - expected).abs() <= tolerance,
        "{name}: {observed} of {n}, expected {expected:.1} ± {tolerance:.1}"
    );
}

#[test]
fn every_journey_and_trouble_case_appears_at_its_rate() {
    let data = busy();
    let s = busy_settings();
    let st = &data.stats;
    let households =
        st.trouble.logout_without_reset + st.trouble.family_ipad + st.trouble.shared_team_email;
    assert_eq!(st.people, 4000);
    assert_eq!(
        st.units + households,
        st.people,
        "households hold two people"
    );
    assert_rate(
        "logout_without_reset",
        st.trouble.logout_without_reset,
        st.units,
        s.trouble.logout_without_reset,
    );
    assert_rate(
        "family_ipad",
        st.trouble.family_ipad,
        st.units,
        s.trouble.family_ipad,
    );
    assert_rate(
        "shared_team_email",
        st.trouble.shared_team_email,
        st.units,
        s.trouble.shared_team_email,
    );
    let singles = st.units - households;
    assert_rate(
        "anonymous_only",
        st.journeys.anonymous_only,
        singles,
        s.anonymous_only,
    );
    assert_eq!(
        st.journeys.signed_up + st.journeys.anonymous_only,
        st.people
    );
    let n = st.journeys.signed_up;
    assert_rate("junk_ids", st.trouble.junk_ids, n, s.trouble.junk_ids);
    assert_rate(
        "email_variants",
        st.trouble.email_variants,
        n,
        s.trouble.email_variants,
    );
    assert_rate(
        "email_change",
        st.trouble.email_change,
        n,
        s.trouble.email_change,
    );
    assert_rate("heavy_users", st.journeys.heavy_users, n, s.heavy_users);
    assert_rate(
        "multi_device",
        st.journeys.multi_device,
        n,
        (1.0 - s.heavy_users) * s.multi_device,
    );
    assert_rate(
        "companion_app",
        st.journeys.companion_app,
        n,
        s.companion_app,
    );
    assert_rate(
        "orphan_device",
        st.journeys.orphan_device,
        n,
        s.orphan_device,
    );
    assert_rate("support", st.journeys.support, n, s.support);
    assert_rate("sales", st.journeys.sales, n, s.sales);
    assert_rate("marketing", st.journeys.marketing, n, s.marketing);
    assert_rate("cart_handoff", st.journeys.cart_handoff, n, s.cart_handoff);
    assert_rate(
        "complaint_before_review",
        st.journeys.complaint_before_review,
        n,
        s.complaint_before_review,
    );
    assert_rate("duplicates", st.duplicates, st.events, s.duplicate_rate);
    assert_rate("late", st.late, st.events, s.late_rate);
}

#[test]
fn trouble_cases_are_visible_in_the_data() {
    let data = busy();
    let truth = data.person_of();
    let rules = rules();
    let events = data.parsed();
    // Which people carry each identifier (blocked values excluded), per type.
    let mut owners: HashMap<String, BTreeSet<&str>> = HashMap::new();
    let mut emails_of: HashMap<&str, BTreeSet<String>> = HashMap::new();
    // Which people each e-mail address (blocked or not) is sent for.
    let mut addressed: HashMap<String, BTreeSet<&str>> = HashMap::new();
    let (mut junk, mut variants) = (0, 0);
    for event in &events {
        let person = truth[&event.message_id].person.as_str();
        if event.call == idgraph::model::CallType::Identify
            && event.user_id.is_some()
            && let Some(email) = event.path_str("traits.email")
        {
            emails_of
                .entry(person)
                .or_default()
                .insert(normalize_value("email", &email));
        }
        for id in identifiers(event, &rules) {
            owners.entry(id).or_default().insert(person);
        }
        for value in [&event.user_id, &event.anonymous_id].into_iter().flatten() {
            if ["undefined", "null", "[object Object]"].contains(&value.as_str()) {
                junk += 1;
            }
        }
        for email in [
            event.path_str("traits.email"),
            event.path_str("context.traits.email"),
        ]
        .into_iter()
        .flatten()
        {
            let normal = normalize_value("email", &email);
            if email != normal {
                variants += 1;
            }
            addressed.entry(normal).or_default().insert(person);
        }
    }
    let mut shared: BTreeMap<String, u64> = BTreeMap::new();
    for (id, people) in &owners {
        if people.len() > 1 {
            assert_eq!(people.len(), 2, "{id} shared by {people:?}");
            *shared
                .entry(id.split(':').next().unwrap().to_string())
                .or_default() += 1;
        }
    }
    let st = &data.stats.trouble;
    // Identifiers are shared across people only by the trouble households.
    assert_eq!(
        shared.get("anonymous_id").copied().unwrap_or(0),
        st.logout_without_reset
    );
    assert_eq!(shared.get("ios.id").copied().unwrap_or(0), st.family_ipad);
    // Team mailboxes are shared by two colleagues each, and blocked by the default rules.
    let mailboxes = addressed.values().filter(|people| people.len() > 1).count();
    assert_eq!(mailboxes as u64, st.shared_team_email);
    assert_eq!(shared.get("email"), None);
    assert!(
        shared.keys().all(|k| [
            "anonymous_id",
            "ios.id",
            "email",
            "ios.idfa",
            "ios.push_token"
        ]
        .contains(&k.as_str())),
        "{shared:?}"
    );
    assert!(
        junk > 0 && variants > 0,
        "junk ids {junk}, e-mail variants {variants}"
    );
    let changed = emails_of.values().filter(|e| e.len() > 1).count() as u64;
    assert!(
        changed >= st.email_change,
        "{changed} people identify with two e-mails"
    );
    // Late arrival: some event reaches us after a later event of the same person.
    let mut last: HashMap<&str, i64> = HashMap::new();
    let mut late = 0;
    for event in &events {
        let person = truth[&event.message_id].person.as_str();
        let t = event.timestamp.unwrap();
        if last.get(person).is_some_and(|&previous| previous > t) {
            late += 1;
        }
        last.insert(person, t.max(last.get(person).copied().unwrap_or(i64::MIN)));
    }
    assert!(late > 0);
}

#[test]
fn truth_fragments_match_identifier_connectivity() {
    // Within one person and space, events shared identifiers connect must share a truth
    // group, and each truth group must be connected: the recall ceiling is exact.
    let data = busy();
    let truth = data.person_of();
    let rules = rules();
    let mut by_person: HashMap<(String, String), Vec<Event>> = HashMap::new();
    let mut distinct = HashSet::new();
    for event in data.parsed() {
        if !distinct.insert(event.message_id.clone()) {
            continue;
        }
        let r = &truth[&event.message_id];
        let key = (
            r.person.clone(),
            r.space.clone().unwrap_or_else(|| "default".into()),
        );
        by_person.entry(key).or_default().push(event);
    }
    let mut fragments = 0;
    for ((person, _), events) in &by_person {
        let mut parent: Vec<usize> = (0..events.len()).collect();
        fn find(parent: &mut [usize], mut x: usize) -> usize {
            while parent[x] != x {
                parent[x] = parent[parent[x]];
                x = parent[x];
            }
            x
        }
        let mut first: HashMap<String, usize> = HashMap::new();
        for (i, event) in events.iter().enumerate() {
            for id in identifiers(event, &rules) {
                match first.get(&id) {
                    Some(&j) => {
                        let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                        parent[a] = b;
                    }
                    None => {
                        first.insert(id, i);
                    }
                }
            }
        }
        let mut component_groups: HashMap<usize, BTreeSet<Option<String>>> = HashMap::new();
        let mut group_components: HashMap<Option<String>, BTreeSet<usize>> = HashMap::new();
        for (i, event) in events.iter().enumerate() {
            let group = truth[&event.message_id].fragment.clone();
            let root = find(&mut parent, i);
            component_groups
                .entry(root)
                .or_default()
                .insert(group.clone());
            group_components.entry(group).or_default().insert(root);
        }
        assert!(
            component_groups.values().all(|g| g.len() == 1),
            "{person}: linked events in different truth groups"
        );
        assert!(
            group_components.values().all(|c| c.len() == 1),
            "{person}: a truth group is not linked"
        );
        fragments += group_components.keys().filter(|g| g.is_some()).count();
    }
    let expected: u64 = data.stats.unlinkable.values().map(|c| c.events).sum();
    assert!(fragments > 0 && expected >= fragments as u64);
    for reason in [
        Unlinkable::NeverSignedUp,
        Unlinkable::DeviceNeverLoggedIn,
        Unlinkable::JunkIdsOnly,
    ] {
        assert!(data.stats.unlinkable[&reason].people > 0, "{reason:?}");
    }
}

#[test]
fn recall_ceiling_explains_unlinkable_people_and_spaces() {
    let data = busy();
    let truth = Truth::from_records(data.truth_records()).unwrap();
    let ceiling = truth.recall_ceiling();
    assert!(ceiling.recall > 0.5 && ceiling.recall < 1.0, "{ceiling:?}");
    for reason in [
        Unlinkable::NeverSignedUp,
        Unlinkable::DeviceNeverLoggedIn,
        Unlinkable::JunkIdsOnly,
    ] {
        let counted = &data.stats.unlinkable[&reason];
        assert_eq!(
            ceiling.by_reason[reason.as_str()].events,
            counted.events,
            "{reason:?}"
        );
        assert_eq!(
            ceiling.by_reason[reason.as_str()].people,
            counted.people,
            "{reason:?}"
        );
    }
    // The recipes apps live in the second space: their people are split across spaces.
    assert_eq!(
        ceiling.by_reason["other_space"].people,
        data.stats.journeys.companion_app
    );
    let recipes = truth.restrict_to_space(SECOND_SPACE);
    assert_eq!(
        recipes.len() as u64,
        data.stats.events_by_source["recipes_ios"] + data.stats.events_by_source["recipes_android"]
    );
}

#[test]
fn seed_examples_are_present() {
    let data = busy();
    let truth = data.person_of();
    let events = data.parsed();
    let key = |e: &Event| e.write_key().unwrap().to_string();
    let sources: HashMap<String, &str> = demo_sources_in(true)
        .into_iter()
        .map(|s| (s.write_key.to_string(), s.name))
        .collect();
    // A cart filled on the iPhone app and checked out on Android, by the same person.
    let mut carts: HashMap<String, (&str, i64)> = HashMap::new();
    for e in &events {
        if e.event_name.as_deref() == Some("Product Added") && sources[&key(e)] == "ios_app" {
            let cart = e.path_str("properties.cart_id").unwrap();
            carts.insert(
                cart,
                (truth[&e.message_id].person.as_str(), e.timestamp.unwrap()),
            );
        }
    }
    let handoffs = events
        .iter()
        .filter(|e| {
            e.event_name.as_deref() == Some("Order Completed") && sources[&key(e)] == "android_app"
        })
        .filter(|e| {
            e.path_str("properties.cart_id")
                .and_then(|c| carts.get(&c))
                .is_some_and(|&(person, added)| {
                    person == truth[&e.message_id].person && added < e.timestamp.unwrap()
                })
        })
        .count() as u64;
    assert!(
        handoffs >= data.stats.journeys.cart_handoff && handoffs > 0,
        "{handoffs} hand-offs"
    );
    // A complaint logged with support shortly before a review request goes out.
    let mut complaints: HashMap<&str, Vec<i64>> = HashMap::new();
    for e in &events {
        if e.event_name.as_deref() == Some("Complaint Logged") {
            complaints
                .entry(truth[&e.message_id].person.as_str())
                .or_default()
                .push(e.timestamp.unwrap());
        }
    }
    let shortly_after = events
        .iter()
        .filter(|e| e.event_name.as_deref() == Some("Review Request Sent"))
        .filter(|e| {
            let t = e.timestamp.unwrap();
            complaints
                .get(truth[&e.message_id].person.as_str())
                .is_some_and(|c| c.iter().any(|&c| c < t && t - c < 2 * 86_400_000))
        })
        .count() as u64;
    assert!(shortly_after >= data.stats.journeys.complaint_before_review && shortly_after > 0);
}

#[test]
fn anonymous_browsing_converts_on_identify() {
    let data = busy();
    let truth = data.person_of();
    // For signed-up people, some anonymousId is seen alone before an identify joins it
    // to the userId: the conversion point.
    let mut first_alone: HashMap<String, i64> = HashMap::new();
    let mut converted = HashSet::new();
    let mut events = data.parsed();
    events.sort_by_key(|e| e.timestamp);
    for e in &events {
        match (&e.user_id, &e.anonymous_id) {
            (None, Some(anon)) => {
                first_alone
                    .entry(anon.clone())
                    .or_insert(e.timestamp.unwrap());
            }
            (Some(_), Some(anon))
                if e.call == idgraph::model::CallType::Identify
                    && first_alone.contains_key(anon) =>
            {
                converted.insert(truth[&e.message_id].person.clone());
            }
            _ => {}
        }
    }
    assert!(
        converted.len() as u64 > data.stats.journeys.signed_up / 3,
        "{} converted",
        converted.len()
    );
}

#[test]
fn gzip_output_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let (gz, truth_gz) = (dir.path().join("e.jsonl.gz"), dir.path().join("t.jsonl.gz"));
    let summary = write_files(Settings::new(150, 3), &gz, Some(&truth_gz), &mut |_| {}).unwrap();
    let plain = generate(Settings::new(150, 3));
    let gunzip = |path: &std::path::Path| {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
            .read_to_end(&mut out)
            .unwrap();
        out
    };
    assert_eq!(gunzip(&gz), plain.events);
    assert_eq!(gunzip(&truth_gz), plain.truth);
    assert_eq!(summary.bytes, std::fs::metadata(&gz).unwrap().len());
    assert!(summary.bytes < plain.events.len() as u64 / 3, "compressed");
    assert_eq!(summary.stats, plain.stats);
}

#[test]
fn streams_without_holding_the_data_set() {
    let mut generator = Generator::new(Settings::new(1_000_000, 1)).unwrap();
    let first: Vec<_> = generator.by_ref().take(1000).collect();
    assert_eq!(first.len(), 1000);
    assert!(
        generator.people_done() < 500,
        "{} people planned for 1000 events",
        generator.people_done()
    );
    let mut max_held = 0;
    for _ in 0..50_000 {
        generator.next().unwrap();
        max_held = max_held.max(generator.held());
    }
    assert!(max_held < 1_000, "held {max_held} events at once");
}

#[test]
fn bundled_demo_asset_matches_the_generator() {
    // Regenerate with: idgraph generate --demo --out assets/demo/events.jsonl --truth assets/demo/truth.jsonl
    let data = generate(Settings::demo());
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
    let events = std::fs::read(root.join("events.jsonl")).unwrap();
    let truth = std::fs::read(root.join("truth.jsonl")).unwrap();
    assert!(
        events == data.events,
        "assets/demo/events.jsonl drifted from the generator"
    );
    assert!(
        truth == data.truth,
        "assets/demo/truth.jsonl drifted from the generator"
    );
    // Aim: about 1.5 MB; the bound leaves room for changes to the generator.
    assert!(events.len() < 1_800_000, "{} bytes", events.len());
    // The demo shows every journey and trouble case.
    let st = &data.stats;
    let counts = serde_json::to_value(st).unwrap();
    for section in ["journeys", "trouble"] {
        for (name, count) in counts[section].as_object().unwrap() {
            assert!(
                count.as_u64().unwrap() > 0,
                "the demo has no {section}.{name}"
            );
        }
    }
    assert!(st.duplicates > 0 && st.late > 0 && st.unlinkable.len() == 4);
}

#[test]
fn ideal_rule_based_profiles_reach_exactly_the_ceiling() {
    // Profiles that link everything shared identifiers can link, and nothing else: one per
    // truth group. Precision is perfect and recall is the ceiling.
    let data = busy();
    let records = data.truth_records();
    let mut groups: BTreeMap<(String, Option<String>, Option<String>), Vec<String>> =
        BTreeMap::new();
    for r in &records {
        groups
            .entry((r.person.clone(), r.space.clone(), r.fragment.clone()))
            .or_default()
            .push(r.message_id.clone());
    }
    let profiles =
        groups
            .into_values()
            .enumerate()
            .map(|(i, message_ids)| idgraph::demo::ResolvedProfile {
                profile_id: format!("p{i}"),
                identifiers: vec![],
                message_ids,
            });
    let truth = Truth::from_records(records.clone()).unwrap();
    let report = idgraph::demo::evaluate(profiles, &truth);
    assert_eq!(report.precision, 1.0);
    assert!(
        (report.recall - report.ceiling.recall).abs() < 1e-12,
        "{report}"
    );
    assert_eq!(report.split_people, report.ceiling.unrecoverable_people);
    assert_eq!(report.missing_events, 0);
}

#[test]
fn journeys_can_end_at_a_given_instant_with_the_seed_examples_in_the_final_days() {
    const DAY: i64 = 86_400_000;
    let end = idgraph::model::time::parse_time_str("2031-06-15T12:00:00Z").unwrap();
    let settings = Settings {
        ends_at: Some(end),
        ..Settings::new(400, 11)
    };
    let data = generate(settings);
    let events = data.parsed();
    let times: Vec<i64> = events.iter().map(|e| e.timestamp.unwrap()).collect();
    let (first, last) = (*times.iter().min().unwrap(), *times.iter().max().unwrap());
    assert!(
        last <= end && last > end - DAY,
        "last event {last}, end {end}"
    );
    assert!(first > end - 400 * DAY, "a year of journeys before the end");
    let created: Vec<i64> = events
        .iter()
        .filter_map(|e| e.path_str("traits.createdAt"))
        .map(|t| idgraph::model::time::parse_time_str(&t).unwrap())
        .collect();
    assert!(!created.is_empty());
    assert!(created.iter().all(|&t| t <= end && t > end - 400 * DAY));
    // Every event has its truth; carts and complaints of the seed examples are recent.
    let truth = data.person_of();
    assert!(events.iter().all(|e| truth.contains_key(&e.message_id)));
    let recent = |name: &str, days: i64| {
        events
            .iter()
            .filter(|e| e.event_name.as_deref() == Some(name))
            .filter(|e| e.timestamp.unwrap() > end - days * DAY)
            .count()
    };
    assert!(
        recent("Cart Viewed", 3) > 0,
        "a cart handed off in the last days"
    );
    let high_severity_complaints = events
        .iter()
        .filter(|e| e.event_name.as_deref() == Some("Complaint Logged"))
        .filter(|e| e.path_str("properties.severity").as_deref() == Some("high"))
        .filter(|e| e.timestamp.unwrap() > end - 10 * DAY)
        .count() as u64;
    assert!(high_severity_complaints > 0);
    // The fixed calendar stays the default, and settings without the field still read.
    assert_eq!(Settings::new(400, 11).ends_at, None);
    let mut json = serde_json::to_value(Settings::new(3, 1)).unwrap();
    json.as_object_mut().unwrap().remove("ends_at");
    assert_eq!(
        serde_json::from_value::<Settings>(json).unwrap(),
        Settings::new(3, 1)
    );
}

/// Ingest reads of each line only the fields it uses (`ReadFields`); everything it derives
/// from them must be what the whole event gives: identifiers (a promoted property too),
/// routing, and the stored record.
#[test]
fn lines_read_for_ingest_give_what_whole_events_give() {
    let config = Config::from_toml_str(
        "[[identity.promote]]\npath = \"properties.order_id\"\ntype = \"order_id\"\n",
        "test",
    )
    .unwrap();
    let rules = config.rules_for("default").unwrap();
    let fields = config.read_fields();
    let (mut partial_reads, mut promoted) = (0, 0);
    for line in busy().lines() {
        let read = parse_line(line.as_bytes(), &fields).unwrap();
        let whole = Event::from_json(serde_json::from_str(line).unwrap()).unwrap();
        assert_eq!(read, whole, "{line}");
        if read.raw() != whole.raw() {
            partial_reads += 1;
        }
        let ids = extract_identifiers(&read, &rules, |_| "user_id");
        assert_eq!(ids, extract_identifiers(&whole, &rules, |_| "user_id"));
        promoted += ids
            .identifiers
            .iter()
            .filter(|i| i.kind == "order_id")
            .count();
        let routing = route_event(&read, &config, "default", None, None);
        assert_eq!(routing, route_event(&whole, &config, "default", None, None));
        let stored = |event: &Event| {
            let time = event.time().unwrap_or_default();
            StoredEvent::from_event(event, 1, time, &routing.source, &routing.channel, vec![])
        };
        assert_eq!(stored(&read), stored(&whole), "{line}");
    }
    assert!(partial_reads > busy().lines().len() / 2, "{partial_reads}");
    assert!(promoted > 0);
}
