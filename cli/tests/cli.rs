//! End-to-end test of the `asa` binary against a real server on 127.0.0.1:0:
//! a volunteer logs in, records a session offline and syncs; a manager pulls
//! it, sees it in `status` and exports the centre as CSV and JSON.

use std::path::Path;
use std::process::{Command, Output};

use tests::TestApp;

fn asa(server: &str, db: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_asa"))
        .args(args)
        .env("ASA_SERVER", server)
        .env("ASA_DB", db)
        .env_remove("ASA_PASSWORD")
        .output()
        .expect("run asa");
    assert!(
        out.status.success(),
        "asa {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("utf-8 output")
}

#[test]
fn a_volunteer_logs_a_session_and_a_manager_exports_it_through_the_cli() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let app = rt.block_on(TestApp::spawn());
    let vol = rt.block_on(app.user("volunteer", Some("C0001")));
    let boss = rt.block_on(app.user("manager", Some("C0001")));
    let dir = tempfile::tempdir().expect("temporary directory");
    let (vol_db, boss_db) = (dir.path().join("vol.db"), dir.path().join("boss.db"));
    let server = app.base.as_str();

    asa(
        server,
        &vol_db,
        &[
            "login",
            "--username",
            &vol.username,
            "--password",
            &vol.password,
        ],
    );
    let id = stdout(&asa(
        server,
        &vol_db,
        &[
            "session",
            "add",
            "--village",
            "50010203",
            "--help-type",
            "e_government",
            "--started-at",
            "2026-11-28T09:30:00+07:00",
            "--duration",
            "40",
            "--people",
            "2",
            "--notes",
            "สอนใช้แอปหมอพร้อม",
        ],
    ));
    let id = id.trim();
    asa(
        server,
        &vol_db,
        &["session", "edit", id, "--outcome", "resolved"],
    );
    let bad = Command::new(env!("CARGO_BIN_EXE_asa"))
        .args(["session", "edit", id, "--duration", "0"])
        .env("ASA_SERVER", server)
        .env("ASA_DB", &vol_db)
        .output()
        .expect("run asa");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("out_of_range"));
    assert!(stdout(&asa(server, &vol_db, &["status"])).contains("pending 2"));
    let synced = stdout(&asa(server, &vol_db, &["sync"]));
    assert!(synced.contains("acked 2"), "{synced}");
    let listed = stdout(&asa(server, &vol_db, &["session", "list"]));
    assert!(
        listed.contains(id) && listed.contains("\"synced\""),
        "{listed}"
    );

    asa(
        server,
        &boss_db,
        &[
            "login",
            "--username",
            &boss.username,
            "--password",
            &boss.password,
        ],
    );
    let pulled = stdout(&asa(server, &boss_db, &["sync"]));
    assert!(pulled.contains("pulled 2"), "{pulled}");
    let csv = stdout(&asa(
        server,
        &boss_db,
        &[
            "export",
            "--centre",
            "C0001",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-30",
            "--format",
            "csv",
        ],
    ));
    assert!(
        csv.lines().count() >= 2 && csv.contains(id) && csv.contains("สอนใช้แอปหมอพร้อม"),
        "{csv}"
    );
    let json = stdout(&asa(
        server,
        &boss_db,
        &["export", "--centre", "C0001", "--format", "json"],
    ));
    let records: serde_json::Value = serde_json::from_str(&json).expect("json export");
    assert_eq!(records[0]["fields"]["outcome"], "resolved");

    // Both edit the notes offline: a conflict both see, resolved once by the manager.
    asa(
        server,
        &vol_db,
        &["session", "edit", id, "--notes", "จากอาสา"],
    );
    asa(
        server,
        &boss_db,
        &["session", "edit", id, "--notes", "จากผู้จัดการ"],
    );
    asa(server, &vol_db, &["sync"]);
    asa(server, &boss_db, &["sync"]);
    asa(server, &vol_db, &["sync"]);
    for db in [&vol_db, &boss_db] {
        let conflicts = stdout(&asa(server, db, &["conflicts"]));
        assert!(
            conflicts.contains(id) && conflicts.contains("notes"),
            "{conflicts}"
        );
        // Both values are shown as written, Thai tone marks included.
        assert!(
            conflicts.contains("\"จากอาสา\"") && conflicts.contains("\"จากผู้จัดการ\""),
            "{conflicts}"
        );
    }
    asa(
        server,
        &boss_db,
        &["resolve", "sessions", id, "notes", "\"ตกลงกันแล้ว\""],
    );
    asa(server, &boss_db, &["sync"]);
    asa(server, &vol_db, &["sync"]);
    assert!(stdout(&asa(server, &vol_db, &["conflicts"])).is_empty());
    let status = stdout(&asa(server, &vol_db, &["status"]));
    assert!(
        status.contains("conflicts 0") && status.contains("pending 0"),
        "{status}"
    );
    let listed = stdout(&asa(server, &vol_db, &["session", "list"]));
    assert!(listed.contains("ตกลงกันแล้ว"), "{listed}");
}
