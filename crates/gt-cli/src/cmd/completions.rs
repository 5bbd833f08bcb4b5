//! `gt completions SHELL`, `gt man [--dir D]` and `gt version`: what an
//! installer or a new user needs, all generated from the one clap definition.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, CommandFactory};
use clap_complete::Shell;
use gt_lib::Error;

use crate::output::Ctx;
use crate::Cli;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    #[arg(value_enum)]
    shell: Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write one page per command (gt.1, gt-bead.1, ...) into this directory
    /// instead of printing gt.1 on stdout.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// Prints the completion script for `shell` on stdout.
pub fn completions(_ctx: &Ctx, a: CompletionsArgs) -> Result<(), Error> {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "gt", &mut buf);
    write_stdout(&buf)
}

/// Prints the roff man page of `gt`, or writes every page into `--dir`.
pub fn man(ctx: &Ctx, a: ManArgs) -> Result<(), Error> {
    let cmd = Cli::command();
    match a.dir {
        None => {
            let mut buf = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut buf)
                .map_err(|e| Error::io("cannot render the man page", e))?;
            write_stdout(&buf)
        }
        Some(dir) => {
            if !dir.is_dir() {
                return Err(Error::invalid(format!(
                    "{} is not a directory",
                    dir.display()
                )));
            }
            clap_mangen::generate_to(cmd, &dir).map_err(|e| {
                Error::io(format!("cannot write man pages to {}", dir.display()), e)
            })?;
            let mut pages: Vec<String> = std::fs::read_dir(&dir)
                .map_err(|e| Error::io(format!("cannot read {}", dir.display()), e))?
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("gt") && n.ends_with(".1"))
                .collect();
            pages.sort();
            if ctx.json {
                return ctx.print_json(&gt_lib::views::ManPagesWritten { dir, pages });
            }
            ctx.say(&format!(
                "wrote {} man pages to {}",
                pages.len(),
                crate::output::one_line(&dir.display().to_string())
            ));
            Ok(())
        }
    }
}

/// `gt version`: this gt and the newest database schema it understands.
pub fn version(ctx: &Ctx) -> Result<(), Error> {
    let version = env!("CARGO_PKG_VERSION");
    let schema = gt_lib::town::latest_schema_version();
    if ctx.json {
        return ctx.print_json(&gt_lib::views::Version {
            name: "gt",
            schema_version: schema,
            version,
        });
    }
    ctx.out(&format!("gt {version} (database schema {schema})"));
    Ok(())
}

fn write_stdout(bytes: &[u8]) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        // `gt man | head` is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::io("cannot write to standard output", e)),
    }
}
