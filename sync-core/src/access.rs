//! Who may read and write which records (PROTOCOL.md section 6): pure rules
//! shared by the server, which enforces them, and the SDK, which can check an
//! edit before queueing it.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

use crate::merge::RecordState;
use crate::schema::{Collection, Field, Key};
use crate::validate::ChangeError;
use crate::value::Value;
use crate::wire::ChangeDto;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Volunteer,
    Manager,
    Admin,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Volunteer => "volunteer",
            Role::Manager => "manager",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "volunteer" => Ok(Role::Volunteer),
            "manager" => Ok(Role::Manager),
            "admin" => Ok(Role::Admin),
            _ => Err(UnknownRole),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("role must be volunteer, manager or admin")]
pub struct UnknownRole;

/// The user a request acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: Uuid,
    pub role: Role,
    /// The centre of a volunteer or manager; admins have none.
    pub centre_id: Option<String>,
}

impl Principal {
    fn in_centre(&self, centre: Option<&str>) -> bool {
        centre.is_some() && self.centre_id.as_deref() == centre
    }

    /// Whether this user may read a record with this centre and author. A
    /// volunteer's scope is their current centre: the sessions they authored
    /// there and its beneficiaries (after a move to another centre, their
    /// sessions stay with the centre they were logged for).
    pub fn may_read(
        &self,
        collection: Collection,
        centre: Option<&str>,
        volunteer: Option<&str>,
    ) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Manager => self.in_centre(centre),
            Role::Volunteer => match collection {
                Collection::Sessions => {
                    self.in_centre(centre) && volunteer == Some(self.user_id.to_string().as_str())
                }
                Collection::Beneficiaries => self.in_centre(centre),
            },
        }
    }

    /// Whether this user may write to a record. `existing` is the record as
    /// stored (judged on its centre and author); for a record that does not
    /// exist yet, `new_centre` and `new_volunteer` are what the change sets.
    /// A create that names no centre is left to validation (`missing_field`).
    pub fn may_write(
        &self,
        collection: Collection,
        existing: Option<&RecordState>,
        new_centre: Option<&str>,
        new_volunteer: Option<&str>,
    ) -> bool {
        if self.role == Role::Admin {
            return true;
        }
        match existing.filter(|s| !s.is_empty()) {
            Some(state) => {
                let volunteer = state
                    .value(&Key::field(Field::VolunteerId))
                    .and_then(Value::as_str);
                let own = volunteer == Some(self.user_id.to_string().as_str());
                match (self.role, collection) {
                    (Role::Volunteer, Collection::Sessions) => {
                        own && self.in_centre(state.centre_id())
                    }
                    _ => self.in_centre(state.centre_id()),
                }
            }
            None => {
                let centre_ok = new_centre.is_none_or(|c| self.in_centre(Some(c)));
                let volunteer_ok = self.role != Role::Volunteer
                    || collection != Collection::Sessions
                    || new_volunteer.is_none_or(|v| v == self.user_id.to_string());
                centre_ok && volunteer_ok
            }
        }
    }

    /// [`Principal::may_write`] as the verdict a push result or an edit
    /// carries: `forbidden` when the user may not write.
    pub fn check_write(
        &self,
        collection: Collection,
        existing: Option<&RecordState>,
        new_centre: Option<&str>,
        new_volunteer: Option<&str>,
    ) -> Result<(), ChangeError> {
        if self.may_write(collection, existing, new_centre, new_volunteer) {
            Ok(())
        } else {
            Err(ChangeError::Forbidden {
                role: self.role,
                collection,
            })
        }
    }

    /// Who may write, judged on a change as it arrived (before its content is
    /// validated, so an unreadable change to a record one may not touch is
    /// `forbidden`, not a validation error): the record as stored, or for a
    /// new record the centre and volunteer the change names.
    pub fn check_write_dto(
        &self,
        dto: &ChangeDto,
        existing: Option<&RecordState>,
    ) -> Result<(), ChangeError> {
        let collection = Collection::parse(&dto.collection)
            .ok_or_else(|| ChangeError::UnknownCollection(dto.collection.clone()))?;
        let text = |field: Field| dto.fields.get(field.name()).and_then(|w| w.value.as_str());
        self.check_write(
            collection,
            existing,
            text(Field::CentreId),
            text(Field::VolunteerId),
        )
    }
}
