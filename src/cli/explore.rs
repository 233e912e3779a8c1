//! `idgraph explore` (the default command): the terminal UI on the store, optionally with
//! the HTTP server running in the same process for live viewing.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use crate::config::Config;
use crate::store::{Store, known_spaces};
use crate::tui::{ExplorerOptions, SpaceHandle, run_explorer};

use super::{Globals, serve};

/// Arguments of `idgraph explore`.
#[derive(Debug, Clone, Default, clap::Args)]
#[group(id = "explorer_options")]
pub struct Args {
    /// Mask emails, phones and names on screen (for screen sharing)
    #[arg(long)]
    pub redact: bool,
    /// Leave the mouse to the terminal (text selection) instead of capturing it
    #[arg(long)]
    pub no_mouse: bool,
    /// Also serve the Segment-compatible HTTP API on this address; the explorer shows
    /// events as they arrive
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
}

/// Opens the explorer on the store of `globals`.
pub fn run(args: Args, globals: &Globals) -> anyhow::Result<ExitCode> {
    explore_store(&args, globals, &globals.store_dir, &globals.config)
}

/// Opens the explorer on the store in `dir` with `config`.
pub fn explore_store(
    args: &Args,
    globals: &Globals,
    dir: &std::path::Path,
    config: &Config,
) -> anyhow::Result<ExitCode> {
    super::memory::return_freed_memory_at_once();
    let mut options = ExplorerOptions::from_config(config, &globals.space)?;
    options.redact |= args.redact;
    options.mouse &= !args.no_mouse;
    let mut spaces = config.space_names();
    spaces.extend(known_spaces(dir));
    spaces.push(globals.space.clone());
    spaces.sort();
    spaces.dedup();
    options.spaces = spaces;
    match &args.listen {
        None => {
            // The screen is the explorer's: with RUST_LOG set (timings, debugging) the log
            // goes to a file in the store directory.
            if std::env::var_os("RUST_LOG").is_some() {
                super::logging::to_file(&dir.join("idgraph-explore.log"))?;
            }
            let (dir, config) = (dir.to_path_buf(), config.clone());
            let mut store: Option<Arc<Store>> = None;
            run_explorer(
                move |space: &str| -> anyhow::Result<SpaceHandle> {
                    let store = match &store {
                        Some(store) => store.clone(),
                        None => store
                            .insert(Arc::new(Store::open_for_browsing(&dir, config.clone())?))
                            .clone(),
                    };
                    Ok(Box::new(store.space(space)?))
                },
                options,
            )?;
        }
        Some(listen) => explore_live(listen, globals, dir, config, options)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The explorer with the HTTP server in the same process (sled admits one process). The
/// address is bound before the explorer starts, so a busy port fails at once and the status
/// bar shows the real address (also for port 0).
fn explore_live(
    listen: &str,
    globals: &Globals,
    dir: &std::path::Path,
    config: &Config,
    mut options: ExplorerOptions,
) -> anyhow::Result<()> {
    let store = Arc::new(Store::open(dir, config.clone())?);
    let server_globals = Globals {
        store_dir: PathBuf::from(dir),
        config: config.clone(),
        ..globals.clone()
    };
    let serve_args = serve::Args {
        listen: Some(listen.to_string()),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let listener = runtime.block_on(serve::bind(&serve_args, &server_globals))?;
    let local = listener
        .local_addr()
        .context("cannot read the listening address")?;
    options.live = Some(local.to_string());
    let log_path = dir.join("idgraph-serve.log");
    super::logging::to_file(&log_path)?;
    tracing::info!("serving http://{local} beside the explorer");
    let (sink, writer) = crate::ingest::writer::start_writer(store.clone());
    let readers = super::store_readers(store.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::Builder::new()
        .name("idgraph-http".into())
        .spawn(move || -> anyhow::Result<()> {
            runtime.block_on(serve::serve_until(
                listener,
                &server_globals,
                sink,
                readers,
                async {
                    let _ = stopped.await;
                },
            ))
        })?;
    let explorer_store = store.clone();
    let result = run_explorer(
        move |space: &str| -> anyhow::Result<SpaceHandle> {
            Ok(Box::new(explorer_store.space(space)?))
        },
        options,
    );
    let _ = stop.send(());
    let served = server
        .join()
        .map_err(|_| anyhow::anyhow!("the HTTP server thread panicked"))?;
    writer.join();
    store.flush()?;
    result?;
    served
}
