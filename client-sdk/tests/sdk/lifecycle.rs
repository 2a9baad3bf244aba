//! The account lifecycle as a phone lives it (contract section 8): a
//! disabled or unbound volunteer gets a clear typed error and loses nothing,
//! a manager who logs in on the phone pushes what it saved, a change of
//! centre makes the phone pull again from the beginning, logout ends the
//! login on the server, and keys of a newer protocol are kept.

use client_sdk::{Collection, Error, FieldEdit};
use serde_json::json;
use uuid::Uuid;

use crate::support::{new_beneficiary, new_session, sync_ok, World};

fn patch(world: &World, by: &tests::Session, user: Uuid, body: serde_json::Value) {
    let response = world.rt.block_on(world.app.patch_json(
        &format!("/v1/admin/users/{user}"),
        &by.access,
        &body,
    ));
    assert_eq!(response.status(), 200, "patch {body}");
}

#[test]
fn a_disabled_volunteers_phone_keeps_its_work_until_a_manager_logs_in_on_it() {
    let world = World::new();
    let vol = world.account("volunteer", "C0001");
    let boss = world.account("manager", "C0001");
    let phone = world.device(&vol);
    let first = phone.create_session(&new_session("ก่อนถูกระงับ")).unwrap();
    sync_ok(&phone);

    patch(
        &world,
        &boss.raw,
        vol.raw.user_id,
        json!({"disabled": true}),
    );
    // Saved offline after the account was disabled: it stays on the phone.
    let offline = phone.create_session(&new_session("หลังถูกระงับ")).unwrap();
    match phone.sync() {
        Err(Error::AccessRevoked { code }) => assert_eq!(code, "token_revoked"),
        other => panic!("expected AccessRevoked, got {other:?}"),
    }
    assert_eq!(phone.pending_count().unwrap(), 1, "the outbox is kept");
    match phone.login(&vol.username, &vol.password) {
        Err(Error::AccountDisabled) => {}
        other => panic!("expected AccountDisabled, got {other:?}"),
    }
    assert_eq!(phone.pending_count().unwrap(), 1);

    // The centre's manager logs in on the phone: its outbox reaches the server.
    phone.login(&boss.username, &boss.password).unwrap();
    let report = sync_ok(&phone);
    assert_eq!(report.acked, 1, "{report:?}");
    assert_eq!(
        report.resyncs, 1,
        "another user's phone pulls again: {report:?}"
    );
    let server = world.server_changes(&boss);
    assert!(server
        .iter()
        .any(|c| c["record_id"] == json!(offline.to_string())));
    for id in [first, offline] {
        assert!(
            phone.record(Collection::Sessions, id).unwrap().is_some(),
            "{id} is shown on the phone"
        );
    }
}

#[test]
fn a_change_of_centre_makes_the_phone_drop_what_it_pulled_and_pull_its_new_scope() {
    let world = World::new();
    let vol = world.account("volunteer", "C0001");
    let colleague = world.account("volunteer", "C0001");
    let admin = world.rt.block_on(world.app.admin());
    world.rt.block_on(world.app.ensure_centre(&admin, "C0002"));
    let phone = world.device(&vol);
    let other = world.device(&colleague);
    let theirs = other
        .create_beneficiary(&new_beneficiary("คนของศูนย์หนึ่ง"))
        .unwrap();
    sync_ok(&other);
    let old = phone.create_session(&new_session("ที่ศูนย์หนึ่ง")).unwrap();
    sync_ok(&phone);
    assert!(phone
        .record(Collection::Beneficiaries, theirs)
        .unwrap()
        .is_some());

    patch(
        &world,
        &admin,
        vol.raw.user_id,
        json!({"centre_id": "C0002"}),
    );
    assert!(matches!(phone.sync(), Err(Error::AccessRevoked { .. })));
    // Saved while the phone still thought it was in C0001: kept, and refused
    // by the server (the volunteer no longer writes there).
    phone
        .edit(
            Collection::Sessions,
            old,
            &[FieldEdit::new("notes", "แก้หลังย้าย")],
        )
        .unwrap();
    let user = phone.login(&vol.username, &vol.password).unwrap();
    assert_eq!(user.centre_id.as_deref(), Some("C0002"));
    let new = phone.create_session(&new_session("ที่ศูนย์สอง")).unwrap();
    let report = phone.sync().unwrap();
    assert_eq!(report.resyncs, 1, "{report:?}");
    assert_eq!(report.pending, 0, "{report:?}");
    assert_eq!(report.rejected, 1, "{report:?}");
    assert!(
        phone
            .record(Collection::Beneficiaries, theirs)
            .unwrap()
            .is_none(),
        "C0001's beneficiary is out of scope now"
    );
    assert!(
        phone.record(Collection::Sessions, new).unwrap().is_some(),
        "its own change came back with the new scope"
    );
    let rejected = phone.rejected().unwrap();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].code, "forbidden");
    let again = phone.sync().unwrap();
    assert_eq!(again.resyncs, 0, "done once");
}

/// The SDK's own database file, read from the outside.
fn local_db(path: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("the device's database")
}

fn stored_refresh_token(path: &std::path::Path) -> String {
    local_db(path)
        .query_row(
            "SELECT \"value\" FROM \"meta\" WHERE \"key\" = 'refresh_token'",
            [],
            |r| r.get(0),
        )
        .expect("a stored refresh token")
}

#[test]
fn logout_ends_the_login_on_the_server() {
    let world = World::new();
    let vol = world.account("volunteer", "C0001");
    let db = world.new_db();
    let phone = world.device_with(&vol, db.clone(), world.config(), None);
    let refresh = stored_refresh_token(&db);
    phone.logout().unwrap();
    assert!(matches!(phone.sync(), Err(Error::NotLoggedIn)));
    let response = world.rt.block_on(world.app.refresh(&refresh));
    assert_eq!(response.status(), 401, "the server ended the login too");
}

#[test]
fn keys_of_a_newer_protocol_in_a_pulled_change_are_kept_not_set_aside() {
    let world = World::new();
    let vol = world.account("volunteer", "C0001");
    let boss = world.account("manager", "C0001");
    let local = world.new_db();
    let phone = world.device_with(&vol, local.clone(), world.config(), None);
    let person = phone
        .create_beneficiary(&new_beneficiary("มาลี ใจดี"))
        .unwrap();
    sync_ok(&phone);
    // A newer server relays a manager's change with a key this SDK does not
    // know: written straight into the server's change log.
    let mut raw = boss.raw.clone();
    let edit = raw.change(
        "beneficiaries",
        person,
        json!({"village_code": {"value": "50010299"}}),
    );
    world.rt.block_on(world.app.push_ok(&raw, vec![edit]));
    world.app.rewrite_last_change(|body| {
        body["fields"]["favourite_colour"] = json!({"value": {"th": "ฟ้า"}});
    });

    let report = sync_ok(&phone);
    assert_eq!(report.pulled, 1);
    let record = phone
        .record(Collection::Beneficiaries, person)
        .unwrap()
        .unwrap();
    assert_eq!(
        record.text("village_code"),
        Some("50010299"),
        "applied whole"
    );
    assert!(
        !record.fields.contains_key("favourite_colour"),
        "shown nowhere"
    );
    let local = local_db(&local);
    let unreadable: i64 = local
        .query_row("SELECT count(*) FROM \"unreadable\"", [], |r| r.get(0))
        .unwrap();
    assert_eq!(unreadable, 0, "the change was not set aside");
    let state: Vec<u8> = local
        .query_row(
            "SELECT \"state\" FROM \"records\" WHERE \"collection\" = 'beneficiaries' AND \"id\" = ?1",
            [person.to_string()],
            |r| r.get(0),
        )
        .unwrap();
    let state = sync_core::codec::decode(&state).unwrap();
    let kept: Vec<(&str, String)> = state
        .unknown_registers()
        .map(|(k, r)| (k, r.heads()[0].value.to_string()))
        .collect();
    assert_eq!(kept, [("favourite_colour", r#"{"th":"ฟ้า"}"#.to_owned())]);
}

#[test]
fn the_sdk_says_which_protocol_it_speaks() {
    let world = World::new();
    let vol = world.account("volunteer", "C0001");
    let phone = world.device(&vol);
    phone.create_session(&new_session("x")).unwrap();
    sync_ok(&phone);
    let metrics = world.rt.block_on(async {
        world
            .app
            .client
            .get(world.app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    let line = metrics
        .lines()
        .find(|l| l.starts_with("asa_http_requests_by_protocol_total{protocol=\"1.1\"}"))
        .unwrap_or_else(|| panic!("no 1.1 requests counted:\n{metrics}"));
    let count: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= 3, "login, push and pull: {line}");
}

#[test]
fn the_device_database_is_readable_by_the_app_only() {
    use std::os::unix::fs::PermissionsExt;
    let world = World::new();
    let vol = world.account("volunteer", "C0001");
    let db = world.new_db();
    let phone = world.device_with(&vol, db.clone(), world.config(), None);
    phone.create_session(&new_session("ส่วนตัว")).unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&db), 0o600, "it holds tokens and personal data");
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    assert_eq!(mode(std::path::Path::new(&wal)), 0o600);
}

#[test]
fn a_pulled_change_the_sdk_cannot_read_is_listed_not_lost_in_silence() {
    let world = World::new();
    let vol = world.account("volunteer", "C0001");
    let boss = world.account("manager", "C0001");
    let phone = world.device(&vol);
    let person = phone
        .create_beneficiary(&new_beneficiary("สมใจ รักดี"))
        .unwrap();
    sync_ok(&phone);
    let mut raw = boss.raw.clone();
    let edit = raw.change(
        "beneficiaries",
        person,
        json!({"village_code": {"value": "50010299"}}),
    );
    world.rt.block_on(world.app.push_ok(&raw, vec![edit]));
    // A known key with a value no version of this SDK can take.
    world.app.rewrite_last_change(|body| {
        body["fields"]["village_code"] = json!({"value": 50010299});
    });
    let later = raw.change(
        "beneficiaries",
        person,
        json!({"phone": {"value": "0812345678"}}),
    );
    world.rt.block_on(world.app.push_ok(&raw, vec![later]));

    let report = sync_ok(&phone);
    assert_eq!((report.pulled, report.unreadable), (1, 1), "{report:?}");
    let [unreadable] = &phone.unreadable().unwrap()[..] else {
        panic!("one unreadable change");
    };
    assert_eq!(unreadable.code, "invalid_type", "{unreadable:?}");
    assert!(unreadable.detail.contains("village_code"), "{unreadable:?}");
    let record = phone
        .record(Collection::Beneficiaries, person)
        .unwrap()
        .unwrap();
    assert_eq!(
        record.text("phone"),
        Some("0812345678"),
        "the next change is applied"
    );
    assert_ne!(record.text("village_code"), Some("50010299"));
}
