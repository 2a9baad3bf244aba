//! The phones as the last backup (PROTOCOL.md section 4.11): the server is
//! backed up while serving, the devices keep working and syncing, then the
//! server is restored to that older backup. Each device's next sync is told
//! `server_restored`, sends its own acknowledged changes again byte for byte,
//! and pulls from the restore point: every change is back on the server
//! exactly once and every device ends where it was.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use client_sdk::{Client, Collection, FieldEdit};
use tests::backup;

use crate::support::{new_beneficiary, new_session, sync_ok, view, View, World};

/// The ids of the changes the server holds for the centre, and how many
/// entries its log returned (more than the ids: a change logged twice).
fn server_log(world: &World, manager: &crate::support::Account) -> (BTreeSet<String>, usize) {
    let changes = world.server_changes(manager);
    let ids = changes
        .iter()
        .map(|c| c["id"].as_str().expect("an id").to_owned())
        .collect();
    (ids, changes.len())
}

fn views(devices: &[Client]) -> Vec<(View, View)> {
    devices
        .iter()
        .map(|d| {
            (
                view(d, Collection::Sessions),
                view(d, Collection::Beneficiaries),
            )
        })
        .collect()
}

#[test]
fn a_restore_to_an_older_backup_loses_nothing_the_phones_still_hold() {
    let mut world = World::new();
    let accounts = [
        world.account("volunteer", "C0001"),
        world.account("volunteer", "C0001"),
        world.account("manager", "C0001"),
    ];
    let dbs: Vec<PathBuf> = accounts.iter().map(|_| world.new_db()).collect();
    let devices: Vec<Client> = accounts
        .iter()
        .zip(&dbs)
        .map(|(a, db)| world.device_with(a, db.clone(), world.config(), None))
        .collect();

    // Before the backup: every device creates and everyone catches up.
    let mut sessions = Vec::new();
    for (i, d) in devices.iter().enumerate() {
        for n in 0..3 {
            sessions.push(
                d.create_session(&new_session(&format!("ก่อนสำรอง {i}-{n}")))
                    .unwrap(),
            );
        }
    }
    let person = devices[0]
        .create_beneficiary(&new_beneficiary("สมศรี มีสุข"))
        .unwrap();
    for d in devices.iter().chain(&devices) {
        sync_ok(d);
    }

    // A backup while the server serves.
    let dest = world.new_db().with_extension("backup");
    let url = world.app.database_url();
    let bytes = backup::backup(&url, &dest).expect("backed up");
    assert!(bytes > 0);

    // After the backup: new records, edits of older ones (two devices on
    // the same key of a beneficiary: a conflict), all acknowledged and
    // trimmed from the outboxes, and pulled by the others.
    for (i, d) in devices.iter().enumerate() {
        for n in 0..4 {
            d.create_session(&new_session(&format!("หลังสำรอง {i}-{n}")))
                .unwrap();
        }
        d.edit(
            Collection::Sessions,
            sessions[3 * i],
            &[FieldEdit::new("notes", format!("แก้โดยเครื่อง {i}").as_str())],
        )
        .unwrap();
    }
    for (i, phone) in [(0, "0811111111"), (1, "0822222222")] {
        devices[i]
            .edit(
                Collection::Beneficiaries,
                person,
                &[FieldEdit::new("phone", phone)],
            )
            .unwrap();
    }
    for d in devices.iter().chain(&devices) {
        let report = sync_ok(d);
        assert_eq!(report.resent_after_restore, 0);
    }
    let before = views(&devices);
    assert!(
        before.iter().all(|(_, people)| people == &before[2].1),
        "everyone sees the same beneficiaries"
    );
    assert!(
        before[2]
            .1
            .values()
            .any(|shown| shown.contains("Masked(\"2222\")") && shown.contains("Masked(\"1111\")")),
        "the phone is in conflict: {:?}",
        before[2].1
    );
    let (logged, entries) = server_log(&world, &accounts[2]);
    assert_eq!(entries, logged.len());

    // The server is restored to the backup: it forgets every change made
    // after it, and the phones no longer have them in their outboxes.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let restored = world.rt.block_on(world.app.restart_with(|url| {
        backup::restore(url, &dest, now).expect("restored");
    }));
    world.app = restored;
    let (forgotten, _) = server_log(&world, &accounts[2]);
    assert!(forgotten.len() < logged.len(), "the backup is older");
    assert!(forgotten.is_subset(&logged));

    // The app restarts with the same local databases, on the new address.
    drop(devices);
    let devices: Vec<Client> = dbs
        .iter()
        .map(|db| Client::open(db.clone(), world.config()).expect("reopened"))
        .collect();
    let mut resent = 0;
    for d in devices.iter().chain(&devices) {
        let report = sync_ok(d);
        resent += report.resent_after_restore;
    }
    // Each device resent its 4 new sessions and its edit; the volunteers
    // their phone edits too.
    assert_eq!(resent, 3 * 5 + 2);

    let (back, entries) = server_log(&world, &accounts[2]);
    assert_eq!(back, logged, "every change is back");
    assert_eq!(entries, back.len(), "each exactly once");
    let after = views(&devices);
    assert_eq!(after, before, "every device ends where it was");
    for d in &devices {
        assert!(d.rejected().unwrap().is_empty());
    }
}

#[test]
fn a_restore_past_what_a_phone_still_keeps_is_reported_and_pulling_goes_on() {
    let mut world = World::new();
    let volunteer = world.account("volunteer", "C0001");
    let manager = world.account("manager", "C0001");
    let (phone_db, boss_db) = (world.new_db(), world.new_db());
    let phone = world.device_with(&volunteer, phone_db.clone(), world.config(), None);
    drop(world.device_with(&manager, boss_db.clone(), world.config(), None));
    phone.create_session(&new_session("ก่อนสำรอง")).unwrap();
    sync_ok(&phone);
    let dest = world.new_db().with_extension("backup");
    backup::backup(&world.app.database_url(), &dest).expect("backed up");

    // Acknowledged after the backup, then 31 days pass on the server's
    // clock (the one kept copies age by) before the next acknowledgement.
    for n in 0..3 {
        phone
            .create_session(&new_session(&format!("หลังสำรอง {n}")))
            .unwrap();
    }
    sync_ok(&phone);
    world.app.clock.advance(31 * 24 * 3600 * 1000);
    phone.create_session(&new_session("เดือนถัดไป")).unwrap();
    sync_ok(&phone);

    let now = sync_core::Clock::now_ms(&*world.app.clock) as i64 / 1000;
    let restored = world.rt.block_on(world.app.restart_with(|url| {
        backup::restore(url, &dest, now).expect("restored");
    }));
    world.app = restored;
    let reopen = |db: &PathBuf| Client::open(db.clone(), world.config()).expect("reopened");
    let (phone, boss) = (reopen(&phone_db), reopen(&boss_db));
    let from_boss = boss.create_beneficiary(&new_beneficiary("หลังกู้คืน")).unwrap();
    sync_ok(&boss);

    // The phone no longer holds 2, 3 and 4: the sync says so instead of
    // failing, keeps 5 for later, and still receives the manager's change.
    let report = phone.sync().expect("the sync goes on");
    assert_eq!(report.restore_gap, Some(1), "{report:?}");
    assert_eq!(report.pending, 1, "the kept change waits behind the gap");
    assert!(phone
        .records(Collection::Beneficiaries, &Default::default())
        .unwrap()
        .iter()
        .any(|r| r.id == from_boss));
}
