//! Local edits: every create, edit, delete, link and resolution goes through
//! [`Client::save`], which validates with sync-core and stores the new state,
//! the outbox entry, the next `device_seq` and the HLC in one transaction.

use std::collections::BTreeMap;

use serde_json::{json, Value as Json};
use sync_core::wire::WriteDto;
use sync_core::{check_against_state, Change, ChangeDto, Field, Principal, Rules};
use uuid::Uuid;

use crate::client::{Client, META_HLC, META_NEXT_SEQ};
use crate::error::{Error, Result, StepExt};
use crate::store;
use crate::types::{Collection, FieldEdit, FieldValue, Key, NewBeneficiary, NewSession};

impl Client {
    /// Records a new help session by the signed-in user; returns its id.
    pub fn create_session(&self, s: &NewSession) -> Result<Uuid> {
        let user = self.user().ok_or(Error::NotLoggedIn)?;
        let fields = [
            ("centre_id", json!(user.centre_id)),
            ("volunteer_id", json!(user.id)),
            ("village_code", json!(s.village_code)),
            ("help_type", json!(s.help_type)),
            ("started_at", json!(s.started_at)),
            ("duration_min", json!(s.duration_min)),
            ("people_helped", json!(s.people_helped)),
        ];
        let optional = [
            ("outcome", &s.outcome),
            ("notes", &s.notes),
            ("follow_up_on", &s.follow_up_on),
        ];
        let mut writes: Vec<(String, Json)> =
            fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        writes.extend(
            optional
                .into_iter()
                .filter_map(|(k, v)| v.as_ref().map(|v| (k.to_owned(), json!(v)))),
        );
        let id = Uuid::now_v7();
        self.save(Collection::Sessions, id, writes, true)?;
        Ok(id)
    }

    /// Records a new beneficiary in the signed-in user's centre; returns its id.
    pub fn create_beneficiary(&self, b: &NewBeneficiary) -> Result<Uuid> {
        let user = self.user().ok_or(Error::NotLoggedIn)?;
        let mut writes = vec![
            ("centre_id".to_owned(), json!(user.centre_id)),
            ("village_code".to_owned(), json!(b.village_code)),
            ("display_name".to_owned(), json!(b.display_name)),
            ("consent".to_owned(), json!(b.consent)),
        ];
        if let Some(phone) = &b.phone {
            writes.push(("phone".to_owned(), json!(phone)));
        }
        if let Some(year) = b.birth_year {
            writes.push(("birth_year".to_owned(), json!(year)));
        }
        if let Some(id) = &b.national_id {
            writes.push(("national_id".to_owned(), json!(id)));
        }
        if let Some(version) = &b.consent_version {
            writes.push(("consent_version".to_owned(), json!(version)));
        }
        let id = Uuid::now_v7();
        self.save(Collection::Beneficiaries, id, writes, true)?;
        Ok(id)
    }

    /// Writes keys of an existing record (each edit supersedes what this
    /// device currently shows for that key).
    pub fn edit(&self, collection: Collection, id: Uuid, edits: &[FieldEdit]) -> Result<()> {
        let writes = edits
            .iter()
            .map(|e| Ok((wire_key(&e.key)?, e.value.to_json()?)))
            .collect::<Result<_>>()?;
        self.save(collection, id, writes, false)
    }

    /// Marks a record deleted (records are never removed).
    pub fn delete(&self, collection: Collection, id: Uuid) -> Result<()> {
        self.edit(collection, id, &[FieldEdit::new("_deleted", true)])
    }

    /// Links (or unlinks) a beneficiary to a session.
    pub fn link_beneficiary(&self, session: Uuid, beneficiary: Uuid, linked: bool) -> Result<()> {
        let key = Key::member(Field::BeneficiaryIds.name(), beneficiary);
        self.edit(
            Collection::Sessions,
            session,
            &[FieldEdit::new(key, linked)],
        )
    }

    /// Resolves a conflict on `key` with `value`: the write supersedes every
    /// current head of the key, so every device shows `value` once it syncs.
    pub fn resolve(
        &self,
        collection: Collection,
        id: Uuid,
        key: &Key,
        value: FieldValue,
    ) -> Result<()> {
        let state = store::load_state(&self.lock().conn, collection.core(), id)?;
        let wire = wire_key(key)?;
        let in_conflict = sync_core::Key::parse(collection.core(), &wire)
            .and_then(|(k, _)| state.register(&k))
            .is_some_and(|r| r.in_conflict());
        if !in_conflict {
            return Err(Error::NoConflict {
                collection,
                id,
                key: key.clone(),
            });
        }
        self.save(collection, id, vec![(wire, value.to_json()?)], false)
    }

    /// The one path every local edit takes; see the module docs.
    fn save(
        &self,
        collection: Collection,
        id: Uuid,
        writes: Vec<(String, Json)>,
        create: bool,
    ) -> Result<()> {
        let collection = collection.core();
        let now = self.clock.now_ms();
        let mut guard = self.lock();
        let local = &mut *guard;
        let user = local.user.clone().ok_or(Error::NotLoggedIn)?;
        let mut clock = local.hlc.clone();
        let tx = Client::begin(&mut local.conn, &mut clock, "starting a save")?;
        let mut state = store::load_state(&tx, collection, id)?;
        if !create && state.is_empty() {
            return Err(Error::NotFound {
                collection: Collection::from_core(collection),
                id,
            });
        }
        // Validation's "current year" must not fall back to 1970 when the
        // phone's clock does: the HLC remembers the latest time seen.
        let rules = Rules::at(now.max(clock.last().wall_ms()));
        let hlc = clock.tick(now);
        let seq = match store::get_meta(&tx, META_NEXT_SEQ)? {
            Some(s) => s
                .parse::<u64>()
                .map_err(|e| Error::Corrupt(format!("next_seq: {e}")))?,
            None => 1,
        };
        let dto = ChangeDto {
            id: Uuid::now_v7().to_string(),
            device_seq: seq,
            collection: collection.name().to_owned(),
            record_id: id.to_string(),
            hlc: hlc.to_string(),
            fields: writes
                .into_iter()
                .map(|(k, value)| {
                    (
                        k,
                        WriteDto {
                            value,
                            base: Vec::new(),
                            masked: None,
                        },
                    )
                })
                .collect::<BTreeMap<_, _>>(),
            author: None,
        };
        let decoded = Change::decode(&dto, user.id, &rules).map_err(Error::invalid)?;
        // The base of each write is every head this device shows for the key.
        let writes = decoded
            .writes
            .iter()
            .map(|w| state.resolve(w.key, w.value.clone()))
            .collect();
        let change = Change { writes, ..decoded };
        check_against_state(&change, Some(&state)).map_err(Error::invalid)?;
        check_access(&user_principal(&user), &change, &state)?;
        state.apply(&change);
        store::save_state(&tx, collection, id, &state)?;
        let body = serde_json::to_string(&change.to_dto(false))
            .map_err(|e| Error::Corrupt(format!("cannot encode a change: {e}")))?;
        store::append_outbox(&tx, seq, change.id, collection, id, &body)?;
        store::set_meta(&tx, META_NEXT_SEQ, &(seq + 1).to_string())?;
        store::set_meta(&tx, META_HLC, &clock.last().to_string())?;
        tx.commit().step("committing a save")?;
        local.hlc = clock;
        Ok(())
    }
}

/// A key as the wire writes it. A field's name never holds a `/`: set
/// members are written as [`Key::Member`], not spelled out by hand.
fn wire_key(key: &Key) -> Result<String> {
    match key {
        Key::Field(name) if name.contains('/') => Err(Error::Invalid {
            code: "unknown_field".to_owned(),
            detail: format!(
                "`{name}` is not a field; write a set member as Key::Member {{ set, id }}"
            ),
        }),
        key => Ok(key.to_string()),
    }
}

fn user_principal(user: &crate::types::UserInfo) -> Principal {
    Principal {
        user_id: user.id,
        role: user.role.core(),
        centre_id: user.centre_id.clone(),
    }
}

/// The server's access rule (sync-core's, the same code), checked before
/// queueing so a forbidden edit is refused at once instead of being rejected
/// at the next sync.
fn check_access(
    principal: &Principal,
    change: &Change,
    state: &sync_core::RecordState,
) -> Result<()> {
    let text = |field| {
        change
            .writes
            .iter()
            .find(|w| w.key == sync_core::Key::field(field))
            .and_then(|w| w.value.as_str())
    };
    // `state` already holds nothing of this change: it is applied after.
    let existing = (!state.is_empty()).then_some(state);
    principal
        .check_write(
            change.collection,
            existing,
            text(Field::CentreId),
            text(Field::VolunteerId),
        )
        .map_err(|e| Error::Forbidden(e.to_string()))
}
