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
    pub id: Uuid,
    pub device_seq: u64,
    pub collection: String,
    pub record_id: Uuid,
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
    pub id: Uuid,
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
    pub device_id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserDto {
    pub id: Uuid,
    pub username: String,
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
pub struct CreateUserRequest {
    pub username: String,
    pub password: String,
    pub role: String,
    #[serde(default)]
    pub centre_id: Option<String>,
}

/// A page of merged records from `GET /v1/records/{collection}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordsPage {
    pub records: Vec<RecordDto>,
    pub next_page_token: Option<String>,
}
