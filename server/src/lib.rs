//! The Asa Sync server: actix-web over a storage trait with a SQLite backend,
//! implementing PROTOCOL.md v1. `main.rs` is a thin CLI over [`Application`].

#![forbid(unsafe_code)]

pub mod accounts;
pub mod auth;
pub mod body;
pub mod console;
pub mod edge;
pub mod error;
pub mod metrics;
pub mod openapi;
pub mod operator;
pub mod records;
mod routes;
pub mod settings;
pub mod startup;
pub mod state;
pub mod store;
pub mod sync;

pub use routes::ROUTES;
pub use settings::Settings;
pub use startup::Application;
