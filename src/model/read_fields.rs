//! Reading only the parts of an event's JSON that ingest uses.
//!
//! A line of JSON-lines input is stored as the text it was read from, so ingest only needs
//! the fields that resolution, routing and filing read: the ids and times, `traits`,
//! `writeKey`, and the `context` keys that name devices, channels and apps. Skipping the
//! rest (`properties`, `context.page`, `context.ip`, ...) without building it saves most of
//! the parsing and freeing of a typical event. Promoted identifier paths add what they read.
//! The read also says where each top-level `writeKey` value lies in the text: the write key
//! routes the event but is a credential, so it is cut out of the text that is stored.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use serde::Deserializer;
use serde::de::{DeserializeSeed, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// The top-level key that names the event's source by its write key: read, and located in
/// the text so that it can be left out of what is stored.
pub const WRITE_KEY: &str = "writeKey";

/// Further top-level keys ingest reads from every event.
const TOP_KEYS: [&str; 14] = [
    "type",
    "messageId",
    "userId",
    "anonymousId",
    "previousId",
    "groupId",
    "event",
    "name",
    "timestamp",
    "originalTimestamp",
    "sentAt",
    "receivedAt",
    "traits",
    "context",
];

/// `context` keys ingest reads from every event.
const CONTEXT_KEYS: [&str; 7] = [
    "device",
    "traits",
    "externalIds",
    "channel",
    "library",
    "app",
    "userAgent",
];

/// `context` keys whose presence alone is read (channel derivation): kept as `null`.
const CONTEXT_PRESENCE_KEYS: [&str; 1] = ["page"];

/// Which parts of an event's JSON an ingest reads: the built-in fields plus what promoted
/// identifier paths name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadFields {
    /// Further top-level keys, read whole.
    top: Vec<String>,
    /// Further `context` keys, read whole.
    context: Vec<String>,
    /// A promoted path reads `context` itself: keep all of it.
    whole_context: bool,
}

/// What [`ReadFields::read`] kept of a JSON object.
#[derive(Debug)]
pub struct ReadObject {
    /// The fields read.
    pub fields: Map<String, Value>,
    /// Where the value of each top-level `writeKey` member lies in the text, in order.
    pub write_keys: Vec<Range<usize>>,
}

/// What to do with one key of an object.
enum Keep {
    Whole,
    /// Read whole and note where the value lies in the text.
    Located,
    Presence,
    Context,
    Skip,
}

impl ReadFields {
    /// The built-in fields plus the first parts of these dotted paths (promoted identifiers).
    pub fn with_paths<'a>(paths: impl IntoIterator<Item = &'a str>) -> ReadFields {
        let mut fields = ReadFields::default();
        for path in paths {
            let mut parts = path.split('.');
            let first = parts.next().unwrap_or_default();
            match (first, parts.next()) {
                ("context", None) => fields.whole_context = true,
                ("context", Some(second)) => fields.context.push(second.to_string()),
                (first, _) => fields.top.push(first.to_string()),
            }
        }
        fields
    }

    fn top_key(&self, key: &str) -> Keep {
        if key == WRITE_KEY {
            Keep::Located
        } else if key == "context" {
            if self.whole_context {
                Keep::Whole
            } else {
                Keep::Context
            }
        } else if TOP_KEYS.contains(&key) || self.top.iter().any(|k| k == key) {
            Keep::Whole
        } else {
            Keep::Skip
        }
    }

    fn context_key(&self, key: &str) -> Keep {
        if CONTEXT_KEYS.contains(&key) || self.context.iter().any(|k| k == key) {
            Keep::Whole
        } else if CONTEXT_PRESENCE_KEYS.contains(&key) {
            Keep::Presence
        } else {
            Keep::Skip
        }
    }

    /// Parses a JSON text, keeping of its top-level object only what this reads. `Ok(None)`
    /// when the text is valid JSON but not an object.
    pub fn read(&self, text: &str) -> serde_json::Result<Option<ReadObject>> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let object = deserializer.deserialize_any(Partial {
            fields: self,
            level: Level::Top,
        })?;
        deserializer.end()?;
        Ok(object.map(|object| ReadObject {
            fields: object.fields,
            write_keys: object
                .write_keys
                .into_iter()
                .map(|value| range_in(text, value))
                .collect(),
        }))
    }
}

/// Where `part`, a slice borrowed from `text` (as serde_json borrows raw values from the
/// text it reads), lies in it.
fn range_in(text: &str, part: &str) -> Range<usize> {
    let start = part.as_ptr() as usize - text.as_ptr() as usize;
    start..start + part.len()
}

/// Reads the text of a top-level member's value as deep as it lies in its object, so the
/// nesting limit refuses exactly what it refuses in a full parse of the object.
fn member_value(text: &str) -> serde_json::Result<Value> {
    if text.starts_with(['[', '{']) {
        let [value] = serde_json::from_str::<[Value; 1]>(&format!("[{text}]"))?;
        Ok(value)
    } else {
        serde_json::from_str(text)
    }
}

/// The scalar `visit_*` methods of a visitor that reads every JSON scalar as `$value`
/// (serde_json hands `deserialize_any` each scalar type to its own method).
macro_rules! scalars_read_as {
    ($value:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok($value)
        }

        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok($value)
        }

        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok($value)
        }

        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok($value)
        }

        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok($value)
        }

        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
}

#[derive(Clone, Copy)]
enum Level {
    Top,
    Context,
}

/// Reads an object keeping the keys `fields` names at `level`; any other value is skipped
/// and read as `None`.
#[derive(Clone, Copy)]
struct Partial<'f> {
    fields: &'f ReadFields,
    level: Level,
}

/// An object as [`Partial`] read it: the fields kept and the text of each located value.
struct PartialObject<'de> {
    fields: Map<String, Value>,
    write_keys: Vec<&'de str>,
}

impl<'de> DeserializeSeed<'de> for Partial<'_> {
    type Value = Option<PartialObject<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Partial<'_> {
    type Value = Option<PartialObject<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut map = Map::new();
        let mut write_keys = Vec::new();
        while let Some(Key(key)) = access.next_key()? {
            let keep = match self.level {
                Level::Top => self.fields.top_key(&key),
                Level::Context => self.fields.context_key(&key),
            };
            let value = match keep {
                Keep::Whole => access.next_value::<Value>()?,
                Keep::Located => {
                    let raw: &'de RawValue = access.next_value()?;
                    write_keys.push(raw.get());
                    member_value(raw.get()).map_err(A::Error::custom)?
                }
                Keep::Presence => {
                    access.next_value::<Skipped>()?;
                    Value::Null
                }
                Keep::Context => {
                    let context = access.next_value_seed(Partial {
                        fields: self.fields,
                        level: Level::Context,
                    })?;
                    match context {
                        Some(context) => Value::Object(context.fields),
                        // Nothing reads a context that is not an object.
                        None => Value::Null,
                    }
                }
                Keep::Skip => {
                    access.next_value::<Skipped>()?;
                    continue;
                }
            };
            map.insert(key.into_owned(), value);
        }
        Ok(Some(PartialObject {
            fields: map,
            write_keys,
        }))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        while access.next_element::<Skipped>()?.is_some() {}
        Ok(None)
    }

    scalars_read_as!(None);
}

/// A JSON value read and dropped. Unlike `IgnoredAny`, it reads every string and number
/// as a full parse does, so it refuses what a full parse refuses (a lone surrogate escape,
/// a number out of range): a line ingest accepts always reads back whole.
struct Skipped;

impl<'de> serde::Deserialize<'de> for Skipped {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SkipVisitor;
        impl<'de> Visitor<'de> for SkipVisitor {
            type Value = Skipped;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON value")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Skipped, A::Error> {
                while access.next_entry::<Skipped, Skipped>()?.is_some() {}
                Ok(Skipped)
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Skipped, A::Error> {
                while access.next_element::<Skipped>()?.is_some() {}
                Ok(Skipped)
            }

            scalars_read_as!(Skipped);
        }
        deserializer.deserialize_any(SkipVisitor)
    }
}

/// An object key, borrowed from the text when it holds no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }

            fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(key)))
            }

            fn visit_str<E>(self, key: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(key.to_string())))
            }

            fn visit_string<E>(self, key: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(key)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(fields: &ReadFields, text: &str) -> Value {
        Value::Object(fields.read(text).unwrap().unwrap().fields)
    }

    #[test]
    fn keeps_what_ingest_reads_and_skips_the_rest() {
        let text = r#"{"type":"track","event":"Viewed","userId":"u","writeKey":"k",
            "properties":{"sku":"A","price":1.5},"integrations":{"All":true},
            "context":{"ip":"1.2.3.4","page":{"url":"https://x.io/"},"library":{"name":"analytics.js"},
                       "device":{"id":"d","type":"ios"},"traits":{"email":"a@x.io"},"locale":"en"}}"#;
        let kept = read(&ReadFields::default(), text);
        assert_eq!(
            kept,
            json!({"type":"track","event":"Viewed","userId":"u","writeKey":"k",
                "context":{"page":null,"library":{"name":"analytics.js"},
                           "device":{"id":"d","type":"ios"},"traits":{"email":"a@x.io"}}})
        );
    }

    #[test]
    fn top_level_write_keys_are_located_in_the_text() {
        let text =
            r#"{"writeKey":"a", "context":{"writeKey":"c"},"write\u004bey" : {"k":[1]} ,"n":1}"#;
        let read = ReadFields::default().read(text).unwrap().unwrap();
        let located: Vec<&str> = read.write_keys.iter().map(|r| &text[r.clone()]).collect();
        assert_eq!(located, [r#""a""#, r#"{"k":[1]}"#]);
        // The last one counts, as in a full parse.
        assert_eq!(read.fields["writeKey"], json!({"k": [1]}));
        let plain = ReadFields::default()
            .read(r#"{"type":"page"}"#)
            .unwrap()
            .unwrap();
        assert!(plain.write_keys.is_empty());
    }

    #[test]
    fn promoted_paths_keep_what_they_name() {
        let text = r#"{"type":"track","properties":{"loyalty":7},"context":{"page":{"url":"u"},"ip":"1"}}"#;
        let fields = ReadFields::with_paths(["properties.loyalty", "context.page.url"]);
        assert_eq!(
            read(&fields, text),
            json!({"type":"track","properties":{"loyalty":7},"context":{"page":{"url":"u"}}})
        );
        let whole = ReadFields::with_paths(["context"]);
        assert_eq!(
            read(&whole, text),
            json!({"type":"track","context":{"page":{"url":"u"},"ip":"1"}})
        );
    }

    #[test]
    fn odd_shapes_read_as_the_full_parse_would_see_them() {
        let fields = ReadFields::default();
        // Escaped keys, repeated keys (the last wins), a context that is not an object.
        assert_eq!(
            read(
                &fields,
                r#"{"user\u0049d":"u","type":"a","type":"page","context":[1,{"a":2}]}"#
            ),
            json!({"userId":"u","type":"page","context":null})
        );
        for text in ["[1,2]", "\"text\"", "12", "null", "true"] {
            assert!(fields.read(text).unwrap().is_none(), "{text}");
        }
        for bad in [
            r#"{"type":"page","properties":{"a":}}"#,
            r#"{"type":"page"} x"#,
            r#"{"type":"page","context":{"ip":"1""#,
            // What a full parse refuses, skipped parts refuse too.
            r#"{"type":"page","properties":{"a":"\ud800"}}"#,
            r#"{"type":"page","properties":{"a":1e400}}"#,
            r#"{"type":"page","context":{"ip":[-]}}"#,
            r#"{"type":"page","writeKey":"\ud800"}"#,
            r#"{"type":"page","writeKey":[1e400]}"#,
        ] {
            assert!(serde_json::from_str::<Value>(bad).is_err(), "{bad}");
            assert!(fields.read(bad).is_err(), "{bad}");
        }
    }
}
