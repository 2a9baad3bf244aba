//! A concurrent edit shows the same conflict on every device, and one
//! resolution clears it everywhere (the server included).

use client_sdk::{Collection, Error, FieldEdit, FieldValue, Key};

use crate::support::{new_session, sync_ok, World};

#[test]
fn a_conflict_shows_on_every_device_and_one_resolution_clears_it_everywhere() {
    let world = World::new();
    let vol = world.account("volunteer", "C0001");
    let boss = world.account("manager", "C0001");
    let (a, m) = (world.device(&vol), world.device(&boss));
    let session = a.create_session(&new_session("เดิม")).unwrap();
    sync_ok(&a);
    sync_ok(&m);

    a.edit(
        Collection::Sessions,
        session,
        &[FieldEdit::new("notes", "จากอาสา")],
    )
    .unwrap();
    m.edit(
        Collection::Sessions,
        session,
        &[FieldEdit::new("notes", "จากผู้จัดการ")],
    )
    .unwrap();
    sync_ok(&a);
    let report = sync_ok(&m);
    assert_eq!(report.conflicts, 1);
    sync_ok(&a);

    let on_a = a.conflicts().unwrap();
    let on_m = m.conflicts().unwrap();
    assert_eq!(on_a.len(), 1);
    assert_eq!(on_a, on_m);
    assert_eq!(on_a[0].key, Key::field("notes"));
    assert_eq!(on_a[0].heads.len(), 2);
    let server = world
        .rt
        .block_on(world.app.record(&boss.raw, "sessions", session));
    let server: serde_json::Value = world.rt.block_on(server.json()).unwrap();
    assert_eq!(server["conflicts"].as_array().unwrap().len(), 1);

    // Resolving a key that is not in conflict is a typed error.
    let err = m
        .resolve(
            Collection::Sessions,
            session,
            &Key::field("duration_min"),
            FieldValue::Int(5),
        )
        .unwrap_err();
    assert!(matches!(err, Error::NoConflict { .. }), "{err}");

    m.resolve(
        Collection::Sessions,
        session,
        &Key::field("notes"),
        FieldValue::Text("ตกลงกันแล้ว".into()),
    )
    .unwrap();
    assert!(m.conflicts().unwrap().is_empty());
    sync_ok(&m);
    sync_ok(&a);
    assert!(a.conflicts().unwrap().is_empty());
    let record = a.record(Collection::Sessions, session).unwrap().unwrap();
    assert_eq!(record.text("notes"), Some("ตกลงกันแล้ว"));
    let server = world
        .rt
        .block_on(world.app.record(&boss.raw, "sessions", session));
    let server: serde_json::Value = world.rt.block_on(server.json()).unwrap();
    assert_eq!(server["conflicts"], serde_json::json!([]));
    assert_eq!(server["fields"]["notes"], "ตกลงกันแล้ว");
}

/// A manager resolves on the server (the console's way): both devices get
/// the server's change at their next sync and the conflict is gone there.
#[test]
fn a_resolution_written_by_the_server_reaches_every_device() {
    let world = World::new();
    let vol = world.account("volunteer", "C0001");
    let boss = world.account("manager", "C0001");
    let (phone, tablet) = (world.device(&vol), world.device(&vol));
    let session = phone.create_session(&new_session("เดิม")).unwrap();
    sync_ok(&phone);
    sync_ok(&tablet);
    for (device, text) in [(&phone, "จากโทรศัพท์"), (&tablet, "จากแท็บเล็ต")]
    {
        device
            .edit(
                Collection::Sessions,
                session,
                &[FieldEdit::new("notes", text)],
            )
            .unwrap();
        sync_ok(device);
    }
    sync_ok(&phone);
    assert_eq!(phone.conflicts().unwrap().len(), 1);
    let record: serde_json::Value = world.rt.block_on(async {
        world
            .app
            .record(&boss.raw, "sessions", session)
            .await
            .json()
            .await
            .unwrap()
    });
    let base: Vec<&str> = record["conflicts"][0]["heads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["hlc"].as_str().unwrap())
        .collect();
    let resolved = world.rt.block_on(world.app.post_json(
        &format!("/v1/records/sessions/{session}/resolve"),
        Some(&boss.raw.access),
        &serde_json::json!({"key": "notes", "value": "ผู้จัดการยืนยัน", "base": base}),
    ));
    assert_eq!(resolved.status(), 200);
    for device in [&phone, &tablet] {
        let report = sync_ok(device);
        assert_eq!(report.conflicts, 0, "{report:?}");
        let shown = device
            .record(Collection::Sessions, session)
            .unwrap()
            .unwrap();
        assert_eq!(shown.text("notes"), Some("ผู้จัดการยืนยัน"));
        assert!(device.conflicts().unwrap().is_empty());
    }
}
