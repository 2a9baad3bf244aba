//! A phone clock days ahead or reset to 1970 neither loses data nor breaks
//! the order of sequential edits.

use std::sync::Arc;

use client_sdk::{Client, Collection, FieldEdit, ManualClock};
use sync_core::Hlc;

use crate::support::{new_session, sync_ok, World};

fn hlc(client: &Client) -> Hlc {
    client.last_hlc().parse().unwrap()
}

fn notes(client: &Client, id: uuid::Uuid) -> String {
    let record = client.record(Collection::Sessions, id).unwrap().unwrap();
    record.text("notes").unwrap().to_owned()
}

#[test]
fn a_phone_clock_days_ahead_or_reset_to_1970_loses_nothing_and_keeps_edit_order() {
    let world = World::new();
    let vol = world.account("volunteer", "C0001");
    let boss = world.account("manager", "C0001");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let phone = Arc::new(ManualClock::new(now + 3 * 24 * 3600 * 1000));
    let db = world.new_db();
    let a = world.device_with(&vol, db.clone(), world.config(), Some(phone.clone()));
    let m = world.device(&boss);

    let id = a.create_session(&new_session("e0")).unwrap();
    let mut last = hlc(&a);
    for i in 1..=3 {
        a.edit(
            Collection::Sessions,
            id,
            &[FieldEdit::new("notes", format!("e{i}").as_str())],
        )
        .unwrap();
        assert!(hlc(&a) > last, "sequential edits order after each other");
        last = hlc(&a);
    }
    sync_ok(&a);
    sync_ok(&m);
    assert_eq!(notes(&m, id), "e3");
    // The manager's clock was not dragged three days ahead by the phone.
    assert!(hlc(&m).wall_ms() < now + 3_600_000);

    // The phone's battery died and it woke up in 1970; the app restarts.
    phone.set(0);
    let last = hlc(&a);
    drop(a);
    let a = Client::open_with_clock(&db, world.config(), phone.clone()).unwrap();
    assert_eq!(hlc(&a), last, "the persisted clock survives a restart");
    let second = a.create_session(&new_session("หลังนาฬิกาเพี้ยน")).unwrap();
    assert!(hlc(&a) > last, "a save after the reset still orders last");
    let mut last = hlc(&a);
    for i in 4..=5 {
        a.edit(
            Collection::Sessions,
            id,
            &[FieldEdit::new("notes", format!("e{i}").as_str())],
        )
        .unwrap();
        assert!(hlc(&a) > last, "the clock never goes backwards");
        last = hlc(&a);
    }
    sync_ok(&a);
    sync_ok(&m);
    assert_eq!(notes(&m, id), "e5");
    assert!(m.record(Collection::Sessions, second).unwrap().is_some());

    // An edit made after seeing e5 wins whatever the clocks say.
    m.edit(Collection::Sessions, id, &[FieldEdit::new("notes", "m1")])
        .unwrap();
    sync_ok(&m);
    sync_ok(&a);
    assert_eq!(notes(&a, id), "m1");
    assert!(a.conflicts().unwrap().is_empty());
    assert_eq!(
        world.server_changes(&boss).len(),
        8,
        "every edit stored once"
    );
}
