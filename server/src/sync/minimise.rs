//! What a pull sends to whom, beyond which records a reader may read:
//!
//! - **Minimisation** (contract section 10): a volunteer gets the `phone`
//!   and `national_id` writes of a beneficiary someone else created masked:
//!   `{"value": null, "masked": "<last 4>", "base": [...]}`, with the
//!   write's real HLC and base, so the phone merges as the server does.
//! - **Version-1 clients** (section 7): a client that does not say it
//!   speaks 1.1 gets changes without the keys 1.1 added, and without
//!   `masked`; a change left with no key is skipped (the cursor moves past).
//!
//! Record reads and exports mask with the same rule (`records::render`).
//! The stored bodies are sent as they are whenever nothing applies: only a
//! body that could need it is parsed, found by a byte search that a key in
//! a string value cannot fool (JSON escapes its quotes).

use std::collections::HashMap;

use sync_core::schema::{Field, Key};
use sync_core::wire::ChangeDto;
use sync_core::{mask_hint, Collection, Principal, Role};
use uuid::Uuid;

/// Who is pulling, as far as rewriting changes goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reader {
    /// A volunteer: masked writes on beneficiaries they did not create.
    pub volunteer: Option<Uuid>,
    /// The client said `Asa-Protocol: 1.1` (or later).
    pub speaks_v1_1: bool,
}

impl Reader {
    pub fn new(principal: &Principal, speaks_v1_1: bool) -> Reader {
        Reader {
            volunteer: (principal.role == Role::Volunteer).then_some(principal.user_id),
            speaks_v1_1,
        }
    }

    /// A reader who gets every stored body as it is (an admin's tools).
    pub fn everything() -> Reader {
        Reader {
            volunteer: None,
            speaks_v1_1: true,
        }
    }

    /// Whether a stored body may need rewriting for this reader.
    fn may_rewrite(&self, body: &str) -> bool {
        let masks = self.volunteer.is_some()
            && body.contains(r#""collection":"beneficiaries""#)
            && MASKED_KEYS.iter().any(|k| body.contains(k));
        masks || (!self.speaks_v1_1 && V1_1_KEYS.iter().any(|k| body.contains(k)))
    }
}

/// The keys a volunteer may see masked, as they open a write in a body.
const MASKED_KEYS: [&str; 2] = [r#""phone":{"#, r#""national_id":{"#];
/// What a version-1 client cannot read, as it opens a write in a body: the
/// keys version 1.1 added, and a withdrawal of consent (version 1 refuses
/// `consent: false` and would set the whole change aside).
const V1_1_KEYS: [&str; 4] = [
    r#""national_id":{"#,
    r#""consent_version":{"#,
    r#""_erased":{"#,
    r#""consent":{"value":false"#,
];

/// A page of stored changes on its way to a reader: the bodies that may
/// need rewriting are parsed, and the beneficiaries whose creator decides
/// it are listed, so that the store can look them up in one query.
#[derive(Debug)]
pub struct Outgoing {
    rows: Vec<(i64, Body)>,
    reader: Reader,
}

#[derive(Debug)]
enum Body {
    AsStored(String),
    /// The stored body, sent as it is unless a rule changes something.
    Parsed(String, Box<ChangeDto>),
    /// A stored body that does not read as a change.
    Unreadable,
}

impl Outgoing {
    pub fn new(rows: Vec<(i64, String)>, reader: &Reader) -> Outgoing {
        let rows = rows
            .into_iter()
            .map(|(seq, body)| {
                if !reader.may_rewrite(&body) {
                    return (seq, Body::AsStored(body));
                }
                match serde_json::from_str::<ChangeDto>(&body) {
                    Ok(dto) => (seq, Body::Parsed(body, Box::new(dto))),
                    // Every stored body was written from a ChangeDto; one
                    // that does not read back could hold what this reader
                    // may not see: it is not sent (the cursor passes it).
                    Err(e) => {
                        tracing::error!(seq, error = %e, "a stored change does not parse; not sent");
                        (seq, Body::Unreadable)
                    }
                }
            })
            .collect();
        Outgoing {
            rows,
            reader: reader.clone(),
        }
    }

    /// The beneficiaries whose creator decides whether their writes are
    /// masked for this reader.
    pub fn creators_needed(&self) -> Vec<Uuid> {
        if self.reader.volunteer.is_none() {
            return Vec::new();
        }
        let mut ids: Vec<Uuid> = self
            .rows
            .iter()
            .filter_map(|(_, body)| match body {
                Body::Parsed(_, dto) if dto.collection == Collection::Beneficiaries.name() => {
                    dto.record_id.parse().ok()
                }
                _ => None,
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// The bodies to send, with their log positions; `None` for a change
    /// left empty for a version-1 client (skipped, but passed by the
    /// cursor). `creators` maps each record of [`Outgoing::creators_needed`]
    /// to who created it.
    pub fn finish(self, creators: &HashMap<Uuid, Option<Uuid>>) -> Vec<(i64, Option<String>)> {
        let reader = self.reader;
        self.rows
            .into_iter()
            .map(|(seq, body)| match body {
                Body::AsStored(body) => (seq, Some(body)),
                Body::Unreadable => (seq, None),
                Body::Parsed(stored, mut dto) => {
                    let mask = reader.volunteer.is_some_and(|me| {
                        let creator = dto
                            .record_id
                            .parse::<Uuid>()
                            .ok()
                            .and_then(|id| creators.get(&id).copied().flatten());
                        creator != Some(me)
                    });
                    let body = match rewrite(&mut dto, mask, reader.speaks_v1_1) {
                        Rewrite::Unchanged => Some(stored),
                        Rewrite::Changed => serde_json::to_string(&dto).ok(),
                        Rewrite::Empty => None,
                    };
                    (seq, body)
                }
            })
            .collect()
    }
}

enum Rewrite {
    Unchanged,
    Changed,
    /// No key is left: the change is not sent.
    Empty,
}

/// Masks and strips one change.
fn rewrite(dto: &mut ChangeDto, mask: bool, speaks_v1_1: bool) -> Rewrite {
    let mut changed = false;
    let collection = Collection::parse(&dto.collection);
    let key_of = |name: &str| collection.and_then(|c| Key::parse(c, name)).map(|(k, _)| k);
    if mask {
        for (name, write) in dto.fields.iter_mut() {
            let masked = key_of(name).is_some_and(|k| k.field.is_masked_for_others());
            if let (true, Some(text)) = (masked, write.value.as_str()) {
                write.masked = speaks_v1_1.then(|| mask_hint(text));
                write.value = serde_json::Value::Null;
                changed = true;
            }
        }
    }
    if !speaks_v1_1 {
        let before = dto.fields.len();
        dto.fields.retain(|name, write| {
            let key = key_of(name);
            let newer = key.is_some_and(|k| k.field.since_v1_1());
            let withdrawal = key.is_some_and(|k| k.field == Field::Consent)
                && write.value == serde_json::Value::Bool(false);
            !newer && !withdrawal
        });
        changed |= dto.fields.len() != before;
    }
    if dto.fields.is_empty() {
        Rewrite::Empty
    } else if changed {
        Rewrite::Changed
    } else {
        Rewrite::Unchanged
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(fields: serde_json::Value) -> String {
        json!({
            "id": "0190a000-0000-7000-8000-000000000001", "device_seq": 1,
            "collection": "beneficiaries", "record_id": "0190a000-0000-7000-8000-0000000000b1",
            "hlc": "1790000000000-0000-0190a000-0000-7000-8000-0000000000d1",
            "fields": fields, "author": "0190a000-0000-7000-8000-0000000000a1",
        })
        .to_string()
    }

    fn out(
        rows: Vec<(i64, String)>,
        reader: &Reader,
        creator: Option<Uuid>,
    ) -> Vec<Option<String>> {
        let outgoing = Outgoing::new(rows, reader);
        let creators = outgoing
            .creators_needed()
            .into_iter()
            .map(|id| (id, creator))
            .collect();
        outgoing
            .finish(&creators)
            .into_iter()
            .map(|(_, b)| b)
            .collect()
    }

    #[test]
    fn a_volunteer_gets_others_phone_masked_and_their_own_whole() {
        let me: Uuid = "0190a000-0000-7000-8000-0000000000a2".parse().unwrap();
        let reader = Reader {
            volunteer: Some(me),
            speaks_v1_1: true,
        };
        let stored = body(json!({"phone": {"value": "0812345678", "base": []},
            "display_name": {"value": "มาลี \"phone\":{"}}));
        let sent = out(vec![(1, stored.clone())], &reader, None);
        let dto: ChangeDto = serde_json::from_str(sent[0].as_deref().unwrap()).unwrap();
        assert_eq!(dto.fields["phone"].value, serde_json::Value::Null);
        assert_eq!(dto.fields["phone"].masked.as_deref(), Some("5678"));
        assert_eq!(dto.fields["display_name"].value, json!("มาลี \"phone\":{"));
        assert_eq!(
            dto.hlc,
            "1790000000000-0000-0190a000-0000-7000-8000-0000000000d1"
        );

        assert_eq!(
            out(vec![(1, stored.clone())], &reader, Some(me)),
            [Some(stored)]
        );
    }

    #[test]
    fn a_version_1_client_gets_no_1_1_key_and_no_empty_change() {
        let reader = Reader {
            volunteer: None,
            speaks_v1_1: false,
        };
        let only_new = body(json!({"national_id": {"value": "1101700230708"}}));
        let mixed = body(json!({"national_id": {"value": "1101700230708"},
            "phone": {"value": "0812345678"}}));
        let sent = out(vec![(1, only_new), (2, mixed)], &reader, None);
        assert_eq!(sent[0], None, "a change of 1.1 keys only is skipped");
        let dto: ChangeDto = serde_json::from_str(sent[1].as_deref().unwrap()).unwrap();
        assert_eq!(dto.fields.keys().collect::<Vec<_>>(), ["phone"]);
        assert_eq!(dto.fields["phone"].value, json!("0812345678"));
    }

    #[test]
    fn a_version_1_client_gets_no_withdrawal_of_consent_it_would_refuse() {
        let reader = Reader {
            volunteer: None,
            speaks_v1_1: false,
        };
        let withdrawal = body(json!({"consent": {"value": false}}));
        let with_more =
            body(json!({"consent": {"value": false}, "village_code": {"value": "50010204"}}));
        let given = body(json!({"consent": {"value": true}}));
        let sent = out(
            vec![(1, withdrawal), (2, with_more), (3, given.clone())],
            &reader,
            None,
        );
        assert_eq!(sent[0], None);
        let dto: ChangeDto = serde_json::from_str(sent[1].as_deref().unwrap()).unwrap();
        assert_eq!(dto.fields.keys().collect::<Vec<_>>(), ["village_code"]);
        assert_eq!(
            sent[2].as_deref(),
            Some(given.as_str()),
            "consent given is version 1's"
        );
    }

    #[test]
    fn a_version_1_volunteer_gets_a_masked_value_as_null_without_the_new_attribute() {
        let reader = Reader {
            volunteer: Some(Uuid::now_v7()),
            speaks_v1_1: false,
        };
        let sent = out(
            vec![(1, body(json!({"phone": {"value": "0812345678"}})))],
            &reader,
            None,
        );
        let text = sent[0].as_deref().unwrap();
        assert!(!text.contains("masked") && !text.contains("5678"), "{text}");
    }
}
