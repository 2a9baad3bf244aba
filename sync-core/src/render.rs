//! Reading a merged record: winning values, conflicts, the rendered record,
//! and the write that resolves a conflict.

use std::collections::BTreeMap;

use uuid::Uuid;

use crate::hlc::Hlc;

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
            .map(|(key, r)| conflict_of(*key, r))
            .collect()
    }

    /// The write that resolves a conflict on `key` (or simply edits it): its
    /// base lists every current head, so it supersedes them all whatever the
    /// clocks say.
    pub fn resolve(&self, key: Key, value: Value) -> Write {
        let base = self.heads(&key).iter().map(|h| h.hlc).collect();
        Write::new(key, value, base)
    }

    pub fn is_erased(&self) -> bool {
        self.value(&Key::field(Field::Erased)) == Some(&Value::Bool(true))
    }

    /// The record as PROTOCOL.md section 6 shows it.
    pub fn render(&self, collection: Collection, id: Uuid) -> RecordDto {
        self.render_masked(collection, id, &BTreeMap::new())
    }

    /// [`RecordState::render`] on a replica that received some writes
    /// masked (contract section 10): `masks` holds what the server showed of
    /// each (the key and the write's HLC); where such a write wins, or is a
    /// head in conflict, it is shown as masked rather than as null.
    pub fn render_masked(
        &self,
        collection: Collection,
        id: Uuid,
        masks: &BTreeMap<(Key, Hlc), String>,
    ) -> RecordDto {
        let mut masked = BTreeMap::new();
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
                _ if spec.field == Field::Deleted || spec.field == Field::Erased => {}
                _ => {
                    let key = Key::field(spec.field);
                    if let Some(winner) = self.register(&key).and_then(Register::winner) {
                        fields.insert(spec.field.name().to_owned(), winner.value.to_json());
                        if let Some(shown) = masks.get(&(key, winner.hlc)) {
                            masked.insert(spec.field.name().to_owned(), shown.clone());
                        }
                    }
                }
            }
        }
        // A masked head holds null for a value this replica may not see;
        // it counts as equal to a value that ends in what the mask shows,
        // so that a replica does not see a conflict the server does not
        // (two writes of one number). Two different numbers ending alike
        // are then no conflict here: the server, and a manager, still see it.
        fn seen<'a>(masks: &'a BTreeMap<(Key, Hlc), String>, key: Key, h: &'a Head) -> Seen<'a> {
            match masks.get(&(key, h.hlc)) {
                Some(shown) => Seen::Masked(shown.as_str()),
                None => Seen::Value(&h.value),
            }
        }
        let in_conflict = |key: &Key, r: &Register| {
            if masks.is_empty() {
                return r.in_conflict();
            }
            let heads: Vec<Seen<'_>> = r.heads().iter().map(|h| seen(masks, *key, h)).collect();
            heads
                .iter()
                .enumerate()
                .any(|(i, a)| heads[i + 1..].iter().any(|b| !a.alike(b)))
        };
        let conflicts = self
            .registers()
            .filter(|(key, r)| in_conflict(key, r))
            .map(|(key, r)| conflict_of(*key, r))
            .map(|c| ConflictDto {
                key: c.key.to_string(),
                heads: c
                    .heads
                    .into_iter()
                    .map(|h| HeadDto {
                        value: h.value.to_json(),
                        hlc: h.hlc,
                        author: h.author,
                        masked: masks.get(&(c.key, h.hlc)).cloned(),
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
            masked,
            deleted: self.is_deleted(),
            erased: self.is_erased(),
            consent_history: None,
            conflicts,
            version: self.version(),
            updated_at: self.version().map(|v| v.to_rfc3339()),
        }
    }
}

/// A register's heads as a conflict lists them: the winner first, then the
/// others by descending HLC.
fn conflict_of(key: Key, r: &Register) -> Conflict<'_> {
    let winner = r.winner_for(key.member);
    let mut heads: Vec<&Head> = winner.into_iter().collect();
    heads.extend(
        r.heads()
            .iter()
            .rev()
            .filter(|h| Some(h.hlc) != winner.map(|w| w.hlc)),
    );
    Conflict { key, heads }
}

/// A head's value as a replica holding masked writes knows it.
enum Seen<'a> {
    Value(&'a Value),
    Masked(&'a str),
}

impl Seen<'_> {
    fn alike(&self, other: &Seen<'_>) -> bool {
        let hint_of = |v: &Value| v.as_str().map(mask_hint);
        match (self, other) {
            (Seen::Value(a), Seen::Value(b)) => a == b,
            (Seen::Masked(a), Seen::Masked(b)) => a == b,
            (Seen::Masked(m), Seen::Value(v)) | (Seen::Value(v), Seen::Masked(m)) => {
                hint_of(v).as_deref() == Some(*m)
            }
        }
    }
}

/// What a reader who may not see a value is shown of it: its last 4
/// characters (of a phone number or national id, the last 4 digits).
pub fn mask_hint(text: &str) -> String {
    let count = text.chars().count();
    text.chars().skip(count.saturating_sub(4)).collect()
}

impl RecordDto {
    /// Masks the keys a volunteer sees only on the beneficiaries they
    /// created (`phone`, `national_id`; contract section 10): each value,
    /// winning or in conflict, becomes null with its last 4 characters in
    /// `masked`.
    pub fn mask_personal(&mut self) {
        let masked_key = |name: &str| {
            Key::parse(Collection::Beneficiaries, name)
                .is_some_and(|(k, _)| k.field.is_masked_for_others())
        };
        for (name, value) in self.fields.iter_mut() {
            if masked_key(name) {
                if let Some(text) = value.as_str() {
                    self.masked.insert(name.clone(), mask_hint(text));
                    *value = serde_json::Value::Null;
                }
            }
        }
        // A conflict on a masked key is judged on what the reader sees, as
        // a phone holding masked writes judges it (`render_masked`): heads
        // that all end alike are no conflict to them. Else the conflict
        // would tell two numbers ending alike apart, and answer a guess
        // pushed against the number.
        self.conflicts.retain_mut(|conflict| {
            if !masked_key(&conflict.key) {
                return true;
            }
            for head in &mut conflict.heads {
                if let Some(text) = head.value.as_str() {
                    head.masked = Some(mask_hint(text));
                    head.value = serde_json::Value::Null;
                }
            }
            let shown = |h: &HeadDto| (h.value.clone(), h.masked.clone());
            conflict
                .heads
                .iter()
                .any(|h| shown(h) != shown(&conflict.heads[0]))
        });
    }
}
