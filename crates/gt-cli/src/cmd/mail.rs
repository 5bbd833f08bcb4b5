//! `gt mail …`: durable messages between agents and humans.

use std::io::{Read, Write};

use clap::{Args, Subcommand};
use gt_lib::mail::{self, Mail, Priority};
use gt_lib::workspace::Workspace;
use gt_lib::Error;

use crate::output::{clean, one_line, ts, Ctx};

#[derive(Debug, Args)]
pub struct MailArgs {
    /// Act as this address (default: $GT_AGENT, else human).
    #[arg(long = "as", global = true, value_name = "ADDRESS")]
    as_: Option<String>,
    #[command(subcommand)]
    cmd: MailCmd,
}

#[derive(Debug, Subcommand)]
enum MailCmd {
    /// Send mail: TO... is human, mayor, deacon, RIG/POLECAT, RIG/refinery, RIG/witness, RIG/* or *.
    Send {
        #[arg(required = true, num_args = 1..)]
        to: Vec<String>,
        /// The subject (at most 200 characters).
        #[arg(short = 's', long)]
        subject: String,
        /// The body (at most 64 KiB).
        #[arg(short = 'm', long = "message", conflicts_with = "stdin")]
        body: Option<String>,
        /// Read the body from standard input.
        #[arg(long)]
        stdin: bool,
        /// urgent, high or normal (default).
        #[arg(long, default_value = "normal")]
        priority: String,
        /// The message this one answers.
        #[arg(long, value_name = "ID")]
        reply_to: Option<String>,
    },
    /// Your mail: unread by default, newest first.
    Inbox {
        /// Every message (read and archived too).
        #[arg(long)]
        all: bool,
        /// At most this many (0: no limit).
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Show a message and mark it read.
    Read { id: String },
    /// Answer a message (to its sender, same conversation).
    Reply {
        id: String,
        #[arg(short = 'm', long = "message", conflicts_with = "stdin")]
        body: Option<String>,
        #[arg(long)]
        stdin: bool,
    },
    /// The whole conversation a message belongs to.
    Thread { id: String },
    /// Archive messages.
    Archive {
        #[arg(required = true, num_args = 1..)]
        ids: Vec<String>,
    },
    /// Messages you sent or received whose subject or body contains TEXT.
    Search {
        text: String,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// For hooks and scripts: print unread mail (and queued nudges) as one
    /// block for an agent's context and mark it delivered. Exit 0 if there
    /// was any, 1 if none; with --inject always 0 (a prompt hook must not
    /// fail because the inbox is empty).
    Check {
        /// Print the block meant to be injected into an agent's context.
        #[arg(long)]
        inject: bool,
    },
}

fn body_from(body: Option<String>, stdin: bool) -> Result<String, Error> {
    if stdin {
        let mut bytes = Vec::new();
        std::io::stdin()
            .take(mail::MAX_BODY_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io("cannot read standard input", e))?;
        if bytes.len() > mail::MAX_BODY_BYTES {
            return Err(Error::invalid(format!(
                "the body is more than {} bytes; the limit is 64 KiB",
                mail::MAX_BODY_BYTES
            )));
        }
        return String::from_utf8(bytes)
            .map_err(|_| Error::invalid("the body read from standard input is not UTF-8 text"));
    }
    Ok(body.unwrap_or_default())
}

fn limit(n: usize) -> Option<usize> {
    (n > 0).then_some(n)
}

pub fn run(ctx: &Ctx, a: MailArgs) -> Result<(), Error> {
    let ws = ctx.workspace()?;
    let me = mail::caller(&ws, a.as_.as_deref())?;
    let actor = ctx.actor()?;
    match a.cmd {
        MailCmd::Send {
            to,
            subject,
            body,
            stdin,
            priority,
            reply_to,
        } => {
            let priority: Priority = priority.parse()?;
            let reply_to = reply_to.as_deref().map(mail::parse_id).transpose()?;
            let body = body_from(body, stdin)?;
            let m = mail::send_reply(&ws, &me, &to, &subject, &body, priority, reply_to, &actor)?;
            sent(ctx, &m)
        }
        MailCmd::Reply { id, body, stdin } => {
            let id = mail::parse_id(&id)?;
            let body = body_from(body, stdin)?;
            let m = mail::reply(&ws, &me, id, &body, &actor)?;
            sent(ctx, &m)
        }
        MailCmd::Inbox { all, limit: n } => {
            let list = mail::inbox(&ws, &me, all, limit(n))?;
            print_list(ctx, &list, &format!("no unread mail for {me}"))
        }
        MailCmd::Read { id } => {
            let m = mail::read(&ws, &me, mail::parse_id(&id)?, &actor)?;
            if ctx.json {
                return ctx.print_json(&m);
            }
            print_full(ctx, &m);
            Ok(())
        }
        MailCmd::Thread { id } => {
            let list = ws_thread(&ws, &me, &id)?;
            if ctx.json {
                return ctx.print_json(&list);
            }
            for (i, m) in list.iter().enumerate() {
                if i > 0 {
                    ctx.out("");
                }
                print_full(ctx, m);
            }
            Ok(())
        }
        MailCmd::Archive { ids } => {
            let ids = ids
                .iter()
                .map(|s| mail::parse_id(s))
                .collect::<Result<Vec<_>, _>>()?;
            let n = gt_lib::store::mail::MailStore::archive_mail(&ws.store, &ids, &me, &actor)?;
            if ctx.json {
                return ctx.print_json(&gt_lib::views::MailArchived { archived: n, ids });
            }
            ctx.say(&format!("archived {n} message(s)"));
            Ok(())
        }
        MailCmd::Search { text, limit: n } => {
            let list =
                gt_lib::store::mail::MailStore::search_mail(&ws.store, &me, &text, limit(n))?;
            print_list(ctx, &list, "no match")
        }
        MailCmd::Check { inject } => {
            let c = mail::check(&ws, &me, &actor)?;
            let empty = c.is_empty();
            if ctx.json {
                ctx.print_json(&c)?;
            } else if !empty {
                // --inject: verbatim, for an agent's context; otherwise
                // control characters are escaped for a terminal.
                let block = c.render();
                let block = if inject { block } else { clean(&block) };
                let _ = std::io::stdout().lock().write_all(block.as_bytes());
            }
            let _ = std::io::stdout().flush();
            if empty && !inject {
                std::process::exit(1);
            }
            Ok(())
        }
    }
}

fn ws_thread(ws: &Workspace, me: &str, id: &str) -> Result<Vec<Mail>, Error> {
    gt_lib::store::mail::MailStore::thread(&ws.store, mail::parse_id(id)?, me)
}

fn sent(ctx: &Ctx, m: &Mail) -> Result<(), Error> {
    if ctx.json {
        return ctx.print_json(m);
    }
    if ctx.quiet {
        ctx.out(&m.id.to_string());
        return Ok(());
    }
    let to = one_line(&m.to.join(", "));
    let reply = m
        .reply_to
        .map(|r| format!(" in reply to {r}"))
        .unwrap_or_default();
    ctx.out(&format!(
        "Sent mail {} to {to}{reply}: {}",
        m.id,
        one_line(&m.subject)
    ));
    Ok(())
}

fn print_list(ctx: &Ctx, list: &[Mail], empty: &str) -> Result<(), Error> {
    if ctx.json {
        return ctx.print_json(list);
    }
    if ctx.quiet {
        for m in list {
            ctx.out(&m.id.to_string());
        }
        return Ok(());
    }
    if list.is_empty() {
        ctx.say(empty);
        return Ok(());
    }
    for m in list {
        let mark = if m.read { " " } else { "*" };
        let prio = match m.priority {
            Priority::Normal => String::new(),
            p => format!("[{}] ", p.as_str()),
        };
        ctx.out(&format!(
            "{mark}{:>6}  {}  {:<16} {}{}",
            m.id,
            ctx.dim(&ts(&m.sent_at)),
            one_line(&m.from),
            prio,
            ctx.bold(&one_line(&m.subject))
        ));
    }
    Ok(())
}

fn print_full(ctx: &Ctx, m: &Mail) {
    ctx.out(&format!("Mail {} ({})", m.id, m.priority.as_str()));
    ctx.out(&format!("From: {}", one_line(&m.from)));
    ctx.out(&format!("To: {}", one_line(&m.to.join(", "))));
    ctx.out(&format!("Date: {}", ts(&m.sent_at)));
    if let Some(r) = m.reply_to {
        ctx.out(&format!("In-Reply-To: {r}"));
    }
    ctx.out(&format!("Subject: {}", ctx.bold(&one_line(&m.subject))));
    ctx.out("");
    ctx.out(clean(&m.body).trim_end());
}
