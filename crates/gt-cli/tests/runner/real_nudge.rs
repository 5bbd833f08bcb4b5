//! `gt nudge` reaching a REAL agent TUI verbatim (issue 12 §4): the real
//! Claude Code slung through gt answers its first prompt and waits at its
//! prompt; `gt nudge` (wait-idle) types a text full of shell and quoting
//! characters; the scripted model server receives exactly that text as the
//! next user turn; mail sent to it reaches the model through the prompt
//! hook's `gt mail check --inject`. Without `GT_TEST_CLAUDE` the test prints one line and
//! returns, unless `CI` is set (then it fails).

use gt_testkit::model_server::{when, ModelServer, Reply, Script};
use gt_testkit::real_cli;

use crate::common::TestTown;
use crate::real_support::{
    assert_nothing_left, assert_nudge_verbatim, claude_caller, path_with, NUDGE,
};

#[test]
fn a_nudge_and_mail_reach_the_real_claude_verbatim() {
    let Some(claude) = real_cli::locate("GT_TEST_CLAUDE", "claude") else {
        return;
    };
    let t = TestTown::new();
    t.with_rig("app");
    let path = path_with(&claude);
    let script = Script::new()
        .when(
            when::contains("MAIL-BODY-9c2"),
            Reply::text("Read the mail."),
        )
        .when(when::contains(NUDGE), Reply::text("Got the nudge."))
        .when(
            when::and(when::offers_tools(), when::user_turn()),
            Reply::text("Waiting for instructions."),
        )
        .otherwise(Reply::text("ok"));
    let server = ModelServer::start(script).unwrap();
    let base = server.base_url();
    let owned = claude_caller(&path, &base, "scripted");
    let caller: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    t.ok_env(&caller, &["rig", "trust", "app"]);
    let out = t.ok_env(
        &caller,
        &[
            "--json",
            "sling",
            "wait for a nudge",
            "app",
            "--agent",
            "claude",
        ],
    );
    let slung: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    let agent = slung["agent"].as_str().unwrap().to_string();
    // Its first turn answered, the agent's Stop hook reports it idle.
    assert_nudge_verbatim(&t, &server, &agent, slung["session"].as_str().unwrap());

    // Mail to the idle agent: gt types its one-line notice, and the prompt
    // hook (`gt mail check --inject`) puts the mail itself into the
    // model's context.
    t.wait_for(60, "claude idle after the nudge", |t| {
        t.json(&["agent-state", &agent])["state"] == "idle"
    });
    t.ok(&[
        "mail",
        "send",
        &agent,
        "-s",
        "From the human",
        "-m",
        "MAIL-BODY-9c2: the tests must pass first",
    ]);
    t.wait_for(60, "the mail at the model", |_| {
        server.requests().iter().any(|r| {
            r.contains("MAIL-BODY-9c2: the tests must pass first") && r.contains("From the human")
        })
    });
    assert_nothing_left(&t);
}
