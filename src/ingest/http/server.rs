//! The router and the server loop: connection limits, timeouts, graceful shutdown.

use std::future::Future;
use std::io::ErrorKind;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use axum::http::{StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::model::CallType;

use super::error::ApiError;
use super::{ServerState, Sink, profile_api, tracking};

/// How long in-flight requests may take to finish once shutdown has begun.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Every route of the server, on `state`.
pub fn router<S: Sink>(state: ServerState<S>) -> Router {
    let profiles = "/v1/spaces/{space}/collections/users/profiles/{id}";
    let routes = Router::new()
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
        .with_state(state);
    // A layer on `routes` itself would wrap each method's handler, inside the code that adds
    // the `Allow` header to a 405; so the whole router is wrapped.
    Router::new()
        .fallback_service(routes)
        .layer(middleware::from_fn(method_not_allowed))
}

async fn not_found(uri: Uri) -> Response {
    ApiError::not_found(format!("no such endpoint: {}", uri.path())).into_response()
}

/// Gives the router's `405` for a method a route does not take (an empty body) the JSON error
/// body every other error has, naming the methods its `Allow` header lists.
async fn method_not_allowed(request: Request, next: Next) -> Response {
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let response = next.run(request).await;
    if response.status() != StatusCode::METHOD_NOT_ALLOWED {
        return response;
    }
    let Some(allow) = response.headers().get(header::ALLOW).cloned() else {
        return response;
    };
    let allowed = allow.to_str().unwrap_or_default();
    let mut answer =
        ApiError::method_not_allowed(method.as_str(), uri.path(), allowed).into_response();
    answer.headers_mut().insert(header::ALLOW, allow);
    answer
}

/// Serves the tracking and Profile APIs on `listener` until `shutdown` completes; then
/// stops accepting connections, lets in-flight requests finish (at most
/// [`SHUTDOWN_GRACE`]) and returns, so the caller can flush the store.
///
/// Clients are held to `[server]`'s limits: a connection that has not sent a request's
/// headers within `header_read_timeout_secs` (a stalled or slow-loris client, or an idle
/// keep-alive connection) is closed; at most `max_connections` connections are served at
/// once, and while that many are open the server stops accepting, so further clients wait in
/// the listen backlog until a connection closes instead of being refused. The body-read
/// timeout is applied by the tracking handlers (408).
pub async fn serve<S: Sink>(
    listener: TcpListener,
    state: ServerState<S>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let settings = state.config.server.clone();
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(
            %addr,
            max_connections = settings.max_connections,
            header_read_timeout_s = settings.header_read_timeout_secs,
            body_read_timeout_s = settings.body_read_timeout_secs,
            "serving the tracking API"
        );
    }
    ensure_open_files_limit(settings.max_connections);
    let app = router(state);
    // HTTP/1.1 only: every Segment and RudderStack client speaks it, and hyper-util's
    // HTTP/1-or-2 builder sniffs the protocol before any timeout applies.
    let mut http1 = http1::Builder::new();
    http1
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout());
    let slots = Arc::new(Semaphore::new(settings.max_connections));
    let graceful = GracefulShutdown::new();
    let mut shutdown = pin!(shutdown);
    let mut full_since_warning: Option<Instant> = None;
    loop {
        let slot = match Arc::clone(&slots).try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                if full_since_warning.is_none_or(|at| at.elapsed() >= FULL_WARNING_EVERY) {
                    tracing::warn!(
                        max_connections = settings.max_connections,
                        "connection limit reached; new connections wait until one closes"
                    );
                    full_since_warning = Some(Instant::now());
                }
                tokio::select! {
                    slot = Arc::clone(&slots).acquire_owned() => match slot {
                        Ok(slot) => slot,
                        // The semaphore is never closed.
                        Err(_) => break,
                    },
                    () = &mut shutdown => break,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) if is_connection_error(&error) => continue,
                Err(error) => {
                    // Out of file descriptors or memory: wait instead of spinning.
                    tracing::error!(%error, "cannot accept connections; retrying in 1 s");
                    tokio::select! {
                        () = tokio::time::sleep(ACCEPT_RETRY) => continue,
                        () = &mut shutdown => break,
                    }
                }
            },
            () = &mut shutdown => break,
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%peer, %error, "cannot set TCP_NODELAY");
        }
        let service = TowerToHyperService::new(app.clone());
        let connection = graceful.watch(http1.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%peer, %error, "connection closed on an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    tracing::info!("shutting down: no new connections, finishing requests in flight");
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {
            tracing::warn!(
                grace_s = SHUTDOWN_GRACE.as_secs(),
                "requests still in flight after the grace period; closing them"
            );
        }
    }
    Ok(())
}

/// How often "connection limit reached" may be logged.
const FULL_WARNING_EVERY: Duration = Duration::from_secs(10);

/// The pause after an accept error that is not about one connection (e.g. out of file
/// descriptors), so the loop does not spin.
const ACCEPT_RETRY: Duration = Duration::from_secs(1);

/// Accept errors that concern one connection only (it went away before being accepted).
fn is_connection_error(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    )
}

/// File descriptors kept beside the connections: the store's files, logs, the listener.
const SPARE_FILES: u64 = 128;

/// Raises the soft open-files limit (up to the hard one) so that `max_connections`
/// connections fit; warns when they cannot.
#[cfg(unix)]
fn ensure_open_files_limit(max_connections: usize) {
    let needed = (max_connections as u64).saturating_add(SPARE_FILES);
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass and has no other preconditions.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return;
    }
    if limit.rlim_cur >= needed {
        return;
    }
    let raised = libc::rlimit {
        rlim_cur: needed.min(limit.rlim_max),
        rlim_max: limit.rlim_max,
    };
    // SAFETY: setrlimit reads the struct we pass; raising the soft limit up to the hard one
    // is always allowed.
    let ok = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0;
    let now = if ok { raised.rlim_cur } else { limit.rlim_cur };
    if now < needed {
        tracing::warn!(
            open_files_limit = now,
            max_connections,
            "the open-files limit is below max_connections plus the store's files; \
             connections beyond it will fail to be accepted (raise ulimit -n)"
        );
    }
}

#[cfg(not(unix))]
fn ensure_open_files_limit(_max_connections: usize) {}

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
