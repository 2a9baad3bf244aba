//! The Asa Sync client SDK: a local SQLite store of merged records, an outbox
//! of unsent changes, and a blocking sync loop, behind one thread-safe
//! [`Client`] that a mobile app calls from a background thread.
//!
//! Every merge and validation rule comes from `sync-core`, so the phone and
//! the server can never disagree about what a set of changes means.

#![forbid(unsafe_code)]

mod client;
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
pub use error::{Error, Result};
pub use export::ExportRequest;
pub use http::Config;
pub use sync_core;
pub use sync_core::{ChangeError, Clock, ManualClock, Role, SystemClock};
pub use types::{
    Collection, Conflict, ConflictHead, ExportFormat, FieldEdit, FieldValue, KnownUser,
    NewBeneficiary, NewSession, Query, Record, RejectedChange, SyncOptions, SyncReport, SyncStatus,
    UserInfo,
};
