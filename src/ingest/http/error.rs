//! JSON error responses: `{"success":false,"error":{"code":"…","message":"…"}}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A request-level failure, answered with its status and a JSON error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable machine-readable code, e.g. `invalid_json`, `payload_too_large`.
    pub code: &'static str,
    /// A human-readable explanation naming the problem.
    pub message: String,
}

impl ApiError {
    /// An error with any status.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// `400 Bad Request`: the client sent something it must fix; clients do not retry it.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// `401 Unauthorized` with the Segment code `authentication_error`.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "authentication_error", message)
    }

    /// `404 Not Found` with the code `not_found`.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// `405 Method Not Allowed` with the code `method_not_allowed`: `method` is not one of the
    /// `allowed` methods (as the `Allow` header lists them, e.g. `GET,HEAD`) of `path`.
    pub fn method_not_allowed(method: &str, path: &str, allowed: &str) -> ApiError {
        let allowed: Vec<&str> = allowed.split(',').map(str::trim).collect();
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!(
                "{path} does not take {method}; use {}",
                allowed.join(" or ")
            ),
        )
    }

    /// `500 Internal Server Error`: clients retry it.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", message)
    }

    /// The `{"code","message"}` object used inside error bodies.
    pub fn error_object(&self) -> serde_json::Value {
        json!({"code": self.code, "message": self.message})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"success": false, "error": self.error_object()});
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"idgraph\""),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unauthorized_asks_for_basic_auth() {
        let response = ApiError::unauthorized("no key").into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
        assert_eq!(
            ApiError::not_found("x").error_object(),
            json!({"code": "not_found", "message": "x"})
        );
    }

    #[test]
    fn method_not_allowed_names_the_allowed_methods() {
        let error = ApiError::method_not_allowed("POST", "/v1/spaces/s/x", "GET,HEAD");
        assert_eq!(error.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            error.error_object(),
            json!({"code": "method_not_allowed", "message": "/v1/spaces/s/x does not take POST; use GET or HEAD"})
        );
    }
}
