//! `gt dashboard` over HTTP (issue 14 §4): the token and cookie, CSRF and
//! Origin checks, the security headers, hostile text escaped on every page,
//! the event stream, and actions recorded as `human`. The real-browser
//! tests are in `dashboard_browser`.

use std::io::{BufRead, BufReader, Read};
use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::*;

/// A running `gt dashboard` of a test town, killed when dropped.
pub struct Dashboard {
    child: Child,
    /// The printed URL (with the token).
    pub url: String,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    pub cookie: String,
    pub csrf: String,
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `gt ARGS` kept running in the test town.
pub fn spawn_gt(t: &TestTown, args: &[&str]) -> Child {
    t.spawn(args)
}

pub fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .redirects(0)
        .timeout(Duration::from_secs(30))
        .build()
}

/// Status, headers by lower-case name, body.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn answer(r: Result<ureq::Response, ureq::Error>) -> Answer {
    let resp = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("request failed: {e}"),
    };
    let status = resp.status();
    let headers = resp
        .headers_names()
        .into_iter()
        .map(|n| {
            let v = resp.all(&n).join(", ");
            (n.to_ascii_lowercase(), v)
        })
        .collect();
    let mut body = String::new();
    resp.into_reader().read_to_string(&mut body).unwrap();
    Answer {
        status,
        headers,
        body,
    }
}

impl Dashboard {
    pub fn start(t: &TestTown) -> Dashboard {
        Self::start_with(t, &[])
    }

    pub fn start_with(t: &TestTown, args: &[&str]) -> Dashboard {
        let mut all = vec!["dashboard", "--no-open"];
        all.extend_from_slice(args);
        let mut child = spawn_gt(t, &all);
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let url = first.trim().to_string();
        assert!(url.starts_with("http://127.0.0.1:"), "first line: {url:?}");
        let base = url.split("/?").next().unwrap().to_string();
        let mut d = Dashboard {
            child,
            url,
            base,
            cookie: String::new(),
            csrf: String::new(),
        };
        let a = d.get_raw(&d.url.clone(), None);
        assert_eq!(a.status, 303, "the token is exchanged: {}", a.body);
        let set = a
            .header("set-cookie")
            .expect("a session cookie")
            .to_string();
        d.cookie = set.split(';').next().unwrap().to_string();
        let page = d.get("/");
        assert_eq!(page.status, 200, "{}", page.body);
        d.csrf = page
            .body
            .split("name=\"gt-csrf\" content=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("the page names its CSRF token")
            .to_string();
        d
    }

    pub fn get_raw(&self, url: &str, cookie: Option<&str>) -> Answer {
        let mut r = agent().get(url);
        if let Some(c) = cookie {
            r = r.set("Cookie", c);
        }
        answer(r.call())
    }

    /// GET a path with the session cookie.
    pub fn get(&self, path: &str) -> Answer {
        self.get_raw(&format!("{}{path}", self.base), Some(&self.cookie))
    }

    /// POST a form with the cookie; `origin` None sends no Origin header.
    pub fn post(&self, path: &str, origin: Option<&str>, form: &[(&str, &str)]) -> Answer {
        let mut r = agent()
            .post(&format!("{}{path}", self.base))
            .set("Cookie", &self.cookie);
        if let Some(o) = origin {
            r = r.set("Origin", o);
        }
        answer(r.send_form(form))
    }

    /// POST a form the way the page does (cookie, same Origin, CSRF token).
    pub fn act(&self, path: &str, form: &[(&str, &str)]) -> Answer {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(form);
        self.post(path, Some(&self.base.clone()), &all)
    }
}

const PAGES: &[&str] = &[
    "/", "/agents", "/work", "/convoys", "/mq", "/trail", "/mail",
];

#[test]
fn the_token_is_needed_then_the_cookie() {
    let t = TestTown::new();
    let d = Dashboard::start(&t);
    // Nothing without the token or the cookie, assets included.
    for p in PAGES
        .iter()
        .chain(&["/assets/app.js", "/events", "/beads/x"])
    {
        let a = d.get_raw(&format!("{}{p}", d.base), None);
        assert_eq!(a.status, 401, "{p} without a cookie: {}", a.body);
    }
    let wrong = d.get_raw(&format!("{}/?token=nope", d.base), None);
    assert_eq!(wrong.status, 403);
    let forged = d.get_raw(&format!("{}/", d.base), Some("gt_session_1=x"));
    assert_eq!(forged.status, 401);
    // The exchange: an HttpOnly, SameSite=Strict cookie, and the token
    // leaves the address bar.
    let a = d.get_raw(&d.url, None);
    assert_eq!(a.status, 303);
    assert_eq!(a.header("location"), Some("/"));
    let c = a.header("set-cookie").unwrap();
    assert!(
        c.contains("HttpOnly") && c.contains("SameSite=Strict"),
        "{c}"
    );
    // With the cookie every page answers, each with the security headers.
    for p in PAGES.iter().chain(&["/assets/app.js", "/assets/app.css"]) {
        let a = d.get(p);
        assert_eq!(a.status, 200, "{p}: {}", a.body);
        let csp = a.header("content-security-policy").unwrap_or_default();
        assert!(
            csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
            "{p}: {csp}"
        );
        assert!(!csp.contains("script-src 'self' 'unsafe-inline'"));
        assert_eq!(a.header("x-content-type-options"), Some("nosniff"), "{p}");
        assert_eq!(a.header("referrer-policy"), Some("same-origin"), "{p}");
        assert_eq!(a.header("x-frame-options"), Some("DENY"), "{p}");
    }
    // No inline script anywhere: the only script is the served file.
    let home = d.get("/");
    assert_eq!(home.body.matches("<script").count(), 1, "{}", home.body);
    assert!(home.body.contains("<script src=\"/assets/app.js\""));
    // A page reached through another host name (DNS rebinding) is refused.
    let rebound = answer(
        agent()
            .get(&format!("{}/", d.base))
            .set("Host", "evil.example")
            .set("Cookie", &d.cookie)
            .call(),
    );
    assert_eq!(rebound.status, 403);
    // Unknown things are 404, not an error page with detail.
    assert_eq!(d.get("/beads/hq-nope").status, 404);
    assert_eq!(d.get("/nowhere").status, 404);
}

#[test]
fn actions_need_the_csrf_token_and_the_same_origin() {
    let t = TestTown::new();
    t.with_rig("r");
    let d = Dashboard::start(&t);
    let before = t.fingerprint();
    let good_origin = d.base.clone();
    let form = |csrf: &str| {
        vec![
            ("csrf", csrf.to_string()),
            ("back", "/work".to_string()),
            ("work", "a task from the web".to_string()),
            ("rig", "r".to_string()),
            ("agent", "nosuchagent".to_string()),
        ]
    };
    let refs = |f: &Vec<(&'static str, String)>| -> Vec<(&'static str, String)> { f.clone() };
    let send = |origin: Option<&str>, f: Vec<(&str, String)>| {
        let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        d.post("/act/sling", origin, &pairs)
    };
    let csrf = d.csrf.clone();
    // No Origin, another origin, no or a wrong CSRF token: 403, nothing written.
    assert_eq!(send(None, refs(&form(&csrf))).status, 403);
    assert_eq!(
        send(Some("http://evil.example"), refs(&form(&csrf))).status,
        403
    );
    assert_eq!(send(Some(&good_origin), refs(&form("wrong"))).status, 403);
    let no_token: Vec<(&str, String)> = form(&csrf).into_iter().skip(1).collect();
    assert_eq!(send(Some(&good_origin), no_token).status, 403);
    // Without the cookie, even with the token and origin.
    let anon = answer(
        agent()
            .post(&format!("{}/act/sling", d.base))
            .set("Origin", &good_origin)
            .send_form(&[("csrf", csrf.as_str()), ("work", "x"), ("rig", "r")]),
    );
    assert_eq!(anon.status, 401);
    assert_eq!(t.fingerprint(), before, "a refused action wrote something");

    // A well-formed action whose library call fails comes back with the
    // error, one line, escaped, and writes nothing.
    let a = d.act(
        "/act/sling",
        &[
            ("back", "/work"),
            ("work", "x"),
            ("rig", "r"),
            ("agent", "nosuchagent"),
        ],
    );
    assert_eq!(a.status, 303);
    let to = a.header("location").unwrap().to_string();
    assert!(to.starts_with("/work?error="), "{to}");
    let shown = d.get(&to);
    assert!(
        shown.body.contains("class=\"flash error\""),
        "{}",
        shown.body
    );
    assert_eq!(t.fingerprint(), before);
    // A back address elsewhere is not followed.
    let a = d.act(
        "/act/ack",
        &[("back", "//evil.example/x"), ("id", "hq-nope")],
    );
    assert!(
        a.header("location").unwrap().starts_with("/?error="),
        "{:?}",
        a.header("location")
    );
}

#[test]
fn hostile_text_is_escaped_on_every_page() {
    let t = TestTown::new();
    t.with_rig("r");
    let img = "<img src=x onerror=alert(1)>";
    let script = "</pre><script>alert(2)</script>";
    let id = t.create(
        img,
        &[
            "--description",
            script,
            "--label",
            "x\"onmouseover=alert(3)",
        ],
    );
    t.ok(&["bead", "comment", &id, script]);
    t.ok(&["mail", "send", "human", "-s", img, "-m", script]);
    t.ok(&["escalate", "--severity", "high", script]);
    t.set_agent(
        "hostile",
        "sh -c 'printf \"%s\\n\" \"</pre><script>alert(4)</script>\" \"<img src=x onerror=alert(5)>\"; exec sleep 600'",
    );
    t.ok(&["sling", img, "r/nux", "--agent", "hostile"]);
    let d = Dashboard::start(&t);
    t.wait_for(10, "the hostile screen", |_| {
        d.get("/agents/r/nux").body.contains("alert(4)")
    });
    let mut pages: Vec<String> = PAGES.iter().map(|p| p.to_string()).collect();
    pages.push(format!("/beads/{id}"));
    pages.push("/agents/r/nux".into());
    pages.push("/work?status=open".into());
    for p in &pages {
        let a = d.get(p);
        assert_eq!(a.status, 200, "{p}: {}", a.body);
        let b = &a.body;
        assert!(!b.contains("<img src=x"), "{p} has a raw <img>: {b}");
        assert!(!b.contains("<script>alert"), "{p} has a raw <script>: {b}");
        assert!(
            !b.contains("\"onmouseover"),
            "{p} lets an attribute out: {b}"
        );
        assert_eq!(b.matches("<script").count(), 1, "{p}");
    }
    let bead = d.get(&format!("/beads/{id}")).body;
    assert!(
        bead.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{bead}"
    );
    assert!(bead.contains("&lt;/pre&gt;&lt;script&gt;alert(2)&lt;/script&gt;"));
    let screen = d.get("/agents/r/nux").body;
    assert!(
        screen.contains("&lt;/pre&gt;&lt;script&gt;alert(4)"),
        "{screen}"
    );
    let mail = d.get("/mail").body;
    assert!(
        mail.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{mail}"
    );
    // The live part alone (what the page's script fetches) is escaped too.
    let frag = answer(
        agent()
            .get(&format!("{}/agents/r/nux", d.base))
            .set("Cookie", &d.cookie)
            .set("X-GT-Fragment", "1")
            .call(),
    );
    assert!(!frag.body.contains("<html"), "a fragment is not a page");
    assert!(!frag.body.contains("<script>alert"));
    assert!(frag.body.contains("alert(4)"));
}

/// Reads the event stream until `want` returns true for an event's JSON.
fn read_events_until(
    d: &Dashboard,
    query: &str,
    secs: u64,
    mut want: impl FnMut(&Value) -> bool,
) -> Vec<Value> {
    let resp = agent()
        .get(&format!("{}/events{query}", d.base))
        .set("Cookie", &d.cookie)
        .timeout(Duration::from_secs(secs))
        .call()
        .expect("the stream opens");
    assert_eq!(
        resp.header("content-type").unwrap_or_default(),
        "text/event-stream"
    );
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut seen = Vec::new();
    for line in BufReader::new(resp.into_reader()).lines() {
        let Ok(line) = line else { break };
        if let Some(data) = line.strip_prefix("data: ") {
            if let Ok(v) = serde_json::from_str::<Value>(data) {
                let done = want(&v);
                seen.push(v);
                if done {
                    return seen;
                }
            }
        }
        if Instant::now() > deadline {
            break;
        }
    }
    panic!("the awaited event did not come; saw {seen:?}");
}

#[test]
fn the_event_stream_brings_new_events_and_what_was_missed() {
    let t = TestTown::new();
    let d = Dashboard::start(&t);
    let first = t.create("before the stream", &[]);
    // A browser that has seen nothing since event 0 gets the backlog first.
    let seen = read_events_until(&d, "?after=0", 20, |v| v["bead"] == first.as_str());
    assert_eq!(seen.last().unwrap()["kind"], "bead.created");
    // A new event reaches an open stream.
    let home = t.home.clone();
    let root = t.root.clone();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(700));
        let out = clean_cmd(&home)
            .current_dir(&root)
            .args(["-q", "bead", "create", "while streaming"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    });
    let started = Instant::now();
    let seen = read_events_until(&d, "", 20, |v| {
        v["summary"]
            .as_str()
            .is_some_and(|s| s.contains("while streaming"))
    });
    let id = writer.join().unwrap();
    assert_eq!(seen.last().unwrap()["bead"], id.as_str());
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn actions_are_the_library_calls_recorded_as_human() {
    let t = TestTown::new();
    t.with_rig("r");
    t.set_agent(
        "catter",
        "sh -c 'stty -icanon -echo; echo ready; exec cat >> \"$GT_TOWN/../typed-$GT_POLECAT\"'",
    );
    let d = Dashboard::start(&t);
    // Sling free text to a rig.
    let a = d.act(
        "/act/sling",
        &[
            ("back", "/work"),
            ("work", "typed from the web"),
            ("rig", "r"),
            ("agent", "catter"),
        ],
    );
    let to = a.header("location").unwrap().to_string();
    assert!(to.starts_with("/work?done="), "{to}");
    let agents = t.json(&["agents"]);
    let agent = agents.as_array().unwrap()[0]["agent"]
        .as_str()
        .unwrap()
        .to_string();
    let polecat = agent.split('/').nth(1).unwrap().to_string();
    let typed = t.dir.path().join(format!("typed-{polecat}"));
    t.wait_for(10, "the catter runs", |_| typed.exists());
    // Nudge it from its page.
    let a = d.act(
        "/act/nudge",
        &[
            ("back", &format!("/agents/{agent}")),
            ("agent", &agent),
            ("message", "hello from the dashboard"),
        ],
    );
    assert!(
        a.header("location").unwrap().contains("done="),
        "{:?}",
        a.header("location")
    );
    t.wait_for(10, "the nudge arrives", |_| {
        std::fs::read_to_string(&typed)
            .unwrap_or_default()
            .contains("hello from the dashboard")
    });
    // Mail: reply to a message for human; acknowledge an escalation.
    t.ok_env(
        &[("GT_AGENT", &agent)],
        &[
            "mail",
            "send",
            "human",
            "-s",
            "question",
            "-m",
            "which way?",
        ],
    );
    let inbox = t.json(&["mail", "inbox", "--as", "human"]);
    let mail_id = inbox[0]["id"].as_i64().unwrap().to_string();
    let a = d.act(
        "/act/reply",
        &[("back", "/mail"), ("id", &mail_id), ("body", "left")],
    );
    assert!(
        a.header("location").unwrap().contains("done="),
        "{:?}",
        a.header("location")
    );
    let theirs = t.json(&["mail", "inbox", "--as", &agent]);
    assert!(
        theirs
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["body"] == "left"),
        "{theirs}"
    );
    t.ok_env(&[("GT_AGENT", &agent)], &["escalate", "stuck"]);
    let esc = t.json(&["escalate", "list"]);
    let esc_bead = esc[0]["bead"].as_str().unwrap().to_string();
    let a = d.act("/act/ack", &[("back", "/mail"), ("id", &esc_bead)]);
    assert!(
        a.header("location").unwrap().contains("done="),
        "{:?}",
        a.header("location")
    );
    // Every change the dashboard made is recorded as human, from the
    // dashboard; the command line's are not.
    let trail = t.json(&["trail", "-n", "200"]);
    let events = trail.as_array().unwrap();
    for e in events {
        assert_eq!(
            e["actor"] == "human",
            e["source"] == "dashboard",
            "actor and source disagree: {e}"
        );
    }
    assert!(events
        .iter()
        .any(|e| e["actor"] == "tester" && e["source"].is_null()));
    let by_human: Vec<String> = events
        .iter()
        .filter(|e| e["actor"] == "human")
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    for k in ["sling", "nudge.delivered", "mail.sent", "escalation.acked"] {
        assert!(
            by_human
                .iter()
                .any(|x| x == k || x.starts_with(&format!("{k}."))),
            "no {k} by human in {by_human:?}"
        );
    }
}

#[test]
fn a_non_loopback_bind_needs_the_flag_and_bad_towns_fail_at_once() {
    let t = TestTown::new();
    let err = t.fails(&["dashboard", "--no-open", "--bind", "0.0.0.0"], 1);
    assert!(err.contains("--allow-remote"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let err = t.fails(&["dashboard", "--bind", "not-an-ip"], 2);
    assert!(!err.is_empty());
    let nowhere = t.dir.path().join("nowhere");
    let err = t.fails(
        &[
            "--town",
            nowhere.to_str().unwrap(),
            "dashboard",
            "--no-open",
        ],
        1,
    );
    assert!(!err.is_empty());
}

/// One HTTPS request to `addr` trusting only the test CA: the raw answer.
fn https_get(addr: &str, path: &str, cookie: Option<&str>) -> String {
    use std::io::Write;
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls");
    let mut roots = rustls::RootCertStore::empty();
    let ca = std::fs::read(fixtures.join("ca.pem")).unwrap();
    use rustls::pki_types::pem::PemObject;
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(&ca) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(std::sync::Arc::new(cfg), name).unwrap();
    let sock = std::net::TcpStream::connect(addr).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, sock);
    let cookie = cookie
        .map(|c| format!("Cookie: {c}\r\n"))
        .unwrap_or_default();
    write!(
        tls,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{cookie}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = tls.read_to_string(&mut out);
    out
}

#[test]
fn with_a_certificate_it_serves_https_only() {
    let t = TestTown::new();
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls");
    let cert = fixtures.join("dashboard.pem");
    let key = fixtures.join("dashboard.key");
    // A half-given identity or a file that is no certificate: one line, no server.
    let err = t.fails(
        &[
            "dashboard",
            "--no-open",
            "--tls-cert",
            cert.to_str().unwrap(),
        ],
        2,
    );
    assert!(err.contains("--tls-key"), "{err}");
    let err = t.fails(
        &[
            "dashboard",
            "--no-open",
            "--tls-cert",
            key.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        1,
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    // From gt.toml: the URL is https, the cookie Secure.
    t.ok(&[
        "config",
        "set",
        "dashboard.tls_cert",
        cert.to_str().unwrap(),
    ]);
    let err = t.fails(&["dashboard", "--no-open"], 1);
    assert!(err.contains("set both or neither"), "{err}");
    t.ok(&["config", "set", "dashboard.tls_key", key.to_str().unwrap()]);
    let mut child = spawn_gt(&t, &["dashboard", "--no-open"]);
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    struct Kill(Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _guard = Kill(child);
    let url = first.trim();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let rest = url.strip_prefix("https://").unwrap();
    let (addr, path) = rest.split_at(rest.find('/').unwrap());
    let a = https_get(addr, path, None);
    assert!(a.starts_with("HTTP/1.1 303"), "{a}");
    let cookie_line = a
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .expect("a cookie");
    assert!(cookie_line.contains("; Secure"), "{cookie_line}");
    let cookie = cookie_line
        .split_once(':')
        .unwrap()
        .1
        .trim()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let page = https_get(addr, "/", Some(&cookie));
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("Town test"));
    // Plain HTTP to it gets no page.
    let plain = agent().get(&format!("http://{addr}/")).call();
    assert!(!matches!(plain, Ok(ref r) if r.status() == 200));
    // Unset again: plain HTTP.
    t.ok(&["config", "set", "dashboard.tls_cert", ""]);
    t.ok(&["config", "set", "dashboard.tls_key", ""]);
    let d = Dashboard::start(&t);
    assert!(d.url.starts_with("http://"));
}

#[test]
fn retry_and_resume_from_the_pages() {
    let t = TestTown::new();
    t.with_rig("r");
    t.ok(&[
        "rig",
        "config",
        "r",
        "gates.never",
        "sh -c 'echo \"<b>gate</b> says no\"; exit 1'",
    ]);
    let slung = t.sling("r", "work that fails its gate", "standin");
    let bead = slung["bead"].as_str().unwrap().to_string();
    t.wait_for(90, "the bead merging", |t| {
        t.bead_status(&bead) == "merging"
    });
    t.json(&["refinery", "run", "--once", "--rig", "r"]);
    let mrs = t.json(&["mq", "list", "--rig", "r"]);
    let mr = mrs
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["bead"] == bead.as_str())
        .unwrap()
        .clone();
    assert_eq!(mr["status"], "failed", "{mr}");
    let d = Dashboard::start(&t);
    // The queue shows the gate's output (escaped) and a retry button.
    let page = d.get("/mq").body;
    assert!(page.contains("&lt;b&gt;gate&lt;/b&gt; says no"), "{page}");
    assert!(page.contains("action=\"/act/retry\""));
    let id = mr["id"].to_string();
    let a = d.act("/act/retry", &[("back", "/mq"), ("id", &id)]);
    assert!(
        a.header("location").unwrap().starts_with("/mq?done="),
        "{:?}",
        a.header("location")
    );
    let after = t.json(&["mq", "show", &id]);
    assert_eq!(after["status"], "queued", "{after}");
    // A bad id: the library's refusal, nothing changed.
    let a = d.act("/act/retry", &[("back", "/mq"), ("id", "not-a-number")]);
    assert!(a.header("location").unwrap().starts_with("/mq?error="));
    // Resume: the bead's page starts a bead whose agent left without
    // `gt done` again, on an agent.
    let left = t.sling("r", "work left half done", "standin-exit-without-done");
    let bead = left["bead"].as_str().unwrap().to_string();
    t.wait_for(30, "the agent gone", |t| !t.session_is(&bead, "running"));
    let status = t.bead_status(&bead);
    let a = d.act(
        "/act/resume",
        &[
            ("back", &format!("/beads/{bead}")),
            ("bead", &bead),
            ("agent", "standin-hang"),
        ],
    );
    let to = a.header("location").unwrap().to_string();
    assert!(to.contains("done=resumed"), "{to} (bead was {status})");
    let sessions: Vec<Value> = t.json(&["agents"]).as_array().unwrap().clone();
    assert!(
        sessions.iter().any(|s| s["bead"] == bead.as_str()
            && s["runtime"] == "standin-hang"
            && s["live"] == "running"),
        "{sessions:?}"
    );
    let trail = t.json(&["trail", "-n", "50"]);
    let by_dashboard: Vec<&str> = trail
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["source"] == "dashboard")
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(by_dashboard.contains(&"merge.requeued"), "{by_dashboard:?}");
    assert!(by_dashboard.contains(&"sling"), "{by_dashboard:?}");
}

#[test]
fn molecules_show_with_their_progress() {
    let t = TestTown::new();
    t.with_rig("r");
    let run = t.json(&[
        "formula",
        "run",
        "feature",
        "--var",
        "topic=<b>the parser</b>",
    ]);
    let epic = run["molecule"].as_str().unwrap().to_string();
    let d = Dashboard::start(&t);
    let page = d.get("/convoys").body;
    assert!(
        page.contains(&format!(
            "molecule <a class=\"bead\" href=\"/beads/{epic}\">{epic}</a> of formula feature"
        )),
        "{page}"
    );
    assert!(page.contains("<progress value=\"0\" max=\"3\">"), "{page}");
    let bead = d.get(&format!("/beads/{epic}")).body;
    // The epic's graph draws its three steps; the variable is escaped.
    assert_eq!(bead.matches("<rect").count(), 4, "{bead}");
    assert!(bead.contains("&lt;b&gt;the parser&lt;/b&gt;") && !bead.contains("<b>the parser"));
}
