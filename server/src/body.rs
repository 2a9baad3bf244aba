//! Reading JSON request bodies: content type, optional gzip, a limit on the
//! decoded size (checked while inflating, so a gzip bomb is refused without
//! being inflated whole), and specific errors for each way a body is wrong.

use actix_web::dev::Decompress;
use actix_web::http::header;
use actix_web::{web, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use sync_core::wire::INVALID_ID_MESSAGE;
use sync_core::ProblemCode;

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
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    if !["identity", "gzip"].contains(&encoding.as_str()) {
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
        let chunk = chunk
            .map_err(|e| ApiError::bad_request(ProblemCode::InvalidBody, unreadable_body(&e)))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    parse_json(&body)
}

/// Why a body could not be read, in plain words (the framework's own
/// messages carry debug dumps of IO errors).
fn unreadable_body(e: &actix_web::error::PayloadError) -> String {
    use actix_web::error::PayloadError as P;
    match e {
        P::Incomplete(_) => "the request body ended before its declared length".into(),
        P::EncodingCorrupted => "the request body is not valid gzip".into(),
        P::Overflow => "the request body is longer than allowed".into(),
        P::UnknownLength => "the request body has no length".into(),
        _ => "the request body could not be read".into(),
    }
}

/// Parses JSON, telling malformed JSON apart from JSON of the wrong shape,
/// and a non-canonical id apart from other shape errors.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let parsed = serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => shape_error(&e.to_string()),
        _ => ApiError::bad_request(
            ProblemCode::InvalidJson,
            format!("the body is not valid JSON: {e}"),
        ),
    })?;
    // serde also reads a struct from an array of its fields; every body of
    // this API is an object.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::bad_request(
            ProblemCode::InvalidRequest,
            "the body must be a JSON object",
        ));
    }
    Ok(parsed)
}

/// A body or query of the wrong shape: `invalid_id` when the reason is an
/// id that is not canonical, else `code`.
pub fn shape_error_as(code: ProblemCode, message: &str) -> ApiError {
    match message.find(INVALID_ID_MESSAGE) {
        Some(at) => ApiError::bad_request(
            ProblemCode::InvalidId,
            message[at + INVALID_ID_MESSAGE.len()..].to_owned(),
        ),
        None => ApiError::bad_request(code, message.to_owned()),
    }
}

fn shape_error(message: &str) -> ApiError {
    match shape_error_as(ProblemCode::InvalidRequest, message) {
        ApiError::BadRequest {
            code: ProblemCode::InvalidRequest,
            detail,
        } => ApiError::bad_request(
            ProblemCode::InvalidRequest,
            format!("the JSON does not match the API: {detail}"),
        ),
        other => other,
    }
}
