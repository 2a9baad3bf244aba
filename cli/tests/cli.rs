//! End-to-end tests of the `asa` binary against a real server on 127.0.0.1:0:
//! a volunteer logs in, records a session offline and syncs; a manager pulls
//! it, sees it in `status`, exports the centre and resolves a conflict; and
//! the command line as a person meets it: help texts, one-line errors naming
//! the setting at fault, a reader that stops early.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use tests::TestApp;

fn cmd(server: &str, db: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_asa"));
    c.args(args)
        .env("ASA_SERVER", server)
        .env("ASA_DB", db)
        .env_remove("ASA_PASSWORD");
    c
}

/// Runs `asa`, which must succeed and print nothing on standard error.
fn asa(server: &str, db: &Path, args: &[&str]) -> Output {
    let out = cmd(server, db, args).output().expect("run asa");
    assert!(
        out.status.success(),
        "asa {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "asa {args:?} wrote on stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("utf-8 output")
}

/// Runs `asa`, which must fail with exit code 1 and exactly one line on
/// standard error, `error: ...`; returns that line.
fn fails(c: &mut Command) -> String {
    let out = c.output().expect("run asa");
    let stderr = String::from_utf8(out.stderr).expect("utf-8 stderr");
    assert_eq!(out.status.code(), Some(1), "{c:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{c:?} printed a result");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{c:?}: not one line: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(
        !lines[0]["error: ".len()..].contains("error: "),
        "nested error prefix: {stderr}"
    );
    lines[0].to_owned()
}

fn login(server: &str, db: &Path, user: &tests::Session) {
    asa(
        server,
        db,
        &[
            "login",
            "--username",
            &user.username,
            "--password",
            &user.password,
        ],
    );
}

fn add_session(server: &str, db: &Path, notes: &str) -> String {
    let id = stdout(&asa(
        server,
        db,
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
            notes,
        ],
    ));
    id.trim().to_owned()
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

    login(server, &vol_db, &vol);
    let id = add_session(server, &vol_db, "สอนใช้แอปหมอพร้อม");
    let id = id.as_str();
    asa(
        server,
        &vol_db,
        &["session", "edit", id, "--outcome", "resolved"],
    );
    // A value sync-core refuses: one line, the reason once.
    let bad = fails(&mut cmd(
        server,
        &vol_db,
        &["session", "edit", id, "--duration", "0"],
    ));
    assert!(bad.contains("out_of_range"), "{bad}");
    assert_eq!(bad.matches("duration_min").count(), 1, "{bad}");
    assert!(stdout(&asa(server, &vol_db, &["status"])).contains("pending 2"));
    let synced = stdout(&asa(server, &vol_db, &["sync"]));
    assert!(synced.contains("acked 2"), "{synced}");
    let listed = stdout(&asa(server, &vol_db, &["session", "list"]));
    assert!(
        listed.contains(id) && listed.contains("\"synced\""),
        "{listed}"
    );

    // The manager names the server without a scheme: http:// is assumed.
    let bare = server.trim_start_matches("http://");
    assert_ne!(bare, server);
    asa(
        server,
        &boss_db,
        &[
            "--server",
            bare,
            "login",
            "--username",
            &boss.username,
            "--password",
            &boss.password,
        ],
    );
    let pulled = stdout(&asa(server, &boss_db, &["--server", bare, "sync"]));
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

#[test]
fn asa_ends_quietly_when_its_reader_goes_away() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let app = rt.block_on(TestApp::spawn());
    let vol = rt.block_on(app.user("volunteer", Some("C0001")));
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = dir.path().join("vol.db");

    // `login` prints only after reading the password, which is sent once the
    // reading end of its standard output is closed: its write must meet EPIPE.
    let mut child = cmd(&app.base, &db, &["login", "--username", &vol.username])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start asa");
    drop(child.stdout.take());
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "{}", vol.password).expect("send the password");
    drop(stdin);
    let out = child.wait_with_output().expect("asa ends");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout(&asa(&app.base, &db, &["status"])).contains(&vol.username),
        "the login happened"
    );

    // `asa session list | head -1` with more lines than the reader takes.
    for i in 0..3 {
        add_session(&app.base, &db, &format!("ครั้งที่ {i}"));
    }
    let mut child = cmd(&app.base, &db, &["session", "list"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start asa");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("asa ends");
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn each_error_is_one_line_that_names_the_setting_at_fault() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = dir.path().join("a.db");
    // Nothing listens here; these errors come before any request.
    let server = "http://127.0.0.1:9";

    let e = fails(&mut cmd("ftp://127.0.0.1:8080", &db, &["status"]));
    assert!(
        e.contains("ASA_SERVER") && e.contains("ftp://127.0.0.1:8080"),
        "{e}"
    );
    let e = fails(&mut cmd(server, &db, &["--server", "http://a b", "status"]));
    assert!(e.contains("--server") && !e.contains("ASA_SERVER"), "{e}");

    let missing = dir.path().join("no such dir").join("a.db");
    let e = fails(&mut cmd(server, &missing, &["status"]));
    assert!(
        e.contains("ASA_DB") && e.contains("no such dir") && e.contains("does not exist"),
        "{e}"
    );
    let e = fails(&mut cmd(
        server,
        &db,
        &["--db", &missing.to_string_lossy(), "status"],
    ));
    assert!(e.contains("--db") && e.contains("does not exist"), "{e}");
    let e = fails(&mut cmd(server, dir.path(), &["status"]));
    assert!(e.contains("ASA_DB") && e.contains("is a directory"), "{e}");
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, "not a database, just text\n".repeat(200)).expect("write junk");
    let e = fails(&mut cmd(server, &junk, &["status"]));
    assert!(e.contains("ASA_DB") && e.contains("junk.db"), "{e}");

    let e = fails(&mut cmd(
        server,
        &db,
        &["session", "delete", "0193a1b2-7c7e-7000-8000-000000000000"],
    ));
    assert!(e.contains("asa login"), "{e}");
    let e = fails(cmd(server, &db, &["login", "--username", "somchai"]).stdin(Stdio::null()));
    assert!(
        e.contains("--password") && e.contains("ASA_PASSWORD"),
        "{e}"
    );

    // Usage errors stay clap's, with exit code 2.
    for args in [
        &["session", "add", "--help-type", "gardening"][..],
        &["export", "--from", "2026-11-31"],
    ] {
        let out = cmd(server, &db, args).output().expect("run asa");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn every_option_says_what_it_takes() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = dir.path().join("a.db");
    let help = |args: &[&str]| {
        let mut all = args.to_vec();
        all.push("--help");
        stdout(&asa("http://127.0.0.1:9", &db, &all))
    };
    for path in [
        &[][..],
        &["login"],
        &["session", "add"],
        &["session", "edit"],
        &["session", "delete"],
        &["session", "list"],
        &["beneficiary", "add"],
        &["beneficiary", "list"],
        &["sync"],
        &["status"],
        &["conflicts"],
        &["resolve"],
        &["export"],
    ] {
        // In the short help every option and argument has its line of text.
        let mut short = path.to_vec();
        short.push("-h");
        let text = stdout(&asa("http://127.0.0.1:9", &db, &short));
        for line in text.lines() {
            let t = line.trim_start();
            if t.starts_with('-') || (t.starts_with('<') || t.starts_with('[')) && line != t {
                let parts = t.split("  ").filter(|p| !p.trim().is_empty()).count();
                assert!(parts >= 2, "asa {path:?}: no help for {t:?}");
            }
        }
    }
    let add = help(&["session", "add"]);
    for help_type in client_sdk::sync_core::schema::HELP_TYPES {
        assert!(add.contains(help_type), "{help_type}: {add}");
    }
    for outcome in client_sdk::sync_core::schema::OUTCOMES {
        assert!(add.contains(outcome), "{outcome}: {add}");
    }
    assert!(
        add.contains("minutes") && add.contains("YYYY-MM-DD"),
        "{add}"
    );
    assert!(help(&["sync"]).contains("bytes"));
    let export = help(&["export"]);
    assert!(export.contains("YYYY-MM-DD"), "{export}");
    let top = help(&[]);
    assert!(
        top.contains("ASA_SERVER") && top.contains("http:// is assumed"),
        "{top}"
    );
}
