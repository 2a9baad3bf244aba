//! The push algorithm of PROTOCOL.md section 6, run inside one store
//! transaction: after it returns Ok the caller commits, and every result it
//! reports is durable; on Err nothing of the batch is stored.

use std::collections::{HashMap, HashSet};

use sync_core::hlc::{parse_canonical_uuid, MAX_FORWARD_SKEW_MS};
use sync_core::wire::PushResult;
use sync_core::{
    check_against_state, check_start, Change, ChangeDto, ChangeError, Collection, Field, Hlc, Key,
    Principal, PushStatus, RecordState, Rules, Value,
};
use uuid::Uuid;

use crate::store::{
    Device, DeviceUpdate, NewChange, NewRejection, PushTx, PushWrites, RecordWrite, StoreError,
    StoredChange, StoredRejection,
};

/// What the push is about, besides its changes.
#[derive(Debug, Clone)]
pub struct PushContext<'a> {
    pub principal: &'a Principal,
    pub device_id: Uuid,
    /// The device's clock minus the server's, from `device_time`.
    pub clock_offset_ms: i64,
    pub now_ms: u64,
    pub rules: Rules,
    /// Whether the store was restored from a backup (it may have forgotten
    /// changes it acknowledged).
    pub restored: bool,
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
    /// The batch starts beyond `acked_seq` + 1 on a restored store: the
    /// device must send its changes after `acked_seq` again.
    #[error("the server was restored from a backup and holds this device's changes up to {0}")]
    ServerRestored(u64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A record the batch touched, loaded once and written back once.
struct Touched {
    state: RecordState,
    dirty: bool,
}

/// A batch being judged: what the store held before it, read up front in one
/// call per kind, and what the batch will write, handed over in one call at
/// the end (the round trips of a push do not grow with its length).
struct Batch<'a, 'c> {
    ctx: &'a PushContext<'c>,
    /// Stored changes with the batch's ids.
    stored: HashMap<Uuid, StoredChange>,
    /// The batch's beneficiaries that the erasure ledger holds (a restore
    /// may have brought back a database without them).
    ledgered: HashSet<Uuid>,
    /// The device's rejections at the batch's already acknowledged sequences.
    rejections: HashMap<u64, StoredRejection>,
    records: HashMap<(Collection, Uuid), Touched>,
    /// Which centres named by the batch exist.
    centres: HashSet<String>,
    /// Ids of the changes this batch appends.
    appended: HashSet<Uuid>,
    changes: Vec<NewChange<'a>>,
    new_rejections: Vec<NewRejection<'a>>,
}

pub fn run<'a>(
    tx: &mut dyn PushTx,
    ctx: &'a PushContext<'_>,
    changes: &'a [Prepared<'_>],
) -> Result<PushOutcome, PushError> {
    let device = tx
        .device(ctx.device_id)?
        .filter(|d| d.user_id == Some(ctx.principal.user_id))
        .ok_or(PushError::DeviceNotBound(ctx.device_id))?;
    let first = changes.iter().map(|c| c.dto.device_seq).min();
    if ctx.restored && first.is_some_and(|seq| seq > device.acked_seq + 1) {
        return Err(PushError::ServerRestored(device.acked_seq));
    }
    let mut batch = Batch::read(tx, ctx, device, changes)?;
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
            batch.resent(dto)
        } else if dto.device_seq == outcome.acked_seq + 1 {
            outcome.acked_seq = dto.device_seq;
            let (result, hlc) = batch.new_change(&changes[i]);
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
    let records = batch
        .records
        .iter()
        .filter(|(_, t)| t.dirty)
        .map(|((collection, id), t)| {
            record_write(*collection, *id, &t.state, Some(ctx.principal.user_id))
        })
        .collect();
    tx.write(&PushWrites {
        device_id: ctx.device_id,
        changes: batch.changes,
        rejections: batch.new_rejections,
        records,
        device: Some(DeviceUpdate {
            acked_seq: outcome.acked_seq,
            clock_offset_ms: ctx.clock_offset_ms,
            now: i64::try_from(ctx.now_ms / 1000).unwrap_or(i64::MAX),
        }),
        server_clock: None,
    })?;
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

/// The items sorted, each once.
fn distinct<T: Ord>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut items: Vec<T> = items.collect();
    items.sort_unstable();
    items.dedup();
    items
}

/// `read(items)`, or nothing found without asking when there are no items.
fn ask<T, R: Default>(
    items: &[T],
    read: impl FnOnce(&[T]) -> Result<R, StoreError>,
) -> Result<R, StoreError> {
    if items.is_empty() {
        Ok(R::default())
    } else {
        read(items)
    }
}

/// The collection and record a change names, when both parse.
fn record_key(dto: &ChangeDto) -> Option<(Collection, Uuid)> {
    let collection = Collection::parse(&dto.collection)?;
    let (_, record_id) = dto.ids().ok()?;
    Some((collection, record_id))
}

impl<'a, 'c> Batch<'a, 'c> {
    /// Reads what judging `changes` needs, one store call per kind.
    fn read(
        tx: &mut dyn PushTx,
        ctx: &'a PushContext<'c>,
        device: Device,
        changes: &'a [Prepared<'_>],
    ) -> Result<Self, StoreError> {
        let fresh = |p: &&Prepared<'_>| p.dto.device_seq > device.acked_seq;
        let ids = distinct(
            changes
                .iter()
                .filter_map(|p| parse_canonical_uuid(&p.dto.id)),
        );
        let stored = ask(&ids, |ids| tx.find_changes(ids))?;
        let resent = distinct(
            changes
                .iter()
                .map(|p| p.dto.device_seq)
                .filter(|&seq| seq <= device.acked_seq),
        );
        let rejections = ask(&resent, |seqs| tx.find_rejections(ctx.device_id, seqs))?;
        let keys = distinct(
            changes
                .iter()
                .filter(fresh)
                .filter_map(|p| record_key(p.dto)),
        );
        let mut loaded = ask(&keys, |keys| tx.load_records(keys))?;
        let people: Vec<Uuid> = keys
            .iter()
            .filter(|(c, _)| *c == Collection::Beneficiaries)
            .map(|(_, id)| *id)
            .collect();
        let ledgered = ask(&people, |ids| tx.erased_among(ids))?;
        let records = keys
            .into_iter()
            .map(|key| {
                let state = loaded.remove(&key).unwrap_or_default();
                let touched = Touched {
                    state,
                    dirty: false,
                };
                (key, touched)
            })
            .collect();
        let codes = distinct(
            changes
                .iter()
                .filter(fresh)
                .filter_map(|p| p.decoded.as_ref().ok())
                .filter_map(|c| written(c, Field::CentreId)),
        );
        let centres = ask(&codes, |codes| tx.existing_centres(codes))?;
        Ok(Batch {
            ctx,
            stored,
            ledgered,
            rejections,
            records,
            centres,
            appended: HashSet::new(),
            changes: Vec::new(),
            new_rejections: Vec::new(),
        })
    }

    /// A change whose sequence number is already acknowledged: a retry after
    /// a lost response (answered as before), or a reuse (rejected, not stored).
    fn resent(&self, dto: &ChangeDto) -> PushResult {
        // A change id that is not canonical was never stored in the log; it
        // can only match a rejection, compared as sent.
        if let Some(id) = parse_canonical_uuid(&dto.id) {
            if let Some(stored) = self.stored.get(&id) {
                let same_slot =
                    stored.device_id == self.ctx.device_id && stored.device_seq == dto.device_seq;
                if same_slot && self.same_content(&stored.body, dto) {
                    return with_status(&dto.id, PushStatus::Duplicate);
                }
                return rejected(&dto.id, &ChangeError::ChangeIdReused(dto.id.clone()));
            }
        }
        match self.rejections.get(&dto.device_seq) {
            Some(r) if r.change_id == dto.id => PushResult {
                id: dto.id.clone(),
                status: PushStatus::Rejected,
                code: Some(r.code.clone()),
                detail: Some(r.detail.clone()),
                warning: None,
            },
            _ => rejected(&dto.id, &ChangeError::SeqReused(dto.device_seq)),
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
    fn new_change(&mut self, prepared: &'a Prepared<'_>) -> (PushResult, Option<Hlc>) {
        let dto = prepared.dto;
        let verdict = self.judge(prepared).and_then(|change| {
            if self.stored.contains_key(&change.id) || !self.appended.insert(change.id) {
                Err(ChangeError::ChangeIdReused(dto.id.clone()))
            } else {
                Ok(change)
            }
        });
        match verdict {
            Ok(change) => {
                self.append(change, &prepared.body);
                let warning = (change.hlc.wall_ms() > self.ctx.now_ms + MAX_FORWARD_SKEW_MS)
                    .then(|| "clock_skew".to_owned());
                let touched = self.touched(change.collection, change.record_id);
                touched.state.apply(change);
                touched.dirty = true;
                let mut result = with_status(&dto.id, PushStatus::Applied);
                result.warning = warning;
                (result, Some(change.hlc))
            }
            Err(rejection) => {
                if matches!(rejection, ChangeError::Forbidden { .. }) {
                    tracing::warn!(target: "audit", user = %self.ctx.principal.user_id, device = %self.ctx.device_id, change = %dto.id, collection = %dto.collection, record = %dto.record_id, "refused: change forbidden");
                }
                let result = rejected(&dto.id, &rejection);
                // A change writing an erased person's data again is not
                // kept, whatever its verdict: only its slot, id and reason.
                let erased = record_key(dto).is_some_and(|(c, id)| {
                    let ledgered = self.ledgered.contains(&id);
                    personal_write_to_erased(&self.touched(c, id).state, ledgered, dto).is_some()
                });
                let body = if erased || matches!(rejection, ChangeError::Erased { .. }) {
                    ""
                } else {
                    prepared.body.as_str()
                };
                self.new_rejections.push(NewRejection {
                    device_seq: dto.device_seq,
                    change_id: &dto.id,
                    code: rejection.code(),
                    detail: rejection.to_string(),
                    body,
                    at: i64::try_from(self.ctx.now_ms / 1000).unwrap_or(i64::MAX),
                });
                (result, None)
            }
        }
    }

    /// Who may edit is judged first, on the record as stored; then content,
    /// then what depends on the rest of the store (the centre exists) and on
    /// the time (the session does not start too far ahead).
    fn judge<'p>(&mut self, prepared: &'p Prepared<'_>) -> Result<&'p Change, ChangeError> {
        let ctx = self.ctx;
        let dto = prepared.dto;
        let Some(collection) = Collection::parse(&dto.collection) else {
            return Err(ChangeError::UnknownCollection(dto.collection.clone()));
        };
        let (_, record_id) = dto.ids()?;
        let state = &self.touched(collection, record_id).state;
        let creating = state.is_empty();
        ctx.principal.check_write_dto(dto, Some(state))?;
        // An erased person's data is refused before anything else is
        // judged, so that no other verdict keeps the change's body.
        let ledgered = self.ledgered.contains(&record_id);
        let state = &self.touched(collection, record_id).state;
        if let Some(key) = personal_write_to_erased(state, ledgered, dto) {
            return Err(ChangeError::Erased { key });
        }
        let change = prepared.decoded.as_ref().map_err(Clone::clone)?;
        check_against_state(change, Some(state))?;
        if creating {
            if let Some(centre) = written(change, Field::CentreId) {
                if !self.centres.contains(centre) {
                    return Err(ChangeError::UnknownCentre(centre.to_owned()));
                }
            }
        }
        check_start(change, ctx.now_ms, ctx.clock_offset_ms)?;
        Ok(change)
    }

    /// Appends an accepted change to the batch's part of the log. The
    /// record's centre and author are immutable, so they are the stored
    /// record's, or for a new record the change's own.
    fn append(&mut self, change: &Change, body: &'a str) {
        let state = &self.touched(change.collection, change.record_id).state;
        let centre = state
            .centre_id()
            .or_else(|| written(change, Field::CentreId))
            .map(str::to_owned);
        let volunteer = volunteer_of(state)
            .or_else(|| written(change, Field::VolunteerId))
            .map(str::to_owned);
        self.changes.push(NewChange {
            change_id: change.id,
            device_seq: change.device_seq,
            collection: change.collection,
            record_id: change.record_id,
            centre_id: centre,
            volunteer_id: volunteer,
            body,
        });
    }

    /// The batch's copy of a record; every record a fresh change names was
    /// read up front, and one that was not stored starts empty.
    fn touched(&mut self, collection: Collection, id: Uuid) -> &mut Touched {
        self.records.entry((collection, id)).or_insert(Touched {
            state: RecordState::default(),
            dirty: false,
        })
    }
}

/// A record's row as the store keeps it: its merge state and the columns
/// that queries filter and reports count on. `created_by` is kept only if
/// this write stores the record for the first time.
pub fn record_write(
    collection: Collection,
    id: Uuid,
    state: &RecordState,
    created_by: Option<Uuid>,
) -> RecordWrite<'_> {
    let text = |field| state.value(&Key::field(field)).and_then(Value::as_str);
    let int = |field| state.value(&Key::field(field)).and_then(Value::as_i64);
    let beneficiaries = if collection == Collection::Sessions {
        state.members(Field::BeneficiaryIds).into_iter().collect()
    } else {
        Vec::new()
    };
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
        version: state.version(),
        help_type: text(Field::HelpType),
        outcome: text(Field::Outcome),
        duration_min: int(Field::DurationMin),
        people_helped: int(Field::PeopleHelped),
        beneficiaries,
        created_by,
        merged_into: text(Field::MergedInto).and_then(|s| Uuid::parse_str(s).ok()),
    }
}

fn volunteer_of(state: &RecordState) -> Option<&str> {
    state
        .value(&Key::field(Field::VolunteerId))
        .and_then(Value::as_str)
}

/// The personal key (one an erasure overwrites) that `dto` writes to
/// `state`, when `state` is an erased person's, or the ledger says the
/// record's person was erased (`ledgered`: after a restore, the record
/// itself may be missing or older than its erasure).
fn personal_write_to_erased(
    state: &RecordState,
    ledgered: bool,
    dto: &ChangeDto,
) -> Option<String> {
    if !state.is_erased() && !ledgered {
        return None;
    }
    let collection = Collection::parse(&dto.collection)?;
    dto.fields.keys().find_map(|name| {
        let (key, _) = Key::parse(collection, name)?;
        key.field.erasure_placeholder().map(|_| name.clone())
    })
}

/// The text a change writes to a plain key, if it writes it.
fn written(change: &Change, field: Field) -> Option<&str> {
    change
        .writes
        .iter()
        .find(|w| w.key == Key::field(field))
        .and_then(|w| w.value.as_str())
}
