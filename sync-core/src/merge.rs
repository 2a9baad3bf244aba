//! The merge engine: multi-value registers with superseded marks (PROTOCOL.md section 3).
//!
//! Each key of a record is a [`Register`]: the heads (writes no seen write has
//! superseded) and the superseded marks (every HLC some seen write named in its
//! base). Merging a write adds its base to the marks and keeps it as a head
//! unless it is itself marked, so the state is a function of the *set* of
//! writes seen: merging is commutative, associative and idempotent, even when a
//! write arrives before the write it was based on.
//!
//! Cost: a write costs O(|base| + |heads| + log |marks|). Marks are kept sorted;
//! since the writes they name are older than the writes naming them, new marks
//! almost always land at the end, so insertion does not move the history.

use std::collections::{BTreeMap, HashMap};

use rustc_hash::FxBuildHasher;
use smallvec::SmallVec;

use uuid::Uuid;

use crate::change::{Change, UnknownWrite, Write};
use crate::hlc::Hlc;
use crate::schema::{Collection, Key};
use crate::value::Value;

/// One write that is currently a head of its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub hlc: Hlc,
    pub value: Value,
    pub author: Uuid,
}

/// The merge state of one key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Register {
    /// Sorted by HLC, ascending: the last head has the greatest clock. A key
    /// almost always has one head, kept inline to save a pointer chase.
    heads: SmallVec<[Head; 1]>,
    /// Sorted, without duplicates.
    superseded: Vec<Hlc>,
}

impl Register {
    pub fn heads(&self) -> &[Head] {
        &self.heads
    }

    pub fn superseded(&self) -> &[Hlc] {
        &self.superseded
    }

    /// Rebuilds a register from stored parts, restoring the sort invariants.
    pub fn from_parts(mut heads: Vec<Head>, mut superseded: Vec<Hlc>) -> Register {
        superseded.sort_unstable();
        superseded.dedup();
        let mut register = Register {
            heads: SmallVec::with_capacity(heads.len()),
            superseded,
        };
        heads.sort_by_key(|h| h.hlc);
        for head in heads {
            register.add_head(head);
        }
        register
    }

    fn is_superseded(&self, hlc: &Hlc) -> bool {
        self.superseded.binary_search(hlc).is_ok()
    }

    fn mark(&mut self, hlc: Hlc) -> bool {
        match self.superseded.last() {
            // The common case: the newest mark so far.
            Some(last) if *last < hlc => self.superseded.push(hlc),
            None => self.superseded.push(hlc),
            _ => match self.superseded.binary_search(&hlc) {
                Ok(_) => return false,
                Err(pos) => self.superseded.insert(pos, hlc),
            },
        }
        if let Ok(pos) = self.heads.binary_search_by(|h| h.hlc.cmp(&hlc)) {
            self.heads.remove(pos);
        }
        true
    }

    /// Adds a head unless its clock is superseded. Two different writes with
    /// the same clock can only come from a broken client; the greater value is
    /// kept so every replica still ends up the same.
    fn add_head(&mut self, head: Head) -> bool {
        if self.is_superseded(&head.hlc) {
            return false;
        }
        match self.heads.binary_search_by(|h| h.hlc.cmp(&head.hlc)) {
            Ok(pos) => {
                let current = &mut self.heads[pos];
                if (&head.value, head.author) > (&current.value, current.author) {
                    *current = head;
                    true
                } else {
                    false
                }
            }
            Err(pos) => {
                self.heads.insert(pos, head);
                true
            }
        }
    }

    /// Merges one write; returns whether the register changed.
    pub fn merge_write(&mut self, hlc: Hlc, value: &Value, author: Uuid, base: &[Hlc]) -> bool {
        let mut changed = false;
        for b in base {
            changed |= self.mark(*b);
        }
        let head = Head {
            hlc,
            value: value.clone(),
            author,
        };
        changed | self.add_head(head)
    }

    /// Merges another replica's state of the same key.
    pub fn join(&mut self, other: &Register) {
        for mark in &other.superseded {
            self.mark(*mark);
        }
        for head in &other.heads {
            self.add_head(head.clone());
        }
    }
}

/// The merge state of one record: a register per key it has ever had written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordState {
    registers: BTreeMap<Key, Register>,
    /// Keys of a newer protocol this version does not know (their values are
    /// JSON texts): merged like any key and kept, shown nowhere, so nothing
    /// is lost when an older device relays or stores them.
    unknown: BTreeMap<String, Register>,
    /// The greatest HLC of any write merged: the record's version.
    version: Option<Hlc>,
}

impl RecordState {
    pub fn new() -> RecordState {
        RecordState::default()
    }

    /// True when no write has been merged into the record.
    pub fn is_empty(&self) -> bool {
        self.registers.is_empty() && self.unknown.is_empty()
    }

    /// The registers of keys this version does not know, by key name.
    pub fn unknown_registers(&self) -> impl Iterator<Item = (&str, &Register)> {
        self.unknown.iter().map(|(k, r)| (k.as_str(), r))
    }

    pub fn version(&self) -> Option<Hlc> {
        self.version
    }

    pub fn registers(&self) -> impl Iterator<Item = (&Key, &Register)> {
        self.registers.iter()
    }

    pub fn register(&self, key: &Key) -> Option<&Register> {
        self.registers.get(key)
    }

    /// An erasure reached this replica (contract section 10): every head of
    /// a personal field now holds that field's placeholder, its HLC, author
    /// and marks kept. Heads the server never stored (a local edit it
    /// refused, `erased`) are overwritten too. Whether anything changed.
    pub fn scrub_personal(&mut self) -> bool {
        let mut changed = false;
        for (key, register) in self.registers.iter_mut() {
            if let Some(placeholder) = key.field.erasure_placeholder() {
                for head in register.heads.iter_mut() {
                    if head.value != placeholder {
                        head.value = placeholder.clone();
                        changed = true;
                    }
                }
            }
        }
        changed
    }

    /// The current heads of a key (empty when it was never written).
    pub fn heads(&self, key: &Key) -> &[Head] {
        self.registers.get(key).map_or(&[], |r| r.heads())
    }

    /// Rebuilds a state from stored registers.
    pub fn from_registers(registers: impl IntoIterator<Item = (Key, Register)>) -> RecordState {
        RecordState::from_parts(registers, std::iter::empty())
    }

    /// Rebuilds a state from stored registers, known and unknown.
    pub fn from_parts(
        registers: impl IntoIterator<Item = (Key, Register)>,
        unknown: impl IntoIterator<Item = (String, Register)>,
    ) -> RecordState {
        let registers: BTreeMap<Key, Register> = registers.into_iter().collect();
        let unknown: BTreeMap<String, Register> = unknown.into_iter().collect();
        let version = registers
            .values()
            .chain(unknown.values())
            .flat_map(|r| {
                r.heads
                    .iter()
                    .map(|h| h.hlc)
                    .chain(r.superseded.iter().copied())
            })
            .max();
        RecordState {
            registers,
            unknown,
            version,
        }
    }

    /// Merges every write of a change; returns whether anything changed
    /// (false when the change had been merged before).
    pub fn apply(&mut self, change: &Change) -> bool {
        let mut changed = false;
        for write in &change.writes {
            changed |= self.apply_write(change.hlc, change.author, write);
        }
        changed
    }

    /// Merges one write stamped `hlc` by `author`.
    pub fn apply_write(&mut self, hlc: Hlc, author: Uuid, write: &Write) -> bool {
        self.version = self.version.max(Some(hlc));
        // Marks name writes that exist somewhere, so they count for the
        // version too; this keeps the version a function of the writes seen.
        if let Some(newest) = write.base.last() {
            self.version = self.version.max(Some(*newest));
        }
        self.registers.entry(write.key).or_default().merge_write(
            hlc,
            &write.value,
            author,
            &write.base,
        )
    }

    /// Merges a write of a key this version does not know (see
    /// [`Change::decode_pulled`]).
    pub fn apply_unknown(&mut self, hlc: Hlc, author: Uuid, write: &UnknownWrite) -> bool {
        self.version = self.version.max(Some(hlc));
        if let Some(newest) = write.base.last() {
            self.version = self.version.max(Some(*newest));
        }
        self.unknown
            .entry(write.key.clone())
            .or_default()
            .merge_write(hlc, &Value::text(&write.json), author, &write.base)
    }

    /// Merges another replica's state of the same record.
    pub fn join(&mut self, other: &RecordState) {
        for (key, register) in &other.registers {
            self.registers.entry(*key).or_default().join(register);
        }
        for (key, register) in &other.unknown {
            self.unknown.entry(key.clone()).or_default().join(register);
        }
        self.version = self.version.max(other.version);
    }
}

/// An in-memory set of records: the whole merge state of one replica.
/// Servers and devices keep theirs in SQLite; tests, benchmarks and
/// simulations use this one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Replica {
    records: HashMap<(Collection, Uuid), RecordState, FxBuildHasher>,
}

impl Replica {
    pub fn new() -> Replica {
        Replica::default()
    }

    pub fn apply(&mut self, change: &Change) -> bool {
        self.records
            .entry((change.collection, change.record_id))
            .or_default()
            .apply(change)
    }

    /// Merges changes in order, as [`Replica::apply`] one by one would, but
    /// touches the records of the next few changes before merging each
    /// window, so the CPU fetches their cold state from memory in parallel
    /// instead of one cache miss after another. Returns how many changed
    /// something.
    pub fn apply_all(&mut self, changes: &[Change]) -> usize {
        const WINDOW: usize = 16;
        let mut changed = 0;
        for window in changes.chunks(WINDOW) {
            let mut touched = 0usize;
            for change in window {
                if let Some(state) = self.records.get(&(change.collection, change.record_id)) {
                    // Reading the first key loads the record's map node; the
                    // loads of a window do not depend on each other, so they overlap.
                    touched ^= state
                        .registers
                        .first_key_value()
                        .map_or(0, |(k, _)| usize::from(k.field.code()));
                }
            }
            std::hint::black_box(touched);
            for change in window {
                changed += usize::from(self.apply(change));
            }
        }
        changed
    }

    pub fn get(&self, collection: Collection, id: Uuid) -> Option<&RecordState> {
        self.records.get(&(collection, id))
    }

    pub fn records(&self) -> impl Iterator<Item = (&(Collection, Uuid), &RecordState)> {
        self.records.iter()
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub fn join(&mut self, other: &Replica) {
        for (id, state) in &other.records {
            self.records.entry(*id).or_default().join(state);
        }
    }
}
