//! The plain public types of the SDK's API: inputs, records, conflicts, reports.
//!
//! They hold only strings, numbers, UUIDs and small enums so that generated
//! Kotlin and Swift bindings can carry them as they are.

use std::collections::BTreeMap;
use std::fmt;

use uuid::Uuid;

/// The two collections of records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Collection {
    /// Help sessions, one per visit a volunteer logs.
    Sessions,
    /// The people helped, shared within a centre.
    Beneficiaries,
}

impl Collection {
    pub const ALL: [Collection; 2] = [Collection::Sessions, Collection::Beneficiaries];

    /// The collection's name on the wire: `sessions` or `beneficiaries`.
    pub fn name(self) -> &'static str {
        self.core().name()
    }

    pub(crate) fn core(self) -> sync_core::Collection {
        match self {
            Collection::Sessions => sync_core::Collection::Sessions,
            Collection::Beneficiaries => sync_core::Collection::Beneficiaries,
        }
    }

    pub(crate) fn from_core(c: sync_core::Collection) -> Collection {
        match c {
            sync_core::Collection::Sessions => Collection::Sessions,
            sync_core::Collection::Beneficiaries => Collection::Beneficiaries,
        }
    }
}

impl fmt::Display for Collection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a user may do: a volunteer their own sessions and their centre's
/// beneficiaries, a manager their centre, an admin everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Volunteer,
    Manager,
    Admin,
}

impl Role {
    /// The role's name on the wire: `volunteer`, `manager` or `admin`.
    pub fn name(self) -> &'static str {
        self.core().name()
    }

    pub(crate) fn core(self) -> sync_core::Role {
        match self {
            Role::Volunteer => sync_core::Role::Volunteer,
            Role::Manager => sync_core::Role::Manager,
            Role::Admin => sync_core::Role::Admin,
        }
    }

    pub(crate) fn from_core(r: sync_core::Role) -> Role {
        match r {
            sync_core::Role::Volunteer => Role::Volunteer,
            sync_core::Role::Manager => Role::Manager,
            sync_core::Role::Admin => Role::Admin,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A key of a record: a field such as `notes`, or one member of a set, such
/// as one beneficiary linked to a session (`Member { set: "beneficiary_ids", id }`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    Field(String),
    Member { set: String, id: Uuid },
}

impl Key {
    pub fn field(name: impl Into<String>) -> Key {
        Key::Field(name.into())
    }

    pub fn member(set: impl Into<String>, id: Uuid) -> Key {
        Key::Member {
            set: set.into(),
            id,
        }
    }

    /// Reads a key as [`Key`]'s `Display` and the wire write it (`notes`,
    /// `beneficiary_ids/<uuid>`), for a key a person typed.
    pub fn parse(key: &str) -> Key {
        match key.split_once('/') {
            Some((set, id)) => match Uuid::parse_str(id) {
                Ok(id) => Key::member(set, id),
                Err(_) => Key::field(key),
            },
            None => Key::field(key),
        }
    }
}

/// The key as the wire writes it: `notes`, `beneficiary_ids/<uuid>`.
impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Field(name) => f.write_str(name),
            Key::Member { set, id } => write!(f, "{set}/{id}"),
        }
    }
}

impl From<&str> for Key {
    fn from(name: &str) -> Key {
        Key::field(name)
    }
}

/// A scalar a key can hold.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Null,
    Bool(bool),
    Int(i64),
    /// A number that is not a 64-bit integer. No key of this protocol holds
    /// one; a server of a newer protocol may send it.
    Float(f64),
    Text(String),
    /// A value of a kind this SDK does not know (an object or a list, from a
    /// newer protocol), as its JSON text, kept as it was received.
    Json(String),
    /// A value this user may not see (contract section 10: a volunteer
    /// sees `phone` and `national_id` only on the beneficiaries they
    /// created): what the server showed of it, its last 4 characters. Show
    /// it as masked (`••••5678`), not as empty. Writing a new value over it
    /// is an ordinary edit; a `Masked` value itself cannot be written.
    Masked(String),
}

impl FieldValue {
    /// The value on the wire; a float that is not finite, or JSON text
    /// that does not parse, has none (`invalid_value`).
    pub(crate) fn to_json(&self) -> Result<serde_json::Value, crate::Error> {
        let invalid = |detail: String| crate::Error::Invalid {
            code: "invalid_value".to_owned(),
            detail,
        };
        Ok(match self {
            FieldValue::Null => serde_json::Value::Null,
            FieldValue::Bool(b) => serde_json::Value::Bool(*b),
            FieldValue::Int(i) => serde_json::Value::from(*i),
            FieldValue::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .ok_or_else(|| invalid(format!("{f} is not a number JSON can hold")))?,
            FieldValue::Text(s) => serde_json::Value::String(s.clone()),
            FieldValue::Json(text) => serde_json::from_str(text)
                .map_err(|e| invalid(format!("`{text}` is not JSON: {e}")))?,
            FieldValue::Masked(_) => {
                return Err(invalid(
                    "a masked value cannot be written back; write the new value".to_owned(),
                ))
            }
        })
    }

    pub(crate) fn from_json(v: &serde_json::Value) -> FieldValue {
        match v {
            serde_json::Value::Bool(b) => FieldValue::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => FieldValue::Int(i),
                // Without serde_json's arbitrary precision, every number is an f64.
                None => FieldValue::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => FieldValue::Text(s.clone()),
            serde_json::Value::Null => FieldValue::Null,
            other => FieldValue::Json(other.to_string()),
        }
    }
}

impl From<&str> for FieldValue {
    fn from(s: &str) -> Self {
        FieldValue::Text(s.to_owned())
    }
}

impl From<i64> for FieldValue {
    fn from(i: i64) -> Self {
        FieldValue::Int(i)
    }
}

impl From<bool> for FieldValue {
    fn from(b: bool) -> Self {
        FieldValue::Bool(b)
    }
}

/// One key to write: a field such as `notes` (`FieldEdit::new("notes", ...)`),
/// or a set member (`FieldEdit::new(Key::member("beneficiary_ids", id), true)`).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldEdit {
    pub key: Key,
    pub value: FieldValue,
}

impl FieldEdit {
    pub fn new(key: impl Into<Key>, value: impl Into<FieldValue>) -> FieldEdit {
        FieldEdit {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// A new help session; the centre and volunteer are the signed-in user's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    pub village_code: String,
    pub help_type: String,
    /// RFC 3339, e.g. `2026-11-28T09:30:00+07:00`.
    pub started_at: String,
    pub duration_min: i64,
    pub people_helped: i64,
    pub outcome: Option<String>,
    pub notes: Option<String>,
    /// `YYYY-MM-DD`.
    pub follow_up_on: Option<String>,
}

/// A new beneficiary in the signed-in user's centre.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewBeneficiary {
    pub village_code: String,
    pub display_name: String,
    pub phone: Option<String>,
    pub birth_year: Option<i64>,
    /// The Thai national id: 13 digits with a valid check digit
    /// (`invalid_national_id` otherwise).
    pub national_id: Option<String>,
    /// The person agreed to have their data recorded (must be true).
    pub consent: bool,
    /// The version of the consent text the person agreed to.
    pub consent_version: Option<String>,
}

/// Where a record stands with the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SyncStatus {
    /// Every local edit has been acknowledged by the server.
    Synced,
    /// Some local edits wait in the outbox.
    Pending,
    /// The server rejected one of this device's edits; see [`crate::Client::rejected`].
    Rejected,
}

/// A merged record as this device sees it, unsynced edits included.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub id: Uuid,
    pub collection: Collection,
    pub centre_id: Option<String>,
    /// The winning value of each key that has one (`notes`, `duration_min`, ...).
    pub fields: BTreeMap<String, FieldValue>,
    /// The members of each set (`beneficiary_ids`): the ids whose key is true.
    pub sets: BTreeMap<String, Vec<Uuid>>,
    pub deleted: bool,
    /// The person was erased under the PDPA: their name, phone, national id
    /// and birth year hold placeholders, and can no longer be written.
    pub erased: bool,
    pub conflicts: Vec<Conflict>,
    /// The greatest HLC merged into the record.
    pub version: Option<String>,
    pub status: SyncStatus,
}

impl Record {
    /// The text value of a field, if it has one.
    pub fn text(&self, key: &str) -> Option<&str> {
        match self.fields.get(key) {
            Some(FieldValue::Text(s)) => Some(s),
            _ => None,
        }
    }

    /// The integer value of a field, if it has one.
    pub fn int(&self, key: &str) -> Option<i64> {
        match self.fields.get(key) {
            Some(FieldValue::Int(i)) => Some(*i),
            _ => None,
        }
    }

    /// The members of a set (empty when it has none).
    pub fn members(&self, set: &str) -> &[Uuid] {
        self.sets.get(set).map_or(&[], Vec::as_slice)
    }

    /// The fields as the server's records API shows them, as JSON text: an
    /// object of scalars by key, sets as lists of member ids. A value that
    /// has no JSON form (a NaN) shows as `null`.
    pub fn fields_json(&self) -> String {
        let scalars = self
            .fields
            .iter()
            .map(|(k, v)| (k.clone(), v.to_json().unwrap_or_default()));
        let sets = self.sets.iter().map(|(k, ids)| {
            let ids = ids
                .iter()
                .map(|id| serde_json::Value::String(id.to_string()))
                .collect();
            (k.clone(), serde_json::Value::Array(ids))
        });
        serde_json::Value::Object(scalars.chain(sets).collect()).to_string()
    }
}

/// A key whose concurrent writes hold different values.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    pub collection: Collection,
    pub record_id: Uuid,
    pub key: Key,
    /// Every head, the shown winner first.
    pub heads: Vec<ConflictHead>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConflictHead {
    pub value: FieldValue,
    pub hlc: String,
    pub author: Uuid,
    /// When the value was written: the wall time of its HLC, in milliseconds
    /// since the Unix epoch (the writing device's clock, never behind what it
    /// had seen).
    pub written_at_ms: u64,
}

/// Why a beneficiary may be the person about to be recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Likeness {
    /// The same phone number (its digits; +66 read as 0).
    SamePhone,
    /// A similar name, in the same village when one was given.
    SimilarName,
}

/// A beneficiary who may be the person about to be recorded
/// ([`crate::Client::similar_beneficiaries`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SimilarBeneficiary {
    pub record: Record,
    pub reason: Likeness,
}

/// A change pulled from the server that this SDK cannot read (it breaks a
/// rule this version knows, or comes without its author). It is kept on the
/// device, merged into nothing, so a newer app version can read it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableChange {
    pub change_id: String,
    /// Why: the rule's stable code (`invalid_value`, `missing_author`, ...).
    pub code: String,
    pub detail: String,
}

/// One of this device's changes that the server refused, with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedChange {
    pub change_id: Uuid,
    pub device_seq: u64,
    pub collection: Collection,
    pub record_id: Uuid,
    /// The stable rejection code, e.g. `out_of_range`.
    pub code: String,
    pub detail: String,
    /// When the change was made on this device: the wall time of its HLC, in
    /// milliseconds since the Unix epoch.
    pub written_at_ms: u64,
}

/// Filters for [`crate::Client::records`]; the default lists every live record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Query {
    pub village_code: Option<String>,
    pub volunteer_id: Option<Uuid>,
    pub include_deleted: bool,
    pub conflicts_only: bool,
    pub status: Option<SyncStatus>,
}

/// A user of the server's directory (`GET /v1/users`), kept on the device so
/// conflicts and records can show who wrote what. Only managers and admins
/// may read the directory; a volunteer's device knows only its own user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownUser {
    pub id: Uuid,
    pub username: String,
    /// The name the person goes by, when the server has one.
    pub display_name: Option<String>,
}

/// The signed-in user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    pub id: Uuid,
    pub username: String,
    /// The name managers see (the username when none was given).
    pub display_name: String,
    pub role: Role,
    pub centre_id: Option<String>,
    /// The name of the user's centre, read from the server at login (`None`
    /// for an admin, or when the server could not say).
    pub centre_name: Option<String>,
}

/// What one [`crate::Client::sync`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Changes sent (resends after a lost answer count again).
    pub pushed: u64,
    /// Changes the server acknowledged as stored (applied, duplicate or rejected).
    pub acked: u64,
    /// Changes the server rejected in this sync.
    pub rejected: u64,
    /// Changes received from other devices.
    pub pulled: u64,
    /// Keys in conflict on this device after the sync.
    pub conflicts: u64,
    /// Request body bytes as sent (compressed when gzip is on).
    pub bytes_sent: u64,
    /// Response body bytes as received (compressed when gzip is on).
    pub bytes_received: u64,
    /// Pulled changes whose clock was too far ahead to move this device's clock.
    pub skewed_clocks: u64,
    /// Pulled changes this SDK could not read, kept aside
    /// ([`crate::Client::unreadable`]).
    pub unreadable: u64,
    /// True when the byte budget ran out before everything was exchanged.
    pub budget_exhausted: bool,
    /// Changes still in the outbox after the sync.
    pub pending: u64,
    /// The sync ended before the server said this device had everything
    /// (the budget ran out first): a later sync pulls the rest.
    pub more_to_pull: bool,
    /// Times the server asked this device to drop its pulled data and pull
    /// from the beginning (the user's role or centre changed).
    pub resyncs: u64,
    /// Acknowledged changes sent again because the server was restored from
    /// a backup that lacked them.
    pub resent_after_restore: u64,
    /// The server was restored from a backup older than what this device
    /// still keeps (acknowledged changes are kept 30 days): it holds the
    /// device's changes only up to this `device_seq`, the ones after it that
    /// the device no longer has are lost, and its later changes wait in the
    /// outbox. Pulling goes on; tell the user to call a manager.
    pub restore_gap: Option<u64>,
}

/// Options for one sync.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncOptions {
    /// The most bytes of request and response bodies (as sent, compressed
    /// when gzip is on) the sync may spend both ways together; it stops
    /// before a batch or page that would spend more. A pulled page holds at
    /// least one change, so a single change larger than 1 KiB can pass the
    /// budget by its size.
    pub byte_budget: Option<u64>,
}

/// Managers' export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// UTF-8 CSV with a byte-order mark, one column per key.
    Csv,
    /// A JSON array of the server's records.
    Json,
    /// An Excel workbook (binary) with typed cells.
    Xlsx,
}

impl ExportFormat {
    /// Whether deleted records are in an export of this format unless the
    /// request says otherwise: yes for CSV and JSON (the v1 rule), no for xlsx.
    pub fn includes_deleted_by_default(self) -> bool {
        match self {
            ExportFormat::Csv | ExportFormat::Json => true,
            ExportFormat::Xlsx => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_json_value_has_a_field_value_and_back() {
        let cases = [
            (serde_json::json!(null), FieldValue::Null),
            (serde_json::json!(true), FieldValue::Bool(true)),
            (serde_json::json!(-7), FieldValue::Int(-7)),
            (serde_json::json!(2.5), FieldValue::Float(2.5)),
            (
                serde_json::json!(u64::MAX),
                FieldValue::Float(u64::MAX as f64),
            ),
            (serde_json::json!("ลำปาง"), FieldValue::Text("ลำปาง".into())),
            (
                serde_json::json!({"th": "ฟ้า"}),
                FieldValue::Json(r#"{"th":"ฟ้า"}"#.into()),
            ),
            (serde_json::json!([1, 2]), FieldValue::Json("[1,2]".into())),
        ];
        for (json, value) in cases {
            assert_eq!(FieldValue::from_json(&json), value, "{json}");
            if !matches!(value, FieldValue::Float(f) if f > i64::MAX as f64) {
                assert_eq!(value.to_json().unwrap(), json, "{value:?}");
            }
        }
        // No JSON form: refused, never written as null.
        for bad in [FieldValue::Float(f64::NAN), FieldValue::Json("{".into())] {
            let err = bad.to_json().unwrap_err();
            assert_eq!(err.code(), "invalid_value", "{bad:?}");
        }
    }

    #[test]
    fn keys_read_back_as_they_are_written() {
        let id = Uuid::from_u128(7);
        for key in [Key::field("notes"), Key::member("beneficiary_ids", id)] {
            assert_eq!(Key::parse(&key.to_string()), key);
        }
        // Not a member: what follows the slash is not an id.
        assert_eq!(Key::parse("a/b"), Key::field("a/b"));
    }
}
