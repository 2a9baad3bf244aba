//! The merge benchmarks' workload: 1,000,000 changes to 10,000 records from
//! 200 devices, about 20% of edits concurrent with the one before (a stale
//! base). Seeded, so every run and every benchmark merges the same changes.

use std::sync::Arc;

use sync_core::{Change, Collection, Field, Hlc, Key, Node, RecordState, Value, Write};
use uuid::Uuid;

pub const RECORDS: usize = 10_000;
pub const DEVICES: usize = 200;
pub const CHANGES: usize = 1_000_000;
const CONCURRENT_PERCENT: u64 = 20;
const T0: u64 = 1_764_400_000_000;

/// splitmix64: a tiny seeded generator, so every run merges the same workload.
struct Mix(u64);

impl Mix {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    }
}

pub struct Workload {
    pub changes: Vec<Change>,
    pub concurrent: usize,
}

/// Builds the workload in rounds: each round edits every record once, in a
/// random record order, as a server would receive a fleet's pushes.
pub fn workload() -> Workload {
    let mut mix = Mix(7);
    let devices: Vec<Uuid> = (0..DEVICES as u128)
        .map(|i| Uuid::from_u128(0xd000 + i))
        .collect();
    let records: Vec<Uuid> = (0..RECORDS as u128)
        .map(|i| Uuid::from_u128(0x7000_0000 + i))
        .collect();
    let notes: Vec<Value> = (0..64)
        .map(|i| Value::Text(Arc::from(format!("ช่วยลงทะเบียนรับสวัสดิการแห่งรัฐ ครั้งที่ {i}"))))
        .collect();
    let members: Vec<Uuid> = (0..32u128).map(|i| Uuid::from_u128(0xbe00 + i)).collect();
    // The generator tracks each record's state to know the heads an editor saw,
    // and the heads one edit earlier, which a concurrent editor saw instead.
    let mut states = vec![RecordState::new(); RECORDS];
    let mut previous: Vec<Vec<(Key, Vec<Hlc>)>> = vec![Vec::new(); RECORDS];
    let mut seqs = vec![0u64; DEVICES];
    let mut changes = Vec::with_capacity(CHANGES);
    let mut concurrent = 0;
    let rounds = CHANGES / RECORDS;
    let mut order: Vec<usize> = (0..RECORDS).collect();
    for round in 0..rounds {
        for i in (1..order.len()).rev() {
            order.swap(i, mix.below(i as u64 + 1) as usize);
        }
        for (slot, &r) in order.iter().enumerate() {
            let d = mix.below(DEVICES as u64) as usize;
            seqs[d] += 1;
            let wall = T0 + (round * RECORDS + slot) as u64;
            let hlc = Hlc::new(wall, 0, Node::Device(devices[d]));
            let writes = if round == 0 {
                create_writes(devices[d], &notes)
            } else {
                let key = match mix.below(5) {
                    0 | 1 => Key::field(Field::Notes),
                    2 => Key::field(Field::Outcome),
                    3 => Key::field(Field::DurationMin),
                    _ => Key::member(Field::BeneficiaryIds, members[mix.below(32) as usize]),
                };
                let value = match key.field {
                    Field::Notes => notes[mix.below(64) as usize].clone(),
                    Field::Outcome => {
                        Value::text(["resolved", "referred", "follow_up"][mix.below(3) as usize])
                    }
                    Field::DurationMin => Value::Int(1 + mix.below(240) as i64),
                    _ => Value::Bool(mix.below(4) != 0),
                };
                let stale = previous[r]
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, b)| b.clone());
                let base = match stale {
                    Some(b) if mix.below(100) < CONCURRENT_PERCENT => {
                        concurrent += 1;
                        b
                    }
                    _ => states[r].heads(&key).iter().map(|h| h.hlc).collect(),
                };
                let seen: Vec<Hlc> = states[r].heads(&key).iter().map(|h| h.hlc).collect();
                previous[r].retain(|(k, _)| *k != key);
                previous[r].push((key, seen));
                vec![Write::new(key, value, base)]
            };
            let change = Change {
                id: Uuid::from_u128(changes.len() as u128),
                device_seq: seqs[d],
                collection: Collection::Sessions,
                record_id: records[r],
                hlc,
                author: devices[d],
                writes,
            };
            states[r].apply(&change);
            changes.push(change);
        }
    }
    Workload {
        changes,
        concurrent,
    }
}

fn create_writes(volunteer: Uuid, notes: &[Value]) -> Vec<Write> {
    let w = |field, value| Write::new(Key::field(field), value, vec![]);
    vec![
        w(Field::CentreId, Value::text("C0001")),
        w(Field::VolunteerId, Value::text(&volunteer.to_string())),
        w(Field::VillageCode, Value::text("50010203")),
        w(Field::HelpType, Value::text("welfare_rights")),
        w(Field::StartedAt, Value::text("2026-11-28T09:30:00+07:00")),
        w(Field::DurationMin, Value::Int(45)),
        w(Field::PeopleHelped, Value::Int(3)),
        w(Field::Notes, notes[0].clone()),
    ]
}
