//! Login, refresh rotation, throttling, user creation.

use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use tests::{assert_problem, TestApp, ADMIN_PASSWORD};
use uuid::Uuid;

#[tokio::test]
async fn login_returns_tokens_and_the_user() {
    let app = TestApp::spawn().await;
    let response = app.login("admin", ADMIN_PASSWORD, Uuid::new_v4()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["user"]["username"], "admin");
    assert_eq!(body["user"]["role"], "admin");
    assert!(body["access_token"].as_str().unwrap().len() > 20);
    assert!(body["refresh_token"].as_str().unwrap().len() > 20);
}

#[tokio::test]
async fn a_wrong_password_or_unknown_user_gets_invalid_credentials() {
    let app = TestApp::spawn().await;
    assert_problem(
        app.login("admin", "nope nope nope", Uuid::new_v4()).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_problem(
        app.login("nobody", "nope nope nope", Uuid::new_v4()).await,
        401,
        "invalid_credentials",
    )
    .await;
}

#[tokio::test]
async fn repeated_failed_logins_are_throttled_with_retry_after_until_the_window_passes() {
    let app = TestApp::spawn().await;
    for _ in 0..5 {
        assert_problem(
            app.login("admin", "wrong password", Uuid::new_v4()).await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    let throttled = app.login("admin", ADMIN_PASSWORD, Uuid::new_v4()).await;
    let retry: u64 = throttled.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry), "Retry-After {retry}");
    assert_problem(throttled, 429, "too_many_requests").await;
    // Another username is not affected.
    assert_problem(
        app.login("someone", "wrong password", Uuid::new_v4()).await,
        401,
        "invalid_credentials",
    )
    .await;
    app.clock.advance(901 * 1000);
    assert_eq!(
        app.login("admin", ADMIN_PASSWORD, Uuid::new_v4())
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn refresh_rotates_and_reuse_of_a_spent_token_revokes_the_login() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let first = app.refresh(&admin.refresh).await;
    assert_eq!(first.status(), StatusCode::OK);
    let first: Value = first.json().await.unwrap();
    let second_token = first["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second_token, admin.refresh);
    // The new access token works.
    let access = first["access_token"].as_str().unwrap();
    assert_eq!(
        app.get("/v1/sync/pull", access).await.status(),
        StatusCode::OK
    );

    // Presenting the spent token again ends the whole login.
    assert_problem(
        app.refresh(&admin.refresh).await,
        401,
        "refresh_token_reused",
    )
    .await;
    assert_problem(
        app.refresh(&second_token).await,
        401,
        "refresh_token_revoked",
    )
    .await;
    assert_problem(
        app.refresh("made-up-token").await,
        401,
        "invalid_refresh_token",
    )
    .await;
}

#[tokio::test]
async fn an_expired_refresh_token_is_refused() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    app.clock.advance(61 * 24 * 3600 * 1000);
    assert_problem(
        app.refresh(&admin.refresh).await,
        401,
        "refresh_token_expired",
    )
    .await;
}

#[tokio::test]
async fn admins_create_users_and_duplicates_conflict() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    app.ensure_centre(&admin, "C0001").await;
    let body = json!({"username": "somchai", "password": "long enough", "role": "volunteer", "centre_id": "C0001"});
    let created = app
        .post_json("/v1/admin/users", Some(&admin.access), &body)
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["username"], "somchai");
    assert_eq!(created["role"], "volunteer");
    assert_eq!(created["centre_id"], "C0001");
    assert!(Uuid::parse_str(created["id"].as_str().unwrap()).is_ok());
    assert_problem(
        app.post_json("/v1/admin/users", Some(&admin.access), &body)
            .await,
        409,
        "username_taken",
    )
    .await;

    let bad = |patch: Value| {
        let mut b = json!({"username": "x01", "password": "long enough", "role": "manager", "centre_id": "C0001"});
        for (k, v) in patch.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    assert_problem(
        app.post_json(
            "/v1/admin/users",
            Some(&admin.access),
            &bad(json!({"password": "short"})),
        )
        .await,
        400,
        "weak_password",
    )
    .await;
    assert_problem(
        app.post_json(
            "/v1/admin/users",
            Some(&admin.access),
            &bad(json!({"role": "boss"})),
        )
        .await,
        400,
        "invalid_role",
    )
    .await;
    assert_problem(
        app.post_json(
            "/v1/admin/users",
            Some(&admin.access),
            &bad(json!({"centre_id": null})),
        )
        .await,
        400,
        "missing_centre",
    )
    .await;
    assert_problem(
        app.post_json(
            "/v1/admin/users",
            Some(&admin.access),
            &bad(json!({"username": "has space"})),
        )
        .await,
        400,
        "invalid_username",
    )
    .await;

    // Only admins may create users.
    let manager = app.user("manager", Some("C0001")).await;
    assert_problem(
        app.post_json("/v1/admin/users", Some(&manager.access), &bad(json!({})))
            .await,
        403,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn a_device_bound_to_one_user_cannot_be_taken_by_another() {
    let app = TestApp::spawn().await;
    let a = app.user("volunteer", Some("C0001")).await;
    let b = app.user("volunteer", Some("C0001")).await;
    assert_problem(
        app.login(&b.username, &b.password, a.device).await,
        409,
        "device_bound",
    )
    .await;
    // The owner can log in on it again.
    assert_eq!(
        app.login(&a.username, &a.password, a.device).await.status(),
        StatusCode::OK
    );
}

/// A login sent through a trusted proxy on behalf of `address`.
async fn login_from(app: &TestApp, address: &str, username: &str, password: &str) -> Response {
    app.client
        .post(app.url("/v1/auth/login"))
        .header("x-forwarded-for", format!("10.9.9.9, {address}"))
        .json(&json!({"username": username, "password": password, "device_id": Uuid::new_v4()}))
        .send()
        .await
        .expect("request sent")
}

fn retry_after(response: &Response) -> u64 {
    response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn parallel_wrong_guesses_get_no_more_tries_than_sequential_ones() {
    let app =
        TestApp::spawn_tuned(|s| s.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]).await;
    let app = std::sync::Arc::new(app);
    let mut guesses = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let app = app.clone();
        guesses.spawn(async move {
            login_from(&app, "203.0.113.7", "admin", "a wrong guess")
                .await
                .status()
        });
    }
    let mut verified = 0;
    let mut throttled = 0;
    while let Some(status) = guesses.join_next().await {
        match status.unwrap() {
            StatusCode::UNAUTHORIZED => verified += 1,
            StatusCode::TOO_MANY_REQUESTS => throttled += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert!(
        (1..=5).contains(&verified),
        "{verified} guesses were checked against the password"
    );
    assert_eq!(verified + throttled, 20);

    // The real admin, from an address that made no guesses, is not locked out.
    let admin = login_from(&app, "198.51.100.20", "admin", ADMIN_PASSWORD).await;
    assert_eq!(admin.status(), StatusCode::OK);

    // The guessing address waits longer after every further failure.
    let mut waits = Vec::new();
    for _ in 0..3 {
        let refused = login_from(&app, "203.0.113.7", "admin", "a wrong guess").await;
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        let wait = retry_after(&refused);
        waits.push(wait);
        app.clock.advance(wait * 1000);
        assert_problem(
            login_from(&app, "203.0.113.7", "admin", "a wrong guess").await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    assert!(
        waits.windows(2).all(|w| w[1] > w[0]),
        "Retry-After grows: {waits:?}"
    );
}

#[tokio::test]
async fn an_address_that_guesses_many_usernames_is_stopped_and_others_are_not() {
    let app =
        TestApp::spawn_tuned(|s| s.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]).await;
    for i in 0..20 {
        assert_problem(
            login_from(&app, "203.0.113.9", &format!("user{i:02}"), "guess").await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    let stopped = login_from(&app, "203.0.113.9", "admin", ADMIN_PASSWORD).await;
    assert!(retry_after(&stopped) > 0);
    assert_problem(stopped, 429, "too_many_requests").await;
    assert_eq!(
        login_from(&app, "203.0.113.10", "admin", ADMIN_PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
    // A peer that is not a trusted proxy cannot choose its address.
    let app = TestApp::spawn().await;
    for i in 0..20 {
        login_from(&app, "203.0.113.11", &format!("nobody{i:02}"), "guess").await;
    }
    assert_problem(
        login_from(&app, "203.0.113.12", "admin", ADMIN_PASSWORD).await,
        429,
        "too_many_requests",
    )
    .await;
}
