//! Validation of changes: the typed rejection reasons and their stable codes.
//!
//! Checks come in two steps. [`crate::Change::decode`] checks everything a
//! change says about itself (collection, keys, value types and ranges, clocks);
//! [`check_against_state`] checks what depends on the record it edits
//! (required keys at create, immutable keys).

use chrono::{Datelike, NaiveDate};

use crate::merge::RecordState;
use crate::schema::{FieldSpec, Kind};
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
        }
    }
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
        Kind::ConsentTrue => match json {
            J::Bool(true) => Ok(Value::Bool(true)),
            J::Bool(false) => Err(ChangeError::ConsentRequired),
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
        Kind::Int { .. } | Kind::BirthYear | Kind::Bool | Kind::ConsentTrue | Kind::SetMember => {}
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
        Kind::ConsentTrue => "true",
        Kind::Int { .. } | Kind::BirthYear => "an integer",
        _ => "a string",
    }
}

/// Checks the rules that depend on the record a change edits: a change that
/// creates a record must set every required key, and immutable keys keep the
/// value they were created with.
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
        }
        Some(state) => {
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
