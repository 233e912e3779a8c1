//! Getting events in: sources and channels, the JSON-lines reader, the Segment-compatible
//! HTTP server. Everything ends in a [`Sink`] that stores events durably.

pub mod http;
pub mod reader;
pub mod source;
pub mod writer;

use std::future::Future;

use serde::Serialize;

use crate::model::Event;

pub use source::{Routing, route_event};

/// An event with the source and channel it arrived through.
#[derive(Debug, Clone, PartialEq)]
pub struct SourcedEvent {
    pub event: Event,
    pub source: String,
    pub channel: String,
}

/// What happened to a submitted group of events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SubmitOutcome {
    /// Events newly stored.
    pub stored: usize,
    /// Events skipped because their messageId was already stored in the space.
    pub duplicates: usize,
    /// Events that could not be attributed (every identifier blocked): index in the
    /// submitted list and the reason.
    pub unresolvable: Vec<(usize, String)>,
    /// Profiles merged by these events.
    pub merges: usize,
}

/// Stores events durably: when `submit` returns `Ok`, the events are on disk.
pub trait Sink: Clone + Send + Sync + 'static {
    /// Stores events into a space.
    fn submit(
        &self,
        space: String,
        events: Vec<SourcedEvent>,
    ) -> impl Future<Output = Result<SubmitOutcome, SinkError>> + Send;
}

/// Why a sink could not store events.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SinkError {
    /// The store is shutting down.
    #[error("the store is shutting down")]
    ShuttingDown,
    /// The store failed.
    #[error("store error: {0}")]
    Store(String),
}
