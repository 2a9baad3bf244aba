//! End-to-end tests of the `asa` binary against a real server on 127.0.0.1:0:
//! a volunteer logs in, records a session offline and syncs; a manager pulls
//! it, sees it in `status`, exports the centre and resolves a conflict; and
//! the command line as a person meets it: help texts, one-line errors naming
//! the setting at fault, a reader that stops early, rejected changes, xlsx
//! exports and the manager's user directory. Some put a recording proxy in
//! front of the server to check what the SDK asked for.

mod recorder;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use chrono::Datelike;
use recorder::Recorder;
use serde_json::json;
use sync_core::Clock;
use tests::TestApp;

fn cmd(server: &str, db: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_asa"));
    c.args(args)
        .env("ASA_SERVER", server)
        .env("ASA_DB", db)
        .env_remove("ASA_PASSWORD")
        .env_remove("ASA_UTC_OFFSET");
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

/// Whether `text` holds something shaped like an HLC (13 digits, `-`, 4 hex digits, `-`).
fn has_hlc(text: &str) -> bool {
    let b = text.as_bytes();
    (0..b.len().saturating_sub(19)).any(|i| {
        b[i..i + 13].iter().all(u8::is_ascii_digit)
            && b[i + 13] == b'-'
            && b[i + 14..i + 18].iter().all(u8::is_ascii_hexdigit)
            && b[i + 18] == b'-'
    })
}

/// Whether a line shows a local time like `2026-11-28 09:35 +07:00`.
fn has_local_time(line: &str, offset: &str) -> bool {
    line.char_indices().any(|(i, _)| {
        let Some(rest) = line.get(i..i + 16) else {
            return false;
        };
        chrono::NaiveDateTime::parse_from_str(rest, "%Y-%m-%d %H:%M").is_ok()
            && line[i + 16..].starts_with(&format!(" {offset}"))
    })
}

fn login(server: &str, db: &Path, user: &tests::Session) {
    let said = stdout(&asa(
        server,
        db,
        &[
            "login",
            "--username",
            &user.username,
            "--password",
            &user.password,
        ],
    ));
    // The test server's centres are named "ศูนย์ <code>" (tests::TestApp).
    if let Some(centre) = &user.centre {
        assert!(
            said.contains(&format!("at centre {centre} (ศูนย์ {centre})")),
            "{said}"
        );
    }
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
    assert_eq!(
        stdout(&asa(server, &boss_db, &["conflicts"])),
        "no conflicts\n"
    );

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
    // A volunteer's device may not read the user directory, so it shows the
    // manager by a short id; the manager's device knows every name.
    let boss_short = format!("user {}", &boss.user_id.simple().to_string()[24..]);
    for (db, me, other) in [
        (&vol_db, &vol.username, &boss_short),
        (&boss_db, &boss.username, &vol.username),
    ] {
        let conflicts = stdout(&asa(server, db, &["conflicts"]));
        assert!(
            conflicts.contains(id) && conflicts.contains("notes"),
            "{conflicts}"
        );
        // Both values as written (Thai tone marks included), each with its
        // author's name, or a short id where this device knows no name, and
        // a local time.
        let mine = conflicts
            .lines()
            .find(|l| l.contains(&format!("by {me},")))
            .unwrap_or_else(|| panic!("no value by {me}: {conflicts}"));
        let theirs = conflicts
            .lines()
            .find(|l| l.contains(&format!("by {other},")))
            .unwrap_or_else(|| panic!("no value by {other}: {conflicts}"));
        let (vol_line, boss_line) = if me == &vol.username {
            (mine, theirs)
        } else {
            (theirs, mine)
        };
        assert!(vol_line.contains("\"จากอาสา\""), "{conflicts}");
        assert!(boss_line.contains("\"จากผู้จัดการ\""), "{conflicts}");
        assert!(
            has_local_time(mine, "+07:00") && has_local_time(theirs, "+07:00"),
            "{conflicts}"
        );
        assert!(!has_hlc(&conflicts), "an HLC is shown: {conflicts}");
    }
    let utc = stdout(&asa(server, &boss_db, &["--utc-offset", "Z", "conflicts"]));
    assert!(
        utc.lines().filter(|l| has_local_time(l, "+00:00")).count() == 2,
        "{utc}"
    );
    // Deleted records and conflicts-only exports, as the server filters them.
    let doomed = add_session(server, &vol_db, "บันทึกซ้ำ");
    asa(server, &vol_db, &["session", "delete", &doomed]);
    asa(server, &vol_db, &["sync"]);
    let csv = stdout(&asa(server, &boss_db, &["export"]));
    assert!(csv.contains(&doomed), "csv keeps deleted records: {csv}");
    let only = stdout(&asa(
        server,
        &boss_db,
        &["export", "--format", "json", "--conflicts-only"],
    ));
    let only: serde_json::Value = serde_json::from_str(&only).expect("json export");
    assert_eq!(only.as_array().map(Vec::len), Some(1), "{only}");
    assert_eq!(only[0]["id"], id);
    let all = stdout(&asa(
        server,
        &boss_db,
        &["export", "--format", "json", "--include-deleted"],
    ));
    assert!(all.contains(&doomed), "{all}");

    asa(
        server,
        &boss_db,
        &["resolve", "sessions", id, "notes", "\"ตกลงกันแล้ว\""],
    );
    asa(server, &boss_db, &["sync"]);
    asa(server, &vol_db, &["sync"]);
    assert_eq!(
        stdout(&asa(server, &vol_db, &["conflicts"])),
        "no conflicts\n"
    );
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
        &["--utc-offset", "bangkok", "conflicts"],
        &["rejected", "dismiss"],
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
        &["rejected"],
        &["rejected", "dismiss"],
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
    for help_type in sync_core::schema::HELP_TYPES {
        assert!(add.contains(help_type), "{help_type}: {add}");
    }
    for outcome in sync_core::schema::OUTCOMES {
        assert!(add.contains(outcome), "{outcome}: {add}");
    }
    assert!(
        add.contains("minutes") && add.contains("YYYY-MM-DD"),
        "{add}"
    );
    assert!(help(&["sync"]).contains("bytes"));
    let export = help(&["export"]);
    assert!(
        export.contains("xlsx") && export.contains("YYYY-MM-DD") && export.contains("--output"),
        "{export}"
    );
    let top = help(&[]);
    assert!(
        top.contains("ASA_SERVER") && top.contains("http:// is assumed") && top.contains("+07:00"),
        "{top}"
    );
}

#[test]
fn rejected_changes_are_listed_with_their_reason_and_dismissed() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let app = rt.block_on(TestApp::spawn());
    let vol = rt.block_on(app.user("volunteer", Some("C0001")));
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = dir.path().join("vol.db");
    let server = app.base.as_str();
    login(server, &db, &vol);
    assert_eq!(
        stdout(&asa(server, &db, &["rejected"])),
        "no rejected changes\n"
    );

    // The server's clock is a year behind, so a baby born this year passes
    // the device's checks and fails the server's.
    app.clock.set(app.clock.now_ms() - 366 * 24 * 3600 * 1000);
    let year = chrono::Utc::now().year().to_string();
    let mut ids = Vec::new();
    for name in ["เด็กเกิดใหม่", "ทารก"] {
        let id = stdout(&asa(
            server,
            &db,
            &[
                "beneficiary",
                "add",
                "--village",
                "50010203",
                "--name",
                name,
                "--birth-year",
                &year,
                "--consent",
            ],
        ));
        ids.push(id.trim().to_owned());
    }
    let synced = stdout(&asa(server, &db, &["sync"]));
    assert!(synced.contains("rejected 2"), "{synced}");
    assert!(stdout(&asa(server, &db, &["status"])).contains("rejected 2"));

    let listed = stdout(&asa(server, &db, &["rejected"]));
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 2, "{listed}");
    for (line, record) in lines.iter().zip(&ids) {
        assert!(
            line.contains("beneficiaries")
                && line.contains(record.as_str())
                && line.contains("out_of_range")
                && line.contains("birth_year"),
            "{line}"
        );
        assert!(has_local_time(line, "+07:00"), "{line}");
        assert!(!has_hlc(line), "{line}");
    }
    let change = |line: &str| {
        line.strip_prefix("change ")
            .and_then(|rest| rest.split(' ').next())
            .expect("a change id")
            .to_owned()
    };
    let first = change(lines[0]);
    assert_eq!(
        stdout(&asa(server, &db, &["rejected", "dismiss", &first])),
        format!("dismissed {first}\n")
    );
    let e = fails(&mut cmd(server, &db, &["rejected", "dismiss", &first]));
    assert!(e.contains(&first) && e.contains("asa rejected"), "{e}");
    let left = stdout(&asa(server, &db, &["rejected"]));
    assert!(
        left.lines().count() == 1 && left.contains(&ids[1]),
        "{left}"
    );
    let dismissed = stdout(&asa(server, &db, &["rejected", "dismiss", "--all"]));
    assert_eq!(dismissed, format!("dismissed {}\n", change(lines[1])));
    assert_eq!(
        stdout(&asa(server, &db, &["rejected"])),
        "no rejected changes\n"
    );
}

#[test]
fn an_xlsx_export_asks_for_xlsx_and_writes_the_workbook_as_it_came() {
    use calamine::{Data, Reader, Xlsx};
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let app = rt.block_on(TestApp::spawn());
    let vol = rt.block_on(app.user("volunteer", Some("C0001")));
    let boss = rt.block_on(app.user("manager", Some("C0001")));
    let proxy = Recorder::start(&app.base);
    let dir = tempfile::tempdir().expect("temporary directory");
    let (vol_db, db) = (dir.path().join("vol.db"), dir.path().join("boss.db"));
    let server = proxy.base.as_str();
    login(server, &vol_db, &vol);
    let id = add_session(server, &vol_db, "ช่วยสมัครแอปเป๋าตัง");
    asa(server, &vol_db, &["sync"]);
    login(server, &db, &boss);

    let file = dir.path().join("november.xlsx");
    let said = stdout(&asa(
        server,
        &db,
        &[
            "export",
            "--format",
            "xlsx",
            "--centre",
            "C0001",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-30",
            "--output",
            &file.to_string_lossy(),
        ],
    ));
    assert!(said.contains("november.xlsx"), "{said}");
    let sheet = |bytes: Vec<u8>| {
        let mut book = Xlsx::new(std::io::Cursor::new(bytes)).expect("an xlsx workbook");
        book.worksheet_range("sessions")
            .expect("the sessions sheet")
    };
    let range = sheet(std::fs::read(&file).expect("the file"));
    let rows: Vec<&[Data]> = range.rows().collect();
    assert_eq!(rows.len(), 2, "a header and the session");
    assert_eq!(rows[1][0], Data::String(id.clone()));
    // Standard output redirected (not a terminal) takes the bytes too.
    let piped = asa(
        server,
        &db,
        &[
            "export",
            "--format",
            "xlsx",
            "--include-deleted",
            "--conflicts-only",
        ],
    );
    let range = sheet(piped.stdout);
    assert_eq!(range.rows().count(), 1, "no session is in conflict");

    let asked: Vec<String> = proxy
        .heads()
        .into_iter()
        .filter(|h| h.contains("format=xlsx"))
        .collect();
    assert_eq!(asked.len(), 2, "{asked:?}");
    let line = |h: &str| h.lines().next().unwrap_or_default().to_owned();
    let (first, second) = (line(&asked[0]), line(&asked[1]));
    for part in [
        "/v1/records/sessions?",
        "centre_id=C0001",
        "from=2026-11-01",
        "to=2026-11-30",
        "deleted=exclude",
    ] {
        assert!(first.contains(part), "{part}: {first}");
    }
    assert!(!first.contains("conflicts="), "{first}");
    assert!(
        second.contains("deleted=include") && second.contains("conflicts=only"),
        "{second}"
    );
    // csv keeps the v1 rule and says so to the server.
    asa(server, &db, &["export"]);
    let csv = proxy
        .request_lines()
        .into_iter()
        .find(|l| l.contains("format=csv"))
        .expect("a csv export");
    assert!(csv.contains("deleted=include"), "{csv}");
}

#[test]
fn a_managers_sync_learns_names_from_the_user_directory() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let app = rt.block_on(TestApp::spawn());
    let vol = rt.block_on(app.user("volunteer", Some("C0001")));
    let boss = rt.block_on(app.user("manager", Some("C0001")));
    let renamed = rt.block_on(app.patch_json(
        &format!("/v1/admin/users/{}", vol.user_id),
        &boss.access,
        &json!({"display_name": "สมชาย ใจดี"}),
    ));
    assert_eq!(renamed.status(), 200);
    let proxy = Recorder::start(&app.base);
    let dir = tempfile::tempdir().expect("temporary directory");
    let (vol_db, boss_db) = (dir.path().join("vol.db"), dir.path().join("boss.db"));
    let server = proxy.base.as_str();
    let asked = || {
        proxy
            .request_lines()
            .iter()
            .filter(|l| l.contains("/v1/users"))
            .count()
    };
    login(server, &vol_db, &vol);
    login(server, &boss_db, &boss);
    let id = add_session(server, &vol_db, "ก่อน");
    asa(server, &vol_db, &["sync"]);
    assert_eq!(
        asked(),
        0,
        "a volunteer may not read the directory: never asked"
    );
    asa(server, &boss_db, &["sync"]);
    assert_eq!(asked(), 1, "the first sync reads the directory");
    asa(
        server,
        &vol_db,
        &["session", "edit", &id, "--notes", "อาสา"],
    );
    asa(
        server,
        &boss_db,
        &["session", "edit", &id, "--notes", "ผู้จัดการ"],
    );
    asa(server, &vol_db, &["sync"]);
    asa(server, &boss_db, &["sync"]);
    asa(server, &vol_db, &["sync"]);
    assert_eq!(asked(), 1, "nothing new to learn: not asked again");
    let after = stdout(&asa(server, &boss_db, &["conflicts"]));
    assert!(
        after.contains(&format!("\"อาสา\" by สมชาย ใจดี ({}),", vol.username)),
        "{after}"
    );
    assert!(
        after.contains(&format!("\"ผู้จัดการ\" by {},", boss.username)),
        "{after}"
    );
    // The volunteer's device knows only its own user.
    let boss_short = format!("user {}", &boss.user_id.simple().to_string()[24..]);
    let theirs = stdout(&asa(server, &vol_db, &["conflicts"]));
    assert!(
        theirs.contains(&format!("by {},", vol.username))
            && theirs.contains(&format!("by {boss_short},")),
        "{theirs}"
    );
}
