//! Malformed and hostile requests, one table row each: every row states the
//! request and the answer it must get, and after the whole table the data
//! seen through the API (snapshot pull and both record lists) is unchanged
//! byte for byte.

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;
use reqwest::Method;
use serde_json::{json, Map, Value};
use tests::{session_fields, Session, TestApp};
use uuid::Uuid;

/// SQL metacharacters, sent in every string field a client controls.
const SQL: &str = "x'; DROP TABLE \"changes\"; -- \" OR '1'='1";
/// The same, percent-encoded for a query string or a path segment.
const SQL_URL: &str = "x%27%3B%20DROP%20TABLE%20%22changes%22%3B%20--%20%22%20OR%20%271%27%3D%271";

/// What a row must get back.
#[derive(Debug)]
enum Expect {
    /// A problem+json answer with this status and code.
    Problem(u16, &'static str),
    /// A 200 push whose single change is rejected with this code.
    Rejected(&'static str),
    /// A 200 whose JSON has this value at this pointer (a filter that matches nothing).
    Ok(&'static str, Value),
}

/// How a row's body is made.
enum Body {
    Empty,
    /// Bytes sent as they are, with these headers.
    Raw {
        content_type: Option<&'static str>,
        encoding: Option<&'static str>,
        bytes: Vec<u8>,
    },
    /// A push of one change built when the row runs (so it takes the
    /// device's next sequence number), as valid JSON.
    Change(Box<dyn Fn(&mut Session) -> Value>),
}

struct Row {
    what: &'static str,
    method: Method,
    path: String,
    token: Option<String>,
    body: Body,
    expect: Expect,
}

fn json_body(bytes: impl Into<Vec<u8>>) -> Body {
    Body::Raw {
        content_type: Some("application/json"),
        encoding: None,
        bytes: bytes.into(),
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// A push body as text, around the given change texts.
fn push_text(device: Uuid, changes: &str) -> String {
    format!(
        r#"{{"device_id":"{device}","device_time":"2026-11-29T00:00:00Z","changes":[{changes}]}}"#
    )
}

/// One change as text, with `fields` spliced in as given.
fn change_text(device: Uuid, seq: &str, fields: &str) -> String {
    let ms = chrono::Utc::now().timestamp_millis();
    format!(
        r#"{{"id":"{}","device_seq":{seq},"collection":"sessions","record_id":"{}","hlc":"{ms:013}-0000-{device}","fields":{fields}}}"#,
        Uuid::now_v7(),
        Uuid::now_v7(),
    )
}

/// A change built by the session, then edited by `patch`.
fn change(
    collection: &'static str,
    record: Uuid,
    fields: Value,
    patch: fn(&mut Value, Uuid),
) -> Body {
    Body::Change(Box::new(move |s: &mut Session| {
        let mut c = s.change(collection, record, fields.clone());
        patch(&mut c, s.device);
        c
    }))
}

fn keep(_: &mut Value, _: Uuid) {}

/// Fields of a new session in `centre` by `volunteer`, with `patch` merged in.
fn new_session(centre: &str, volunteer: Uuid, patch: Value) -> Value {
    let mut fields = session_fields(centre, volunteer);
    for (k, v) in patch.as_object().unwrap() {
        fields[k] = v.clone();
    }
    fields
}

fn new_beneficiary(patch: Value) -> Value {
    let mut fields = json!({
        "centre_id": {"value": "C0001"},
        "village_code": {"value": "50010203"},
        "display_name": {"value": "สมชาย"},
        "consent": {"value": true},
    });
    for (k, v) in patch.as_object().unwrap() {
        fields[k] = v.clone();
    }
    fields
}

/// Everything an admin can see, as the exact bytes the server sends.
async fn snapshot(app: &TestApp, admin: &Session) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let response = app
            .pull(
                admin,
                &format!("include_own=true&limit=1000&cursor={cursor}"),
            )
            .await;
        assert_eq!(response.status(), 200);
        let text = response.text().await.unwrap();
        let page: Value = serde_json::from_str(&text).unwrap();
        cursor = page["cursor"].as_str().unwrap().to_owned();
        out.push(text);
        if page["has_more"] != json!(true) {
            break;
        }
    }
    for collection in ["sessions", "beneficiaries"] {
        for query in ["limit=1000", "format=csv"] {
            let response = app.records(admin, collection, query).await;
            assert_eq!(response.status(), 200);
            out.push(response.text().await.unwrap());
        }
    }
    out
}

fn rows(vol: &Session, admin: &Session, own: Uuid, others: Uuid, person: Uuid) -> Vec<Row> {
    let dev = vol.device;
    let v = Some(vol.access.clone());
    let a = Some(admin.access.clone());
    let me = vol.user_id;
    let push = |what, body: Body, expect| Row {
        what,
        method: Method::POST,
        path: "/v1/sync/push".into(),
        token: v.clone(),
        body,
        expect,
    };
    let get = |what, path: String, token: &Option<String>, expect| Row {
        what,
        method: Method::GET,
        path,
        token: token.clone(),
        body: Body::Empty,
        expect,
    };
    let post = |what, path: &str, token: &Option<String>, body: Value, expect| Row {
        what,
        method: Method::POST,
        path: path.into(),
        token: token.clone(),
        body: json_body(serde_json::to_vec(&body).unwrap()),
        expect,
    };
    let valid = |fields: &str| push_text(dev, &change_text(dev, "1", fields));
    let notes = |value: &str| valid(&format!(r#"{{"notes":{{"value":{value}}}}}"#));
    let deep = |open: &str, close: &str| {
        let n = 100_000;
        let value = format!("{}1{}", open.repeat(n), close.repeat(n));
        json_body(notes(&value))
    };
    let mut hundred_thousand = Map::new();
    for i in 0..100_000 {
        hundred_thousand.insert(format!("k{i}"), json!({"value": i}));
    }
    let hundred_thousand = Value::Object(hundred_thousand);
    let over_limit_changes: Vec<String> = (1..=1001)
        .map(|i| change_text(dev, &i.to_string(), r#"{"notes":{"value":"x"}}"#))
        .collect();
    let base65: Vec<String> = (0..65)
        .map(|i| format!("1732070462123-{i:04x}-{dev}"))
        .collect();
    use Expect::{Ok as Okay, Problem, Rejected};

    vec![
        // Bodies that are not JSON, or not whole.
        push("an empty body", json_body(""), Problem(400, "invalid_json")),
        push(
            "truncated JSON",
            json_body(&valid("{}")[..40]),
            Problem(400, "invalid_json"),
        ),
        push(
            "a bare NUL byte",
            json_body(b"\0".to_vec()),
            Problem(400, "invalid_json"),
        ),
        push(
            "JSON followed by garbage",
            json_body(format!("{} x", valid("{}"))),
            Problem(400, "invalid_json"),
        ),
        push(
            "single-quoted JSON",
            json_body(valid("{}").replace('"', "'")),
            Problem(400, "invalid_json"),
        ),
        push(
            "invalid UTF-8 inside a string",
            json_body({
                let mut b = notes("\"ok\"").into_bytes();
                let at = b.windows(2).position(|w| w == b"ok").unwrap();
                b[at] = 0xff;
                b[at + 1] = 0xfe;
                b
            }),
            Problem(400, "invalid_json"),
        ),
        push(
            "a lone UTF-16 surrogate escape",
            json_body(notes(r#""\ud800""#)),
            Problem(400, "invalid_json"),
        ),
        push(
            "a raw NUL byte inside a string",
            json_body(notes("\"a\0b\"")),
            Problem(400, "invalid_json"),
        ),
        push(
            "100,000 nested arrays",
            deep("[", "]"),
            Problem(400, "invalid_json"),
        ),
        push(
            "100,000 nested objects",
            deep(r#"{"a":"#, "}"),
            Problem(400, "invalid_json"),
        ),
        push(
            "a body that is 100,000 nested arrays",
            json_body(format!("{}{}", "[".repeat(100_000), "]".repeat(100_000))),
            Problem(400, "invalid_request"),
        ),
        push(
            "a change list of 100,000 nested arrays",
            json_body(push_text(
                dev,
                &format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
            )),
            Problem(400, "invalid_request"),
        ),
        push(
            "a number too large for any type",
            json_body(notes(&"9".repeat(5000))),
            Problem(400, "invalid_json"),
        ),
        // JSON of the wrong shape.
        push(
            "a JSON string body",
            json_body("\"push\""),
            Problem(400, "invalid_request"),
        ),
        push(
            "null body",
            json_body("null"),
            Problem(400, "invalid_request"),
        ),
        push(
            "device_id with SQL",
            json_body(push_text(dev, "").replace(&dev.to_string(), SQL)),
            Problem(400, "invalid_id"),
        ),
        push(
            "device_time that is not a time",
            json_body(push_text(dev, "").replace("2026-11-29T00:00:00Z", "yesterday")),
            Problem(400, "invalid_request"),
        ),
        push(
            "device_time year 99999",
            json_body(push_text(dev, "").replace("2026-11-29", "99999-11-29")),
            Problem(400, "invalid_request"),
        ),
        push(
            "changes is an object",
            json_body(format!(
                r#"{{"device_id":"{dev}","device_time":"2026-11-29T00:00:00Z","changes":{{}}}}"#
            )),
            Problem(400, "invalid_request"),
        ),
        push(
            "changes is missing",
            json_body(format!(
                r#"{{"device_id":"{dev}","device_time":"2026-11-29T00:00:00Z"}}"#
            )),
            Problem(400, "invalid_request"),
        ),
        push(
            "an unknown top-level key",
            json_body(push_text(dev, "").replace("\"changes\"", "\"admin\":true,\"changes\"")),
            Problem(400, "invalid_request"),
        ),
        push(
            "device_seq negative",
            json_body(push_text(dev, &change_text(dev, "-1", "{}"))),
            Problem(400, "invalid_request"),
        ),
        push(
            "device_seq zero",
            json_body(push_text(
                dev,
                &change_text(dev, "0", r#"{"notes":{"value":"x"}}"#),
            )),
            Problem(400, "invalid_request"),
        ),
        push(
            "device_seq 2^63",
            json_body(push_text(
                dev,
                &change_text(dev, "9223372036854775808", "{}"),
            )),
            Problem(400, "invalid_request"),
        ),
        push(
            "device_seq 2^64",
            json_body(push_text(
                dev,
                &change_text(dev, "18446744073709551616", "{}"),
            )),
            Problem(400, "invalid_request"),
        ),
        push(
            "device_seq 1e300",
            json_body(push_text(dev, &change_text(dev, "1e300", "{}"))),
            Problem(400, "invalid_request"),
        ),
        push(
            "device_seq a fraction",
            json_body(push_text(dev, &change_text(dev, "1.5", "{}"))),
            Problem(400, "invalid_request"),
        ),
        push(
            "device_seq a string",
            json_body(push_text(dev, &change_text(dev, "\"1\"", "{}"))),
            Problem(400, "invalid_request"),
        ),
        push(
            "change id with SQL",
            json_body(push_text(
                dev,
                &change_text(dev, "1", "{}").replacen("\"id\":\"", &format!("\"id\":\"{SQL}"), 1),
            )),
            // SQL's double quotes end the JSON string early.
            Problem(400, "invalid_json"),
        ),
        push(
            "record_id with SQL",
            change("sessions", own, json!({"notes": {"value": "x"}}), |c, _| {
                c["record_id"] = json!("' OR 1=1 --")
            }),
            Rejected("invalid_id"),
        ),
        // Ids only in canonical form: an id rewritten by the server would no
        // longer match the client's own copy of it.
        push(
            "an uppercase change id",
            change("sessions", own, json!({"notes": {"value": "x"}}), |c, _| {
                c["id"] = json!(c["id"].as_str().unwrap().to_uppercase())
            }),
            Rejected("invalid_id"),
        ),
        push(
            "a urn:uuid: record id",
            change("sessions", own, json!({"notes": {"value": "x"}}), |c, _| {
                c["record_id"] = json!(format!("urn:uuid:{}", c["record_id"].as_str().unwrap()))
            }),
            Rejected("invalid_id"),
        ),
        push(
            "a braced change id",
            change("sessions", own, json!({"notes": {"value": "x"}}), |c, _| {
                c["id"] = json!(format!("{{{}}}", c["id"].as_str().unwrap()))
            }),
            Rejected("invalid_id"),
        ),
        push(
            "an unhyphenated record id",
            change("sessions", own, json!({"notes": {"value": "x"}}), |c, _| {
                c["record_id"] = json!(c["record_id"].as_str().unwrap().replace('-', ""))
            }),
            Rejected("invalid_id"),
        ),
        push(
            "an uppercase device_id",
            json_body(
                push_text(dev, "").replace(&dev.to_string(), &dev.to_string().to_uppercase()),
            ),
            Problem(400, "invalid_id"),
        ),
        push(
            "the server's all-ones uuid as device_id",
            json_body(push_text(dev, "").replace(&dev.to_string(), &Uuid::max().to_string())),
            Problem(400, "invalid_id"),
        ),
        push(
            "fields with a duplicated key",
            json_body(valid(r#"{"notes":{"value":"a"},"notes":{"value":"b"}}"#)),
            Problem(400, "invalid_request"),
        ),
        push(
            "a write without a value",
            json_body(valid(r#"{"notes":{"base":[]}}"#)),
            Problem(400, "invalid_request"),
        ),
        push(
            "a write with an unknown key",
            json_body(valid(r#"{"notes":{"value":"a","author":"x"}}"#)),
            Problem(400, "invalid_request"),
        ),
        push(
            "a change with an unknown key",
            json_body(push_text(
                dev,
                &change_text(dev, "1", "{}").replace("\"fields\"", "\"superuser\":true,\"fields\""),
            )),
            Problem(400, "invalid_request"),
        ),
        push(
            "a base that is not a list",
            json_body(valid(r#"{"notes":{"value":"a","base":"x"}}"#)),
            Problem(400, "invalid_request"),
        ),
        // Headers and sizes.
        push(
            "no content type",
            Body::Raw {
                content_type: None,
                encoding: None,
                bytes: valid("{}").into(),
            },
            Problem(415, "unsupported_media_type"),
        ),
        push(
            "a form content type",
            Body::Raw {
                content_type: Some("application/x-www-form-urlencoded"),
                encoding: None,
                bytes: valid("{}").into(),
            },
            Problem(415, "unsupported_media_type"),
        ),
        push(
            "a look-alike content type",
            Body::Raw {
                content_type: Some("application/jsonp"),
                encoding: None,
                bytes: valid("{}").into(),
            },
            Problem(415, "unsupported_media_type"),
        ),
        push(
            "deflate encoding",
            Body::Raw {
                content_type: Some("application/json"),
                encoding: Some("deflate"),
                bytes: valid("{}").into(),
            },
            Problem(415, "unsupported_media_type"),
        ),
        push(
            "gzip declared, plain JSON sent",
            Body::Raw {
                content_type: Some("application/json"),
                encoding: Some("gzip"),
                bytes: valid("{}").into(),
            },
            Problem(400, "invalid_body"),
        ),
        push(
            "a truncated gzip stream",
            Body::Raw {
                content_type: Some("application/json"),
                encoding: Some("gzip"),
                bytes: {
                    let g = gzip(valid("{}").as_bytes());
                    g[..g.len() / 2].to_vec()
                },
            },
            Problem(400, "invalid_body"),
        ),
        push(
            "gzip of invalid JSON",
            Body::Raw {
                content_type: Some("application/json"),
                encoding: Some("gzip"),
                bytes: gzip(b"{\"device_id\":"),
            },
            Problem(400, "invalid_json"),
        ),
        push(
            "a gzip bomb: a small body inflating to 32 MiB",
            Body::Raw {
                content_type: Some("application/json"),
                encoding: Some("gzip"),
                bytes: gzip(&vec![b' '; 32 * 1024 * 1024]),
            },
            Problem(413, "payload_too_large"),
        ),
        push(
            "a body one byte over 4 MiB",
            json_body(vec![b' '; 4 * 1024 * 1024 + 1]),
            Problem(413, "payload_too_large"),
        ),
        push(
            "1001 changes",
            json_body(push_text(dev, &over_limit_changes.join(","))),
            Problem(413, "payload_too_large"),
        ),
        push(
            "a body for another device",
            json_body(push_text(Uuid::new_v4(), "")),
            Problem(403, "device_mismatch"),
        ),
        Row {
            what: "a push without a token",
            token: None,
            ..push("", json_body(valid("{}")), Problem(401, "unauthorized"))
        },
        Row {
            what: "a bearer token of SQL",
            token: Some(SQL.into()),
            ..push("", json_body(valid("{}")), Problem(401, "unauthorized"))
        },
        Row {
            what: "PUT on push",
            method: Method::PUT,
            ..push(
                "",
                json_body(valid("{}")),
                Problem(405, "method_not_allowed"),
            )
        },
        // Changes that parse but break a rule: rejected one by one in a 200.
        push(
            "a change with 100,000 keys",
            change("sessions", own, hundred_thousand, keep),
            Rejected("too_many_fields"),
        ),
        push(
            "a collection named with SQL",
            change("sessions", own, json!({"notes": {"value": "x"}}), |c, _| {
                c["collection"] = json!(SQL)
            }),
            Rejected("unknown_collection"),
        ),
        push(
            "a collection with a NUL",
            change("sessions", own, json!({"notes": {"value": "x"}}), |c, _| {
                c["collection"] = json!("sessions\0")
            }),
            Rejected("unknown_collection"),
        ),
        push(
            "a key named with SQL",
            change("sessions", own, json!({SQL: {"value": "x"}}), keep),
            Rejected("unknown_field"),
        ),
        push(
            "a key with a NUL",
            change("sessions", own, json!({"notes\0": {"value": "x"}}), keep),
            Rejected("unknown_field"),
        ),
        push(
            "a set member that is not a UUID",
            change(
                "sessions",
                own,
                json!({"beneficiary_ids/' OR 1=1": {"value": true}}),
                keep,
            ),
            Rejected("unknown_field"),
        ),
        push(
            "an HLC that is SQL",
            change("sessions", own, json!({"notes": {"value": "x"}}), |c, _| {
                c["hlc"] = json!(SQL)
            }),
            Rejected("invalid_hlc"),
        ),
        push(
            "an HLC with a 14-digit wall",
            change("sessions", own, json!({"notes": {"value": "x"}}), |c, d| {
                c["hlc"] = json!(format!("99999999999999-0000-{d}"))
            }),
            Rejected("invalid_hlc"),
        ),
        push(
            "an HLC with an upper-case counter",
            change("sessions", own, json!({"notes": {"value": "x"}}), |c, d| {
                c["hlc"] = json!(format!("1732070462123-ABCD-{d}"))
            }),
            Rejected("invalid_hlc"),
        ),
        push(
            "an HLC with a negative wall",
            change("sessions", own, json!({"notes": {"value": "x"}}), |c, d| {
                c["hlc"] = json!(format!("-732070462123-0000-{d}"))
            }),
            Rejected("invalid_hlc"),
        ),
        push(
            "an HLC from year 2286 of another device",
            change("sessions", own, json!({"notes": {"value": "x"}}), |c, _| {
                c["hlc"] = json!(format!("9999999999999-ffff-{}", Uuid::new_v4()))
            }),
            Rejected("invalid_hlc"),
        ),
        push(
            "a base HLC that is SQL",
            change(
                "sessions",
                own,
                json!({"notes": {"value": "x", "base": [SQL]}}),
                keep,
            ),
            Rejected("invalid_base"),
        ),
        push(
            "a base of 65 heads",
            change(
                "sessions",
                own,
                json!({"notes": {"value": "x", "base": base65}}),
                keep,
            ),
            Rejected("invalid_base"),
        ),
        push(
            "no keys at all",
            change("sessions", own, json!({}), keep),
            Rejected("empty_change"),
        ),
        push(
            "notes as a number",
            change("sessions", own, json!({"notes": {"value": 7}}), keep),
            Rejected("invalid_type"),
        ),
        push(
            "notes as nested arrays",
            change(
                "sessions",
                own,
                json!({"notes": {"value": [[["x"]]]}}),
                keep,
            ),
            Rejected("invalid_type"),
        ),
        push(
            "notes of SQL, 4001 characters",
            change(
                "sessions",
                own,
                json!({"notes": {"value": SQL.repeat(200)[..4001].to_owned()}}),
                keep,
            ),
            Rejected("too_long"),
        ),
        push(
            "duration_min huge",
            change(
                "sessions",
                own,
                json!({"duration_min": {"value": 1e300}}),
                keep,
            ),
            Rejected("invalid_type"),
        ),
        push(
            "duration_min 2^64",
            change(
                "sessions",
                own,
                json!({"duration_min": {"value": u64::MAX}}),
                keep,
            ),
            Rejected("out_of_range"),
        ),
        push(
            "duration_min negative",
            change(
                "sessions",
                own,
                json!({"duration_min": {"value": -1}}),
                keep,
            ),
            Rejected("out_of_range"),
        ),
        push(
            "people_helped i64::MIN",
            change(
                "sessions",
                own,
                json!({"people_helped": {"value": i64::MIN}}),
                keep,
            ),
            Rejected("out_of_range"),
        ),
        push(
            "people_helped a fraction",
            change(
                "sessions",
                own,
                json!({"people_helped": {"value": 2.5}}),
                keep,
            ),
            Rejected("invalid_type"),
        ),
        push(
            "notes with a NUL",
            change(
                "sessions",
                own,
                json!({"notes": {"value": format!("{SQL}\u{0}")}}),
                keep,
            ),
            Rejected("invalid_value"),
        ),
        push(
            "display_name with a NUL",
            change(
                "beneficiaries",
                person,
                json!({"display_name": {"value": "สม\u{0}ชาย"}}),
                keep,
            ),
            Rejected("invalid_text"),
        ),
        push(
            "display_name with a right-to-left override",
            change(
                "beneficiaries",
                person,
                json!({"display_name": {"value": "\u{202e}ยาชมส"}}),
                keep,
            ),
            Rejected("invalid_text"),
        ),
        push(
            "display_name with a bidirectional isolate",
            change(
                "beneficiaries",
                person,
                json!({"display_name": {"value": "สม\u{2067}ชาย"}}),
                keep,
            ),
            Rejected("invalid_text"),
        ),
        push(
            "display_name of spaces only",
            change(
                "beneficiaries",
                person,
                json!({"display_name": {"value": "   "}}),
                keep,
            ),
            Rejected("invalid_value"),
        ),
        // Centres are managed records: a typo must not start a new centre.
        push(
            "a new session in a centre that does not exist",
            change(
                "sessions",
                Uuid::now_v7(),
                new_session("C0404", me, json!({})),
                keep,
            ),
            Rejected("forbidden"),
        ),
        push(
            "a new session starting three days after the server's time",
            change(
                "sessions",
                Uuid::now_v7(),
                new_session(
                    "C0001",
                    me,
                    json!({"started_at": {"value": (chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339()}}),
                ),
                keep,
            ),
            Rejected("future_start"),
        ),
        push(
            "village_code with a NUL",
            change(
                "sessions",
                own,
                json!({"village_code": {"value": "5001\u{0}203"}}),
                keep,
            ),
            Rejected("invalid_value"),
        ),
        push(
            "help_type with SQL",
            change("sessions", own, json!({"help_type": {"value": SQL}}), keep),
            Rejected("invalid_value"),
        ),
        push(
            "outcome with a trailing NUL",
            change(
                "sessions",
                own,
                json!({"outcome": {"value": "resolved\u{0}"}}),
                keep,
            ),
            Rejected("invalid_value"),
        ),
        push(
            "started_at not a time",
            change(
                "sessions",
                own,
                json!({"started_at": {"value": "2026-13-45T99:99:99Z"}}),
                keep,
            ),
            Rejected("invalid_value"),
        ),
        push(
            "follow_up_on 30 February",
            change(
                "sessions",
                own,
                json!({"follow_up_on": {"value": "2026-02-30"}}),
                keep,
            ),
            Rejected("invalid_value"),
        ),
        push(
            "a set member that is a string",
            change(
                "sessions",
                own,
                json!({format!("beneficiary_ids/{person}"): {"value": "yes"}}),
                keep,
            ),
            Rejected("invalid_type"),
        ),
        push(
            "_deleted as a string",
            change(
                "sessions",
                own,
                json!({"_deleted": {"value": "true"}}),
                keep,
            ),
            Rejected("invalid_type"),
        ),
        push(
            "centre_id changed to SQL",
            change("sessions", own, json!({"centre_id": {"value": SQL}}), keep),
            Rejected("immutable_field"),
        ),
        push(
            "a new session in a centre named with SQL",
            change(
                "sessions",
                Uuid::now_v7(),
                new_session(SQL, me, json!({})),
                keep,
            ),
            Rejected("forbidden"),
        ),
        push(
            "a new session with volunteer_id of SQL",
            change(
                "sessions",
                Uuid::now_v7(),
                new_session("C0001", me, json!({"volunteer_id": {"value": SQL}})),
                keep,
            ),
            Rejected("forbidden"),
        ),
        push(
            "another volunteer's session",
            change("sessions", others, json!({"notes": {"value": SQL}}), keep),
            Rejected("forbidden"),
        ),
        push(
            "a new session missing its keys",
            change(
                "sessions",
                Uuid::now_v7(),
                json!({"notes": {"value": SQL}}),
                keep,
            ),
            Rejected("missing_field"),
        ),
        push(
            "a display_name of SQL, 201 characters",
            change(
                "beneficiaries",
                Uuid::now_v7(),
                new_beneficiary(
                    json!({"display_name": {"value": SQL.repeat(10)[..201].to_owned()}}),
                ),
                keep,
            ),
            Rejected("too_long"),
        ),
        push(
            "a phone of SQL",
            change(
                "beneficiaries",
                person,
                json!({"phone": {"value": SQL}}),
                keep,
            ),
            Rejected("invalid_value"),
        ),
        push(
            "a phone with a NUL",
            change(
                "beneficiaries",
                person,
                json!({"phone": {"value": "+6681234\u{0}567"}}),
                keep,
            ),
            Rejected("invalid_value"),
        ),
        push(
            "birth_year 1899",
            change(
                "beneficiaries",
                person,
                json!({"birth_year": {"value": 1899}}),
                keep,
            ),
            Rejected("out_of_range"),
        ),
        push(
            "merged_into of SQL",
            change(
                "beneficiaries",
                person,
                json!({"merged_into": {"value": SQL}}),
                keep,
            ),
            Rejected("invalid_value"),
        ),
        push(
            "consent as a string",
            change(
                "beneficiaries",
                Uuid::now_v7(),
                new_beneficiary(json!({"consent": {"value": "true"}})),
                keep,
            ),
            Rejected("invalid_type"),
        ),
        // Query parameters and paths.
        get(
            "a pull cursor of SQL",
            format!("/v1/sync/pull?cursor={SQL_URL}"),
            &v,
            Problem(400, "invalid_cursor"),
        ),
        get(
            "a pull cursor with a NUL",
            "/v1/sync/pull?cursor=AA%00".into(),
            &v,
            Problem(400, "invalid_cursor"),
        ),
        get(
            "a pull limit past u64",
            "/v1/sync/pull?limit=99999999999999999999999".into(),
            &v,
            Problem(400, "invalid_query"),
        ),
        get(
            "a pull limit in exponent form",
            "/v1/sync/pull?limit=1e3".into(),
            &v,
            Problem(400, "invalid_query"),
        ),
        get(
            "include_own=yes",
            "/v1/sync/pull?include_own=yes".into(),
            &v,
            Problem(400, "invalid_query"),
        ),
        get(
            "a cursor given twice",
            "/v1/sync/pull?cursor=&cursor=".into(),
            &v,
            Problem(400, "invalid_query"),
        ),
        get(
            "invalid UTF-8 in a query",
            "/v1/sync/pull?cursor=%FF%FE".into(),
            &v,
            Problem(400, "invalid_cursor"),
        ),
        get(
            "a centre_id filter of SQL, volunteer",
            format!("/v1/records/sessions?centre_id={SQL_URL}"),
            &v,
            Problem(403, "forbidden"),
        ),
        get(
            "a centre_id filter of SQL, admin",
            format!("/v1/records/sessions?centre_id={SQL_URL}"),
            &a,
            Problem(404, "unknown_centre"),
        ),
        get(
            "a centre_id filter of a centre that does not exist, admin",
            "/v1/records/sessions?centre_id=C9999".into(),
            &a,
            Problem(404, "unknown_centre"),
        ),
        get(
            "a volunteer_id filter of SQL",
            format!("/v1/records/sessions?volunteer_id={SQL_URL}"),
            &a,
            Problem(400, "invalid_id"),
        ),
        get(
            "an uppercase volunteer_id filter",
            format!(
                "/v1/records/sessions?volunteer_id={}",
                me.to_string().to_uppercase()
            ),
            &a,
            Problem(400, "invalid_id"),
        ),
        get(
            "an uppercase record id in a path",
            format!("/v1/records/sessions/{}", own.to_string().to_uppercase()),
            &a,
            Problem(404, "not_found"),
        ),
        get(
            "a from after its to",
            "/v1/records/sessions?from=2026-12-01&to=2026-11-01".into(),
            &a,
            Problem(400, "invalid_range"),
        ),
        get(
            "a misspelt filter",
            "/v1/records/sessions?volunter_id=x".into(),
            &a,
            Problem(400, "invalid_query"),
        ),
        get(
            "an export format nobody makes",
            "/v1/records/sessions?format=pdf".into(),
            &a,
            Problem(400, "invalid_query"),
        ),
        get(
            "a village_code filter with a NUL",
            "/v1/records/beneficiaries?village_code=5001%000203".into(),
            &a,
            Okay("/records", json!([])),
        ),
        get(
            "a CSV with a centre_id of SQL",
            format!("/v1/records/sessions?format=csv&centre_id={SQL_URL}&village_code={SQL_URL}"),
            &v,
            Problem(403, "forbidden"),
        ),
        get(
            "a records limit of -1",
            "/v1/records/sessions?limit=-1".into(),
            &a,
            Problem(400, "invalid_query"),
        ),
        get(
            "a records limit of 1001",
            "/v1/records/sessions?limit=1001".into(),
            &a,
            Problem(400, "invalid_limit"),
        ),
        get(
            "from of SQL",
            format!("/v1/records/sessions?from={SQL_URL}"),
            &a,
            Problem(400, "invalid_date"),
        ),
        get(
            "to on 30 February",
            "/v1/records/sessions?to=2026-02-30".into(),
            &a,
            Problem(400, "invalid_date"),
        ),
        get(
            "deleted=maybe",
            "/v1/records/sessions?deleted=maybe".into(),
            &a,
            Problem(400, "invalid_filter"),
        ),
        get(
            "a page_token of SQL",
            format!("/v1/records/sessions?page_token={SQL_URL}"),
            &a,
            Problem(400, "invalid_page_token"),
        ),
        get(
            "a collection named with SQL",
            format!("/v1/records/{SQL_URL}"),
            &a,
            Problem(404, "not_found"),
        ),
        get(
            "a record id of SQL",
            format!("/v1/records/sessions/{SQL_URL}"),
            &a,
            Problem(404, "not_found"),
        ),
        get(
            "a record id with a NUL",
            format!("/v1/records/sessions/{own}%00"),
            &a,
            Problem(404, "not_found"),
        ),
        get(
            "a record id in upper case of nothing",
            format!(
                "/v1/records/beneficiaries/{}",
                Uuid::new_v4().to_string().to_uppercase()
            ),
            &a,
            Problem(404, "not_found"),
        ),
        get(
            "a summary centre of SQL, admin",
            format!("/v1/reports/summary?centre_id={SQL_URL}"),
            &a,
            Problem(404, "unknown_centre"),
        ),
        get(
            "a summary whose from is after its to",
            "/v1/reports/summary?from=2026-12-01&to=2026-11-01".into(),
            &a,
            Problem(400, "invalid_range"),
        ),
        get(
            "a summary centre of SQL, volunteer",
            format!("/v1/reports/summary?centre_id={SQL_URL}"),
            &v,
            Problem(403, "forbidden"),
        ),
        get(
            "a summary from of SQL",
            format!("/v1/reports/summary?from={SQL_URL}"),
            &a,
            Problem(400, "invalid_date"),
        ),
        get(
            "a summary from given twice",
            "/v1/reports/summary?from=2026-01-01&from=2026-02-01".into(),
            &a,
            Problem(400, "invalid_query"),
        ),
        // Logins, refreshes and account creation.
        post(
            "a username of SQL",
            "/v1/auth/login",
            &None,
            json!({"username": SQL, "password": SQL, "device_id": Uuid::new_v4()}),
            Problem(401, "invalid_credentials"),
        ),
        post(
            "admin with a comment",
            "/v1/auth/login",
            &None,
            json!({"username": "admin' --", "password": "x", "device_id": Uuid::new_v4()}),
            Problem(401, "invalid_credentials"),
        ),
        post(
            "a username with a NUL",
            "/v1/auth/login",
            &None,
            json!({"username": "admin\0", "password": "x", "device_id": Uuid::new_v4()}),
            Problem(401, "invalid_credentials"),
        ),
        post(
            "a 20,000-character username",
            "/v1/auth/login",
            &None,
            json!({"username": "a".repeat(20_000), "password": "x", "device_id": Uuid::new_v4()}),
            Problem(413, "payload_too_large"),
        ),
        post(
            "a login without device_id",
            "/v1/auth/login",
            &None,
            json!({"username": "admin", "password": "x"}),
            Problem(400, "invalid_request"),
        ),
        post(
            "a login with a password number",
            "/v1/auth/login",
            &None,
            json!({"username": "admin", "password": 1, "device_id": Uuid::new_v4()}),
            Problem(400, "invalid_request"),
        ),
        post(
            "a refresh token of SQL",
            "/v1/auth/refresh",
            &None,
            json!({"refresh_token": SQL}),
            Problem(401, "invalid_refresh_token"),
        ),
        post(
            "a refresh token of 2,000 NULs",
            "/v1/auth/refresh",
            &None,
            json!({"refresh_token": "\0".repeat(2_000)}),
            Problem(401, "invalid_refresh_token"),
        ),
        post(
            "a refresh token as a list",
            "/v1/auth/refresh",
            &None,
            json!({"refresh_token": [SQL]}),
            Problem(400, "invalid_request"),
        ),
        post(
            "a new username of SQL",
            "/v1/admin/users",
            &a,
            json!({"username": SQL, "password": "correct horse battery", "role": "volunteer", "centre_id": "C0001"}),
            Problem(400, "invalid_username"),
        ),
        post(
            "a new role of SQL",
            "/v1/admin/users",
            &a,
            json!({"username": "newbie", "password": "correct horse battery", "role": SQL, "centre_id": "C0001"}),
            Problem(400, "invalid_role"),
        ),
        post(
            "a new user in a centre of SQL with a NUL",
            "/v1/admin/users",
            &a,
            json!({"username": "newbie", "password": "correct horse battery", "role": "volunteer", "centre_id": format!("{SQL}\0")}),
            Problem(400, "unknown_centre"),
        ),
        post(
            "a new user in a centre that does not exist",
            "/v1/admin/users",
            &a,
            json!({"username": "newbie", "password": "correct horse battery", "role": "volunteer", "centre_id": "C0404"}),
            Problem(400, "unknown_centre"),
        ),
        post(
            "a new admin with a centre",
            "/v1/admin/users",
            &a,
            json!({"username": "newbie", "password": "correct horse battery", "role": "admin", "centre_id": "C0001"}),
            Problem(400, "invalid_centre"),
        ),
        // Look-alike usernames: each would show as a name already in use.
        post(
            "a username with a zero-width space",
            "/v1/admin/users",
            &a,
            json!({"username": "ad\u{200b}min", "password": "correct horse battery", "role": "admin"}),
            Problem(400, "invalid_username"),
        ),
        post(
            "a username with a right-to-left override",
            "/v1/admin/users",
            &a,
            json!({"username": "\u{202e}nimda", "password": "correct horse battery", "role": "admin"}),
            Problem(400, "invalid_username"),
        ),
        post(
            "a username with a combining accent",
            "/v1/admin/users",
            &a,
            json!({"username": "adm\u{0301}in", "password": "correct horse battery", "role": "admin"}),
            Problem(400, "invalid_username"),
        ),
        post(
            "a username with Cyrillic letters",
            "/v1/admin/users",
            &a,
            json!({"username": "\u{430}dmin", "password": "correct horse battery", "role": "admin"}),
            Problem(400, "invalid_username"),
        ),
        post(
            "a second admin differing only in case",
            "/v1/admin/users",
            &a,
            json!({"username": "ADMIN", "password": "correct horse battery", "role": "admin"}),
            Problem(409, "username_taken"),
        ),
        post(
            "a username of two letters",
            "/v1/admin/users",
            &a,
            json!({"username": "ab", "password": "correct horse battery", "role": "admin"}),
            Problem(400, "invalid_username"),
        ),
        post(
            "a display name with a right-to-left override",
            "/v1/admin/users",
            &a,
            json!({"username": "newbie", "password": "correct horse battery", "role": "volunteer", "centre_id": "C0001", "display_name": "\u{202e}ecilA"}),
            Problem(400, "invalid_text"),
        ),
        post(
            "a new user with a field the API does not have",
            "/v1/admin/users",
            &a,
            json!({"username": "newbie", "password": "correct horse battery", "role": "admin", "is_root": true}),
            Problem(400, "invalid_request"),
        ),
        post(
            "a login with an uppercase device id",
            "/v1/auth/login",
            &None,
            json!({"username": "admin", "password": tests::ADMIN_PASSWORD, "device_id": dev.to_string().to_uppercase()}),
            Problem(400, "invalid_id"),
        ),
        post(
            "a login with the server's all-ones uuid as device id",
            "/v1/auth/login",
            &None,
            json!({"username": "admin", "password": tests::ADMIN_PASSWORD, "device_id": Uuid::max()}),
            Problem(400, "invalid_id"),
        ),
        post(
            "a centre code with a space",
            "/v1/admin/centres",
            &a,
            json!({"code": "C 1", "name": "ศูนย์", "province": "น่าน", "district": "เมือง"}),
            Problem(400, "invalid_centre"),
        ),
        post(
            "a centre code of 33 characters",
            "/v1/admin/centres",
            &a,
            json!({"code": "C".repeat(33), "name": "ศูนย์", "province": "น่าน", "district": "เมือง"}),
            Problem(400, "invalid_centre"),
        ),
        post(
            "a centre name with a control character",
            "/v1/admin/centres",
            &a,
            json!({"code": "C0009", "name": "ศูนย์\u{7}", "province": "น่าน", "district": "เมือง"}),
            Problem(400, "invalid_text"),
        ),
        post(
            "a centre that exists",
            "/v1/admin/centres",
            &a,
            json!({"code": "C0001", "name": "ศูนย์ซ้ำ", "province": "น่าน", "district": "เมือง"}),
            Problem(409, "centre_taken"),
        ),
        post(
            "a volunteer creating a centre",
            "/v1/admin/centres",
            &v,
            json!({"code": "C0010", "name": "ศูนย์", "province": "น่าน", "district": "เมือง"}),
            Problem(403, "forbidden"),
        ),
        post(
            "a volunteer creating an admin",
            "/v1/admin/users",
            &v,
            json!({"username": "newbie", "password": "correct horse battery", "role": "admin"}),
            Problem(403, "forbidden"),
        ),
    ]
}

#[tokio::test]
async fn every_malformed_or_hostile_request_gets_its_specific_answer_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let mut vol = app.user("volunteer", Some("C0001")).await;
    let mut colleague = app.user("volunteer", Some("C0001")).await;
    let mut elsewhere = app.user("volunteer", Some("C0002")).await;
    let (own, others, person) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let batch = vec![vol.new_session(own), vol.new_beneficiary(person, "สมหญิง")];
    app.push_ok(&vol, batch).await;
    let batch = vec![colleague.new_session(others)];
    app.push_ok(&colleague, batch).await;
    let batch = vec![elsewhere.new_session(Uuid::now_v7())];
    app.push_ok(&elsewhere, batch).await;
    let admin = app.admin().await;
    let before = snapshot(&app, &admin).await;

    let table = rows(&vol, &admin, own, others, person);
    let count = table.len();
    println!("bad-input rows: {count}");
    assert!(count >= 60, "the table has {count} rows");
    let mut failures = Vec::new();
    // A connection per row: a row the server answers by closing its
    // connection (an oversized body, say) must not fail the next row's
    // request on a connection the pool thought reusable (IncompleteMessage).
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("a client");
    for row in table {
        let mut req = client.request(row.method.clone(), app.url(&row.path));
        if let Some(token) = &row.token {
            req = req.bearer_auth(token);
        }
        req = match row.body {
            Body::Empty => req,
            Body::Raw {
                content_type,
                encoding,
                bytes,
            } => {
                if let Some(ct) = content_type {
                    req = req.header("content-type", ct);
                }
                if let Some(enc) = encoding {
                    req = req.header("content-encoding", enc);
                }
                req.body(bytes)
            }
            Body::Change(make) => {
                let change = make(&mut vol);
                req.json(&json!({
                    "device_id": vol.device,
                    "device_time": chrono::Utc::now().to_rfc3339(),
                    "changes": [change],
                }))
            }
        };
        let response = req.send().await.expect("request sent");
        let status = response.status().as_u16();
        let content_type = tests::content_type(&response);
        let text = response.text().await.unwrap_or_default();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let ok = match &row.expect {
            Expect::Problem(want, code) => {
                status == *want
                    && content_type == "application/problem+json"
                    && body["code"] == *code
                    && body["status"] == *want
            }
            Expect::Rejected(code) => {
                status == 200
                    && body["results"][0]["status"] == "rejected"
                    && body["results"][0]["code"] == *code
            }
            Expect::Ok(pointer, value) => status == 200 && body.pointer(pointer) == Some(value),
        };
        if !ok {
            let shown: String = text.chars().take(300).collect();
            failures.push(format!(
                "{}: expected {:?}, got {status} {shown}",
                row.what, row.expect
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let after = snapshot(&app, &admin).await;
    assert_eq!(before.len(), after.len());
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b, a, "the data seen through the API changed");
    }
}

/// Hostile text is data: stored, filtered on and returned byte for byte,
/// never run (NUL and other control characters are refused in names, see
/// the table above). Centre codes and usernames are restricted to letters,
/// digits and a few marks, so the SQL goes into every free-text field.
#[tokio::test]
async fn sql_metacharacters_in_every_text_field_round_trip_as_data() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let centre = "C0001";
    let created = app
        .post_json(
            "/v1/admin/centres",
            Some(&admin.access),
            &json!({"code": centre, "name": SQL, "province": SQL, "district": "เมือง"}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let username = format!("o.brien-{}", &Uuid::new_v4().simple().to_string()[..6]);
    let created = app
        .post_json(
            "/v1/admin/users",
            Some(&admin.access),
            &json!({"username": username, "password": "correct horse battery", "role": "volunteer", "centre_id": centre, "display_name": SQL}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let mut vol = app
        .session_for(&username, "correct horse battery", Uuid::new_v4())
        .await;
    let (session, person) = (Uuid::now_v7(), Uuid::now_v7());
    let notes = format!("{SQL} ช่วย \\ \u{7f} %00");
    let name = format!("{SQL} ช่วย \\ %00");
    let mut first = vol.new_session(session);
    first["fields"]["notes"]["value"] = json!(notes);
    let second = vol.change(
        "beneficiaries",
        person,
        new_beneficiary(json!({"display_name": {"value": name}})),
    );
    let response = app.push_ok(&vol, vec![first, second]).await;
    assert_eq!(response["results"][0]["status"], "applied", "{response}");
    assert_eq!(response["results"][1]["status"], "applied", "{response}");
    let record: Value = app
        .record(&admin, "sessions", session)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(record["fields"]["notes"], json!(notes));
    assert_eq!(record["author_name"], SQL);
    let record: Value = app
        .record(&admin, "beneficiaries", person)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(record["fields"]["display_name"], json!(name));
    let centres: Value = app
        .get("/v1/centres", &admin.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(centres["centres"][0]["name"], SQL);
    let page: Value = app
        .records(&admin, "sessions", &format!("centre_id={centre}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["records"].as_array().unwrap().len(), 1);
    let summary: Value = app
        .get(
            &format!("/v1/reports/summary?centre_id={centre}"),
            &admin.access,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(summary["sessions"], 1);
    let (pulled, _) = app.pull_all(&admin, "").await;
    assert_eq!(pulled.len(), 2, "every table is still there");
    let again = app
        .login(&username, "correct horse battery", vol.device)
        .await;
    assert_eq!(again.status(), 200, "the users table is intact");
}
