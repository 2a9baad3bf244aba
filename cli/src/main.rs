//! `asa`: the Asa Sync command line for volunteers and managers, built on the client SDK.

#![forbid(unsafe_code)]

mod commands;
mod out;
mod show;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::FixedOffset;
use clap::builder::PossibleValuesParser;
use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use client_sdk::Collection;
use sync_core::schema::{Kind, HELP_TYPES, OUTCOMES};
use sync_core::Field;
use uuid::Uuid;

#[derive(Debug, Parser)]
#[command(
    name = "asa",
    version,
    about = "Log help sessions offline and sync them with Asa Sync",
    after_help = "Everything but `login`, `sync` and `export` works offline: edits are saved on this \
                  device first and sent by the next `asa sync`."
)]
pub struct Cli {
    /// The local database file of this device (created on first use).
    ///
    /// It holds this device's records, its unsent changes and its login.
    #[arg(
        long,
        env = "ASA_DB",
        value_name = "FILE",
        default_value = "asa.db",
        global = true,
        help_heading = "Global options"
    )]
    pub db: PathBuf,
    /// The server's base URL, e.g. https://asa.example.org (http:// when no scheme is given).
    ///
    /// Without a scheme, http:// is assumed: `127.0.0.1:8080` means
    /// http://127.0.0.1:8080. Write https:// for a server on another machine.
    #[arg(
        long,
        env = "ASA_SERVER",
        value_name = "URL",
        default_value = "http://127.0.0.1:8080",
        global = true,
        help_heading = "Global options"
    )]
    pub server: String,
    /// How times are shown: an offset from UTC, +HH:MM or -HH:MM.
    ///
    /// The default is Thailand's time (Asia/Bangkok, UTC+07:00 all year: there
    /// is no daylight saving). `Z` or `UTC` shows UTC.
    #[arg(
        long,
        env = "ASA_UTC_OFFSET",
        value_name = "OFFSET",
        default_value = show::DEFAULT_UTC_OFFSET,
        value_parser = show::parse_utc_offset,
        allow_hyphen_values = true,
        global = true,
        help_heading = "Global options"
    )]
    pub utc_offset: FixedOffset,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Log in and bind this device to the user.
    Login {
        /// Your username on the server.
        #[arg(long, value_name = "NAME")]
        username: String,
        /// The password; without it, ASA_PASSWORD, else the first line of standard input.
        #[arg(long, env = "ASA_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// Help sessions: add, edit, delete, list.
    #[command(subcommand)]
    Session(SessionCommand),
    /// Beneficiaries (people helped): add, list.
    #[command(subcommand)]
    Beneficiary(BeneficiaryCommand),
    /// Push pending changes, then pull everything new.
    Sync {
        /// Spend at most this many bytes both ways: stop before a batch or
        /// page that would cross it.
        ///
        /// Bytes are request and response bodies as sent (compressed); the next
        /// `asa sync` carries on where this one stopped.
        #[arg(long, value_name = "BYTES")]
        budget: Option<u64>,
    },
    /// Pending, rejected and conflicting changes on this device.
    Status,
    /// Keys edited concurrently with different values: each value, who wrote it and when.
    Conflicts,
    /// Keep one value of a key in conflict (shared by the next `asa sync`).
    Resolve {
        /// The record's collection.
        #[arg(value_enum)]
        collection: CollectionArg,
        /// The record's id, as `asa conflicts` shows it.
        id: Uuid,
        /// The key in conflict, as `asa conflicts` shows it (e.g. notes).
        key: String,
        /// The value to keep, as JSON ("text", 42, true, null); anything that is not JSON is taken as text.
        value: String,
    },
    /// This device's changes the server refused, with the server's reasons; `dismiss` clears them.
    Rejected {
        #[command(subcommand)]
        command: Option<RejectedCommand>,
    },
    /// Managers: export the server's merged records of a centre.
    Export {
        /// The centre's code, e.g. C0001 [default: your own centre; an admin's export covers every centre].
        #[arg(long, value_name = "CODE")]
        centre: Option<String>,
        /// The first day of sessions' `started_at` (as the volunteer wrote it), inclusive.
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
        from: Option<String>,
        /// The last day of sessions' `started_at` (as the volunteer wrote it), inclusive.
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
        to: Option<String>,
        /// The file format.
        #[arg(long, value_enum, default_value = "csv")]
        format: Format,
        /// Which records to export.
        #[arg(long, value_enum, default_value = "sessions")]
        collection: CollectionArg,
        /// Only records with at least one key in conflict.
        #[arg(long)]
        conflicts_only: bool,
        /// Include records marked deleted: the default for csv and json, needed for xlsx.
        ///
        /// csv and json always include them (the v1 rule), with a `deleted`
        /// column or key; xlsx leaves them out unless this is given.
        #[arg(long)]
        include_deleted: bool,
        /// Write the export to FILE (replaced if it exists) instead of standard output.
        ///
        /// xlsx is binary: it needs --output, or standard output redirected to a file.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// Record a new help session (saved on this device; sent by `asa sync`).
    Add {
        #[arg(long, value_name = "CODE", help = village_help())]
        village: String,
        /// What kind of help was given.
        #[arg(long, value_name = "TYPE", value_parser = PossibleValuesParser::new(HELP_TYPES))]
        help_type: String,
        /// When the session started: RFC 3339 with its UTC offset, e.g. 2026-11-28T09:30:00+07:00.
        #[arg(long, value_name = "TIME")]
        started_at: String,
        #[arg(long, value_name = "MINUTES", help = duration_help())]
        duration: i64,
        #[arg(long, value_name = "COUNT", help = people_help())]
        people: i64,
        /// How it ended.
        #[arg(long, value_parser = PossibleValuesParser::new(OUTCOMES))]
        outcome: Option<String>,
        #[arg(long, value_name = "TEXT", help = notes_help())]
        notes: Option<String>,
        /// A day to follow up, YYYY-MM-DD.
        #[arg(long, value_name = "YYYY-MM-DD")]
        follow_up_on: Option<String>,
    },
    /// Change fields of a session, or link beneficiaries to it.
    Edit {
        /// The session's id (printed by `session add`, listed by `session list`).
        id: Uuid,
        #[arg(long, value_name = "TEXT", help = notes_help())]
        notes: Option<String>,
        /// How it ended.
        #[arg(long, value_parser = PossibleValuesParser::new(OUTCOMES))]
        outcome: Option<String>,
        #[arg(long, value_name = "MINUTES", help = duration_help())]
        duration: Option<i64>,
        #[arg(long, value_name = "COUNT", help = people_help())]
        people: Option<i64>,
        #[arg(long, value_name = "CODE", help = village_help())]
        village: Option<String>,
        /// What kind of help was given.
        #[arg(long, value_name = "TYPE", value_parser = PossibleValuesParser::new(HELP_TYPES))]
        help_type: Option<String>,
        /// Link a beneficiary by id (repeatable).
        #[arg(long, value_name = "BENEFICIARY_ID")]
        link: Vec<Uuid>,
        /// Unlink a beneficiary by id (repeatable).
        #[arg(long, value_name = "BENEFICIARY_ID")]
        unlink: Vec<Uuid>,
    },
    /// Mark a session deleted (records are never removed).
    Delete {
        /// The session's id.
        id: Uuid,
    },
    /// List sessions on this device, one JSON object per line.
    List {
        /// Only sessions in this village (8 digits).
        #[arg(long, value_name = "CODE")]
        village: Option<String>,
        /// Include sessions marked deleted.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum BeneficiaryCommand {
    /// Record a person helped (their consent is required).
    Add {
        #[arg(long, value_name = "CODE", help = village_help())]
        village: String,
        #[arg(long, value_name = "NAME", help = name_help())]
        name: String,
        /// A phone number: 8 to 15 digits, optionally after a leading +.
        #[arg(long, value_name = "PHONE")]
        phone: Option<String>,
        /// The year of birth, from 1900 to this year.
        #[arg(long, value_name = "YEAR")]
        birth_year: Option<i64>,
        /// The person agreed to have their data recorded (without it nothing is saved).
        #[arg(long)]
        consent: bool,
    },
    /// List beneficiaries on this device, one JSON object per line.
    List {
        /// Only beneficiaries in this village (8 digits).
        #[arg(long, value_name = "CODE")]
        village: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum RejectedCommand {
    /// Remove rejections from the list once dealt with (the record keeps its values).
    Dismiss {
        /// The change ids to dismiss, as `asa rejected` lists them.
        #[arg(value_name = "CHANGE_ID", required_unless_present = "all")]
        ids: Vec<Uuid>,
        /// Dismiss every rejection on this device.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// UTF-8 CSV (with a byte-order mark for spreadsheet programs), one column per key.
    Csv,
    /// A JSON array of the server's records.
    Json,
    /// An Excel workbook (binary: use --output FILE).
    Xlsx,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CollectionArg {
    /// Help sessions.
    Sessions,
    /// Beneficiaries (people helped).
    Beneficiaries,
}

impl CollectionArg {
    pub fn collection(self) -> Collection {
        match self {
            CollectionArg::Sessions => Collection::Sessions,
            CollectionArg::Beneficiaries => Collection::Beneficiaries,
        }
    }
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

/// The range sync-core allows for a key, for help texts.
fn int_range(collection: sync_core::Collection, field: Field) -> String {
    collection
        .fields()
        .iter()
        .find(|s| s.field == field)
        .and_then(|s| match s.kind {
            Kind::Int { min, max } => Some(format!("{min} to {max}")),
            Kind::Text { min: 0, max } => Some(format!("at most {max}")),
            Kind::Text { min, max } => Some(format!("{min} to {max}")),
            _ => None,
        })
        .unwrap_or_default()
}

fn duration_help() -> String {
    format!(
        "How long the session took, in minutes ({})",
        int_range(sync_core::Collection::Sessions, Field::DurationMin)
    )
}

fn people_help() -> String {
    format!(
        "How many people were helped ({})",
        int_range(sync_core::Collection::Sessions, Field::PeopleHelped)
    )
}

fn notes_help() -> String {
    format!(
        "Free text ({} characters)",
        int_range(sync_core::Collection::Sessions, Field::Notes)
    )
}

fn name_help() -> String {
    format!(
        "The person's name ({} characters)",
        int_range(sync_core::Collection::Beneficiaries, Field::DisplayName)
    )
}

fn village_help() -> &'static str {
    "The village code: 8 digits, e.g. 50010203"
}

/// A `YYYY-MM-DD` date, checked here so a typo is a usage error.
fn parse_date(text: &str) -> Result<String, String> {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|_| text.len() == 10)
        .map(|_| text.to_owned())
        .ok_or_else(|| format!("{text:?} is not a date written YYYY-MM-DD"))
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
