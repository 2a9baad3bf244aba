//! One test per rejection code, and Thai text round-tripping.

use serde_json::json;
use sync_core::{check_against_state, ChangeError, RecordState};
use uuid::Uuid;

use crate::fixtures::{
    beneficiary_create_fields, change_json, decode, hlc, session_create_fields, T0,
};

fn code_of(result: Result<sync_core::Change, ChangeError>) -> &'static str {
    result.expect_err("change should be rejected").code()
}

fn with_field(
    mut fields: serde_json::Value,
    key: &str,
    value: serde_json::Value,
) -> serde_json::Value {
    fields[key] = json!({ "value": value });
    fields
}

fn session_with(key: &str, value: serde_json::Value) -> Result<sync_core::Change, ChangeError> {
    let device = Uuid::new_v4();
    let me = Uuid::new_v4();
    let fields = with_field(session_create_fields(me), key, value);
    decode(
        change_json("sessions", Uuid::new_v4(), &hlc(T0, 0, device), fields),
        me,
    )
}

fn beneficiary_with(key: &str, value: serde_json::Value) -> Result<sync_core::Change, ChangeError> {
    let fields = with_field(beneficiary_create_fields(), key, value);
    decode(
        change_json(
            "beneficiaries",
            Uuid::new_v4(),
            &hlc(T0, 0, Uuid::new_v4()),
            fields,
        ),
        Uuid::new_v4(),
    )
}

#[test]
fn a_valid_session_and_beneficiary_decode() {
    let me = Uuid::new_v4();
    let change = decode(
        change_json(
            "sessions",
            Uuid::new_v4(),
            &hlc(T0, 0, Uuid::new_v4()),
            session_create_fields(me),
        ),
        me,
    )
    .unwrap();
    assert_eq!(change.writes.len(), 7);
    check_against_state(&change, None).unwrap();
    assert!(beneficiary_with("phone", json!("+66812345678")).is_ok());
    assert!(beneficiary_with("birth_year", json!(1950)).is_ok());
    assert!(session_with("notes", json!(null)).is_ok());
    assert!(session_with("outcome", json!("follow_up")).is_ok());
    assert!(session_with("follow_up_on", json!("2026-12-01")).is_ok());
}

#[test]
fn an_unknown_collection_is_rejected() {
    let json = change_json(
        "people",
        Uuid::new_v4(),
        &hlc(T0, 0, Uuid::new_v4()),
        beneficiary_create_fields(),
    );
    assert_eq!(code_of(decode(json, Uuid::new_v4())), "unknown_collection");
}

#[test]
fn unknown_and_malformed_keys_are_rejected() {
    assert_eq!(
        code_of(session_with("colour", json!("red"))),
        "unknown_field"
    );
    assert_eq!(
        code_of(session_with("beneficiary_ids/not-a-uuid", json!(true))),
        "unknown_field"
    );
    assert_eq!(
        code_of(session_with("beneficiary_ids", json!(true))),
        "unknown_field"
    );
    assert_eq!(
        code_of(session_with("notes/extra", json!("x"))),
        "unknown_field"
    );
    assert_eq!(
        code_of(beneficiary_with(
            "beneficiary_ids/0b7e1c7e-8d1e-4c55-9a37-2f3d1c9e0a11",
            json!(true)
        )),
        "unknown_field"
    );
}

#[test]
fn a_malformed_hlc_is_rejected() {
    let json = change_json(
        "beneficiaries",
        Uuid::new_v4(),
        "yesterday",
        beneficiary_create_fields(),
    );
    assert_eq!(code_of(decode(json, Uuid::new_v4())), "invalid_hlc");
}

#[test]
fn a_change_stamped_by_another_device_is_rejected() {
    let device = Uuid::new_v4();
    let json = change_json(
        "beneficiaries",
        Uuid::new_v4(),
        &hlc(T0, 0, device),
        beneficiary_create_fields(),
    );
    let change = decode(json, Uuid::new_v4()).unwrap();
    assert!(change.check_origin(device).is_ok());
    assert_eq!(
        change.check_origin(Uuid::new_v4()).unwrap_err().code(),
        "invalid_hlc"
    );
}

#[test]
fn a_malformed_or_oversized_base_is_rejected() {
    let mut fields = beneficiary_create_fields();
    fields["display_name"]["base"] = json!(["not-an-hlc"]);
    let json = change_json(
        "beneficiaries",
        Uuid::new_v4(),
        &hlc(T0, 0, Uuid::new_v4()),
        fields,
    );
    assert_eq!(code_of(decode(json, Uuid::new_v4())), "invalid_base");

    let mut fields = beneficiary_create_fields();
    let device = Uuid::new_v4();
    fields["display_name"]["base"] = (0..65).map(|i| json!(hlc(T0, i, device))).collect();
    let json = change_json("beneficiaries", Uuid::new_v4(), &hlc(T0, 0, device), fields);
    assert_eq!(code_of(decode(json, Uuid::new_v4())), "invalid_base");
}

#[test]
fn a_change_without_keys_is_rejected() {
    let json = change_json(
        "sessions",
        Uuid::new_v4(),
        &hlc(T0, 0, Uuid::new_v4()),
        json!({}),
    );
    assert_eq!(code_of(decode(json, Uuid::new_v4())), "empty_change");
}

#[test]
fn a_change_with_too_many_keys_is_rejected() {
    let fields: serde_json::Map<String, serde_json::Value> = (0..1025)
        .map(|_| {
            (
                format!("beneficiary_ids/{}", Uuid::new_v4()),
                json!({"value": true}),
            )
        })
        .collect();
    let json = change_json(
        "sessions",
        Uuid::new_v4(),
        &hlc(T0, 0, Uuid::new_v4()),
        fields.into(),
    );
    assert_eq!(code_of(decode(json, Uuid::new_v4())), "too_many_fields");
}

#[test]
fn values_of_the_wrong_type_are_rejected() {
    assert_eq!(
        code_of(session_with("duration_min", json!("45"))),
        "invalid_type"
    );
    assert_eq!(
        code_of(session_with("duration_min", json!(4.5))),
        "invalid_type"
    );
    assert_eq!(code_of(session_with("notes", json!(["a"]))), "invalid_type");
    assert_eq!(
        code_of(session_with("notes", json!({"a": 1}))),
        "invalid_type"
    );
    assert_eq!(
        code_of(session_with("village_code", json!(null))),
        "invalid_type"
    );
    assert_eq!(
        code_of(session_with("_deleted", json!("yes"))),
        "invalid_type"
    );
    assert_eq!(
        code_of(beneficiary_with("consent", json!("true"))),
        "invalid_type"
    );
}

#[test]
fn values_of_the_wrong_form_are_rejected() {
    assert_eq!(
        code_of(session_with("village_code", json!("5001020"))),
        "invalid_value"
    );
    assert_eq!(
        code_of(session_with("village_code", json!("5001020๓"))),
        "invalid_value"
    );
    assert_eq!(
        code_of(session_with("help_type", json!("gardening"))),
        "invalid_value"
    );
    assert_eq!(
        code_of(session_with("started_at", json!("2026-11-28 09:30"))),
        "invalid_value"
    );
    assert_eq!(
        code_of(session_with("follow_up_on", json!("2026-2-30"))),
        "invalid_value"
    );
    assert_eq!(
        code_of(session_with("follow_up_on", json!("2026-02-30"))),
        "invalid_value"
    );
    assert_eq!(
        code_of(session_with("volunteer_id", json!("ABC"))),
        "invalid_value"
    );
    assert_eq!(
        code_of(session_with("centre_id", json!(""))),
        "invalid_value"
    );
    assert_eq!(
        code_of(session_with("notes", json!("a\u{0}b"))),
        "invalid_value"
    );
    assert_eq!(
        code_of(beneficiary_with("phone", json!("12345"))),
        "invalid_value"
    );
    assert_eq!(
        code_of(beneficiary_with("phone", json!("08-1234-5678"))),
        "invalid_value"
    );
    assert_eq!(
        code_of(beneficiary_with("display_name", json!(""))),
        "invalid_value"
    );
}

#[test]
fn numbers_out_of_range_are_rejected() {
    assert_eq!(
        code_of(session_with("duration_min", json!(0))),
        "out_of_range"
    );
    assert_eq!(
        code_of(session_with("duration_min", json!(1441))),
        "out_of_range"
    );
    assert_eq!(
        code_of(session_with("people_helped", json!(-1))),
        "out_of_range"
    );
    assert_eq!(
        code_of(session_with("people_helped", json!(u64::MAX))),
        "out_of_range"
    );
    assert_eq!(
        code_of(beneficiary_with("birth_year", json!(1899))),
        "out_of_range"
    );
    assert_eq!(
        code_of(beneficiary_with("birth_year", json!(2027))),
        "out_of_range"
    );
    assert!(session_with("duration_min", json!(1440)).is_ok());
    assert!(beneficiary_with("birth_year", json!(2026)).is_ok());
}

#[test]
fn overlong_text_is_rejected_counting_code_points_not_bytes() {
    // 4000 Thai characters are 12,000 bytes of UTF-8 and still allowed.
    assert!(session_with("notes", json!("ก".repeat(4000))).is_ok());
    assert_eq!(
        code_of(session_with("notes", json!("ก".repeat(4001)))),
        "too_long"
    );
    assert!(beneficiary_with("display_name", json!("ส".repeat(200))).is_ok());
    assert_eq!(
        code_of(beneficiary_with("display_name", json!("ส".repeat(201)))),
        "too_long"
    );
}

#[test]
fn a_create_missing_a_required_key_is_rejected() {
    let me = Uuid::new_v4();
    let mut fields = session_create_fields(me);
    fields.as_object_mut().unwrap().remove("people_helped");
    let change = decode(
        change_json(
            "sessions",
            Uuid::new_v4(),
            &hlc(T0, 0, Uuid::new_v4()),
            fields,
        ),
        me,
    )
    .unwrap();
    let err = check_against_state(&change, None).unwrap_err();
    assert_eq!(err.code(), "missing_field");
    assert_eq!(
        err.to_string(),
        "`people_helped` is required when a record is created"
    );
}

#[test]
fn a_beneficiary_without_consent_is_rejected_but_consent_may_later_be_withdrawn() {
    let record = Uuid::new_v4();
    let device = Uuid::new_v4();
    let fields = with_field(beneficiary_create_fields(), "consent", json!(false));
    let create = decode(
        change_json("beneficiaries", record, &hlc(T0, 0, device), fields),
        Uuid::new_v4(),
    )
    .unwrap();
    assert_eq!(
        check_against_state(&create, None).unwrap_err().code(),
        "consent_required",
        "a record is created only with consent given"
    );

    let create = decode(
        change_json(
            "beneficiaries",
            record,
            &hlc(T0, 0, device),
            beneficiary_create_fields(),
        ),
        Uuid::new_v4(),
    )
    .unwrap();
    let mut state = RecordState::new();
    state.apply(&create);
    let withdrawal = json!({
        "consent": {"value": false, "base": [hlc(T0, 0, device)]},
        "consent_version": {"value": "2026-01"},
    });
    let change = decode(
        change_json("beneficiaries", record, &hlc(T0, 1, device), withdrawal),
        Uuid::new_v4(),
    )
    .unwrap();
    assert_eq!(check_against_state(&change, Some(&state)), Ok(()));
}

#[test]
fn a_national_id_needs_its_check_digit() {
    assert!(beneficiary_with("national_id", json!("1101700230708")).is_ok());
    assert!(beneficiary_with("national_id", json!(null)).is_ok());
    for bad in [json!("1101700230709"), json!("110170023070")] {
        assert_eq!(
            code_of(beneficiary_with("national_id", bad)),
            "invalid_national_id"
        );
    }
    assert_eq!(
        code_of(beneficiary_with("national_id", json!(1101700230708_u64))),
        "invalid_type"
    );
}

#[test]
fn only_the_server_writes_erased_and_masked_is_not_for_pushing() {
    assert_eq!(
        code_of(beneficiary_with("_erased", json!(true))),
        "server_only_field"
    );
    let mut fields = beneficiary_create_fields();
    fields["phone"] = json!({"value": null, "masked": "5678"});
    assert_eq!(
        code_of(decode(
            change_json(
                "beneficiaries",
                Uuid::new_v4(),
                &hlc(T0, 0, Uuid::new_v4()),
                fields
            ),
            Uuid::new_v4()
        )),
        "invalid_value"
    );
}

#[test]
fn an_immutable_key_cannot_change_but_may_be_rewritten_with_the_same_value() {
    let me = Uuid::new_v4();
    let device = Uuid::new_v4();
    let record = Uuid::new_v4();
    let create = decode(
        change_json(
            "sessions",
            record,
            &hlc(T0, 0, device),
            session_create_fields(me),
        ),
        me,
    )
    .unwrap();
    let mut state = RecordState::new();
    state.apply(&create);

    let edit = json!({"centre_id": {"value": "C0002", "base": [hlc(T0, 0, device)]}});
    let change = decode(
        change_json("sessions", record, &hlc(T0, 1, device), edit),
        me,
    )
    .unwrap();
    assert_eq!(
        check_against_state(&change, Some(&state))
            .unwrap_err()
            .code(),
        "immutable_field"
    );

    let same = json!({"centre_id": {"value": "C0001", "base": [hlc(T0, 0, device)]}});
    let change = decode(
        change_json("sessions", record, &hlc(T0, 1, device), same),
        me,
    )
    .unwrap();
    assert!(check_against_state(&change, Some(&state)).is_ok());

    // An edit of a record that exists needs no required keys.
    let notes = json!({"notes": {"value": "ok"}});
    let change = decode(
        change_json("sessions", record, &hlc(T0, 2, device), notes),
        me,
    )
    .unwrap();
    assert!(check_against_state(&change, Some(&state)).is_ok());
}

#[test]
fn thai_text_round_trips_byte_for_byte() {
    let text = "ช่วยลงทะเบียนรับสวัสดิการแห่งรัฐ ณ ศูนย์ดิจิทัลชุมชน ๑๒๓ — ผู้สูงอายุ 👵🏽 e\u{301}";
    let me = Uuid::new_v4();
    let device = Uuid::new_v4();
    let record = Uuid::new_v4();
    let fields = with_field(session_create_fields(me), "notes", json!(text));
    let wire_in = serde_json::to_string(&change_json(
        "sessions",
        record,
        &hlc(T0, 0, device),
        fields,
    ))
    .unwrap();
    let change = sync_core::Change::decode(
        &serde_json::from_str(&wire_in).unwrap(),
        me,
        &crate::fixtures::RULES,
    )
    .unwrap();

    let wire_out = serde_json::to_string(&change.to_dto(false)).unwrap();
    assert!(
        wire_out.contains(text),
        "the change's JSON holds the same bytes"
    );
    let mut state = RecordState::new();
    state.apply(&change);
    let record_json = serde_json::to_string(&state.render(change.collection, record)).unwrap();
    assert!(
        record_json.contains(text),
        "the rendered record holds the same bytes"
    );
    let back: sync_core::RecordDto = serde_json::from_str(&record_json).unwrap();
    assert_eq!(
        back.fields["notes"].as_str().unwrap().as_bytes(),
        text.as_bytes()
    );
}
