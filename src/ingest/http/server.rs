//! The router and the server loop with graceful shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::model::CallType;

use super::error::ApiError;
use super::{ServerState, Sink, profile_api, tracking};

/// How long in-flight requests may take to finish once shutdown has begun.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Every route of the server, on `state`.
pub fn router<S: Sink>(state: ServerState<S>) -> Router {
    let profiles = "/v1/spaces/{space}/collections/users/profiles/{id}";
    Router::new()
        .route("/v1/batch", post(tracking::batch::<S>))
        .route("/v1/import", post(tracking::batch::<S>))
        .route("/v1/identify", tracking::single::<S>(CallType::Identify))
        .route("/v1/track", tracking::single::<S>(CallType::Track))
        .route("/v1/page", tracking::single::<S>(CallType::Page))
        .route("/v1/screen", tracking::single::<S>(CallType::Screen))
        .route("/v1/group", tracking::single::<S>(CallType::Group))
        .route("/v1/alias", tracking::single::<S>(CallType::Alias))
        .route(&format!("{profiles}/traits"), get(profile_api::traits::<S>))
        .route(
            &format!("{profiles}/external_ids"),
            get(profile_api::external_ids::<S>),
        )
        .route(&format!("{profiles}/events"), get(profile_api::events::<S>))
        .fallback(not_found)
        .with_state(state)
}

async fn not_found(uri: Uri) -> Response {
    ApiError::not_found(format!("no such endpoint: {}", uri.path())).into_response()
}

/// Serves the tracking and Profile APIs on `listener` until `shutdown` completes; then
/// stops accepting connections, lets in-flight requests finish (at most
/// [`SHUTDOWN_GRACE`]) and returns, so the caller can flush the store.
pub async fn serve<S: Sink>(
    listener: TcpListener,
    state: ServerState<S>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "serving the tracking API");
    }
    let began = Arc::new(Notify::new());
    let signal = {
        let began = Arc::clone(&began);
        async move {
            shutdown.await;
            tracing::info!("shutting down: no new connections, finishing requests in flight");
            began.notify_one();
        }
    };
    let server = axum::serve(listener, router(state)).with_graceful_shutdown(signal);
    tokio::select! {
        result = server => result,
        () = async {
            began.notified().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => {
            tracing::warn!(
                grace_s = SHUTDOWN_GRACE.as_secs(),
                "requests still in flight after the grace period; closing them"
            );
            Ok(())
        }
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
