//! The manager console over HTTP, as a browser without JavaScript uses it:
//! sign-in and its cookie, CSRF, scope, escaping, session ends, and every
//! form against the state the API then reports. The same pages in a real
//! Chromium are in `console_browser.rs`.

use serde_json::{json, Value};
use tests::console::{ConsoleClient, Page};
use tests::{session_fields, Session, TestApp};
use uuid::Uuid;

const PASSWORD: &str = "correct horse battery";

async fn manager(app: &TestApp, centre: &str, name: &str) -> (Session, ConsoleClient) {
    let session = app.user_named("manager", Some(centre), Some(name)).await;
    let console = ConsoleClient::signed_in(app, &session.username, PASSWORD).await;
    (session, console)
}

/// A session of `who` started at `started_at`, pushed.
async fn pushed_session(app: &TestApp, who: &mut Session, started_at: &str, notes: &str) -> Uuid {
    let id = Uuid::now_v7();
    let mut fields = session_fields(who.centre(), who.user_id);
    fields["started_at"] = json!({"value": started_at});
    fields["notes"] = json!({"value": notes});
    let change = who.change("sessions", id, fields);
    app.push_ok(who, vec![change]).await;
    id
}

fn ids_listed(page: &Page) -> usize {
    page.body.matches("href=\"/sessions/").count()
}

async fn api_json(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn signing_in_sets_a_strict_http_only_cookie_and_pages_forbid_scripts() {
    let app = TestApp::spawn().await;
    let boss = app
        .user_named("manager", Some("C0001"), Some("ผู้จัดการ สมหญิง"))
        .await;
    let console = ConsoleClient::new(&app);

    let form = console.get("/login").await;
    assert_eq!(form.status, 200);
    let pre = form
        .set_cookie("asa_login")
        .expect("the sign-in form's cookie");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(pre.contains(flag), "{pre}");
    }
    assert!(!pre.contains("Secure"), "plain HTTP: {pre}");
    let csp = form.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(!csp.contains("script-src"), "no script is allowed: {csp}");
    assert_eq!(form.header("x-frame-options"), Some("DENY"));
    assert!(!form.body.contains("<script"));

    // A wrong password: the page again, the username kept, no session.
    let wrong = console
        .post(
            "/login",
            &[
                ("csrf", &form.csrf()),
                ("username", &boss.username),
                ("password", "not the password"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    assert!(wrong.set_cookie("asa_console").is_none());
    assert_eq!(
        wrong.input_value("username").as_deref(),
        Some(boss.username.as_str())
    );
    assert!(!wrong.body.contains("not the password"));

    let signed = console
        .post(
            "/login",
            &[
                ("csrf", &wrong.csrf()),
                ("username", &boss.username),
                ("password", PASSWORD),
                ("next", "/devices"),
            ],
        )
        .await;
    assert_eq!(signed.status, 303, "{}", signed.body);
    assert_eq!(signed.location(), Some("/devices"));
    let cookie = signed
        .set_cookie("asa_console")
        .expect("the session cookie");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "{cookie}");
    assert!(
        console.cookie("asa_login").is_none(),
        "the pre-session cookie goes"
    );

    let sessions = console.get("/sessions").await;
    assert_eq!(sessions.status, 200);
    assert!(sessions.body.contains("ผู้จัดการ สมหญิง"));
    assert!(sessions.body.contains("ศูนย์ C0001"), "the centre's name");
    assert_eq!(sessions.header("cache-control"), Some("no-store"));
    assert!(sessions
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));

    // Signed in, the sign-in page goes on to the console; `/` too.
    assert_eq!(console.get("/login").await.location(), Some("/sessions"));
    assert_eq!(console.get("/").await.location(), Some("/sessions"));
    // Signed out, every page goes to the sign-in page and comes back.
    let stranger = ConsoleClient::new(&app);
    assert_eq!(
        stranger.get("/devices?x=1").await.location(),
        Some("/login?next=%2Fdevices%3Fx%3D1")
    );
    // `next` only ever names a page of this site.
    let other = ConsoleClient::new(&app);
    let form = other.get("/login").await;
    let away = other
        .post(
            "/login",
            &[
                ("csrf", &form.csrf()),
                ("username", &boss.username),
                ("password", PASSWORD),
                ("next", "//evil.example/x"),
            ],
        )
        .await;
    assert_eq!(away.location(), Some("/sessions"));
}

#[tokio::test]
async fn behind_a_trusted_tls_proxy_the_cookies_are_secure() {
    let app =
        TestApp::spawn_tuned(|s| s.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]).await;
    let boss = app.user("manager", Some("C0001")).await;
    let console = ConsoleClient::new(&app);
    let form = console.get("/login").await;
    let answer = console
        .post_with(
            "/login",
            &[
                ("csrf", &form.csrf()),
                ("username", &boss.username),
                ("password", PASSWORD),
            ],
            &[("x-forwarded-proto", "https")],
        )
        .await;
    assert_eq!(answer.status, 303);
    let cookie = answer.set_cookie("asa_console").unwrap();
    assert!(cookie.contains("Secure"), "{cookie}");
}

#[tokio::test]
async fn a_form_without_this_sessions_token_changes_nothing() {
    let app = TestApp::spawn().await;
    let (boss, console) = manager(&app, "C0001", "ผู้จัดการ").await;

    // Sign-in without the form's token (a cross-site post has no cookie).
    let stranger = ConsoleClient::new(&app);
    let refused = stranger
        .post(
            "/login",
            &[("username", &boss.username), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(refused.status, 403);
    assert!(refused.set_cookie("asa_console").is_none());

    // A signed-in manager's browser posting a forged form: no token, a
    // wrong token, the token of another session of the same manager.
    let other = ConsoleClient::signed_in(&app, &boss.username, PASSWORD).await;
    let other_token = other.get("/volunteers").await.csrf();
    for token in [None, Some("forged"), Some(other_token.as_str())] {
        let mut fields = vec![
            ("username", "forged-volunteer"),
            ("display_name", "ปลอม"),
            ("password", "a long enough password"),
        ];
        if let Some(t) = token {
            fields.push(("csrf", t));
        }
        let answer = console
            .post_with(
                "/volunteers",
                &fields,
                &[("origin", "https://evil.example")],
            )
            .await;
        assert_eq!(answer.status, 403, "token {token:?}");
    }
    let users = api_json(app.get("/v1/users", &boss.access).await).await;
    assert!(
        !users.to_string().contains("forged-volunteer"),
        "nobody was created: {users}"
    );
    // Logout needs the token too; the session goes on.
    assert_eq!(console.post("/logout", &[]).await.status, 403);
    assert_eq!(console.get("/sessions").await.status, 200);
}

#[tokio::test]
async fn volunteers_are_sent_to_their_app() {
    let app = TestApp::spawn().await;
    let volunteer = app.user("volunteer", Some("C0001")).await;
    let console = ConsoleClient::new(&app);
    console.set_cookie("asa_lang", "en");
    let answer = console.sign_in(&volunteer.username, PASSWORD).await;
    assert_eq!(answer.status, 403);
    assert!(
        answer.body.contains("volunteers use the phone app"),
        "{}",
        answer.body
    );
    assert!(console.cookie("asa_console").is_none());
}

#[tokio::test]
async fn a_manager_sees_and_changes_nothing_of_another_centre() {
    let app = TestApp::spawn().await;
    let mut volunteer = app
        .user_named("volunteer", Some("C0001"), Some("อาสา ศูนย์หนึ่ง"))
        .await;
    let id = pushed_session(&app, &mut volunteer, "2026-11-28T09:30:00+07:00", "หนึ่ง").await;
    let (_, own) = manager(&app, "C0001", "ผู้จัดการหนึ่ง").await;
    let (_, other) = manager(&app, "C0002", "ผู้จัดการสอง").await;

    let mine = own.get("/sessions").await;
    assert!(mine.body.contains(&id.to_string()) && mine.body.contains("อาสา ศูนย์หนึ่ง"));
    let theirs = other.get("/sessions").await;
    assert_eq!(theirs.status, 200);
    assert!(!theirs.body.contains(&id.to_string()));
    assert!(!theirs.body.contains("อาสา ศูนย์หนึ่ง"));
    for path in [
        format!("/sessions/{id}"),
        format!("/conflicts/sessions/{id}"),
    ] {
        assert_eq!(other.get(&path).await.status, 404, "{path}");
    }
    let (status, _, csv) = other.download("/export/sessions.csv").await;
    assert_eq!(status, 200);
    assert_eq!(
        String::from_utf8(csv).unwrap().lines().count(),
        1,
        "the header only"
    );
    let short = &volunteer.device.simple().to_string()[24..];
    assert!(own.get("/devices").await.body.contains(short));
    let devices = other.get("/devices").await;
    assert!(!devices.body.contains(short));
    assert!(!other.get("/volunteers").await.body.contains("อาสา ศูนย์หนึ่ง"));

    // Forms naming the other centre's device or volunteer are refused.
    let token = devices.csrf();
    let unbind = other
        .post(
            &format!("/devices/{}/unbind", volunteer.device),
            &[("csrf", &token), ("confirm", short)],
        )
        .await;
    assert_eq!(unbind.status, 404);
    let disable = other
        .post(
            &format!("/volunteers/{}/disable", volunteer.user_id),
            &[("csrf", &token)],
        )
        .await;
    assert_eq!(disable.status, 403);
    // The volunteer still syncs.
    let again = app.push(&volunteer, vec![]).await;
    assert_eq!(again.status(), 200);
}

#[tokio::test]
async fn markup_typed_on_a_phone_is_shown_as_text() {
    let app = TestApp::spawn().await;
    let xss = r#"<script>alert(1)</script><img src=x onerror=alert(1)>"#;
    let mut volunteer = app
        .user_named(
            "volunteer",
            Some("C0001"),
            Some("<b onmouseover=alert(2)>อาสา</b>"),
        )
        .await;
    let id = pushed_session(&app, &mut volunteer, "2026-11-28T09:30:00+07:00", xss).await;
    let (_, console) = manager(&app, "C0001", "ผู้จัดการ").await;
    for path in ["/sessions".to_owned(), format!("/sessions/{id}")] {
        let page = console.get(&path).await;
        assert_eq!(page.status, 200);
        assert!(!page.body.contains("<script"), "{path}");
        assert!(!page.body.contains("<img src=x"), "{path}");
        assert!(!page.body.contains("<b onmouseover"), "{path}");
        assert!(
            page.body
                .contains("&lt;b onmouseover=alert(2)&gt;อาสา&lt;/b&gt;"),
            "{path}"
        );
    }
    let detail = console.get(&format!("/sessions/{id}")).await;
    assert!(detail
        .body
        .contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
}

#[tokio::test]
async fn a_session_ends_when_idle_when_its_user_is_disabled_and_at_logout() {
    let app = TestApp::spawn().await;
    let (boss, console) = manager(&app, "C0001", "ผู้จัดการ").await;
    assert_eq!(console.get("/sessions").await.status, 200);
    // Used again within the idle time, it goes on; then idle for longer.
    app.clock.advance(29 * 60 * 1000);
    assert_eq!(console.get("/sessions").await.status, 200);
    app.clock.advance(29 * 60 * 1000);
    assert_eq!(console.get("/sessions").await.status, 200);
    app.clock.advance(31 * 60 * 1000);
    assert_eq!(
        console.get("/sessions").await.location(),
        Some("/login?next=%2Fsessions")
    );

    // Disabled by an admin: the open session ends.
    let console = ConsoleClient::signed_in(&app, &boss.username, PASSWORD).await;
    let admin = app.admin().await;
    let path = format!("/v1/admin/users/{}", boss.user_id);
    let disabled = app
        .patch_json(&path, &admin.access, &json!({"disabled": true}))
        .await;
    assert_eq!(disabled.status(), 200);
    assert_eq!(console.get("/sessions").await.status, 303);
    app.patch_json(&path, &admin.access, &json!({"disabled": false}))
        .await;

    // Logout: the cookie is cleared, and the old one no longer works.
    let console = ConsoleClient::signed_in(&app, &boss.username, PASSWORD).await;
    let cookie = console.cookie("asa_console").unwrap();
    let token = console.get("/sessions").await.csrf();
    let out = console.post("/logout", &[("csrf", &token)]).await;
    assert_eq!(out.status, 303);
    assert_eq!(out.location(), Some("/login?done=signed_out"));
    assert!(out.set_cookie("asa_console").unwrap().contains("Max-Age=0"));
    console.set_cookie("asa_console", &cookie);
    assert_eq!(console.get("/sessions").await.status, 303);
}

#[tokio::test]
async fn a_manager_finds_sessions_by_name_and_date_pages_through_them_and_exports_them() {
    let app = TestApp::spawn().await;
    let mut somchai = app
        .user_named("volunteer", Some("C0001"), Some("สมชาย ใจดี"))
        .await;
    let mut somsri = app
        .user_named("volunteer", Some("C0001"), Some("สมศรี รักงาน"))
        .await;
    let early = pushed_session(&app, &mut somchai, "2026-11-02T09:00:00+07:00", "ต้นเดือน").await;
    let late = pushed_session(&app, &mut somchai, "2026-11-27T09:00:00+07:00", "ปลายเดือน").await;
    let hers = pushed_session(&app, &mut somsri, "2026-11-27T10:00:00+07:00", "ของสมศรี").await;
    let (_, console) = manager(&app, "C0001", "ผู้จัดการ").await;

    let all = console.get("/sessions").await;
    assert_eq!(ids_listed(&all), 3);
    let by_name = console
        .get("/sessions?volunteer=%E0%B8%AA%E0%B8%A1%E0%B8%8A%E0%B8%B2%E0%B8%A2")
        .await;
    assert_eq!(ids_listed(&by_name), 2, "สมชาย's two");
    assert!(!by_name.body.contains(&hers.to_string()));
    assert!(by_name.body.contains(&early.to_string()) && by_name.body.contains(&late.to_string()));
    let week = console
        .get("/sessions?volunteer=%E0%B8%AA%E0%B8%A1%E0%B8%8A%E0%B8%B2%E0%B8%A2&from=2026-11-20&to=2026-11-30")
        .await;
    assert_eq!(ids_listed(&week), 1);
    assert!(week.body.contains(&late.to_string()));
    // Newest first.
    let first = all.body.find(&hers.to_string()).unwrap();
    assert!(first < all.body.find(&early.to_string()).unwrap());

    // A date that is not one: said so, nothing listed.
    console.set_cookie("asa_lang", "en");
    let bad = console.get("/sessions?from=2026-13-40").await;
    assert_eq!(bad.status, 200);
    assert!(bad.body.contains("This date is not valid."));
    assert_eq!(ids_listed(&bad), 0);
    let backwards = console.get("/sessions?from=2026-11-30&to=2026-11-01").await;
    assert!(backwards.body.contains("may not be after"));

    // Exports hold what the filter matches.
    let (status, headers, csv) = console
        .download("/export/sessions.csv?from=2026-11-20")
        .await;
    assert_eq!(status, 200);
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = String::from_utf8(csv).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(csv.contains("สมศรี รักงาน") && !csv.contains("ต้นเดือน"));
    let (status, headers, xlsx) = console.download("/export/sessions.xlsx").await;
    assert_eq!(status, 200);
    assert!(headers["content-disposition"]
        .to_str()
        .unwrap()
        .contains("sessions.xlsx"));
    use calamine::Reader;
    let mut book = calamine::Xlsx::new(std::io::Cursor::new(xlsx)).unwrap();
    let sheet = book.worksheet_range_at(0).unwrap().unwrap();
    assert_eq!(sheet.height(), 4, "a header and three sessions");

    // Paging: 50 a page.
    let mut changes = Vec::new();
    for _ in 0..52 {
        changes.push(somsri.new_session(Uuid::now_v7()));
    }
    app.push_ok(&somsri, changes).await;
    let one = console.get("/sessions").await;
    assert_eq!(ids_listed(&one), 50);
    assert!(
        one.body.contains("href=\"/sessions?page=2\""),
        "a next link"
    );
    let two = console.get("/sessions?page=2").await;
    assert_eq!(ids_listed(&two), 5);
    assert!(
        two.body.contains("href=\"/sessions?page=1\""),
        "a previous link"
    );
}

/// A session with `notes` in conflict between a volunteer's two devices.
async fn conflicted(app: &TestApp) -> (Session, Session, Uuid) {
    let mut phone = app
        .user_named("volunteer", Some("C0001"), Some("สมชาย ใจดี"))
        .await;
    let mut tablet = app.another_device(&phone).await;
    tablet.set_next_seq(1);
    let id = Uuid::now_v7();
    let create = phone.new_session(id);
    let base = create["hlc"].as_str().unwrap().to_owned();
    app.push_ok(&phone, vec![create]).await;
    for (device, text) in [(&mut phone, "จากโทรศัพท์"), (&mut tablet, "จากแท็บเล็ต")]
    {
        let edit = device.change(
            "sessions",
            id,
            json!({"notes": {"value": text, "base": [base]}}),
        );
        app.push_ok(device, vec![edit]).await;
    }
    (phone, tablet, id)
}

#[tokio::test]
async fn a_manager_resolves_a_conflict_in_the_console() {
    let app = TestApp::spawn().await;
    let (phone, mut tablet, id) = conflicted(&app).await;
    let (boss, console) = manager(&app, "C0001", "ผู้จัดการ").await;
    let list = console.get("/conflicts").await;
    assert!(list.body.contains("จากโทรศัพท์") && list.body.contains("จากแท็บเล็ต"));
    assert!(
        console
            .get("/sessions")
            .await
            .body
            .contains("class=\"badge"),
        "the badge"
    );

    let path = format!("/conflicts/sessions/{id}");
    let page = console.get(&path).await;
    assert_eq!(page.status, 200);
    let heads = page.input_values("head");
    assert_eq!(heads.len(), 2);
    let choices = page.input_values("choice");
    let record = api_json(app.record(&boss, "sessions", id).await).await;
    let loser = record["conflicts"][0]["heads"][1].clone();
    let chosen = loser["hlc"].as_str().unwrap();
    assert!(choices.iter().any(|c| c == chosen), "{choices:?}");

    // Meanwhile the tablet writes again over one of the heads: the heads the
    // manager saw are no longer the record's.
    let edit = tablet.change(
        "sessions",
        id,
        json!({"notes": {"value": "แก้อีกครั้ง", "base": [heads[0]]}}),
    );
    app.push_ok(&tablet, vec![edit]).await;
    let token = page.csrf();
    let mut form: Vec<(&str, &str)> = vec![("csrf", &token), ("key", "notes")];
    for h in &heads {
        form.push(("head", h));
    }
    form.push(("choice", "new"));
    form.push(("new_value", "ค่าที่ผู้จัดการยืนยัน"));
    let stale = console.post(&path, &form).await;
    assert_eq!(stale.status, 409, "{}", stale.body);
    assert!(stale.body.contains("แก้อีกครั้ง"), "the new state is shown");
    assert!(
        stale.body.contains("ค่าที่ผู้จัดการยืนยัน"),
        "what the manager typed is kept"
    );

    // Again, from the new state: the loser of before is kept.
    let heads = stale.input_values("head");
    let mut form: Vec<(&str, &str)> = vec![("csrf", &token), ("key", "notes")];
    for h in &heads {
        form.push(("head", h));
    }
    let value = loser["value"].as_str().unwrap().to_owned();
    let keep = chosen.to_owned();
    assert!(
        heads.contains(&keep),
        "the loser of before is still a head: {heads:?}"
    );
    form.push(("choice", &keep));
    let done = console.post(&path, &form).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location(), Some("/conflicts?done=resolved"));
    let record = api_json(app.record(&boss, "sessions", id).await).await;
    assert_eq!(record["conflicts"], json!([]));
    assert_eq!(record["fields"]["notes"], json!(value));
    // Every device gets the resolution.
    let (pulled, _) = app.pull_all(&phone, "").await;
    assert_eq!(
        pulled.last().unwrap()["fields"]["notes"]["value"],
        json!(value)
    );

    // A value the record cannot hold is refused with its reason.
    let (_, _, id) = conflicted(&app).await;
    let path = format!("/conflicts/sessions/{id}");
    let page = console.get(&path).await;
    let heads = page.input_values("head");
    let long = "ก".repeat(4001);
    let mut form: Vec<(&str, &str)> = vec![("csrf", &token), ("key", "notes")];
    for h in &heads {
        form.push(("head", h));
    }
    form.push(("choice", "new"));
    form.push(("new_value", &long));
    let refused = console.post(&path, &form).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    let record = api_json(app.record(&boss, "sessions", id).await).await;
    assert_eq!(record["conflicts"][0]["heads"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn unbinding_a_lost_phone_needs_its_short_id_typed() {
    let app = TestApp::spawn().await;
    let volunteer = app.user("volunteer", Some("C0001")).await;
    let (boss, console) = manager(&app, "C0001", "ผู้จัดการ").await;
    let page = console.get("/devices").await;
    let short = volunteer.device.simple().to_string()[24..].to_owned();
    assert!(page.body.contains(&short));
    let path = format!("/devices/{}/unbind", volunteer.device);
    let token = page.csrf();

    let wrong = console
        .post(&path, &[("csrf", &token), ("confirm", "00000000")])
        .await;
    assert_eq!(wrong.status, 400);
    let devices = api_json(app.get("/v1/devices", &boss.access).await).await;
    assert!(
        devices.to_string().contains(&volunteer.device.to_string()),
        "still bound"
    );

    let done = console
        .post(
            &path,
            &[("csrf", &token), ("confirm", &short.to_uppercase())],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location(), Some("/devices?done=unbound"));
    let devices = api_json(app.get("/v1/devices", &boss.access).await).await;
    assert!(!devices.to_string().contains(&volunteer.device.to_string()));
    // The phone's logins are revoked.
    assert_eq!(app.refresh(&volunteer.refresh).await.status(), 401);
}

#[tokio::test]
async fn a_manager_adds_renames_resets_and_disables_a_volunteer() {
    let app = TestApp::spawn().await;
    let (boss, console) = manager(&app, "C0001", "ผู้จัดการ").await;
    let token = console.get("/volunteers").await.csrf();

    let weak = console
        .post(
            "/volunteers",
            &[
                ("csrf", &token),
                ("username", "somchai.j"),
                ("display_name", "สมชาย ใจดี"),
                ("password", "short"),
            ],
        )
        .await;
    assert_eq!(weak.status, 400);
    assert_eq!(weak.input_value("username").as_deref(), Some("somchai.j"));
    assert!(
        !weak.body.contains("value=\"short\""),
        "no password shown again"
    );

    let created = console
        .post(
            "/volunteers",
            &[
                ("csrf", &token),
                ("username", "somchai.j"),
                ("display_name", "สมชาย ใจดี"),
                ("password", "a long enough password"),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let taken = console
        .post(
            "/volunteers",
            &[
                ("csrf", &token),
                ("username", "Somchai.J"),
                ("password", "a long enough password"),
            ],
        )
        .await;
    assert_eq!(taken.status, 409);
    let phone = app
        .session_for("somchai.j", "a long enough password", Uuid::new_v4())
        .await;
    assert_eq!(
        phone.centre.as_deref(),
        Some("C0001"),
        "the manager's centre"
    );
    let base = format!("/volunteers/{}", phone.user_id);

    let renamed = console
        .post(
            &format!("{base}/rename"),
            &[("csrf", &token), ("display_name", "สมชาย ใจงาม")],
        )
        .await;
    assert_eq!(renamed.status, 303);
    let users = api_json(app.get("/v1/users", &boss.access).await).await;
    assert!(users.to_string().contains("สมชาย ใจงาม"));

    let reset = console
        .post(
            &format!("{base}/password"),
            &[("csrf", &token), ("password", "another long password")],
        )
        .await;
    assert_eq!(reset.status, 303);
    let old = app
        .login("somchai.j", "a long enough password", Uuid::new_v4())
        .await;
    assert_eq!(old.status(), 401);

    let disabled = console
        .post(&format!("{base}/disable"), &[("csrf", &token)])
        .await;
    assert_eq!(disabled.status, 303);
    let refused = app
        .login("somchai.j", "another long password", phone.device)
        .await;
    assert_eq!(refused.status(), 403);
    let enabled = console
        .post(&format!("{base}/enable"), &[("csrf", &token)])
        .await;
    assert_eq!(enabled.status, 303);
    let back = app
        .login("somchai.j", "another long password", phone.device)
        .await;
    assert_eq!(back.status(), 200);

    // Nobody disables themselves.
    let own = console
        .post(
            &format!("/volunteers/{}/disable", boss.user_id),
            &[("csrf", &token)],
        )
        .await;
    assert_eq!(own.status, 403);
    assert_eq!(console.get("/sessions").await.status, 200);
}

/// The figure of a total on the programme page (`<dt>label</dt><dd>n</dd>`).
fn total(page: &Page, label: &str) -> String {
    let marker = format!("<dt>{label}</dt><dd>");
    let at = page
        .body
        .find(&marker)
        .unwrap_or_else(|| panic!("no total {label}"))
        + marker.len();
    page.body[at..].chars().take_while(|c| *c != '<').collect()
}

#[tokio::test]
async fn the_programme_page_counts_the_period_against_the_target() {
    let app = TestApp::spawn().await;
    let mut somchai = app
        .user_named("volunteer", Some("C0001"), Some("สมชาย ใจดี"))
        .await;
    for day in ["2026-11-02", "2026-11-09"] {
        pushed_session(&app, &mut somchai, &format!("{day}T09:00:00+07:00"), "").await;
    }
    let (_, console) = manager(&app, "C0001", "ผู้จัดการ").await;
    console.set_cookie("asa_lang", "en");
    let page = console
        .get("/programme?from=2026-11-01&to=2026-11-30")
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("สมชาย ใจดี"));
    assert!(page.body.contains("<svg"), "charts drawn on the server");
    // Two sessions of three people each: six people, meeting the target of four.
    assert_eq!(total(&page, "Help sessions"), "2");
    assert_eq!(total(&page, "People helped"), "6");
    assert_eq!(total(&page, "Hours of help"), "1.5");
    assert_eq!(total(&page, "Volunteers meeting the 1:4 target"), "1");
    // From the 5th: one session of three people, short of the target.
    let later = console
        .get("/programme?from=2026-11-05&to=2026-11-30")
        .await;
    assert_eq!(total(&later, "Help sessions"), "1");
    assert_eq!(total(&later, "People helped"), "3");
    assert_eq!(total(&later, "Volunteers meeting the 1:4 target"), "0");
    let bad = console.get("/programme?from=2026-11-31").await;
    assert!(bad.body.contains("This date is not valid."));
}

#[tokio::test]
async fn the_stylesheet_is_cached_by_its_fingerprint_and_the_language_is_remembered() {
    let app = TestApp::spawn().await;
    let console = ConsoleClient::new(&app);
    let login = console.get("/login").await;
    let at = login.body.find("/console/console.css?v=").unwrap();
    let href: String = login.body[at..].chars().take_while(|c| *c != '"').collect();
    let css = console.get(&href).await;
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").unwrap().starts_with("text/css"));
    assert!(css.header("cache-control").unwrap().contains("immutable"));
    let etag = css.header("etag").unwrap().to_owned();
    let again = reqwest::Client::new()
        .get(app.url(&href))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);

    assert!(login.body.contains("<html lang=\"th\""));
    let switch = console.get("/lang?to=en&back=%2Flogin").await;
    assert_eq!(switch.location(), Some("/login"));
    assert!(console
        .get("/login")
        .await
        .body
        .contains("<html lang=\"en\""));
    let away = console.get("/lang?to=th&back=%2F%2Fevil.example").await;
    assert_eq!(away.location(), Some("/"));
    // The API keeps its own 404s.
    let missing = reqwest::get(app.url("/v1/nothing")).await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
}

#[tokio::test]
async fn a_manager_reviews_duplicates_merging_one_pair_and_dismissing_another() {
    let app = TestApp::spawn().await;
    let mut volunteer = app.user("volunteer", Some("C0001")).await;
    let (boss, console) = manager(&app, "C0001", "ผู้จัดการ").await;
    let person = |who: &mut Session, id: Uuid, name: &str, phone: Option<&str>| {
        let mut fields = json!({
            "centre_id": {"value": "C0001"}, "village_code": {"value": "50010203"},
            "display_name": {"value": name}, "birth_year": {"value": 1960},
            "consent": {"value": true},
        });
        if let Some(p) = phone {
            fields["phone"] = json!({"value": p});
        }
        who.change("beneficiaries", id, fields)
    };
    let [a, b, c, d] = [(); 4].map(|_| Uuid::now_v7());
    let changes = vec![
        person(&mut volunteer, a, "นายสมชาย ใจดี", None),
        person(&mut volunteer, b, "สมชาย ใจดีี", None),
        person(&mut volunteer, c, "มาลี ศรีสุข", Some("0812345678")),
        person(&mut volunteer, d, "บุญมา แก้วดี", Some("0812345678")),
    ];
    app.push_ok(&volunteer, changes).await;

    let page = console.get("/duplicates").await;
    assert_eq!(page.status, 200);
    for name in ["นายสมชาย ใจดี", "สมชาย ใจดีี", "มาลี ศรีสุข", "บุญมา แก้วดี"]
    {
        assert!(page.body.contains(name), "{name} is listed");
    }
    let token = page.csrf();
    let (first, second) = (a.min(b), a.max(b));
    let pair = |x: Uuid, y: Uuid| [("a", x.to_string()), ("b", y.to_string())];

    // A form from another session changes nothing.
    let [(_, x), (_, y)] = pair(first, second);
    let forged = console
        .post(
            "/duplicates/merge",
            &[("csrf", "forged"), ("a", &x), ("b", &y)],
        )
        .await;
    assert_eq!(forged.status, 403);

    let merged = console
        .post(
            "/duplicates/merge",
            &[("csrf", &token), ("a", &x), ("b", &y)],
        )
        .await;
    assert_eq!(merged.status, 303, "{}", merged.body);
    assert_eq!(merged.location(), Some("/duplicates?done=merged"));
    let record = api_json(app.record(&boss, "beneficiaries", second).await).await;
    assert_eq!(record["fields"]["merged_into"], json!(first));
    // The merge is a change in the log, written by the server for the manager.
    let (pulled, _) = app.pull_all(&volunteer, "").await;
    let merge = pulled
        .iter()
        .find(|ch| ch["record_id"] == json!(second))
        .unwrap();
    assert!(merge["hlc"].as_str().unwrap().ends_with("-server"));
    assert_eq!(merge["author"], json!(boss.user_id));

    let [(_, x), (_, y)] = pair(c.min(d), c.max(d));
    let dismissed = console
        .post(
            "/duplicates/dismiss",
            &[("csrf", &token), ("a", &x), ("b", &y)],
        )
        .await;
    assert_eq!(dismissed.status, 303, "{}", dismissed.body);
    let listed = api_json(app.get("/v1/beneficiaries/duplicates", &boss.access).await).await;
    assert_eq!(listed["pairs"], json!([]));
    let page = console.get("/duplicates?done=dismissed").await;
    assert!(!page.body.contains("มาลี ศรีสุข"), "nothing left to review");
}
