//! [`PushTx`] on a PostgreSQL transaction (READ COMMITTED), in a number of
//! statements that does not grow with the batch: ids, keys and rows travel
//! as arrays (`= ANY($1)`, `unnest(...)`), and each statement is sent with
//! its parameter types (`query_typed`), so it costs one round trip, not a
//! prepare and an execute.
//!
//! How it stays as if pushes ran one at a time, with several servers:
//! - the device row is read `FOR UPDATE`, so two pushes of one device queue;
//! - the records a push reads are read `FOR UPDATE`, so an edit of a record
//!   waits for another transaction writing it and then reads its result;
//! - a record that was absent is inserted only if it is still absent
//!   (`ON CONFLICT DO NOTHING`); if another transaction created it
//!   meanwhile, the write fails as `Busy` and the store runs the push again;
//! - a change id that another transaction stored meanwhile breaks the
//!   unique index: also `Busy`, and the push run again answers
//!   `change_id_reused` from what it then finds;
//! - the log's positions are taken from `log_head` in the last statement,
//!   and that row stays locked until commit: transactions that append
//!   commit in the order of their positions, so a pull that has read
//!   position N never later finds a new change at or before N.

use std::collections::{HashMap, HashSet};

use postgres::error::SqlState;
use postgres::types::{ToSql, Type};
use postgres::Transaction;
use sync_core::{codec, Collection, Hlc, RecordState};
use uuid::Uuid;

use super::{collection_code, collection_from, map_err, signed, unsigned};
use crate::store::{
    server_clock_from, Device, Erasure, PushTx, PushWrites, RecordWrite, StoreError, StoredChange,
    StoredRejection,
};

pub(super) struct PostgresPushTx<'t, 'c> {
    tx: &'t mut Transaction<'c>,
    /// The row keys of the devices read in this transaction.
    device_keys: HashMap<Uuid, i64>,
    /// The records `load_records` found: written back with UPDATE; any
    /// other record written is new.
    stored_records: HashSet<(Collection, Uuid)>,
}

impl<'t, 'c> PostgresPushTx<'t, 'c> {
    pub(super) fn new(tx: &'t mut Transaction<'c>) -> Self {
        PostgresPushTx {
            tx,
            device_keys: HashMap::new(),
            stored_records: HashSet::new(),
        }
    }

    fn device_key(&self, device_id: Uuid) -> Result<i64, StoreError> {
        self.device_keys.get(&device_id).copied().ok_or_else(|| {
            StoreError::Corrupt(format!(
                "device {device_id} was written without being read in the transaction"
            ))
        })
    }
}

/// Another transaction stored one of this push's change ids first: run the
/// push again (it then answers `change_id_reused`). Any other unique
/// violation would repeat on every run, so it is not retried.
fn lost_race(e: postgres::Error) -> StoreError {
    let change_id_taken = e.code() == Some(&SqlState::UNIQUE_VIOLATION)
        && e.as_db_error().and_then(|d| d.constraint()) == Some("changes_change_id_key");
    if change_id_taken {
        tracing::debug!(error = %e, "push lost a race to another transaction; retrying");
        StoreError::Busy
    } else {
        map_err(e)
    }
}

impl PushTx for PostgresPushTx<'_, '_> {
    fn device(&mut self, device_id: Uuid) -> Result<Option<Device>, StoreError> {
        let row = self
            .tx
            .query_typed_opt(
                "SELECT key, user_id, acked_seq FROM devices WHERE device_id = $1 FOR UPDATE",
                &[(&device_id, Type::UUID)],
            )
            .map_err(map_err)?;
        Ok(row.map(|r| {
            self.device_keys.insert(device_id, r.get(0));
            Device {
                user_id: r.get(1),
                acked_seq: unsigned(r.get(2)),
            }
        }))
    }

    fn find_changes(&mut self, ids: &[Uuid]) -> Result<HashMap<Uuid, StoredChange>, StoreError> {
        let rows = self
            .tx
            .query_typed(
                "SELECT c.change_id, d.device_id, c.device_seq, c.body
                 FROM changes c JOIN devices d ON d.key = c.device_key
                 WHERE c.change_id = ANY($1)",
                &[(&ids, Type::UUID_ARRAY)],
            )
            .map_err(map_err)?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let change = StoredChange {
                    device_id: r.get(1),
                    device_seq: unsigned(r.get(2)),
                    body: r.get(3),
                };
                (r.get(0), change)
            })
            .collect())
    }

    fn find_rejections(
        &mut self,
        device_id: Uuid,
        seqs: &[u64],
    ) -> Result<HashMap<u64, StoredRejection>, StoreError> {
        let device_key = self.device_key(device_id)?;
        let seqs: Vec<i64> = seqs.iter().copied().map(signed).collect();
        let rows = self
            .tx
            .query_typed(
                "SELECT device_seq, change_id, code, detail FROM rejections
                 WHERE device_key = $1 AND device_seq = ANY($2)",
                &[(&device_key, Type::INT8), (&seqs, Type::INT8_ARRAY)],
            )
            .map_err(map_err)?;
        let text = |bytes: Vec<u8>| {
            String::from_utf8(bytes)
                .map_err(|_| StoreError::Corrupt("a stored rejection is not UTF-8".into()))
        };
        rows.into_iter()
            .map(|r| {
                let rejection = StoredRejection {
                    change_id: text(r.get(1))?,
                    code: r.get(2),
                    detail: text(r.get(3))?,
                };
                Ok((unsigned(r.get(0)), rejection))
            })
            .collect()
    }

    fn load_records(
        &mut self,
        keys: &[(Collection, Uuid)],
    ) -> Result<HashMap<(Collection, Uuid), RecordState>, StoreError> {
        let collections: Vec<i16> = keys.iter().map(|(c, _)| collection_code(*c)).collect();
        let ids: Vec<Uuid> = keys.iter().map(|(_, id)| *id).collect();
        let rows = self
            .tx
            .query_typed(
                "SELECT r.collection, r.record_id, r.state FROM records r
                 JOIN unnest($1::smallint[], $2::uuid[]) AS k (collection, record_id)
                   ON r.collection = k.collection AND r.record_id = k.record_id
                 FOR UPDATE OF r",
                &[(&collections, Type::INT2_ARRAY), (&ids, Type::UUID_ARRAY)],
            )
            .map_err(map_err)?;
        let mut found = HashMap::with_capacity(rows.len());
        for r in rows {
            let collection = collection_from(r.get(0))?;
            let id: Uuid = r.get(1);
            let bytes: Vec<u8> = r.get(2);
            let state = codec::decode(&bytes)
                .map_err(|e| StoreError::Corrupt(format!("record {id}: {e}")))?;
            self.stored_records.insert((collection, id));
            found.insert((collection, id), state);
        }
        Ok(found)
    }

    fn existing_centres(&mut self, codes: &[&str]) -> Result<HashSet<String>, StoreError> {
        let rows = self
            .tx
            .query_typed(
                "SELECT code FROM centres WHERE code = ANY($1)",
                &[(&codes, Type::TEXT_ARRAY)],
            )
            .map_err(map_err)?;
        Ok(rows.into_iter().map(|r| r.get(0)).collect())
    }

    fn server_clock(&mut self) -> Result<Option<Hlc>, StoreError> {
        let row = self
            .tx
            .query_typed_opt("SELECT value FROM meta WHERE name = 'server_hlc'", &[])
            .map_err(map_err)?;
        row.map(|r| server_clock_from(r.get(0))).transpose()
    }

    fn erasure(&mut self, record_id: Uuid) -> Result<Option<Erasure>, StoreError> {
        let row = self
            .tx
            .query_typed_opt(
                "SELECT centre_id, erased_by, erased_at FROM erasures WHERE record_id = $1",
                &[(&record_id, Type::UUID)],
            )
            .map_err(map_err)?;
        Ok(row.map(|r| Erasure {
            record_id,
            centre_id: r.get(0),
            by: r.get(1),
            at: r.get(2),
        }))
    }

    fn erased_among(&mut self, ids: &[Uuid]) -> Result<HashSet<Uuid>, StoreError> {
        let rows = self
            .tx
            .query_typed(
                "SELECT record_id FROM erasures WHERE record_id = ANY($1)",
                &[(&ids, Type::UUID_ARRAY)],
            )
            .map_err(map_err)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn erase(&mut self, e: &Erasure) -> Result<(), StoreError> {
        let rows = self
            .tx
            .query_typed(
                "SELECT seq, body FROM changes WHERE record_id = $1 FOR UPDATE",
                &[(&e.record_id, Type::UUID)],
            )
            .map_err(map_err)?;
        for row in rows {
            let (seq, body): (i64, String) = (row.get(0), row.get(1));
            if let Some(clean) = sync_core::ChangeDto::scrubbed_json(&body) {
                self.tx
                    .execute_typed(
                        "UPDATE changes SET body = $1 WHERE seq = $2",
                        &[(&clean, Type::TEXT), (&seq, Type::INT8)],
                    )
                    .map_err(map_err)?;
            }
        }
        // Rejections have no record column: found by the id in their body.
        let pattern = format!("%\"record_id\":\"{}\"%", e.record_id);
        let rows = self
            .tx
            .query_typed(
                "SELECT device_key, device_seq, body FROM rejections WHERE body ILIKE $1 FOR UPDATE",
                &[(&pattern, Type::TEXT)],
            )
            .map_err(map_err)?;
        for row in rows {
            let (key, seq, body): (i64, i64, String) = (row.get(0), row.get(1), row.get(2));
            if let Some(clean) = sync_core::ChangeDto::scrubbed_json(&body) {
                self.tx
                    .execute_typed(
                        "UPDATE rejections SET body = $1 WHERE device_key = $2 AND device_seq = $3",
                        &[(&clean, Type::TEXT), (&key, Type::INT8), (&seq, Type::INT8)],
                    )
                    .map_err(map_err)?;
            }
        }
        let centre = e.centre_id.as_deref().map(super::text);
        self.tx
            .execute_typed(
                "INSERT INTO erasures (record_id, centre_id, erased_by, erased_at)
                 VALUES ($1, $2, $3, $4) ON CONFLICT (record_id) DO NOTHING",
                &[
                    (&e.record_id, Type::UUID),
                    (&centre.as_deref(), Type::TEXT),
                    (&e.by, Type::UUID),
                    (&e.at, Type::INT8),
                ],
            )
            .map_err(map_err)?;
        Ok(())
    }

    fn write(&mut self, w: &PushWrites<'_>) -> Result<(), StoreError> {
        let device_key = self.device_key(w.device_id)?;
        if !w.rejections.is_empty() {
            let seqs: Vec<i64> = w.rejections.iter().map(|r| signed(r.device_seq)).collect();
            let ids: Vec<&[u8]> = w
                .rejections
                .iter()
                .map(|r| r.change_id.as_bytes())
                .collect();
            let codes: Vec<&str> = w.rejections.iter().map(|r| r.code).collect();
            let details: Vec<&[u8]> = w.rejections.iter().map(|r| r.detail.as_bytes()).collect();
            let bodies: Vec<&str> = w.rejections.iter().map(|r| r.body).collect();
            let times: Vec<i64> = w.rejections.iter().map(|r| r.at).collect();
            self.tx
                .execute_typed(
                    "INSERT INTO rejections (device_key, device_seq, change_id, code, detail, body, rejected_at)
                     SELECT $1, * FROM unnest($2::bigint[], $3::bytea[], $4::text[], $5::bytea[], $6::text[], $7::bigint[])",
                    &[
                        (&device_key, Type::INT8),
                        (&seqs, Type::INT8_ARRAY),
                        (&ids, Type::BYTEA_ARRAY),
                        (&codes, Type::TEXT_ARRAY),
                        (&details, Type::BYTEA_ARRAY),
                        (&bodies, Type::TEXT_ARRAY),
                        (&times, Type::INT8_ARRAY),
                    ],
                )
                .map_err(lost_race)?;
        }
        let (stored, new): (Vec<&RecordWrite<'_>>, Vec<&RecordWrite<'_>>) = w
            .records
            .iter()
            .partition(|r| self.stored_records.contains(&(r.collection, r.record_id)));
        if !new.is_empty() {
            let inserted = self
                .tx
                .execute_typed(
                    &format!(
                        "INSERT INTO records ({RECORD_COLUMNS}) SELECT * FROM {RECORD_ROWS} AS n
                         ON CONFLICT (collection, record_id) DO NOTHING"
                    ),
                    &RecordColumns::of(&new).params(),
                )
                .map_err(map_err)?;
            if usize::try_from(inserted).ok() != Some(new.len()) {
                tracing::debug!("another transaction created a record this push creates; retrying");
                return Err(StoreError::Busy);
            }
        }
        if !stored.is_empty() {
            self.tx
                .execute_typed(
                    &format!(
                        "UPDATE records r SET centre_id = n.centre_id, volunteer_id = n.volunteer_id,
                           village_code = n.village_code, started_on = n.started_on, deleted = n.deleted,
                           conflicts = n.conflicts, version = n.version, help_type = n.help_type,
                           outcome = n.outcome, duration_min = n.duration_min,
                           people_helped = n.people_helped, beneficiaries = n.beneficiaries, state = n.state,
                           merged_into = n.merged_into
                         FROM {RECORD_ROWS} AS n
                         WHERE r.collection = n.collection AND r.record_id = n.record_id"
                    ),
                    &RecordColumns::of(&stored).params(),
                )
                .map_err(map_err)?;
        }
        if let Some(d) = &w.device {
            self.tx
                .execute_typed(
                    "UPDATE devices SET acked_seq = $2, clock_offset_ms = $3, last_push_at = $4, last_seen_at = $4
                     WHERE key = $1",
                    &[
                        (&device_key, Type::INT8),
                        (&signed(d.acked_seq), Type::INT8),
                        (&d.clock_offset_ms, Type::INT8),
                        (&d.now, Type::INT8),
                    ],
                )
                .map_err(map_err)?;
        }
        if let Some(hlc) = w.server_clock {
            self.tx
                .execute_typed(
                    "INSERT INTO meta (name, value) VALUES ('server_hlc', $1)
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    &[(&hlc.to_string().into_bytes(), Type::BYTEA)],
                )
                .map_err(map_err)?;
        }
        // Last: take the log's positions. The row stays locked until this
        // transaction commits (see the module's comment).
        if !w.changes.is_empty() {
            let n = i64::try_from(w.changes.len()).unwrap_or(i64::MAX);
            let ids: Vec<Uuid> = w.changes.iter().map(|c| c.change_id).collect();
            let seqs: Vec<i64> = w.changes.iter().map(|c| signed(c.device_seq)).collect();
            let collections: Vec<i16> = w
                .changes
                .iter()
                .map(|c| collection_code(c.collection))
                .collect();
            let centres: Vec<Option<&str>> =
                w.changes.iter().map(|c| c.centre_id.as_deref()).collect();
            let volunteers: Vec<Option<&str>> = w
                .changes
                .iter()
                .map(|c| c.volunteer_id.as_deref())
                .collect();
            let records: Vec<Uuid> = w.changes.iter().map(|c| c.record_id).collect();
            let bodies: Vec<&str> = w.changes.iter().map(|c| c.body).collect();
            self.tx
                .execute_typed(
                    "WITH head AS (UPDATE log_head SET seq = seq + $1 WHERE id = 1 RETURNING seq)
                     INSERT INTO changes (seq, change_id, device_key, device_seq, collection, centre_id, volunteer_id, record_id, body)
                     SELECT head.seq - $1 + c.n, c.change_id, $2, c.device_seq, c.collection, c.centre_id, c.volunteer_id, c.record_id, c.body
                     FROM head, unnest($3::uuid[], $4::bigint[], $5::smallint[], $6::text[], $7::text[], $8::uuid[], $9::text[])
                       WITH ORDINALITY AS c (change_id, device_seq, collection, centre_id, volunteer_id, record_id, body, n)",
                    &[
                        (&n, Type::INT8),
                        (&device_key, Type::INT8),
                        (&ids, Type::UUID_ARRAY),
                        (&seqs, Type::INT8_ARRAY),
                        (&collections, Type::INT2_ARRAY),
                        (&centres, Type::TEXT_ARRAY),
                        (&volunteers, Type::TEXT_ARRAY),
                        (&records, Type::UUID_ARRAY),
                        (&bodies, Type::TEXT_ARRAY),
                    ],
                )
                .map_err(lost_race)?;
        }
        Ok(())
    }
}

const RECORD_COLUMNS: &str = "collection, record_id, centre_id, volunteer_id, village_code, started_on, \
     deleted, conflicts, version, help_type, outcome, duration_min, people_helped, beneficiaries, state, \
     created_by, merged_into";

/// The rows of [`RecordColumns::params`], one array per column. The linked
/// beneficiaries, an array per row, travel as text (`{id,id}`) and are cast
/// back per row: PostgreSQL arrays cannot nest rows of different lengths.
const RECORD_ROWS: &str = "(SELECT collection, record_id, centre_id, volunteer_id, village_code, started_on, \
     deleted, conflicts, version, help_type, outcome, duration_min, people_helped, \
     beneficiaries::uuid[] AS beneficiaries, state, created_by, merged_into \
     FROM unnest($1::smallint[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], \
     $7::boolean[], $8::integer[], $9::text[], $10::text[], $11::text[], $12::bigint[], $13::bigint[], \
     $14::text[], $15::bytea[], $16::uuid[], $17::uuid[]) AS u (collection, record_id, centre_id, volunteer_id, \
     village_code, started_on, deleted, conflicts, version, help_type, outcome, duration_min, people_helped, \
     beneficiaries, state, created_by, merged_into))";

/// Records as one array per column.
struct RecordColumns<'a> {
    collections: Vec<i16>,
    ids: Vec<Uuid>,
    centres: Vec<Option<&'a str>>,
    volunteers: Vec<Option<&'a str>>,
    villages: Vec<Option<&'a str>>,
    started: Vec<Option<&'a str>>,
    deleted: Vec<bool>,
    conflicts: Vec<i32>,
    versions: Vec<Option<String>>,
    help_types: Vec<Option<&'a str>>,
    outcomes: Vec<Option<&'a str>>,
    durations: Vec<Option<i64>>,
    people: Vec<Option<i64>>,
    beneficiaries: Vec<Option<String>>,
    states: Vec<Vec<u8>>,
    creators: Vec<Option<Uuid>>,
    merges: Vec<Option<Uuid>>,
}

impl<'a> RecordColumns<'a> {
    fn of(records: &[&RecordWrite<'a>]) -> RecordColumns<'a> {
        RecordColumns {
            collections: records
                .iter()
                .map(|r| collection_code(r.collection))
                .collect(),
            ids: records.iter().map(|r| r.record_id).collect(),
            centres: records.iter().map(|r| r.centre_id).collect(),
            volunteers: records.iter().map(|r| r.volunteer_id).collect(),
            villages: records.iter().map(|r| r.village_code).collect(),
            started: records.iter().map(|r| r.started_on).collect(),
            deleted: records.iter().map(|r| r.deleted).collect(),
            conflicts: records
                .iter()
                .map(|r| i32::try_from(r.conflicts).unwrap_or(i32::MAX))
                .collect(),
            versions: records
                .iter()
                .map(|r| r.version.map(|v| v.to_string()))
                .collect(),
            help_types: records.iter().map(|r| r.help_type).collect(),
            outcomes: records.iter().map(|r| r.outcome).collect(),
            durations: records.iter().map(|r| r.duration_min).collect(),
            people: records.iter().map(|r| r.people_helped).collect(),
            beneficiaries: records
                .iter()
                .map(|r| {
                    (r.collection == Collection::Sessions).then(|| {
                        let ids: Vec<String> =
                            r.beneficiaries.iter().map(Uuid::to_string).collect();
                        format!("{{{}}}", ids.join(","))
                    })
                })
                .collect(),
            states: records.iter().map(|r| codec::encode(r.state)).collect(),
            creators: records.iter().map(|r| r.created_by).collect(),
            merges: records.iter().map(|r| r.merged_into).collect(),
        }
    }

    fn params(&self) -> [(&(dyn ToSql + Sync), Type); 17] {
        [
            (&self.collections, Type::INT2_ARRAY),
            (&self.ids, Type::UUID_ARRAY),
            (&self.centres, Type::TEXT_ARRAY),
            (&self.volunteers, Type::TEXT_ARRAY),
            (&self.villages, Type::TEXT_ARRAY),
            (&self.started, Type::TEXT_ARRAY),
            (&self.deleted, Type::BOOL_ARRAY),
            (&self.conflicts, Type::INT4_ARRAY),
            (&self.versions, Type::TEXT_ARRAY),
            (&self.help_types, Type::TEXT_ARRAY),
            (&self.outcomes, Type::TEXT_ARRAY),
            (&self.durations, Type::INT8_ARRAY),
            (&self.people, Type::INT8_ARRAY),
            (&self.beneficiaries, Type::TEXT_ARRAY),
            (&self.states, Type::BYTEA_ARRAY),
            (&self.creators, Type::UUID_ARRAY),
            (&self.merges, Type::UUID_ARRAY),
        ]
    }
}
