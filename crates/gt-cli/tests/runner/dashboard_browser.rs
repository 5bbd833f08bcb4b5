//! `gt dashboard` in a real headless Chromium driven over WebDriver (issue
//! 14 §4): the overview of a town with running stand-in agents follows a
//! sling live without a reload, a nudge sent from an agent's page arrives in
//! the agent, every page loads with no error in the browser console (a CSP
//! violation is one), and a screenshot of each page is written under the
//! target directory (`dashboard-screenshots/`, a CI artifact).
//!
//! Needs `GT_TEST_CHROMIUM` and `GT_TEST_CHROMEDRIVER` (the distribution's
//! `chromium` and `chromium-driver`, installed by `.ci/run`); without them
//! it prints one "skipped:" line, and with `CI` set it fails.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use gt_testkit::real_cli::locate;
use serde_json::{json, Value};

use crate::common::*;
use crate::dashboard::Dashboard;

/// A chromedriver of the test's own (its process group killed when dropped:
/// the driver and every browser it started).
struct Driver {
    child: Child,
    url: String,
    profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Chromium's helpers outlive the driver: every process whose
        // command line names this test's profile directory goes too, each
        // by its own pid.
        let needle = self.profile.path().to_string_lossy().into_owned();
        for pid in pids_naming(&needle) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// The processes (other than this one) whose command line contains `needle`.
fn pids_naming(needle: &str) -> Vec<u32> {
    let me = std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid > 1 && pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(needle))
                .unwrap_or(false)
        })
        .collect()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Driver {
    fn start(driver: &std::path::Path) -> Driver {
        let port = free_port();
        let profile = tempfile::tempdir().unwrap();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .env_clear()
            .env("PATH", system_path())
            .env("HOME", profile.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if ureq::get(&format!("{url}/status")).call().is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Driver {
            child,
            url,
            profile,
        }
    }

    fn capabilities(&self, chromium: &std::path::Path) -> serde_json::Map<String, Value> {
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--no-first-run",
                    "--disable-crash-reporter",
                    "--disable-breakpad",
                    "--window-size=1280,900",
                    format!("--user-data-dir={}", self.profile.path().join("profile").display()),
                ],
            },
            "goog:loggingPrefs": { "browser": "ALL" },
        });
        caps.as_object().unwrap().clone()
    }
}

/// Where the screenshots go: `<target>/dashboard-screenshots/`.
fn shots_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("dashboard-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The browser console's entries since the last call (chromedriver's log).
fn console(driver: &Driver, session: &str) -> Vec<Value> {
    let r = ureq::post(&format!("{}/session/{session}/se/log", driver.url))
        .set("Content-Type", "application/json")
        .send_string(r#"{"type":"browser"}"#)
        .expect("the browser log");
    let v: Value = serde_json::from_reader(r.into_reader()).unwrap();
    v["value"].as_array().cloned().unwrap_or_default()
}

fn errors(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .filter(|e| e["level"] == "SEVERE" || e["level"] == "ERROR")
        .map(|e| e["message"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn wait_until<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("a screenshot");
    std::fs::write(shots_dir().join(format!("{name}.png")), png).unwrap();
}

#[test]
fn the_dashboard_in_a_real_browser() {
    let Some(chromium) = locate("GT_TEST_CHROMIUM", "chromium") else {
        return;
    };
    let Some(driver_bin) = locate("GT_TEST_CHROMEDRIVER", "chromedriver") else {
        return;
    };
    let t = TestTown::new();
    t.with_rig("r");
    t.set_agent(
        "catter",
        "sh -c 'stty -icanon -echo; echo ready; exec cat >> \"$GT_TOWN/../typed-$GT_POLECAT\"'",
    );
    // Running stand-in agents, and one that types what it is sent.
    t.ok(&["sling", "a long task", "r/slow", "--agent", "standin-hang"]);
    t.ok(&["sling", "listen", "r/nux", "--agent", "catter"]);
    let typed = t.dir.path().join("typed-nux");
    t.wait_for(10, "the catter runs", |_| typed.exists());
    let dep = t.create("depends on the long task", &[]);
    let long = t
        .json(&["agents"])
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agent"] == "r/slow")
        .unwrap()["bead"]
        .as_str()
        .unwrap()
        .to_string();
    t.ok(&["bead", "dep", "add", &dep, &long]);
    let d = Dashboard::start(&t);
    let driver = Driver::start(&driver_bin);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(driver.capabilities(&chromium))
            .connect(&driver.url)
            .await
            .expect("a browser session");
        let session = c.session_id().await.unwrap().expect("a session id");

        // The printed URL: the token becomes a cookie, the overview shows.
        c.goto(&d.url).await.unwrap();
        wait_until(10, "the overview", || async {
            c.find(Locator::Css("tr.agent-row[data-agent='r/nux']"))
                .await
                .is_ok()
        })
        .await;
        assert!(
            !c.current_url().await.unwrap().as_str().contains("token="),
            "the token stays in the address bar"
        );
        // The page listens (the dot turns on), then a sling shows up
        // without a reload (a marker set in the page survives).
        wait_until(10, "the live stream", || async {
            c.find(Locator::Css("#live-state.on")).await.is_ok()
        })
        .await;
        c.execute("window.gtMarker = 42; return null;", vec![])
            .await
            .unwrap();
        shot(&c, "overview").await;
        let out = t.ok(&[
            "-q",
            "sling",
            "a task slung while watching",
            "r/live",
            "--agent",
            "standin-hang",
        ]);
        let bead = out.trim().to_string();
        wait_until(10, "the new agent on the overview", || async {
            c.find(Locator::Css("tr.agent-row[data-agent='r/live']"))
                .await
                .is_ok()
        })
        .await;
        let marker = c
            .execute("return window.gtMarker || null;", vec![])
            .await
            .unwrap();
        assert_eq!(marker, json!(42), "the page was reloaded");

        // A nudge from the agent's page arrives in the agent.
        c.goto(&format!("{}/agents/r/nux", d.base)).await.unwrap();
        let input = c
            .wait()
            .for_element(Locator::Css("form.nudge input[name=message]"))
            .await
            .unwrap();
        input.send_keys("hello from the browser").await.unwrap();
        c.find(Locator::Css("form.nudge button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_until(15, "the result line", || async {
            c.find(Locator::Css("p.flash")).await.is_ok()
        })
        .await;
        let flash = c
            .find(Locator::Css("p.flash"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(flash.starts_with("nudge delivered"), "{flash}");
        wait_until(15, "the nudge in the agent", || async {
            std::fs::read_to_string(&typed)
                .unwrap_or_default()
                .contains("hello from the browser")
        })
        .await;
        wait_until(10, "the screen", || async {
            c.find(Locator::Css("pre.screen")).await.is_ok()
        })
        .await;
        shot(&c, "agent").await;

        // Every page: loads, shows its heading, screenshot.
        for (name, path) in [
            ("agents", "/agents".to_string()),
            ("work", "/work".to_string()),
            ("bead", format!("/beads/{dep}")),
            ("convoys", "/convoys".to_string()),
            ("merge-queue", "/mq".to_string()),
            ("trail", "/trail".to_string()),
            ("mail", "/mail".to_string()),
        ] {
            c.goto(&format!("{}{path}", d.base)).await.unwrap();
            c.wait()
                .for_element(Locator::Css("main#live"))
                .await
                .unwrap();
            wait_until(10, "the stream", || async {
                c.find(Locator::Css("#live-state.on")).await.is_ok()
            })
            .await;
            shot(&c, name).await;
        }
        // The bead page draws its dependency graph.
        c.goto(&format!("{}/beads/{dep}", d.base)).await.unwrap();
        let nodes = c
            .find_all(Locator::Css("svg.graph rect.node"))
            .await
            .unwrap();
        assert_eq!(nodes.len(), 2, "the bead and what it depends on");
        let _ = bead;

        let errs = errors(&console(&driver, &session));
        assert!(errs.is_empty(), "errors in the browser console: {errs:?}");
        c.close().await.unwrap();
    });
}
