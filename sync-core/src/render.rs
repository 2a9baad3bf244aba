//! Reading a merged record: winning values, conflicts, the rendered record,
//! and the write that resolves a conflict.

use uuid::Uuid;

use crate::change::Write;
use crate::merge::{Head, RecordState, Register};
use crate::schema::{Collection, Field, Key, Kind};
use crate::value::Value;
use crate::wire::{ConflictDto, HeadDto, RecordDto};

/// A key whose heads hold two or more different values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict<'a> {
    pub key: Key,
    /// Every head, the winner first, then the others by descending HLC.
    pub heads: Vec<&'a Head>,
}

impl Register {
    /// The head whose value is shown: the greatest HLC, except that a set
    /// member is `true` if any head is (add wins).
    pub fn winner(&self) -> Option<&Head> {
        self.winner_for(None)
    }

    fn winner_for(&self, member: Option<Uuid>) -> Option<&Head> {
        let heads = self.heads();
        if member.is_some() {
            if let Some(added) = heads.iter().rev().find(|h| h.value == Value::Bool(true)) {
                return Some(added);
            }
        }
        heads.last()
    }

    pub fn in_conflict(&self) -> bool {
        let heads = self.heads();
        heads.iter().any(|h| h.value != heads[0].value)
    }
}

impl RecordState {
    /// The winning value of a key, or `None` when it has no heads.
    pub fn value(&self, key: &Key) -> Option<&Value> {
        self.register(key)
            .and_then(|r| r.winner_for(key.member))
            .map(|h| &h.value)
    }

    pub fn is_deleted(&self) -> bool {
        self.value(&Key::field(Field::Deleted)) == Some(&Value::Bool(true))
    }

    pub fn centre_id(&self) -> Option<&str> {
        self.value(&Key::field(Field::CentreId))
            .and_then(Value::as_str)
    }

    /// The elements of a set field whose member key is `true`.
    pub fn members(&self, field: Field) -> Vec<Uuid> {
        self.registers()
            .filter(|(k, _)| k.field == field)
            .filter_map(|(k, r)| match r.winner_for(k.member) {
                Some(h) if h.value == Value::Bool(true) => k.member,
                _ => None,
            })
            .collect()
    }

    /// Every key in conflict, in key order.
    pub fn conflicts(&self) -> Vec<Conflict<'_>> {
        self.registers()
            .filter(|(_, r)| r.in_conflict())
            .map(|(key, r)| {
                let winner = r.winner_for(key.member);
                let mut heads: Vec<&Head> = winner.into_iter().collect();
                heads.extend(
                    r.heads()
                        .iter()
                        .rev()
                        .filter(|h| Some(h.hlc) != winner.map(|w| w.hlc)),
                );
                Conflict { key: *key, heads }
            })
            .collect()
    }

    /// The write that resolves a conflict on `key` (or simply edits it): its
    /// base lists every current head, so it supersedes them all whatever the
    /// clocks say.
    pub fn resolve(&self, key: Key, value: Value) -> Write {
        let base = self.heads(&key).iter().map(|h| h.hlc).collect();
        Write::new(key, value, base)
    }

    /// The record as PROTOCOL.md section 6 shows it.
    pub fn render(&self, collection: Collection, id: Uuid) -> RecordDto {
        let mut fields = serde_json::Map::new();
        for spec in collection.fields() {
            match spec.kind {
                Kind::SetMember => {
                    let members = self
                        .members(spec.field)
                        .into_iter()
                        .map(|m| serde_json::Value::String(m.to_string()))
                        .collect();
                    fields.insert(
                        spec.field.name().to_owned(),
                        serde_json::Value::Array(members),
                    );
                }
                _ if spec.field == Field::Deleted => {}
                _ => {
                    if let Some(value) = self.value(&Key::field(spec.field)) {
                        fields.insert(spec.field.name().to_owned(), value.to_json());
                    }
                }
            }
        }
        let conflicts = self
            .conflicts()
            .into_iter()
            .map(|c| ConflictDto {
                key: c.key.to_string(),
                heads: c
                    .heads
                    .into_iter()
                    .map(|h| HeadDto {
                        value: h.value.to_json(),
                        hlc: h.hlc,
                        author: h.author,
                    })
                    .collect(),
            })
            .collect();
        RecordDto {
            id,
            collection: collection.name().to_owned(),
            centre_id: self.centre_id().map(str::to_owned),
            author_name: None,
            fields,
            deleted: self.is_deleted(),
            conflicts,
            version: self.version(),
            updated_at: self.version().map(|v| v.to_rfc3339()),
        }
    }
}
