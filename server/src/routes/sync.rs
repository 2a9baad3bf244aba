//! `POST /v1/sync/push` and `GET /v1/sync/pull`.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use sync_core::wire::{Problem, PullResponse};
use sync_core::{ProblemCode, PushRequest, PushResponse, Rules};

use super::{blocking, read_scope};
use crate::auth::Caller;
use crate::body::read_json;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::PullQuery;
use crate::sync::cursor;
use crate::sync::minimise::Reader;
use crate::sync::push::{self, PushContext, PushError, PushOutcome};

#[utoipa::path(post, path = "/v1/sync/push", tag = "sync", request_body = PushRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every change's result; all of them durable", body = PushResponse),
        (status = 403, description = "`device_mismatch`, `device_not_bound`", content_type = "application/problem+json", body = Problem),
        (status = 409, description = "`server_restored`: the server was restored from a backup; resend this device's changes after the body's `acked_seq`", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn push(
    caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body: PushRequest = read_json(&req, payload, state.settings.max_body_bytes).await?;
    let max = state.settings.max_push_changes;
    if body.changes.len() > max {
        return Err(ApiError::PayloadTooLarge(format!(
            "a push carries at most {max} changes, this one has {}; split it",
            body.changes.len()
        )));
    }
    if body.device_id != caller.device_id {
        tracing::warn!(target: "audit", user = %caller.principal.user_id, token_device = %caller.device_id, body_device = %body.device_id, "refused: push for another device");
        return Err(ApiError::Forbidden {
            code: ProblemCode::DeviceMismatch,
            detail: "device_id is not the device this token was issued to".into(),
        });
    }
    if body
        .changes
        .iter()
        .any(|c| c.device_seq == 0 || c.device_seq > i64::MAX as u64)
    {
        return Err(ApiError::bad_request(
            ProblemCode::InvalidRequest,
            "device_seq counts from 1 and must fit in 63 bits",
        ));
    }
    let now_ms = state.clock.now_ms();
    let device_ms = body.device_time.timestamp_millis();
    let clock_offset_ms = device_ms.saturating_sub(i64::try_from(now_ms).unwrap_or(i64::MAX));
    let batch = body.changes.len();
    let state_for_push = state.clone();
    let outcome = blocking(move || {
        let state = state_for_push;
        let ctx = PushContext {
            principal: &caller.principal,
            device_id: body.device_id,
            clock_offset_ms,
            now_ms,
            rules: Rules::at(now_ms),
            restored: state.lineage().restored(),
        };
        let prepared = push::prepare(&body.changes, &ctx);
        let mut outcome: Option<Result<PushOutcome, PushError>> = None;
        state.store.push(&mut |tx| match push::run(tx, &ctx, &prepared) {
            Err(PushError::Store(e)) => Err(e),
            other => {
                outcome = Some(other);
                Ok(())
            }
        })?;
        match outcome {
            Some(Ok(o)) => Ok(o),
            Some(Err(PushError::DeviceNotBound(d))) => {
                tracing::warn!(target: "audit", device = %d, "refused: push from a device not bound to the user");
                Err(ApiError::Forbidden {
                    code: ProblemCode::DeviceNotBound,
                    detail: format!("device {d} is not bound to this user; log in on it first"),
                })
            }
            Some(Err(e @ PushError::ServerRestored(acked_seq))) => {
                tracing::info!(device = %body.device_id, acked_seq, "push beyond a restore: asking for a resend");
                Err(ApiError::ServerRestored {
                    acked_seq,
                    detail: format!("{e}: send every change after {acked_seq} again, unchanged"),
                })
            }
            Some(Err(PushError::Store(e))) => Err(e.into()),
            None => Err(ApiError::internal(anyhow::anyhow!("push produced no outcome"))),
        }
    })
    .await?;
    state
        .metrics
        .record_push(batch, outcome.applied, outcome.duplicates, outcome.rejected);
    let response = PushResponse {
        acked_seq: outcome.acked_seq,
        server_hlc: state.server_hlc(outcome.max_hlc),
        results: outcome.results,
    };
    Ok(HttpResponse::Ok().json(response))
}

/// Whether the client said it speaks protocol 1.1 or later: one that sends
/// no `Asa-Protocol`, or `1`, is a version-1 client (contract section 7).
pub(crate) fn speaks_v1_1(req: &HttpRequest) -> bool {
    !matches!(
        req.headers().get("asa-protocol").map(|v| v.as_bytes()),
        None | Some(b"1")
    )
}

/// The largest `max_bytes` a pull takes (1 GiB, far above any page).
const MAX_PAGE_BYTES: usize = 1 << 30;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PullParams {
    /// The `cursor` of the previous page; none starts from the beginning.
    #[param(pattern = "^(A[Q-X][A-Za-z0-9_-]{10}|A[g-n][A-Za-z0-9_-]{20}[AEIMQUYcgkosw048])?$")]
    cursor: Option<String>,
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
    /// End the page before its JSON passes this many bytes; a page holds at
    /// least one change all the same, so that every pull makes progress.
    #[param(minimum = 1, maximum = 1073741824)]
    max_bytes: Option<usize>,
    /// Also return the changes this device pushed.
    #[serde(default)]
    include_own: bool,
}

#[utoipa::path(get, path = "/v1/sync/pull", tag = "sync", params(PullParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of changes the caller may read", body = PullResponse),
        (status = 409, description = "`resync_required`: drop pulled data and pull from the beginning", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn pull(
    caller: Caller,
    req: HttpRequest,
    params: web::Query<PullParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let settings = &state.settings;
    let limit = params.limit.unwrap_or(settings.pull_default_limit);
    if !(1..=settings.pull_max_limit).contains(&limit) {
        return Err(ApiError::bad_request(
            ProblemCode::InvalidLimit,
            format!("limit must be between 1 and {}", settings.pull_max_limit),
        ));
    }
    if params
        .max_bytes
        .is_some_and(|m| !(1..=MAX_PAGE_BYTES).contains(&m))
    {
        return Err(ApiError::bad_request(
            ProblemCode::InvalidQuery,
            format!("max_bytes must be between 1 and {MAX_PAGE_BYTES}"),
        ));
    }
    let cursor = match params.cursor.as_deref() {
        None | Some("") => None,
        Some(text) => Some(cursor::decode(text).ok_or_else(|| {
            ApiError::bad_request(
                ProblemCode::InvalidCursor,
                "the cursor is not one this server handed out",
            )
        })?),
    };
    let scope = read_scope(&caller.principal)?;
    let reader = Reader::new(&caller.principal, speaks_v1_1(&req));
    let state_for_pull = state.clone();
    let (resync, device) = (caller.resync, caller.device_id);
    let exclude_device = (!params.include_own).then_some(caller.device_id);
    let (page, epoch, from_elsewhere) = blocking(move || {
        let state = state_for_pull;
        let lineage = state.lineage();
        // A cursor from an earlier epoch (before a restore) resumes where
        // its history meets the current one.
        let (after_seq, from_elsewhere) = match cursor {
            None => (0, true),
            Some(c) => (
                lineage.resume(c.epoch, c.after_seq),
                !lineage.is_current(c.epoch),
            ),
        };
        if resync != 0 && after_seq > 0 {
            return Err(ApiError::conflict(
                ProblemCode::ResyncRequired,
                "this account's access changed: keep the outbox, drop the pulled data and pull again from the beginning (no cursor)",
            ));
        }
        let page = state.store.pull(&PullQuery {
            after_seq,
            limit,
            max_bytes: params.max_bytes,
            scope,
            exclude_device,
            reader,
        })?;
        if resync != 0 {
            state.store.clear_resync(device, resync)?;
        }
        Ok((page, lineage.current(), from_elsewhere))
    })
    .await?;
    // A device starting out, or back from before a restore, learns what the
    // server holds of its own changes, to send again what it lost.
    let acked_seq = from_elsewhere.then_some(caller.acked_seq);
    // The stored bodies are already the wire JSON of each change: join them
    // rather than parse and re-serialize.
    let mut body =
        String::with_capacity(page.bodies.iter().map(|b| b.len() + 1).sum::<usize>() + 96);
    body.push_str("{\"changes\":[");
    for (i, change) in page.bodies.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(change);
    }
    body.push_str("],\"cursor\":\"");
    body.push_str(&cursor::encode(epoch, page.next_after_seq));
    body.push_str("\",\"has_more\":");
    body.push_str(if page.has_more { "true" } else { "false" });
    if let Some(acked) = acked_seq {
        body.push_str(",\"acked_seq\":");
        body.push_str(&acked.to_string());
    }
    body.push('}');
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .body(body))
}
