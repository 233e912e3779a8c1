//! `idgraph serve`: the Segment-compatible tracking API and the Profile API reads over HTTP.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use crate::config::Config;
use crate::ingest::Sink;
use crate::ingest::http::{ServerState, SpaceReaders, serve, shutdown_signal};

use super::Globals;

/// Arguments of `idgraph serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Address to listen on, e.g. 0.0.0.0:8088 [default: `[server] listen` in the settings]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
}

impl Args {
    /// The address to listen on: `--listen`, else the config's `[server] listen`.
    pub fn listen_addr(&self, config: &Config) -> String {
        self.listen
            .clone()
            .unwrap_or_else(|| config.server.listen.clone())
    }
}

/// Serves until SIGINT or SIGTERM, then stops accepting, lets requests in flight finish and
/// returns, so the caller can flush and close the store. Events go to `sink`; the Profile
/// API reads through `readers`. Prints the address it serves on to stderr.
pub async fn run<S: Sink>(
    args: &Args,
    globals: &Globals,
    sink: S,
    readers: impl SpaceReaders,
) -> anyhow::Result<ExitCode> {
    let listener = bind(args, globals).await?;
    let local = listener
        .local_addr()
        .context("cannot read the listening address")?;
    let keyed = keyed_sources(globals);
    if keyed.is_empty() {
        eprintln!(
            "idgraph: warning: no [sources.NAME] has a write_key, so every tracking request \
             will be refused (401); see idgraph config --default"
        );
    }
    eprintln!(
        "idgraph: serving http://{local} (sources: {}); Ctrl-C to stop",
        if keyed.is_empty() {
            "none".to_string()
        } else {
            keyed.join(", ")
        }
    );
    serve_until(listener, globals, sink, readers, shutdown_signal()).await?;
    eprintln!("idgraph: server stopped");
    Ok(ExitCode::SUCCESS)
}

/// Binds the address of `args` (else the config's `[server] listen`).
pub async fn bind(args: &Args, globals: &Globals) -> anyhow::Result<tokio::net::TcpListener> {
    let addr = args.listen_addr(&globals.config);
    tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))
}

fn keyed_sources(globals: &Globals) -> Vec<String> {
    globals
        .config
        .sources
        .iter()
        .filter(|(_, s)| s.write_key.is_some())
        .map(|(name, s)| format!("{name} -> {}", s.space))
        .collect()
}

/// Serves on a bound `listener` quietly (logs only) until `shutdown` completes; `run` passes
/// SIGINT/SIGTERM, the live explorer its own stop signal.
pub async fn serve_until<S: Sink>(
    listener: tokio::net::TcpListener,
    globals: &Globals,
    sink: S,
    readers: impl SpaceReaders,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let state = ServerState::new(Arc::new(globals.config.clone()), sink, readers);
    serve(listener, state, shutdown)
        .await
        .context("the HTTP server failed")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn listen_defaults_to_the_config() {
        let config = Config::defaults();
        let args = Wrapper::parse_from(["serve"]).args;
        assert_eq!(args.listen_addr(&config), "127.0.0.1:8088");
        let args = Wrapper::parse_from(["serve", "--listen", "0.0.0.0:9000"]).args;
        assert_eq!(args.listen_addr(&config), "0.0.0.0:9000");
    }
}
