//! `gt`: the Gas Town command. Parsing and rendering only; all behaviour lives
//! in `gt-lib`.

mod cmd;
mod output;
mod tui;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gt_lib::{Error, ErrorClass};

use crate::output::Ctx;

/// Gas Town: run many AI coding agents in parallel on your git repositories.
///
/// You describe work as beads; gt hands each bead to an agent (Claude Code,
/// Codex, ... or your own command) working in its own git worktree, watches
/// the agents, and lands their finished work on main through a merge queue
/// that runs your gates.
///
/// Start here: `gt init ~/gt`, `gt rig add NAME URL`, `gt bead create "..."`,
/// `gt sling ID NAME`, `gt up`, then `gt status` or `gt feed`. Try the whole
/// loop with no setup: `gt demo`.
#[derive(Debug, Parser)]
#[command(name = "gt", version, propagate_version = true)]
pub struct Cli {
    /// The town to use (default: $GT_TOWN, else the town containing the current directory).
    #[arg(long, global = true, value_name = "PATH")]
    town: Option<PathBuf>,
    /// Print machine-readable JSON (see docs/cli.md for the contract).
    #[arg(long, global = true)]
    json: bool,
    /// Print less: only ids and errors.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Never use colour (also honoured: NO_COLOR).
    #[arg(long, global = true)]
    no_color: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a town (workspace) in PATH (default: the current directory).
    #[command(visible_alias = "install")]
    Init(cmd::town::InitArgs),
    /// Make DIR a further host of a town whose store is PostgreSQL.
    Join(cmd::town::JoinArgs),
    /// The hosts of the town: list, set-capacity.
    #[command(subcommand)]
    Host(cmd::host::HostCmd),
    /// The town's store: migrate a SQLite town to PostgreSQL.
    #[command(subcommand)]
    Store(cmd::store::StoreCmd),
    /// Run the whole loop in a temporary town with a stand-in agent.
    Demo(cmd::demo::DemoArgs),
    /// Is the town healthy and what needs you: problems, agents, beads, queues.
    Status(cmd::town::StatusArgs),
    /// Read and write gt.toml.
    #[command(subcommand)]
    Config(cmd::config::ConfigCmd),
    /// Beads: the tracked units of work.
    #[command(subcommand)]
    Bead(cmd::bead::BeadCmd),
    /// Show a bead (same as `gt bead show`).
    Show(cmd::bead::ShowArgs),
    /// Close a bead (same as `gt bead close`).
    Close(cmd::bead::CloseArgs),
    /// Ready beads by priority, then age (same as `gt bead ready`).
    Ready(cmd::bead::ReadyArgs),
    /// Recent activity, newest last.
    Trail(cmd::trail::TrailArgs),
    /// Live view: a dashboard on a terminal, else a stream of events (--plain).
    Feed(cmd::feed::FeedArgs),
    /// Serve the town as a live web page (prints its URL with an access token).
    Dashboard(cmd::dashboard::DashboardArgs),
    /// Rigs: projects (one git repository each).
    #[command(subcommand)]
    Rig(cmd::rig::RigCmd),
    /// Polecats: worker identities with their own worktrees.
    #[command(subcommand)]
    Polecat(cmd::polecat::PolecatCmd),
    /// Hand work to agents: WORK... [TARGET].
    Sling(cmd::work::SlingArgs),
    /// The caller's hooked bead (inside an agent session).
    Hook,
    /// A short briefing for the agent (inside an agent session).
    Prime,
    /// Finish the hooked bead (inside an agent session).
    Done(cmd::work::DoneCmdArgs),
    /// Start a new session for a bead whose session ended without gt done.
    Resume(cmd::work::ResumeArgs),
    /// Live and recent agent sessions.
    Agents(cmd::agents::AgentsArgs),
    /// Token usage and cost of agent sessions, by agent, rig, bead or day.
    Costs(cmd::costs::CostsArgs),
    /// Print the tail of an agent's screen.
    Peek(cmd::agents::PeekArgs),
    /// Attach your terminal to an agent's session.
    Attach(cmd::agents::AttachArgs),
    /// Start the deacon (the town watchdog) in the background.
    Up,
    /// Stop the deacon (`--all`: also end every agent session, saving its work).
    Down(cmd::deacon::DownArgs),
    /// The deacon: status, one patrol.
    #[command(subcommand)]
    Deacon(cmd::deacon::DeaconCmd),
    /// The capacity scheduler: status, pause, resume.
    #[command(subcommand)]
    Scheduler(cmd::deacon::SchedulerCmd),
    /// Mail: durable messages between agents and humans.
    Mail(cmd::mail::MailArgs),
    /// Type a message into a live agent's session.
    Nudge(cmd::comms::NudgeArgs),
    /// Nudge every live agent (of a rig).
    Broadcast(cmd::comms::BroadcastArgs),
    /// Ask for help when blocked: an escalation bead, mailed to mayor and human.
    Escalate(cmd::comms::EscalateArgs),
    /// Restart your session on the same bead, leaving a note for the next one.
    Handoff(cmd::comms::HandoffArgs),
    /// What an agent is doing (working, idle, waiting-for-input) and how gt knows.
    AgentState(cmd::comms::AgentStateArgs),
    /// Report the caller's state (used by runtime hooks).
    #[command(hide = true)]
    AgentReport(cmd::comms::AgentReportArgs),
    /// The merge queue: list, show, retry, remove.
    #[command(subcommand)]
    Mq(cmd::mq::MqCmd),
    /// The refinery: land queued merge requests (`gt refinery run --once`).
    #[command(subcommand)]
    Refinery(cmd::mq::RefineryCmd),
    /// Rebase your branch on the rig's current target (inside an agent session).
    Rebase(cmd::mq::RebaseArgs),
    /// Convoys: beads that belong together.
    #[command(subcommand)]
    Convoy(cmd::convoy::ConvoyCmd),
    /// Formulas: workflow templates that make a molecule of dependent beads.
    #[command(subcommand)]
    Formula(cmd::formula::FormulaCmd),
    /// Molecules: the beads a formula run made.
    #[command(subcommand)]
    Mol(cmd::formula::MolCmd),
    /// Check the machine and the town: tools, database, sockets, agents.
    Doctor(cmd::doctor::DoctorArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(cmd::completions::CompletionsArgs),
    /// Print the man page (roff), or write one page per command with --dir.
    Man(cmd::completions::ManArgs),
    /// This gt's version and the database schema it supports.
    Version,
    /// The scripted stand-in agent (for tests and gt demo).
    #[command(hide = true)]
    AgentStandin(cmd::standin::StandinArgs),
}

fn run(cli: Cli, ctx: &Ctx) -> Result<(), Error> {
    match cli.command {
        Command::Init(a) => cmd::town::init(ctx, a),
        Command::Join(a) => cmd::town::join(ctx, a),
        Command::Host(c) => cmd::host::run(ctx, c),
        Command::Store(c) => cmd::store::run(ctx, c),
        Command::Status(a) => cmd::town::status(ctx, a),
        Command::Demo(a) => cmd::demo::run(ctx, a),
        Command::Config(c) => cmd::config::run(ctx, c),
        Command::Bead(c) => cmd::bead::run(ctx, c),
        Command::Show(a) => cmd::bead::show(ctx, a),
        Command::Close(a) => cmd::bead::close(ctx, a),
        Command::Ready(a) => cmd::bead::ready(ctx, a),
        Command::Trail(a) => cmd::trail::run(ctx, a),
        Command::Feed(a) => cmd::feed::run(ctx, a),
        Command::Dashboard(a) => cmd::dashboard::run(ctx, a),
        Command::Rig(c) => cmd::rig::run(ctx, c),
        Command::Polecat(c) => cmd::polecat::run(ctx, c),
        Command::Sling(a) => cmd::work::sling(ctx, a),
        Command::Hook => cmd::work::hook(ctx),
        Command::Prime => cmd::work::prime(ctx),
        Command::Done(a) => cmd::work::done(ctx, a),
        Command::Resume(a) => cmd::work::resume(ctx, a),
        Command::Agents(a) => cmd::agents::agents(ctx, a),
        Command::Costs(a) => cmd::costs::run(ctx, a),
        Command::Peek(a) => cmd::agents::peek(ctx, a),
        Command::Attach(a) => cmd::agents::attach(ctx, a),
        Command::Up => cmd::deacon::up(ctx),
        Command::Down(a) => cmd::deacon::down(ctx, a),
        Command::Deacon(c) => cmd::deacon::run(ctx, c),
        Command::Scheduler(c) => cmd::deacon::scheduler(ctx, c),
        Command::Mail(a) => cmd::mail::run(ctx, a),
        Command::Nudge(a) => cmd::comms::nudge(ctx, a),
        Command::Broadcast(a) => cmd::comms::broadcast(ctx, a),
        Command::Escalate(a) => cmd::comms::escalate(ctx, a),
        Command::Handoff(a) => cmd::comms::handoff(ctx, a),
        Command::AgentState(a) => cmd::comms::agent_state(ctx, a),
        Command::AgentReport(a) => cmd::comms::agent_report(ctx, a),
        Command::Mq(c) => cmd::mq::run(ctx, c),
        Command::Refinery(c) => cmd::mq::refinery(ctx, c),
        Command::Rebase(a) => cmd::mq::rebase(ctx, a),
        Command::Convoy(c) => cmd::convoy::run(ctx, c),
        Command::Formula(c) => cmd::formula::run(ctx, c),
        Command::Mol(c) => cmd::formula::mol(ctx, c),
        Command::Doctor(a) => cmd::doctor::run(ctx, a),
        Command::Completions(a) => cmd::completions::completions(ctx, a),
        Command::Man(a) => cmd::completions::man(ctx, a),
        Command::Version => cmd::completions::version(ctx),
        Command::AgentStandin(_) => unreachable!("handled in main"),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let ctx = Ctx::new(cli.town.clone(), cli.json, cli.quiet, cli.no_color);
    if let Command::AgentStandin(a) = cli.command {
        return match cmd::standin::run(a) {
            Ok(code) => ExitCode::from(code),
            Err(e) => {
                ctx.error(&e);
                ExitCode::from(1)
            }
        };
    }
    match run(cli, &ctx) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            ctx.error(&e);
            ExitCode::from(match e.class() {
                ErrorClass::User => 1,
                ErrorClass::Environment => 3,
                ErrorClass::Internal => 4,
            })
        }
    }
}

/// Help and version print as clap renders them (exit 0). A usage error
/// (exit 2, clap's convention) echoes the user's arguments, so it is printed
/// with control and bidirectional characters escaped.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        // Text of gt's own, never the user's arguments.
        e.exit()
    }
    let text = e.render().to_string();
    let mut stderr = std::io::stderr().lock();
    let _ = std::io::Write::write_all(&mut stderr, output::clean(&text).as_bytes());
    ExitCode::from(2)
}
