//! Slow and abusive clients on raw sockets: stalled headers are cut off, trickling bodies get
//! 408, and connections beyond `max_connections` wait without starving the open ones.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{CONFIG, MemorySink, TestServer, basic, post_json, readers};

/// [`CONFIG`] with extra `[server]` settings.
fn config_with(server: &str) -> String {
    CONFIG.replace("[server]\n", &format!("[server]\n{server}\n"))
}

fn start(server: &str, sink: &MemorySink) -> TestServer {
    TestServer::start(&config_with(server), sink.clone(), readers(Vec::new()))
}

/// A one-message batch for `user`.
fn batch(user: &str) -> String {
    json!({"batch": [{"type": "identify", "userId": user, "messageId": format!("m-{user}")}]})
        .to_string()
}

/// The head of a `POST /v1/batch` with the web source's key and a body of `length` bytes.
fn batch_head(length: usize) -> String {
    format!(
        "POST /v1/batch HTTP/1.1\r\nHost: test\r\nAuthorization: {}\r\n\
         Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n",
        basic("KEY_WEB")
    )
}

/// A response read off a raw connection.
struct Response {
    status: u16,
    /// Lower-cased names.
    headers: Vec<(String, String)>,
    body: Value,
}

/// A keep-alive connection speaking raw HTTP/1.1.
struct Client {
    reader: BufReader<TcpStream>,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        Client {
            reader: BufReader::new(TcpStream::connect(addr).unwrap()),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).unwrap();
    }

    fn send_batch(&mut self, user: &str) {
        let body = batch(user);
        self.send(format!("{}{body}", batch_head(body.len())).as_bytes());
    }

    /// Reads one response (with a JSON body) within `wait`; `None` when nothing arrived in
    /// time.
    fn response(&mut self, wait: Duration) -> Option<Response> {
        self.reader.get_ref().set_read_timeout(Some(wait)).unwrap();
        let mut status_line = String::new();
        match self.reader.read_line(&mut status_line) {
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return None;
            }
            Err(e) => panic!("reading the status line: {e}"),
        }
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap();
            headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
        }
        let length: usize = headers
            .iter()
            .find(|(name, _)| name == "content-length")
            .map(|(_, value)| value.parse().unwrap())
            .unwrap();
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).unwrap();
        Some(Response {
            status,
            headers,
            body: serde_json::from_slice(&body).unwrap(),
        })
    }

    /// Waits (at most `wait`) until the server closes the connection; returns what it sent
    /// before closing and when the close was seen.
    fn closed_within(&mut self, wait: Duration) -> (Vec<u8>, Instant) {
        self.reader.get_ref().set_read_timeout(Some(wait)).unwrap();
        let mut received = Vec::new();
        match self.reader.read_to_end(&mut received) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            Err(e) => panic!("the server did not close the connection within {wait:?}: {e}"),
        }
        (received, Instant::now())
    }
}

#[test]
fn stalled_headers_are_cut_off_while_other_clients_are_served() {
    let sink = MemorySink::default();
    let timeout = Duration::from_secs(2);
    let server = start("header_read_timeout_secs = 2", &sink);
    let started = Instant::now();
    let mut stalled = Client::connect(server.addr);
    stalled.send(b"POST /v1/batch HTTP/1.1\r\nHost: test\r\nContent-Le");
    let silent = Client::connect(server.addr);
    let watch = |mut client: Client| std::thread::spawn(move || client.closed_within(timeout * 10));
    let (stalled, silent) = (watch(stalled), watch(silent));

    let reply = post_json(
        &server.url("/v1/batch"),
        "KEY_WEB",
        &serde_json::from_str(&batch("meanwhile")).unwrap(),
    );
    let served = Instant::now();
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(sink.events("shop").len(), 1);

    for (name, client) in [("stalled", stalled), ("silent", silent)] {
        let (received, closed) = client.join().unwrap();
        assert!(
            received.is_empty(),
            "{name}: no response, just a close: {}",
            String::from_utf8_lossy(&received)
        );
        let after = closed - started;
        assert!(
            after >= timeout - Duration::from_millis(200),
            "{name} closed after {after:?}, before the {timeout:?} timeout"
        );
        assert!(
            closed > served,
            "the other client was served while {name} stalled"
        );
    }
}

#[test]
fn a_trickling_body_gets_408_and_the_connection_closes() {
    let sink = MemorySink::default();
    let server = start("body_read_timeout_secs = 1", &sink);
    let mut client = Client::connect(server.addr);
    let started = Instant::now();
    client.send(batch_head(2_000).as_bytes());
    let mut trickle = client.reader.get_ref().try_clone().unwrap();
    let trickler = std::thread::spawn(move || {
        let mut sent = 0;
        while sent < 2_000 && trickle.write_all(b" ").is_ok() {
            sent += 1;
            std::thread::sleep(Duration::from_millis(100));
        }
        sent
    });

    let Response {
        status,
        headers,
        body,
    } = client
        .response(Duration::from_secs(10))
        .expect("a response within 10 s");
    let elapsed = started.elapsed();
    assert_eq!(status, 408, "{body}");
    assert_eq!(body["success"], false);
    assert_eq!(body["error"]["code"], "request_timeout");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("1 s"),
        "{body}"
    );
    assert!(headers.contains(&("connection".into(), "close".into())));
    assert!(
        elapsed >= Duration::from_millis(900),
        "408 after {elapsed:?}"
    );
    let (rest, _) = client.closed_within(Duration::from_secs(10));
    assert!(rest.is_empty());
    let sent = trickler.join().unwrap();
    assert!(
        sent < 2_000,
        "the server stopped reading; {sent} bytes went out"
    );
    assert_eq!(sink.total(), 0);
}

#[test]
fn connections_beyond_the_cap_wait_while_open_ones_keep_being_served() {
    let sink = MemorySink::default();
    let server = start("max_connections = 2", &sink);
    let quick = Duration::from_secs(10);
    let mut first = Client::connect(server.addr);
    let mut second = Client::connect(server.addr);
    for (client, user) in [(&mut first, "a1"), (&mut second, "b1")] {
        client.send_batch(user);
        assert_eq!(client.response(quick).unwrap().status, 200);
    }

    // A third connection is not accepted while two are open: its request waits.
    let mut third = Client::connect(server.addr);
    third.send_batch("c1");
    assert!(
        third.response(Duration::from_millis(700)).is_none(),
        "the third connection was served beyond max_connections = 2"
    );

    // The open connections are still served.
    for (client, user) in [(&mut first, "a2"), (&mut second, "b2")] {
        client.send_batch(user);
        assert_eq!(client.response(quick).unwrap().status, 200);
    }

    // Closing one lets the waiting connection in, and its request is answered.
    drop(first);
    let reply = third.response(quick).expect("served once a slot freed");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["stored"], 1);
    let stored: Vec<String> = sink
        .events("shop")
        .iter()
        .map(|e| e.event.message_id.clone())
        .collect();
    assert_eq!(stored, ["m-a1", "m-b1", "m-a2", "m-b2", "m-c1"]);
}
