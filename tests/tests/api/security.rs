//! Token attacks, cross-centre access through every endpoint, and devices not
//! bound to the token's user. Forged tokens that need the real key are signed
//! with the key read from the server's own database, as an insider would.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use sha2::Digest;
use tests::{assert_problem, Session, TestApp};
use uuid::Uuid;

fn signing_key(app: &TestApp) -> Vec<u8> {
    let store = app.store();
    tests::off_runtime(|| {
        store
            .secret("jwt_signing_key", &|| {
                panic!("the server made its key at start")
            })
            .unwrap()
    })
}

fn claims_of(session: &Session) -> Value {
    let payload = session.access.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn sign(claims: &Value, alg: Algorithm, key: &[u8]) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(key)).unwrap()
}

fn unsigned(header: Value, claims: &Value) -> String {
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
    format!("{}.{}.", part(&header), part(claims))
}

async fn assert_refused(app: &TestApp, token: &str) {
    assert_problem(app.get("/v1/sync/pull", token).await, 401, "unauthorized").await;
}

#[tokio::test]
async fn forged_tampered_and_expired_tokens_get_nothing() {
    let app = TestApp::spawn().await;
    let vol = app.user("volunteer", Some("C0001")).await;
    let key = signing_key(&app);
    let claims = claims_of(&vol);
    // A correctly signed token works: the forgeries below differ in one thing each.
    assert_eq!(
        app.get("/v1/sync/pull", &sign(&claims, Algorithm::HS256, &key))
            .await
            .status(),
        200
    );

    assert_refused(
        &app,
        &unsigned(json!({"alg": "none", "typ": "JWT"}), &claims),
    )
    .await;
    assert_refused(
        &app,
        &sign(&claims, Algorithm::HS256, b"a key that is not the server's"),
    )
    .await;
    assert_refused(&app, &sign(&claims, Algorithm::HS512, &key)).await;
    assert_refused(&app, &sign(&claims, Algorithm::HS384, &key)).await;
    let mut promoted = claims.clone();
    promoted["role"] = json!("admin");
    let (header, _, signature) = {
        let mut parts = vol.access.split('.');
        (parts.next().unwrap(), parts.next(), parts.next().unwrap())
    };
    let tampered = format!(
        "{header}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&promoted).unwrap())
    );
    assert_refused(&app, &tampered).await;
    let mut moved = claims.clone();
    moved["centre"] = json!("C0002");
    let tampered = format!(
        "{header}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&moved).unwrap())
    );
    assert_refused(&app, &tampered).await;
    assert_refused(&app, "not.a.token").await;
    assert_refused(&app, "").await;

    let now = chrono::Utc::now().timestamp();
    let mut future = claims.clone();
    future["nbf"] = json!(now + 3600);
    assert_refused(&app, &sign(&future, Algorithm::HS256, &key)).await;
    let mut no_exp = claims.clone();
    no_exp.as_object_mut().unwrap().remove("exp");
    assert_refused(&app, &sign(&no_exp, Algorithm::HS256, &key)).await;

    // The real token expires with time.
    app.clock.advance(16 * 60 * 1000);
    assert_refused(&app, &vol.access).await;
}

#[tokio::test]
async fn a_token_for_a_device_not_bound_to_its_user_cannot_push() {
    let app = TestApp::spawn().await;
    let mut a = app.user("volunteer", Some("C0001")).await;
    let b = app.user("volunteer", Some("C0001")).await;
    let key = signing_key(&app);
    let mut claims = claims_of(&a);
    claims["dev"] = json!(b.device);
    a.access = sign(&claims, Algorithm::HS256, &key);
    a.device = b.device;
    let change = a.new_session(Uuid::now_v7());
    assert_problem(app.push(&a, vec![change]).await, 403, "device_not_bound").await;
    let (changes, _) = app.pull_all(&b, "include_own=true").await;
    assert!(changes.is_empty());
}

#[tokio::test]
async fn nothing_of_another_centre_is_reachable_through_any_endpoint() {
    let app = TestApp::spawn().await;
    let mut other = app.user("volunteer", Some("C0002")).await;
    let session = Uuid::now_v7();
    let person = Uuid::now_v7();
    let batch = vec![
        other.new_session(session),
        other.new_beneficiary(person, "ลับ"),
    ];
    app.push_ok(&other, batch).await;
    let mut manager = app.user("manager", Some("C0001")).await;
    let vol = app.user("volunteer", Some("C0001")).await;
    for who in [&manager, &vol] {
        let (pulled, _) = app.pull_all(who, "include_own=true").await;
        assert!(pulled.is_empty());
        for collection in ["sessions", "beneficiaries"] {
            let page: Value = app.records(who, collection, "").await.json().await.unwrap();
            assert_eq!(page["records"], json!([]));
            assert_problem(
                app.records(who, collection, "centre_id=C0002").await,
                403,
                "forbidden",
            )
            .await;
            assert_problem(
                app.records(who, collection, "centre_id=C0002&format=csv")
                    .await,
                403,
                "forbidden",
            )
            .await;
        }
        assert_problem(app.record(who, "sessions", session).await, 403, "forbidden").await;
        assert_problem(
            app.record(who, "beneficiaries", person).await,
            403,
            "forbidden",
        )
        .await;
        assert_problem(
            app.get("/v1/reports/summary?centre_id=C0002", &who.access)
                .await,
            403,
            "forbidden",
        )
        .await;
    }
    // Writes into the other centre are refused change by change.
    let edit = manager.change(
        "beneficiaries",
        person,
        json!({"display_name": {"value": "แก้"}}),
    );
    let response = app.push_ok(&manager, vec![edit]).await;
    assert_eq!(response["results"][0]["code"], "forbidden");
    let record: Value = app
        .record(&app.admin().await, "beneficiaries", person)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(record["fields"]["display_name"], "ลับ");
}

/// A token with this header and the real claims, signed with HMAC-SHA256
/// over `key` whatever the header says: the classic algorithm-confusion
/// forgery, where the HMAC secret is used as if it were a public key.
fn hmac_signed(header: Value, claims: &Value, key: &[u8]) -> String {
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
    let message = format!("{}.{}", part(&header), part(claims));
    let signature = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &EncodingKey::from_secret(key),
        Algorithm::HS256,
    )
    .unwrap();
    format!("{message}.{signature}")
}

/// Tries a forged token on a path unique to this attempt and checks it is
/// refused and audited with that path.
async fn assert_refused_and_audited(app: &TestApp, what: &str, token: &str) {
    let path = format!("/v1/records/sessions/{}", Uuid::new_v4());
    let response = app.get(&path, token).await;
    assert_eq!(response.status(), 401, "{what}");
    assert_problem(response, 401, "unauthorized").await;
    let lines = tests::audit::audit_log().lines_with(&path);
    assert_eq!(lines.len(), 1, "{what} was audited once: {lines:?}");
    assert!(lines[0].contains("refused: authentication"), "{}", lines[0]);
}

#[tokio::test]
async fn algorithm_confusion_and_header_tricks_are_refused_and_audited() {
    tests::audit::audit_log();
    let app = TestApp::spawn().await;
    let vol = app.user("volunteer", Some("C0001")).await;
    let key = signing_key(&app);
    let claims = claims_of(&vol);
    let real = hmac_signed(json!({"alg": "HS256", "typ": "JWT"}), &claims, &key);
    assert_eq!(
        app.get("/v1/sync/pull", &real).await.status(),
        200,
        "the hand-made HS256 token is right, so each forgery differs in one thing"
    );
    let header_part = |h: Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(&h).unwrap());
    let claims_part = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    let real_signature = real.rsplit('.').next().unwrap().to_owned();
    let mut forgeries: Vec<(&str, String)> = vec![
        (
            "RS256 header, HMAC with the secret",
            hmac_signed(json!({"alg": "RS256", "typ": "JWT"}), &claims, &key),
        ),
        (
            "ES256 header, HMAC with the secret",
            hmac_signed(json!({"alg": "ES256", "typ": "JWT"}), &claims, &key),
        ),
        (
            "PS256 header, HMAC with the secret",
            hmac_signed(json!({"alg": "PS256"}), &claims, &key),
        ),
        (
            "EdDSA header, HMAC with the secret",
            hmac_signed(json!({"alg": "EdDSA"}), &claims, &key),
        ),
        (
            "HS256 with an empty signature",
            format!(
                "{}.{claims_part}.",
                header_part(json!({"alg": "HS256", "typ": "JWT"}))
            ),
        ),
        (
            "HS256 without a signature part",
            format!(
                "{}.{claims_part}",
                header_part(json!({"alg": "HS256", "typ": "JWT"}))
            ),
        ),
        (
            "the real signature on an alg-less header",
            format!(
                "{}.{claims_part}.{real_signature}",
                header_part(json!({"typ": "JWT"}))
            ),
        ),
        (
            "alg none with the real signature",
            format!(
                "{}.{claims_part}.{real_signature}",
                header_part(json!({"alg": "none", "typ": "JWT"}))
            ),
        ),
        (
            "a kid pointing at /dev/null, signed with an empty key",
            hmac_signed(
                json!({"alg": "HS256", "kid": "../../../../../../dev/null"}),
                &claims,
                b"",
            ),
        ),
        (
            "a kid with SQL, signed with a guessed key",
            hmac_signed(
                json!({"alg": "HS256", "kid": "x' UNION SELECT 'key' --"}),
                &claims,
                b"key",
            ),
        ),
        (
            "a jku naming the attacker's key set",
            hmac_signed(
                json!({"alg": "HS256", "jku": "https://attacker.example/jwks.json"}),
                &claims,
                b"attacker key",
            ),
        ),
        (
            "an embedded jwk",
            hmac_signed(
                json!({"alg": "HS256", "jwk": {"kty": "oct", "k": "YXR0YWNrZXI"}}),
                &claims,
                b"attacker",
            ),
        ),
        (
            "an alg with a trailing space",
            hmac_signed(json!({"alg": "HS256 ", "typ": "JWT"}), &claims, &key),
        ),
        (
            "a lower-case alg",
            hmac_signed(json!({"alg": "hs256", "typ": "JWT"}), &claims, &key),
        ),
    ];
    for none in ["none", "None", "NONE", "nOnE", "none "] {
        forgeries.push((
            "an unsigned token",
            unsigned(json!({"alg": none, "typ": "JWT"}), &claims),
        ));
    }
    let mut tampered_centre = claims.clone();
    tampered_centre["centre"] = json!("C0002");
    forgeries.push((
        "a centre claim changed under the old signature",
        format!(
            "{}.{}.{real_signature}",
            header_part(json!({"alg": "HS256", "typ": "JWT"})),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&tampered_centre).unwrap())
        ),
    ));
    let mut tampered_role = claims.clone();
    tampered_role["role"] = json!("admin");
    tampered_role["centre"] = Value::Null;
    forgeries.push((
        "a role claim changed and signed with a guessed key",
        sign(&tampered_role, Algorithm::HS256, b"secret"),
    ));
    let now = chrono::Utc::now().timestamp();
    let mut early = claims.clone();
    early["nbf"] = json!(now + 60);
    early["iat"] = json!(now + 60);
    forgeries.push((
        "a correctly signed token valid only from next minute",
        sign(&early, Algorithm::HS256, &key),
    ));
    for (what, token) in &forgeries {
        assert_refused_and_audited(&app, what, token).await;
    }
}

#[tokio::test]
async fn no_write_reaches_another_centre_through_push() {
    let app = TestApp::spawn().await;
    let mut other = app.user("volunteer", Some("C0002")).await;
    let (session, person) = (Uuid::now_v7(), Uuid::now_v7());
    let batch = vec![
        other.new_session(session),
        other.new_beneficiary(person, "ลับ"),
    ];
    app.push_ok(&other, batch).await;
    let admin = app.admin().await;
    let (before, _) = app.pull_all(&admin, "include_own=true").await;
    let mut manager = app.user("manager", Some("C0001")).await;
    let mut vol = app.user("volunteer", Some("C0001")).await;
    for who in [&mut manager, &mut vol] {
        let mut foreign_session = tests::session_fields("C0002", who.user_id);
        foreign_session["volunteer_id"]["value"] = json!(other.user_id);
        let mut own_volunteer_foreign_centre = tests::session_fields("C0002", who.user_id);
        own_volunteer_foreign_centre["notes"]["value"] = json!("x");
        let changes = vec![
            who.change(
                "sessions",
                session,
                json!({"notes": {"value": "แก้"}, "_deleted": {"value": true}}),
            ),
            who.change(
                "sessions",
                session,
                json!({"centre_id": {"value": "C0001"}}),
            ),
            who.change(
                "beneficiaries",
                person,
                json!({"_deleted": {"value": true}}),
            ),
            who.change("sessions", Uuid::now_v7(), foreign_session),
            who.change("sessions", Uuid::now_v7(), own_volunteer_foreign_centre),
            who.change(
                "beneficiaries",
                Uuid::now_v7(),
                json!({
                    "centre_id": {"value": "C0002"},
                    "village_code": {"value": "50010203"},
                    "display_name": {"value": "ปลอม"},
                    "consent": {"value": true},
                }),
            ),
        ];
        let response = app.push_ok(who, changes).await;
        for result in response["results"].as_array().unwrap() {
            assert_eq!(result["status"], "rejected", "{response}");
            assert_eq!(result["code"], "forbidden", "{response}");
        }
    }
    let (after, _) = app.pull_all(&admin, "include_own=true").await;
    assert_eq!(before, after, "nothing reached the log");
    let record: Value = app
        .record(&admin, "sessions", session)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(record["deleted"], false);
    assert_eq!(record["fields"]["centre_id"], "C0002");
}

/// Every kind of refusal leaves a line in the audit log that names who or
/// what was refused.
#[tokio::test]
async fn every_refused_attempt_is_audited() {
    let log = tests::audit::audit_log();
    let app = TestApp::spawn_tuned(|s| s.login_max_failures = 2).await;
    let mut vol = app.user("volunteer", Some("C0001")).await;
    let colleague = app.user("volunteer", Some("C0001")).await;
    let mut other = app.user("volunteer", Some("C0002")).await;
    let audited = |marker: &str, message: &str| {
        let lines = log.lines_with(marker);
        assert!(
            lines.iter().any(|l| l.contains(message)),
            "no audit line with {marker:?} saying {message:?}: {lines:?}"
        );
    };

    // Wrong passwords, then the throttle.
    for _ in 0..2 {
        let response = app.login(&vol.username, "wrong", Uuid::new_v4()).await;
        assert_problem(response, 401, "invalid_credentials").await;
    }
    audited(&vol.username, "refused: wrong credentials");
    let response = app
        .login(&vol.username, &vol.password, Uuid::new_v4())
        .await;
    assert_problem(response, 429, "too_many_requests").await;
    audited(&vol.username, "refused: login throttled");

    // A device bound to someone else.
    let response = app
        .login(&colleague.username, &colleague.password, vol.device)
        .await;
    assert_problem(response, 409, "device_bound").await;
    audited(&colleague.username, "refused: device bound to another user");

    // A refresh token used twice revokes the login, and both refusals are audited.
    let refreshed = app.refresh(&colleague.refresh).await;
    assert_eq!(refreshed.status(), 200);
    let response = app.refresh(&colleague.refresh).await;
    assert_problem(response, 401, "refresh_token_reused").await;
    let fingerprint: String = sha2::Sha256::digest(colleague.refresh.as_bytes())[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    audited(&fingerprint, "refresh_token_reused");

    // Reads of another centre through every endpoint that takes a centre.
    let user = vol.user_id.to_string();
    for path in [
        "/v1/records/sessions?centre_id=C0002",
        "/v1/records/beneficiaries?centre_id=C0002&format=csv",
        "/v1/reports/summary?centre_id=C0002",
    ] {
        assert_problem(app.get(path, &vol.access).await, 403, "forbidden").await;
    }
    let reads = log
        .lines_with(&user)
        .into_iter()
        .filter(|l| l.contains("refused: read of another centre"))
        .count();
    assert_eq!(reads, 3, "each refused read is one audit line");
    let foreign = Uuid::now_v7();
    let batch = vec![other.new_session(foreign)];
    app.push_ok(&other, batch).await;
    assert_problem(
        app.record(&vol, "sessions", foreign).await,
        403,
        "forbidden",
    )
    .await;
    audited(
        &foreign.to_string(),
        "refused: record outside the caller's scope",
    );

    // A volunteer doing an admin's job.
    let response = app
        .post_json(
            "/v1/admin/users",
            Some(&vol.access),
            &json!({"username": "x", "password": "correct horse battery", "role": "admin"}),
        )
        .await;
    assert_problem(response, 403, "forbidden").await;
    audited(&user, "refused: role not allowed");

    // A push for another device, and a device not bound to the user.
    let body = json!({"device_id": colleague.device, "device_time": chrono::Utc::now().to_rfc3339(), "changes": []});
    let response = app
        .post_json("/v1/sync/push", Some(&vol.access), &body)
        .await;
    assert_problem(response, 403, "device_mismatch").await;
    audited(
        &colleague.device.to_string(),
        "refused: push for another device",
    );
    let key = signing_key(&app);
    let mut claims = claims_of(&vol);
    let stray = Uuid::new_v4();
    claims["dev"] = json!(stray);
    let mut moved = vol.clone();
    moved.access = sign(&claims, Algorithm::HS256, &key);
    moved.device = stray;
    let change = moved.new_session(Uuid::now_v7());
    assert_problem(
        app.push(&moved, vec![change]).await,
        403,
        "device_not_bound",
    )
    .await;
    audited(
        &stray.to_string(),
        "refused: push from a device not bound to the user",
    );

    // A change the volunteer may not make: another centre's session.
    let change = vol.change("sessions", foreign, json!({"notes": {"value": "x"}}));
    let id = change["id"].as_str().unwrap().to_owned();
    let response = app.push_ok(&vol, vec![change]).await;
    assert_eq!(response["results"][0]["code"], "forbidden");
    audited(&id, "refused: change forbidden");

    // A forged token.
    let path = format!("/v1/records/sessions/{}", Uuid::new_v4());
    let forged = sign(&claims_of(&vol), Algorithm::HS256, b"guess");
    assert_problem(app.get(&path, &forged).await, 401, "unauthorized").await;
    audited(&path, "refused: authentication");
}
