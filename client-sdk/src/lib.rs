//! The Asa Sync client SDK: a local SQLite store of merged records, an outbox
//! of unsent changes, and a blocking sync loop, behind one thread-safe
//! [`Client`] that a mobile app calls from a background thread.
//!
//! Every merge and validation rule comes from `sync-core`, so the phone and
//! the server can never disagree about what a set of changes means.

#![forbid(unsafe_code)]

mod client;
mod clock;
mod directory;
mod edit;
mod error;
mod export;
mod http;
mod query;
mod store;
mod sync;
mod types;

pub use client::Client;
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{Error, Result};
pub use export::ExportRequest;
pub use http::Config;
pub use sync::SyncObserver;
/// The help types a session may record (`help_type`), in the schema's order.
pub const HELP_TYPES: &[&str] = sync_core::schema::HELP_TYPES;
/// The outcomes a session may record (`outcome`), in the schema's order.
pub const OUTCOMES: &[&str] = sync_core::schema::OUTCOMES;
pub use types::{
    Collection, Conflict, ConflictHead, ExportFormat, FieldEdit, FieldValue, Key, KnownUser,
    Likeness, NewBeneficiary, NewSession, Query, Record, RejectedChange, Role, SimilarBeneficiary,
    SyncOptions, SyncReport, SyncStatus, UnreadableChange, UserInfo,
};
