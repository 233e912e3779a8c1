//! The explorer: a terminal UI over one space's profiles.
//!
//! Shape: [`state`] is plain data; [`update::update`] turns messages (key actions, typed
//! text, worker replies) into a new state plus [`update::Effect`]s, with no I/O; [`views`]
//! draw a `&State`; [`app`] runs the loop over any ratatui backend; [`worker`] owns the
//! store on its own thread and the search engine runs on another.

pub mod action;
pub mod app;
pub mod audiences;
pub mod keymap;
pub mod state;
pub mod summary;
pub mod text;
pub mod theme;
pub mod update;
pub mod views;
pub mod worker;

#[cfg(test)]
pub(crate) mod fixture;
#[cfg(test)]
pub(crate) mod harness;

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use base64::Engine;
use ratatui::crossterm::event::{
    self, DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
    Event,
};
use ratatui::crossterm::execute;

use crate::config::{Config, Rules};

pub use app::{App, AppSetup, Clock, Input};
pub use worker::SpaceHandle;

/// How the explorer starts.
#[derive(Debug, Clone)]
pub struct ExplorerOptions {
    /// Spaces offered by the space switcher.
    pub spaces: Vec<String>,
    /// The space opened first.
    pub space: String,
    /// Mask emails, phones and names on screen.
    pub redact: bool,
    /// Capture the mouse (scroll, click); off keeps the terminal's own text selection.
    pub mouse: bool,
    /// The config's `[keys]` section.
    pub keys: Option<toml::Value>,
    /// The config's `[theme]` section.
    pub theme: Option<toml::Value>,
    /// Identity rules of the space (health flags held junk values with them).
    pub rules: Option<Rules>,
    /// Colours allowed (false when `NO_COLOR` is set).
    pub colors: bool,
    /// The address of the HTTP server running beside the explorer (`--listen`), shown in
    /// the status bar.
    pub live: Option<String>,
}

impl ExplorerOptions {
    /// Options from the settings file: `[keys]`, `[theme]`, and `[explorer] mouse/redact`
    /// (command-line switches may then override `mouse` and `redact`). Honours `NO_COLOR`.
    pub fn from_config(config: &Config, space: &str) -> anyhow::Result<ExplorerOptions> {
        let explorer = config.extra.get("explorer").and_then(toml::Value::as_table);
        let flag = |name: &str, default: bool| -> anyhow::Result<bool> {
            match explorer.and_then(|t| t.get(name)) {
                None => Ok(default),
                Some(v) => v
                    .as_bool()
                    .with_context(|| format!("[explorer] {name} must be true or false")),
            }
        };
        if let Some(t) = explorer
            && let Some(key) = t
                .keys()
                .find(|k| !["mouse", "redact"].contains(&k.as_str()))
        {
            anyhow::bail!("[explorer] has no setting '{key}' (expected mouse, redact)");
        }
        Ok(ExplorerOptions {
            spaces: config.space_names(),
            space: space.to_string(),
            redact: flag("redact", false)?,
            mouse: flag("mouse", true)?,
            keys: config.extra.get("keys").cloned(),
            theme: config.extra.get("theme").cloned(),
            rules: config.rules_for(space).ok(),
            colors: theme::colors_allowed(),
            live: None,
        })
    }
}

/// The OSC 52 sequence that asks the terminal (also over SSH) to set the clipboard.
pub fn osc52(text: &str) -> String {
    format!(
        "\x1b]52;c;{}\x07",
        base64::engine::general_purpose::STANDARD.encode(text)
    )
}

/// Fails unless stdin and stdout are a terminal, which the explorer draws on.
pub fn require_terminal() -> anyhow::Result<()> {
    anyhow::ensure!(
        std::io::stdin().is_terminal() && std::io::stdout().is_terminal(),
        "the explorer needs a terminal (stdin and stdout are not one); show, search, export and the other commands print what it shows"
    );
    Ok(())
}

/// Runs the explorer on the terminal until the user quits (or SIGTERM/SIGHUP arrives).
///
/// `opener` is called on the store worker thread with a space name — first for
/// `options.space`, while the first frame is already on screen, then on every space switch —
/// and returns that space's store handle. The terminal is restored on quit, on error, on
/// panic and on SIGTERM.
pub fn run_explorer<O>(opener: O, options: ExplorerOptions) -> anyhow::Result<()>
where
    O: FnMut(&str) -> anyhow::Result<SpaceHandle> + Send + 'static,
{
    let keymap = keymap::Keymap::from_config(options.keys.as_ref())?;
    let theme = theme::Theme::from_config(options.theme.as_ref(), options.colors)?;
    let terminate = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGHUP] {
        signal_hook::flag::register(signal, Arc::clone(&terminate))
            .context("cannot watch for SIGTERM")?;
    }
    let mouse = options.mouse;
    require_terminal()?;
    let mut terminal = ratatui::try_init().context("cannot set up the terminal")?;
    // ratatui's panic hook leaves raw mode and the alternate screen; switch mouse capture
    // and bracketed paste off first.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = execute!(
            std::io::stdout(),
            DisableMouseCapture,
            DisableBracketedPaste
        );
        previous(info);
    }));
    let _ = execute!(std::io::stdout(), EnableBracketedPaste);
    if mouse {
        let _ = execute!(std::io::stdout(), EnableMouseCapture);
    }

    let (input_tx, input_rx) = crossbeam_channel::unbounded();
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let stop = Arc::clone(&stop);
        let input_tx = input_tx.clone();
        std::thread::Builder::new()
            .name("idgraph-input".into())
            .spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match event::poll(Duration::from_millis(100)) {
                        Ok(true) => {
                            let input = match event::read() {
                                Ok(Event::Key(k)) => Input::Key(k),
                                Ok(Event::Mouse(m)) => Input::Mouse(m),
                                Ok(Event::Paste(p)) => Input::Paste(p),
                                Ok(Event::Resize(..)) => Input::Resize,
                                Ok(_) => continue,
                                Err(_) => return,
                            };
                            if input_tx.send(input).is_err() {
                                return;
                            }
                        }
                        Ok(false) => {}
                        Err(_) => return,
                    }
                }
            })?
    };
    // Signals and a vanished terminal are watched apart from the input thread: crossterm's
    // `poll` never returns once the terminal hangs up (it re-reads the dead tty forever).
    let watcher = {
        let stop = Arc::clone(&stop);
        let terminate = Arc::clone(&terminate);
        std::thread::Builder::new()
            .name("idgraph-hangup".into())
            .spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    if terminate.load(Ordering::SeqCst) || !std::io::stdin().is_terminal() {
                        let _ = input_tx.send(Input::Terminate);
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            })?
    };

    let setup = AppSetup {
        spaces: options.spaces,
        space: options.space,
        settings: state::Settings {
            redact: options.redact,
            mouse,
            live: options.live,
        },
        keymap,
        theme,
        rules: options.rules,
        clock: Clock::Wall,
    };
    let mut app = App::start(setup, opener);
    let mut copy = |text: &str| {
        let mut out = std::io::stdout();
        let _ = out.write_all(osc52(text).as_bytes());
        let _ = out.flush();
    };
    let result = app.run(&mut terminal, &input_rx, &mut copy);
    stop.store(true, Ordering::SeqCst);
    let _ = watcher.join();
    // A reader stuck on a hung-up terminal is left behind; the process ends soon after.
    let deadline = std::time::Instant::now() + Duration::from_millis(500);
    while !reader.is_finished() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    if reader.is_finished() {
        let _ = reader.join();
    }
    let _ = execute!(
        std::io::stdout(),
        DisableMouseCapture,
        DisableBracketedPaste
    );
    ratatui::restore();
    drop(app);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_come_from_the_config() {
        let config = Config::from_toml_str(
            "[explorer]\nmouse = false\n[theme]\nname = \"light\"\n[keys.global]\n\"ctrl-q\" = \"quit\"\n",
            "t",
        )
        .unwrap();
        let options = ExplorerOptions::from_config(&config, "default").unwrap();
        assert!(!options.mouse);
        assert!(!options.redact);
        assert!(options.keys.is_some() && options.theme.is_some());
        assert!(keymap::Keymap::from_config(options.keys.as_ref()).is_ok());
        let bad = Config::from_toml_str("[explorer]\nmouse = 3\n", "t").unwrap();
        assert!(ExplorerOptions::from_config(&bad, "default").is_err());
    }

    #[test]
    fn osc52_wraps_base64() {
        assert_eq!(osc52("hi"), "\x1b]52;c;aGk=\x07");
    }
}
