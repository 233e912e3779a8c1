//! Fuzzes one JSON line through the event parser, identifier extraction and the stored
//! record: nothing may panic, every extracted identifier must respect the length caps, and
//! the stored JSON must read back as exactly the same event.
#![no_main]

use std::sync::OnceLock;

use idgraph::config::{Config, DEFAULT_SPACE, Rules};
use idgraph::ingest::reader::parse_line;
use idgraph::model::identifier::{MAX_IDENTIFIER_BYTES, MAX_IDENTIFIER_TYPE_BYTES};
use idgraph::model::{Event, ReadFields, StoredEvent};
use idgraph::resolve::extract_identifiers;
use libfuzzer_sys::fuzz_target;

fn config() -> &'static (Rules, ReadFields) {
    static CONFIG: OnceLock<(Rules, ReadFields)> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let config = Config::from_toml_str(
            "[identity]\nalias_merges = true\n[[identity.promote]]\npath = \"properties.loyalty\"\ntype = \"loyalty_id\"\n",
            "fuzz",
        )
        .expect("fuzz config");
        let rules = config.rules_for(DEFAULT_SPACE).expect("fuzz rules");
        (rules, config.read_fields())
    })
}

fn rules() -> &'static Rules {
    &config().0
}

fuzz_target!(|data: &[u8]| {
    let fields = &config().1;
    // Reading only the fields ingest uses accepts exactly what reading the whole event does.
    let whole = std::str::from_utf8(data)
        .ok()
        .and_then(|text| serde_json::from_str(text).ok())
        .and_then(|value| Event::from_json(value).ok());
    let parsed = parse_line(data, fields);
    assert_eq!(
        parsed.is_ok(),
        whole.is_some(),
        "partial and whole reads disagree"
    );
    let Ok(mut event) = parsed else {
        return;
    };
    let extraction = extract_identifiers(&event, rules(), |_| "anonymous_id");
    if let Some(whole) = &whole {
        assert_eq!(&event, whole);
        assert_eq!(
            extraction,
            extract_identifiers(whole, rules(), |_| "anonymous_id")
        );
    }
    for id in &extraction.identifiers {
        assert!(
            id.value.len() <= MAX_IDENTIFIER_BYTES,
            "identifier too long"
        );
        assert!(
            id.kind.len() <= MAX_IDENTIFIER_TYPE_BYTES,
            "identifier type too long"
        );
        assert!(!id.value.is_empty());
    }
    let time = event.time().unwrap_or(0);
    let _ = idgraph::model::event::check_time_bounds(&event, 0);
    event.set_received_at(time);
    let stored = StoredEvent::from_event(&event, 1, time, "fuzz", "web", extraction.identifiers);
    // The stored JSON must read back as the same event, every value exactly (`check`
    // re-derives traits from it).
    let again = parse_line(stored.raw_json.as_bytes(), fields).expect("stored JSON reads back");
    assert_eq!(again.message_id, event.message_id);
    assert_eq!(
        again.whole_raw(),
        event.whole_raw(),
        "stored JSON reads back unchanged"
    );
    let _ = event.profile_traits();
    let _ = event.label();
});
