//! [`PushTx`] on a SQLite write transaction (a push's savepoint in it). Statements are cached, so a batch
//! of a thousand changes prepares each one once.

use std::collections::{HashMap, HashSet};

use rusqlite::{Connection, OptionalExtension};
use sync_core::{codec, Collection, Hlc, RecordState};
use uuid::Uuid;

use super::{collection_code, map_err, uuid_col};
use crate::store::{
    server_clock_from, Device, Erasure, PushTx, PushWrites, RecordWrite, StoreError, StoredChange,
    StoredRejection,
};

pub(super) struct SqlitePushTx<'a> {
    tx: &'a Connection,
    /// The row keys of the devices read in this transaction.
    device_keys: HashMap<Uuid, i64>,
}

impl<'a> SqlitePushTx<'a> {
    pub(super) fn new(tx: &'a Connection) -> Self {
        SqlitePushTx {
            tx,
            device_keys: HashMap::new(),
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

/// SQLite answers in-process, so each batched read is a loop over one cached
/// statement: one call, no round trips to save.
impl PushTx for SqlitePushTx<'_> {
    fn device(&mut self, device_id: Uuid) -> Result<Option<Device>, StoreError> {
        let row: Option<(i64, Option<Vec<u8>>, i64)> = self
            .tx
            .prepare_cached("SELECT \"key\", \"user_id\", \"acked_seq\" FROM \"devices\" WHERE \"device_id\" = ?1")
            .map_err(map_err)?
            .query_row([device_id.as_bytes()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()
            .map_err(map_err)?;
        row.map(|(key, user, acked)| {
            self.device_keys.insert(device_id, key);
            Ok(Device {
                user_id: user.map(uuid_col).transpose()?,
                acked_seq: u64::try_from(acked).unwrap_or(0),
            })
        })
        .transpose()
    }

    fn find_changes(&mut self, ids: &[Uuid]) -> Result<HashMap<Uuid, StoredChange>, StoreError> {
        let mut statement = self
            .tx
            .prepare_cached(
                "SELECT d.\"device_id\", c.\"device_seq\", c.\"body\" FROM \"changes\" c
                 JOIN \"devices\" d ON d.\"key\" = c.\"device_key\" WHERE c.\"change_id\" = ?1",
            )
            .map_err(map_err)?;
        let mut found = HashMap::new();
        for id in ids {
            let row: Option<(Vec<u8>, i64, String)> = statement
                .query_row([id.as_bytes()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()
                .map_err(map_err)?;
            if let Some((device, seq, body)) = row {
                found.insert(
                    *id,
                    StoredChange {
                        device_id: uuid_col(device)?,
                        device_seq: u64::try_from(seq).unwrap_or(0),
                        body,
                    },
                );
            }
        }
        Ok(found)
    }

    fn find_rejections(
        &mut self,
        device_id: Uuid,
        seqs: &[u64],
    ) -> Result<HashMap<u64, StoredRejection>, StoreError> {
        let device_key = self.device_key(device_id)?;
        let mut statement = self
            .tx
            .prepare_cached(
                "SELECT \"change_id\", \"code\", \"detail\" FROM \"rejections\" WHERE \"device_key\" = ?1 AND \"device_seq\" = ?2",
            )
            .map_err(map_err)?;
        let mut found = HashMap::new();
        for &seq in seqs {
            let row: Option<(rusqlite::types::Value, String, String)> = statement
                .query_row((device_key, seq_col(seq)), |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()
                .map_err(map_err)?;
            if let Some((id, code, detail)) = row {
                found.insert(
                    seq,
                    StoredRejection {
                        change_id: change_id_col(id)?,
                        code,
                        detail,
                    },
                );
            }
        }
        Ok(found)
    }

    fn load_records(
        &mut self,
        keys: &[(Collection, Uuid)],
    ) -> Result<HashMap<(Collection, Uuid), RecordState>, StoreError> {
        let mut statement = self
            .tx
            .prepare_cached("SELECT \"state\" FROM \"records\" WHERE \"collection\" = ?1 AND \"record_id\" = ?2")
            .map_err(map_err)?;
        let mut found = HashMap::new();
        for &(collection, record_id) in keys {
            let bytes: Option<Vec<u8>> = statement
                .query_row((collection_code(collection), record_id.as_bytes()), |r| {
                    r.get(0)
                })
                .optional()
                .map_err(map_err)?;
            if let Some(bytes) = bytes {
                let state = codec::decode(&bytes)
                    .map_err(|e| StoreError::Corrupt(format!("record {record_id}: {e}")))?;
                found.insert((collection, record_id), state);
            }
        }
        Ok(found)
    }

    fn existing_centres(&mut self, codes: &[&str]) -> Result<HashSet<String>, StoreError> {
        let mut statement = self
            .tx
            .prepare_cached("SELECT 1 FROM \"centres\" WHERE \"code\" = ?1")
            .map_err(map_err)?;
        let mut found = HashSet::new();
        for &code in codes {
            if statement.exists([code]).map_err(map_err)? {
                found.insert(code.to_owned());
            }
        }
        Ok(found)
    }

    fn server_clock(&mut self) -> Result<Option<Hlc>, StoreError> {
        let text: Option<Vec<u8>> = self
            .tx
            .prepare_cached("SELECT \"value\" FROM \"meta\" WHERE \"name\" = 'server_hlc'")
            .map_err(map_err)?
            .query_row([], |r| r.get(0))
            .optional()
            .map_err(map_err)?;
        text.map(|bytes| server_clock_from(&bytes)).transpose()
    }

    fn erasure(&mut self, record_id: Uuid) -> Result<Option<Erasure>, StoreError> {
        let row: Option<(Option<String>, String, i64)> = self
            .tx
            .prepare_cached(
                "SELECT \"centre_id\", \"erased_by\", \"erased_at\" FROM \"erasures\" WHERE \"record_id\" = ?1",
            )
            .map_err(map_err)?
            .query_row([record_id.to_string()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()
            .map_err(map_err)?;
        Ok(row.map(|(centre_id, by, at)| Erasure {
            record_id,
            centre_id,
            by: Uuid::parse_str(&by).unwrap_or_default(),
            at,
        }))
    }

    fn erased_among(&mut self, ids: &[Uuid]) -> Result<HashSet<Uuid>, StoreError> {
        let mut found = HashSet::new();
        for chunk in ids.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let sql =
                format!("SELECT \"record_id\" FROM \"erasures\" WHERE \"record_id\" IN ({marks})");
            let mut stmt = self.tx.prepare_cached(&sql).map_err(map_err)?;
            let rows = stmt
                .query_map(
                    rusqlite::params_from_iter(chunk.iter().map(Uuid::to_string)),
                    |r| r.get::<_, String>(0),
                )
                .map_err(map_err)?;
            for row in rows {
                if let Ok(id) = Uuid::parse_str(&row.map_err(map_err)?) {
                    found.insert(id);
                }
            }
        }
        Ok(found)
    }

    fn erase(&mut self, e: &Erasure) -> Result<(), StoreError> {
        let id = e.record_id.to_string();
        let changes: Vec<(i64, String)> = self
            .tx
            .prepare_cached("SELECT \"seq\", \"body\" FROM \"changes\" WHERE \"record_id\" = ?1")
            .map_err(map_err)?
            .query_map([&id], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(map_err)?
            .collect::<Result<_, _>>()
            .map_err(map_err)?;
        for (seq, body) in changes {
            if let Some(clean) = sync_core::ChangeDto::scrubbed_json(&body) {
                self.tx
                    .prepare_cached("UPDATE \"changes\" SET \"body\" = ?1 WHERE \"seq\" = ?2")
                    .map_err(map_err)?
                    .execute(rusqlite::params![clean, seq])
                    .map_err(map_err)?;
            }
        }
        // Rejections have no record column: found by the id in their body.
        let pattern = format!("%\"record_id\":\"{id}\"%");
        let rejections: Vec<(i64, i64, String)> = self
            .tx
            .prepare_cached(
                "SELECT \"device_key\", \"device_seq\", \"body\" FROM \"rejections\" WHERE \"body\" LIKE ?1",
            )
            .map_err(map_err)?
            .query_map([&pattern], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(map_err)?
            .collect::<Result<_, _>>()
            .map_err(map_err)?;
        for (key, seq, body) in rejections {
            if let Some(clean) = sync_core::ChangeDto::scrubbed_json(&body) {
                self.tx
                    .prepare_cached(
                        "UPDATE \"rejections\" SET \"body\" = ?1 WHERE \"device_key\" = ?2 AND \"device_seq\" = ?3",
                    )
                    .map_err(map_err)?
                    .execute(rusqlite::params![clean, key, seq])
                    .map_err(map_err)?;
            }
        }
        self.tx
            .prepare_cached(
                "INSERT INTO \"erasures\" (\"record_id\", \"centre_id\", \"erased_by\", \"erased_at\")
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (\"record_id\") DO NOTHING",
            )
            .map_err(map_err)?
            .execute(rusqlite::params![id, e.centre_id, e.by.to_string(), e.at])
            .map_err(map_err)?;
        Ok(())
    }

    fn write(&mut self, w: &PushWrites<'_>) -> Result<(), StoreError> {
        let device_key = self.device_key(w.device_id)?;
        if !w.changes.is_empty() {
            // No ON CONFLICT: the push looked every id up in this
            // transaction, so a taken id here is an error, never a skip.
            let mut insert = self
                .tx
                .prepare_cached(
                    "INSERT INTO \"changes\" (\"change_id\", \"device_key\", \"device_seq\", \"collection\", \"centre_id\", \"volunteer_id\", \"body\", \"record_id\")
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .map_err(map_err)?;
            for change in &w.changes {
                insert
                    .execute((
                        change.change_id.as_bytes(),
                        device_key,
                        seq_col(change.device_seq),
                        collection_code(change.collection),
                        change.centre_id.as_deref(),
                        change.volunteer_id.as_deref(),
                        change.body,
                        change.record_id.to_string(),
                    ))
                    .map_err(map_err)?;
            }
        }
        if !w.rejections.is_empty() {
            let mut insert = self
                .tx
                .prepare_cached(
                    "INSERT INTO \"rejections\" (\"device_key\", \"device_seq\", \"change_id\", \"code\", \"detail\", \"body\", \"rejected_at\")
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(map_err)?;
            for r in &w.rejections {
                insert
                    .execute((
                        device_key,
                        seq_col(r.device_seq),
                        change_id_value(r.change_id),
                        r.code,
                        &r.detail,
                        r.body,
                        r.at,
                    ))
                    .map_err(map_err)?;
            }
        }
        for record in &w.records {
            self.save_record(record)?;
        }
        if let Some(d) = &w.device {
            self.tx
                .prepare_cached(
                    "UPDATE \"devices\" SET \"acked_seq\" = ?2, \"clock_offset_ms\" = ?3, \"last_push_at\" = ?4, \"last_seen_at\" = ?4
                     WHERE \"key\" = ?1",
                )
                .map_err(map_err)?
                .execute((device_key, seq_col(d.acked_seq), d.clock_offset_ms, d.now))
                .map_err(map_err)?;
        }
        if let Some(hlc) = w.server_clock {
            self.tx
                .prepare_cached(
                    "INSERT INTO \"meta\" (\"name\", \"value\") VALUES ('server_hlc', ?1)
                     ON CONFLICT (\"name\") DO UPDATE SET \"value\" = excluded.\"value\"",
                )
                .map_err(map_err)?
                .execute([hlc.to_string().into_bytes()])
                .map_err(map_err)?;
        }
        Ok(())
    }
}

impl SqlitePushTx<'_> {
    fn save_record(&self, r: &RecordWrite<'_>) -> Result<(), StoreError> {
        let state = codec::encode(r.state);
        // SQLite's json_each reads the linked beneficiaries for the reports.
        let beneficiaries = (r.collection == Collection::Sessions).then(|| {
            let ids: Vec<String> = r.beneficiaries.iter().map(Uuid::to_string).collect();
            serde_json::Value::from(ids).to_string()
        });
        self.tx
            .prepare_cached(
                "INSERT INTO \"records\" (\"collection\", \"record_id\", \"centre_id\", \"volunteer_id\", \"village_code\",
                   \"started_on\", \"deleted\", \"conflicts\", \"version\", \"help_type\", \"people_helped\",
                   \"beneficiaries\", \"state\", \"outcome\", \"duration_min\", \"created_by\", \"merged_into\")
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
                 ON CONFLICT (\"collection\", \"record_id\") DO UPDATE SET
                   \"centre_id\" = excluded.\"centre_id\", \"volunteer_id\" = excluded.\"volunteer_id\",
                   \"village_code\" = excluded.\"village_code\", \"started_on\" = excluded.\"started_on\",
                   \"deleted\" = excluded.\"deleted\", \"conflicts\" = excluded.\"conflicts\",
                   \"version\" = excluded.\"version\", \"help_type\" = excluded.\"help_type\",
                   \"people_helped\" = excluded.\"people_helped\", \"beneficiaries\" = excluded.\"beneficiaries\",
                   \"state\" = excluded.\"state\", \"outcome\" = excluded.\"outcome\",
                   \"duration_min\" = excluded.\"duration_min\", \"merged_into\" = excluded.\"merged_into\"",
            )
            .map_err(map_err)?
            .execute(rusqlite::params![
                collection_code(r.collection),
                r.record_id.as_bytes(),
                r.centre_id,
                r.volunteer_id,
                r.village_code,
                r.started_on,
                r.deleted,
                i64::try_from(r.conflicts).unwrap_or(i64::MAX),
                r.version.map(|v| v.to_string()),
                r.help_type,
                r.people_helped,
                beneficiaries,
                state,
                r.outcome,
                r.duration_min,
                r.created_by.map(|u| u.to_string()),
                r.merged_into.map(|u| u.to_string()),
            ])
            .map_err(map_err)?;
        Ok(())
    }
}

/// A rejected change's id as stored: a canonical uuid as its 16 bytes (as
/// everywhere else), any other text as sent, so a resend matches it.
fn change_id_value(id: &str) -> rusqlite::types::Value {
    match sync_core::hlc::parse_canonical_uuid(id) {
        Some(uuid) => rusqlite::types::Value::Blob(uuid.as_bytes().to_vec()),
        None => rusqlite::types::Value::Text(id.to_owned()),
    }
}

fn change_id_col(value: rusqlite::types::Value) -> Result<String, StoreError> {
    match value {
        rusqlite::types::Value::Blob(bytes) => Ok(uuid_col(bytes)?.to_string()),
        rusqlite::types::Value::Text(text) => Ok(text),
        _ => Err(StoreError::Corrupt(
            "a rejected change id is neither bytes nor text".into(),
        )),
    }
}

/// SQLite integers are signed; sequence numbers past i64::MAX cannot occur
/// (the server refuses them before they get here), so saturate.
fn seq_col(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}
