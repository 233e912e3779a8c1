//! Planned events: what a journey decided to send, before it is rendered as Segment JSON.

use std::sync::Arc;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use super::sources::{SourceId, WEB_ORIGIN};
use super::truth::Unlinkable;
use crate::model::Millis;

/// Shared text (ids, e-mails) cloned into many events without copying.
pub(crate) type Text = Arc<str>;

/// A property or trait value.
#[derive(Clone, Debug)]
pub(crate) enum Scalar {
    Text(Text),
    Static(&'static str),
    Int(i64),
    Money(f64),
    Bool(bool),
    List(Vec<Props>),
    Object(Props),
}

impl From<&'static str> for Scalar {
    fn from(value: &'static str) -> Self {
        Scalar::Static(value)
    }
}

impl From<Text> for Scalar {
    fn from(value: Text) -> Self {
        Scalar::Text(value)
    }
}

impl From<String> for Scalar {
    fn from(value: String) -> Self {
        Scalar::Text(value.into())
    }
}

impl From<i64> for Scalar {
    fn from(value: i64) -> Self {
        Scalar::Int(value)
    }
}

impl From<bool> for Scalar {
    fn from(value: bool) -> Self {
        Scalar::Bool(value)
    }
}

impl Serialize for Scalar {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Scalar::Text(text) => serializer.serialize_str(text),
            Scalar::Static(text) => serializer.serialize_str(text),
            Scalar::Int(n) => serializer.serialize_i64(*n),
            Scalar::Money(x) => serializer.serialize_f64((x * 100.0).round() / 100.0),
            Scalar::Bool(b) => serializer.serialize_bool(*b),
            Scalar::List(items) => serializer.collect_seq(items),
            Scalar::Object(props) => props.serialize(serializer),
        }
    }
}

/// An ordered JSON object of properties or traits.
#[derive(Clone, Debug, Default)]
pub(crate) struct Props(Vec<(&'static str, Scalar)>);

impl Props {
    /// Adds a key (builder style).
    pub(crate) fn with(mut self, key: &'static str, value: impl Into<Scalar>) -> Props {
        self.0.push((key, value.into()));
        self
    }

    /// Adds a key.
    pub(crate) fn push(&mut self, key: &'static str, value: impl Into<Scalar>) {
        self.0.push((key, value.into()));
    }

    /// The value of a key.
    pub(crate) fn get(&self, key: &str) -> Option<&Scalar> {
        self.0.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// Whether there are no keys.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Props {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// A web page: `properties` of a page call and `context.page` of every web event, kept
/// as JSON because many events repeat it.
#[derive(Debug)]
pub(crate) struct Page {
    url: String,
    json: String,
}

#[derive(Serialize)]
struct PageFields<'a> {
    path: &'a str,
    referrer: &'a str,
    title: &'a str,
    url: &'a str,
}

impl Page {
    /// A page of the company website at `path`, reached from `referrer` (a URL or "").
    pub(crate) fn new(path: &str, title: &str, referrer: &str) -> Page {
        let url = format!("{WEB_ORIGIN}{path}");
        let fields = PageFields {
            path,
            referrer,
            title,
            url: &url,
        };
        let json = serde_json::to_string(&fields).expect("a struct of strings always serialises");
        Page { url, json }
    }

    /// The full URL (the next page's referrer).
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// The page as a JSON object.
    pub(crate) fn json(&self) -> &str {
        &self.json
    }
}

/// The call an event makes.
#[derive(Debug)]
pub(crate) enum Payload {
    /// A web page view named `name`; the page itself is the event's `page`.
    Page {
        name: &'static str,
    },
    Screen {
        name: &'static str,
        props: Props,
    },
    Track {
        event: &'static str,
        props: Props,
    },
    Identify {
        traits: Props,
    },
}

/// Which events of a person deterministic rules can link together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Group {
    /// Linked (through shared identifiers) to the person's main body of events.
    Main,
    /// Cut off from the main body; `id` is unique within the unit.
    Fragment { id: u32, reason: Unlinkable },
}

/// One event a journey decided to send.
#[derive(Debug)]
pub(crate) struct PlannedEvent {
    /// When it happened (the server-corrected `timestamp`).
    pub time: Millis,
    /// Index of the true person in the unit.
    pub person: usize,
    pub source: SourceId,
    /// Index of the app install (client sources) in the unit.
    pub install: Option<usize>,
    pub user_id: Option<Text>,
    pub anonymous_id: Option<Text>,
    /// `context.traits.email` of a server-side event.
    pub context_email: Option<Text>,
    /// The page a web event happened on.
    pub page: Option<Arc<Page>>,
    pub payload: Payload,
    pub group: Group,
    /// Time between the event and the client sending it (`sentAt - originalTimestamp`).
    pub send_delay: Millis,
}
