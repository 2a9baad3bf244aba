//! The engine's tests, in one binary: clocks, validation, the merge laws, and
//! the wire types against the published JSON Schemas.

mod codec;
mod fixtures;
mod forward;
mod hlc;
mod merge_laws;
mod schemas;
mod validation;
