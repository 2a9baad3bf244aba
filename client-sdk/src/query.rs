//! Reading local state: merged records with their sync status, conflicts,
//! rejections and the outbox size.

use std::collections::{BTreeMap, HashSet};

use sync_core::wire::RecordDto;
use uuid::Uuid;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::store::{self, Table};
use crate::types::{
    Collection, Conflict, ConflictHead, FieldValue, Key, KnownUser, Likeness, Query, Record,
    RejectedChange, SimilarBeneficiary, SyncStatus, UnreadableChange,
};

impl Client {
    /// Records of a collection as merged on this device (unsynced edits included).
    pub fn records(&self, collection: Collection, query: &Query) -> Result<Vec<Record>> {
        let local = self.lock();
        let pending = store::records_with_changes(&local.conn, Table::Outbox, collection.core())?;
        let rejected =
            store::records_with_changes(&local.conn, Table::Rejected, collection.core())?;
        let mut out = Vec::new();
        for json in store::rendered(&local.conn, collection.core(), query.conflicts_only)? {
            let record = to_record(collection, &json, &pending, &rejected)?;
            if keep(&record, query) {
                out.push(record);
            }
        }
        Ok(out)
    }

    /// One record, or `None` when this device has never seen it.
    pub fn record(&self, collection: Collection, id: Uuid) -> Result<Option<Record>> {
        let local = self.lock();
        let Some(json) = store::rendered_one(&local.conn, collection.core(), id)? else {
            return Ok(None);
        };
        let ids = |table| -> Result<HashSet<Uuid>> {
            let has = store::has_change_for(&local.conn, table, collection.core(), id)?;
            Ok(if has {
                HashSet::from([id])
            } else {
                HashSet::new()
            })
        };
        let pending = ids(Table::Outbox)?;
        let rejected = ids(Table::Rejected)?;
        to_record(collection, &json, &pending, &rejected).map(Some)
    }

    /// Where a record stands with the server.
    pub fn status(&self, collection: Collection, id: Uuid) -> Result<SyncStatus> {
        let local = self.lock();
        if store::has_change_for(&local.conn, Table::Rejected, collection.core(), id)? {
            Ok(SyncStatus::Rejected)
        } else if store::has_change_for(&local.conn, Table::Outbox, collection.core(), id)? {
            Ok(SyncStatus::Pending)
        } else {
            Ok(SyncStatus::Synced)
        }
    }

    /// Every key in conflict on this device, across both collections.
    pub fn conflicts(&self) -> Result<Vec<Conflict>> {
        let mut out = Vec::new();
        for collection in Collection::ALL {
            let query = Query {
                conflicts_only: true,
                include_deleted: true,
                ..Query::default()
            };
            for record in self.records(collection, &query)? {
                out.extend(record.conflicts);
            }
        }
        Ok(out)
    }

    /// This device's changes the server refused, oldest first.
    pub fn rejected(&self) -> Result<Vec<RejectedChange>> {
        store::rejected(&self.lock().conn)
    }

    /// Removes a rejection from the list once the user has dealt with it.
    pub fn dismiss_rejected(&self, change_id: Uuid) -> Result<bool> {
        store::dismiss_rejected(&self.lock().conn, change_id)
    }

    /// The users this device knows from the server's directory, which a
    /// manager's or admin's sync keeps up to date (empty on a volunteer's
    /// device, and until the server offers `GET /v1/users`). The signed-in
    /// user is [`Client::user`].
    pub fn known_users(&self) -> Result<Vec<KnownUser>> {
        store::known_users(&self.lock().conn)
    }

    /// Changes pulled from the server that this SDK could not read: kept
    /// aside, merged into nothing (a newer app version reads them again
    /// after a resync). Show them to the user as "update the app".
    pub fn unreadable(&self) -> Result<Vec<UnreadableChange>> {
        store::unreadable(&self.lock().conn)
    }

    /// The beneficiaries on this device who may be the person about to be
    /// recorded: the same phone number, or a similar name (titles, spaces
    /// and a slip or two set aside: `sync_core`'s Thai name rules) in the
    /// same village when one is given. Searched offline, before
    /// [`Client::create_beneficiary`], so a volunteer can pick the person
    /// instead of recording them twice. Same phone first, then the closest
    /// names.
    pub fn similar_beneficiaries(
        &self,
        name: &str,
        village_code: Option<&str>,
        phone: Option<&str>,
    ) -> Result<Vec<SimilarBeneficiary>> {
        use sync_core::names;
        let phone = phone.map(names::normalise_phone).filter(|p| p.len() >= 9);
        let wanted = names::normalise(name);
        let mut found = Vec::new();
        for record in self.records(Collection::Beneficiaries, &Query::default())? {
            let same_phone = phone.as_deref().is_some_and(|p| {
                record
                    .text("phone")
                    .is_some_and(|theirs| names::normalise_phone(theirs) == p)
            });
            let in_village = village_code.is_none_or(|v| record.text("village_code") == Some(v));
            let theirs = record.text("display_name").unwrap_or_default();
            let reason = if same_phone {
                Likeness::SamePhone
            } else if in_village && names::similar(name, theirs) {
                Likeness::SimilarName
            } else {
                continue;
            };
            let distance = names::edit_distance(&wanted, &names::normalise(theirs));
            found.push((reason, distance, record));
        }
        found.sort_by_key(|(reason, distance, _)| (*reason != Likeness::SamePhone, *distance));
        Ok(found
            .into_iter()
            .map(|(reason, _, record)| SimilarBeneficiary { record, reason })
            .collect())
    }

    /// Changes waiting to be pushed.
    pub fn pending_count(&self) -> Result<u64> {
        store::outbox_len(&self.lock().conn)
    }
}

fn to_record(
    collection: Collection,
    json: &str,
    pending: &HashSet<Uuid>,
    rejected: &HashSet<Uuid>,
) -> Result<Record> {
    let dto: RecordDto =
        serde_json::from_str(json).map_err(|e| Error::Corrupt(format!("stored record: {e}")))?;
    let status = if rejected.contains(&dto.id) {
        SyncStatus::Rejected
    } else if pending.contains(&dto.id) {
        SyncStatus::Pending
    } else {
        SyncStatus::Synced
    };
    let conflicts = dto
        .conflicts
        .iter()
        .map(|c| Conflict {
            collection,
            record_id: dto.id,
            key: Key::parse(&c.key),
            heads: c
                .heads
                .iter()
                .map(|h| ConflictHead {
                    value: match &h.masked {
                        Some(shown) => FieldValue::Masked(shown.clone()),
                        None => FieldValue::from_json(&h.value),
                    },
                    hlc: h.hlc.to_string(),
                    author: h.author,
                    written_at_ms: h.hlc.wall_ms(),
                })
                .collect(),
        })
        .collect();
    let mut fields = BTreeMap::new();
    let mut sets = BTreeMap::new();
    for (key, value) in &dto.fields {
        match value {
            serde_json::Value::Array(items) => {
                let ids = items
                    .iter()
                    .filter_map(|v| v.as_str().and_then(|s| Uuid::parse_str(s).ok()))
                    .collect();
                sets.insert(key.clone(), ids);
            }
            scalar => {
                let value = match dto.masked.get(key) {
                    Some(shown) => FieldValue::Masked(shown.clone()),
                    None => FieldValue::from_json(scalar),
                };
                fields.insert(key.clone(), value);
            }
        }
    }
    Ok(Record {
        id: dto.id,
        collection,
        centre_id: dto.centre_id,
        fields,
        sets,
        deleted: dto.deleted,
        erased: dto.erased,
        conflicts,
        version: dto.version.map(|v| v.to_string()),
        status,
    })
}

fn keep(record: &Record, query: &Query) -> bool {
    let text_is = |key: &str, want: &Option<String>| {
        want.as_deref().is_none_or(|w| record.text(key) == Some(w))
    };
    (query.include_deleted || !record.deleted)
        && text_is("village_code", &query.village_code)
        && text_is("volunteer_id", &query.volunteer_id.map(|v| v.to_string()))
        && query.status.is_none_or(|s| s == record.status)
}
