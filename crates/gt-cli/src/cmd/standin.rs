//! `gt agent-standin`: the scripted stand-in agent (hidden; for tests and
//! `gt demo`). It is a real program run in tmux like any agent.

use std::time::Duration;

use clap::Args;
use gt_lib::Error;
use gt_standin::{self as standin, Behavior, StandinOptions};

#[derive(Debug, Args)]
pub struct StandinArgs {
    /// finish, crash, hang, exit-without-done, prompt, slow or conflict
    /// (default: $GT_STANDIN_BEHAVIOR, else finish).
    #[arg(long)]
    behavior: Option<String>,
    /// Wait this long before working (slow: how long to think; default 2000).
    #[arg(long)]
    delay_ms: Option<u64>,
    /// File to write, relative to the worktree.
    #[arg(long)]
    file: Option<String>,
    /// Text to write.
    #[arg(long)]
    text: Option<String>,
}

/// Runs the stand-in and returns its exit code.
pub fn run(a: StandinArgs) -> Result<u8, Error> {
    let behavior = match &a.behavior {
        Some(b) => b.parse::<Behavior>()?,
        None => Behavior::from_env_checked()?.unwrap_or_default(),
    };
    let mut opts = StandinOptions::new(behavior);
    if let Some(ms) = a.delay_ms {
        opts.delay = Duration::from_millis(ms);
        opts.start_delay = Some(Duration::from_millis(ms));
    }
    opts.file = a.file;
    opts.text = a.text;
    let code = standin::run(&opts, &mut std::io::stdout());
    Ok(u8::try_from(code).unwrap_or(1))
}
