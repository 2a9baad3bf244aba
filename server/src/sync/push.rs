//! The push algorithm of PROTOCOL.md section 6, run inside one store
//! transaction: after it returns Ok the caller commits, and every result it
//! reports is durable; on Err nothing of the batch is stored.

use std::collections::HashMap;

use sync_core::hlc::{parse_canonical_uuid, MAX_FORWARD_SKEW_MS};
use sync_core::wire::PushResult;
use sync_core::{
    check_against_state, check_start, Change, ChangeDto, ChangeError, Collection, Field, Hlc, Key,
    Principal, PushStatus, RecordState, Rules, Value,
};
use uuid::Uuid;

use crate::store::{Device, NewChange, NewRejection, PushTx, RecordWrite, StoreError};

/// What the push is about, besides its changes.
#[derive(Debug, Clone)]
pub struct PushContext<'a> {
    pub principal: &'a Principal,
    pub device_id: Uuid,
    /// The device's clock minus the server's, from `device_time`.
    pub clock_offset_ms: i64,
    pub now_ms: u64,
    pub rules: Rules,
}

/// A pushed change decoded before the write transaction: decoding and
/// encoding are pure CPU work, done on the request's own thread so that the
/// single writer only looks up, merges and writes.
#[derive(Debug)]
pub struct Prepared<'a> {
    pub dto: &'a ChangeDto,
    /// The change decoded and stamped by the pushing device, or why not.
    pub decoded: Result<Change, ChangeError>,
    /// The change as the log stores it and pull returns it (with its author).
    pub body: String,
}

/// Decodes every change of a push (see [`Prepared`]).
pub fn prepare<'a>(changes: &'a [ChangeDto], ctx: &PushContext<'_>) -> Vec<Prepared<'a>> {
    changes
        .iter()
        .map(|dto| {
            let decoded = Change::decode(dto, ctx.principal.user_id, &ctx.rules)
                .and_then(|c| c.check_origin(ctx.device_id).map(|()| c));
            let body = match &decoded {
                Ok(change) => serde_json::to_string(&change.to_dto(true)),
                Err(_) => serde_json::to_string(dto),
            }
            .unwrap_or_default();
            Prepared { dto, decoded, body }
        })
        .collect()
}

#[derive(Debug, Clone, Default)]
pub struct PushOutcome {
    pub acked_seq: u64,
    /// In the order of the request's changes.
    pub results: Vec<PushResult>,
    /// The greatest HLC among applied changes, for the server clock.
    pub max_hlc: Option<Hlc>,
    pub applied: usize,
    pub duplicates: usize,
    pub rejected: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("device {0} is not bound to this user; log in on it first")]
    DeviceNotBound(Uuid),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A record the batch touched, loaded once and written back once.
struct Touched {
    state: RecordState,
    dirty: bool,
}

struct Batch<'a, 'c> {
    tx: &'a mut dyn PushTx,
    ctx: &'a PushContext<'c>,
    device: Device,
    records: HashMap<(Collection, Uuid), Touched>,
    /// Whether each centre named by a new record exists, asked once per batch.
    centres: HashMap<String, bool>,
}

pub fn run(
    tx: &mut dyn PushTx,
    ctx: &PushContext<'_>,
    changes: &[Prepared<'_>],
) -> Result<PushOutcome, PushError> {
    let device = tx
        .device(ctx.device_id)?
        .filter(|d| d.user_id == Some(ctx.principal.user_id))
        .ok_or(PushError::DeviceNotBound(ctx.device_id))?;
    let mut batch = Batch {
        tx,
        ctx,
        device,
        records: HashMap::new(),
        centres: HashMap::new(),
    };
    let mut outcome = PushOutcome {
        acked_seq: device.acked_seq,
        ..PushOutcome::default()
    };
    // Process in device order so a batch that lists its changes out of order
    // is still gap-free; results go back in the request's order.
    let mut order: Vec<usize> = (0..changes.len()).collect();
    order.sort_by_key(|&i| changes[i].dto.device_seq);
    let mut results: Vec<Option<PushResult>> = vec![None; changes.len()];
    for i in order {
        let dto = changes[i].dto;
        let result = if dto.device_seq <= outcome.acked_seq {
            batch.resent(dto)?
        } else if dto.device_seq == outcome.acked_seq + 1 {
            outcome.acked_seq = dto.device_seq;
            let (result, hlc) = batch.new_change(&changes[i])?;
            outcome.max_hlc = outcome.max_hlc.max(hlc);
            result
        } else {
            rejected(
                &dto.id,
                &ChangeError::SeqGap {
                    seq: dto.device_seq,
                    acked: outcome.acked_seq,
                },
            )
        };
        match result.status {
            PushStatus::Applied => outcome.applied += 1,
            PushStatus::Duplicate => outcome.duplicates += 1,
            PushStatus::Rejected => outcome.rejected += 1,
        }
        results[i] = Some(result);
    }
    batch.flush()?;
    let now_secs = i64::try_from(ctx.now_ms / 1000).unwrap_or(i64::MAX);
    batch
        .tx
        .update_device(device.key, outcome.acked_seq, ctx.clock_offset_ms, now_secs)?;
    outcome.results = results.into_iter().flatten().collect();
    Ok(outcome)
}

fn rejected(id: &str, e: &ChangeError) -> PushResult {
    PushResult {
        id: id.to_owned(),
        status: PushStatus::Rejected,
        code: Some(e.code().to_owned()),
        detail: Some(e.to_string()),
        warning: None,
    }
}

fn with_status(id: &str, status: PushStatus) -> PushResult {
    PushResult {
        id: id.to_owned(),
        status,
        code: None,
        detail: None,
        warning: None,
    }
}

impl Batch<'_, '_> {
    /// A change whose sequence number is already acknowledged: a retry after
    /// a lost response (answered as before), or a reuse (rejected, not stored).
    fn resent(&mut self, dto: &ChangeDto) -> Result<PushResult, PushError> {
        // A change id that is not canonical was never stored in the log; it
        // can only match a rejection, compared as sent.
        if let Some(id) = parse_canonical_uuid(&dto.id) {
            if let Some(stored) = self.tx.find_change(id)? {
                let same_slot =
                    stored.device_key == self.device.key && stored.device_seq == dto.device_seq;
                if same_slot && self.same_content(&stored.body, dto) {
                    return Ok(with_status(&dto.id, PushStatus::Duplicate));
                }
                return Ok(rejected(
                    &dto.id,
                    &ChangeError::ChangeIdReused(dto.id.clone()),
                ));
            }
        }
        match self.tx.find_rejection(self.device.key, dto.device_seq)? {
            Some(r) if r.change_id == dto.id => Ok(PushResult {
                id: dto.id.clone(),
                status: PushStatus::Rejected,
                code: Some(r.code),
                detail: Some(r.detail),
                warning: None,
            }),
            _ => Ok(rejected(&dto.id, &ChangeError::SeqReused(dto.device_seq))),
        }
    }

    fn same_content(&self, stored_body: &str, dto: &ChangeDto) -> bool {
        let decode =
            |d: &ChangeDto| Change::decode(d, self.ctx.principal.user_id, &self.ctx.rules).ok();
        let stored = serde_json::from_str::<ChangeDto>(stored_body).ok();
        match (stored.as_ref().and_then(decode), decode(dto)) {
            (Some(a), Some(b)) => a.same_content(&b),
            _ => false,
        }
    }

    /// The next change in the device's sequence: applied, or rejected with its
    /// reason kept. Either way it takes its slot.
    fn new_change(
        &mut self,
        prepared: &Prepared<'_>,
    ) -> Result<(PushResult, Option<Hlc>), PushError> {
        let dto = prepared.dto;
        let verdict = match self.judge(prepared)? {
            // The log's unique index on change ids answers whether the id is
            // new, so a new change costs no extra lookup.
            Ok(change) => {
                if self.insert(change, &prepared.body)? {
                    Ok(change)
                } else {
                    Err(ChangeError::ChangeIdReused(dto.id.clone()))
                }
            }
            Err(rejection) => Err(rejection),
        };
        match verdict {
            Ok(change) => {
                let warning = (change.hlc.wall_ms() > self.ctx.now_ms + MAX_FORWARD_SKEW_MS)
                    .then(|| "clock_skew".to_owned());
                let touched = self.touched(change.collection, change.record_id)?;
                touched.state.apply(change);
                touched.dirty = true;
                let mut result = with_status(&dto.id, PushStatus::Applied);
                result.warning = warning;
                Ok((result, Some(change.hlc)))
            }
            Err(rejection) => {
                if matches!(rejection, ChangeError::Forbidden { .. }) {
                    tracing::warn!(target: "audit", user = %self.ctx.principal.user_id, device = %self.ctx.device_id, change = %dto.id, collection = %dto.collection, record = %dto.record_id, "refused: change forbidden");
                }
                let detail = rejection.to_string();
                self.tx.insert_rejection(&NewRejection {
                    device_key: self.device.key,
                    device_seq: dto.device_seq,
                    change_id: &dto.id,
                    code: rejection.code(),
                    detail: &detail,
                    body: &prepared.body,
                    at: i64::try_from(self.ctx.now_ms / 1000).unwrap_or(i64::MAX),
                })?;
                Ok((rejected(&dto.id, &rejection), None))
            }
        }
    }

    /// Who may edit is judged first, on the record as stored; then content,
    /// then what depends on the rest of the store (the centre exists) and on
    /// the time (the session does not start too far ahead).
    fn judge<'p>(
        &mut self,
        prepared: &'p Prepared<'_>,
    ) -> Result<Result<&'p Change, ChangeError>, StoreError> {
        let ctx = self.ctx;
        let dto = prepared.dto;
        let Some(collection) = Collection::parse(&dto.collection) else {
            return Ok(Err(ChangeError::UnknownCollection(dto.collection.clone())));
        };
        let record_id = match dto.ids() {
            Ok((_, record_id)) => record_id,
            Err(e) => return Ok(Err(e)),
        };
        let state = self.record(collection, record_id)?;
        let creating = state.is_empty();
        if let Err(e) = ctx.principal.check_write_dto(dto, Some(state)) {
            return Ok(Err(e));
        }
        let change = match &prepared.decoded {
            Ok(change) => change,
            Err(e) => return Ok(Err(e.clone())),
        };
        if let Err(e) = check_against_state(change, Some(state)) {
            return Ok(Err(e));
        }
        if creating {
            if let Some(centre) = written(change, Field::CentreId) {
                if !self.centre_exists(&centre)? {
                    return Ok(Err(ChangeError::UnknownCentre(centre)));
                }
            }
        }
        if let Err(e) = check_start(change, ctx.now_ms, ctx.clock_offset_ms) {
            return Ok(Err(e));
        }
        Ok(Ok(change))
    }

    fn centre_exists(&mut self, code: &str) -> Result<bool, StoreError> {
        if let Some(known) = self.centres.get(code) {
            return Ok(*known);
        }
        let known = self.tx.centre_exists(code)?;
        self.centres.insert(code.to_owned(), known);
        Ok(known)
    }

    /// Appends an accepted change to the log; false when its id is taken.
    /// The record's centre and author are immutable, so they are the stored
    /// record's, or for a new record the change's own.
    fn insert(&mut self, change: &Change, body: &str) -> Result<bool, StoreError> {
        let state = self.record(change.collection, change.record_id)?;
        let centre = state
            .centre_id()
            .map(str::to_owned)
            .or_else(|| written(change, Field::CentreId));
        let volunteer = volunteer_of(state)
            .map(str::to_owned)
            .or_else(|| written(change, Field::VolunteerId));
        self.tx.insert_change(&NewChange {
            change_id: change.id,
            device_key: self.device.key,
            device_seq: change.device_seq,
            collection: change.collection,
            record_id: change.record_id,
            centre_id: centre.as_deref(),
            volunteer_id: volunteer.as_deref(),
            body,
        })
    }

    fn record(&mut self, collection: Collection, id: Uuid) -> Result<&RecordState, StoreError> {
        self.touched(collection, id).map(|t| &t.state)
    }

    fn touched(&mut self, collection: Collection, id: Uuid) -> Result<&mut Touched, StoreError> {
        use std::collections::hash_map::Entry;
        match self.records.entry((collection, id)) {
            Entry::Occupied(e) => Ok(e.into_mut()),
            Entry::Vacant(e) => {
                let state = self.tx.load_record(collection, id)?.unwrap_or_default();
                Ok(e.insert(Touched {
                    state,
                    dirty: false,
                }))
            }
        }
    }

    /// Writes every record the batch changed, once.
    fn flush(&mut self) -> Result<(), StoreError> {
        for ((collection, id), touched) in &self.records {
            if !touched.dirty {
                continue;
            }
            self.tx
                .save_record(&record_write(*collection, *id, &touched.state))?;
        }
        Ok(())
    }
}

/// A record's row as the store keeps it: its merge state and the columns
/// that queries filter and reports count on.
pub fn record_write(collection: Collection, id: Uuid, state: &RecordState) -> RecordWrite<'_> {
    let text = |field| state.value(&Key::field(field)).and_then(Value::as_str);
    let int = |field| state.value(&Key::field(field)).and_then(Value::as_i64);
    let beneficiaries = (collection == Collection::Sessions).then(|| {
        let ids: Vec<String> = state
            .members(Field::BeneficiaryIds)
            .iter()
            .map(Uuid::to_string)
            .collect();
        serde_json::Value::from(ids).to_string()
    });
    RecordWrite {
        collection,
        record_id: id,
        state,
        centre_id: state.centre_id(),
        volunteer_id: volunteer_of(state),
        village_code: text(Field::VillageCode),
        started_on: text(Field::StartedAt).and_then(|s| s.get(..10)),
        deleted: state.is_deleted(),
        conflicts: state.conflicts().len(),
        version: state.version().map(|v| v.to_string()),
        help_type: text(Field::HelpType),
        outcome: text(Field::Outcome),
        duration_min: int(Field::DurationMin),
        people_helped: int(Field::PeopleHelped),
        beneficiaries,
    }
}

fn volunteer_of(state: &RecordState) -> Option<&str> {
    state
        .value(&Key::field(Field::VolunteerId))
        .and_then(Value::as_str)
}

/// The text a change writes to a plain key, if it writes it.
fn written(change: &Change, field: Field) -> Option<String> {
    change
        .writes
        .iter()
        .find(|w| w.key == Key::field(field))
        .and_then(|w| w.value.as_str())
        .map(str::to_owned)
}
