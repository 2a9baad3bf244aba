//! Building and running the server: open the store, make sure an admin and a
//! signing key exist, bind the listener (port 0 in tests), serve.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::{from_fn, Compress};
use actix_web::{web, App, HttpServer};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sync_core::Clock;

use crate::accounts;
use crate::auth::hasher::Hasher;
use crate::auth::tokens::{new_signing_secret, Keys};
use crate::error::ApiError;
use crate::metrics::{self, Metrics};
use crate::routes;
use crate::settings::Settings;
use crate::state::AppState;
use crate::store::sqlite::SqliteStore;
use crate::store::Store;

pub struct Application {
    port: u16,
    server: Server,
    /// The generated password of the admin created on first start, to print once.
    pub generated_admin_password: Option<String>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish()
    }
}

/// Opens the store and creates the first admin when there are no users yet.
/// Returns the admin's password when it was generated rather than configured.
pub fn open_store(settings: &Settings) -> anyhow::Result<(Arc<dyn Store>, Option<String>)> {
    let store = SqliteStore::open(
        &settings.database_path(),
        settings.sqlite_synchronous,
        settings.reader_connections,
    )?;
    let mut generated = None;
    if store.count_users()? == 0 {
        let password = match &settings.admin_password {
            Some(p) => p.expose().to_owned(),
            None => {
                let mut bytes = [0u8; 18];
                getrandom::fill(&mut bytes)
                    .map_err(|e| anyhow::anyhow!("no OS randomness: {e}"))?;
                let p = URL_SAFE_NO_PAD.encode(bytes);
                generated = Some(p.clone());
                p
            }
        };
        accounts::create_user(&store, "admin", &password, "admin", None)?;
        tracing::info!("created the first user, `admin`");
    }
    Ok((Arc::new(store), generated))
}

impl Application {
    pub fn build(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Application> {
        let (store, generated_admin_password) = open_store(&settings)?;
        let secret = store.secret("jwt_signing_key", &new_signing_secret)?;
        let listener = TcpListener::bind(&settings.bind)?;
        let port = listener.local_addr()?.port();
        let workers = settings.workers;
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        // Store work is serialized on one writer and a few readers; more
        // blocking threads than that would only queue and hold memory.
        let blocking_threads = usize::try_from(settings.reader_connections).unwrap_or(4) + 4;
        let shutdown = settings.shutdown_timeout_secs;
        let state = web::Data::new(AppState {
            store,
            keys: Keys::new(&secret),
            settings,
            clock,
            hlc: AppState::new_hlc_clock(),
            metrics: Metrics::new()?,
            hasher: Hasher::new(cores)?,
        });
        let query_config = web::QueryConfig::default()
            .error_handler(|e, _| ApiError::bad_request("invalid_query", e.to_string()).into());
        let path_config = web::PathConfig::default()
            .error_handler(|e, _| ApiError::NotFound(e.to_string()).into());
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(query_config.clone())
                .app_data(path_config.clone())
                .wrap(Compress::default())
                .wrap(from_fn(metrics::observe))
                .configure(routes::configure)
        })
        // Without TCP_NODELAY a response written in two segments waits for the
        // client's delayed ACK (40 ms) on every keep-alive request.
        .on_connect(|conn, _| {
            if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
                let _ = tcp.set_nodelay(true);
            }
        })
        .worker_max_blocking_threads(blocking_threads)
        .shutdown_timeout(shutdown)
        .client_request_timeout(Duration::from_secs(60));
        if workers > 0 {
            server = server.workers(workers);
        }
        let server = server.listen(listener)?.run();
        Ok(Application {
            port,
            server,
            generated_admin_password,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server gracefully (what SIGTERM does).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
