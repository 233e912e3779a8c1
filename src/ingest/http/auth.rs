//! Credentials: the write key of the tracking API (`Authorization: Basic base64(KEY:)` or
//! `writeKey` in the body) and the read token of the Profile API (Basic user or Bearer).

use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};

use super::error::ApiError;

/// Credentials carried by an `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// `Basic base64(user:password)`: only the user part matters here.
    Basic {
        /// The user part (the write key or read token).
        user: String,
    },
    /// `Bearer TOKEN`.
    Bearer(String),
}

/// Reads an `Authorization` header value; `None` when it is neither valid Basic nor Bearer.
pub fn parse_authorization(value: &str) -> Option<Credentials> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = STANDARD
            .decode(rest)
            .or_else(|_| STANDARD_NO_PAD.decode(rest))
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let user = match text.split_once(':') {
            Some((user, _password)) => user,
            None => text.as_str(),
        };
        Some(Credentials::Basic {
            user: user.to_string(),
        })
    } else if scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty() {
        Some(Credentials::Bearer(rest.to_string()))
    } else {
        None
    }
}

/// The write key from the `Authorization` header: `Ok(None)` without the header (the key
/// may then be in the body), an error when the header is present but unusable.
pub fn header_write_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let credentials = value.to_str().ok().and_then(parse_authorization);
    match credentials {
        Some(Credentials::Basic { user }) if !user.is_empty() => Ok(Some(user)),
        _ => Err(ApiError::unauthorized(
            "the Authorization header must be Basic base64(WRITE_KEY:)",
        )),
    }
}

/// Checks the Profile API read token (Basic user or Bearer). An empty configured token
/// disables reads: `403 reads_disabled`.
pub fn check_read_token(headers: &HeaderMap, token: &str) -> Result<(), ApiError> {
    if token.is_empty() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "reads_disabled",
            "the Profile API is disabled: set [server] read_token in the config",
        ));
    }
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_authorization);
    let given = match given {
        Some(Credentials::Basic { user }) => user,
        Some(Credentials::Bearer(token)) => token,
        None => {
            return Err(ApiError::unauthorized(
                "send the read token as the Basic auth user or as a Bearer token",
            ));
        }
    };
    if constant_time_eq(given.as_bytes(), token.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::unauthorized("the read token is not valid"))
    }
}

/// Compares two secrets without stopping at the first difference.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for (i, x) in a.iter().enumerate() {
        diff |= x ^ b.get(i).copied().unwrap_or(!x);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(auth).unwrap());
        h
    }

    #[test]
    fn reads_basic_and_bearer() {
        assert_eq!(
            parse_authorization("Basic V1JJVEVfS0VZX1RFU1Q6"),
            Some(Credentials::Basic {
                user: "WRITE_KEY_TEST".into()
            })
        );
        // base64("KEY") without the colon, and without padding.
        assert_eq!(
            parse_authorization("basic S0VZ"),
            Some(Credentials::Basic { user: "KEY".into() })
        );
        assert_eq!(
            parse_authorization("Basic S0VZOg"),
            Some(Credentials::Basic { user: "KEY".into() })
        );
        assert_eq!(
            parse_authorization("Bearer t0k"),
            Some(Credentials::Bearer("t0k".into()))
        );
        assert_eq!(parse_authorization("Basic !!!"), None);
        assert_eq!(parse_authorization("Digest abc"), None);
        assert_eq!(parse_authorization("Basic"), None);
    }

    #[test]
    fn write_key_comes_from_basic_auth() {
        assert_eq!(header_write_key(&HeaderMap::new()).unwrap(), None);
        assert_eq!(
            header_write_key(&headers("Basic V1JJVEVfS0VZX1RFU1Q6")).unwrap(),
            Some("WRITE_KEY_TEST".into())
        );
        assert_eq!(
            header_write_key(&headers("Bearer x")).unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );
        // base64(":") has an empty user.
        assert!(header_write_key(&headers("Basic Og==")).is_err());
    }

    #[test]
    fn read_token_checks() {
        assert_eq!(
            check_read_token(&headers("Bearer s3cret"), "")
                .unwrap_err()
                .status,
            StatusCode::FORBIDDEN
        );
        assert!(check_read_token(&headers("Bearer s3cret"), "s3cret").is_ok());
        // base64("s3cret:")
        assert!(check_read_token(&headers("Basic czNjcmV0Og=="), "s3cret").is_ok());
        assert_eq!(
            check_read_token(&headers("Bearer nope"), "s3cret")
                .unwrap_err()
                .status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            check_read_token(&HeaderMap::new(), "s3cret")
                .unwrap_err()
                .status,
            StatusCode::UNAUTHORIZED
        );
    }

    #[test]
    fn constant_time_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"a"));
        assert!(constant_time_eq(b"", b""));
    }
}
