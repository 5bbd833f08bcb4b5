//! `gt`: the Gas Town command. Parsing and rendering only; all behaviour lives
//! in `gt-lib`.

mod cmd;
mod output;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gt_lib::{Error, ErrorClass};

use crate::output::Ctx;

/// Gas Town: run many AI coding agents in parallel on real repositories.
#[derive(Debug, Parser)]
#[command(name = "gt", version, about, propagate_version = true)]
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
    /// Overview of the town: beads by status.
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
}

fn run(cli: Cli, ctx: &Ctx) -> Result<(), Error> {
    match cli.command {
        Command::Init(a) => cmd::town::init(ctx, a),
        Command::Status(a) => cmd::town::status(ctx, a),
        Command::Config(c) => cmd::config::run(ctx, c),
        Command::Bead(c) => cmd::bead::run(ctx, c),
        Command::Show(a) => cmd::bead::show(ctx, a),
        Command::Close(a) => cmd::bead::close(ctx, a),
        Command::Ready(a) => cmd::bead::ready(ctx, a),
        Command::Trail(a) => cmd::trail::run(ctx, a),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Help and version exit 0; usage errors exit 2 (clap's convention).
        Err(e) => e.exit(),
    };
    let ctx = Ctx::new(cli.town.clone(), cli.json, cli.quiet, cli.no_color);
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
