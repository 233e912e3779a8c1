//! Request limits (from `[server]`): bytes per message, decoded bytes per batch, messages per
//! batch, time to send a body. Sizes are measured on decoded bytes; a message's size is its
//! compact JSON length.

use std::io::Write;
use std::time::Duration;

use serde_json::Value;

use crate::config::ServerConfig;

use super::error::ApiError;

/// The limits a request must respect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest single message, in bytes (Segment: 32 KB).
    pub max_message_bytes: usize,
    /// Largest decoded batch body, in bytes (Segment: 500 KB).
    pub max_batch_bytes: usize,
    /// Most messages in one batch.
    pub max_batch_messages: usize,
    /// How long a client may take to send a tracking request's body.
    pub body_read_timeout: Duration,
}

impl Limits {
    /// The limits configured in `[server]`.
    pub fn from_config(server: &ServerConfig) -> Limits {
        Limits {
            max_message_bytes: server.max_message_bytes,
            max_batch_bytes: server.max_batch_bytes,
            max_batch_messages: server.max_batch_messages,
            body_read_timeout: server.body_read_timeout(),
        }
    }

    /// The decoded body limit of an endpoint: a batch, or a single message.
    pub fn body_limit(&self, batch: bool) -> usize {
        if batch {
            self.max_batch_bytes
        } else {
            self.max_message_bytes
        }
    }
}

/// How many bytes may arrive on the wire for a decoded limit: gzip never grows data by more
/// than a few bytes per 16 KB block plus its header, so this bounds compressed bodies too.
pub fn wire_limit(decoded_limit: usize) -> usize {
    decoded_limit
        .saturating_add(decoded_limit / 256)
        .saturating_add(1024)
}

/// The compact JSON size of a value, without allocating it.
pub fn json_size(value: &Value) -> usize {
    struct Counter(usize);
    impl Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Writing a `Value` into an infallible writer cannot fail.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

/// Checks one message against the per-message limit; the error names size and limit.
pub fn check_message_size(value: &Value, limits: &Limits) -> Result<(), String> {
    let size = json_size(value);
    if size > limits.max_message_bytes {
        Err(format!(
            "the message is {size} bytes; the limit is {} bytes",
            limits.max_message_bytes
        ))
    } else {
        Ok(())
    }
}

/// Checks the number of messages in a batch.
pub fn check_batch_count(count: usize, limits: &Limits) -> Result<(), ApiError> {
    if count > limits.max_batch_messages {
        Err(ApiError::bad_request(
            "too_many_messages",
            format!(
                "the batch has {count} messages; the limit is {}",
                limits.max_batch_messages
            ),
        ))
    } else {
        Ok(())
    }
}

/// The error for a body over its decoded limit.
pub fn too_large(limit: usize, batch: bool) -> ApiError {
    let what = if batch { "batch" } else { "message" };
    ApiError::bad_request(
        "payload_too_large",
        format!("the {what} is larger than the limit of {limit} bytes"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use serde_json::json;

    fn limits() -> Limits {
        Limits::from_config(&Config::defaults().server)
    }

    #[test]
    fn defaults_follow_segment() {
        let l = limits();
        assert_eq!(l.max_message_bytes, 32 * 1024);
        assert_eq!(l.max_batch_bytes, 500 * 1024);
        assert_eq!(l.max_batch_messages, 2500);
        assert_eq!(l.body_read_timeout, Duration::from_secs(30));
        assert_eq!(l.body_limit(true), 500 * 1024);
        assert_eq!(l.body_limit(false), 32 * 1024);
        assert!(wire_limit(1000) > 1000);
    }

    #[test]
    fn measures_compact_json() {
        let v = json!({"a": [1, 2], "b": "x"});
        assert_eq!(json_size(&v), v.to_string().len());
    }

    #[test]
    fn message_limit() {
        let l = limits();
        let small = json!({"type": "track", "event": "x"});
        assert!(check_message_size(&small, &l).is_ok());
        let big = json!({"type": "track", "properties": {"blob": "x".repeat(32 * 1024)}});
        let err = check_message_size(&big, &l).unwrap_err();
        assert!(err.contains("32768"), "{err}");
    }

    #[test]
    fn batch_count_limit() {
        let l = limits();
        assert!(check_batch_count(2500, &l).is_ok());
        let err = check_batch_count(2501, &l).unwrap_err();
        assert_eq!(err.code, "too_many_messages");
        assert_eq!(too_large(10, true).code, "payload_too_large");
    }
}
