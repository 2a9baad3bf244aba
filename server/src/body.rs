//! Reading JSON request bodies: content type, optional gzip, a limit on the
//! decoded size (checked while inflating, so a gzip bomb is refused without
//! being inflated whole), and specific errors for each way a body is wrong.

use actix_web::dev::Decompress;
use actix_web::http::header;
use actix_web::{web, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

pub async fn read_json<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<T, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::UnsupportedMediaType(format!(
            "send the body as application/json, not {:?}",
            content_type
        )));
    }
    let encoding = req
        .headers()
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity");
    if !["identity", "gzip"].contains(&encoding.trim()) {
        return Err(ApiError::UnsupportedMediaType(format!(
            "Content-Encoding {encoding:?} is not supported; use gzip or none"
        )));
    }
    let too_large =
        || ApiError::PayloadTooLarge(format!("the request body is over {limit} bytes (decoded)"));
    if encoding == "identity" {
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > limit) {
            return Err(too_large());
        }
    }
    let mut stream = Decompress::from_headers(payload.into_inner(), req.headers());
    let mut body = web::BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::bad_request(
                "invalid_body",
                format!("the request body could not be read: {e}"),
            )
        })?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    parse_json(&body)
}

/// Parses JSON, telling malformed JSON apart from JSON of the wrong shape.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => ApiError::bad_request(
            "invalid_request",
            format!("the JSON does not match the API: {e}"),
        ),
        _ => ApiError::bad_request("invalid_json", format!("the body is not valid JSON: {e}")),
    })
}
