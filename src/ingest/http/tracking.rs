//! Tracking API handlers: `/v1/batch` and the single-call endpoints.

use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, post};
use http_body_util::BodyExt;
use serde_json::{Value, json};

use crate::config::{Config, DEFAULT_SPACE};
use crate::ingest::{SinkError, SourcedEvent, SubmitOutcome, route_event};
use crate::model::{CallType, time};

use super::auth::header_write_key;
use super::decode::{DecodeError, content_encoding, decode_body, parse_object};
use super::error::ApiError;
use super::events::{BatchDefaults, Rejection, prepare_event};
use super::limits::{check_batch_count, too_large, wire_limit};
use super::{ServerState, Sink};

/// Which tracking endpoint a request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/v1/batch`: `{"batch":[…], "context", "integrations", "sentAt", "writeKey"}`.
    Batch,
    /// `/v1/identify`, `/v1/track`, …: one message, its `type` implied by the path.
    Single(CallType),
}

impl Endpoint {
    /// The endpoint's name in logs.
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Batch => "batch",
            Endpoint::Single(call) => call.as_str(),
        }
    }
}

/// The `POST /v1/batch` handler.
pub async fn batch<S: Sink>(
    State(state): State<ServerState<S>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    handle(state, headers, body, Endpoint::Batch).await
}

/// The `POST` handler of a single-call endpoint such as `/v1/track`.
pub fn single<S: Sink>(call: CallType) -> MethodRouter<ServerState<S>> {
    post(
        move |State(state): State<ServerState<S>>, headers: HeaderMap, body: Body| {
            handle(state, headers, body, Endpoint::Single(call))
        },
    )
}

/// The configured source a write key belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySource {
    /// The source's name (`[sources.NAME]`).
    pub name: String,
    /// The space the source writes into.
    pub space: String,
}

/// Finds the source of a write key; unknown keys are refused with 401.
pub fn source_for_key(config: &Config, key: &str) -> Result<KeySource, ApiError> {
    config
        .source_by_write_key(key)
        .map(|source| KeySource {
            name: source.name.to_string(),
            space: source.config.space.clone(),
        })
        .ok_or_else(|| ApiError::unauthorized("the write key is not configured for any source"))
}

/// What happened to an accepted request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Messages in the request.
    pub received: usize,
    /// What the sink did with the valid ones.
    pub outcome: SubmitOutcome,
    /// Batch indexes of the submitted messages, in submission order.
    pub submitted: Vec<usize>,
    /// Invalid messages: batch index and why.
    pub rejected: Vec<(usize, Rejection)>,
}

impl Report {
    /// The status and JSON body: `200` when every message was accepted, else `400` listing
    /// the rejected ones (the valid ones are stored either way).
    pub fn status_and_body(&self) -> (StatusCode, Value) {
        let rejected: Vec<Value> = self
            .rejected
            .iter()
            .map(|(index, r)| json!({"index": index, "code": r.code, "message": r.message}))
            .collect();
        let unresolvable: Vec<Value> = self
            .outcome
            .unresolvable
            .iter()
            .map(|(i, reason)| {
                let index = self.submitted.get(*i).copied().unwrap_or(*i);
                json!({"index": index, "reason": reason})
            })
            .collect();
        let success = self.rejected.is_empty();
        let mut body = json!({
            "success": success,
            "received": self.received,
            "stored": self.outcome.stored,
            "duplicates": self.outcome.duplicates,
            "rejected": rejected,
            "unresolvable": unresolvable,
        });
        if success {
            return (StatusCode::OK, body);
        }
        body["error"] = json!({
            "code": "invalid_messages",
            "message": format!(
                "{} of {} messages were rejected (see \"rejected\"); the others were accepted",
                self.rejected.len(),
                self.received
            ),
        });
        (StatusCode::BAD_REQUEST, body)
    }
}

async fn handle<S: Sink>(
    state: ServerState<S>,
    headers: HeaderMap,
    body: Body,
    endpoint: Endpoint,
) -> Response {
    let started = Instant::now();
    let mut source_name = None;
    let result = ingest(&state, &headers, body, endpoint, &mut source_name).await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let source = source_name.as_deref().unwrap_or("-");
    match result {
        Ok(report) => {
            for (index, rejection) in &report.rejected {
                tracing::warn!(
                    endpoint = endpoint.name(),
                    source,
                    index,
                    code = rejection.code,
                    "message rejected"
                );
                tracing::debug!(index, reason = %rejection.message, "rejection detail");
            }
            tracing::info!(
                endpoint = endpoint.name(),
                source,
                received = report.received,
                stored = report.outcome.stored,
                duplicates = report.outcome.duplicates,
                rejected = report.rejected.len(),
                unresolvable = report.outcome.unresolvable.len(),
                elapsed_ms,
                "tracking request"
            );
            let (status, body) = report.status_and_body();
            (status, axum::Json(body)).into_response()
        }
        Err(error) => {
            tracing::warn!(
                endpoint = endpoint.name(),
                source,
                status = error.status.as_u16(),
                code = error.code,
                elapsed_ms,
                "tracking request refused"
            );
            tracing::debug!(reason = %error.message, "refusal detail");
            let retry = error.status == StatusCode::SERVICE_UNAVAILABLE;
            // The rest of a body that timed out is never read: the connection cannot carry
            // another request.
            let close = error.status == StatusCode::REQUEST_TIMEOUT;
            let mut response = error.into_response();
            if retry {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            if close {
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            response
        }
    }
}

async fn ingest<S: Sink>(
    state: &ServerState<S>,
    headers: &HeaderMap,
    body: Body,
    endpoint: Endpoint,
    source_name: &mut Option<String>,
) -> Result<Report, ApiError> {
    let header_key = header_write_key(headers)?;
    let source = match &header_key {
        Some(key) => Some(source_for_key(&state.config, key)?),
        None => None,
    };
    if let Some(s) = &source {
        *source_name = Some(s.name.clone());
    }
    let encoding_header = match headers.get(header::CONTENT_ENCODING) {
        None => None,
        Some(value) => Some(value.to_str().map_err(|_| {
            ApiError::bad_request("invalid_header", "Content-Encoding is not readable text")
        })?),
    };
    let encoding = content_encoding(encoding_header)?;
    let is_batch = endpoint == Endpoint::Batch;
    let limit = state.limits.body_limit(is_batch);
    let raw = read_body(body, limit, is_batch, state.limits.body_read_timeout).await?;
    let decoded = decode_body(&raw, encoding, limit).map_err(|e| match e {
        DecodeError::TooLarge { limit } => too_large(limit, is_batch),
        DecodeError::BadGzip(_) => ApiError::bad_request("invalid_gzip", e.to_string()),
    })?;
    let mut object = parse_object(&decoded)?;
    let key = match header_key {
        Some(key) => key,
        None => match object.get("writeKey") {
            Some(Value::String(key)) if !key.is_empty() => key.clone(),
            _ => {
                return Err(ApiError::unauthorized(
                    "no write key: send Authorization: Basic base64(WRITE_KEY:) or \"writeKey\"",
                ));
            }
        },
    };
    let source = match source {
        Some(source) => source,
        None => {
            let found = source_for_key(&state.config, &key)?;
            *source_name = Some(found.name.clone());
            found
        }
    };

    let (items, defaults, implied) = match endpoint {
        Endpoint::Batch => {
            let defaults = BatchDefaults::from_body(&object)?;
            let items = match object.remove("batch") {
                Some(Value::Array(items)) => items,
                _ => {
                    return Err(ApiError::bad_request(
                        "invalid_batch",
                        "the body must have a \"batch\" array of messages",
                    ));
                }
            };
            check_batch_count(items.len(), &state.limits)?;
            (items, defaults, None)
        }
        Endpoint::Single(call) => (
            vec![Value::Object(object)],
            BatchDefaults::default(),
            Some(call),
        ),
    };

    let received = items.len();
    let received_at = time::now();
    let mut events = Vec::with_capacity(received);
    let mut submitted = Vec::with_capacity(received);
    let mut rejected = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        match prepare_event(item, implied, &defaults, &state.limits, received_at) {
            Ok(event) => {
                let routing = route_event(
                    &event,
                    &state.config,
                    DEFAULT_SPACE,
                    Some(&source.name),
                    Some(&key),
                );
                events.push(SourcedEvent {
                    event,
                    source: routing.source,
                    channel: routing.channel,
                });
                submitted.push(index);
            }
            Err(rejection) => rejected.push((index, rejection)),
        }
    }
    if let (Endpoint::Single(_), Some((_, rejection))) = (endpoint, rejected.first()) {
        return Err(rejection.clone().into());
    }
    let outcome = if events.is_empty() {
        SubmitOutcome::default()
    } else {
        state
            .sink
            .submit(source.space.clone(), events)
            .await
            .map_err(sink_error)?
    };
    Ok(Report {
        received,
        outcome,
        submitted,
        rejected,
    })
}

/// Bytes of an over-limit body read and thrown away before answering, so that a client
/// that sends its whole body before reading the response gets the 400 instead of a broken
/// pipe. Beyond this the connection is simply closed.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// Reads a body of at most the wire limit matching `decoded_limit`, within `timeout`.
async fn read_body(
    body: Body,
    decoded_limit: usize,
    is_batch: bool,
    timeout: Duration,
) -> Result<Bytes, ApiError> {
    let limit = wire_limit(decoded_limit);
    match tokio::time::timeout(timeout, collect_bounded(body, limit)).await {
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!("the body did not arrive within {} s", timeout.as_secs_f64()),
        )),
        Ok(Ok(Some(collected))) => Ok(collected),
        Ok(Ok(None)) => Err(too_large(decoded_limit, is_batch)),
        Ok(Err(e)) => Err(ApiError::bad_request(
            "body_read_failed",
            format!("the body could not be read: {e}"),
        )),
    }
}

/// Collects at most `limit` bytes of a body. A longer body is read on and discarded (up to
/// [`DRAIN_LIMIT`] more bytes, never kept in memory) and gives `None`.
async fn collect_bounded(mut body: Body, limit: usize) -> Result<Option<Bytes>, axum::Error> {
    let mut out: Vec<u8> = Vec::new();
    let mut seen = 0_usize;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        seen = seen.saturating_add(data.len());
        if seen <= limit {
            out.extend_from_slice(&data);
        } else {
            out = Vec::new();
            if seen > limit.saturating_add(DRAIN_LIMIT) {
                return Ok(None);
            }
        }
    }
    Ok((seen <= limit).then(|| Bytes::from(out)))
}

/// Maps a sink failure to a status clients retry.
fn sink_error(error: SinkError) -> ApiError {
    match error {
        SinkError::ShuttingDown => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is shutting down; retry later",
        ),
        SinkError::Store(detail) => {
            tracing::error!(%detail, "store failed to accept events");
            ApiError::internal("the store failed to accept the events; retry later")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_refused() {
        let config = Config::from_toml_str(
            "[sources.web]\nwrite_key = \"K1\"\nspace = \"shop\"\nchannel = \"web\"\n",
            "t",
        )
        .unwrap();
        assert_eq!(
            source_for_key(&config, "K1").unwrap(),
            KeySource {
                name: "web".into(),
                space: "shop".into()
            }
        );
        assert_eq!(
            source_for_key(&config, "K2").unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );
    }

    #[test]
    fn sink_errors_are_retryable() {
        assert_eq!(
            sink_error(SinkError::ShuttingDown).status,
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            sink_error(SinkError::Store("disk".into())).status,
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[test]
    fn reports_map_unresolvable_to_batch_indexes() {
        let mut report = Report {
            received: 3,
            outcome: SubmitOutcome {
                stored: 1,
                duplicates: 0,
                unresolvable: vec![(1, "every identifier blocked".into())],
                merges: 0,
            },
            submitted: vec![0, 2],
            rejected: vec![(
                1,
                Rejection {
                    code: "missing_identity",
                    message: "no id".into(),
                },
            )],
        };
        let (status, body) = report.status_and_body();
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["success"], false);
        assert_eq!(body["stored"], 1);
        assert_eq!(body["error"]["code"], "invalid_messages");
        assert_eq!(
            body["rejected"],
            json!([{"index": 1, "code": "missing_identity", "message": "no id"}])
        );
        assert_eq!(
            body["unresolvable"],
            json!([{"index": 2, "reason": "every identifier blocked"}])
        );
        report.rejected.clear();
        let (status, body) = report.status_and_body();
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["success"], true);
        assert!(body.get("error").is_none());
    }
}
