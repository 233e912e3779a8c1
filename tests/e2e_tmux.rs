//! End-to-end tests of the explorer: the real binary in a real terminal (tmux), driven with
//! keys and read back with `capture-pane`.
//!
//! Each test runs its own tmux server (`tmux -L <unique socket>`) at 160x48, waits for what
//! it expects with a timeout (never a fixed sleep), and kills the server when it ends, also
//! when it fails. tmux is required: run `scripts/setup.sh` to install it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use common::{Workspace, ids_of};
use serde_json::{Value, json};

const WIDTH: u16 = 160;
const HEIGHT: u16 = 48;
/// The longest any single step may take before the test fails with the screen it saw.
const STEP_TIMEOUT: Duration = Duration::from_secs(15);

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/e2e")
        .join(name)
}

/// A string for `sh`, in single quotes.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// One tmux server running one command in a fixed-size pane. Dropping it kills the server.
struct Tmux {
    socket: String,
    /// The last screen captured (shown when a wait fails).
    last: String,
}

impl Tmux {
    /// Starts `command` (a shell command line) in a new tmux server of its own.
    fn start(name: &str, command: &str) -> Tmux {
        let found = Command::new("tmux").arg("-V").output();
        assert!(
            found.as_ref().is_ok_and(|o| o.status.success()),
            "tmux is required for the end-to-end tests but was not found: run scripts/setup.sh \
             (it installs tmux), then run the tests again"
        );
        let socket = format!("idgraph-e2e-{name}-{}", std::process::id());
        let tmux = Tmux {
            socket,
            last: String::new(),
        };
        // The pane stays after the command exits, so its last words can be read.
        tmux.run(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "e2e",
            "-x",
            &WIDTH.to_string(),
            "-y",
            &HEIGHT.to_string(),
            command,
            ";",
            "set-option",
            "-g",
            "remain-on-exit",
            "on",
        ]);
        tmux
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux");
        assert!(
            out.status.success(),
            "tmux {args:?} failed: {}\nlast screen:\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.last
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Sends key names (`Enter`, `Space`, `C-u`, `q`, ...).
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "e2e"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    /// Types text literally.
    fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", "e2e", "-l", text]);
    }

    /// The pane's text now.
    fn screen(&mut self) -> String {
        self.last = self.run(&["capture-pane", "-p", "-t", "e2e"]);
        self.last.clone()
    }

    /// Waits until the screen satisfies `ready`; fails with `what` and the last screen.
    fn wait(&mut self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {STEP_TIMEOUT:?} waiting for {what}; last screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(40));
        }
    }

    /// Waits until every text in `texts` is on screen.
    fn wait_for(&mut self, texts: &[&str]) -> String {
        let what = format!("{texts:?}");
        self.wait(&what, |s| texts.iter().all(|t| s.contains(t)))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

/// The shell command running `idgraph ARGS` in the workspace, then reporting how it ended:
/// its exit status and whether the terminal is back in cooked mode. The shell then waits
/// (until the server is killed) so the report stays on screen.
fn explorer_command(ws: &Workspace, args: &[&str]) -> String {
    let binary = assert_cmd::cargo::cargo_bin("idgraph");
    let mut line = format!(
        "env -u IDGRAPH_CONFIG -u IDGRAPH_SPACE HOME={} XDG_CONFIG_HOME={} USER=e2e-tester {} --store {} --config {}",
        quoted(&ws.path().display().to_string()),
        quoted(&ws.path().join("config").display().to_string()),
        quoted(&binary.display().to_string()),
        quoted(&ws.store().display().to_string()),
        quoted(&fixture("config.toml").display().to_string()),
    );
    for arg in args {
        line.push(' ');
        line.push_str(&quoted(arg));
    }
    let script = format!(
        "{line}; status=$?; case \"$(stty -a)\" in *-icanon*) tty=raw;; *) tty=cooked;; esac; echo \"EXITED:$status TTY:$tty\"; exec sleep 60"
    );
    format!("sh -c {}", quoted(&script))
}

/// A workspace whose store holds the fixture journeys.
fn fixture_store() -> Workspace {
    let ws = Workspace::new();
    let config = fixture("config.toml");
    let journeys = fixture("journeys.jsonl");
    ws.ok(&[
        "--config",
        config.to_str().expect("utf8 path"),
        "ingest",
        journeys.to_str().expect("utf8 path"),
    ]);
    ws
}

/// Runs `idgraph` on the workspace with the fixture config and returns its JSON lines.
fn json_lines(ws: &Workspace, args: &[&str]) -> Vec<Value> {
    let config = fixture("config.toml");
    let mut all = vec!["--config", config.to_str().expect("utf8 path")];
    all.extend_from_slice(args);
    ws.ok(&all)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

fn profile_holding<'a>(export: &'a [Value], id: &str) -> &'a Value {
    export
        .iter()
        .find(|p| ids_of(p).iter().any(|i| i == id))
        .unwrap_or_else(|| panic!("no profile holds {id}: {export:?}"))
}

/// Issue 4: a support agent finds a person by part of an email, reads the identifiers,
/// the timeline with the sign-up and the identity graph; an engineer merges two profiles,
/// splits an identifier back out and undoes the split from History; `q` restores the shell.
#[test]
fn find_read_merge_split_and_undo_in_the_explorer() {
    let ws = fixture_store();
    let mut tmux = Tmux::start("repair", &explorer_command(&ws, &["explore"]));
    tmux.wait_for(&["idgraph", "space default", "5 profiles", "Maya Chen"]);

    // Find by part of an email; the profile shows every identifier, web and iOS.
    tmux.keys(&["/"]);
    tmux.type_text("maya.ch");
    tmux.wait_for(&["1 matching profile ", "email:maya.chen@fieldnote.io"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for(&[
        "Maya Chen p1 · 5 identifiers · 7 events",
        "u-maya",
        "maya.chen@fieldnote.io",
        "IOS-MAYA-1",
        "anon-web-maya",
        "anon-ios-maya",
    ]);

    // Timeline: the anonymous visits before sign-up and the conversion point.
    tmux.keys(&["2"]);
    let timeline = tmux.wait_for(&["Timeline · 7 of 7 events", "sign-up: anonymous → known"]);
    let line_of = |text: &str| {
        timeline
            .lines()
            .position(|l| l.contains(text))
            .unwrap_or_else(|| panic!("{text} not on the timeline:\n{timeline}"))
    };
    assert!(line_of("Order Completed") < line_of("sign-up: anonymous → known"));
    assert!(line_of("sign-up: anonymous → known") < line_of("page Pricing"));
    assert!(
        timeline
            .lines()
            .any(|l| l.contains("page Pricing") && l.contains('◌')),
        "visits before sign-up are marked anonymous:\n{timeline}"
    );

    // Identity graph: every identifier is a node.
    tmux.keys(&["4"]);
    tmux.wait_for(&[
        "Graph · 5 identifiers",
        "anonymous_id:anon-ios-maya",
        "ios.id:IOS-MAYA-1",
    ]);

    // Merge Liam's two profiles (web and Android) with a reason.
    tmux.keys(&["/", "C-u"]);
    tmux.type_text("ortiz@out");
    tmux.wait_for(&["1 matching profile ", "email:liam.ortiz@outlook.com"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["Liam Ortiz p3 · 3 identifiers"]);
    tmux.keys(&["1", "m"]);
    tmux.wait_for(&["Merge p3 with", "p4    Liam Ortiz"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["Merge p3 with p4 — preview", "No rule is broken."]);
    tmux.type_text("same person on android");
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["Confirm merge", "Reason: same person on android"]);
    tmux.keys(&["y"]);
    tmux.wait_for(&[
        "done: #2 merge p3 <- p4",
        "Liam Ortiz p3 · 6 identifiers · 5 events · 1 merge ·",
        "4 profiles",
    ]);

    // Split the Android device id back out, with a reason.
    tmux.keys(&["s"]);
    tmux.wait_for(&["Split p3: mark identifiers", "[ ] android.id   AND-LIAM-7"]);
    tmux.keys(&["Space"]);
    tmux.wait_for(&["[x] android.id   AND-LIAM-7"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["Split p3 — preview", "The split is pinned."]);
    tmux.type_text("tablet belongs to his studio");
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["Confirm split", "Move android.id:AND-LIAM-7 out of p3"]);
    tmux.keys(&["y"]);
    tmux.wait_for(&[
        "done: #3 split p3 -> p7",
        "Liam Ortiz p3 · 5 identifiers",
        "5 profiles",
    ]);

    // Undo the split from History.
    tmux.keys(&["5"]);
    tmux.wait_for(&[
        "History · 2 journal entries",
        "#3",
        "tablet belongs to his studio",
    ]);
    tmux.keys(&["G", "u"]);
    tmux.wait_for(&["Undo #3: split p3 -> p7"]);
    tmux.type_text("keep the tablet with him");
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["Confirm undo", "Reason: keep the tablet with him"]);
    tmux.keys(&["y"]);
    tmux.wait_for(&[
        "done: #4 undo #3",
        "undone by #4",
        "Liam Ortiz p3 · 6 identifiers",
        "4 profiles",
    ]);

    // Quit: the process ends with 0 and the terminal is back to normal.
    tmux.keys(&["q"]);
    let after = tmux.wait_for(&["EXITED:"]);
    assert!(after.contains("EXITED:0 TTY:cooked"), "{after}");
    assert!(
        !after.contains("idgraph space"),
        "the explorer's screen is gone:\n{after}"
    );
    drop(tmux);

    // The journal holds the merge, the split and the undo, in order, with user and reason.
    let journal = json_lines(&ws, &["log", "--json"]);
    let manual: Vec<&Value> = journal.iter().filter(|e| e["user"] != "idgraph").collect();
    assert_eq!(manual.len(), 3, "{journal:?}");
    assert!(manual[0]["action"]["merge"].is_object(), "{:?}", manual[0]);
    assert_eq!(manual[0]["reason"], "same person on android");
    assert!(manual[1]["action"]["split"].is_object(), "{:?}", manual[1]);
    assert_eq!(manual[1]["reason"], "tablet belongs to his studio");
    assert_eq!(manual[1]["undone_by"], manual[2]["op"]);
    assert_eq!(manual[2]["action"]["undo"]["op"], manual[1]["op"]);
    assert_eq!(manual[2]["reason"], "keep the tablet with him");
    assert!(manual.iter().all(|e| e["user"] == "e2e-tester"));

    // The store: Liam is one person again, Maya spans web and iOS, the family iPad never
    // joined Noah and Emma.
    let export = json_lines(&ws, &["export"]);
    assert_eq!(export.len(), 4, "{export:?}");
    let liam = ids_of(profile_holding(&export, "user_id:u-liam"));
    for id in [
        "android.id:AND-LIAM-7",
        "anonymous_id:anon-and-liam",
        "email:liam@ortizstudio.co",
        "email:liam.ortiz@outlook.com",
    ] {
        assert!(liam.iter().any(|i| i == id), "{id} not in {liam:?}");
    }
    let maya = ids_of(profile_holding(&export, "user_id:u-maya"));
    assert!(maya.iter().any(|i| i == "anonymous_id:anon-web-maya"));
    assert!(maya.iter().any(|i| i == "ios.id:IOS-MAYA-1"));
    let emma = profile_holding(&export, "user_id:u-emma");
    assert!(!ids_of(emma).iter().any(|i| i == "user_id:u-noah"));
    assert!(!ids_of(emma).iter().any(|i| i == "ios.id:IPAD-FAMILY"));
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

fn post_batch(addr: &str, write_key: &str, events: &[Value]) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{write_key}:"));
    let mut response = agent
        .post(&format!("http://{addr}/v1/batch"))
        .header("Authorization", &format!("Basic {auth}"))
        .send_json(json!({ "batch": events }))
        .expect("POST /v1/batch");
    let status = response.status();
    let body: Value = response.body_mut().read_json().unwrap_or(Value::Null);
    assert_eq!(status, 200, "POST /v1/batch answered {status}: {body}");
}

/// Issue 5: `explore --listen` serves HTTP in the same process; a person posted over HTTP
/// becomes findable without a key press, and an open profile shows a new event as it
/// arrives.
#[test]
fn the_live_explorer_shows_events_as_they_arrive_over_http() {
    let ws = fixture_store();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut tmux = Tmux::start(
        "live",
        &explorer_command(&ws, &["explore", "--listen", &addr]),
    );
    tmux.wait_for(&[&format!("live {addr}"), "5 profiles", "Maya Chen"]);

    tmux.keys(&["/"]);
    tmux.type_text("sofia.re");
    tmux.wait_for(&["0 matching profiles"]);

    post_batch(
        &addr,
        "WK_WEB",
        &[
            json!({"type":"page","messageId":"live-sofia-1","timestamp":"2024-06-01T10:00:00Z",
                   "anonymousId":"anon-web-sofia","name":"Pricing"}),
            json!({"type":"identify","messageId":"live-sofia-2","timestamp":"2024-06-01T10:02:00Z",
                   "anonymousId":"anon-web-sofia","userId":"u-sofia",
                   "traits":{"email":"sofia.reyes@fieldnote.io","name":"Sofia Reyes"}}),
        ],
    );
    // No key pressed: the search answers again on the refreshed index.
    tmux.wait_for(&[
        "1 matching profile ",
        "Sofia Reyes",
        "6 profiles",
        "2 new events",
    ]);

    tmux.keys(&["Enter"]);
    tmux.wait_for(&["Sofia Reyes p7 · 3 identifiers · 2 events"]);
    tmux.keys(&["2"]);
    tmux.wait_for(&["Timeline · 2 of 2 events", "sign-up: anonymous → known"]);

    post_batch(
        &addr,
        "WK_SUPPORT",
        &[
            json!({"type":"track","messageId":"live-sofia-3","timestamp":"2024-06-02T09:00:00Z",
                   "userId":"u-sofia","event":"Ticket Opened","properties":{"subject":"invoice"}}),
        ],
    );
    let timeline = tmux.wait_for(&[
        "Sofia Reyes p7 · 3 identifiers · 3 events",
        "Timeline · 3 of 3 events",
        "3 new events",
    ]);
    let newest = timeline
        .lines()
        .find(|l| l.contains("2024-06-0"))
        .unwrap_or_default();
    assert!(
        newest.contains("support") && newest.contains("Ticket Opened"),
        "the new event is first on the timeline:\n{timeline}"
    );

    // Issue 6: the Audiences view counts members as of now and follows live events; a
    // member opens with the audiences it is in, and why, on its Overview.
    tmux.keys(&["A"]);
    tmux.wait_for(&[
        "Audiences (2)",
        "abandoned_cart",
        "review_request",
        "0 members",
    ]);
    let hour_ago = idgraph::model::time::format_time(idgraph::model::time::now() - 3_600_000);
    post_batch(
        &addr,
        "WK_WEB",
        &[
            json!({"type":"track","messageId":"live-sofia-4","timestamp":hour_ago,
                   "userId":"u-sofia","event":"Order Completed","properties":{"total":42}}),
        ],
    );
    tmux.wait_for(&["1 member ", "4 new events"]);
    tmux.keys(&["j", "Enter"]);
    tmux.wait_for(&["Members (1)", "Sofia Reyes", "user_id:u-sofia"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for(&[
        "Sofia Reyes p7 · 3 identifiers · 4 events",
        "Audiences (1)",
        "did \"Order Completed\" within 14d: Order Completed",
    ]);
    tmux.keys(&["Escape"]);
    tmux.wait_for(&["Members (1)"]);

    tmux.keys(&["q"]);
    let after = tmux.wait_for(&["EXITED:"]);
    assert!(after.contains("EXITED:0 TTY:cooked"), "{after}");
    drop(tmux);

    // What the server acknowledged is in the store.
    let export = json_lines(&ws, &["export"]);
    let sofia = profile_holding(&export, "user_id:u-sofia");
    assert_eq!(sofia["event_count"], 4, "{sofia}");
    assert!(
        ids_of(sofia)
            .iter()
            .any(|i| i == "email:sofia.reyes@fieldnote.io")
    );
}
