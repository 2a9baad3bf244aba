//! `asa`: the Asa Sync command line for volunteers and managers, built on the client SDK.

#![forbid(unsafe_code)]

mod commands;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "asa",
    version,
    about = "Log help sessions offline and sync them with Asa Sync"
)]
pub struct Cli {
    /// The local database file (created on first use).
    #[arg(long, env = "ASA_DB", default_value = "asa.db", global = true)]
    pub db: PathBuf,
    /// The server's base URL.
    #[arg(
        long,
        env = "ASA_SERVER",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub server: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Log in and bind this device to the user.
    Login {
        #[arg(long)]
        username: String,
        /// The password (or set ASA_PASSWORD; read from stdin when absent).
        #[arg(long, env = "ASA_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// Help sessions.
    #[command(subcommand)]
    Session(commands::SessionCommand),
    /// Beneficiaries (people helped).
    #[command(subcommand)]
    Beneficiary(commands::BeneficiaryCommand),
    /// Push pending changes, then pull everything new.
    Sync {
        /// Stop cleanly once this many bytes went both ways; the rest waits for the next sync.
        #[arg(long)]
        budget: Option<u64>,
    },
    /// Pending, rejected and conflicting changes on this device.
    Status,
    /// Keys edited concurrently with different values.
    Conflicts,
    /// Resolve a conflict by writing the value to keep.
    Resolve {
        /// `sessions` or `beneficiaries`.
        collection: String,
        id: uuid::Uuid,
        key: String,
        /// A JSON value (`"text"`, `42`, `true`, `null`); anything else is taken as text.
        value: String,
    },
    /// Managers: export the server's merged records of a centre.
    Export {
        #[arg(long)]
        centre: Option<String>,
        /// First `started_at` date, `YYYY-MM-DD`, inclusive.
        #[arg(long)]
        from: Option<String>,
        /// Last `started_at` date, `YYYY-MM-DD`, inclusive.
        #[arg(long)]
        to: Option<String>,
        #[arg(long, value_enum, default_value = "csv")]
        format: commands::Format,
        #[arg(long, default_value = "sessions")]
        collection: String,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match commands::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("asa: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
