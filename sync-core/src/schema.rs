//! The two collections of PROTOCOL.md section 4: their keys and the rule for each.
//!
//! Keys are typed ([`Key`] = a [`Field`] plus, for set members, an element
//! UUID), so a change that names an unknown collection or key cannot even be
//! represented once it has been decoded.

use std::fmt;

use uuid::Uuid;

use crate::hlc::parse_canonical_uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Collection {
    Sessions,
    Beneficiaries,
}

impl Collection {
    pub const ALL: [Collection; 2] = [Collection::Sessions, Collection::Beneficiaries];

    pub fn name(self) -> &'static str {
        match self {
            Collection::Sessions => "sessions",
            Collection::Beneficiaries => "beneficiaries",
        }
    }

    pub fn parse(name: &str) -> Option<Collection> {
        Collection::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The keys of this collection, in the order renderings and CSV columns use.
    pub fn fields(self) -> &'static [FieldSpec] {
        match self {
            Collection::Sessions => SESSION_FIELDS,
            Collection::Beneficiaries => BENEFICIARY_FIELDS,
        }
    }

    pub fn spec(self, field: Field) -> Option<&'static FieldSpec> {
        self.fields().iter().find(|s| s.field == field)
    }
}

impl fmt::Display for Collection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Every key name of both collections. The numbers are the stored codes of
/// [`crate::codec`]: never reuse or renumber one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Field {
    CentreId = 1,
    VolunteerId = 2,
    VillageCode = 3,
    HelpType = 4,
    StartedAt = 5,
    DurationMin = 6,
    PeopleHelped = 7,
    Outcome = 8,
    Notes = 9,
    FollowUpOn = 10,
    BeneficiaryIds = 11,
    DisplayName = 12,
    Phone = 13,
    BirthYear = 14,
    Consent = 15,
    MergedInto = 16,
    Deleted = 17,
    NationalId = 18,
    ConsentVersion = 19,
    Erased = 20,
}

impl Field {
    pub const ALL: [Field; 20] = [
        Field::CentreId,
        Field::VolunteerId,
        Field::VillageCode,
        Field::HelpType,
        Field::StartedAt,
        Field::DurationMin,
        Field::PeopleHelped,
        Field::Outcome,
        Field::Notes,
        Field::FollowUpOn,
        Field::BeneficiaryIds,
        Field::DisplayName,
        Field::Phone,
        Field::BirthYear,
        Field::Consent,
        Field::MergedInto,
        Field::Deleted,
        Field::NationalId,
        Field::ConsentVersion,
        Field::Erased,
    ];

    /// The stored code of this field.
    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u8) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.code() == code)
    }

    pub fn name(self) -> &'static str {
        match self {
            Field::CentreId => "centre_id",
            Field::VolunteerId => "volunteer_id",
            Field::VillageCode => "village_code",
            Field::HelpType => "help_type",
            Field::StartedAt => "started_at",
            Field::DurationMin => "duration_min",
            Field::PeopleHelped => "people_helped",
            Field::Outcome => "outcome",
            Field::Notes => "notes",
            Field::FollowUpOn => "follow_up_on",
            Field::BeneficiaryIds => "beneficiary_ids",
            Field::DisplayName => "display_name",
            Field::Phone => "phone",
            Field::BirthYear => "birth_year",
            Field::Consent => "consent",
            Field::MergedInto => "merged_into",
            Field::Deleted => "_deleted",
            Field::NationalId => "national_id",
            Field::ConsentVersion => "consent_version",
            Field::Erased => "_erased",
        }
    }

    /// Whether protocol 1.1 added this key: a client that does not say it
    /// speaks 1.1 gets pulled changes without it (contract section 7).
    pub fn since_v1_1(self) -> bool {
        matches!(
            self,
            Field::NationalId | Field::ConsentVersion | Field::Erased
        )
    }

    /// Whether this key holds personal data that an erasure overwrites
    /// (contract section 10), and the placeholder it leaves.
    pub fn erasure_placeholder(self) -> Option<crate::Value> {
        match self {
            Field::DisplayName => Some(crate::Value::text(ERASED_NAME)),
            Field::Phone | Field::NationalId | Field::BirthYear => Some(crate::Value::Null),
            _ => None,
        }
    }

    /// Whether volunteers see this key only on the beneficiaries they
    /// created; elsewhere it reaches them masked (contract section 10).
    pub fn is_masked_for_others(self) -> bool {
        matches!(self, Field::Phone | Field::NationalId)
    }
}

pub const HELP_TYPES: &[&str] = &[
    "digital_literacy",
    "e_government",
    "welfare_rights",
    "online_safety",
    "fake_news",
    "personal_data",
    "e_commerce",
    "device_setup",
    "other",
];

/// What an erasure leaves in `display_name`.
pub const ERASED_NAME: &str = "-";

pub const OUTCOMES: &[&str] = &["resolved", "referred", "follow_up", "unresolved"];

/// What values a key accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Free text of at most this many Unicode code points (and at least `min`).
    Text {
        min: usize,
        max: usize,
    },
    /// A person's name: 1..=`max` code points, no control or bidirectional
    /// override characters (`invalid_text`).
    Name {
        max: usize,
    },
    /// A centre identifier: 1..=64 code points, no control characters.
    CentreId,
    Uuid,
    /// Eight ASCII digits.
    VillageCode,
    Enum(&'static [&'static str]),
    /// An RFC 3339 date-time.
    DateTime,
    /// A `YYYY-MM-DD` date.
    Date,
    Int {
        min: i64,
        max: i64,
    },
    /// 1900 up to the current year.
    BirthYear,
    /// Digits with an optional leading `+`, 8..=15 digits.
    Phone,
    Bool,
    /// Consent: a bool that must be `true` when the record is created; a
    /// later `false` records a withdrawal.
    Consent,
    /// 13 digits whose last is the Thai check digit (`invalid_national_id`).
    NationalId,
    /// A set-member key `name/<uuid>` holding a bool.
    SetMember,
}

/// The rule for one key of a collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    pub field: Field,
    pub kind: Kind,
    pub nullable: bool,
    pub required_at_create: bool,
    pub immutable: bool,
    /// Written only by the server (a device's write is `server_only_field`).
    pub server_only: bool,
}

const fn spec(field: Field, kind: Kind) -> FieldSpec {
    FieldSpec {
        field,
        kind,
        nullable: false,
        required_at_create: false,
        immutable: false,
        server_only: false,
    }
}

const fn required(field: Field, kind: Kind) -> FieldSpec {
    FieldSpec {
        required_at_create: true,
        ..spec(field, kind)
    }
}

const fn immutable(field: Field, kind: Kind) -> FieldSpec {
    FieldSpec {
        immutable: true,
        ..required(field, kind)
    }
}

const fn nullable(field: Field, kind: Kind) -> FieldSpec {
    FieldSpec {
        nullable: true,
        ..spec(field, kind)
    }
}

const fn server_only(field: Field, kind: Kind) -> FieldSpec {
    FieldSpec {
        server_only: true,
        ..spec(field, kind)
    }
}

const SESSION_FIELDS: &[FieldSpec] = &[
    immutable(Field::CentreId, Kind::CentreId),
    immutable(Field::VolunteerId, Kind::Uuid),
    required(Field::VillageCode, Kind::VillageCode),
    required(Field::HelpType, Kind::Enum(HELP_TYPES)),
    required(Field::StartedAt, Kind::DateTime),
    required(Field::DurationMin, Kind::Int { min: 1, max: 1440 }),
    required(Field::PeopleHelped, Kind::Int { min: 1, max: 500 }),
    nullable(Field::Outcome, Kind::Enum(OUTCOMES)),
    nullable(Field::Notes, Kind::Text { min: 0, max: 4000 }),
    nullable(Field::FollowUpOn, Kind::Date),
    spec(Field::BeneficiaryIds, Kind::SetMember),
    spec(Field::Deleted, Kind::Bool),
];

const BENEFICIARY_FIELDS: &[FieldSpec] = &[
    immutable(Field::CentreId, Kind::CentreId),
    required(Field::VillageCode, Kind::VillageCode),
    required(Field::DisplayName, Kind::Name { max: 200 }),
    nullable(Field::Phone, Kind::Phone),
    nullable(Field::BirthYear, Kind::BirthYear),
    required(Field::Consent, Kind::Consent),
    nullable(Field::MergedInto, Kind::Uuid),
    spec(Field::Deleted, Kind::Bool),
    nullable(Field::NationalId, Kind::NationalId),
    nullable(Field::ConsentVersion, Kind::Text { min: 1, max: 64 }),
    server_only(Field::Erased, Kind::Bool),
];

/// One key of a record: a plain field, or one member of a set field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub field: Field,
    pub member: Option<Uuid>,
}

impl Key {
    pub const fn field(field: Field) -> Key {
        Key {
            field,
            member: None,
        }
    }

    pub const fn member(field: Field, element: Uuid) -> Key {
        Key {
            field,
            member: Some(element),
        }
    }

    /// Parses a key name of `collection`; `None` when the collection has no such key.
    pub fn parse(collection: Collection, name: &str) -> Option<(Key, &'static FieldSpec)> {
        let (field_name, element) = match name.split_once('/') {
            Some((f, e)) => (f, Some(e)),
            None => (name, None),
        };
        let spec = collection
            .fields()
            .iter()
            .find(|s| s.field.name() == field_name)?;
        match (spec.kind, element) {
            (Kind::SetMember, Some(e)) => {
                parse_canonical_uuid(e).map(|id| (Key::member(spec.field, id), spec))
            }
            (Kind::SetMember, None) | (_, Some(_)) => None,
            (_, None) => Some((Key::field(spec.field), spec)),
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.member {
            Some(id) => write!(f, "{}/{}", self.field.name(), id.hyphenated()),
            None => f.write_str(self.field.name()),
        }
    }
}
