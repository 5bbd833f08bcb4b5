//! Mail: durable messages between agents and humans, stored in the town
//! database (one transaction per send, with its `mail.sent` event).
//!
//! Addresses: `human` (the overseer), `mayor`, `deacon`, `RIG/POLECAT`,
//! `RIG/refinery`, `RIG/witness`, `RIG/*` (every polecat of a rig) and `*`
//! (every polecat of the town). Group addresses are expanded when a message
//! is sent, so each polecat has its own copy and its own read state.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::polecat::validate_name;
use crate::store::mail::{InboxFilter, MailStore, NewMail, QueuedNudge};
use crate::store::RigStore;
use crate::workspace::Workspace;

pub use crate::store::mail::{Mail, Priority};

/// Stable event kinds of mail.
pub mod kind {
    pub const SENT: &str = crate::event::EventKind::MailSent.as_str();
    pub const READ: &str = crate::event::EventKind::MailRead.as_str();
    pub const ARCHIVED: &str = crate::event::EventKind::MailArchived.as_str();
}

/// Longest subject, in characters.
pub const MAX_SUBJECT_CHARS: usize = 200;
/// Largest body, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Most recipients of one message (after expansion).
pub const MAX_RECIPIENTS: usize = 1000;

const VALID_FORMS: &str =
    "use human, mayor, deacon, RIG/POLECAT, RIG/refinery, RIG/witness, RIG/* or *";

/// A parsed address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Human,
    Mayor,
    Deacon,
    Polecat {
        rig: String,
        name: String,
    },
    Refinery(String),
    Witness(String),
    /// `RIG/*`.
    Rig(String),
    /// `*`.
    All,
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Human => f.write_str("human"),
            Address::Mayor => f.write_str("mayor"),
            Address::Deacon => f.write_str("deacon"),
            Address::Polecat { rig, name } => write!(f, "{rig}/{name}"),
            Address::Refinery(r) => write!(f, "{r}/refinery"),
            Address::Witness(r) => write!(f, "{r}/witness"),
            Address::Rig(r) => write!(f, "{r}/*"),
            Address::All => f.write_str("*"),
        }
    }
}

/// Parses an address (syntax only; see [`resolve`] for existence).
pub fn parse(addr: &str) -> Result<Address> {
    let bad = || {
        Error::invalid(format!(
            "unknown address '{}': {VALID_FORMS}",
            addr.escape_debug()
        ))
    };
    match addr {
        "human" => return Ok(Address::Human),
        "mayor" => return Ok(Address::Mayor),
        "deacon" => return Ok(Address::Deacon),
        "*" => return Ok(Address::All),
        _ => {}
    }
    let (rig, name) = addr.split_once('/').ok_or_else(bad)?;
    validate_name("rig", rig).map_err(|_| bad())?;
    match name {
        "*" => Ok(Address::Rig(rig.to_string())),
        "refinery" => Ok(Address::Refinery(rig.to_string())),
        "witness" => Ok(Address::Witness(rig.to_string())),
        _ => {
            validate_name("polecat", name).map_err(|_| bad())?;
            Ok(Address::Polecat {
                rig: rig.to_string(),
                name: name.to_string(),
            })
        }
    }
}

/// Checks that an address names something of this town and expands groups:
/// the concrete mailbox addresses, in order, without duplicates.
pub fn resolve(ws: &Workspace, addrs: &[String]) -> Result<Vec<String>> {
    if addrs.is_empty() {
        return Err(Error::invalid("give at least one recipient"));
    }
    let mut out: Vec<String> = Vec::new();
    let push = |a: String, out: &mut Vec<String>| {
        if !out.contains(&a) {
            out.push(a);
        }
    };
    for raw in addrs {
        match parse(raw)? {
            Address::Polecat { rig, name } => {
                ws.store.get_polecat(&rig, &name)?;
                push(format!("{rig}/{name}"), &mut out);
            }
            a @ (Address::Refinery(_) | Address::Witness(_)) => {
                let rig = match &a {
                    Address::Refinery(r) | Address::Witness(r) => r.clone(),
                    _ => unreachable!("matched above"),
                };
                ws.store.get_rig(&rig)?;
                push(a.to_string(), &mut out);
            }
            Address::Rig(rig) => {
                ws.store.get_rig(&rig)?;
                let pcs = ws.store.list_polecats(Some(&rig))?;
                if pcs.is_empty() {
                    return Err(Error::refused(format!("rig {rig} has no polecats")));
                }
                for p in pcs {
                    push(p.address(), &mut out);
                }
            }
            Address::All => {
                let pcs = ws.store.list_polecats(None)?;
                if pcs.is_empty() {
                    return Err(Error::refused("the town has no polecats"));
                }
                for p in pcs {
                    push(p.address(), &mut out);
                }
            }
            a => push(a.to_string(), &mut out),
        }
    }
    if out.len() > MAX_RECIPIENTS {
        return Err(Error::invalid(format!(
            "{} recipients; the limit is {MAX_RECIPIENTS}",
            out.len()
        )));
    }
    Ok(out)
}

/// The caller's own address: `as_` when given, else `GT_AGENT`, else `human`.
/// It must be a single address (not a group); a polecat must exist.
pub fn caller(ws: &Workspace, as_: Option<&str>) -> Result<String> {
    let addr = as_
        .map(str::to_string)
        .or_else(|| ws.caller.agent().map(str::to_string))
        .unwrap_or_else(|| "human".into());
    match parse(&addr)? {
        Address::Rig(_) | Address::All => Err(Error::invalid(format!(
            "'{}' is a group: act as one address",
            addr.escape_debug()
        ))),
        _ => Ok(resolve(ws, &[addr])?.remove(0)),
    }
}

/// Checks a subject and body against the limits.
pub fn validate(subject: &str, body: &str) -> Result<()> {
    let n = subject.chars().count();
    if subject.trim().is_empty() {
        return Err(Error::invalid("the subject must not be empty"));
    }
    if n > MAX_SUBJECT_CHARS {
        return Err(Error::invalid(format!(
            "the subject is {n} characters; the limit is {MAX_SUBJECT_CHARS}"
        )));
    }
    gt_core::bead::refuse_nul("the subject", subject)?;
    gt_core::bead::refuse_nul("the body", body)?;
    if body.len() > MAX_BODY_BYTES {
        return Err(Error::invalid(format!(
            "the body is {} bytes; the limit is {MAX_BODY_BYTES} (64 KiB)",
            body.len()
        )));
    }
    Ok(())
}

/// Sends mail as `from` to addresses (validated, `*`/`rig/*` expanded), one
/// transaction + `mail.sent` event; returns the message. Idle recipients that
/// run in tmux get a one-line notice typed into their session (best effort).
pub fn send(
    ws: &Workspace,
    from: &str,
    to: &[String],
    subject: &str,
    body: &str,
    priority: Priority,
    actor: &str,
) -> Result<Mail> {
    send_reply(ws, from, to, subject, body, priority, None, actor)
}

/// [`send`] with an optional message it answers (same conversation).
#[allow(clippy::too_many_arguments)]
pub fn send_reply(
    ws: &Workspace,
    from: &str,
    to: &[String],
    subject: &str,
    body: &str,
    priority: Priority,
    reply_to: Option<i64>,
    actor: &str,
) -> Result<Mail> {
    validate(subject, body)?;
    parse(from)?;
    let to = resolve(ws, to)?;
    let mail = ws.store.send_mail(
        &NewMail {
            from,
            to: &to,
            subject,
            body,
            priority,
            reply_to,
        },
        actor,
    )?;
    for r in &mail.to {
        if r != from {
            crate::nudge::notify_mail(ws, r, &mail);
        }
    }
    Ok(mail)
}

/// `gt mail reply ID`: to the sender of ID, same conversation, `Re:` subject.
pub fn reply(ws: &Workspace, me: &str, id: i64, body: &str, actor: &str) -> Result<Mail> {
    let orig = ws.store.get_mail(id, me)?;
    let subject = if orig.subject.starts_with("Re: ") {
        orig.subject.clone()
    } else {
        let s = format!("Re: {}", orig.subject);
        s.chars().take(MAX_SUBJECT_CHARS).collect()
    };
    send_reply(
        ws,
        me,
        std::slice::from_ref(&orig.from),
        &subject,
        body,
        orig.priority,
        Some(id),
        actor,
    )
}

/// The caller's mailbox: unread (default), or everything with `all`.
pub fn inbox(ws: &Workspace, me: &str, all: bool, limit: Option<usize>) -> Result<Vec<Mail>> {
    let f = if all {
        InboxFilter::All
    } else {
        InboxFilter::Unread
    };
    ws.store.inbox(me, f, limit)
}

/// Reads one message and marks it read for the caller.
pub fn read(ws: &Workspace, me: &str, id: i64, actor: &str) -> Result<Mail> {
    let mut m = ws.store.get_mail(id, me)?;
    if !m.read {
        ws.store.mark_read(&[id], me, actor)?;
        m.read = true;
    }
    Ok(m)
}

/// What `gt mail check` gives an agent.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub agent: String,
    pub mail: Vec<Mail>,
    pub nudges: Vec<QueuedNudge>,
}

impl Check {
    pub fn is_empty(&self) -> bool {
        self.mail.is_empty() && self.nudges.is_empty()
    }

    /// One compact block meant for an agent's context.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if !self.mail.is_empty() {
            out.push_str(&format!(
                "<gt-mail for=\"{}\" count=\"{}\">\n",
                self.agent,
                self.mail.len()
            ));
            for m in &self.mail {
                out.push_str(&format!(
                    "--- mail {} from {} ({}) {}\nSubject: {}\n",
                    m.id,
                    m.from,
                    m.priority.as_str(),
                    m.sent_at,
                    m.subject
                ));
                if !m.body.is_empty() {
                    out.push_str(m.body.trim_end());
                    out.push('\n');
                }
            }
            out.push_str("</gt-mail>\nReply with: gt mail reply ID -m \"...\"\n");
        }
        for n in &self.nudges {
            out.push_str(&format!("[nudge from {}] {}\n", n.from, n.message));
        }
        out
    }
}

/// `gt mail check`: the caller's unread mail and queued nudges, marked
/// delivered in one transaction.
pub fn check(ws: &Workspace, me: &str, actor: &str) -> Result<Check> {
    let (mail, nudges) = ws.store.take_unread(me, actor)?;
    Ok(Check {
        agent: me.to_string(),
        mail,
        nudges,
    })
}

/// Unread mail of `agent` as a Markdown section for `gt prime` (empty when
/// there is none). Reading it does not mark it read.
pub fn prime_section(ws: &Workspace, agent: &str) -> Result<String> {
    let unread = ws.store.inbox(agent, InboxFilter::Unread, Some(20))?;
    if unread.is_empty() {
        return Ok(String::new());
    }
    let mut md = format!("\n## Unread mail ({})\n", unread.len());
    for m in unread.iter().rev() {
        md.push_str(&format!(
            "\n### {} — from {} (mail {})\n",
            m.subject, m.from, m.id
        ));
        if !m.body.trim().is_empty() {
            md.push_str(&format!("{}\n", m.body.trim()));
        }
    }
    md.push_str("\n(`gt mail read ID` marks one read.)\n");
    Ok(md)
}

/// Parses a mail id (a positive integer).
pub fn parse_id(s: &str) -> Result<i64> {
    s.parse::<i64>().ok().filter(|&n| n > 0).ok_or_else(|| {
        Error::invalid(format!(
            "invalid mail id '{}': use the number gt mail inbox shows",
            s.escape_debug()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_addresses_parse() {
        assert_eq!(parse("human").unwrap(), Address::Human);
        assert_eq!(parse("mayor").unwrap(), Address::Mayor);
        assert_eq!(parse("deacon").unwrap(), Address::Deacon);
        assert_eq!(parse("*").unwrap(), Address::All);
        assert_eq!(parse("r/*").unwrap(), Address::Rig("r".into()));
        assert_eq!(parse("r/refinery").unwrap(), Address::Refinery("r".into()));
        assert_eq!(parse("r/witness").unwrap(), Address::Witness("r".into()));
        assert_eq!(
            parse("r/nux").unwrap(),
            Address::Polecat {
                rig: "r".into(),
                name: "nux".into()
            }
        );
        for bad in [
            "", "Human", "r", "r/", "/x", "r/x/y", "R/x", "r/x;", "$(x)", "r/-x", "**", "r/**",
        ] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(e.contains("RIG/POLECAT"), "{bad:?}: {e}");
        }
        for a in ["human", "r/*", "r/nux", "r/refinery", "*"] {
            assert_eq!(parse(a).unwrap().to_string(), a);
        }
    }

    #[test]
    fn mail_limits() {
        validate("s", "").unwrap();
        validate(&"é".repeat(200), &"x".repeat(MAX_BODY_BYTES)).unwrap();
        assert!(validate(&"é".repeat(201), "").is_err());
        assert!(validate("s", &"x".repeat(MAX_BODY_BYTES + 1)).is_err());
        assert!(validate("  ", "").is_err());
        assert_eq!(parse_id("12").unwrap(), 12);
        for bad in ["0", "-1", "x", "", "1.5"] {
            assert!(parse_id(bad).is_err());
        }
    }
}
