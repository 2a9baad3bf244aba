//! Validation of changes: the typed rejection reasons and their stable codes.
//!
//! Checks come in two steps. [`crate::Change::decode`] checks everything a
//! change says about itself (collection, keys, value types and ranges, clocks);
//! [`check_against_state`] checks what depends on the record it edits
//! (required keys at create, immutable keys).

use chrono::{Datelike, NaiveDate};

use crate::merge::RecordState;
use crate::schema::{Field, FieldSpec, Kind};
use crate::value::Value;
use crate::Change;

/// At most this many keys in one change (a session may link up to 500 people).
pub const MAX_WRITES_PER_CHANGE: usize = 1024;
/// At most this many HLCs in one write's base: a key's heads, one per concurrent writer.
pub const MAX_BASE_LEN: usize = 64;
/// Centre ids are short codes.
pub const MAX_CENTRE_ID_CHARS: usize = 64;

/// Why a change was rejected. [`ChangeError::code`] is the stable code sent on
/// the wire; the `Display` text is the human-readable detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChangeError {
    #[error("unknown collection `{0}`; use `sessions` or `beneficiaries`")]
    UnknownCollection(String),
    #[error("`{collection}` has no key `{key}`")]
    UnknownField { collection: String, key: String },
    #[error("invalid hlc `{hlc}`: {reason}")]
    InvalidHlc { hlc: String, reason: String },
    #[error("invalid base of `{key}`: {reason}")]
    InvalidBase { key: String, reason: String },
    #[error("a change must write at least one key")]
    EmptyChange,
    #[error("a change writes at most {max} keys, this one writes {count}")]
    TooManyFields { count: usize, max: usize },
    #[error("`{key}` must be {expected}")]
    InvalidType { key: String, expected: &'static str },
    #[error("`{key}` {reason}")]
    InvalidValue { key: String, reason: String },
    #[error("`{key}` must be between {min} and {max}")]
    OutOfRange { key: String, min: i64, max: i64 },
    #[error("`{key}` is at most {max} characters, got {len}")]
    TooLong { key: String, max: usize, len: usize },
    #[error("`{key}` is required when a record is created")]
    MissingField { key: String },
    #[error("`consent` must be true: record the person's consent before saving their data")]
    ConsentRequired,
    #[error("`{key}` cannot change once the record exists")]
    ImmutableField { key: String },
    #[error("`{key}` must not contain control or bidirectional-override characters")]
    InvalidText { key: String },
    #[error("`{field}` {id:?} is not a lowercase hyphenated uuid")]
    InvalidId { field: &'static str, id: String },
    #[error("there is no centre {0:?}; an admin creates centres first")]
    UnknownCentre(String),
    #[error("`started_at` is {hours_ahead} hours after the server's time (after correcting the device's clock); a session cannot start more than a day in the future")]
    FutureStart { hours_ahead: i64 },
    #[error("a {role} may not write this {collection} record")]
    Forbidden {
        role: crate::Role,
        collection: crate::Collection,
    },
    #[error("device_seq {seq} leaves a gap: the server has everything up to {acked}; send {next} first", next = .acked + 1)]
    SeqGap { seq: u64, acked: u64 },
    #[error("device_seq {0} already holds another change; the device's outbox is out of step with the server")]
    SeqReused(u64),
    #[error("change id {0} is already stored with different content")]
    ChangeIdReused(String),
    #[error("`national_id` must be 13 digits ending in the Thai check digit; {0}")]
    InvalidNationalId(&'static str),
    #[error("`{key}` is written only by the server")]
    ServerOnlyField { key: String },
    #[error("this person's data was erased under the PDPA; `{key}` cannot be written to their record again")]
    Erased { key: String },
}

impl ChangeError {
    /// The stable, machine-readable code of PROTOCOL.md and `schemas/problem.schema.json`.
    pub fn code(&self) -> &'static str {
        match self {
            ChangeError::UnknownCollection(_) => "unknown_collection",
            ChangeError::UnknownField { .. } => "unknown_field",
            ChangeError::InvalidHlc { .. } => "invalid_hlc",
            ChangeError::InvalidBase { .. } => "invalid_base",
            ChangeError::EmptyChange => "empty_change",
            ChangeError::TooManyFields { .. } => "too_many_fields",
            ChangeError::InvalidType { .. } => "invalid_type",
            ChangeError::InvalidValue { .. } => "invalid_value",
            ChangeError::OutOfRange { .. } => "out_of_range",
            ChangeError::TooLong { .. } => "too_long",
            ChangeError::MissingField { .. } => "missing_field",
            ChangeError::ConsentRequired => "consent_required",
            ChangeError::ImmutableField { .. } => "immutable_field",
            ChangeError::InvalidText { .. } => "invalid_text",
            ChangeError::InvalidId { .. } => "invalid_id",
            ChangeError::UnknownCentre(_) => "unknown_centre",
            ChangeError::FutureStart { .. } => "future_start",
            ChangeError::Forbidden { .. } => "forbidden",
            ChangeError::SeqGap { .. } => "seq_gap",
            ChangeError::SeqReused(_) => "seq_reused",
            ChangeError::ChangeIdReused(_) => "change_id_reused",
            ChangeError::InvalidNationalId(_) => "invalid_national_id",
            ChangeError::ServerOnlyField { .. } => "server_only_field",
            ChangeError::Erased { .. } => "erased",
        }
    }

    /// Every code [`ChangeError::code`] can return: the per-change rejection
    /// codes of a push result, listed in `schemas/problem.schema.json`.
    pub const CODES: &'static [&'static str] = &[
        "unknown_collection",
        "unknown_field",
        "invalid_hlc",
        "invalid_base",
        "empty_change",
        "too_many_fields",
        "invalid_type",
        "invalid_value",
        "out_of_range",
        "too_long",
        "missing_field",
        "consent_required",
        "immutable_field",
        "invalid_text",
        "invalid_id",
        "unknown_centre",
        "future_start",
        "forbidden",
        "seq_gap",
        "seq_reused",
        "change_id_reused",
        "invalid_national_id",
        "server_only_field",
        "erased",
    ];
}

/// Whether `c` may not appear in a name: control characters, and the
/// bidirectional embedding, override and isolate characters that can make a
/// name display as something else (U+202A..U+202E, U+2066..U+2069).
pub fn is_forbidden_in_name(c: char) -> bool {
    c.is_control()
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// Checks a person's or a place's name: 1..=`max` code points, nothing from
/// [`is_forbidden_in_name`]. The text is never rewritten (no normalisation:
/// it would reorder Thai marks and make replicas differ).
pub fn check_name(key: &str, s: &str, max: usize) -> Result<(), ChangeError> {
    let len = s.chars().count();
    if len > max {
        return Err(ChangeError::TooLong {
            key: key.to_owned(),
            max,
            len,
        });
    }
    if s.trim().is_empty() {
        return Err(ChangeError::InvalidValue {
            key: key.to_owned(),
            reason: "must not be empty".to_owned(),
        });
    }
    if s.chars().any(is_forbidden_in_name) {
        return Err(ChangeError::InvalidText {
            key: key.to_owned(),
        });
    }
    Ok(())
}

/// How far after the server's time a session may start: a day, so a
/// volunteer in a later time zone or logging tomorrow's appointment is fine.
pub const MAX_FUTURE_START_MS: i64 = 24 * 3600 * 1000;

/// Refuses a session that starts more than a day after `server_now_ms`.
/// The start is judged both as written and corrected by `clock_offset_ms`
/// (the device's clock minus the server's), and refused only when both are
/// too far ahead: an app that stamped the start from a phone clock that is
/// days ahead, and a volunteer who typed the real date on a phone whose
/// clock was reset to 1970, both keep their work.
pub fn check_start(
    change: &Change,
    server_now_ms: u64,
    clock_offset_ms: i64,
) -> Result<(), ChangeError> {
    let started = change
        .writes
        .iter()
        .find(|w| w.key == crate::Key::field(crate::Field::StartedAt))
        .and_then(|w| w.value.as_str())
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok());
    let Some(started) = started else {
        return Ok(());
    };
    let now = i64::try_from(server_now_ms).unwrap_or(i64::MAX);
    let written = started.timestamp_millis();
    let corrected = written.saturating_sub(clock_offset_ms);
    let ahead = written.min(corrected).saturating_sub(now);
    if ahead > MAX_FUTURE_START_MS {
        return Err(ChangeError::FutureStart {
            hours_ahead: ahead / 3_600_000,
        });
    }
    Ok(())
}

/// Facts from outside that validation depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// The upper bound of `birth_year`.
    pub current_year: i32,
}

impl Rules {
    /// Rules as of a wall-clock time in milliseconds since the epoch.
    pub fn at(now_ms: u64) -> Rules {
        let millis = i64::try_from(now_ms).unwrap_or(i64::MAX);
        let current_year = chrono::DateTime::from_timestamp_millis(millis)
            .map(|t| t.year())
            .unwrap_or(1970);
        Rules { current_year }
    }
}

/// Checks one JSON value against a key's rule and converts it.
pub(crate) fn check_value(
    spec: &FieldSpec,
    key: &str,
    json: &serde_json::Value,
    rules: &Rules,
) -> Result<Value, ChangeError> {
    use serde_json::Value as J;
    let invalid_type = |expected| ChangeError::InvalidType {
        key: key.to_owned(),
        expected,
    };
    if json.is_null() {
        return if spec.nullable {
            Ok(Value::Null)
        } else {
            Err(invalid_type(expected(spec.kind)))
        };
    }
    match spec.kind {
        Kind::Bool | Kind::SetMember => json
            .as_bool()
            .map(Value::Bool)
            .ok_or_else(|| invalid_type(expected(spec.kind))),
        Kind::Consent => match json {
            J::Bool(b) => Ok(Value::Bool(*b)),
            _ => Err(invalid_type(expected(spec.kind))),
        },
        Kind::Int { min, max } => check_int(json, key, min, max),
        Kind::BirthYear => check_int(json, key, 1900, i64::from(rules.current_year)),
        _ => {
            let s = json
                .as_str()
                .ok_or_else(|| invalid_type(expected(spec.kind)))?;
            check_text(spec.kind, key, s)?;
            Ok(Value::text(s))
        }
    }
}

fn check_int(
    json: &serde_json::Value,
    key: &str,
    min: i64,
    max: i64,
) -> Result<Value, ChangeError> {
    let out_of_range = || ChangeError::OutOfRange {
        key: key.to_owned(),
        min,
        max,
    };
    match json {
        serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => {
            let i = n.as_i64().ok_or_else(out_of_range)?;
            if (min..=max).contains(&i) {
                Ok(Value::Int(i))
            } else {
                Err(out_of_range())
            }
        }
        _ => Err(ChangeError::InvalidType {
            key: key.to_owned(),
            expected: "an integer",
        }),
    }
}

fn check_text(kind: Kind, key: &str, s: &str) -> Result<(), ChangeError> {
    let invalid = |reason: &str| {
        Err(ChangeError::InvalidValue {
            key: key.to_owned(),
            reason: reason.to_owned(),
        })
    };
    let too_long = |max: usize, len: usize| {
        Err(ChangeError::TooLong {
            key: key.to_owned(),
            max,
            len,
        })
    };
    match kind {
        Kind::Text { min, max } => {
            let len = s.chars().count();
            if len > max {
                return too_long(max, len);
            }
            if len < min {
                return invalid("must not be empty");
            }
            if s.contains('\0') {
                return invalid("must not contain NUL characters");
            }
        }
        Kind::Name { max } => check_name(key, s, max)?,
        Kind::CentreId => {
            let len = s.chars().count();
            if len > MAX_CENTRE_ID_CHARS {
                return too_long(MAX_CENTRE_ID_CHARS, len);
            }
            if len == 0 || s.chars().any(char::is_control) {
                return invalid("must be a non-empty centre code without control characters");
            }
        }
        Kind::Uuid => {
            if crate::hlc::parse_canonical_uuid(s).is_none() {
                return invalid("must be a lowercase hyphenated uuid");
            }
        }
        Kind::VillageCode => {
            if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
                return invalid("must be 8 digits (province, district, sub-district, village no.)");
            }
        }
        Kind::Enum(allowed) => {
            if !allowed.contains(&s) {
                return invalid(&format!("must be one of {}", allowed.join(", ")));
            }
        }
        Kind::DateTime => {
            if chrono::DateTime::parse_from_rfc3339(s).is_err() {
                return invalid("must be an RFC 3339 date-time such as 2024-01-31T09:30:00+07:00");
            }
        }
        Kind::Date => {
            if !is_date(s) {
                return invalid("must be a date written YYYY-MM-DD");
            }
        }
        Kind::Phone => {
            let digits = s.strip_prefix('+').unwrap_or(s);
            if !(8..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return invalid("must be 8 to 15 digits with an optional leading +");
            }
        }
        Kind::NationalId => check_national_id(s)?,
        Kind::Int { .. } | Kind::BirthYear | Kind::Bool | Kind::Consent | Kind::SetMember => {}
    }
    Ok(())
}

/// A Thai national id: 13 ASCII digits, the last the check digit of the
/// first 12 (weights 13 down to 2; check = (11 - sum mod 11) mod 10).
pub fn check_national_id(s: &str) -> Result<(), ChangeError> {
    let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() != 13 || s.len() != 13 {
        return Err(ChangeError::InvalidNationalId(
            "it must be exactly 13 digits",
        ));
    }
    let sum: u32 = digits[..12]
        .iter()
        .zip((2..=13).rev())
        .map(|(d, w)| d * w)
        .sum();
    if (11 - sum % 11) % 10 != digits[12] {
        return Err(ChangeError::InvalidNationalId(
            "the last digit does not match the others: check for a mistyped digit",
        ));
    }
    Ok(())
}

/// `YYYY-MM-DD`, zero-padded, and a real calendar date.
pub fn is_date(s: &str) -> bool {
    s.len() == 10 && NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
}

fn expected(kind: Kind) -> &'static str {
    match kind {
        Kind::Bool | Kind::SetMember => "a boolean",
        Kind::Int { .. } | Kind::BirthYear => "an integer",
        _ => "a string",
    }
}

/// Checks the rules that depend on the record a change edits: a change that
/// creates a record must set every required key (and consent, given), and
/// immutable keys keep the value they were created with.
pub fn check_against_state(
    change: &Change,
    existing: Option<&RecordState>,
) -> Result<(), ChangeError> {
    let existing = existing.filter(|s| !s.is_empty());
    match existing {
        None => {
            for spec in change.collection.fields() {
                if spec.required_at_create
                    && !change.writes.iter().any(|w| w.key.field == spec.field)
                {
                    return Err(ChangeError::MissingField {
                        key: spec.field.name().to_owned(),
                    });
                }
            }
            let refused = change
                .writes
                .iter()
                .any(|w| w.key.field == Field::Consent && w.value != Value::Bool(true));
            if refused {
                return Err(ChangeError::ConsentRequired);
            }
        }
        Some(state) => {
            if state.is_erased() {
                let personal = change
                    .writes
                    .iter()
                    .find(|w| w.key.field.erasure_placeholder().is_some());
                if let Some(w) = personal {
                    return Err(ChangeError::Erased {
                        key: w.key.to_string(),
                    });
                }
            }
            for write in &change.writes {
                let immutable = change
                    .collection
                    .spec(write.key.field)
                    .is_some_and(|s| s.immutable);
                if !immutable {
                    continue;
                }
                let differs = state
                    .heads(&write.key)
                    .iter()
                    .any(|head| head.value != write.value);
                if differs {
                    return Err(ChangeError::ImmutableField {
                        key: write.key.to_string(),
                    });
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Collection, Role};

    /// One error of every kind. The match below has no wildcard, so a new
    /// variant does not compile until it is added here, and then its code
    /// must be in [`ChangeError::CODES`].
    #[test]
    fn every_rejection_code_is_listed_once() {
        let s = String::new;
        let examples = [
            ChangeError::UnknownCollection(s()),
            ChangeError::UnknownField {
                collection: s(),
                key: s(),
            },
            ChangeError::InvalidHlc {
                hlc: s(),
                reason: s(),
            },
            ChangeError::InvalidBase {
                key: s(),
                reason: s(),
            },
            ChangeError::EmptyChange,
            ChangeError::TooManyFields { count: 0, max: 0 },
            ChangeError::InvalidType {
                key: s(),
                expected: "",
            },
            ChangeError::InvalidValue {
                key: s(),
                reason: s(),
            },
            ChangeError::OutOfRange {
                key: s(),
                min: 0,
                max: 0,
            },
            ChangeError::TooLong {
                key: s(),
                max: 0,
                len: 0,
            },
            ChangeError::MissingField { key: s() },
            ChangeError::ConsentRequired,
            ChangeError::ImmutableField { key: s() },
            ChangeError::InvalidText { key: s() },
            ChangeError::InvalidId {
                field: "id",
                id: s(),
            },
            ChangeError::UnknownCentre(s()),
            ChangeError::FutureStart { hours_ahead: 0 },
            ChangeError::Forbidden {
                role: Role::Volunteer,
                collection: Collection::Sessions,
            },
            ChangeError::SeqGap { seq: 0, acked: 0 },
            ChangeError::SeqReused(0),
            ChangeError::ChangeIdReused(s()),
            ChangeError::InvalidNationalId(""),
            ChangeError::ServerOnlyField { key: s() },
            ChangeError::Erased { key: s() },
        ];
        let mut seen = std::collections::BTreeSet::new();
        for e in &examples {
            match e {
                ChangeError::UnknownCollection(_)
                | ChangeError::UnknownField { .. }
                | ChangeError::InvalidHlc { .. }
                | ChangeError::InvalidBase { .. }
                | ChangeError::EmptyChange
                | ChangeError::TooManyFields { .. }
                | ChangeError::InvalidType { .. }
                | ChangeError::InvalidValue { .. }
                | ChangeError::OutOfRange { .. }
                | ChangeError::TooLong { .. }
                | ChangeError::MissingField { .. }
                | ChangeError::ConsentRequired
                | ChangeError::ImmutableField { .. }
                | ChangeError::InvalidText { .. }
                | ChangeError::InvalidId { .. }
                | ChangeError::UnknownCentre(_)
                | ChangeError::FutureStart { .. }
                | ChangeError::Forbidden { .. }
                | ChangeError::SeqGap { .. }
                | ChangeError::SeqReused(_)
                | ChangeError::ChangeIdReused(_)
                | ChangeError::InvalidNationalId(_)
                | ChangeError::ServerOnlyField { .. }
                | ChangeError::Erased { .. } => {}
            }
            assert!(
                ChangeError::CODES.contains(&e.code()),
                "{} is listed",
                e.code()
            );
            assert!(seen.insert(e.code()), "{} belongs to one variant", e.code());
        }
        assert_eq!(
            seen.len(),
            ChangeError::CODES.len(),
            "no listed code is unused"
        );
    }

    #[test]
    fn national_ids_need_the_thai_check_digit() {
        // 1-1017-00230-70-8: 1*13 + 1*12 + 0*11 + 1*10 + 7*9 + 0*8 + 0*7
        // + 2*6 + 3*5 + 0*4 + 7*3 + 0*2 = 146; (11 - 146 % 11) % 10 = 8.
        assert_eq!(check_national_id("1101700230708"), Ok(()));
        // A remainder of 0 or 1 gives 11 or 10, taken mod 10.
        assert_eq!(check_national_id("0000000000001"), Ok(()));
        assert_eq!(check_national_id("0000000000060"), Ok(()));
        for bad in [
            "1101700230709",
            "110170023070",
            "11017002307080",
            "1-1017-00230-70-8",
            "110170023070๘",
            "",
        ] {
            assert_eq!(
                check_national_id(bad).map_err(|e| e.code()),
                Err("invalid_national_id"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn names_refuse_controls_and_bidi_overrides_but_keep_thai_marks() {
        assert_eq!(check_name("display_name", "นางมาลี ใจดี", 200), Ok(()));
        for bad in ["a\u{202e}b", "\u{2066}x", "tab\there", "nul\0"] {
            assert_eq!(
                check_name("display_name", bad, 200).map_err(|e| e.code()),
                Err("invalid_text"),
                "{bad:?}"
            );
        }
        assert_eq!(
            check_name("display_name", "  ", 200).map_err(|e| e.code()),
            Err("invalid_value")
        );
        assert_eq!(
            check_name("display_name", &"ก".repeat(201), 200).map_err(|e| e.code()),
            Err("too_long")
        );
    }
}
