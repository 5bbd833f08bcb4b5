//! `gt dashboard`: serves the town as a live web page (see docs/dashboard.md).

use std::io::IsTerminal;
use std::net::IpAddr;

use clap::Args;
use gt_lib::Error;

use crate::output::Ctx;

#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// The port (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// The address to listen on; anything but loopback needs --allow-remote.
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    bind: IpAddr,
    /// Allow a non-loopback --bind (the town, its screens and its actions
    /// are then reachable by anyone on that network who has the URL).
    #[arg(long)]
    allow_remote: bool,
    /// Open the URL in a browser (default: when run on a terminal with a display).
    #[arg(long, overrides_with = "no_open")]
    open: bool,
    /// Never open a browser.
    #[arg(long)]
    no_open: bool,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key; default:
    /// dashboard.tls_cert of gt.toml).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert (default: dashboard.tls_key).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
}

pub fn run(ctx: &Ctx, a: DashboardArgs) -> Result<(), Error> {
    let town = ctx.town()?;
    let tls =
        match (a.tls_cert, a.tls_key) {
            (Some(cert), Some(key)) => Some(gt_web::TlsFiles { cert, key }),
            _ => {
                let d = &town.config.dashboard;
                match (d.tls_cert.as_deref(), d.tls_key.as_deref()) {
                    (Some(c), Some(k)) => Some(gt_web::TlsFiles {
                        cert: town.root().join(c),
                        key: town.root().join(k),
                    }),
                    (None, None) => None,
                    _ => return Err(Error::invalid(
                        "dashboard.tls_cert and dashboard.tls_key go together: set both or neither",
                    )),
                }
            }
        };
    let bound = gt_web::Bound::bind(gt_web::Options {
        root: town.root().to_path_buf(),
        caller: gt_web::human_caller(std::env::vars_os()),
        bind: a.bind,
        port: a.port,
        allow_remote: a.allow_remote,
        tls,
    })?;
    // The first line is the URL (with its access token), JSON or not.
    if !a.bind.is_loopback() && bound.is_tls() {
        eprintln!(
            "warning: serving on {}: anyone who can reach it and has the URL controls this town",
            bound.addr()
        );
    }
    if ctx.json {
        ctx.out(
            &serde_json::json!({ "url": bound.url(), "addr": bound.addr().to_string() })
                .to_string(),
        );
    } else {
        ctx.out(bound.url());
    }
    if !a.bind.is_loopback() && !bound.is_tls() {
        eprintln!(
            "warning: serving on {} over plain HTTP (see --tls-cert): anyone who can reach it and has the URL controls this town",
            bound.addr()
        );
    }
    let display =
        ctx.caller.var("DISPLAY").is_some() || ctx.caller.var("WAYLAND_DISPLAY").is_some();
    if a.open || (!a.no_open && display && std::io::stdout().is_terminal()) {
        open_browser(bound.url());
    }
    bound.serve()
}

/// Hands the URL to the desktop's opener; failing that is only a note.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    if let Err(e) = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        eprintln!("note: could not open a browser ({opener}: {e}); open the URL above");
    }
}
