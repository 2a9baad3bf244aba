//! Asa Sync's shared engine: hybrid logical clocks, the change and record
//! model, merge, conflict rendering and validation, and the wire types.
//!
//! This crate does no IO: no network, no files, no database. The server and
//! the client SDK feed it decoded changes and store what it returns, so every
//! replica merges with exactly the same code.
//!
//! ```
//! use sync_core::{Change, ChangeDto, Replica, Rules};
//! use uuid::Uuid;
//!
//! let device = Uuid::new_v4();
//! let author = Uuid::new_v4();
//! let json = serde_json::json!({
//!     "id": Uuid::now_v7(), "device_seq": 1, "collection": "beneficiaries",
//!     "record_id": Uuid::now_v7(), "hlc": format!("1732070462123-0000-{device}"),
//!     "fields": {
//!         "centre_id": {"value": "C001"}, "village_code": {"value": "50010203"},
//!         "display_name": {"value": "สมชาย ใจดี"}, "consent": {"value": true}
//!     }
//! });
//! let dto: ChangeDto = serde_json::from_value(json).unwrap();
//! let change = Change::decode(&dto, author, &Rules { current_year: 2026 }).unwrap();
//! let mut replica = Replica::new();
//! replica.apply(&change);
//! let record = replica.get(change.collection, change.record_id).unwrap();
//! assert_eq!(record.render(change.collection, change.record_id).fields["display_name"], "สมชาย ใจดี");
//! ```

#![forbid(unsafe_code)]

pub mod access;
mod change;
pub mod codec;
pub mod codes;
pub mod duplicates;
pub mod hlc;
mod merge;
pub mod names;
mod render;
pub mod schema;
pub mod validate;
mod value;
pub mod wire;

pub use access::{Principal, Role};
pub use change::{Change, Pulled, UnknownWrite, Write};
pub use codes::ProblemCode;
pub use hlc::{Clock, Hlc, HlcClock, ManualClock, Node, Observed, SystemClock};
pub use merge::{Head, RecordState, Register, Replica};
pub use render::{mask_hint, Conflict};
pub use schema::{Collection, Field, Key};
pub use validate::{check_against_state, check_name, check_start, ChangeError, Rules};
pub use value::Value;
pub use wire::{
    ChangeDto, PullResponse, PushRequest, PushResponse, PushResult, PushStatus, RecordDto,
};
