//! A change: one edit of one record by one device (PROTOCOL.md section 5).

use std::collections::BTreeMap;

use uuid::Uuid;

use crate::hlc::{parse_canonical_uuid, Hlc, Node};
use crate::schema::{Collection, Key};
use crate::validate::{check_value, ChangeError, Rules, MAX_BASE_LEN, MAX_WRITES_PER_CHANGE};
use crate::value::Value;
use crate::wire::{ChangeDto, WriteDto};

/// A decoded, validated change. Writes are sorted by key and each base is
/// sorted and free of duplicates, so two changes with the same content are
/// equal whatever order their JSON listed things in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub id: Uuid,
    pub device_seq: u64,
    pub collection: Collection,
    pub record_id: Uuid,
    pub hlc: Hlc,
    /// The user who made the change (a session's author is its volunteer).
    pub author: Uuid,
    pub writes: Vec<Write>,
}

/// One key's new value, with the heads its writer saw for that key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub key: Key,
    pub value: Value,
    pub base: Vec<Hlc>,
}

impl Write {
    pub fn new(key: Key, value: Value, base: Vec<Hlc>) -> Write {
        let mut base = base;
        base.sort_unstable();
        base.dedup();
        Write { key, value, base }
    }
}

/// A write of a key this version of the schema does not know, from a change
/// a newer server relayed: kept in the record's merge state, shown nowhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownWrite {
    pub key: String,
    /// The value as JSON text.
    pub json: String,
    pub base: Vec<Hlc>,
}

/// A pulled change as [`Change::decode_pulled`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulled {
    pub change: Change,
    /// Writes of keys this version does not know, kept aside.
    pub unknown: Vec<UnknownWrite>,
    /// Writes the server masked for this reader: the key and what it shows
    /// of the value (its last 4 characters). Their value in `change` is null.
    pub masked: Vec<(Key, String)>,
}

impl Change {
    /// Decodes and validates everything a change says about itself. `author` is
    /// the user it is attributed to (the server takes it from the token).
    pub fn decode(dto: &ChangeDto, author: Uuid, rules: &Rules) -> Result<Change, ChangeError> {
        Change::decode_with(dto, author, rules, None)
    }

    /// Decodes a pulled change as [`Change::decode`] does, except that a key
    /// the collection does not know (one a newer protocol added) is returned
    /// aside instead of failing the whole change (contract section 7).
    pub fn decode_pulled(
        dto: &ChangeDto,
        author: Uuid,
        rules: &Rules,
    ) -> Result<Pulled, ChangeError> {
        let mut unknown = Vec::new();
        let change = Change::decode_with(dto, author, rules, Some(&mut unknown))?;
        let masked = dto
            .fields
            .iter()
            .filter_map(|(name, w)| {
                let shown = w.masked.as_ref()?;
                let (key, _) = Key::parse(change.collection, name)?;
                Some((key, shown.clone()))
            })
            .collect();
        Ok(Pulled {
            change,
            unknown,
            masked,
        })
    }

    fn decode_with(
        dto: &ChangeDto,
        author: Uuid,
        rules: &Rules,
        mut unknown: Option<&mut Vec<UnknownWrite>>,
    ) -> Result<Change, ChangeError> {
        let (id, record_id) = dto.ids()?;
        let collection = Collection::parse(&dto.collection)
            .ok_or_else(|| ChangeError::UnknownCollection(dto.collection.clone()))?;
        let hlc: Hlc =
            dto.hlc
                .parse()
                .map_err(|e: crate::hlc::HlcParseError| ChangeError::InvalidHlc {
                    hlc: dto.hlc.clone(),
                    reason: e.to_string(),
                })?;
        if dto.fields.is_empty() {
            return Err(ChangeError::EmptyChange);
        }
        if dto.fields.len() > MAX_WRITES_PER_CHANGE {
            return Err(ChangeError::TooManyFields {
                count: dto.fields.len(),
                max: MAX_WRITES_PER_CHANGE,
            });
        }
        let mut writes = Vec::with_capacity(dto.fields.len());
        for (name, write) in &dto.fields {
            let Some((key, spec)) = Key::parse(collection, name) else {
                match unknown.as_deref_mut() {
                    Some(aside) => {
                        let mut base = decode_base(name, &write.base)?;
                        base.sort_unstable();
                        base.dedup();
                        aside.push(UnknownWrite {
                            key: name.clone(),
                            json: write.value.to_string(),
                            base,
                        });
                        continue;
                    }
                    None => {
                        return Err(ChangeError::UnknownField {
                            collection: collection.name().to_owned(),
                            key: name.clone(),
                        })
                    }
                }
            };
            if unknown.is_none() {
                if spec.server_only {
                    return Err(ChangeError::ServerOnlyField { key: name.clone() });
                }
                if write.masked.is_some() {
                    return Err(ChangeError::InvalidValue {
                        key: name.clone(),
                        reason:
                            "carries `masked`, which only the server sets: send the value alone"
                                .to_owned(),
                    });
                }
            }
            // A masked write's null stands for a value this reader may not
            // see, whatever the key's type.
            let value = if write.masked.is_some() && unknown.is_some() && write.value.is_null() {
                Value::Null
            } else {
                check_value(spec, name, &write.value, rules)?
            };
            let base = decode_base(name, &write.base)?;
            writes.push(Write::new(key, value, base));
        }
        writes.sort_by_key(|w| w.key);
        Ok(Change {
            id,
            device_seq: dto.device_seq,
            collection,
            record_id,
            hlc,
            author,
            writes,
        })
    }

    /// Checks that the change was stamped by `device`, as every pushed change must be.
    pub fn check_origin(&self, device: Uuid) -> Result<(), ChangeError> {
        if self.hlc.node() == Node::Device(device) {
            Ok(())
        } else {
            Err(ChangeError::InvalidHlc {
                hlc: self.hlc.to_string(),
                reason: format!("its node must be the pushing device {device}"),
            })
        }
    }

    /// The wire form; `with_author` adds the author as pull responses do.
    pub fn to_dto(&self, with_author: bool) -> ChangeDto {
        let fields: BTreeMap<String, WriteDto> = self
            .writes
            .iter()
            .map(|w| {
                let dto = WriteDto {
                    value: w.value.to_json(),
                    base: w.base.iter().map(Hlc::to_string).collect(),
                    masked: None,
                };
                (w.key.to_string(), dto)
            })
            .collect();
        ChangeDto {
            id: self.id.to_string(),
            device_seq: self.device_seq,
            collection: self.collection.name().to_owned(),
            record_id: self.record_id.to_string(),
            hlc: self.hlc.to_string(),
            fields,
            author: with_author.then_some(self.author),
        }
    }

    /// Whether `other` carries the same edit. The author is not compared: it is
    /// attributed by whoever decoded the change, not part of what the device sent.
    pub fn same_content(&self, other: &Change) -> bool {
        self.device_seq == other.device_seq
            && self.collection == other.collection
            && self.record_id == other.record_id
            && self.hlc == other.hlc
            && self.writes == other.writes
    }
}

impl ChangeDto {
    /// Overwrites the value of each write of a personal field (the keys an
    /// erasure overwrites, contract section 10) with its placeholder,
    /// keeping the write's base and the change's HLC. Whether anything
    /// changed.
    pub fn scrub_personal(&mut self) -> bool {
        let Some(collection) = Collection::parse(&self.collection) else {
            return false;
        };
        let mut changed = false;
        for (name, write) in self.fields.iter_mut() {
            let placeholder = Key::parse(collection, name)
                .and_then(|(k, _)| k.field.erasure_placeholder())
                .map(|v| v.to_json());
            if let Some(placeholder) = placeholder {
                if write.value != placeholder || write.masked.is_some() {
                    write.value = placeholder;
                    write.masked = None;
                    changed = true;
                }
            }
        }
        changed
    }

    /// [`ChangeDto::scrub_personal`] on a change's JSON text: the text with
    /// the personal fields overwritten, or `None` when it has none to
    /// overwrite (or does not read as a change).
    pub fn scrubbed_json(body: &str) -> Option<String> {
        let mut dto: ChangeDto = serde_json::from_str(body).ok()?;
        dto.scrub_personal()
            .then(|| serde_json::to_string(&dto).ok())
            .flatten()
    }

    /// The change's id and record id, each only in canonical form.
    pub fn ids(&self) -> Result<(Uuid, Uuid), ChangeError> {
        let parse = |field: &'static str, text: &str| {
            parse_canonical_uuid(text).ok_or_else(|| ChangeError::InvalidId {
                field,
                id: text.to_owned(),
            })
        };
        Ok((parse("id", &self.id)?, parse("record_id", &self.record_id)?))
    }
}

fn decode_base(key: &str, base: &[String]) -> Result<Vec<Hlc>, ChangeError> {
    if base.len() > MAX_BASE_LEN {
        return Err(ChangeError::InvalidBase {
            key: key.to_owned(),
            reason: format!("at most {MAX_BASE_LEN} heads, got {}", base.len()),
        });
    }
    base.iter()
        .map(|s| {
            s.parse()
                .map_err(|e: crate::hlc::HlcParseError| ChangeError::InvalidBase {
                    key: key.to_owned(),
                    reason: format!("`{s}`: {e}"),
                })
        })
        .collect()
}
