//! The push algorithm of PROTOCOL.md section 6, run inside one store
//! transaction: after it returns Ok the caller commits, and every result it
//! reports is durable; on Err nothing of the batch is stored.

use std::collections::HashMap;

use sync_core::hlc::MAX_FORWARD_SKEW_MS;
use sync_core::wire::PushResult;
use sync_core::{
    check_against_state, Change, ChangeDto, ChangeError, Collection, Field, Hlc, Key, Principal,
    PushStatus, RecordState, Rules, Value,
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

/// A rejection's stable code and human-readable detail.
struct Rejection {
    code: &'static str,
    detail: String,
}

impl From<ChangeError> for Rejection {
    fn from(e: ChangeError) -> Self {
        Rejection {
            code: e.code(),
            detail: e.to_string(),
        }
    }
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
}

pub fn run(
    tx: &mut dyn PushTx,
    ctx: &PushContext<'_>,
    changes: &[Prepared<'_>],
) -> Result<PushOutcome, PushError> {
    let device = tx
        .device(ctx.device_id)?
        .filter(|d| d.user_id == ctx.principal.user_id)
        .ok_or(PushError::DeviceNotBound(ctx.device_id))?;
    let mut batch = Batch {
        tx,
        ctx,
        device,
        records: HashMap::new(),
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
                dto.id,
                Rejection {
                    code: "seq_gap",
                    detail: format!(
                        "device_seq {} leaves a gap: the server has everything up to {}; send {} first",
                        dto.device_seq,
                        outcome.acked_seq,
                        outcome.acked_seq + 1
                    ),
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
    batch
        .tx
        .update_device(device.key, outcome.acked_seq, ctx.clock_offset_ms)?;
    outcome.results = results.into_iter().flatten().collect();
    Ok(outcome)
}

fn rejected(id: Uuid, r: Rejection) -> PushResult {
    PushResult {
        id,
        status: PushStatus::Rejected,
        code: Some(r.code.to_owned()),
        detail: Some(r.detail),
        warning: None,
    }
}

fn with_status(id: Uuid, status: PushStatus) -> PushResult {
    PushResult {
        id,
        status,
        code: None,
        detail: None,
        warning: None,
    }
}

fn raw_str<'d>(dto: &'d ChangeDto, key: &str) -> Option<&'d str> {
    dto.fields.get(key).and_then(|w| w.value.as_str())
}

impl Batch<'_, '_> {
    /// A change whose sequence number is already acknowledged: a retry after
    /// a lost response (answered as before), or a reuse (rejected, not stored).
    fn resent(&mut self, dto: &ChangeDto) -> Result<PushResult, PushError> {
        if let Some(stored) = self.tx.find_change(dto.id)? {
            let same_slot =
                stored.device_key == self.device.key && stored.device_seq == dto.device_seq;
            if same_slot && self.same_content(&stored.body, dto) {
                return Ok(with_status(dto.id, PushStatus::Duplicate));
            }
            return Ok(rejected(dto.id, reused(dto.id)));
        }
        match self.tx.find_rejection(self.device.key, dto.device_seq)? {
            Some(r) if r.change_id == dto.id => Ok(PushResult {
                id: dto.id,
                status: PushStatus::Rejected,
                code: Some(r.code),
                detail: Some(r.detail),
                warning: None,
            }),
            _ => Ok(rejected(
                dto.id,
                Rejection {
                    code: "seq_reused",
                    detail: format!(
                        "device_seq {} already holds another change; the device's outbox is out of step with the server",
                        dto.device_seq
                    ),
                },
            )),
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
                    Err(reused(dto.id))
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
                let mut result = with_status(dto.id, PushStatus::Applied);
                result.warning = warning;
                Ok((result, Some(change.hlc)))
            }
            Err(rejection) => {
                if rejection.code == "forbidden" {
                    tracing::warn!(target: "audit", user = %self.ctx.principal.user_id, device = %self.ctx.device_id, change = %dto.id, collection = %dto.collection, record = %dto.record_id, "refused: change forbidden");
                }
                self.tx.insert_rejection(&NewRejection {
                    device_key: self.device.key,
                    device_seq: dto.device_seq,
                    change_id: dto.id,
                    code: rejection.code,
                    detail: &rejection.detail,
                    body: &prepared.body,
                })?;
                Ok((rejected(dto.id, rejection), None))
            }
        }
    }

    /// Who may edit is judged first, on the record as stored; then content.
    fn judge<'p>(
        &mut self,
        prepared: &'p Prepared<'_>,
    ) -> Result<Result<&'p Change, Rejection>, StoreError> {
        let ctx = self.ctx;
        let dto = prepared.dto;
        let Some(collection) = Collection::parse(&dto.collection) else {
            return Ok(Err(
                ChangeError::UnknownCollection(dto.collection.clone()).into()
            ));
        };
        let state = self.record(collection, dto.record_id)?;
        let principal = ctx.principal;
        let allowed = principal.may_write(
            collection,
            Some(state),
            raw_str(dto, Field::CentreId.name()),
            raw_str(dto, Field::VolunteerId.name()),
        );
        if !allowed {
            return Ok(Err(Rejection {
                code: "forbidden",
                detail: format!(
                    "a {} may not write this {} record",
                    principal.role,
                    collection.name()
                ),
            }));
        }
        let checked = match &prepared.decoded {
            Ok(change) => check_against_state(change, Some(state)).map(|()| change),
            Err(e) => Err(e.clone()),
        };
        Ok(checked.map_err(Rejection::from))
    }

    /// Appends an accepted change to the log; false when its id is taken.
    /// The record's centre and author are immutable, so they are the stored
    /// record's, or for a new record the change's own.
    fn insert(&mut self, change: &Change, body: &str) -> Result<bool, StoreError> {
        let state = self.record(change.collection, change.record_id)?;
        let written = |field: Field| {
            change
                .writes
                .iter()
                .find(|w| w.key == Key::field(field))
                .and_then(|w| w.value.as_str())
                .map(str::to_owned)
        };
        let centre = state
            .centre_id()
            .map(str::to_owned)
            .or_else(|| written(Field::CentreId));
        let volunteer = volunteer_of(state)
            .map(str::to_owned)
            .or_else(|| written(Field::VolunteerId));
        self.tx.insert_change(&NewChange {
            change_id: change.id,
            device_key: self.device.key,
            device_seq: change.device_seq,
            collection: change.collection,
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
            let state = &touched.state;
            let text = |field| state.value(&Key::field(field)).and_then(Value::as_str);
            let beneficiaries = (*collection == Collection::Sessions).then(|| {
                let ids: Vec<String> = state
                    .members(Field::BeneficiaryIds)
                    .iter()
                    .map(Uuid::to_string)
                    .collect();
                serde_json::Value::from(ids).to_string()
            });
            self.tx.save_record(&RecordWrite {
                collection: *collection,
                record_id: *id,
                state,
                centre_id: state.centre_id(),
                volunteer_id: volunteer_of(state),
                village_code: text(Field::VillageCode),
                started_on: text(Field::StartedAt).and_then(|s| s.get(..10)),
                deleted: state.is_deleted(),
                conflicts: state.conflicts().len(),
                version: state.version().map(|v| v.to_string()),
                help_type: text(Field::HelpType),
                people_helped: state
                    .value(&Key::field(Field::PeopleHelped))
                    .and_then(Value::as_i64),
                beneficiaries,
            })?;
        }
        Ok(())
    }
}

fn volunteer_of(state: &RecordState) -> Option<&str> {
    state
        .value(&Key::field(Field::VolunteerId))
        .and_then(Value::as_str)
}

fn reused(id: Uuid) -> Rejection {
    Rejection {
        code: "change_id_reused",
        detail: format!("change id {id} is already stored with different content"),
    }
}
