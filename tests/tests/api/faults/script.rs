//! The simulated fleet: devices of volunteers and managers in several
//! centres, each an SDK client over its own database file, doing seeded
//! random offline work and syncing through the fault proxy.

use std::collections::HashMap;
use std::path::Path;

use client_sdk::{
    Client, Collection, Config, Error, FieldEdit, FieldValue, NewBeneficiary, NewSession, Role,
    UserInfo,
};
use rusqlite::{Connection, OpenFlags};
use tests::remote::Remote;
use tests::rng::Rng;
use uuid::Uuid;

use sync_core::schema::{HELP_TYPES, OUTCOMES};
const NOTES: [&str; 4] = [
    "ช่วยลงทะเบียนรับสวัสดิการแห่งรัฐ",
    "สอนใช้แอปเป๋าตัง",
    "แนะนำวิธีสังเกตข่าวปลอม",
    "ตั้งค่าโทรศัพท์ให้ผู้สูงอายุ",
];
const NAMES: [&str; 4] = ["สมศรี มีสุข", "บุญมา ใจดี", "ประยูร ศรีสวัสดิ์", "มาลี ทองคำ"];

/// One simulated phone.
pub struct Device {
    pub client: Client,
    pub user: UserInfo,
    /// A read-only look into the SDK's database, to learn the id of each change
    /// this device makes.
    peek: Connection,
    /// Every change id this device created, in order.
    pub created: Vec<String>,
}

/// What the fleet did, for the figures.
#[derive(Debug, Default)]
pub struct Stats {
    pub creates: u64,
    pub edits: u64,
    pub links: u64,
    pub deletes: u64,
    pub resolutions: u64,
    pub syncs: u64,
    /// Syncs that ended in a retryable error (link cut, server down).
    pub failed_syncs: u64,
}

pub struct Fleet {
    pub devices: Vec<Device>,
    pub stats: Stats,
    /// Sessions by author, so both devices of a volunteer edit the same ones.
    sessions_of: HashMap<Uuid, Vec<Uuid>>,
    sessions_in: HashMap<String, Vec<Uuid>>,
    beneficiaries_in: HashMap<String, Vec<Uuid>>,
}

impl Fleet {
    /// Centres of four devices each: a volunteer on two devices, another
    /// volunteer, and the centre's manager.
    /// `count` devices, device `i` syncing with `urls[i % urls.len()]`
    /// (several servers on one database).
    pub fn new(admin: &Remote, urls: &[String], dir: &Path, count: usize) -> Fleet {
        let config = |i: usize| Config {
            batch_size: 100,
            pull_limit: 200,
            max_attempts: 2,
            backoff_base_ms: 1,
            backoff_max_ms: 20,
            timeout_secs: 30,
            ..Config::new(&urls[i % urls.len()])
        };
        let mut devices = Vec::with_capacity(count);
        let mut account = (String::new(), String::new());
        for i in 0..count {
            let centre = format!("C{:04}", i / 4 + 1);
            let role = if i % 4 == 3 { "manager" } else { "volunteer" };
            // Devices 0 and 1 of a centre belong to the same volunteer.
            if i % 4 != 1 {
                account = admin.create_user(role, &centre);
            }
            let db = dir.join(format!("device-{i}.db"));
            let client = Client::open(&db, config(i)).expect("open a device");
            let user = client.login(&account.0, &account.1).expect("device login");
            let peek = Connection::open_with_flags(&db, OpenFlags::SQLITE_OPEN_READ_ONLY)
                .expect("peek into the device database");
            devices.push(Device {
                client,
                user,
                peek,
                created: Vec::new(),
            });
        }
        Fleet {
            devices,
            stats: Stats::default(),
            sessions_of: HashMap::new(),
            sessions_in: HashMap::new(),
            beneficiaries_in: HashMap::new(),
        }
    }

    /// One change on device `d`: tries a few random actions (the record an
    /// action picks may not have reached this device yet), then falls back to
    /// creating a beneficiary, which always works.
    pub fn step(&mut self, d: usize, rng: &mut Rng) {
        for _ in 0..8 {
            match self.try_action(d, rng) {
                Ok(true) => return self.note_change(d),
                Ok(false) => {}
                Err(Error::NotFound { .. } | Error::NoConflict { .. }) => {}
                Err(e) => panic!("device {d}: a local edit failed: {e}"),
            }
        }
        self.create_beneficiary(d, rng)
            .expect("create a beneficiary");
        self.note_change(d);
    }

    /// Syncs device `d`; a retryable error is expected while faults are on.
    pub fn sync(&mut self, d: usize) {
        self.stats.syncs += 1;
        match self.devices[d].client.sync() {
            Ok(_) => {}
            Err(e) if e.is_retryable() => self.stats.failed_syncs += 1,
            Err(e) => panic!("device {d}: sync failed with a non-retryable error: {e}"),
        }
    }

    /// Syncs every device, round after round, until a whole round moves
    /// nothing; returns the number of rounds.
    pub fn settle(&mut self) -> u32 {
        for round in 1..=20 {
            let mut moved = 0;
            for (d, device) in self.devices.iter().enumerate() {
                let report = device
                    .client
                    .sync()
                    .unwrap_or_else(|e| panic!("device {d}: sync without faults failed: {e}"));
                assert_eq!(report.pending, 0, "device {d}: outbox drained: {report:?}");
                moved += report.pushed + report.pulled;
            }
            if moved == 0 {
                return round;
            }
        }
        panic!("the fleet did not settle in 20 rounds");
    }

    fn note_change(&mut self, d: usize) {
        let device = &mut self.devices[d];
        let id: String = device
            .peek
            .query_row(
                "SELECT \"change_id\" FROM \"outbox\" ORDER BY \"device_seq\" DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .expect("the change just made is in the outbox");
        device.created.push(id);
    }

    /// Returns Ok(false) when the action had nothing to act on.
    fn try_action(&mut self, d: usize, rng: &mut Rng) -> client_sdk::Result<bool> {
        let user = self.devices[d].user.clone();
        let centre = user.centre_id.clone().unwrap_or_default();
        let manager = user.role == Role::Manager;
        let roll = rng.below(100);
        let own_sessions = if manager {
            self.sessions_in.get(&centre)
        } else {
            self.sessions_of.get(&user.id)
        };
        let session = own_sessions.and_then(|list| hot(rng, list));
        let person = self
            .beneficiaries_in
            .get(&centre)
            .and_then(|list| hot(rng, list));
        let client = &self.devices[d].client;
        match (manager, roll) {
            (false, 0..10) => {
                let id = client.create_session(&new_session(rng))?;
                self.sessions_of.entry(user.id).or_default().push(id);
                self.sessions_in.entry(centre).or_default().push(id);
                self.stats.creates += 1;
            }
            (false, 10..18) | (true, 0..6) => {
                self.create_beneficiary(d, rng)?;
            }
            (false, 18..45) | (true, 6..40) => {
                let Some(id) = session else { return Ok(false) };
                client.edit(Collection::Sessions, id, &session_edits(rng))?;
                self.stats.edits += 1;
            }
            (false, 45..68) | (true, 40..62) => {
                let Some(id) = person else { return Ok(false) };
                client.edit(Collection::Beneficiaries, id, &beneficiary_edits(rng))?;
                self.stats.edits += 1;
            }
            (false, 68..78) => {
                let (Some(s), Some(p)) = (session, person) else {
                    return Ok(false);
                };
                client.link_beneficiary(s, p, rng.chance(75))?;
                self.stats.links += 1;
            }
            (false, 78..81) | (true, 62..66) => {
                let target = if rng.chance(50) {
                    session.map(|id| (Collection::Sessions, id))
                } else {
                    person.map(|id| (Collection::Beneficiaries, id))
                };
                let Some((collection, id)) = target else {
                    return Ok(false);
                };
                client.delete(collection, id)?;
                self.stats.deletes += 1;
            }
            _ => {
                // Managers correct their centre's records; volunteers settle
                // conflicts on what they may edit.
                let conflicts = client.conflicts()?;
                if conflicts.is_empty() {
                    return Ok(false);
                }
                let c = rng.pick(&conflicts);
                // A value the user may not see cannot be chosen: only
                // written over with a value they know.
                let visible: Vec<_> = c
                    .heads
                    .iter()
                    .filter(|h| !matches!(h.value, FieldValue::Masked(_)))
                    .collect();
                if visible.is_empty() {
                    return Ok(false);
                }
                let value = rng.pick(&visible).value.clone();
                client.resolve(c.collection, c.record_id, &c.key, value)?;
                self.stats.resolutions += 1;
            }
        }
        Ok(true)
    }

    fn create_beneficiary(&mut self, d: usize, rng: &mut Rng) -> client_sdk::Result<()> {
        let device = &self.devices[d];
        let id = device.client.create_beneficiary(&NewBeneficiary {
            village_code: village(rng),
            display_name: rng.pick(&NAMES).to_string(),
            phone: Some(phone(rng)),
            birth_year: Some(rng.range(1930, 2010) as i64),
            consent: true,
            ..Default::default()
        })?;
        let centre = device.user.centre_id.clone().unwrap_or_default();
        self.beneficiaries_in.entry(centre).or_default().push(id);
        self.stats.creates += 1;
        Ok(())
    }
}

/// Mostly one of the newest records, so devices edit the same ones at once.
fn hot(rng: &mut Rng, list: &[Uuid]) -> Option<Uuid> {
    if list.is_empty() {
        return None;
    }
    let recent = &list[list.len().saturating_sub(6)..];
    Some(if rng.chance(70) {
        *rng.pick(recent)
    } else {
        *rng.pick(list)
    })
}

fn village(rng: &mut Rng) -> String {
    format!("500102{:02}", rng.range(1, 12))
}

fn phone(rng: &mut Rng) -> String {
    format!("08{:08}", rng.below(100_000_000))
}

fn new_session(rng: &mut Rng) -> NewSession {
    NewSession {
        village_code: village(rng),
        help_type: rng.pick(HELP_TYPES).to_string(),
        started_at: format!("2026-11-{:02}T09:30:00+07:00", rng.range(1, 28)),
        duration_min: rng.range(5, 240) as i64,
        people_helped: rng.range(1, 20) as i64,
        outcome: Some(rng.pick(OUTCOMES).to_string()),
        notes: Some(rng.pick(&NOTES).to_string()),
        follow_up_on: None,
    }
}

fn session_edits(rng: &mut Rng) -> Vec<FieldEdit> {
    let mut edits = Vec::new();
    for _ in 0..rng.range(1, 2) {
        edits.push(match rng.below(6) {
            0 => FieldEdit::new(
                "notes",
                format!("{} #{}", rng.pick(&NOTES), rng.below(1000)).as_str(),
            ),
            1 => FieldEdit::new("duration_min", rng.range(1, 1440) as i64),
            2 => FieldEdit::new("people_helped", rng.range(1, 500) as i64),
            3 if rng.chance(20) => FieldEdit::new("outcome", FieldValue::Null),
            3 => FieldEdit::new("outcome", *rng.pick(OUTCOMES)),
            4 => FieldEdit::new("help_type", *rng.pick(HELP_TYPES)),
            _ => FieldEdit::new(
                "follow_up_on",
                format!("2026-12-{:02}", rng.range(1, 31)).as_str(),
            ),
        });
    }
    edits.dedup_by(|a, b| a.key == b.key);
    edits
}

fn beneficiary_edits(rng: &mut Rng) -> Vec<FieldEdit> {
    vec![match rng.below(4) {
        0 => FieldEdit::new("display_name", *rng.pick(&NAMES)),
        1 => FieldEdit::new("phone", phone(rng).as_str()),
        2 => FieldEdit::new("birth_year", rng.range(1930, 2010) as i64),
        _ => FieldEdit::new("village_code", village(rng).as_str()),
    }]
}
