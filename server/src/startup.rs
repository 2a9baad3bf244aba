//! Building and running the server: open the store, make sure an admin and a
//! signing key exist, bind the listener (port 0 in tests), serve.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::{from_fn, Compress};
use actix_web::{web, App};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sync_core::Clock;

use anyhow::Context;
use sync_core::ProblemCode;

use crate::accounts;
use crate::auth::hasher::Hasher;
use crate::auth::tokens::{new_signing_secret, Keys};
use crate::body;
use crate::edge;
use crate::error::ApiError;
use crate::metrics::{self, Metrics};
use crate::routes;
use crate::settings::Settings;
use crate::state::AppState;
use crate::store::{self, Store};

pub struct Application {
    port: u16,
    metrics_port: Option<u16>,
    server: Server,
    /// `/metrics` on its own listener, when `metrics_bind` is set.
    metrics_server: Option<Server>,
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
    let store = store::connect(&settings.database())?;
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
        accounts::create_user(store.as_ref(), "admin", &password, "admin", None, None)?;
        tracing::info!("created the first user, `admin`");
    }
    Ok((store, generated))
}

impl Application {
    pub fn build(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Application> {
        // The store is opened on a thread of its own: `build` may run inside
        // the async runtime, and a blocking database client must not.
        let (store, generated_admin_password, secret, lineage) = std::thread::scope(|s| {
            s.spawn(|| -> anyhow::Result<_> {
                let (store, generated) = open_store(&settings)?;
                let secret = store.secret("jwt_signing_key", &new_signing_secret)?;
                let lineage = store.lineage()?;
                Ok((store, generated, secret, lineage))
            })
            .join()
            .map_err(|_| anyhow::anyhow!("opening the store panicked"))?
        })?;
        let listener = TcpListener::bind(&settings.bind)
            .with_context(|| format!("cannot listen on {} (bind, ASA_BIND)", settings.bind))?;
        let port = listener.local_addr()?.port();
        let metrics_listener = match &settings.metrics_bind {
            Some(addr) => Some(TcpListener::bind(addr).with_context(|| {
                format!("cannot listen on {addr} (metrics_bind, ASA_METRICS_BIND)")
            })?),
            None => None,
        };
        let metrics_port = match &metrics_listener {
            Some(l) => Some(l.local_addr()?.port()),
            None => None,
        };
        let workers = settings.workers;
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        // Store work is serialized on one writer and a few readers; more
        // blocking threads than that would only queue and hold memory.
        let blocking_threads = store.connections() + 3;
        let shutdown = settings.shutdown_timeout_secs;
        let state = web::Data::new(AppState {
            store,
            lineage: std::sync::Mutex::new((lineage, std::time::Instant::now())),
            keys: Keys::new(&secret),
            settings,
            clock,
            hlc: AppState::new_hlc_clock(),
            metrics: Metrics::new()?,
            hasher: Hasher::new(cores)?,
        });
        let query_config = web::QueryConfig::default().error_handler(|e, _| {
            let message = match &e {
                actix_web::error::QueryPayloadError::Deserialize(d) => d.to_string(),
                other => other.to_string(),
            };
            body::shape_error_as(
                ProblemCode::InvalidQuery,
                &format!("the query string is invalid: {message}"),
            )
            .into()
        });
        let path_config = web::PathConfig::default().error_handler(|_, req| {
            ApiError::not_found(format!("there is nothing at {}", req.path())).into()
        });
        let metrics_here = metrics_listener.is_none();
        let app_state = state.clone();
        let tuning = edge::Tuning {
            workers,
            max_blocking_threads: blocking_threads,
            shutdown_timeout_secs: shutdown,
        };
        let server = edge::serve("asa-api", listener, tuning, move || {
            App::new()
                .app_data(app_state.clone())
                .app_data(query_config.clone())
                .app_data(path_config.clone())
                .wrap(Compress::default())
                .wrap(from_fn(metrics::observe))
                .configure(|cfg| routes::configure(cfg, metrics_here))
        })?;
        let metrics_server = match metrics_listener {
            Some(listener) => {
                let tuning = edge::Tuning {
                    workers: 1,
                    ..tuning
                };
                Some(edge::serve("asa-metrics", listener, tuning, move || {
                    App::new()
                        .app_data(state.clone())
                        .configure(routes::configure_metrics)
                })?)
            }
            None => None,
        };
        Ok(Application {
            port,
            metrics_port,
            server,
            metrics_server,
            generated_admin_password,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the metrics listener, when `metrics_bind` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_port
    }

    /// A handle to stop the server gracefully (what SIGTERM does).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until the API listener stops; the metrics listener stops with it.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        match self.metrics_server {
            Some(metrics) => {
                let metrics_handle = metrics.handle();
                let api = async {
                    let result = self.server.await;
                    metrics_handle.stop(true).await;
                    result
                };
                let (result, _) = futures_util::future::join(api, metrics).await;
                result
            }
            None => self.server.await,
        }
    }
}
