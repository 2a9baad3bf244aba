//! Accounts and centres (contract section 8): who may create and manage
//! whom, immediate revocation, unbinding a lost phone without losing its
//! outbox, resync after a change of scope, logout and the refresh grace
//! window.

use reqwest::StatusCode;
use serde_json::{json, Value};
use tests::{assert_problem, Session, TestApp};
use uuid::Uuid;

async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.expect("json body")
}

/// Creates a user as `by` and returns the created account's JSON.
async fn create(app: &TestApp, by: &Session, body: Value) -> reqwest::Response {
    app.post_json("/v1/admin/users", Some(&by.access), &body)
        .await
}

#[tokio::test]
async fn managers_create_volunteers_of_their_own_centre_and_nothing_else() {
    let app = TestApp::spawn().await;
    let manager = app.user("manager", Some("C0001")).await;
    let admin = app.admin().await;
    app.ensure_centre(&admin, "C0002").await;
    let created = create(
        &app,
        &manager,
        json!({"username": "malee", "password": "correct horse battery", "role": "volunteer", "display_name": "มาลี ใจดี"}),
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created = json_of(created).await;
    assert_eq!(created["centre_id"], "C0001", "the manager's own centre");
    assert_eq!(created["display_name"], "มาลี ใจดี");
    assert_eq!(created["disabled"], false);
    for (what, body) in [
        (
            "a manager",
            json!({"username": "boss2", "password": "correct horse battery", "role": "manager", "centre_id": "C0001"}),
        ),
        (
            "an admin",
            json!({"username": "root2", "password": "correct horse battery", "role": "admin"}),
        ),
        (
            "a volunteer of another centre",
            json!({"username": "other", "password": "correct horse battery", "role": "volunteer", "centre_id": "C0002"}),
        ),
    ] {
        let response = create(&app, &manager, body).await;
        assert_eq!(response.status(), 403, "{what}");
        assert_problem(response, 403, "forbidden").await;
    }
    let volunteer = app
        .session_for("malee", "correct horse battery", Uuid::new_v4())
        .await;
    let response = create(
        &app,
        &volunteer,
        json!({"username": "friend", "password": "correct horse battery", "role": "volunteer"}),
    )
    .await;
    assert_problem(response, 403, "forbidden").await;
    // Nothing refused was created.
    let users = json_of(app.get("/v1/users", &admin.access).await).await;
    let names: Vec<&str> = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"malee"));
    for refused in ["boss2", "root2", "other", "friend"] {
        assert!(!names.contains(&refused), "{refused} was not created");
    }
}

#[tokio::test]
async fn user_lists_are_scoped_paged_and_show_devices() {
    let app = TestApp::spawn().await;
    let manager = app.user("manager", Some("C0001")).await;
    let mut volunteers = Vec::new();
    for _ in 0..3 {
        volunteers.push(app.user("volunteer", Some("C0001")).await);
    }
    let elsewhere = app.user("volunteer", Some("C0002")).await;
    let admin = app.admin().await;

    let mine = json_of(app.get("/v1/users", &manager.access).await).await;
    let listed: Vec<&Value> = mine["users"].as_array().unwrap().iter().collect();
    assert_eq!(listed.len(), 4, "the manager and three volunteers");
    assert!(listed.iter().all(|u| u["centre_id"] == "C0001"));
    let v0 = listed
        .iter()
        .find(|u| u["id"] == json!(volunteers[0].user_id))
        .unwrap();
    assert_eq!(v0["devices"][0]["device_id"], json!(volunteers[0].device));
    assert!(v0["devices"][0]["bound_at"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    assert_problem(
        app.get("/v1/users?centre_id=C0002", &manager.access).await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        app.get("/v1/users", &elsewhere.access).await,
        403,
        "forbidden",
    )
    .await;

    // Pages of two, in username order, until no token is handed out.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = json_of(
            app.get(
                &format!("/v1/users?role=volunteer&limit=2&page_token={token}"),
                &admin.access,
            )
            .await,
        )
        .await;
        for u in page["users"].as_array().unwrap() {
            assert_eq!(u["role"], "volunteer");
            seen.push(u["username"].as_str().unwrap().to_owned());
        }
        match page["next_page_token"].as_str() {
            Some(t) => token = t.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 4, "four volunteers in both centres: {seen:?}");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted);
    assert_problem(
        app.get("/v1/users?role=chief", &admin.access).await,
        400,
        "invalid_role",
    )
    .await;
    assert_problem(
        app.get("/v1/users?centre_id=C9999", &admin.access).await,
        404,
        "unknown_centre",
    )
    .await;
}

#[tokio::test]
async fn disabling_a_user_revokes_every_token_at_once_and_enabling_lets_them_back() {
    let app = TestApp::spawn().await;
    let manager = app.user("manager", Some("C0001")).await;
    let volunteer = app.user("volunteer", Some("C0001")).await;
    let tablet = app.another_device(&volunteer).await;
    let path = format!("/v1/admin/users/{}", volunteer.user_id);

    let changed = app
        .patch_json(&path, &manager.access, &json!({"disabled": true}))
        .await;
    assert_eq!(changed.status(), 200);
    assert_eq!(json_of(changed).await["disabled"], true);
    for device in [&volunteer, &tablet] {
        assert_problem(app.pull(device, "").await, 401, "token_revoked").await;
        assert_problem(
            app.refresh(&device.refresh).await,
            401,
            "refresh_token_revoked",
        )
        .await;
    }
    assert_problem(
        app.login(&volunteer.username, &volunteer.password, volunteer.device)
            .await,
        403,
        "account_disabled",
    )
    .await;

    let enabled = app
        .patch_json(&path, &manager.access, &json!({"disabled": false}))
        .await;
    assert_eq!(enabled.status(), 200);
    let back = app
        .session_for(&volunteer.username, &volunteer.password, volunteer.device)
        .await;
    assert_eq!(app.pull(&back, "").await.status(), 200);
}

#[tokio::test]
async fn a_manager_may_rename_disable_and_reset_a_volunteer_but_not_change_roles() {
    let app = TestApp::spawn().await;
    let manager = app.user("manager", Some("C0001")).await;
    let colleague = app.user("manager", Some("C0001")).await;
    let mut volunteer = app.user("volunteer", Some("C0001")).await;
    let elsewhere = app.user("volunteer", Some("C0002")).await;
    let path = format!("/v1/admin/users/{}", volunteer.user_id);
    for body in [
        json!({"role": "manager"}),
        json!({"centre_id": "C0002"}),
        json!({"display_name": "ok", "role": "admin"}),
    ] {
        assert_problem(
            app.patch_json(&path, &manager.access, &body).await,
            403,
            "forbidden",
        )
        .await;
    }
    for other in [&colleague, &elsewhere] {
        assert_problem(
            app.patch_json(
                &format!("/v1/admin/users/{}", other.user_id),
                &manager.access,
                &json!({"display_name": "x"}),
            )
            .await,
            403,
            "forbidden",
        )
        .await;
    }
    assert_problem(
        app.patch_json(
            &format!("/v1/admin/users/{}", Uuid::now_v7()),
            &manager.access,
            &json!({"display_name": "x"}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        app.patch_json(&path, &manager.access, &json!({"password": "short"}))
            .await,
        400,
        "weak_password",
    )
    .await;
    assert_problem(
        app.patch_json(&path, &manager.access, &json!({"shoe_size": 42}))
            .await,
        400,
        "invalid_request",
    )
    .await;
    // The refused requests changed nothing: the volunteer still works.
    assert_eq!(app.pull(&volunteer, "").await.status(), 200);

    let session = Uuid::now_v7();
    let change = volunteer.new_session(session);
    app.push_ok(&volunteer, vec![change]).await;
    let renamed = app
        .patch_json(
            &path,
            &manager.access,
            &json!({"display_name": "สมชาย ขยันดี"}),
        )
        .await;
    assert_eq!(renamed.status(), 200);
    assert_eq!(
        app.pull(&volunteer, "").await.status(),
        200,
        "a new display name revokes nothing"
    );
    let record = json_of(app.record(&manager, "sessions", session).await).await;
    assert_eq!(record["author_name"], "สมชาย ขยันดี");

    let reset = app
        .patch_json(
            &path,
            &manager.access,
            &json!({"password": "a brand new password"}),
        )
        .await;
    assert_eq!(reset.status(), 200);
    assert_problem(app.pull(&volunteer, "").await, 401, "token_revoked").await;
    assert_problem(
        app.login(&volunteer.username, &volunteer.password, volunteer.device)
            .await,
        401,
        "invalid_credentials",
    )
    .await;
    let again = app
        .session_for(
            &volunteer.username,
            "a brand new password",
            volunteer.device,
        )
        .await;
    assert_eq!(app.pull(&again, "").await.status(), 200);
}

#[tokio::test]
async fn a_change_of_centre_makes_every_device_of_the_user_pull_from_the_beginning() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let mut volunteer = app.user("volunteer", Some("C0001")).await;
    app.ensure_centre(&admin, "C0002").await;
    let change = volunteer.new_beneficiary(Uuid::now_v7(), "คนในศูนย์หนึ่ง");
    app.push_ok(&volunteer, vec![change]).await;
    let (_, cursor) = app.pull_all(&volunteer, "include_own=true").await;

    let moved = app
        .patch_json(
            &format!("/v1/admin/users/{}", volunteer.user_id),
            &admin.access,
            &json!({"centre_id": "C0002"}),
        )
        .await;
    assert_eq!(moved.status(), 200);
    assert_eq!(json_of(moved).await["centre_id"], "C0002");
    assert_problem(app.pull(&volunteer, "").await, 401, "token_revoked").await;
    let volunteer = app
        .session_for(&volunteer.username, &volunteer.password, volunteer.device)
        .await;
    assert_eq!(volunteer.centre(), "C0002");
    assert_problem(
        app.pull(&volunteer, &format!("cursor={cursor}")).await,
        409,
        "resync_required",
    )
    .await;
    let (from_start, cursor) = app.pull_all(&volunteer, "include_own=true").await;
    assert!(
        from_start.is_empty(),
        "C0001's beneficiary is no longer in scope"
    );
    assert_eq!(
        app.pull(&volunteer, &format!("cursor={cursor}"))
            .await
            .status(),
        200,
        "the resync is done"
    );
}

#[tokio::test]
async fn an_unbound_phone_keeps_its_sequence_for_the_manager_who_logs_in_on_it() {
    let app = TestApp::spawn().await;
    let manager = app.user("manager", Some("C0001")).await;
    let mut volunteer = app.user("volunteer", Some("C0001")).await;
    let first = volunteer.new_session(Uuid::now_v7());
    app.push_ok(&volunteer, vec![first]).await;
    // The volunteer saved a second session offline, then left the programme.
    let offline = Uuid::now_v7();
    let second = volunteer.new_session(offline);
    let path = format!(
        "/v1/admin/users/{}/devices/{}",
        volunteer.user_id, volunteer.device
    );
    assert_eq!(
        app.delete(&path, &manager.access).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_problem(app.pull(&volunteer, "").await, 401, "token_revoked").await;
    assert_problem(app.delete(&path, &manager.access).await, 404, "not_found").await;
    let users = json_of(app.get("/v1/users?role=volunteer", &manager.access).await).await;
    assert_eq!(users["users"][0]["devices"], json!([]));

    // The manager logs in on the phone and its outbox goes out, in sequence.
    let on_phone = app
        .session_for(&manager.username, &manager.password, volunteer.device)
        .await;
    let answer = app.push_ok(&on_phone, vec![second]).await;
    assert_eq!(answer["acked_seq"], 2, "{answer}");
    assert_eq!(answer["results"][0]["status"], "applied", "{answer}");
    let record = app.record(&manager, "sessions", offline).await;
    assert_eq!(record.status(), 200);
}

#[tokio::test]
async fn a_manager_may_take_over_a_volunteers_bound_phone_but_a_colleague_may_not() {
    let app = TestApp::spawn().await;
    let manager = app.user("manager", Some("C0001")).await;
    let other_manager = app.user("manager", Some("C0002")).await;
    let volunteer = app.user("volunteer", Some("C0001")).await;
    let colleague = app.user("volunteer", Some("C0001")).await;
    for (who, username, password) in [
        ("a colleague", &colleague.username, &colleague.password),
        (
            "another centre's manager",
            &other_manager.username,
            &other_manager.password,
        ),
    ] {
        let response = app.login(username, password, volunteer.device).await;
        assert_eq!(response.status(), 409, "{who}");
        assert_problem(response, 409, "device_bound").await;
    }
    assert_eq!(app.pull(&volunteer, "").await.status(), 200);
    let taken = app
        .login(&manager.username, &manager.password, volunteer.device)
        .await;
    assert_eq!(taken.status(), 200);
    assert_problem(app.pull(&volunteer, "").await, 401, "token_revoked").await;
}

#[tokio::test]
async fn logout_ends_that_login_and_no_other() {
    let app = TestApp::spawn().await;
    let phone = app.user("volunteer", Some("C0001")).await;
    let tablet = app.another_device(&phone).await;
    let out = app
        .post_json(
            "/v1/auth/logout",
            None,
            &json!({"refresh_token": phone.refresh}),
        )
        .await;
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert_problem(app.pull(&phone, "").await, 401, "token_revoked").await;
    assert_problem(
        app.refresh(&phone.refresh).await,
        401,
        "refresh_token_revoked",
    )
    .await;
    assert_eq!(app.pull(&tablet, "").await.status(), 200);
    let again = app
        .post_json(
            "/v1/auth/logout",
            None,
            &json!({"refresh_token": "never issued"}),
        )
        .await;
    assert_eq!(
        again.status(),
        StatusCode::NO_CONTENT,
        "logout is idempotent"
    );
}

async fn refresh_from(app: &TestApp, token: &str, device: Option<Uuid>) -> reqwest::Response {
    let mut body = json!({ "refresh_token": token });
    if let Some(d) = device {
        body["device_id"] = json!(d);
    }
    app.post_json("/v1/auth/refresh", None, &body).await
}

#[tokio::test]
async fn a_refresh_whose_answer_was_lost_can_be_retried_once_within_a_minute() {
    let app = TestApp::spawn().await;
    let user = app.user("volunteer", Some("C0001")).await;
    // The answer of this refresh is lost on the way to the phone.
    let lost = json_of(refresh_from(&app, &user.refresh, Some(user.device)).await).await;
    let lost_refresh = lost["refresh_token"].as_str().unwrap().to_owned();
    app.clock.advance(20_000);
    let retried = refresh_from(&app, &user.refresh, Some(user.device)).await;
    assert_eq!(retried.status(), 200, "the phone's retry gets a fresh pair");
    let retried = json_of(retried).await;
    let fresh = retried["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(fresh, lost_refresh);
    assert_problem(
        refresh_from(&app, &lost_refresh, Some(user.device)).await,
        401,
        "invalid_refresh_token",
    )
    .await;
    // Once only: a second retry is a reuse, and ends the login.
    assert_problem(
        refresh_from(&app, &user.refresh, Some(user.device)).await,
        401,
        "refresh_token_reused",
    )
    .await;
    assert_problem(
        refresh_from(&app, &fresh, Some(user.device)).await,
        401,
        "refresh_token_revoked",
    )
    .await;
}

#[tokio::test]
async fn the_grace_window_needs_the_same_device_an_unused_successor_and_a_minute() {
    let app = TestApp::spawn().await;
    for case in [
        "no device id",
        "another device",
        "successor used",
        "too late",
    ] {
        let user = app.user("volunteer", Some("C0001")).await;
        let next = json_of(refresh_from(&app, &user.refresh, Some(user.device)).await).await;
        let device = match case {
            "no device id" => None,
            "another device" => Some(Uuid::new_v4()),
            _ => Some(user.device),
        };
        if case == "successor used" {
            let successor = next["refresh_token"].as_str().unwrap();
            assert_eq!(refresh_from(&app, successor, device).await.status(), 200);
        }
        if case == "too late" {
            app.clock.advance(61_000);
        }
        assert_problem(
            refresh_from(&app, &user.refresh, device).await,
            401,
            "refresh_token_reused",
        )
        .await;
    }
}

#[tokio::test]
async fn admins_manage_centres_and_others_see_their_own() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let created = app
        .post_json(
            "/v1/admin/centres",
            Some(&admin.access),
            &json!({"code": "CMI-0042", "name": "ศูนย์ดิจิทัลชุมชนตำบลสุเทพ", "province": "เชียงใหม่", "district": "เมืองเชียงใหม่"}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let changed = app
        .patch_json(
            "/v1/admin/centres/CMI-0042",
            &admin.access,
            &json!({"name": "ศูนย์ดิจิทัลชุมชนสุเทพ"}),
        )
        .await;
    assert_eq!(changed.status(), 200);
    let changed = json_of(changed).await;
    assert_eq!(changed["name"], "ศูนย์ดิจิทัลชุมชนสุเทพ");
    assert_eq!(changed["province"], "เชียงใหม่", "unchanged fields stay");
    assert_problem(
        app.patch_json(
            "/v1/admin/centres/NOPE",
            &admin.access,
            &json!({"name": "x"}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    let manager = app.user("manager", Some("C0001")).await;
    assert_problem(
        app.patch_json(
            "/v1/admin/centres/C0001",
            &manager.access,
            &json!({"name": "x"}),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    let all = json_of(app.get("/v1/centres", &admin.access).await).await;
    assert_eq!(all["centres"].as_array().unwrap().len(), 2);
    let own = json_of(app.get("/v1/centres", &manager.access).await).await;
    assert_eq!(own["centres"].as_array().unwrap().len(), 1);
    assert_eq!(own["centres"][0]["code"], "C0001");
}

#[tokio::test]
async fn an_admins_change_in_a_centre_that_does_not_exist_is_rejected() {
    let app = TestApp::spawn().await;
    let mut admin = app.admin().await;
    let fields = tests::session_fields("C0404", admin.user_id);
    let change = admin.change("sessions", Uuid::now_v7(), fields);
    let answer = app.push_ok(&admin, vec![change]).await;
    assert_eq!(answer["results"][0]["code"], "unknown_centre", "{answer}");
}

#[tokio::test]
async fn nobody_can_disable_themselves_or_change_their_own_role() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let path = format!("/v1/admin/users/{}", admin.user_id);
    for body in [
        json!({"disabled": true}),
        json!({"role": "manager", "centre_id": "C0001"}),
    ] {
        assert_problem(
            app.patch_json(&path, &admin.access, &body).await,
            403,
            "forbidden",
        )
        .await;
    }
    let renamed = app
        .patch_json(&path, &admin.access, &json!({"display_name": "ผู้ดูแลระบบ"}))
        .await;
    assert_eq!(renamed.status(), 200, "a new name of one's own is fine");
    assert_eq!(app.pull(&admin, "").await.status(), 200);
}

#[tokio::test]
async fn unbinding_a_device_of_someone_else_changes_nothing() {
    let app = TestApp::spawn().await;
    let manager = app.user("manager", Some("C0001")).await;
    let volunteer = app.user("volunteer", Some("C0001")).await;
    let elsewhere = app.user("volunteer", Some("C0002")).await;
    // The manager names their own volunteer, with another centre's phone.
    let path = format!(
        "/v1/admin/users/{}/devices/{}",
        volunteer.user_id, elsewhere.device
    );
    assert_problem(app.delete(&path, &manager.access).await, 404, "not_found").await;
    assert_eq!(
        app.pull(&elsewhere, "").await.status(),
        200,
        "the other phone is still logged in"
    );
    assert_eq!(app.refresh(&elsewhere.refresh).await.status(), 200);
}
