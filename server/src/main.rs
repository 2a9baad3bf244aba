//! `asa-server`: run the sync server, add users, or migrate the database.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use asa_server::auth::password;
use asa_server::operator;
use asa_server::settings::{LogFormat, PasswordCost, Settings};
use asa_server::startup::{open_store, Application};
use asa_server::store::{backup, Store};
use clap::{Parser, Subcommand};
use sync_core::{Clock, SystemClock};

#[derive(Debug, Parser)]
#[command(name = "asa-server", version, about = "The Asa Sync server")]
struct Cli {
    /// A TOML settings file (also `ASA_CONFIG`); `ASA_*` variables override it.
    #[arg(long, env = "ASA_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage community digital centres.
    Centre {
        #[command(subcommand)]
        command: CentreCommand,
    },
    /// Create or upgrade the database, then exit.
    Migrate,
    /// Write a consistent copy of the database to DEST while servers keep
    /// serving (SQLite's online backup; pg_dump's custom format on
    /// PostgreSQL).
    Backup { dest: PathBuf },
    /// Replace the database by the backup SRC, with every server of it
    /// stopped. Cursors and devices pick up from the backup by themselves:
    /// phones send again what they pushed after it.
    Restore { src: PathBuf },
    /// Erase the beneficiaries with no session for longer than OLDER_THAN
    /// (`5y`, `18m`, `90d`) under the PDPA's storage limitation. A dry run
    /// that lists them unless `--apply` is given.
    Retention {
        #[arg(long)]
        older_than: String,
        /// Erase them (without it, only list them).
        #[arg(long)]
        apply: bool,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a user; the password is read from the first line of standard input.
    Add {
        /// 3 to 64 ASCII letters, digits, `.`, `_` or `-` (compared without case).
        #[arg(long)]
        username: String,
        /// volunteer, manager or admin.
        #[arg(long, value_parser = ["volunteer", "manager", "admin"])]
        role: String,
        /// The centre code of a volunteer or manager (it must exist: `centre add`).
        #[arg(long)]
        centre: Option<String>,
        /// The name managers see (default: the username).
        #[arg(long)]
        display_name: Option<String>,
    },
    /// List users: username, role, centre, state, devices, display name.
    List {
        /// Only the users of this centre.
        #[arg(long)]
        centre: Option<String>,
    },
    /// Disable a user: every login of theirs ends at once.
    Disable { username: String },
    /// Enable a disabled user again.
    Enable { username: String },
    /// Set a user's password (read from standard input); ends their logins.
    Passwd { username: String },
    /// Unbind a user's device (all of them without --device); its logins end.
    Unbind {
        username: String,
        /// The device id to unbind.
        #[arg(long)]
        device: Option<uuid::Uuid>,
    },
}

#[derive(Debug, Subcommand)]
enum CentreCommand {
    /// Add a community digital centre.
    Add {
        /// 1 to 32 of A-Z, a-z, 0-9, `-` and `_`; it never changes.
        #[arg(long)]
        code: String,
        /// The centre's name (Thai is fine).
        #[arg(long)]
        name: String,
        #[arg(long)]
        province: String,
        #[arg(long)]
        district: String,
    },
    /// List centres: code, name, province, district.
    List,
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        // actix-http logs every malformed request at ERROR; those are the
        // client's fault and are answered (problem+json) by the edge.
        .unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new("info,actix_http::h1::dispatcher=off")
        });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, never in files or journald.
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn print_generated_password(password: Option<String>) {
    if let Some(p) = password {
        println!("created user `admin` with password: {p}");
        println!("(shown once; set ASA_ADMIN_PASSWORD before the first start to choose it)");
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref())?;
    init_tracing(settings.log_format);
    if settings.password_cost == PasswordCost::Simulation {
        tracing::warn!(
            "ASA_PASSWORD_COST=simulation: new passwords are hashed at a cost fit only for a simulation's throwaway accounts (argon2id, 64 KiB, 1 pass)"
        );
        password::use_cost(password::Cost::Simulation);
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings),
        Command::Migrate => {
            let (_, generated) = open_store(&settings)?;
            print_generated_password(generated);
            println!("database {} is up to date", settings.database());
            Ok(())
        }
        Command::Backup { dest } => {
            let bytes = backup::backup(&settings.database(), &dest)?;
            println!(
                "backed up {} to {} ({bytes} bytes)",
                settings.database(),
                dest.display()
            );
            Ok(())
        }
        Command::Restore { src } => {
            let now = i64::try_from(SystemClock.now_ms() / 1000).unwrap_or(i64::MAX);
            let lineage = backup::restore(&settings.database(), &src, now)?;
            println!(
                "restored {} from {}: the change log's epoch is now {} (restore {} of this database)",
                settings.database(),
                src.display(),
                lineage.current(),
                lineage.generations() - 1,
            );
            Ok(())
        }
        Command::Retention { older_than, apply } => {
            let age = operator::parse_age(&older_than)?;
            let (store, generated) = open_store(&settings)?;
            print_generated_password(generated);
            let now_ms = SystemClock.now_ms();
            let (cutoff, due) = operator::retention_due(store.as_ref(), age, now_ms)?;
            let records: usize = due.iter().map(Vec::len).sum();
            tracing::info!(target: "audit", older_than = %older_than, apply, people = due.len(), records, "retention run");
            if apply {
                let erased = operator::erase_people(store.as_ref(), &due, now_ms)?;
                println!(
                    "erased {} people ({erased} records) with no session since {cutoff}",
                    due.len()
                );
            } else {
                println!(
                    "dry run: {} people ({records} records) have no session since {cutoff}; run again with --apply to erase them",
                    due.len()
                );
                // One line per person: the records merged into one another.
                for person in &due {
                    let ids: Vec<String> = person.iter().map(ToString::to_string).collect();
                    println!("{}", ids.join(" "));
                }
            }
            Ok(())
        }
        Command::User { command } => {
            let (store, generated) = open_store(&settings)?;
            print_generated_password(generated);
            user_command(store.as_ref(), command)
        }
        Command::Centre { command } => {
            let (store, generated) = open_store(&settings)?;
            print_generated_password(generated);
            match command {
                CentreCommand::Add {
                    code,
                    name,
                    province,
                    district,
                } => {
                    let c =
                        operator::add_centre(store.as_ref(), &code, &name, &province, &district)?;
                    println!("created centre {} ({})", c.code, c.name);
                }
                CentreCommand::List => {
                    for line in operator::list_centres(store.as_ref())? {
                        println!("{line}");
                    }
                }
            }
            Ok(())
        }
    }
}

/// The first line of standard input, without its line ending.
fn read_password(username: &str) -> anyhow::Result<String> {
    eprintln!("password for {username}:");
    let mut password = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut password)
        .context("reading the password from standard input")?;
    Ok(password.trim_end_matches(['\r', '\n']).to_owned())
}

fn user_command(store: &dyn Store, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add {
            username,
            role,
            centre,
            display_name,
        } => {
            let password = read_password(&username)?;
            let user = operator::add_user(
                store,
                &username,
                &password,
                &role,
                centre.as_deref(),
                display_name.as_deref(),
            )?;
            println!("created {} {} ({})", user.role, user.username, user.id);
        }
        UserCommand::List { centre } => {
            for line in operator::list_users(store, centre.as_deref())? {
                println!("{line}");
            }
        }
        UserCommand::Disable { username } => {
            operator::set_disabled(store, &username, true)?;
            println!("disabled {username}; every login of theirs has ended");
        }
        UserCommand::Enable { username } => {
            operator::set_disabled(store, &username, false)?;
            println!("enabled {username}");
        }
        UserCommand::Passwd { username } => {
            let password = read_password(&username)?;
            operator::set_password(store, &username, &password)?;
            println!("password of {username} changed; every login of theirs has ended");
        }
        UserCommand::Unbind { username, device } => {
            let n = operator::unbind(store, &username, device)?;
            println!("unbound {n} device(s) of {username}");
        }
    }
    Ok(())
}

fn serve(settings: Settings) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let bind = settings.bind.clone();
        let data = settings.database();
        let app = Application::build(settings, Arc::new(SystemClock))?;
        print_generated_password(app.generated_admin_password.clone());
        tracing::info!(%bind, port = app.port(), database = %data, "asa-server listening");
        println!("asa-server listening on port {}", app.port());
        app.run_until_stopped().await?;
        tracing::info!("asa-server stopped");
        Ok(())
    })
}
