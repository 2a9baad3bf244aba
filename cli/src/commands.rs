//! What each `asa` command does, on top of the SDK's `Client`. Results go to
//! `out` (standard output); errors go back to `main`, which prints them once.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use chrono::FixedOffset;
use client_sdk::{
    Client, Collection, Config, ExportFormat, ExportRequest, FieldEdit, FieldValue, Key,
    NewBeneficiary, NewSession, Query, Record, SyncOptions, SyncReport,
};
use indicatif::{ProgressBar, ProgressStyle};

use crate::out::Out;
use crate::show::{self, Names};
use crate::{BeneficiaryCommand, Cli, Command, Format, Origins, RejectedCommand, SessionCommand};

/// The server URL the SDK gets: `http://` is put in front of an address
/// given without a scheme (`127.0.0.1:8080`).
pub fn server_url(given: &str) -> String {
    let given = given.trim();
    if given.contains("://") {
        given.to_owned()
    } else {
        format!("http://{given}")
    }
}

pub fn run(cli: Cli, origins: &Origins, out: &mut Out) -> anyhow::Result<()> {
    let client = open(&cli, origins)?;
    let offset = cli.utc_offset;
    let result = command(&client, cli.command, offset, out);
    result.map_err(|e| match e.downcast_ref::<client_sdk::Error>() {
        // A server that cannot be reached may be the wrong one: say which setting names it.
        Some(client_sdk::Error::Unreachable { .. }) => e.context(format!(
            "the server {} ({}) did not answer",
            server_url(&cli.server),
            origins.server
        )),
        Some(client_sdk::Error::NotLoggedIn) => {
            anyhow!("this device is not logged in; run `asa login --username NAME` first")
        }
        Some(client_sdk::Error::LoginRequired { code }) => anyhow!(
            "the login has expired or was revoked ({code}); run `asa login --username NAME` again"
        ),
        _ => e,
    })
}

/// Opens the device's database, naming the setting at fault when the path or
/// the server address cannot be used.
fn open(cli: &Cli, origins: &Origins) -> anyhow::Result<Client> {
    let db = &cli.db;
    if db.is_dir() {
        bail!(
            "{} {} is a directory; give the path of a database file",
            origins.db,
            db.display()
        );
    }
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            bail!(
                "{} {}: the directory {} does not exist",
                origins.db,
                db.display(),
                dir.display()
            );
        }
    }
    Client::open(db, Config::new(server_url(&cli.server))).map_err(|e| match e {
        client_sdk::Error::InvalidServerUrl { reason, .. } => anyhow!(
            "{} {:?} is not a server address: {reason}",
            origins.server,
            cli.server
        ),
        other => anyhow::Error::new(other).context(format!(
            "{} {}: cannot open the local database",
            origins.db,
            db.display()
        )),
    })
}

fn command(
    client: &Client,
    command: Command,
    offset: FixedOffset,
    out: &mut Out,
) -> anyhow::Result<()> {
    match command {
        Command::Login { username, password } => {
            let password = match password {
                Some(p) => p,
                None => read_password()?,
            };
            let user = client.login(&username, &password)?;
            writeln!(
                out,
                "logged in as {} ({}){} on device {}",
                user.username,
                user.role,
                centre_text(&user),
                client.device_id()
            )?;
        }
        Command::Session(cmd) => session(client, cmd, out)?,
        Command::Beneficiary(cmd) => beneficiary(client, cmd, out)?,
        Command::Sync { budget } => sync(client, budget, out)?,
        Command::Status => status(client, out)?,
        Command::Conflicts => conflicts(client, offset, out)?,
        Command::Resolve {
            collection,
            id,
            key,
            value,
        } => {
            let value = match serde_json::from_str::<serde_json::Value>(&value) {
                Ok(serde_json::Value::Bool(b)) => FieldValue::Bool(b),
                Ok(serde_json::Value::Number(n)) => FieldValue::Int(
                    n.as_i64()
                        .ok_or_else(|| anyhow!("the value {n} is not a whole number"))?,
                ),
                Ok(serde_json::Value::Null) => FieldValue::Null,
                Ok(serde_json::Value::String(s)) => FieldValue::Text(s),
                _ => FieldValue::Text(value),
            };
            client.resolve(collection.collection(), id, &Key::parse(&key), value)?;
            writeln!(out, "resolved {key} on {id}; run `asa sync` to share it")?;
        }
        Command::Rejected { command } => rejected(client, command, offset, out)?,
        Command::Export {
            centre,
            from,
            to,
            format,
            collection,
            conflicts_only,
            include_deleted,
            output,
        } => {
            if let (Some(from), Some(to)) = (&from, &to) {
                if from > to {
                    bail!("--from {from} is after --to {to}");
                }
            }
            if format == Format::Xlsx && output.is_none() && std::io::stdout().is_terminal() {
                bail!("an xlsx export is binary; write it to a file with --output FILE (or redirect standard output)");
            }
            let bytes = client.export(&ExportRequest {
                centre_id: centre,
                from,
                to,
                conflicts_only,
                include_deleted: include_deleted.then_some(true),
                ..ExportRequest::new(
                    collection.collection(),
                    match format {
                        Format::Csv => ExportFormat::Csv,
                        Format::Json => ExportFormat::Json,
                        Format::Xlsx => ExportFormat::Xlsx,
                    },
                )
            })?;
            match output {
                Some(path) => {
                    write_file(&path, &bytes)?;
                    writeln!(out, "wrote {} ({} bytes)", path.display(), bytes.len())?;
                }
                None => out.write_all(&bytes)?,
            }
        }
    }
    Ok(())
}

/// Writes the whole file or, on failure, leaves no half-written one behind.
fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).map_err(|e| {
        let _ = std::fs::remove_file(path);
        anyhow!("--output {}: cannot write the export: {e}", path.display())
    })
}

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        bail!("no password: pass --password, set ASA_PASSWORD, or write it on standard input");
    }
    Ok(password.to_owned())
}

fn session(client: &Client, cmd: SessionCommand, out: &mut Out) -> anyhow::Result<()> {
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
            writeln!(out, "{id}")?;
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
                    .map(|b| FieldEdit::new(Key::member("beneficiary_ids", *b), true)),
            );
            edits.extend(
                unlink
                    .iter()
                    .map(|b| FieldEdit::new(Key::member("beneficiary_ids", *b), false)),
            );
            if edits.is_empty() {
                bail!(
                    "nothing to change; pass at least one option (see `asa session edit --help`)"
                );
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
                writeln!(out, "{}", line(&r))?;
            }
        }
    }
    Ok(())
}

fn beneficiary(client: &Client, cmd: BeneficiaryCommand, out: &mut Out) -> anyhow::Result<()> {
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
                ..Default::default()
            })?;
            writeln!(out, "{id}")?;
        }
        BeneficiaryCommand::List { village } => {
            let query = Query {
                village_code: village,
                ..Query::default()
            };
            for r in client.records(Collection::Beneficiaries, &query)? {
                writeln!(out, "{}", line(&r))?;
            }
        }
    }
    Ok(())
}

fn sync(client: &Client, budget: Option<u64>, out: &mut Out) -> anyhow::Result<()> {
    // The spinner draws on standard error, and only when it is a terminal.
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let options = SyncOptions {
        byte_budget: budget,
    };
    let result = client.sync_with(&options, &|r: &SyncReport| {
        bar.set_message(format!(
            "pushed {} pulled {} ({} B sent, {} B received)",
            r.pushed, r.pulled, r.bytes_sent, r.bytes_received
        ));
    });
    bar.finish_and_clear();
    let r = result?;
    writeln!(
        out,
        "pushed {} acked {} rejected {} pulled {} conflicts {} pending {} bytes_sent {} bytes_received {}{}",
        r.pushed, r.acked, r.rejected, r.pulled, r.conflicts, r.pending, r.bytes_sent, r.bytes_received,
        match (r.budget_exhausted, r.more_to_pull) {
            (false, _) => String::new(),
            (true, true) => format!(" (budget spent: {} to push and more to pull; run sync again to continue)", r.pending),
            (true, false) => format!(" (budget spent: {} to push; run sync again to continue)", r.pending),
        }
    )?;
    Ok(())
}

fn status(client: &Client, out: &mut Out) -> anyhow::Result<()> {
    match client.user() {
        Some(u) => writeln!(out, "user {} ({}){}", u.username, u.role, centre_text(&u))?,
        None => writeln!(out, "not logged in")?,
    }
    writeln!(out, "device {}", client.device_id())?;
    writeln!(out, "pending {}", client.pending_count()?)?;
    let conflicts = client.conflicts()?.len();
    writeln!(
        out,
        "conflicts {conflicts}{}",
        if conflicts > 0 {
            " (see `asa conflicts`)"
        } else {
            ""
        }
    )?;
    let rejected = client.rejected()?.len();
    writeln!(
        out,
        "rejected {rejected}{}",
        if rejected > 0 {
            " (see `asa rejected`)"
        } else {
            ""
        }
    )?;
    Ok(())
}

/// Each key in conflict, then each of its values with who wrote it and when,
/// the value shown now first.
fn conflicts(client: &Client, offset: FixedOffset, out: &mut Out) -> anyhow::Result<()> {
    let conflicts = client.conflicts()?;
    if conflicts.is_empty() {
        writeln!(out, "no conflicts")?;
        return Ok(());
    }
    let names = Names::load(client)?;
    for c in conflicts {
        writeln!(out, "{} {} {}:", c.collection, c.record_id, c.key)?;
        for (i, head) in c.heads.iter().enumerate() {
            writeln!(
                out,
                "  {} by {}, {}{}",
                show::value(&head.value),
                names.of(head.author),
                show::local_time(head.written_at_ms, offset),
                if i == 0 { " (shown)" } else { "" }
            )?;
        }
    }
    Ok(())
}

fn rejected(
    client: &Client,
    command: Option<RejectedCommand>,
    offset: FixedOffset,
    out: &mut Out,
) -> anyhow::Result<()> {
    match command {
        None => {
            let rejected = client.rejected()?;
            if rejected.is_empty() {
                writeln!(out, "no rejected changes")?;
            }
            for r in rejected {
                writeln!(
                    out,
                    "change {} to {} {} ({}): {}: {}",
                    r.change_id,
                    r.collection.name(),
                    r.record_id,
                    show::local_time(r.written_at_ms, offset),
                    show::plain(&r.code),
                    show::plain(&r.detail)
                )?;
            }
        }
        Some(RejectedCommand::Dismiss { ids, all }) => {
            let ids = if all {
                client
                    .rejected()?
                    .into_iter()
                    .map(|r| r.change_id)
                    .collect()
            } else {
                ids
            };
            for id in &ids {
                if !client.dismiss_rejected(*id)? {
                    bail!("no rejected change {id} on this device (`asa rejected` lists them)");
                }
                writeln!(out, "dismissed {id}")?;
            }
            if all && ids.is_empty() {
                writeln!(out, "no rejected changes")?;
            }
        }
    }
    Ok(())
}

fn line(r: &Record) -> serde_json::Value {
    serde_json::json!({
        "id": r.id,
        "status": format!("{:?}", r.status).to_lowercase(),
        "deleted": r.deleted,
        "conflicts": r.conflicts.len(),
        "fields": serde_json::from_str::<serde_json::Value>(&r.fields_json()).unwrap_or_default(),
    })
}

/// ` at centre C0001 (ศูนย์ดิจิทัลชุมชน...)`, or nothing for an admin.
fn centre_text(user: &client_sdk::UserInfo) -> String {
    match (&user.centre_id, &user.centre_name) {
        (Some(code), Some(name)) => format!(" at centre {code} ({name})"),
        (Some(code), None) => format!(" at centre {code}"),
        (None, _) => String::new(),
    }
}
