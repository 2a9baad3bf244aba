//! Canonical views of merged records, so a device's state and the server's
//! can be compared byte for byte: fields sorted, set members sorted, empty
//! sets left out, conflict heads sorted by HLC, timestamps of the server's
//! bookkeeping (`updated_at`) left out.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use client_sdk::{Client, Collection, FieldValue, Query, Role, UserInfo};
use serde_json::{json, Map, Value};
use uuid::Uuid;

/// Records by (collection, id), each rendered as canonical JSON text.
pub type View = BTreeMap<(String, Uuid), String>;

/// Everything a device holds, deleted records included.
pub fn device_view(client: &Client) -> View {
    let query = Query {
        include_deleted: true,
        ..Query::default()
    };
    let mut view = View::new();
    for collection in Collection::ALL {
        for r in client.records(collection, &query).expect("device records") {
            let conflicts = r
                .conflicts
                .iter()
                .map(|c| {
                    let heads = c
                        .heads
                        .iter()
                        .map(|h| json!({"value": scalar(&h.value), "hlc": h.hlc, "author": h.author.to_string()}))
                        .collect();
                    (c.key.to_string(), heads)
                })
                .collect();
            let text = canonical(
                collection.name(),
                r.id,
                &json!(r.centre_id),
                &with_masks(&r),
                r.deleted,
                conflicts,
                &json!(r.version),
            );
            view.insert((collection.name().to_owned(), r.id), text);
        }
    }
    view
}

/// A record from the server's records API, with what decides who may read it.
#[derive(Debug)]
pub struct ServerRecord {
    pub collection: String,
    pub id: Uuid,
    pub centre_id: Option<String>,
    pub volunteer_id: Option<String>,
    pub text: String,
}

pub fn server_record(collection: &str, record: &Value) -> ServerRecord {
    let id = record["id"]
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
        .expect("record id");
    let empty = Map::new();
    let fields = record["fields"].as_object().unwrap_or(&empty);
    let conflicts = record["conflicts"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|c| {
                    let heads = c["heads"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                        .into_iter()
                        .map(|h| json!({"value": h["value"], "hlc": h["hlc"], "author": h["author"]}))
                        .collect();
                    (c["key"].as_str().unwrap_or_default().to_owned(), heads)
                })
                .collect()
        })
        .unwrap_or_default();
    ServerRecord {
        collection: collection.to_owned(),
        id,
        centre_id: record["centre_id"].as_str().map(str::to_owned),
        volunteer_id: fields
            .get("volunteer_id")
            .and_then(Value::as_str)
            .map(str::to_owned),
        text: canonical(
            collection,
            id,
            &record["centre_id"],
            fields,
            record["deleted"] == json!(true),
            conflicts,
            &record["version"],
        ),
    }
}

/// The part of the server's records that `user` may read (PROTOCOL.md 6).
pub fn scoped(records: &[ServerRecord], user: &UserInfo) -> View {
    let id = user.id.to_string();
    records
        .iter()
        .filter(|r| match user.role {
            Role::Admin => true,
            Role::Manager => r.centre_id == user.centre_id,
            _ if r.collection == "sessions" => r.volunteer_id.as_deref() == Some(id.as_str()),
            _ => r.centre_id == user.centre_id,
        })
        .map(|r| ((r.collection.clone(), r.id), r.text.clone()))
        .collect()
}

/// A short fingerprint of a view, to print beside the figures.
pub fn fingerprint(view: &View) -> u64 {
    let mut hasher = DefaultHasher::new();
    for (key, text) in view {
        key.hash(&mut hasher);
        text.hash(&mut hasher);
    }
    hasher.finish()
}

/// Where two views differ, at most `limit` lines of it.
pub fn differences(device: &View, server: &View, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    for (key, text) in server {
        match device.get(key) {
            None => out.push(format!("missing on the device: {key:?} {text}")),
            Some(d) if d != text => {
                out.push(format!("differs: {key:?}\n  device {d}\n  server {text}"))
            }
            Some(_) => {}
        }
    }
    for key in device.keys().filter(|k| !server.contains_key(*k)) {
        out.push(format!("only on the device: {key:?}"));
    }
    out.truncate(limit);
    out
}

/// A device record's fields as the server's API shows them, except that a
/// masked value shows what the device holds of it (`{"masked": "5678"}`).
fn with_masks(r: &client_sdk::Record) -> Map<String, Value> {
    let mut fields: Map<String, Value> =
        serde_json::from_str(&r.fields_json()).expect("a JSON object");
    for (key, value) in &r.fields {
        if let FieldValue::Masked(_) = value {
            fields.insert(key.clone(), scalar(value));
        }
    }
    fields
}

/// A volunteer gets the `phone` and `national_id` of beneficiaries they did
/// not create masked (contract section 10): those two keys are compared as
/// everyone may see them, by their last 4 characters.
fn as_masked(key: &str, value: &Value) -> Value {
    match (key, value) {
        ("phone" | "national_id", Value::String(text)) => {
            let count = text.chars().count();
            json!({ "masked": text.chars().skip(count.saturating_sub(4)).collect::<String>() })
        }
        _ => value.clone(),
    }
}

fn scalar(value: &FieldValue) -> Value {
    match value {
        FieldValue::Null => Value::Null,
        FieldValue::Bool(b) => json!(b),
        FieldValue::Int(i) => json!(i),
        FieldValue::Float(f) => json!(f),
        FieldValue::Text(s) => json!(s),
        FieldValue::Json(text) => serde_json::from_str(text).expect("kept as JSON"),
        FieldValue::Masked(shown) => json!({ "masked": shown }),
    }
}

fn canonical(
    collection: &str,
    id: Uuid,
    centre: &Value,
    fields: &Map<String, Value>,
    deleted: bool,
    mut conflicts: Vec<(String, Vec<Value>)>,
    version: &Value,
) -> String {
    let mut sorted = BTreeMap::new();
    for (key, value) in fields {
        let value = match value {
            // A set with no members may be shown as [] or left out.
            Value::Array(items) if items.is_empty() => continue,
            Value::Array(items) => {
                let mut items: Vec<String> = items.iter().map(Value::to_string).collect();
                items.sort();
                json!(items)
            }
            other => as_masked(key, other),
        };
        sorted.insert(key.clone(), value.to_string());
    }
    conflicts.sort_by(|a, b| a.0.cmp(&b.0));
    let conflicts: Vec<String> = conflicts
        .into_iter()
        .map(|(key, mut heads)| {
            for head in &mut heads {
                head["value"] = as_masked(&key, &head["value"]);
            }
            heads.sort_by(|a, b| a["hlc"].to_string().cmp(&b["hlc"].to_string()));
            let heads: Vec<String> = heads.iter().map(Value::to_string).collect();
            format!("{key}={}", heads.join(","))
        })
        .collect();
    format!(
        "{collection} {id} centre={centre} deleted={deleted} version={version} fields={sorted:?} conflicts={conflicts:?}"
    )
}
