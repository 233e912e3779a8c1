//! Fuzzes one JSON line through the event parser, identifier extraction and the stored
//! record: nothing may panic, every extracted identifier must respect the length caps, and
//! the stored JSON must read back as exactly the same event.
#![no_main]

use std::sync::OnceLock;

use idgraph::config::{Config, DEFAULT_SPACE, Rules};
use idgraph::ingest::reader::parse_line;
use idgraph::model::StoredEvent;
use idgraph::model::identifier::{MAX_IDENTIFIER_BYTES, MAX_IDENTIFIER_TYPE_BYTES};
use idgraph::resolve::extract_identifiers;
use libfuzzer_sys::fuzz_target;

fn rules() -> &'static Rules {
    static RULES: OnceLock<Rules> = OnceLock::new();
    RULES.get_or_init(|| {
        let config = Config::from_toml_str(
            "[identity]\nalias_merges = true\n[[identity.promote]]\npath = \"properties.loyalty\"\ntype = \"loyalty_id\"\n",
            "fuzz",
        )
        .expect("fuzz config");
        config.rules_for(DEFAULT_SPACE).expect("fuzz rules")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(mut event) = parse_line(data) else {
        return;
    };
    let extraction = extract_identifiers(&event, rules(), |_| "anonymous_id");
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
    let again = parse_line(stored.raw_json.as_bytes()).expect("stored JSON reads back");
    assert_eq!(again.message_id, event.message_id);
    assert_eq!(again.raw(), event.raw(), "stored JSON reads back unchanged");
    let _ = event.profile_traits();
    let _ = event.label();
});
