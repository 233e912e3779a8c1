//! Fuzzes a tracking request body: content decoding (gzip bounded by the limit), JSON,
//! batch defaults, limits and the per-item event preparation. Nothing may panic, the
//! decoded body never exceeds its limit, and each prepared event's JSON reads back as the
//! same event.
#![no_main]

use idgraph::ingest::http::Limits;
use idgraph::ingest::http::decode::{ContentEncoding, decode_body, parse_object};
use idgraph::ingest::http::events::{BatchDefaults, prepare_event};
use idgraph::ingest::http::limits::check_batch_count;
use idgraph::ingest::reader::parse_line;
use idgraph::model::ReadFields;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const LIMIT: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, raw)) = data.split_first() else {
        return;
    };
    let encoding = if flags & 1 == 1 {
        ContentEncoding::Gzip
    } else {
        ContentEncoding::Identity
    };
    let Ok(decoded) = decode_body(raw, encoding, LIMIT) else {
        return;
    };
    assert!(decoded.len() <= LIMIT, "decoded past the limit");
    let Ok(mut object) = parse_object(&decoded) else {
        return;
    };
    let limits = Limits {
        max_message_bytes: 32 * 1024,
        max_batch_bytes: LIMIT,
        max_batch_messages: 2500,
        body_read_timeout: std::time::Duration::from_secs(10),
    };
    let Ok(defaults) = BatchDefaults::from_body(&object) else {
        return;
    };
    let items = match object.remove("batch") {
        Some(Value::Array(items)) => items,
        _ => vec![Value::Object(object)],
    };
    if check_batch_count(items.len(), &limits).is_err() {
        return;
    }
    let received_at = 1_700_000_000_000;
    for item in items {
        if let Ok(event) = prepare_event(item, None, &defaults, &limits, received_at) {
            // What the store keeps must read back as the same event (check, backup and
            // restore re-read it).
            let again = parse_line(event.raw_json().as_bytes(), &ReadFields::default())
                .expect("stored JSON reads back");
            assert_eq!(
                again.whole_raw(),
                event.whole_raw(),
                "stored JSON reads back unchanged"
            );
        }
    }
});
