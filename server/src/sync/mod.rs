//! The sync protocol's server side, independent of the storage backend: the
//! push algorithm (sequence, idempotency, authorization, validation, merge)
//! and the pull cursor.

pub mod cursor;
pub mod erasure;
pub mod minimise;
pub mod push;
pub mod resolve;
pub mod server_change;
