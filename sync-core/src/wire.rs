//! The JSON wire types of PROTOCOL.md, and the only place that decides how
//! the engine's values look on the wire. `schemas/*.schema.json` describe the
//! same documents; a test checks the two against each other.
//!
//! Decoding here checks structure only (ids are UUIDs, `device_seq` is a
//! number). Content (collection, keys, values, clocks) is checked per change by
//! [`crate::Change::decode`], so one bad change is rejected on its own instead
//! of failing the whole batch.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

use crate::hlc::Hlc;

/// One edit of one record, as pushed by a device and returned by pull.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeDto {
    /// The change's id. Kept as sent: a non-canonical id rejects this one
    /// change (`invalid_id`, its result echoing the id), not the whole push.
    pub id: String,
    pub device_seq: u64,
    pub collection: String,
    /// Kept as sent, like `id`.
    pub record_id: String,
    pub hlc: String,
    #[serde(deserialize_with = "unique_keys")]
    pub fields: BTreeMap<String, WriteDto>,
    /// The user who pushed the change; set by the server in pull responses and
    /// ignored when a device pushes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<Uuid>,
}

/// One key's new value and the heads its writer saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteDto {
    pub value: serde_json::Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub base: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushRequest {
    #[serde(deserialize_with = "device_id")]
    pub device_id: Uuid,
    pub device_time: chrono::DateTime<chrono::Utc>,
    pub changes: Vec<ChangeDto>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushResponse {
    pub acked_seq: u64,
    pub server_hlc: Hlc,
    pub results: Vec<PushResult>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PushStatus {
    Applied,
    Duplicate,
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushResult {
    /// The change's id exactly as it was sent.
    pub id: String,
    pub status: PushStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullResponse {
    pub changes: Vec<ChangeDto>,
    pub cursor: String,
    pub has_more: bool,
}

/// A record's merged state as managers and the SDK read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordDto {
    pub id: Uuid,
    pub collection: String,
    pub centre_id: Option<String>,
    /// A session's volunteer, by display name (v1.1; absent for beneficiaries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_name: Option<String>,
    pub fields: serde_json::Map<String, serde_json::Value>,
    pub deleted: bool,
    pub conflicts: Vec<ConflictDto>,
    pub version: Option<Hlc>,
    pub updated_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConflictDto {
    pub key: String,
    /// Every head of the key, the winner first.
    pub heads: Vec<HeadDto>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadDto {
    pub value: serde_json::Value,
    pub hlc: Hlc,
    pub author: Uuid,
}

/// An RFC 9457 problem document; `code` is the stable machine-readable reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub code: String,
}

impl Problem {
    pub fn new(status: u16, code: &str, title: &str, detail: impl Into<String>) -> Problem {
        Problem {
            type_uri: format!("urn:asa-sync:problem:{code}"),
            title: title.to_owned(),
            status,
            detail: detail.into(),
            code: code.to_owned(),
        }
    }
}

/// The start of the message of a deserialization error caused by an id
/// that is not in canonical form, so the server can answer `invalid_id`
/// rather than a generic shape error.
pub const INVALID_ID_MESSAGE: &str = "invalid_id: ";

/// A UUID accepted only in canonical form (lowercase, hyphenated, 36
/// characters): an id rewritten by the receiver would no longer match the
/// sender's own copy of it.
pub fn canonical_uuid<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Uuid, D::Error> {
    let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
    crate::hlc::parse_canonical_uuid(&s).ok_or_else(|| {
        serde::de::Error::custom(format_args!(
            "{INVALID_ID_MESSAGE}{s:?} is not a lowercase hyphenated uuid of 36 characters"
        ))
    })
}

/// A device id: a canonical UUID other than the all-ones UUID, which stands
/// for the server's own clock.
pub fn device_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Uuid, D::Error> {
    let id = canonical_uuid(deserializer)?;
    if id == Uuid::max() {
        return Err(serde::de::Error::custom(format_args!(
            "{INVALID_ID_MESSAGE}the all-ones uuid is reserved for the server's clock; generate a random device id"
        )));
    }
    Ok(id)
}

fn optional_device_id<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Uuid>, D::Error> {
    #[derive(Deserialize)]
    struct Wrapped(#[serde(deserialize_with = "device_id")] Uuid);
    Ok(Option::<Wrapped>::deserialize(deserializer)?.map(|Wrapped(id)| id))
}

/// Deserializes a JSON object into a map, refusing duplicated keys: two
/// writes of the same key in one change would be ambiguous, and serde's
/// default (last one wins) would drop one silently.
fn unique_keys<'de, D, V>(deserializer: D) -> Result<BTreeMap<String, V>, D::Error>
where
    D: Deserializer<'de>,
    V: Deserialize<'de>,
{
    struct UniqueKeys<V>(std::marker::PhantomData<V>);

    impl<'de, V: Deserialize<'de>> Visitor<'de> for UniqueKeys<V> {
        type Value = BTreeMap<String, V>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object with unique keys")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((key, value)) = map.next_entry::<String, V>()? {
                if out.contains_key(&key) {
                    return Err(serde::de::Error::custom(format_args!(
                        "key `{key}` appears twice"
                    )));
                }
                out.insert(key, value);
            }
            Ok(out)
        }
    }

    deserializer.deserialize_map(UniqueKeys(std::marker::PhantomData))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    #[serde(deserialize_with = "device_id")]
    pub device_id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshRequest {
    pub refresh_token: String,
    /// The device the token was issued to: lets a refresh whose answer was
    /// lost be retried within the grace window.
    #[serde(
        default,
        deserialize_with = "optional_device_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub device_id: Option<Uuid>,
}

/// The user a login or refresh is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserDto {
    pub id: Uuid,
    pub username: String,
    /// The name managers see; the username when none was given (absent
    /// from a v1 server).
    #[serde(default)]
    pub display_name: String,
    pub role: crate::Role,
    pub centre_id: Option<String>,
}

/// The answer to a login or a refresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub user: UserDto,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    pub refresh_token: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    pub username: String,
    pub password: String,
    pub role: String,
    #[serde(default)]
    pub centre_id: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
}

/// A partial update of a user: absent fields stay as they are. For
/// `centre_id`, `null` means no centre (an admin).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchUserRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub centre_id: Option<Option<String>>,
}

/// A field that may be absent (`None`), `null` (`Some(None)`) or a value.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A device bound to a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoundDeviceDto {
    pub device_id: Uuid,
    /// RFC 3339 UTC.
    pub bound_at: Option<String>,
    pub last_seen_at: Option<String>,
}

/// A user as managers and admins list them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountDto {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub role: crate::Role,
    pub centre_id: Option<String>,
    pub disabled: bool,
    pub devices: Vec<BoundDeviceDto>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsersPage {
    pub users: Vec<AccountDto>,
    pub next_page_token: Option<String>,
}

/// A community digital centre.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CentreDto {
    pub code: String,
    pub name: String,
    pub province: String,
    pub district: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchCentreRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub province: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CentresPage {
    pub centres: Vec<CentreDto>,
}

/// A page of merged records from `GET /v1/records/{collection}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordsPage {
    pub records: Vec<RecordDto>,
    pub next_page_token: Option<String>,
}
