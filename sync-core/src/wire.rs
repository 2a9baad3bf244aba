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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ChangeDto {
    /// The change's id. Kept as sent: a non-canonical id rejects this one
    /// change (`invalid_id`, its result echoing the id), not the whole push.
    pub id: String,
    /// 1, 2, 3, ... per device, with no gaps.
    #[serde(deserialize_with = "whole_number")]
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 1, maximum = 9223372036854775807_u64)
    )]
    pub device_seq: u64,
    pub collection: String,
    /// Kept as sent, like `id`.
    pub record_id: String,
    /// `WWWWWWWWWWWWW-CCCC-<device id>`; its node must be the pushing device.
    pub hlc: String,
    /// Each key written, with its new value and base.
    #[serde(deserialize_with = "unique_keys")]
    pub fields: BTreeMap<String, WriteDto>,
    /// The user who pushed the change; set by the server in pull responses and
    /// ignored when a device pushes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<Uuid>,
}

/// One key's new value and the heads its writer saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WriteDto {
    /// null, a boolean, an integer or a string.
    #[cfg_attr(feature = "openapi", schema(value_type = Value))]
    pub value: serde_json::Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub base: Vec<String>,
    /// Set by the server only, in what it sends to a volunteer who may not
    /// see this value (contract section 10): `value` is then null and this
    /// holds the value's last 4 characters. The write's HLC and base are the
    /// real ones, so merging is unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masked: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PushRequest {
    #[serde(deserialize_with = "device_id")]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
    )]
    pub device_id: Uuid,
    pub device_time: chrono::DateTime<chrono::Utc>,
    /// At most 1000 (413 above).
    #[cfg_attr(feature = "openapi", schema(max_items = 1000))]
    pub changes: Vec<ChangeDto>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushResponse {
    pub acked_seq: u64,
    pub server_hlc: Hlc,
    pub results: Vec<PushResult>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PushStatus {
    Applied,
    Duplicate,
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PullResponse {
    pub changes: Vec<ChangeDto>,
    pub cursor: String,
    pub has_more: bool,
    /// Only on a pull without a cursor or with one from before a restore:
    /// the highest `device_seq` of this device the server holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acked_seq: Option<u64>,
}

/// A record's merged state as managers and the SDK read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordDto {
    pub id: Uuid,
    pub collection: String,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub centre_id: Option<String>,
    /// A session's volunteer, by display name (v1.1; absent for beneficiaries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_name: Option<String>,
    /// Every key with heads and its winning value; set members as lists.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// Keys this reader may not see (v1.1, contract section 10): their value
    /// in `fields` is null and this holds its last 4 characters.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub masked: BTreeMap<String, String>,
    pub deleted: bool,
    /// The person was erased under the PDPA (v1.1; beneficiaries only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub erased: bool,
    /// Every write of `consent`, oldest first (v1.1; on a single
    /// beneficiary's read and its export only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_history: Option<Vec<ConsentEntry>>,
    pub conflicts: Vec<ConflictDto>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub version: Option<Hlc>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub updated_at: Option<String>,
}

/// One write of a beneficiary's `consent`: given (`true`) or withdrawn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConsentEntry {
    pub consent: bool,
    /// The consent text's version: the one the change wrote, or else the
    /// record's at that time.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub consent_version: Option<String>,
    /// The wall time of the write's HLC.
    pub at: String,
    pub author: Uuid,
    /// The device that wrote it; null for the server.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub device_id: Option<Uuid>,
    pub hlc: Hlc,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConflictDto {
    pub key: String,
    /// Every head of the key, the winner first.
    pub heads: Vec<HeadDto>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HeadDto {
    #[cfg_attr(feature = "openapi", schema(value_type = Value))]
    pub value: serde_json::Value,
    pub hlc: Hlc,
    pub author: Uuid,
    /// As a record's `masked`: this head's value is hidden from this reader.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masked: Option<String>,
}

/// An RFC 9457 problem document; `code` is the stable machine-readable reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub code: String,
    /// With `server_restored`: the highest `device_seq` of the device that
    /// the restored server holds; send the device's changes after it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acked_seq: Option<u64>,
}

impl Problem {
    pub fn new(status: u16, code: &str, title: &str, detail: impl Into<String>) -> Problem {
        Problem {
            type_uri: format!("urn:asa-sync:problem:{code}"),
            title: title.to_owned(),
            status,
            detail: detail.into(),
            code: code.to_owned(),
            acked_seq: None,
        }
    }
}

/// JSON Schemas the derive cannot express, for the OpenAPI document.
#[cfg(feature = "openapi")]
mod schema {
    use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
    use utoipa::openapi::RefOr;

    /// What [`crate::check_name`] accepts: 1..=200 code points, at least one
    /// that is not a space, none a control or bidirectional override.
    const NAME: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f\\u202a-\\u202e\\u2066-\\u2069]*[^\\s\\u0000-\\u001f\\u007f-\\u009f\\u202a-\\u202e\\u2066-\\u2069][^\\u0000-\\u001f\\u007f-\\u009f\\u202a-\\u202e\\u2066-\\u2069]*$";

    fn builder() -> ObjectBuilder {
        ObjectBuilder::new()
            .pattern(Some(NAME))
            .min_length(Some(1))
            .max_length(Some(200))
            .description(Some(
                "1 to 200 characters, not only spaces, without control or bidirectional-override characters",
            ))
    }

    pub fn name() -> impl Into<RefOr<Schema>> {
        builder().schema_type(Type::String)
    }

    pub fn optional_name() -> impl Into<RefOr<Schema>> {
        builder().schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            Type::String,
            Type::Null,
        ]))
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

/// A whole number, also when written with a zero fraction (`17.0`): JSON
/// does not tell the two apart, and neither does JSON Schema's `integer`.
fn whole_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    struct Whole;

    impl Visitor<'_> for Whole {
        type Value = u64;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a whole number")
        }

        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }

        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| E::custom(format_args!("{v} is negative")))
        }

        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<u64, E> {
            // 2^63: device sequences must fit in 63 bits anyway.
            if v.fract() == 0.0 && (0.0..9.223_372_036_854_776e18).contains(&v) {
                Ok(v as u64)
            } else {
                Err(E::custom(format_args!("{v} is not a whole number")))
            }
        }
    }

    deserializer.deserialize_any(Whole)
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    /// The phone's own id (canonical; not the all-ones uuid).
    #[serde(deserialize_with = "device_id")]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
    )]
    pub device_id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
    /// The device the token was issued to: lets a refresh whose answer was
    /// lost be retried within the grace window.
    #[serde(
        default,
        deserialize_with = "optional_device_id",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
    )]
    pub device_id: Option<Uuid>,
}

/// The user a login or refresh is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserDto {
    pub id: Uuid,
    pub username: String,
    /// The name managers see; the username when none was given (absent
    /// from a v1 server).
    #[serde(default)]
    pub display_name: String,
    pub role: crate::Role,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub centre_id: Option<String>,
}

/// The answer to a login or a refresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenResponse {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub user: UserDto,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    pub refresh_token: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    /// 3 to 64 ASCII letters, digits, `.`, `_`, `-`; compared without case.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9._-]{3,64}$"))]
    pub username: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 8))]
    pub password: String,
    #[cfg_attr(feature = "openapi", schema(pattern = "^(volunteer|manager|admin)$"))]
    pub role: String,
    /// An existing centre's code (volunteers and managers); none for an admin.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9_-]{1,32}$"))]
    pub centre_id: Option<String>,
    /// Defaults to the username.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = schema::optional_name))]
    pub display_name: Option<String>,
}

/// A partial update of a user: absent fields stay as they are. For
/// `centre_id`, `null` means no centre (an admin).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PatchUserRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = schema::optional_name))]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 8))]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = "^(volunteer|manager|admin)$"))]
    pub role: Option<String>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Option<String>, pattern = "^[A-Za-z0-9_-]{1,32}$")
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BoundDeviceDto {
    pub device_id: Uuid,
    /// RFC 3339 UTC.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub bound_at: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub last_seen_at: Option<String>,
}

/// A user as managers and admins list them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccountDto {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub role: crate::Role,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub centre_id: Option<String>,
    pub disabled: bool,
    pub devices: Vec<BoundDeviceDto>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsersPage {
    pub users: Vec<AccountDto>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub next_page_token: Option<String>,
}

/// A community digital centre.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CentreDto {
    pub code: String,
    pub name: String,
    pub province: String,
    pub district: String,
}

/// A new centre.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateCentreRequest {
    /// 1 to 32 of A-Z, a-z, 0-9, `-`, `_`; it never changes.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9_-]{1,32}$"))]
    pub code: String,
    #[cfg_attr(feature = "openapi", schema(schema_with = schema::name))]
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(schema_with = schema::name))]
    pub province: String,
    #[cfg_attr(feature = "openapi", schema(schema_with = schema::name))]
    pub district: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PatchCentreRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = schema::optional_name))]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = schema::optional_name))]
    pub province: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = schema::optional_name))]
    pub district: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CentresPage {
    pub centres: Vec<CentreDto>,
}

/// A page of merged records from `GET /v1/records/{collection}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordsPage {
    pub records: Vec<RecordDto>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub next_page_token: Option<String>,
}

/// `GET /v1/reports/summary`: a centre's totals for supervision and reporting.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Summary {
    pub sessions: u64,
    pub people_helped: u64,
    pub unique_beneficiaries: u64,
    pub active_volunteers: u64,
    pub by_help_type: BTreeMap<String, u64>,
    pub by_village: BTreeMap<String, u64>,
    pub open_conflicts: u64,
}

/// `POST /v1/records/{collection}/{id}/resolve`: the value a manager keeps
/// for a key in conflict, and the heads they saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// The key, as in `conflicts[].key` (`notes`, `beneficiary_ids/<uuid>`).
    pub key: String,
    /// The value to keep: one of the competing values, or a new one.
    #[cfg_attr(feature = "openapi", schema(value_type = Value))]
    pub value: serde_json::Value,
    /// The HLCs of every head the manager saw for the key.
    pub base: Vec<String>,
}

/// A device as managers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceDto {
    pub device_id: Uuid,
    pub user_id: Uuid,
    pub username: String,
    pub display_name: String,
    /// RFC 3339 UTC.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub last_seen_at: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub last_push_at: Option<String>,
    pub acked_seq: u64,
    /// Rejected changes in the last 7 days.
    pub rejections_7d: u64,
    /// The device's clock minus the server's at its last push (positive: ahead).
    pub clock_offset_ms: i64,
    /// `|clock_offset_ms|` is more than 5 minutes.
    pub clock_skewed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DevicesPage {
    pub devices: Vec<DeviceDto>,
}

/// One volunteer's figures in the programme report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VolunteerReport {
    pub volunteer_id: Uuid,
    pub display_name: String,
    pub sessions: u64,
    pub people_helped: u64,
    pub unique_beneficiaries: u64,
    /// Hours of help given, to one decimal.
    pub hours: f64,
    /// `people_helped` is at least the target.
    pub meets_target: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProgrammeTotals {
    pub sessions: u64,
    pub people_helped: u64,
    /// Each person counted once across the centre.
    pub unique_beneficiaries: u64,
    pub hours: f64,
    /// Volunteers with at least one session in the range.
    pub volunteers: u64,
}

/// Sessions and people helped in the week that starts on `week_start`
/// (a Monday, `YYYY-MM-DD`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WeekReport {
    pub week_start: String,
    pub sessions: u64,
    pub people_helped: u64,
}

/// `GET /v1/reports/programme`: progress against the programme's target of
/// four people helped per volunteer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProgrammeReport {
    pub volunteers: Vec<VolunteerReport>,
    pub totals: ProgrammeTotals,
    pub target_per_volunteer: u64,
    pub volunteers_meeting_target: u64,
    pub weeks: Vec<WeekReport>,
    pub by_help_type: BTreeMap<String, u64>,
    pub by_village: BTreeMap<String, u64>,
}

/// Two beneficiaries that may be one person (contract section 10).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DuplicatePair {
    /// The smaller id of the two.
    pub a: Uuid,
    pub b: Uuid,
    /// `national_id`, `phone`, `name_village_birth_year`.
    pub reasons: Vec<String>,
    /// How likely the two are one person, 0..=1.
    pub score: f64,
}

/// `GET /v1/beneficiaries/duplicates`: the likely duplicates of a centre,
/// most likely first, without the dismissed pairs and without people
/// already merged into another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DuplicatesPage {
    pub pairs: Vec<DuplicatePair>,
}

/// `POST /v1/beneficiaries/duplicates/dismiss`: these two are not one
/// person (either order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DismissRequest {
    #[serde(deserialize_with = "canonical_uuid")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    pub a: Uuid,
    #[serde(deserialize_with = "canonical_uuid")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    pub b: Uuid,
}

/// `POST /v1/beneficiaries/{id}/erase`: the person's erasure, as the
/// ledger keeps it (the same answer however often it is asked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErasureDto {
    pub id: Uuid,
    pub erased: bool,
    /// When the erasure was made (RFC 3339, UTC).
    pub erased_at: String,
    /// The manager or admin who made it.
    pub erased_by: Uuid,
    /// Every record of the person erased with it: the records merged into
    /// one another (`merged_into`) are one person, erased together.
    pub records: Vec<Uuid>,
}

/// `GET /v1/beneficiaries/{id}/export`: everything the server stores about
/// a person (a PDPA access request), as their centre's manager sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BeneficiaryExport {
    /// When the export was made (RFC 3339, UTC).
    pub exported_at: String,
    /// The merged record, with its consent history.
    pub record: RecordDto,
    /// Every stored change of the record, in log order, with its author.
    pub changes: Vec<ChangeDto>,
    /// The other records of the same person (merged into this one or it
    /// into them, along `merged_into`), each with its changes.
    pub merged: Vec<MergedExport>,
    /// The sessions that link the person, under any of their records.
    pub sessions: Vec<Uuid>,
    /// The erasure, when the person was erased.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub erasure: Option<ErasureDto>,
}

/// One more record of a person in their export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MergedExport {
    pub record: RecordDto,
    pub changes: Vec<ChangeDto>,
}
