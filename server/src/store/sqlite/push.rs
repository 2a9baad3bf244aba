//! [`PushTx`] on a SQLite write transaction. Statements are cached, so a batch
//! of a thousand changes prepares each one once.

use rusqlite::{OptionalExtension, Transaction};
use sync_core::{codec, Collection, Hlc, RecordState};
use uuid::Uuid;

use super::{collection_code, map_err, uuid_col};
use crate::store::{
    Device, NewChange, NewRejection, PushTx, RecordWrite, StoreError, StoredChange, StoredRejection,
};

pub(super) struct SqlitePushTx<'a> {
    tx: &'a Transaction<'a>,
}

impl<'a> SqlitePushTx<'a> {
    pub(super) fn new(tx: &'a Transaction<'a>) -> Self {
        SqlitePushTx { tx }
    }
}

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
            Ok(Device {
                key,
                user_id: user.map(uuid_col).transpose()?,
                acked_seq: u64::try_from(acked).unwrap_or(0),
            })
        })
        .transpose()
    }

    fn find_change(&mut self, change_id: Uuid) -> Result<Option<StoredChange>, StoreError> {
        let row: Option<(i64, i64, String)> = self
            .tx
            .prepare_cached("SELECT \"device_key\", \"device_seq\", \"body\" FROM \"changes\" WHERE \"change_id\" = ?1")
            .map_err(map_err)?
            .query_row([change_id.as_bytes()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()
            .map_err(map_err)?;
        Ok(row.map(|(device_key, seq, body)| StoredChange {
            device_key,
            device_seq: u64::try_from(seq).unwrap_or(0),
            body,
        }))
    }

    fn find_rejection(
        &mut self,
        device_key: i64,
        device_seq: u64,
    ) -> Result<Option<StoredRejection>, StoreError> {
        let row: Option<(rusqlite::types::Value, String, String)> = self
            .tx
            .prepare_cached(
                "SELECT \"change_id\", \"code\", \"detail\" FROM \"rejections\" WHERE \"device_key\" = ?1 AND \"device_seq\" = ?2",
            )
            .map_err(map_err)?
            .query_row((device_key, seq_col(device_seq)), |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()
            .map_err(map_err)?;
        row.map(|(id, code, detail)| {
            Ok(StoredRejection {
                change_id: change_id_col(id)?,
                code,
                detail,
            })
        })
        .transpose()
    }

    fn load_record(
        &mut self,
        collection: Collection,
        record_id: Uuid,
    ) -> Result<Option<RecordState>, StoreError> {
        let bytes: Option<Vec<u8>> = self
            .tx
            .prepare_cached("SELECT \"state\" FROM \"records\" WHERE \"collection\" = ?1 AND \"record_id\" = ?2")
            .map_err(map_err)?
            .query_row((collection_code(collection), record_id.as_bytes()), |r| r.get(0))
            .optional()
            .map_err(map_err)?;
        bytes
            .map(|b| {
                codec::decode(&b)
                    .map_err(|e| StoreError::Corrupt(format!("record {record_id}: {e}")))
            })
            .transpose()
    }

    fn centre_exists(&mut self, code: &str) -> Result<bool, StoreError> {
        self.tx
            .prepare_cached("SELECT 1 FROM \"centres\" WHERE \"code\" = ?1")
            .map_err(map_err)?
            .exists([code])
            .map_err(map_err)
    }

    fn server_clock(&mut self) -> Result<Option<Hlc>, StoreError> {
        let text: Option<Vec<u8>> = self
            .tx
            .prepare_cached("SELECT \"value\" FROM \"meta\" WHERE \"name\" = 'server_hlc'")
            .map_err(map_err)?
            .query_row([], |r| r.get(0))
            .optional()
            .map_err(map_err)?;
        text.map(|bytes| {
            std::str::from_utf8(&bytes)
                .ok()
                .and_then(|s| s.parse::<Hlc>().ok())
                .ok_or_else(|| StoreError::Corrupt("the stored server clock is not an hlc".into()))
        })
        .transpose()
    }

    fn set_server_clock(&mut self, hlc: Hlc) -> Result<(), StoreError> {
        self.tx
            .prepare_cached(
                "INSERT INTO \"meta\" (\"name\", \"value\") VALUES ('server_hlc', ?1)
                 ON CONFLICT (\"name\") DO UPDATE SET \"value\" = excluded.\"value\"",
            )
            .map_err(map_err)?
            .execute([hlc.to_string().into_bytes()])
            .map_err(map_err)?;
        Ok(())
    }

    fn insert_change(&mut self, change: &NewChange<'_>) -> Result<bool, StoreError> {
        self.tx
            .prepare_cached(
                "INSERT INTO \"changes\" (\"change_id\", \"device_key\", \"device_seq\", \"collection\", \"centre_id\", \"volunteer_id\", \"body\", \"record_id\")
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (\"change_id\") DO NOTHING",
            )
            .map_err(map_err)?
            .execute((
                change.change_id.as_bytes(),
                change.device_key,
                seq_col(change.device_seq),
                collection_code(change.collection),
                change.centre_id,
                change.volunteer_id,
                change.body,
                change.record_id.to_string(),
            ))
            .map_err(map_err)
            .map(|inserted| inserted == 1)
    }

    fn insert_rejection(&mut self, r: &NewRejection<'_>) -> Result<(), StoreError> {
        self.tx
            .prepare_cached(
                "INSERT INTO \"rejections\" (\"device_key\", \"device_seq\", \"change_id\", \"code\", \"detail\", \"body\", \"rejected_at\")
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .map_err(map_err)?
            .execute((r.device_key, seq_col(r.device_seq), change_id_value(r.change_id), r.code, r.detail, r.body, r.at))
            .map_err(map_err)?;
        Ok(())
    }

    fn save_record(&mut self, r: &RecordWrite<'_>) -> Result<(), StoreError> {
        let state = codec::encode(r.state);
        self.tx
            .prepare_cached(
                "INSERT INTO \"records\" (\"collection\", \"record_id\", \"centre_id\", \"volunteer_id\", \"village_code\",
                   \"started_on\", \"deleted\", \"conflicts\", \"version\", \"help_type\", \"people_helped\",
                   \"beneficiaries\", \"state\", \"outcome\", \"duration_min\")
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
                 ON CONFLICT (\"collection\", \"record_id\") DO UPDATE SET
                   \"centre_id\" = excluded.\"centre_id\", \"volunteer_id\" = excluded.\"volunteer_id\",
                   \"village_code\" = excluded.\"village_code\", \"started_on\" = excluded.\"started_on\",
                   \"deleted\" = excluded.\"deleted\", \"conflicts\" = excluded.\"conflicts\",
                   \"version\" = excluded.\"version\", \"help_type\" = excluded.\"help_type\",
                   \"people_helped\" = excluded.\"people_helped\", \"beneficiaries\" = excluded.\"beneficiaries\",
                   \"state\" = excluded.\"state\", \"outcome\" = excluded.\"outcome\",
                   \"duration_min\" = excluded.\"duration_min\"",
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
                r.version,
                r.help_type,
                r.people_helped,
                r.beneficiaries,
                state,
                r.outcome,
                r.duration_min,
            ])
            .map_err(map_err)?;
        Ok(())
    }

    fn update_device(
        &mut self,
        device_key: i64,
        acked_seq: u64,
        clock_offset_ms: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        self.tx
            .prepare_cached(
                "UPDATE \"devices\" SET \"acked_seq\" = ?2, \"clock_offset_ms\" = ?3, \"last_push_at\" = ?4, \"last_seen_at\" = ?4
                 WHERE \"key\" = ?1",
            )
            .map_err(map_err)?
            .execute((device_key, seq_col(acked_seq), clock_offset_ms, now))
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
