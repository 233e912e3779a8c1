//! Request bodies: content encoding (identity or gzip, bounded against gzip bombs) and JSON.
//!
//! The body is read as JSON whatever the `Content-Type` says: the RudderStack Node client
//! labels its gzipped JSON `application/x-www-form-urlencoded`.

use std::borrow::Cow;
use std::io::Read;

use flate2::read::MultiGzDecoder;
use serde_json::{Map, Value};

use super::error::ApiError;

/// How a request body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentEncoding {
    /// Plain bytes.
    Identity,
    /// gzip (`Content-Encoding: gzip` or `x-gzip`).
    Gzip,
}

/// The first two bytes of every gzip stream; a JSON text never starts with them.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Reads a `Content-Encoding` header value (absent = identity).
pub fn content_encoding(header: Option<&str>) -> Result<ContentEncoding, ApiError> {
    let Some(header) = header else {
        return Ok(ContentEncoding::Identity);
    };
    let codings: Vec<String> = header
        .split(',')
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty() && c != "identity")
        .collect();
    match codings.as_slice() {
        [] => Ok(ContentEncoding::Identity),
        [one] if one == "gzip" || one == "x-gzip" => Ok(ContentEncoding::Gzip),
        _ => Err(ApiError::new(
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_encoding",
            format!("Content-Encoding \"{header}\" is not supported (use gzip or none)"),
        )),
    }
}

/// Why a body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The decoded body is larger than the limit (decompression stopped there).
    #[error("the body is larger than {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body claims to be gzip but is not valid gzip.
    #[error("the body is not valid gzip: {0}")]
    BadGzip(String),
}

/// Decodes a body, never producing more than `limit` bytes: a gzip stream is decompressed
/// only up to one byte past the limit, so a small bomb cannot exhaust memory. A body that
/// starts with the gzip magic bytes is decompressed even without `Content-Encoding`.
pub fn decode_body(
    raw: &[u8],
    encoding: ContentEncoding,
    limit: usize,
) -> Result<Cow<'_, [u8]>, DecodeError> {
    if encoding == ContentEncoding::Gzip || raw.starts_with(&GZIP_MAGIC) {
        let mut out = Vec::with_capacity(raw.len().saturating_mul(4).min(limit));
        let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
        MultiGzDecoder::new(raw)
            .take(cap)
            .read_to_end(&mut out)
            .map_err(|e| DecodeError::BadGzip(e.to_string()))?;
        if out.len() > limit {
            return Err(DecodeError::TooLarge { limit });
        }
        Ok(Cow::Owned(out))
    } else if raw.len() > limit {
        Err(DecodeError::TooLarge { limit })
    } else {
        Ok(Cow::Borrowed(raw))
    }
}

/// Parses a body as one JSON object; errors name the problem (with line and column).
pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "invalid_json",
            "the body is empty; expected a JSON object",
        ));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(ApiError::bad_request(
            "invalid_json",
            format!("the body must be a JSON object, not {}", json_kind(&other)),
        )),
        Err(e) => Err(ApiError::bad_request(
            "invalid_json",
            format!("the body is not valid JSON: {e}"),
        )),
    }
}

/// The JSON type name of a value, for error messages.
pub fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn reads_encodings() {
        assert_eq!(content_encoding(None).unwrap(), ContentEncoding::Identity);
        assert_eq!(
            content_encoding(Some("GZIP")).unwrap(),
            ContentEncoding::Gzip
        );
        assert_eq!(
            content_encoding(Some("identity, x-gzip")).unwrap(),
            ContentEncoding::Gzip
        );
        let err = content_encoding(Some("br")).unwrap_err();
        assert_eq!(err.code, "unsupported_encoding");
        assert!(content_encoding(Some("gzip, gzip")).is_err());
    }

    #[test]
    fn decodes_gzip_with_or_without_the_header() {
        let body = br#"{"batch":[]}"#;
        let packed = gzip(body);
        assert_eq!(
            &*decode_body(&packed, ContentEncoding::Gzip, 100).unwrap(),
            body
        );
        assert_eq!(
            &*decode_body(&packed, ContentEncoding::Identity, 100).unwrap(),
            body
        );
        assert_eq!(
            &*decode_body(body, ContentEncoding::Identity, 100).unwrap(),
            body
        );
    }

    #[test]
    fn stops_decompressing_past_the_limit() {
        let bomb = gzip(&vec![b' '; 20 * 1024 * 1024]);
        assert!(bomb.len() < 64 * 1024);
        assert_eq!(
            decode_body(&bomb, ContentEncoding::Gzip, 1000),
            Err(DecodeError::TooLarge { limit: 1000 })
        );
        assert_eq!(
            decode_body(&[b'x'; 11], ContentEncoding::Identity, 10),
            Err(DecodeError::TooLarge { limit: 10 })
        );
        assert!(decode_body(&[b'x'; 10], ContentEncoding::Identity, 10).is_ok());
    }

    #[test]
    fn rejects_broken_gzip() {
        let mut packed = gzip(b"{\"a\":1}");
        packed.truncate(packed.len() - 6);
        assert!(matches!(
            decode_body(&packed, ContentEncoding::Gzip, 100),
            Err(DecodeError::BadGzip(_))
        ));
        assert!(matches!(
            decode_body(b"{}", ContentEncoding::Gzip, 100),
            Err(DecodeError::BadGzip(_))
        ));
    }

    #[test]
    fn parses_only_objects() {
        assert!(parse_object(br#"{"a":1}"#).is_ok());
        let err = parse_object(b"[1]").unwrap_err();
        assert_eq!(err.code, "invalid_json");
        assert!(err.message.contains("an array"), "{}", err.message);
        let err = parse_object(b"{\"a\":").unwrap_err();
        assert!(err.message.contains("line 1"), "{}", err.message);
        assert!(parse_object(b"  ").is_err());
    }
}
