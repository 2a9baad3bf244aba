//! The manager console in headless Chromium against a real server: the
//! scenarios of issue 9, axe-core on every page, and a screenshot of every
//! page at a phone's and a desktop's size (`target/browser-screenshots/`;
//! the current ones are copied to `docs/screenshots/` for the README).
//! Devices are the real client SDK where the scenario is about devices.
//!
//! Run with `ASA_BROWSER_TESTS=1` (scripts/test sets it); otherwise each
//! test prints one "skipped" line.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use client_sdk::{Client, Collection, Config, FieldEdit, ManualClock, NewSession};
use serde_json::{json, Value};
use tests::browser::{self, Browser, SameSite, WindowSize};
use tests::{session_fields, Session, TestApp};
use uuid::Uuid;

const PASSWORD: &str = "correct horse battery";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Signs in through the page as a person does.
async fn sign_in(browser: &Browser, app: &TestApp, username: &str) {
    browser.goto(&app.url("/sessions")).await;
    browser.wait_for("#login-username").await;
    browser.fill("#login-username", username).await;
    browser.fill("#login-password", PASSWORD).await;
    browser.submit("form[action='/login']").await;
    browser.wait_for("#f-volunteer").await;
}

/// A session of `who` with these notes and start, pushed over the API.
async fn pushed(app: &TestApp, who: &mut Session, started_at: &str, notes: &str) -> Uuid {
    let id = Uuid::now_v7();
    let mut fields = session_fields(who.centre(), who.user_id);
    fields["started_at"] = json!({"value": started_at});
    fields["notes"] = json!({"value": notes});
    let change = who.change("sessions", id, fields);
    app.push_ok(who, vec![change]).await;
    id
}

/// Saves the page's screenshot and fails on serious accessibility problems.
async fn check_page(browser: &Browser, name: &str) {
    browser.screenshot(name).await;
    browser.assert_no_serious_violations().await;
}

fn sdk_device(
    app: &TestApp,
    dir: &Path,
    user: &Session,
    clock: Option<Arc<ManualClock>>,
) -> Client {
    let db = dir.join(format!("{}.db", Uuid::new_v4()));
    let config = Config {
        backoff_base_ms: 2,
        backoff_max_ms: 20,
        ..Config::new(&app.base)
    };
    let client = match clock {
        Some(c) => Client::open_with_clock(db, config, c),
        None => Client::open(db, config),
    }
    .expect("device store");
    client
        .login(&user.username, PASSWORD)
        .expect("device login");
    client
}

fn new_session(notes: &str) -> NewSession {
    NewSession {
        village_code: "50010203".into(),
        help_type: "e_government".into(),
        started_at: "2026-11-28T09:30:00+07:00".into(),
        duration_min: 30,
        people_helped: 2,
        outcome: Some("resolved".into()),
        notes: Some(notes.into()),
        follow_up_on: None,
    }
}

fn synced(client: &Client) {
    let report = client.sync().expect("sync");
    assert_eq!(report.pending, 0, "{report:?}");
}

#[tokio::test]
async fn a_manager_signs_in_on_a_phone_and_finds_a_volunteers_sessions_by_name_and_date() {
    if !browser::enabled() {
        return;
    }
    let app = TestApp::spawn().await;
    let mut somchai = app
        .user_named("volunteer", Some("C0001"), Some("สมชาย ใจดี"))
        .await;
    let mut somsri = app
        .user_named("volunteer", Some("C0001"), Some("สมศรี รักงาน"))
        .await;
    pushed(&app, &mut somchai, "2026-11-02T09:00:00+07:00", "ต้นเดือน").await;
    let late = pushed(&app, &mut somchai, "2026-11-27T09:00:00+07:00", "ปลายเดือน").await;
    pushed(&app, &mut somsri, "2026-11-27T10:00:00+07:00", "ของสมศรี").await;
    let boss = app
        .user_named("manager", Some("C0001"), Some("สมหญิง ผู้จัดการ"))
        .await;

    let browser = Browser::start(WindowSize::PHONE).await;
    browser.goto(&app.url("/sessions")).await;
    browser.wait_for("#login-username").await;
    check_page(&browser, "console-login-phone").await;
    sign_in(&browser, &app, &boss.username).await;
    assert!(browser.current_url().await.ends_with("/sessions"));
    let cookie = browser.cookie("asa_console").await.expect("session cookie");
    assert!(cookie.http_only && cookie.same_site == Some(SameSite::Strict));
    assert_eq!(browser.execute("return document.cookie;", vec![]).await, "");
    assert_eq!(browser.find_all("a[href^='/sessions/0']").await.len(), 3);

    browser.fill("#f-volunteer", "สมชาย").await;
    // Date fields take their value as the browser's date picker would set it.
    browser
        .execute(
            "document.getElementById('f-from').value = '2026-11-20';\
             document.getElementById('f-to').value = '2026-11-30';",
            vec![],
        )
        .await;
    browser.submit("form[action='/sessions']").await;
    browser.wait_for("#f-volunteer").await;
    let url = browser.current_url().await;
    assert!(
        url.contains("from=2026-11-20") && url.contains("to=2026-11-30"),
        "{url}"
    );
    let rows = browser.find_all("a[href^='/sessions/0']").await;
    assert_eq!(rows.len(), 1, "one of สมชาย's sessions in the dates");
    assert!(browser.text("main").await.contains("สมชาย ใจดี"));
    assert!(!browser.text("main").await.contains("สมศรี รักงาน"));
    check_page(&browser, "console-sessions-phone").await;

    browser.follow(&format!("a[href='/sessions/{late}']")).await;
    browser.wait_for("#history").await;
    assert!(browser.text("main").await.contains("ปลายเดือน"));
    check_page(&browser, "console-session-phone").await;
}

#[test]
fn a_conflict_between_two_devices_is_resolved_in_the_page_and_both_devices_show_it() {
    if !browser::enabled() {
        return;
    }
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let app = rt.block_on(TestApp::spawn());
    let volunteer = rt.block_on(app.user_named("volunteer", Some("C0001"), Some("สมชาย ใจดี")));
    let boss = rt.block_on(app.user_named("manager", Some("C0001"), Some("สมหญิง ผู้จัดการ")));
    let phone = sdk_device(&app, dir.path(), &volunteer, None);
    let tablet = sdk_device(&app, dir.path(), &volunteer, None);
    let id = phone.create_session(&new_session("เดิม")).unwrap();
    synced(&phone);
    synced(&tablet);
    for (device, text) in [(&phone, "จากโทรศัพท์"), (&tablet, "จากแท็บเล็ต")]
    {
        device
            .edit(Collection::Sessions, id, &[FieldEdit::new("notes", text)])
            .unwrap();
        synced(device);
    }
    synced(&phone);
    assert_eq!(
        phone.conflicts().unwrap().len(),
        1,
        "the devices see the conflict"
    );

    rt.block_on(async {
        let browser = Browser::start(WindowSize::DESKTOP).await;
        sign_in(&browser, &app, &boss.username).await;
        assert!(
            browser.text("nav").await.contains('1'),
            "the conflict badge"
        );
        browser.goto(&app.url("/conflicts")).await;
        let main = browser.text("main").await;
        assert!(
            main.contains("จากโทรศัพท์") && main.contains("จากแท็บเล็ต"),
            "{main}"
        );
        assert!(main.contains("สมชาย ใจดี"), "the authors by name");
        check_page(&browser, "console-conflicts-desktop").await;
        browser.set_window_size(WindowSize::PHONE).await;
        check_page(&browser, "console-conflicts-phone").await;

        // Keep the phone's value: its radio button, then the form's button.
        let record: Value = app
            .record(&boss, "sessions", id)
            .await
            .json()
            .await
            .unwrap();
        let head = record["conflicts"][0]["heads"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["value"] == "จากโทรศัพท์")
            .unwrap()["hlc"]
            .as_str()
            .unwrap()
            .to_owned();
        browser
            .click(&format!("input[name='choice'][value='{head}']"))
            .await;
        browser.submit("form.resolve").await;
        browser.wait_for(".flash.ok").await;
        assert!(browser
            .current_url()
            .await
            .contains("/conflicts?done=resolved"));
        check_page(&browser, "console-resolved-phone").await;
        browser.close().await;
    });

    for device in [&phone, &tablet] {
        synced(device);
        let shown = device.record(Collection::Sessions, id).unwrap().unwrap();
        assert_eq!(shown.text("notes"), Some("จากโทรศัพท์"));
        assert!(
            device.conflicts().unwrap().is_empty(),
            "the conflict is gone there"
        );
    }
}

#[test]
fn a_phone_with_a_clock_a_year_ahead_is_marked_on_the_devices_page() {
    if !browser::enabled() {
        return;
    }
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let app = rt.block_on(TestApp::spawn());
    let ahead = rt.block_on(app.user_named("volunteer", Some("C0001"), Some("นาฬิกา เร็วไป")));
    let right = rt.block_on(app.user_named("volunteer", Some("C0001"), Some("นาฬิกา ตรง")));
    let boss = rt.block_on(app.user("manager", Some("C0001")));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let year = 365 * 24 * 3600 * 1000;
    let fast = sdk_device(
        &app,
        dir.path(),
        &ahead,
        Some(Arc::new(ManualClock::new(now + year))),
    );
    let good = sdk_device(&app, dir.path(), &right, None);
    for device in [&fast, &good] {
        device.create_session(&new_session("บันทึก")).unwrap();
        synced(device);
    }
    rt.block_on(async {
        let browser = Browser::start(WindowSize::DESKTOP).await;
        sign_in(&browser, &app, &boss.username).await;
        browser.goto(&app.url("/devices")).await;
        browser.wait_for("tr.is-skewed").await;
        let skewed = browser.find_all("tr.is-skewed").await;
        assert_eq!(skewed.len(), 1);
        let row = skewed[0].text().await.unwrap();
        assert!(row.contains("นาฬิกา เร็วไป"), "{row}");
        let ok = browser.text("main").await;
        assert!(ok.contains("นาฬิกา ตรง"));
        check_page(&browser, "console-devices-desktop").await;
        browser.set_window_size(WindowSize::PHONE).await;
        check_page(&browser, "console-devices-phone").await;
        browser.close().await;
    });
}

#[tokio::test]
async fn a_manager_of_another_centre_sees_nothing_of_this_one() {
    if !browser::enabled() {
        return;
    }
    let app = TestApp::spawn().await;
    let mut volunteer = app
        .user_named("volunteer", Some("C0001"), Some("อาสา ศูนย์หนึ่ง"))
        .await;
    let id = pushed(
        &app,
        &mut volunteer,
        "2026-11-27T09:00:00+07:00",
        "ของศูนย์หนึ่ง",
    )
    .await;
    let other = app.user("manager", Some("C0002")).await;
    let browser = Browser::start(WindowSize::PHONE).await;
    sign_in(&browser, &app, &other.username).await;
    for page in [
        "/sessions",
        "/conflicts",
        "/devices",
        "/volunteers",
        "/programme",
        "/duplicates",
    ] {
        browser.goto(&app.url(page)).await;
        let text = browser.text("main").await;
        assert!(!text.contains("อาสา ศูนย์หนึ่ง"), "{page}: {text}");
        assert!(!text.contains("ของศูนย์หนึ่ง"), "{page}");
    }
    browser.goto(&app.url(&format!("/sessions/{id}"))).await;
    let text = browser.text("main").await;
    assert!(!text.contains("ของศูนย์หนึ่ง"));
    assert!(text.contains("404"), "{text}");
    check_page(&browser, "console-not-found-phone").await;
}

/// A page of another site that posts a form to the console, as an attacker's would.
struct Attacker {
    url: String,
    _server: actix_web::dev::ServerHandle,
}

async fn attacker(target: &str) -> Attacker {
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Win a prize</title></head>\
         <body><main><h1>Win a prize</h1>\
         <form method=\"post\" action=\"{target}/volunteers\">\
         <input type=\"hidden\" name=\"username\" value=\"planted.by.attacker\">\
         <input type=\"hidden\" name=\"password\" value=\"attacker password 1\">\
         <input type=\"hidden\" name=\"display_name\" value=\"planted\">\
         <button type=\"submit\">Claim</button></form></main></body></html>"
    );
    let server = actix_web::HttpServer::new(move || {
        let page = page.clone();
        actix_web::App::new().default_service(actix_web::web::to(move || {
            let page = page.clone();
            async move {
                actix_web::HttpResponse::Ok()
                    .content_type("text/html; charset=utf-8")
                    .body(page)
            }
        }))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    Attacker {
        url: format!("http://localhost:{port}/"),
        _server: handle,
    }
}

#[tokio::test]
async fn a_form_posted_from_another_site_is_refused() {
    if !browser::enabled() {
        return;
    }
    let app = TestApp::spawn().await;
    let boss = app.user("manager", Some("C0001")).await;
    let evil = attacker(&app.base).await;
    let browser = Browser::start(WindowSize::DESKTOP).await;
    sign_in(&browser, &app, &boss.username).await;
    browser.goto(&evil.url).await;
    browser.submit("form").await;
    // Cross-site, the SameSite=Strict cookie stays home: the console sees
    // a stranger and asks them to sign in (the HTTP tests show the CSRF
    // token refusing a same-site forgery that does carry the cookie).
    let url = browser.current_url().await;
    assert!(
        url.contains("/login"),
        "{url}: {}",
        browser.text("body").await
    );
    let users: Value = app
        .get("/v1/users", &boss.access)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        !users.to_string().contains("planted.by.attacker"),
        "{users}"
    );
    browser.screenshot("console-csrf-refused").await;
}

#[tokio::test]
async fn markup_in_notes_and_names_renders_as_text_and_runs_nothing() {
    if !browser::enabled() {
        return;
    }
    let app = TestApp::spawn().await;
    let xss = r#"<script>window.__xss = 1</script>"><img src=x onerror="window.__xss = 2">"#;
    let mut volunteer = app
        .user_named(
            "volunteer",
            Some("C0001"),
            Some(r#"<img src=x onerror="window.__xss = 3">"#),
        )
        .await;
    let id = pushed(&app, &mut volunteer, "2026-11-27T09:00:00+07:00", xss).await;
    let boss = app.user("manager", Some("C0001")).await;
    let browser = Browser::start(WindowSize::DESKTOP).await;
    sign_in(&browser, &app, &boss.username).await;
    for path in ["/sessions".to_owned(), format!("/sessions/{id}")] {
        browser.goto(&app.url(&path)).await;
        browser.wait_for("main").await;
        assert_eq!(
            browser.execute("return typeof window.__xss;", vec![]).await,
            "undefined",
            "{path}: nothing ran"
        );
        assert!(
            browser.find_all("main img").await.is_empty(),
            "{path}: no image injected"
        );
    }
    let text = browser.text("main").await;
    assert!(text.contains("<script>window.__xss = 1</script>"), "{text}");
    assert!(text.contains(r#"<img src=x onerror="window.__xss = 3">"#));
}

#[tokio::test]
async fn the_xlsx_export_downloads_and_opens() {
    if !browser::enabled() {
        return;
    }
    let app = TestApp::spawn().await;
    let mut volunteer = app
        .user_named("volunteer", Some("C0001"), Some("สมชาย ใจดี"))
        .await;
    for day in ["2026-11-02", "2026-11-27"] {
        pushed(
            &app,
            &mut volunteer,
            &format!("{day}T09:00:00+07:00"),
            "ส่งออก",
        )
        .await;
    }
    let boss = app.user("manager", Some("C0001")).await;
    let downloads = tempfile::tempdir().unwrap();
    let browser = Browser::start(WindowSize::DESKTOP).await;
    browser
        .cdp(
            "Browser.setDownloadBehavior",
            json!({"behavior": "allow", "downloadPath": downloads.path()}),
        )
        .await;
    sign_in(&browser, &app, &boss.username).await;
    browser.goto(&app.url("/sessions?from=2026-11-20")).await;
    check_page(&browser, "console-sessions-filtered-desktop").await;
    browser.click("a[href^='/export/sessions.xlsx']").await;
    let file = downloads.path().join("sessions.xlsx");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !file.exists() {
        assert!(
            Instant::now() < deadline,
            "no download in {:?}",
            downloads.path()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    use calamine::Reader;
    let mut book = calamine::open_workbook::<calamine::Xlsx<_>, _>(&file).expect("an XLSX file");
    let sheet = book.worksheet_range_at(0).unwrap().unwrap();
    assert_eq!(
        sheet.height(),
        2,
        "the header and the one session after the 20th"
    );
    let cells: Vec<String> = sheet
        .rows()
        .nth(1)
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert!(cells.iter().any(|c| c == "สมชาย ใจดี"), "{cells:?}");
}

/// Every page, at both sizes, in Thai (and the sessions page in English):
/// axe-core on each and a screenshot of each.
#[tokio::test]
async fn every_page_passes_axe_at_phone_and_desktop_size() {
    if !browser::enabled() {
        return;
    }
    let app = TestApp::spawn().await;
    let mut somchai = app
        .user_named("volunteer", Some("C0001"), Some("สมชาย ใจดี"))
        .await;
    let person = Uuid::now_v7();
    let create = somchai.new_beneficiary(person, "นางมาลี ศรีสุข");
    // The same person again, without her title: a pair to review.
    let again = somchai.new_beneficiary(Uuid::now_v7(), "มาลี ศรีสุข");
    app.push_ok(&somchai, vec![create, again]).await;
    let session = Uuid::now_v7();
    let mut fields = session_fields("C0001", somchai.user_id);
    fields[format!("beneficiary_ids/{person}")] = json!({"value": true});
    let create = somchai.change("sessions", session, fields);
    app.push_ok(&somchai, vec![create]).await;
    for day in ["2026-11-03", "2026-11-10", "2026-11-17", "2026-11-24"] {
        pushed(
            &app,
            &mut somchai,
            &format!("{day}T13:00:00+07:00"),
            "ช่วยสมัครแอปเป๋าตัง",
        )
        .await;
    }
    let boss = app
        .user_named("manager", Some("C0001"), Some("สมหญิง ผู้จัดการ"))
        .await;
    let pages = [
        ("sessions", "/sessions".to_owned()),
        ("session", format!("/sessions/{session}")),
        ("beneficiary", format!("/beneficiaries/{person}")),
        ("volunteers", "/volunteers".to_owned()),
        ("programme", "/programme".to_owned()),
        ("conflicts-none", "/conflicts".to_owned()),
        ("duplicates", "/duplicates".to_owned()),
    ];
    let browser = Browser::start(WindowSize::PHONE).await;
    sign_in(&browser, &app, &boss.username).await;
    for (size, suffix) in [
        (WindowSize::PHONE, "phone"),
        (WindowSize::DESKTOP, "desktop"),
    ] {
        browser.set_window_size(size).await;
        for (name, path) in &pages {
            browser.goto(&app.url(path)).await;
            browser.wait_for("main h1").await;
            check_page(&browser, &format!("console-{name}-{suffix}")).await;
        }
        // Both buttons of a pair are in view, not off to the right.
        browser.goto(&app.url("/duplicates")).await;
        let overflowing = browser
            .execute(
                "const buttons = [...document.querySelectorAll('.pair button')];
                 return String(buttons.length === 0 ? -1 : buttons.filter(b =>
                     b.getBoundingClientRect().right > document.documentElement.clientWidth).length);",
                vec![],
            )
            .await;
        assert_eq!(overflowing, "0", "{suffix}: buttons of a pair out of view");
    }
    browser.goto(&app.url("/lang?to=en&back=%2Fsessions")).await;
    browser.wait_for("#f-volunteer").await;
    assert_eq!(
        browser
            .execute("return document.documentElement.lang;", vec![])
            .await,
        "en"
    );
    check_page(&browser, "console-sessions-english-desktop").await;
}
