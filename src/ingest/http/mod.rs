//! The Segment-compatible HTTP server behind `idgraph serve`.
//!
//! Tracking API (as Segment's HTTP Tracking API documents it):
//! `POST /v1/batch` (also `/v1/import`), `/v1/identify`, `/v1/track`, `/v1/page`,
//! `/v1/screen`, `/v1/group`, `/v1/alias`. Bodies are JSON whatever the `Content-Type`,
//! optionally gzip-compressed; the write key comes from `Authorization: Basic
//! base64(KEY:)` or from `writeKey` in the body, and decides the source, hence the one
//! space the request may write into.
//!
//! Statuses, chosen so that Segment and RudderStack clients (which retry 429 and 5xx, never
//! other 4xx) retry exactly what can succeed later:
//! - `200 {"success":true,"received","stored","duplicates","rejected":[],"unresolvable"}`:
//!   every message is durably stored (or was already, by messageId).
//! - `400`: the request or some of its messages are invalid. A batch is never all-or-nothing:
//!   its valid messages are stored, and the body lists `stored`, `duplicates` and each
//!   `rejected` item (`index`, `code`, `message`). A 400 is not retried, so rejected items
//!   are not re-sent forever, and the stored ones are safe.
//! - `401` unknown or missing write key, `415` unsupported `Content-Encoding`,
//!   `408` body not received in time, `404` unknown path, `405` a method the path does not
//!   take (the message and the `Allow` header name the one to use).
//! - `503` (store shutting down) and `500` (store failure): nothing was acknowledged; clients
//!   retry and duplicates are skipped by messageId.
//!
//! Profile API reads (`/v1/spaces/{space}/collections/users/profiles/{type}:{value}/…`)
//! live in [`profile_api`].

pub mod auth;
pub mod decode;
pub mod error;
pub mod events;
pub mod limits;
pub mod profile_api;
pub mod server;
pub mod tracking;

use std::sync::Arc;

use crate::config::Config;
use crate::query::GraphRead;

use super::Sink;

pub use error::ApiError;
pub use limits::Limits;
pub use server::{SHUTDOWN_GRACE, router, serve, shutdown_signal};

/// Read access to one space, shared across threads.
pub type SharedReader = Arc<dyn GraphRead + Send + Sync>;

/// Finds the reader of a space for the Profile API. Implemented for every
/// `Fn(&str) -> Option<SharedReader>` closure. Called on a blocking thread.
pub trait SpaceReaders: Send + Sync + 'static {
    /// The reader of a space, or `None` when there is no such space.
    fn reader(&self, space: &str) -> Option<SharedReader>;
}

impl<F> SpaceReaders for F
where
    F: Fn(&str) -> Option<SharedReader> + Send + Sync + 'static,
{
    fn reader(&self, space: &str) -> Option<SharedReader> {
        self(space)
    }
}

/// Everything the handlers share: the settings, the sink events go to, the space readers.
pub struct ServerState<S> {
    config: Arc<Config>,
    limits: Limits,
    sink: S,
    readers: Arc<dyn SpaceReaders>,
}

impl<S: Clone> Clone for ServerState<S> {
    fn clone(&self) -> Self {
        ServerState {
            config: Arc::clone(&self.config),
            limits: self.limits,
            sink: self.sink.clone(),
            readers: Arc::clone(&self.readers),
        }
    }
}

impl<S: Sink> ServerState<S> {
    /// The state of a server: limits and read token come from `config.server`, sources and
    /// their write keys from `config.sources`.
    pub fn new(config: Arc<Config>, sink: S, readers: impl SpaceReaders) -> ServerState<S> {
        let limits = Limits::from_config(&config.server);
        ServerState {
            config,
            limits,
            sink,
            readers: Arc::new(readers),
        }
    }
}
