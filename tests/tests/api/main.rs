//! Black-box tests of the server against PROTOCOL.md, in one binary: each
//! test starts a real server on 127.0.0.1:0 over a temporary SQLite file and
//! talks to it over real HTTP.

mod auth;
mod bad_input;
mod errors;
mod ops;
mod records;
mod security;
mod sync;
