//! `gt dashboard`: the town in a web page.
//!
//! A thin web layer over the services: every page renders the same view
//! types `--json` prints (`feed::TownStatus`, `sling::AgentView`,
//! `MergeEntry`, …) as server-side HTML (maud escapes every string from the
//! town), every action is the library call the CLI makes, and pages follow
//! the event log over Server-Sent Events (one follower thread, awake only
//! while a browser listens). Safe by default: loopback only, a random token
//! in the printed URL exchanged for an HttpOnly SameSite=Strict cookie,
//! CSRF token and same-origin `Origin` on every POST, a strict
//! Content-Security-Policy. See docs/dashboard.md.

mod actions;
mod assets;
mod auth;
mod live;
mod pages;
mod render;
mod tls;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use gt_lib::caller::CallerEnv;
use gt_lib::store::EventStore;
use gt_lib::town::Town;
use gt_lib::workspace::Workspace;
use gt_lib::Error;

/// How `gt dashboard` serves.
#[derive(Debug, Clone)]
pub struct Options {
    /// The town's root directory.
    pub root: PathBuf,
    /// The environment actions run with (identity variables of an agent
    /// removed: the dashboard acts as `human`).
    pub caller: CallerEnv,
    pub bind: IpAddr,
    /// 0 picks a free port.
    pub port: u16,
    /// A non-loopback `bind` is refused without it.
    pub allow_remote: bool,
    /// Serve HTTPS with this PEM certificate chain and key.
    pub tls: Option<TlsFiles>,
}

/// The PEM files of the dashboard's TLS identity.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The source recorded on every event the dashboard's actions append.
pub const SOURCE: &str = "dashboard";

/// The dashboard's shared state.
pub(crate) struct App {
    pub root: PathBuf,
    pub caller: CallerEnv,
    pub auth: auth::Secrets,
    pub live: live::Live,
}

pub(crate) type Shared = Arc<App>;

impl App {
    /// Runs `f` on a freshly opened workspace, off the async threads.
    pub async fn with_ws<T, F>(self: &Arc<Self>, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Workspace) -> Result<T, Error> + Send + 'static,
    {
        let app = self.clone();
        tokio::task::spawn_blocking(move || {
            let ws = app.workspace()?;
            f(&ws)
        })
        .await
        .map_err(|e| Error::Internal(format!("dashboard task failed: {e}")))?
    }

    /// The town opened for one request; every event it appends records
    /// source `dashboard`.
    pub fn workspace(&self) -> Result<Workspace, Error> {
        let ws = Workspace::open(
            Town::open(&self.root)?.with_caller(&self.caller),
            self.caller.clone(),
        )?;
        ws.store.set_source(Some(SOURCE))?;
        Ok(ws)
    }
}

/// A dashboard bound to its port, not yet serving.
pub struct Bound {
    listener: std::net::TcpListener,
    app: Shared,
    url: String,
    addr: SocketAddr,
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
}

/// The environment variables that make a caller an agent: the dashboard
/// never acts as one.
const AGENT_IDENTITY: &[&str] = &["GT_AGENT", "GT_ACTOR", "GT_BEAD", "GT_ROLE", "GT_SESSION"];

/// The caller's environment without an agent's identity.
pub fn human_caller(
    vars: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> CallerEnv {
    CallerEnv::from_vars(
        vars.into_iter()
            .filter(|(k, _)| !AGENT_IDENTITY.iter().any(|n| k == n)),
    )
}

impl Bound {
    /// Checks the options, opens the town once (a bad town fails here, not in
    /// the browser) and binds the port.
    pub fn bind(opts: Options) -> Result<Bound, Error> {
        if !opts.bind.is_loopback() && !opts.allow_remote {
            return Err(Error::invalid(format!(
                "{} is not a loopback address; pass --allow-remote to serve the town to other machines",
                opts.bind
            )));
        }
        // The town must open now, and the certificate must be usable.
        Workspace::open(
            Town::open(&opts.root)?.with_caller(&opts.caller),
            opts.caller.clone(),
        )?;
        let tls = match &opts.tls {
            Some(f) => Some(tls::config(&f.cert, &f.key)?),
            None => None,
        };
        let listener = std::net::TcpListener::bind((opts.bind, opts.port))
            .map_err(|e| Error::io(format!("cannot listen on {}:{}", opts.bind, opts.port), e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io("cannot configure the listening socket", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("cannot read the listening address", e))?;
        let secrets = auth::Secrets::new(addr, opts.bind.is_loopback(), tls.is_some())?;
        let host = match addr {
            SocketAddr::V4(a) => a.to_string(),
            SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://{host}/?token={}", secrets.token());
        let app = Arc::new(App {
            root: opts.root,
            caller: opts.caller,
            auth: secrets,
            live: live::Live::new(),
        });
        Ok(Bound {
            listener,
            app,
            url,
            addr,
            tls,
        })
    }

    /// The URL to open, with the access token.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether it serves HTTPS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Serves until the process is stopped.
    pub fn serve(self) -> Result<(), Error> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .max_blocking_threads(8)
            .build()
            .map_err(|e| Error::io("cannot start the web server", e))?;
        let Bound {
            listener, app, tls, ..
        } = self;
        live::start_follower(app.clone());
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener)
                .map_err(|e| Error::io("cannot use the listening socket", e))?;
            let served = match tls {
                Some(cfg) => {
                    let l = tls::TlsListener::new(listener, cfg)
                        .map_err(|e| Error::io("cannot use the listening socket", e))?;
                    axum::serve(l, router(app)).await
                }
                None => axum::serve(listener, router(app)).await,
            };
            served.map_err(|e| Error::io("the web server stopped", e))
        })
    }
}

/// Every route, behind the access check and the security headers.
pub(crate) fn router(app: Shared) -> Router {
    Router::new()
        .route("/", get(pages::overview::page))
        .route("/agents", get(pages::agents::list))
        .route("/agents/{rig}/{polecat}", get(pages::agents::one))
        .route("/work", get(pages::work::list))
        .route("/beads/{id}", get(pages::work::bead))
        .route("/convoys", get(pages::work::convoys))
        .route("/mq", get(pages::mq::page))
        .route("/trail", get(pages::trail::page))
        .route("/mail", get(pages::mail::page))
        .route("/events", get(live::events))
        .route("/assets/{name}", get(assets::serve))
        .route("/favicon.ico", get(assets::favicon))
        .route("/act/sling", post(actions::sling))
        .route("/act/nudge", post(actions::nudge))
        .route("/act/reply", post(actions::reply))
        .route("/act/ack", post(actions::ack))
        .route("/act/resume", post(actions::resume))
        .route("/act/retry", post(actions::retry))
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            auth::guard,
        ))
        .layer(axum::middleware::from_fn(auth::headers))
        .with_state(app)
}
