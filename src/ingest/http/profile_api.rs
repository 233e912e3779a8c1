//! Profile API reads, in the shape of Segment's Profile API:
//!
//! - `GET /v1/spaces/{space}/collections/users/profiles/{type}:{value}/traits` →
//!   `{"traits":{…},"cursor":{"url","has_more","next","limit"}}`
//! - `…/external_ids` → `{"data":[{"id","type","source_id","collection","created_at",
//!   "encoding"}…],"cursor":{…}}`
//! - `…/events` → `{"data":[{"message_id","type","source_id","channel","timestamp",
//!   "received_at","event","name","properties","traits","context","external_ids"}…],
//!   "cursor":{…}}`, newest first.
//!
//! Query parameters: `limit` (traits 1–200, default 10; external ids 1–100, default 25;
//! events 1–100, default 10), `next` (the cursor of the previous page) and `include`:
//! comma-separated trait keys (traits), identifier types (external ids) or track event names
//! (events). Events also take `exclude`, track event names to leave out. Other calls have no
//! event name: `include` leaves them out, `exclude` keeps them. An event filter looks at the
//! profile's [`FILTER_SCAN`] newest events.
//!
//! Guarded by `[server] read_token` (Basic auth user or Bearer); an empty token disables
//! reads (`403 reads_disabled`). Unknown spaces and identifiers answer
//! `404 {"error":{"code":"not_found","message":…}}`. Store reads run on blocking threads.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::model::time::format_time;
use crate::model::{CallType, Identifier, Profile, StoredEvent};

use super::auth::check_read_token;
use super::error::ApiError;
use super::{ServerState, Sink, SpaceReaders};

/// The profile resources that can be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// `/traits`
    Traits,
    /// `/external_ids`
    ExternalIds,
    /// `/events`
    Events,
}

impl Resource {
    /// The resource's path segment.
    pub fn name(self) -> &'static str {
        match self {
            Resource::Traits => "traits",
            Resource::ExternalIds => "external_ids",
            Resource::Events => "events",
        }
    }

    /// Default and largest page size.
    fn page_sizes(self) -> (usize, usize) {
        match self {
            Resource::Traits => (10, 200),
            Resource::ExternalIds => (25, 100),
            Resource::Events => (10, 100),
        }
    }
}

/// The path parameters of a profile read.
#[derive(Debug, Deserialize)]
pub struct ProfilePath {
    space: String,
    id: String,
}

/// The query parameters of a profile read, as sent (validated by [`Page::parse`]).
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    limit: Option<String>,
    next: Option<String>,
    include: Option<String>,
    exclude: Option<String>,
}

/// One page of a list: where it starts, how long it is, which keys it keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Items to skip (the cursor).
    pub offset: usize,
    /// Items to return.
    pub limit: usize,
    /// Only these trait keys / identifier types / track event names, when given.
    pub include: Option<Vec<String>>,
    /// Not these track event names (events only).
    pub exclude: Option<Vec<String>>,
}

/// How many of a profile's newest events an `include`/`exclude` filter looks at.
pub const FILTER_SCAN: usize = 10_000;

/// A comma-separated list, without empty items.
fn name_list(list: &str) -> Vec<String> {
    list.split(',')
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty())
        .collect()
}

impl Page {
    /// Validates the query of a read of `resource`.
    pub fn parse(resource: Resource, query: &PageQuery) -> Result<Page, ApiError> {
        let (default, max) = resource.page_sizes();
        let invalid = |message: String| ApiError::bad_request("invalid_request_error", message);
        let limit = match query.limit.as_deref().map(str::trim) {
            None | Some("") => default,
            Some(text) => match text.parse::<usize>() {
                Ok(n) if (1..=max).contains(&n) => n,
                _ => {
                    return Err(invalid(format!(
                        "limit must be a number from 1 to {max}, not \"{text}\""
                    )));
                }
            },
        };
        let offset = match query.next.as_deref().map(str::trim) {
            None | Some("") => 0,
            Some(text) => text
                .parse::<usize>()
                .map_err(|_| invalid(format!("next \"{text}\" is not a cursor from this API")))?,
        };
        let include = query.include.as_deref().map(name_list);
        let exclude = match (resource, query.exclude.as_deref()) {
            (_, None) => None,
            (Resource::Events, Some(list)) => Some(name_list(list)),
            (_, Some(_)) => {
                return Err(invalid(format!(
                    "exclude is only supported on events, not on {}",
                    resource.name()
                )));
            }
        };
        Ok(Page {
            offset,
            limit,
            include,
            exclude,
        })
    }

    /// Whether the page filters events by name.
    pub fn filters_events(&self) -> bool {
        self.include.is_some() || self.exclude.is_some()
    }

    /// Whether an event passes `include` and `exclude` (by track event name).
    pub fn keeps_event(&self, event: &StoredEvent) -> bool {
        let name = (event.call == CallType::Track).then_some(event.label.as_str());
        let listed = |names: &Vec<String>| name.is_some_and(|n| names.iter().any(|k| k == n));
        self.include.as_ref().is_none_or(listed) && !self.exclude.as_ref().is_some_and(listed)
    }

    fn keeps(&self, key: &str) -> bool {
        self.include
            .as_ref()
            .is_none_or(|keys| keys.iter().any(|k| k == key))
    }

    /// The cursor object of a page, given whether more items follow.
    pub fn cursor(&self, url: &str, has_more: bool) -> Value {
        let next = if has_more {
            (self.offset + self.limit).to_string()
        } else {
            String::new()
        };
        json!({"url": url, "has_more": has_more, "next": next, "limit": self.limit})
    }
}

/// The body of `/traits`: the profile's live traits, by key.
pub fn traits_body(profile: &Profile, page: &Page, url: &str) -> Value {
    let all: Vec<(String, Value)> = profile
        .trait_map()
        .into_iter()
        .filter(|(k, _)| page.keeps(k))
        .collect();
    let has_more = all.len() > page.offset.saturating_add(page.limit);
    let traits: Map<String, Value> = all.into_iter().skip(page.offset).take(page.limit).collect();
    json!({"traits": traits, "cursor": page.cursor(url, has_more)})
}

/// The body of `/external_ids`: the profile's identifiers, in the order they joined it.
pub fn external_ids_body(profile: &Profile, page: &Page, url: &str) -> Value {
    let all: Vec<Value> = profile
        .identifiers
        .iter()
        .filter(|held| page.keeps(&held.id.kind))
        .map(|held| {
            json!({
                "id": held.id.value,
                "type": held.id.kind,
                "source_id": held.source,
                "collection": "users",
                "created_at": format_time(held.first_seen),
                "encoding": "none",
            })
        })
        .collect();
    let has_more = all.len() > page.offset.saturating_add(page.limit);
    let data: Vec<Value> = all.into_iter().skip(page.offset).take(page.limit).collect();
    json!({"data": data, "cursor": page.cursor(url, has_more)})
}

/// One event as the `/events` list shows it.
pub fn event_json(event: &StoredEvent) -> Value {
    let raw: Map<String, Value> = serde_json::from_str(&event.raw_json).unwrap_or_default();
    let mut out = Map::new();
    out.insert("message_id".into(), json!(event.message_id));
    out.insert("type".into(), json!(event.call.as_str()));
    out.insert("source_id".into(), json!(event.source));
    out.insert("channel".into(), json!(event.channel));
    out.insert("timestamp".into(), json!(format_time(event.time)));
    out.insert("received_at".into(), json!(format_time(event.received_at)));
    for (from, to) in [
        ("event", "event"),
        ("name", "name"),
        ("category", "category"),
        ("properties", "properties"),
        ("traits", "traits"),
        ("context", "context"),
        ("groupId", "group_id"),
        ("previousId", "previous_id"),
    ] {
        if let Some(value) = raw.get(from).filter(|v| !v.is_null()) {
            out.insert(to.into(), value.clone());
        }
    }
    let external_ids: Vec<Value> = event
        .identifiers
        .iter()
        .map(|id| json!({"collection": "users", "type": id.kind, "id": id.value, "encoding": "none"}))
        .collect();
    out.insert("external_ids".into(), Value::Array(external_ids));
    Value::Object(out)
}

/// The body of `/events`, from the newest `offset + limit + 1` events of the profile that
/// pass the page's filters.
pub fn events_body(newest_first: &[StoredEvent], page: &Page, url: &str) -> Value {
    let has_more = newest_first.len() > page.offset.saturating_add(page.limit);
    let data: Vec<Value> = newest_first
        .iter()
        .skip(page.offset)
        .take(page.limit)
        .map(event_json)
        .collect();
    json!({"data": data, "cursor": page.cursor(url, has_more)})
}

/// The `GET …/traits` handler.
pub async fn traits<S: Sink>(
    state: State<ServerState<S>>,
    headers: HeaderMap,
    uri: Uri,
    path: Result<Path<ProfilePath>, PathRejection>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Response {
    read(state.0, headers, uri, path, query, Resource::Traits).await
}

/// The `GET …/external_ids` handler.
pub async fn external_ids<S: Sink>(
    state: State<ServerState<S>>,
    headers: HeaderMap,
    uri: Uri,
    path: Result<Path<ProfilePath>, PathRejection>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Response {
    read(state.0, headers, uri, path, query, Resource::ExternalIds).await
}

/// The `GET …/events` handler.
pub async fn events<S: Sink>(
    state: State<ServerState<S>>,
    headers: HeaderMap,
    uri: Uri,
    path: Result<Path<ProfilePath>, PathRejection>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Response {
    read(state.0, headers, uri, path, query, Resource::Events).await
}

async fn read<S: Sink>(
    state: ServerState<S>,
    headers: HeaderMap,
    uri: Uri,
    path: Result<Path<ProfilePath>, PathRejection>,
    query: Result<Query<PageQuery>, QueryRejection>,
    resource: Resource,
) -> Response {
    let mut id_type = None;
    let result: Result<Value, ApiError> = async {
        check_read_token(&headers, &state.config.server.read_token)?;
        let Path(ProfilePath { space, id }) = path.map_err(|e| {
            ApiError::bad_request("validation_error", format!("bad path: {}", e.body_text()))
        })?;
        let Query(query) = query.map_err(|e| {
            ApiError::bad_request(
                "invalid_request_error",
                format!("bad query: {}", e.body_text()),
            )
        })?;
        let identifier = Identifier::parse(&id)
            .map_err(|e| ApiError::bad_request("validation_error", e.to_string()))?;
        id_type = Some(identifier.kind.clone());
        let page = Page::parse(resource, &query)?;
        let readers = std::sync::Arc::clone(&state.readers);
        let url = uri.path().to_string();
        tokio::task::spawn_blocking(move || {
            read_blocking(&*readers, &space, &identifier, &page, &url, resource)
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "profile read task failed");
            ApiError::internal("the read failed")
        })?
    }
    .await;
    let status = match &result {
        Ok(_) => StatusCode::OK,
        Err(e) => e.status,
    };
    tracing::info!(
        resource = resource.name(),
        id_type = id_type.as_deref().unwrap_or("-"),
        status = status.as_u16(),
        "profile read"
    );
    match result {
        Ok(body) => (StatusCode::OK, axum::Json(body)).into_response(),
        Err(error) => error.into_response(),
    }
}

/// Answers one read from the store (runs on a blocking thread).
fn read_blocking(
    readers: &dyn SpaceReaders,
    space: &str,
    identifier: &Identifier,
    page: &Page,
    url: &str,
    resource: Resource,
) -> Result<Value, ApiError> {
    let store_error = |e: anyhow::Error| {
        tracing::error!(space, error = %format!("{e:#}"), "profile read failed");
        ApiError::internal("the store could not be read")
    };
    let reader = readers
        .reader(space)
        .ok_or_else(|| ApiError::not_found("Space was not found."))?;
    let profile_id = reader
        .owner(identifier)
        .map_err(store_error)?
        .ok_or_else(|| ApiError::not_found("Profile was not found."))?;
    match resource {
        Resource::Events => {
            let wanted = page.offset.saturating_add(page.limit).saturating_add(1);
            if !page.filters_events() {
                let events = reader.timeline(profile_id, wanted).map_err(store_error)?;
                return Ok(events_body(&events, page, url));
            }
            // Read more of the timeline until enough events pass the filter.
            let mut read = wanted.saturating_mul(4).clamp(256, FILTER_SCAN);
            loop {
                let mut events = reader.timeline(profile_id, read).map_err(store_error)?;
                let exhausted = events.len() < read || read >= FILTER_SCAN;
                events.retain(|e| page.keeps_event(e));
                if events.len() >= wanted || exhausted {
                    return Ok(events_body(&events, page, url));
                }
                read = read.saturating_mul(4).min(FILTER_SCAN);
            }
        }
        Resource::Traits | Resource::ExternalIds => {
            let profile = reader
                .profile(profile_id)
                .map_err(store_error)?
                .ok_or_else(|| ApiError::not_found("Profile was not found."))?;
            Ok(if resource == Resource::Traits {
                traits_body(&profile, page, url)
            } else {
                external_ids_body(&profile, page, url)
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ProfileId;

    fn query(limit: Option<&str>, next: Option<&str>, include: Option<&str>) -> PageQuery {
        PageQuery {
            limit: limit.map(str::to_string),
            next: next.map(str::to_string),
            include: include.map(str::to_string),
            exclude: None,
        }
    }

    fn profile() -> Profile {
        let mut p = Profile::new(ProfileId(1), 1_000);
        p.add_identifier(&Identifier::new("user_id", "u1"), 1_000, "web");
        p.add_identifier(&Identifier::new("email", "a@x.io"), 2_000, "ios");
        let traits = json!({"a": 1, "b": "two", "c": null, "d": true});
        p.record_event(1_000, 1, traits.as_object().unwrap());
        p
    }

    #[test]
    fn pages_are_validated() {
        let page = Page::parse(Resource::Traits, &query(None, None, None)).unwrap();
        assert_eq!(
            page,
            Page {
                offset: 0,
                limit: 10,
                include: None,
                exclude: None,
            }
        );
        let page = Page::parse(
            Resource::ExternalIds,
            &query(Some("5"), Some("10"), Some("email, user_id")),
        )
        .unwrap();
        assert_eq!(page.offset, 10);
        assert_eq!(page.include, Some(vec!["email".into(), "user_id".into()]));
        for bad in [
            query(Some("0"), None, None),
            query(Some("101"), None, None),
            query(Some("x"), None, None),
        ] {
            let err = Page::parse(Resource::Events, &bad).unwrap_err();
            assert_eq!(err.code, "invalid_request_error");
        }
        assert!(Page::parse(Resource::Traits, &query(Some("200"), None, None)).is_ok());
        assert!(Page::parse(Resource::Events, &query(None, Some("abc"), None)).is_err());
        let events = Page::parse(Resource::Events, &query(None, None, Some("A, B"))).unwrap();
        assert_eq!(events.include, Some(vec!["A".into(), "B".into()]));
        let exclude = PageQuery {
            exclude: Some("A".into()),
            ..PageQuery::default()
        };
        let page = Page::parse(Resource::Events, &exclude).unwrap();
        assert_eq!(page.exclude, Some(vec!["A".into()]));
        let err = Page::parse(Resource::Traits, &exclude).unwrap_err();
        assert!(err.message.contains("only supported on events"), "{err:?}");
    }

    #[test]
    fn event_filters_match_track_names() {
        let stored = |body: Value| {
            let e = crate::model::Event::from_json(body).unwrap();
            StoredEvent::from_event(&e, 1, 5_000, "web", "web", Vec::new())
        };
        let order =
            stored(json!({"type": "track", "event": "Order", "userId": "u", "messageId": "1"}));
        let view =
            stored(json!({"type": "track", "event": "View", "userId": "u", "messageId": "2"}));
        let page =
            stored(json!({"type": "page", "name": "Order", "userId": "u", "messageId": "3"}));
        let filter = |include: Option<&str>, exclude: Option<&str>| Page {
            offset: 0,
            limit: 10,
            include: include.map(name_list),
            exclude: exclude.map(name_list),
        };
        let kept = |page_filter: &Page| -> Vec<bool> {
            [&order, &view, &page]
                .iter()
                .map(|e| page_filter.keeps_event(e))
                .collect()
        };
        assert_eq!(kept(&filter(None, None)), [true, true, true]);
        assert_eq!(kept(&filter(Some("Order"), None)), [true, false, false]);
        assert_eq!(kept(&filter(None, Some("Order"))), [false, true, true]);
        assert_eq!(
            kept(&filter(Some("Order,View"), Some("View"))),
            [true, false, false]
        );
    }

    #[test]
    fn traits_page_with_cursor() {
        let p = profile();
        let page = Page {
            offset: 0,
            limit: 2,
            include: None,
            exclude: None,
        };
        let body = traits_body(&p, &page, "/u");
        assert_eq!(body["traits"], json!({"a": 1, "b": "two"}));
        assert_eq!(
            body["cursor"],
            json!({"url": "/u", "has_more": true, "next": "2", "limit": 2})
        );
        let page = Page {
            offset: 2,
            limit: 2,
            include: None,
            exclude: None,
        };
        let body = traits_body(&p, &page, "/u");
        assert_eq!(body["traits"], json!({"d": true}));
        assert_eq!(body["cursor"]["has_more"], false);
        assert_eq!(body["cursor"]["next"], "");
        let page = Page {
            offset: 0,
            limit: 10,
            include: Some(vec!["b".into()]),
            exclude: None,
        };
        assert_eq!(traits_body(&p, &page, "/u")["traits"], json!({"b": "two"}));
    }

    #[test]
    fn external_ids_in_segment_shape() {
        let p = profile();
        let page = Page {
            offset: 0,
            limit: 25,
            include: None,
            exclude: None,
        };
        let body = external_ids_body(&p, &page, "/u");
        assert_eq!(
            body["data"][1],
            json!({"id": "a@x.io", "type": "email", "source_id": "ios", "collection": "users",
                   "created_at": "1970-01-01T00:00:02.000Z", "encoding": "none"})
        );
        let only = Page {
            offset: 0,
            limit: 25,
            include: Some(vec!["user_id".into()]),
            exclude: None,
        };
        assert_eq!(
            external_ids_body(&p, &only, "/u")["data"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn events_in_segment_shape() {
        let e = crate::model::Event::from_json(json!({"type": "track", "event": "Order Completed",
            "userId": "u1", "messageId": "m1", "properties": {"total": 3}, "context": {"ip": "1.2.3.4"}}))
        .unwrap();
        let stored = StoredEvent::from_event(
            &e,
            7,
            5_000,
            "web",
            "web",
            vec![Identifier::new("user_id", "u1")],
        );
        let page = Page {
            offset: 0,
            limit: 1,
            include: None,
            exclude: None,
        };
        let body = events_body(&[stored.clone(), stored], &page, "/e");
        let first = &body["data"][0];
        assert_eq!(first["message_id"], "m1");
        assert_eq!(first["type"], CallType::Track.as_str());
        assert_eq!(first["event"], "Order Completed");
        assert_eq!(first["properties"], json!({"total": 3}));
        assert_eq!(first["timestamp"], "1970-01-01T00:00:05.000Z");
        assert_eq!(
            first["external_ids"],
            json!([{"collection": "users", "type": "user_id", "id": "u1", "encoding": "none"}])
        );
        assert_eq!(body["cursor"]["has_more"], true);
        assert_eq!(body["cursor"]["next"], "1");
    }
}
