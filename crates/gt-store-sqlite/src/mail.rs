//! SQLite backend for issue 4: mail, the nudge queue, escalations, hand-offs
//! and agent state. Every state change is one transaction with its event.

use rusqlite::{params, OptionalExtension, Row, Transaction};

use super::work::fetch_session;
use super::DbResult;
use super::{insert_event, SqliteStore};
use gt_core::error::{Error, Result};
use gt_core::rules::comms::{self as rules, MailboxMove};
use gt_core::session::Session;
use gt_store::mail::{
    AgentStateRecord, Escalation, HandoffRequest, InboxFilter, Mail, MailStore, NewMail,
    QueuedNudge,
};

/// Columns of a mail row as seen by a viewer (`?1` is the viewer).
const MAIL_COLS: &str = "m.id, m.sender, m.recipients, m.subject, m.body, m.priority, m.sent_at,
    m.reply_to, m.thread, b.state";

fn mail_from_row(r: &Row<'_>) -> rusqlite::Result<Mail> {
    let to: String = r.get(2)?;
    let priority: String = r.get(5)?;
    let state: Option<String> = r.get(9)?;
    Ok(Mail {
        id: r.get(0)?,
        from: r.get(1)?,
        to: serde_json::from_str(&to).unwrap_or_default(),
        subject: r.get(3)?,
        body: r.get(4)?,
        priority: priority.parse().unwrap_or_default(),
        sent_at: r.get(6)?,
        reply_to: r.get(7)?,
        thread: r.get(8)?,
        read: state.as_deref() != Some("unread"),
        archived: state.as_deref() == Some("archived"),
    })
}

fn nudge_from_row(r: &Row<'_>) -> rusqlite::Result<QueuedNudge> {
    Ok(QueuedNudge {
        id: r.get(0)?,
        agent: r.get(1)?,
        from: r.get(2)?,
        message: r.get(3)?,
        queued_at: r.get(4)?,
    })
}

const ESC_COLS: &str = "id, bead, sender, severity, message, source_bead, mail_id, created_at,
    acked_at, acked_by";

fn escalation_from_row(r: &Row<'_>) -> rusqlite::Result<Escalation> {
    Ok(Escalation {
        id: r.get(0)?,
        bead: r.get(1)?,
        from: r.get(2)?,
        severity: crate::parsed(r, 3, "severity")?,
        message: r.get(4)?,
        source_bead: r.get(5)?,
        mail: r.get(6)?,
        created_at: r.get(7)?,
        acked_at: r.get(8)?,
        acked_by: r.get(9)?,
    })
}

/// Inserts a message and its recipients' mailbox rows; returns it as sent.
fn insert_mail(tx: &Transaction<'_>, m: &NewMail<'_>, now: &str, actor: &str) -> Result<Mail> {
    rules::check_mail(m)?;
    let thread = match m.reply_to {
        Some(r) => tx
            .prepare_cached("SELECT thread FROM mail WHERE id = ?1")
            .db()?
            .query_row([r], |row| row.get::<_, i64>(0))
            .optional()
            .db()?
            .ok_or_else(|| Error::not_found("mail", r.to_string()))?,
        None => 0,
    };
    let to_json = serde_json::to_string(m.to).map_err(|e| Error::Internal(e.to_string()))?;
    tx.prepare_cached(
        "INSERT INTO mail (sender, recipients, subject, body, priority, sent_at, reply_to, thread)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .db()?
    .execute(params![
        m.from,
        to_json,
        m.subject,
        m.body,
        m.priority.as_str(),
        now,
        m.reply_to,
        thread
    ])
    .db()?;
    let id = tx.last_insert_rowid();
    let thread = if m.reply_to.is_none() {
        tx.prepare_cached("UPDATE mail SET thread = ?1 WHERE id = ?1")
            .db()?
            .execute([id])
            .db()?;
        id
    } else {
        thread
    };
    {
        let mut ins = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO mailbox (owner, mail_id, state, updated_at)
             VALUES (?1, ?2, 'unread', ?3)",
            )
            .db()?;
        for to in m.to {
            ins.execute(params![to, id, now]).db()?;
        }
    }
    insert_event(tx, now, actor, &rules::mail_sent(m, id, thread))?;
    Ok(Mail {
        id,
        from: m.from.to_string(),
        to: m.to.to_vec(),
        subject: m.subject.to_string(),
        body: m.body.to_string(),
        priority: m.priority,
        sent_at: now.to_string(),
        reply_to: m.reply_to,
        thread,
        read: false,
        archived: false,
    })
}

fn viewable(conn: &rusqlite::Connection, id: i64, viewer: &str) -> Result<Mail> {
    conn.prepare_cached(&format!(
        "SELECT {MAIL_COLS} FROM mail m LEFT JOIN mailbox b ON b.mail_id = m.id AND b.owner = ?2
         WHERE m.id = ?1 AND (b.owner IS NOT NULL OR m.sender = ?2 OR ?2 = 'human')"
    ))
    .db()?
    .query_row(params![id, viewer], mail_from_row)
    .optional()
    .db()?
    .ok_or_else(|| Error::not_found("mail", id.to_string()))
}

/// Moves `owner`'s copies of `ids` as `mv` says (only forward: unread →
/// read → archived). All ids must be in the mailbox.
fn set_state(
    tx: &Transaction<'_>,
    ids: &[i64],
    owner: &str,
    mv: MailboxMove,
    now: &str,
) -> Result<Vec<i64>> {
    let mut changed = Vec::new();
    for &id in ids {
        let cur: Option<String> = tx
            .prepare_cached("SELECT state FROM mailbox WHERE owner = ?1 AND mail_id = ?2")
            .db()?
            .query_row(params![owner, id], |r| r.get(0))
            .optional()
            .db()?;
        let Some(cur) = cur else {
            return Err(Error::not_found(
                "mail",
                format!("{id} (in the mailbox of {owner})"),
            ));
        };
        if mv.moves(&cur) {
            tx.prepare_cached(
                "UPDATE mailbox SET state = ?3, updated_at = ?4 WHERE owner = ?1 AND mail_id = ?2",
            )
            .db()?
            .execute(params![owner, id, mv.state(), now])
            .db()?;
            changed.push(id);
        }
    }
    Ok(changed)
}

impl MailStore for SqliteStore {
    fn send_mail(&self, m: &NewMail<'_>, actor: &str) -> Result<Mail> {
        let now = self.now();
        self.write(|tx| insert_mail(tx, m, &now, actor))
    }

    fn inbox(&self, owner: &str, filter: InboxFilter, limit: Option<usize>) -> Result<Vec<Mail>> {
        let cond = match filter {
            InboxFilter::Unread => "b.state = 'unread'",
            InboxFilter::Current => "b.state IN ('unread', 'read')",
            InboxFilter::All => "1 = 1",
        };
        let mut stmt = self
            .conn()
            .prepare_cached(&format!(
                "SELECT {MAIL_COLS} FROM mailbox b JOIN mail m ON m.id = b.mail_id
             WHERE b.owner = ?1 AND {cond} ORDER BY b.mail_id DESC LIMIT ?2"
            ))
            .db()?;
        let limit = limit.map(|l| l as i64).unwrap_or(-1);
        let rows = stmt.query_map(params![owner, limit], mail_from_row).db()?;
        rows.collect::<rusqlite::Result<_>>().db()
    }

    fn get_mail(&self, id: i64, viewer: &str) -> Result<Mail> {
        viewable(self.conn(), id, viewer)
    }

    fn mark_read(&self, ids: &[i64], owner: &str, actor: &str) -> Result<usize> {
        self.set_mail_state(ids, owner, MailboxMove::Read, actor)
    }

    fn archive_mail(&self, ids: &[i64], owner: &str, actor: &str) -> Result<usize> {
        self.set_mail_state(ids, owner, MailboxMove::Archive, actor)
    }

    fn take_unread(&self, owner: &str, actor: &str) -> Result<(Vec<Mail>, Vec<QueuedNudge>)> {
        // A cheap read first: most checks find nothing and write nothing.
        let any: bool = self
            .conn()
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM mailbox WHERE owner = ?1 AND state = 'unread')
                     OR EXISTS (SELECT 1 FROM nudge_queue WHERE agent = ?1
                                AND delivered_at IS NULL)",
            )
            .db()?
            .query_row([owner], |r| r.get(0))
            .db()?;
        if !any {
            return Ok((Vec::new(), Vec::new()));
        }
        let now = self.now();
        self.write(|tx| {
            let mails: Vec<Mail> = tx
                .prepare_cached(&format!(
                    "SELECT {MAIL_COLS} FROM mailbox b JOIN mail m ON m.id = b.mail_id
                     WHERE b.owner = ?1 AND b.state = 'unread' ORDER BY b.mail_id"
                ))
                .db()?
                .query_map([owner], mail_from_row)
                .db()?
                .collect::<rusqlite::Result<_>>()
                .db()?;
            let nudges: Vec<QueuedNudge> = tx
                .prepare_cached(
                    "SELECT id, agent, sender, message, queued_at FROM nudge_queue
                     WHERE agent = ?1 AND delivered_at IS NULL ORDER BY id",
                )
                .db()?
                .query_map([owner], nudge_from_row)
                .db()?
                .collect::<rusqlite::Result<_>>()
                .db()?;
            let ids: Vec<i64> = mails.iter().map(|m| m.id).collect();
            set_state(tx, &ids, owner, MailboxMove::Read, &now)?;
            if let Some(ev) = rules::mail_given(owner, &ids) {
                insert_event(tx, &now, actor, &ev)?;
            }
            for n in &nudges {
                tx.prepare_cached("UPDATE nudge_queue SET delivered_at = ?2 WHERE id = ?1")
                    .db()?
                    .execute(params![n.id, now])
                    .db()?;
                insert_event(tx, &now, actor, &rules::queued_nudge_given(owner, n))?;
            }
            let mut mails = mails;
            for m in &mut mails {
                m.read = true;
            }
            Ok((mails, nudges))
        })
    }

    fn thread(&self, id: i64, viewer: &str) -> Result<Vec<Mail>> {
        let first = viewable(self.conn(), id, viewer)?;
        let mut stmt = self
            .conn()
            .prepare_cached(&format!(
            "SELECT {MAIL_COLS} FROM mail m LEFT JOIN mailbox b ON b.mail_id = m.id AND b.owner = ?2
             WHERE m.thread = ?1 AND (b.owner IS NOT NULL OR m.sender = ?2 OR ?2 = 'human')
             ORDER BY m.id"
        ))
            .db()?;
        let rows = stmt
            .query_map(params![first.thread, viewer], mail_from_row)
            .db()?;
        rows.collect::<rusqlite::Result<_>>().db()
    }

    fn search_mail(&self, owner: &str, text: &str, limit: Option<usize>) -> Result<Vec<Mail>> {
        let escaped = text
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let pattern = format!("%{escaped}%");
        let mut stmt = self
            .conn()
            .prepare_cached(&format!(
            "SELECT {MAIL_COLS} FROM mail m LEFT JOIN mailbox b ON b.mail_id = m.id AND b.owner = ?1
             WHERE (b.owner IS NOT NULL OR m.sender = ?1)
               AND (m.subject LIKE ?2 ESCAPE '\\' OR m.body LIKE ?2 ESCAPE '\\')
             ORDER BY m.id DESC LIMIT ?3"
        ))
            .db()?;
        let limit = limit.map(|l| l as i64).unwrap_or(-1);
        let rows = stmt
            .query_map(params![owner, pattern, limit], mail_from_row)
            .db()?;
        rows.collect::<rusqlite::Result<_>>().db()
    }

    fn queue_nudge(
        &self,
        agent: &str,
        from: &str,
        message: &str,
        actor: &str,
    ) -> Result<QueuedNudge> {
        let now = self.now();
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO nudge_queue (agent, sender, message, queued_at) VALUES (?1, ?2, ?3, ?4)",
            ).db()?
            .execute(params![agent, from, message, now]).db()?;
            let n = QueuedNudge {
                id: tx.last_insert_rowid(),
                agent: agent.to_string(),
                from: from.to_string(),
                message: message.to_string(),
                queued_at: now.clone(),
            };
            insert_event(tx, &now, actor, &rules::nudge_queued(&n))?;
            Ok(n)
        })
    }

    fn record_nudge(&self, agent: &str, from: &str, message: &str, actor: &str) -> Result<()> {
        let now = self.now();
        self.write(|tx| {
            insert_event(
                tx,
                &now,
                actor,
                &rules::nudge_delivered(agent, from, message),
            )
            .map(drop)
        })
    }

    fn pending_nudges(&self, agent: &str) -> Result<Vec<QueuedNudge>> {
        let mut stmt = self
            .conn()
            .prepare_cached(
                "SELECT id, agent, sender, message, queued_at FROM nudge_queue
             WHERE agent = ?1 AND delivered_at IS NULL ORDER BY id",
            )
            .db()?;
        let rows = stmt.query_map([agent], nudge_from_row).db()?;
        rows.collect::<rusqlite::Result<_>>().db()
    }

    fn mark_nudge_delivered(&self, id: i64) -> Result<bool> {
        let now = self.now();
        self.write(|tx| {
            Ok(tx
                .prepare_cached(
                    "UPDATE nudge_queue SET delivered_at = ?2 WHERE id = ?1 AND delivered_at IS NULL",
                ).db()?
                .execute(params![id, now]).db()?
                > 0)
        })
    }

    fn set_agent_state(&self, agent: &str, state: &str, source: &str) -> Result<()> {
        let now = self.now();
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO agent_state (agent, state, source, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (agent) DO UPDATE SET state = ?2, source = ?3, updated_at = ?4",
            )
            .db()?
            .execute(params![agent, state, source, now])
            .db()?;
            Ok(())
        })
    }

    fn agent_state(&self, agent: &str) -> Result<Option<AgentStateRecord>> {
        self.conn()
            .prepare_cached(
                "SELECT agent, state, source, updated_at FROM agent_state WHERE agent = ?1",
            )
            .db()?
            .query_row([agent], |r| {
                Ok(AgentStateRecord {
                    agent: r.get(0)?,
                    state: r.get(1)?,
                    source: r.get(2)?,
                    updated_at: r.get(3)?,
                })
            })
            .optional()
            .db()
    }

    fn add_escalation(
        &self,
        bead: &str,
        from: &str,
        severity: gt_core::mail::Severity,
        message: &str,
        source_bead: Option<&str>,
        mail: &NewMail<'_>,
        actor: &str,
    ) -> Result<Escalation> {
        let now = self.now();
        self.write(|tx| {
            let sent = insert_mail(tx, mail, &now, actor)?;
            tx.prepare_cached(
                "INSERT INTO escalations (bead, sender, severity, message, source_bead, mail_id,
                                          created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .db()?
            .execute(params![
                bead,
                from,
                severity.as_str(),
                message,
                source_bead,
                sent.id,
                now
            ])
            .db()?;
            let e = Escalation {
                id: tx.last_insert_rowid(),
                bead: bead.to_string(),
                from: from.to_string(),
                severity,
                message: message.to_string(),
                source_bead: source_bead.map(str::to_string),
                mail: Some(sent.id),
                created_at: now.clone(),
                acked_at: None,
                acked_by: None,
            };
            insert_event(tx, &now, actor, &rules::escalated(&e))?;
            Ok(e)
        })
    }

    fn list_escalations(&self, open_only: bool) -> Result<Vec<Escalation>> {
        let mut stmt = self
            .conn()
            .prepare_cached(&format!(
                "SELECT {ESC_COLS} FROM escalations WHERE ?1 = 0 OR acked_at IS NULL ORDER BY id"
            ))
            .db()?;
        let rows = stmt
            .query_map([open_only as i64], escalation_from_row)
            .db()?;
        rows.collect::<rusqlite::Result<_>>().db()
    }

    fn ack_escalation(&self, id_or_bead: &str, actor: &str) -> Result<Escalation> {
        let now = self.now();
        self.write(|tx| {
            let mut e = tx
                .prepare_cached(&format!(
                    "SELECT {ESC_COLS} FROM escalations WHERE bead = ?1 OR CAST(id AS TEXT) = ?1"
                ))
                .db()?
                .query_row([id_or_bead], escalation_from_row)
                .optional()
                .db()?
                .ok_or_else(|| Error::not_found("escalation", id_or_bead))?;
            let ev = rules::ack_escalation(&mut e, actor, &now)?;
            tx.prepare_cached("UPDATE escalations SET acked_at = ?2, acked_by = ?3 WHERE id = ?1")
                .db()?
                .execute(params![e.id, e.acked_at, e.acked_by])
                .db()?;
            insert_event(tx, &now, actor, &ev)?;
            Ok(e)
        })
    }

    fn handoff(&self, req: &HandoffRequest<'_>, actor: &str) -> Result<Session> {
        let now = self.now();
        self.write(|tx| {
            let mut old = fetch_session(tx, req.session)?;
            let ended = rules::end_for_handoff(&mut old, &now)?;
            tx.execute(
                "UPDATE sessions SET ended_at = ?2, end_reason = ?3 WHERE id = ?1",
                params![old.id, old.ended_at, old.end_reason],
            )
            .db()?;
            tx.execute(
                "INSERT INTO sessions (rig, polecat, bead, tmux_session, runtime, branch,
                                       base_commit, started_at, running_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
                params![
                    old.rig,
                    old.polecat,
                    old.bead,
                    old.tmux_session,
                    old.runtime,
                    old.branch,
                    old.base_commit,
                    now
                ],
            )
            .db()?;
            let new_id = tx.last_insert_rowid();
            insert_event(tx, &now, actor, &ended)?;
            let to = [old.agent()];
            let mail = insert_mail(tx, &rules::handoff_mail(&to, req), &now, actor)?;
            insert_event(tx, &now, actor, &rules::handed_off(&old, new_id, mail.id))?;
            fetch_session(tx, new_id)
        })
    }
}

impl SqliteStore {
    /// Moves `owner`'s copies of `ids` as `mv` says, with one event naming
    /// those that changed; none changed, no event.
    fn set_mail_state(
        &self,
        ids: &[i64],
        owner: &str,
        mv: MailboxMove,
        actor: &str,
    ) -> Result<usize> {
        let now = self.now();
        self.write(|tx| {
            let changed = set_state(tx, ids, owner, mv, &now)?;
            if let Some(ev) = mv.event(owner, &changed) {
                insert_event(tx, &now, actor, &ev)?;
            }
            Ok(changed.len())
        })
    }
}
