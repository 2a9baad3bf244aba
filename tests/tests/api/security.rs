//! Token attacks, cross-centre access through every endpoint, and devices not
//! bound to the token's user. Forged tokens that need the real key are signed
//! with the key read from the server's own database, as an insider would.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use tests::{assert_problem, Session, TestApp};
use uuid::Uuid;

fn signing_key(app: &TestApp) -> Vec<u8> {
    let db = rusqlite::Connection::open(app.database_path()).unwrap();
    db.query_row(
        "SELECT \"value\" FROM \"meta\" WHERE \"name\" = 'jwt_signing_key'",
        [],
        |r| r.get(0),
    )
    .unwrap()
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
