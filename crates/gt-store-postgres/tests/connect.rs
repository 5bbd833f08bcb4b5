//! How the store connects (issue 13 §1): the password a URL without one
//! gets from the caller (`PGPASSWORD`, else the password file), and TLS as
//! `sslmode` asks. Passwords are checked against a stand-in server on a
//! local port that asks for a cleartext password and records it (the test
//! PostgreSQL trusts local connections, so it never asks); `sslmode` is
//! checked against the real server `GT_TEST_POSTGRES` names, which has no
//! TLS. Without that variable those cases print one "skipped:" line, except
//! in CI, where they fail.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use gt_host::clock::SystemClock;
use gt_store::StoreMaintenance;
use gt_store_postgres::{PasswordSource, PgStore};
use gt_testkit::postgres::server;

const SECRET: &str = "pw-c0nnect-never-shown";

/// A one-connection stand-in server on a free port: it asks for a
/// cleartext password, refuses the login, and returns the password sent.
fn password_catcher() -> (u16, std::thread::JoinHandle<Option<String>>) {
    catcher(None)
}

/// [`password_catcher`] speaking TLS with `tls` when the client asks for
/// it (PostgreSQL's SSLRequest), as a server with TLS does.
fn catcher(
    tls: Option<Arc<rustls::ServerConfig>>,
) -> (u16, std::thread::JoinHandle<Option<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (mut tcp, _) = listener.accept().ok()?;
        let mut len = [0u8; 4];
        tcp.read_exact(&mut len).ok()?;
        let mut first = vec![0u8; u32::from_be_bytes(len) as usize - 4];
        tcp.read_exact(&mut first).ok()?;
        // SSLRequest: the code 80877103.
        if first == 80877103u32.to_be_bytes() {
            let Some(config) = tls else {
                tcp.write_all(b"N").ok()?;
                return login(&mut tcp, true);
            };
            tcp.write_all(b"S").ok()?;
            let conn = rustls::ServerConnection::new(config).ok()?;
            let mut stream = rustls::StreamOwned::new(conn, tcp);
            return login(&mut stream, true);
        }
        login(&mut tcp, false)
    });
    (port, handle)
}

/// Reads the startup message (unless already read), asks for a cleartext
/// password, refuses the login and returns the password sent.
fn login(s: &mut (impl Read + Write), read_startup: bool) -> Option<String> {
    let mut len = [0u8; 4];
    if read_startup {
        s.read_exact(&mut len).ok()?;
        let mut startup = vec![0u8; u32::from_be_bytes(len) as usize - 4];
        s.read_exact(&mut startup).ok()?;
    }
    // AuthenticationCleartextPassword.
    s.write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 3]).ok()?;
    s.flush().ok()?;
    let mut tag = [0u8; 1];
    s.read_exact(&mut tag).ok()?;
    s.read_exact(&mut len).ok()?;
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize - 4];
    s.read_exact(&mut body).ok()?;
    let password = String::from_utf8_lossy(body.strip_suffix(&[0]).unwrap_or(&body)).into_owned();
    let mut fields = Vec::new();
    for (code, text) in [
        (b'S', "FATAL"),
        (b'C', "28P01"),
        (b'M', "password authentication failed"),
    ] {
        fields.push(code);
        fields.extend_from_slice(text.as_bytes());
        fields.push(0);
    }
    fields.push(0);
    let mut msg = vec![b'E'];
    msg.extend_from_slice(&(fields.len() as u32 + 4).to_be_bytes());
    msg.extend_from_slice(&fields);
    let _ = s.write_all(&msg);
    let _ = s.flush();
    Some(password)
}

/// The password a store connecting to `url` (its port the catcher's)
/// sends, and the error it reports (which must not show it).
fn password_sent(url_of: impl Fn(u16) -> String, source: &PasswordSource) -> Option<String> {
    let (port, catcher) = password_catcher();
    let url = url_of(port);
    let err = PgStore::open_with(&url, source, "gt", Arc::new(SystemClock)).unwrap_err();
    let sent = catcher.join().unwrap();
    let text = err.to_string();
    assert!(
        !text.contains(SECRET),
        "the error shows the password: {text}"
    );
    assert!(!text.contains('\n'), "one line: {text}");
    sent
}

fn private_file(dir: &std::path::Path, text: &str, mode: u32) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("pgpass");
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

#[test]
fn the_url_password_then_pgpassword_then_the_password_file() {
    let dir = std::env::temp_dir().join(format!("gt-pg-connect-{}", std::process::id()));
    let pgpass = private_file(&dir, &format!("127.0.0.1:*:town:gt:{SECRET}-file\n"), 0o600);
    let file_only = PasswordSource::new(None, Some(pgpass.clone()));
    let both = PasswordSource::new(Some(format!("{SECRET}-env")), Some(pgpass.clone()));

    let with_pw = |port| format!("postgres://gt:{SECRET}-url@127.0.0.1:{port}/town");
    let without = |port| format!("postgres://gt@127.0.0.1:{port}/town");
    assert_eq!(
        password_sent(with_pw, &both).as_deref(),
        Some(&*format!("{SECRET}-url"))
    );
    assert_eq!(
        password_sent(without, &both).as_deref(),
        Some(&*format!("{SECRET}-env"))
    );
    assert_eq!(
        password_sent(without, &file_only).as_deref(),
        Some(&*format!("{SECRET}-file"))
    );
    // The file's line is for the database `town` only.
    let other_db = |port| format!("postgres://gt@127.0.0.1:{port}/other");
    assert_eq!(password_sent(other_db, &file_only), None);
    // A file others may read is ignored, as libpq does.
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(password_sent(without, &file_only), None);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `admin` (postgres://USER@HOST:PORT/DB) as USER:SECRET@HOST:PORT/`db`?`query`.
fn url_for(admin: &str, db: &str, query: &str) -> String {
    let (scheme, rest) = admin.split_once("://").unwrap();
    let (user, host) = rest.split_once('@').unwrap();
    let user = user.split(':').next().unwrap();
    let host = host.split(['/', '?']).next().unwrap();
    format!("{scheme}://{user}:{SECRET}@{host}/{db}?{query}")
}

#[test]
fn sslmode_require_against_a_server_without_tls_fails_in_one_line() {
    let Some(admin) = server() else { return };
    for mode in ["require", "verify-ca", "verify-full"] {
        let url = url_for(&admin, "postgres", &format!("sslmode={mode}"));
        let err = PgStore::open(&url, "gt", Arc::new(SystemClock)).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("cannot reach the town store"), "{text}");
        assert!(text.contains("server does not support TLS"), "{text}");
        assert!(!text.contains(SECRET), "{text}");
        assert!(!text.contains('\n'), "{text}");
    }
    let url = url_for(&admin, "postgres", "sslmode=sometimes");
    let text = PgStore::open(&url, "gt", Arc::new(SystemClock))
        .unwrap_err()
        .to_string();
    assert!(text.contains("sslmode 'sometimes'"), "{text}");
    assert!(!text.contains(SECRET), "{text}");
}

#[test]
fn sslmode_prefer_falls_back_to_plain_and_disable_is_plain() {
    static N: AtomicU32 = AtomicU32::new(0);
    let Some(admin) = server() else { return };
    for mode in ["prefer", "disable"] {
        let name = format!(
            "gt_connect_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let mut c = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
        c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        let url = url_for(&admin, &name, &format!("sslmode={mode}"));
        let result = PgStore::create(&url, "gt", Arc::new(SystemClock)).map(|s| {
            let location = s.location();
            drop(s);
            location
        });
        let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        let location = result.unwrap_or_else(|e| panic!("sslmode={mode}: {e}"));
        assert!(!location.contains(SECRET), "{location}");
        assert!(location.contains(&format!("sslmode={mode}")), "{location}");
    }
}

/// The test certificates: `tests/tls/ca.pem` signed `server.pem` for the
/// name `localhost` only (valid until 2126).
fn tls_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls")
}

fn server_config() -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(tls_dir().join("server.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(tls_dir().join("server.key")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    Arc::new(config)
}

/// What a store connecting with `host` and `query` to a TLS stand-in
/// server sends as its password (`None`: the connection was refused
/// before), and its error.
fn over_tls(host: &str, query: &str) -> (Option<String>, String) {
    let (port, catcher) = catcher(Some(server_config()));
    let url = format!("postgres://gt:{SECRET}@{host}:{port}/town?{query}");
    let err = PgStore::open(&url, "gt", Arc::new(SystemClock)).unwrap_err();
    let sent = catcher.join().unwrap();
    let text = err.to_string();
    let location = text.replace(SECRET, "");
    assert_eq!(text, location, "the error shows the password: {text}");
    assert!(!text.contains('\n'), "one line: {text}");
    (sent, text)
}

#[test]
fn tls_modes_check_the_certificate_as_libpq_does() {
    let ca = format!(
        "sslrootcert={}",
        tls_dir()
            .join("ca.pem")
            .display()
            .to_string()
            .replace('/', "%2F")
    );
    // verify-full: the chain and the name; the password goes over TLS.
    let (sent, text) = over_tls("localhost", &format!("sslmode=verify-full&{ca}"));
    assert_eq!(sent.as_deref(), Some(SECRET), "{text}");
    // The certificate names localhost, not 127.0.0.1: verify-full refuses,
    // verify-ca (no name check) accepts.
    let (sent, text) = over_tls("127.0.0.1", &format!("sslmode=verify-full&{ca}"));
    assert_eq!(sent, None, "{text}");
    assert!(text.contains("certificate"), "{text}");
    let (sent, text) = over_tls("127.0.0.1", &format!("sslmode=verify-ca&{ca}"));
    assert_eq!(sent.as_deref(), Some(SECRET), "{text}");
    // Without sslrootcert the built-in roots do not know the test CA.
    let (sent, text) = over_tls("localhost", "sslmode=verify-full");
    assert_eq!(sent, None, "{text}");
    assert!(text.contains("certificate"), "{text}");
    // require and prefer encrypt without checking the certificate.
    for mode in ["require", "prefer"] {
        let (sent, text) = over_tls("127.0.0.1", &format!("sslmode={mode}"));
        assert_eq!(sent.as_deref(), Some(SECRET), "{mode}: {text}");
    }
}
