//! Who may talk to the dashboard, and the headers every answer carries.
//!
//! - The printed URL holds a random token. A request carrying it
//!   (`?token=`) gets a session cookie (HttpOnly, SameSite=Strict, named
//!   after the port so two dashboards never clobber each other) and is
//!   redirected to the same path without the token.
//! - Every other request needs that cookie: none is 401, a wrong token 403.
//! - On a loopback address the `Host` header must name the loopback address
//!   and port (a DNS-rebinding page gets 403).
//! - A POST also needs the page's CSRF token in its form and an `Origin`
//!   equal to this server's origin; a cross-origin POST is 403.
//! - Every answer: a strict Content-Security-Policy (scripts and styles only
//!   from this server; style attributes allowed for the screen's terminal
//!   colours), `X-Content-Type-Options: nosniff`, `Referrer-Policy:
//!   same-origin` (with `no-referrer` browsers send `Origin: null` on the
//!   page's own form posts), `X-Frame-Options: DENY`, `Cache-Control: no-store`.

use std::net::SocketAddr;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use gt_lib::Error;

use crate::Shared;

/// The Content-Security-Policy of every answer.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
style-src-attr 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The random values of one dashboard process.
pub struct Secrets {
    token: String,
    session: String,
    csrf: String,
    cookie_name: String,
    /// `Host` values accepted (empty: any, for a non-loopback bind).
    hosts: Vec<String>,
    /// Served over TLS: the cookie is `Secure`, the origin `https://`.
    tls: bool,
}

fn random_hex(bytes: usize) -> Result<String, Error> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)
        .map_err(|e| Error::Internal(format!("no random numbers from the system: {e}")))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// Compares without stopping at the first difference.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Secrets {
    pub fn new(addr: SocketAddr, loopback_only: bool, tls: bool) -> Result<Secrets, Error> {
        let port = addr.port();
        let hosts = if loopback_only {
            vec![
                format!("127.0.0.1:{port}"),
                format!("localhost:{port}"),
                format!("[::1]:{port}"),
            ]
        } else {
            Vec::new()
        };
        Ok(Secrets {
            token: random_hex(24)?,
            session: random_hex(32)?,
            csrf: random_hex(24)?,
            cookie_name: format!("gt_session_{port}"),
            hosts,
            tls,
        })
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    pub fn csrf(&self) -> &str {
        &self.csrf
    }

    pub fn csrf_ok(&self, given: &str) -> bool {
        same(given, &self.csrf)
    }

    fn host_ok(&self, headers: &HeaderMap) -> bool {
        if self.hosts.is_empty() {
            return true;
        }
        headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .is_some_and(|h| self.hosts.iter().any(|a| a.eq_ignore_ascii_case(h)))
    }

    fn has_session(&self, headers: &HeaderMap) -> bool {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .any(|(k, v)| k == self.cookie_name && same(v, &self.session))
    }

    fn set_cookie(&self) -> String {
        format!(
            "{}={}; HttpOnly; SameSite=Strict; Path=/{}",
            self.cookie_name,
            self.session,
            if self.tls { "; Secure" } else { "" }
        )
    }
}

/// The `token` query parameter, if any.
fn query_token(query: Option<&str>) -> Option<String> {
    let q = query?;
    serde_urlencoded::from_str::<Vec<(String, String)>>(q)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v)
}

/// The query without `token`.
fn query_without_token(query: &str) -> String {
    let kept: Vec<(String, String)> = serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| k != "token")
        .collect();
    serde_urlencoded::to_string(kept).unwrap_or_default()
}

fn refuse(status: StatusCode, why: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{why}\n"),
    )
        .into_response()
}

/// Whether a POST comes from a page of this server (`https` only when it
/// serves TLS, `http` only when not).
fn same_origin(headers: &HeaderMap, tls: bool) -> bool {
    let (Some(origin), Some(host)) = (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) else {
        return false;
    };
    let scheme = if tls { "https" } else { "http" };
    origin.eq_ignore_ascii_case(&format!("{scheme}://{host}"))
}

/// The access check (see the module's notes).
pub async fn guard(State(app): State<Shared>, req: Request, next: Next) -> Response {
    let s = &app.auth;
    if !s.host_ok(req.headers()) {
        return refuse(StatusCode::FORBIDDEN, "forbidden: unexpected Host header");
    }
    if !s.has_session(req.headers()) {
        return match query_token(req.uri().query()) {
            Some(t) if same(&t, &s.token) && req.method() == Method::GET => {
                let rest = query_without_token(req.uri().query().unwrap_or(""));
                let to = if rest.is_empty() {
                    req.uri().path().to_string()
                } else {
                    format!("{}?{rest}", req.uri().path())
                };
                let mut r = (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response();
                if let Ok(v) = HeaderValue::from_str(&s.set_cookie()) {
                    r.headers_mut().insert(header::SET_COOKIE, v);
                }
                r
            }
            Some(_) => refuse(StatusCode::FORBIDDEN, "forbidden: wrong access token"),
            None => refuse(
                StatusCode::UNAUTHORIZED,
                "unauthorized: open the URL gt dashboard printed (it holds the access token)",
            ),
        };
    }
    if req.method() != Method::GET
        && req.method() != Method::HEAD
        && !same_origin(req.headers(), s.tls)
    {
        return refuse(StatusCode::FORBIDDEN, "forbidden: cross-origin request");
    }
    next.run(req).await
}

/// The security headers of every answer.
pub async fn headers(req: Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
    }

    #[test]
    fn the_token_leaves_the_query() {
        assert_eq!(query_token(Some("a=1&token=x%20y")), Some("x y".into()));
        assert_eq!(query_without_token("a=1&token=x&b=2"), "a=1&b=2");
        assert_eq!(query_token(None), None);
    }

    #[test]
    fn cookies_are_read_by_this_port_name() {
        let s = Secrets::new("127.0.0.1:4000".parse().unwrap(), true, false).unwrap();
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("x=1; gt_session_4000={}", s.session)).unwrap(),
        );
        assert!(s.has_session(&h));
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("gt_session_4001={}", s.session)).unwrap(),
        );
        assert!(!s.has_session(&h));
    }

    #[test]
    fn the_origin_must_be_this_server() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:4000"));
        assert!(!same_origin(&h, false));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(!same_origin(&h, false));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:4000"),
        );
        assert!(same_origin(&h, false));
        assert!(!same_origin(&h, true), "plain http to a TLS server");
    }
}
