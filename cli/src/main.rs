//! `asa`: the Asa Sync command line for volunteers and managers, built on the client SDK.

#![forbid(unsafe_code)]

mod commands;
mod out;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};

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
    /// The server's base URL; `http://` is assumed when no scheme is given (`127.0.0.1:8080`).
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

/// Where a global setting came from, to name it in an error: the flag, or the
/// environment variable that set it.
#[derive(Debug, Clone)]
pub struct Origins {
    pub db: String,
    pub server: String,
}

impl Origins {
    fn of(matches: &ArgMatches) -> Origins {
        let name = |id: &str, flag: &str, env: &str| match matches.value_source(id) {
            Some(ValueSource::EnvVariable) => env.to_owned(),
            Some(ValueSource::CommandLine) => flag.to_owned(),
            _ => format!("{flag} or {env}"),
        };
        Origins {
            db: name("db", "--db", "ASA_DB"),
            server: name("server", "--server", "ASA_SERVER"),
        }
    }
}

/// An error's message with each cause once: a cause whose text its parent
/// already shows (an SDK error that prints its source) is not repeated.
fn message(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if text.is_empty() || msg.contains(&text) {
            continue;
        }
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(&text);
    }
    // One line, whatever the causes hold.
    msg.lines().collect::<Vec<_>>().join(" ")
}

fn main() -> ExitCode {
    // Usage errors and --help are clap's: printed by it, exit code 2 and 0.
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let origins = Origins::of(&matches);
    let mut out = out::Out::stdout();
    let result = commands::run(cli, &origins, &mut out);
    let flushed = out.flush().map_err(anyhow::Error::from);
    match result.and(flushed) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader stopped early (`asa ... | head`): nothing went wrong.
        Err(e) if out::is_closed_stdout(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {}", message(&e));
            ExitCode::FAILURE
        }
    }
}
