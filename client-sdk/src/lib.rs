//! The Asa Sync client SDK: local store, outbox and sync loop. Not built yet: see issue 4.

#![forbid(unsafe_code)]

pub use sync_core;
