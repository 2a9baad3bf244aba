//! What each `asa` command does, on top of the SDK's `Client`.

use std::io::BufRead;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use clap::{Subcommand, ValueEnum};
use client_sdk::{
    Client, Collection, Config, ExportFormat, ExportRequest, FieldEdit, FieldValue, NewBeneficiary,
    NewSession, Query, Record, SyncOptions,
};
use indicatif::{ProgressBar, ProgressStyle};
use uuid::Uuid;

use crate::{Cli, Command};

#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// Record a new help session.
    Add {
        #[arg(long)]
        village: String,
        #[arg(long)]
        help_type: String,
        /// RFC 3339, e.g. 2026-11-28T09:30:00+07:00.
        #[arg(long)]
        started_at: String,
        #[arg(long)]
        duration: i64,
        #[arg(long)]
        people: i64,
        #[arg(long)]
        outcome: Option<String>,
        #[arg(long)]
        notes: Option<String>,
        #[arg(long)]
        follow_up_on: Option<String>,
    },
    /// Change fields of a session, or link beneficiaries to it.
    Edit {
        id: Uuid,
        #[arg(long)]
        notes: Option<String>,
        #[arg(long)]
        outcome: Option<String>,
        #[arg(long)]
        duration: Option<i64>,
        #[arg(long)]
        people: Option<i64>,
        #[arg(long)]
        village: Option<String>,
        #[arg(long)]
        help_type: Option<String>,
        /// Link a beneficiary (repeatable).
        #[arg(long)]
        link: Vec<Uuid>,
        /// Unlink a beneficiary (repeatable).
        #[arg(long)]
        unlink: Vec<Uuid>,
    },
    /// Mark a session deleted.
    Delete { id: Uuid },
    /// List sessions on this device, one JSON object per line.
    List {
        #[arg(long)]
        village: Option<String>,
        /// Include deleted sessions.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum BeneficiaryCommand {
    /// Record a person helped (their consent is required).
    Add {
        #[arg(long)]
        village: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        phone: Option<String>,
        #[arg(long)]
        birth_year: Option<i64>,
        /// The person agreed to have their data recorded.
        #[arg(long)]
        consent: bool,
    },
    /// List beneficiaries on this device, one JSON object per line.
    List {
        #[arg(long)]
        village: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Csv,
    Json,
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    let client = Client::open(&cli.db, Config::new(&cli.server))
        .with_context(|| format!("cannot open {}", cli.db.display()))?;
    match cli.command {
        Command::Login { username, password } => {
            let password = match password {
                Some(p) => p,
                None => read_password()?,
            };
            let user = client.login(&username, &password)?;
            println!(
                "logged in as {} ({}) on device {}",
                user.username,
                user.role,
                client.device_id()
            );
        }
        Command::Session(cmd) => session(&client, cmd)?,
        Command::Beneficiary(cmd) => beneficiary(&client, cmd)?,
        Command::Sync { budget } => sync(&client, budget)?,
        Command::Status => status(&client)?,
        Command::Conflicts => {
            for c in client.conflicts()? {
                let heads: Vec<String> = c
                    .heads
                    .iter()
                    .map(|h| format!("{} ({})", show(&h.value), h.hlc))
                    .collect();
                println!(
                    "{} {} {}: {}",
                    c.collection,
                    c.record_id,
                    c.key,
                    heads.join(" | ")
                );
            }
        }
        Command::Resolve {
            collection,
            id,
            key,
            value,
        } => {
            let value = match serde_json::from_str::<serde_json::Value>(&value) {
                Ok(serde_json::Value::Bool(b)) => FieldValue::Bool(b),
                Ok(serde_json::Value::Number(n)) => {
                    FieldValue::Int(n.as_i64().ok_or_else(|| anyhow!("numbers are integers"))?)
                }
                Ok(serde_json::Value::Null) => FieldValue::Null,
                Ok(serde_json::Value::String(s)) => FieldValue::Text(s),
                _ => FieldValue::Text(value),
            };
            client.resolve(parse_collection(&collection)?, id, &key, value)?;
            println!("resolved {key} on {id}; run `asa sync` to share it");
        }
        Command::Export {
            centre,
            from,
            to,
            format,
            collection,
        } => {
            let out = client.export(&ExportRequest {
                collection: parse_collection(&collection)?,
                centre_id: centre,
                from,
                to,
                format: match format {
                    Format::Csv => ExportFormat::Csv,
                    Format::Json => ExportFormat::Json,
                },
            })?;
            print!("{out}");
        }
    }
    Ok(())
}

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

fn parse_collection(name: &str) -> anyhow::Result<Collection> {
    Collection::parse(name).ok_or_else(|| anyhow!("collection is `sessions` or `beneficiaries`"))
}

fn session(client: &Client, cmd: SessionCommand) -> anyhow::Result<()> {
    match cmd {
        SessionCommand::Add {
            village,
            help_type,
            started_at,
            duration,
            people,
            outcome,
            notes,
            follow_up_on,
        } => {
            let id = client.create_session(&NewSession {
                village_code: village,
                help_type,
                started_at,
                duration_min: duration,
                people_helped: people,
                outcome,
                notes,
                follow_up_on,
            })?;
            println!("{id}");
        }
        SessionCommand::Edit {
            id,
            notes,
            outcome,
            duration,
            people,
            village,
            help_type,
            link,
            unlink,
        } => {
            let mut edits = Vec::new();
            let text = |k: &str, v: Option<String>| v.map(|v| FieldEdit::new(k, v.as_str()));
            edits.extend(text("notes", notes));
            edits.extend(text("outcome", outcome));
            edits.extend(text("village_code", village));
            edits.extend(text("help_type", help_type));
            edits.extend(duration.map(|d| FieldEdit::new("duration_min", d)));
            edits.extend(people.map(|p| FieldEdit::new("people_helped", p)));
            edits.extend(
                link.iter()
                    .map(|b| FieldEdit::new(format!("beneficiary_ids/{b}"), true)),
            );
            edits.extend(
                unlink
                    .iter()
                    .map(|b| FieldEdit::new(format!("beneficiary_ids/{b}"), false)),
            );
            if edits.is_empty() {
                bail!("nothing to change; pass at least one option");
            }
            client.edit(Collection::Sessions, id, &edits)?;
        }
        SessionCommand::Delete { id } => client.delete(Collection::Sessions, id)?,
        SessionCommand::List { village, all } => {
            let query = Query {
                village_code: village,
                include_deleted: all,
                ..Query::default()
            };
            for r in client.records(Collection::Sessions, &query)? {
                println!("{}", line(&r));
            }
        }
    }
    Ok(())
}

fn beneficiary(client: &Client, cmd: BeneficiaryCommand) -> anyhow::Result<()> {
    match cmd {
        BeneficiaryCommand::Add {
            village,
            name,
            phone,
            birth_year,
            consent,
        } => {
            let id = client.create_beneficiary(&NewBeneficiary {
                village_code: village,
                display_name: name,
                phone,
                birth_year,
                consent,
            })?;
            println!("{id}");
        }
        BeneficiaryCommand::List { village } => {
            let query = Query {
                village_code: village,
                ..Query::default()
            };
            for r in client.records(Collection::Beneficiaries, &query)? {
                println!("{}", line(&r));
            }
        }
    }
    Ok(())
}

fn sync(client: &Client, budget: Option<u64>) -> anyhow::Result<()> {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let options = SyncOptions {
        byte_budget: budget,
    };
    let result = client.sync_with(&options, &mut |r| {
        bar.set_message(format!(
            "pushed {} pulled {} ({} B sent, {} B received)",
            r.pushed, r.pulled, r.bytes_sent, r.bytes_received
        ));
    });
    bar.finish_and_clear();
    let r = result?;
    println!(
        "pushed {} acked {} rejected {} pulled {} conflicts {} pending {} bytes_sent {} bytes_received {}{}",
        r.pushed, r.acked, r.rejected, r.pulled, r.conflicts, r.pending, r.bytes_sent, r.bytes_received,
        if r.budget_exhausted { " (budget spent; run sync again to continue)" } else { "" }
    );
    Ok(())
}

fn status(client: &Client) -> anyhow::Result<()> {
    match client.user() {
        Some(u) => println!(
            "user {} ({}) centre {}",
            u.username,
            u.role,
            u.centre_id.as_deref().unwrap_or("-")
        ),
        None => println!("not logged in"),
    }
    println!("device {}", client.device_id());
    println!("pending {}", client.pending_count()?);
    println!("conflicts {}", client.conflicts()?.len());
    let rejected = client.rejected()?;
    println!("rejected {}", rejected.len());
    for r in rejected {
        println!(
            "  {} {} {}: {} ({})",
            r.change_id, r.collection, r.record_id, r.code, r.detail
        );
    }
    Ok(())
}

fn line(r: &Record) -> serde_json::Value {
    serde_json::json!({
        "id": r.id,
        "status": format!("{:?}", r.status).to_lowercase(),
        "deleted": r.deleted,
        "conflicts": r.conflicts.len(),
        "fields": r.fields_json(),
    })
}

fn show(v: &FieldValue) -> String {
    match v {
        FieldValue::Null => "null".into(),
        FieldValue::Bool(b) => b.to_string(),
        FieldValue::Int(i) => i.to_string(),
        // JSON quoting, not Rust's `{:?}`: Debug escapes Thai combining
        // vowels and tone marks (`\u{e49}`), which no reader could follow.
        FieldValue::Text(s) => serde_json::Value::String(s.clone()).to_string(),
    }
}
