//! `asa-server`: run the sync server, add users, or migrate the database.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use asa_server::settings::{LogFormat, Settings};
use asa_server::startup::{open_store, Application};
use clap::{Parser, Subcommand};
use sync_core::SystemClock;

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
    /// Create or upgrade the database, then exit.
    Migrate,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a user; the password is read from the first line of standard input.
    Add {
        #[arg(long)]
        username: String,
        /// volunteer, manager or admin
        #[arg(long)]
        role: String,
        /// The centre of a volunteer or manager.
        #[arg(long)]
        centre: Option<String>,
    },
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
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
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings),
        Command::Migrate => {
            let (_, generated) = open_store(&settings)?;
            print_generated_password(generated);
            println!(
                "database at {} is up to date",
                settings.database_path().display()
            );
            Ok(())
        }
        Command::User {
            command:
                UserCommand::Add {
                    username,
                    role,
                    centre,
                },
        } => {
            let (store, generated) = open_store(&settings)?;
            print_generated_password(generated);
            eprintln!("password for {username}:");
            let mut password = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut password)
                .context("reading the password")?;
            let password = password.trim_end_matches(['\r', '\n']);
            let user = asa_server::accounts::create_user(
                store.as_ref(),
                &username,
                password,
                &role,
                centre.as_deref(),
            )?;
            println!("created {} {} ({})", user.role, user.username, user.id);
            Ok(())
        }
    }
}

fn serve(settings: Settings) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let bind = settings.bind.clone();
        let data = settings.database_path();
        let app = Application::build(settings, Arc::new(SystemClock))?;
        print_generated_password(app.generated_admin_password.clone());
        tracing::info!(%bind, port = app.port(), database = %data.display(), "asa-server listening");
        println!("asa-server listening on port {}", app.port());
        app.run_until_stopped().await?;
        tracing::info!("asa-server stopped");
        Ok(())
    })
}
