//! Integration tests of the client SDK against a real server on 127.0.0.1:0,
//! in one binary: every test spawns its own server over a temporary SQLite
//! file and drives devices through the SDK's blocking API.

mod auth;
mod clocks;
mod conflicts;
mod convergence;
mod edits;
mod interruption;
mod lifecycle;
mod people;
mod proxy;
mod rejected;
mod restore;
mod support;
