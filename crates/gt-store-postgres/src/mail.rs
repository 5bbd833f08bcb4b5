//! [`MailStore`] for PostgreSQL: mail, the nudge queue, escalations,
//! hand-offs and agent state, as in `gt-store-sqlite/src/mail.rs`. Every
//! state change is one transaction with its event.

use postgres::{GenericClient, Row};

use gt_core::error::{Error, Result};
use gt_core::rules::comms::{self as rules, MailboxMove};
use gt_core::session::Session;
use gt_store::mail::{
    AgentStateRecord, Escalation, HandoffRequest, InboxFilter, Mail, MailStore, NewMail,
    QueuedNudge,
};

use crate::work::fetch_session;
use crate::{insert_event, DbResult, PgStore};

/// Columns of a mail row as seen by a viewer (`b` is the viewer's mailbox).
const MAIL_COLS: &str = "m.id, m.sender, m.recipients, m.subject, m.body, m.priority, m.sent_at,
    m.reply_to, m.thread, b.state";

fn mail_from_row(r: &Row) -> Result<Mail> {
    let to: String = r.try_get(2).db()?;
    let priority: String = r.try_get(5).db()?;
    let state: Option<String> = r.try_get(9).db()?;
    Ok(Mail {
        id: r.try_get(0).db()?,
        from: r.try_get(1).db()?,
        to: serde_json::from_str(&to).unwrap_or_default(),
        subject: r.try_get(3).db()?,
        body: r.try_get(4).db()?,
        priority: priority.parse().unwrap_or_default(),
        sent_at: r.try_get(6).db()?,
        reply_to: r.try_get(7).db()?,
        thread: r.try_get(8).db()?,
        read: state.as_deref() != Some("unread"),
        archived: state.as_deref() == Some("archived"),
    })
}

fn mails(rows: &[Row]) -> Result<Vec<Mail>> {
    rows.iter().map(mail_from_row).collect()
}

const NUDGE_COLS: &str = "id, agent, sender, message, queued_at";

fn nudge_from_row(r: &Row) -> Result<QueuedNudge> {
    Ok(QueuedNudge {
        id: r.try_get(0).db()?,
        agent: r.try_get(1).db()?,
        from: r.try_get(2).db()?,
        message: r.try_get(3).db()?,
        queued_at: r.try_get(4).db()?,
    })
}

/// `agent`'s undelivered nudges, oldest first.
fn pending(c: &mut impl GenericClient, agent: &str) -> Result<Vec<QueuedNudge>> {
    c.query(
        &format!(
            "SELECT {NUDGE_COLS} FROM nudge_queue
             WHERE agent = $1 AND delivered_at IS NULL ORDER BY id"
        ),
        &[&agent],
    )
    .db()?
    .iter()
    .map(nudge_from_row)
    .collect()
}

const ESC_COLS: &str = "id, bead, sender, severity, message, source_bead, mail_id, created_at,
    acked_at, acked_by";

fn escalation_from_row(r: &Row) -> Result<Escalation> {
    Ok(Escalation {
        id: r.try_get(0).db()?,
        bead: r.try_get(1).db()?,
        from: r.try_get(2).db()?,
        severity: crate::parsed(r, 3, "severity")?,
        message: r.try_get(4).db()?,
        source_bead: r.try_get(5).db()?,
        mail: r.try_get(6).db()?,
        created_at: r.try_get(7).db()?,
        acked_at: r.try_get(8).db()?,
        acked_by: r.try_get(9).db()?,
    })
}

/// Inserts a message and its recipients' mailbox rows; returns it as sent.
fn insert_mail(
    tx: &mut impl GenericClient,
    m: &NewMail<'_>,
    now: &str,
    actor: &str,
) -> Result<Mail> {
    rules::check_mail(m)?;
    let thread: i64 = match m.reply_to {
        Some(r) => tx
            .query_opt("SELECT thread FROM mail WHERE id = $1", &[&r])
            .db()?
            .ok_or_else(|| Error::not_found("mail", r.to_string()))?
            .try_get(0)
            .db()?,
        None => 0,
    };
    let to_json = serde_json::to_string(m.to).map_err(|e| Error::Internal(e.to_string()))?;
    let id: i64 = tx
        .query_one(
            "INSERT INTO mail (sender, recipients, subject, body, priority, sent_at, reply_to,
                               thread)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            &[
                &m.from,
                &to_json,
                &m.subject,
                &m.body,
                &m.priority.as_str(),
                &now,
                &m.reply_to,
                &thread,
            ],
        )
        .db()?
        .try_get(0)
        .db()?;
    let thread = if m.reply_to.is_none() {
        tx.execute("UPDATE mail SET thread = $1 WHERE id = $1", &[&id])
            .db()?;
        id
    } else {
        thread
    };
    for to in m.to {
        tx.execute(
            "INSERT INTO mailbox (owner, mail_id, state, updated_at)
             VALUES ($1, $2, 'unread', $3) ON CONFLICT DO NOTHING",
            &[to, &id, &now],
        )
        .db()?;
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

fn viewable(c: &mut impl GenericClient, id: i64, viewer: &str) -> Result<Mail> {
    let row = c
        .query_opt(
            &format!(
                "SELECT {MAIL_COLS} FROM mail m
                 LEFT JOIN mailbox b ON b.mail_id = m.id AND b.owner = $2
                 WHERE m.id = $1 AND (b.owner IS NOT NULL OR m.sender = $2 OR $2 = 'human')"
            ),
            &[&id, &viewer],
        )
        .db()?
        .ok_or_else(|| Error::not_found("mail", id.to_string()))?;
    mail_from_row(&row)
}

/// Moves `owner`'s copies of `ids` as `mv` says (only forward: unread →
/// read → archived). All ids must be in the mailbox.
fn set_state(
    tx: &mut impl GenericClient,
    ids: &[i64],
    owner: &str,
    mv: MailboxMove,
    now: &str,
) -> Result<Vec<i64>> {
    let mut changed = Vec::new();
    for &id in ids {
        let cur: String = tx
            .query_opt(
                "SELECT state FROM mailbox WHERE owner = $1 AND mail_id = $2",
                &[&owner, &id],
            )
            .db()?
            .ok_or_else(|| Error::not_found("mail", format!("{id} (in the mailbox of {owner})")))?
            .try_get(0)
            .db()?;
        if mv.moves(&cur) {
            tx.execute(
                "UPDATE mailbox SET state = $3, updated_at = $4 WHERE owner = $1 AND mail_id = $2",
                &[&owner, &id, &mv.state(), &now],
            )
            .db()?;
            changed.push(id);
        }
    }
    Ok(changed)
}

impl MailStore for PgStore {
    fn send_mail(&self, m: &NewMail<'_>, actor: &str) -> Result<Mail> {
        let now = self.now();
        self.write(|tx| insert_mail(tx, m, &now, actor))
    }

    fn inbox(&self, owner: &str, filter: InboxFilter, limit: Option<usize>) -> Result<Vec<Mail>> {
        let cond = match filter {
            InboxFilter::Unread => "b.state = 'unread'",
            InboxFilter::Current => "b.state IN ('unread', 'read')",
            InboxFilter::All => "TRUE",
        };
        // No limit is `LIMIT NULL`.
        let limit = limit.map(|l| l as i64);
        let rows = self
            .client()
            .query(
                &format!(
                    "SELECT {MAIL_COLS} FROM mailbox b JOIN mail m ON m.id = b.mail_id
                     WHERE b.owner = $1 AND {cond} ORDER BY b.mail_id DESC LIMIT $2"
                ),
                &[&owner, &limit],
            )
            .db()?;
        mails(&rows)
    }

    fn get_mail(&self, id: i64, viewer: &str) -> Result<Mail> {
        viewable(&mut *self.client(), id, viewer)
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
            .client()
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM mailbox WHERE owner = $1 AND state = 'unread')
                     OR EXISTS (SELECT 1 FROM nudge_queue WHERE agent = $1
                                AND delivered_at IS NULL)",
                &[&owner],
            )
            .db()?
            .try_get(0)
            .db()?;
        if !any {
            return Ok((Vec::new(), Vec::new()));
        }
        let now = self.now();
        self.write(|tx| {
            let rows = tx
                .query(
                    &format!(
                        "SELECT {MAIL_COLS} FROM mailbox b JOIN mail m ON m.id = b.mail_id
                         WHERE b.owner = $1 AND b.state = 'unread' ORDER BY b.mail_id"
                    ),
                    &[&owner],
                )
                .db()?;
            let mut mails = mails(&rows)?;
            let nudges = pending(tx, owner)?;
            let ids: Vec<i64> = mails.iter().map(|m| m.id).collect();
            set_state(tx, &ids, owner, MailboxMove::Read, &now)?;
            if let Some(ev) = rules::mail_given(owner, &ids) {
                insert_event(tx, &now, actor, &ev)?;
            }
            for n in &nudges {
                tx.execute(
                    "UPDATE nudge_queue SET delivered_at = $2 WHERE id = $1",
                    &[&n.id, &now],
                )
                .db()?;
                insert_event(tx, &now, actor, &rules::queued_nudge_given(owner, n))?;
            }
            for m in &mut mails {
                m.read = true;
            }
            Ok((mails, nudges))
        })
    }

    fn thread(&self, id: i64, viewer: &str) -> Result<Vec<Mail>> {
        let mut c = self.client();
        let first = viewable(&mut *c, id, viewer)?;
        let rows = c
            .query(
                &format!(
                    "SELECT {MAIL_COLS} FROM mail m
                     LEFT JOIN mailbox b ON b.mail_id = m.id AND b.owner = $2
                     WHERE m.thread = $1 AND (b.owner IS NOT NULL OR m.sender = $2 OR $2 = 'human')
                     ORDER BY m.id"
                ),
                &[&first.thread, &viewer],
            )
            .db()?;
        mails(&rows)
    }

    fn search_mail(&self, owner: &str, text: &str, limit: Option<usize>) -> Result<Vec<Mail>> {
        let escaped = text
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let pattern = format!("%{escaped}%");
        let limit = limit.map(|l| l as i64);
        let rows = self
            .client()
            .query(
                &format!(
                    "SELECT {MAIL_COLS} FROM mail m
                     LEFT JOIN mailbox b ON b.mail_id = m.id AND b.owner = $1
                     WHERE (b.owner IS NOT NULL OR m.sender = $1)
                       AND (m.subject ILIKE $2 ESCAPE '\\' OR m.body ILIKE $2 ESCAPE '\\')
                     ORDER BY m.id DESC LIMIT $3"
                ),
                &[&owner, &pattern, &limit],
            )
            .db()?;
        mails(&rows)
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
            let id: i64 = tx
                .query_one(
                    "INSERT INTO nudge_queue (agent, sender, message, queued_at)
                     VALUES ($1, $2, $3, $4) RETURNING id",
                    &[&agent, &from, &message, &now],
                )
                .db()?
                .try_get(0)
                .db()?;
            let n = QueuedNudge {
                id,
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
        pending(&mut *self.client(), agent)
    }

    fn mark_nudge_delivered(&self, id: i64) -> Result<bool> {
        let now = self.now();
        self.write(|tx| {
            Ok(tx
                .execute(
                    "UPDATE nudge_queue SET delivered_at = $2
                     WHERE id = $1 AND delivered_at IS NULL",
                    &[&id, &now],
                )
                .db()?
                > 0)
        })
    }

    fn set_agent_state(&self, agent: &str, state: &str, source: &str) -> Result<()> {
        let now = self.now();
        self.write(|tx| {
            tx.execute(
                "INSERT INTO agent_state (agent, state, source, updated_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (agent) DO UPDATE SET state = $2, source = $3, updated_at = $4",
                &[&agent, &state, &source, &now],
            )
            .db()?;
            Ok(())
        })
    }

    fn agent_state(&self, agent: &str) -> Result<Option<AgentStateRecord>> {
        let row = self
            .client()
            .query_opt(
                "SELECT agent, state, source, updated_at FROM agent_state WHERE agent = $1",
                &[&agent],
            )
            .db()?;
        row.map(|r| {
            Ok(AgentStateRecord {
                agent: r.try_get(0).db()?,
                state: r.try_get(1).db()?,
                source: r.try_get(2).db()?,
                updated_at: r.try_get(3).db()?,
            })
        })
        .transpose()
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
            let id: i64 = tx
                .query_one(
                    "INSERT INTO escalations (bead, sender, severity, message, source_bead,
                                              mail_id, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                    &[
                        &bead,
                        &from,
                        &severity.as_str(),
                        &message,
                        &source_bead,
                        &sent.id,
                        &now,
                    ],
                )
                .db()?
                .try_get(0)
                .db()?;
            let e = Escalation {
                id,
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
        self.client()
            .query(
                &format!(
                    "SELECT {ESC_COLS} FROM escalations
                     WHERE NOT $1 OR acked_at IS NULL ORDER BY id"
                ),
                &[&open_only],
            )
            .db()?
            .iter()
            .map(escalation_from_row)
            .collect()
    }

    fn ack_escalation(&self, id_or_bead: &str, actor: &str) -> Result<Escalation> {
        let now = self.now();
        self.write(|tx| {
            // A bead named like another escalation's id matches twice: the
            // first row wins, as in SQLite's `query_row`.
            let row = tx
                .query_opt(
                    &format!(
                        "SELECT {ESC_COLS} FROM escalations
                         WHERE bead = $1 OR CAST(id AS TEXT) = $1 ORDER BY id LIMIT 1"
                    ),
                    &[&id_or_bead],
                )
                .db()?
                .ok_or_else(|| Error::not_found("escalation", id_or_bead))?;
            let mut e = escalation_from_row(&row)?;
            let ev = rules::ack_escalation(&mut e, actor, &now)?;
            tx.execute(
                "UPDATE escalations SET acked_at = $2, acked_by = $3 WHERE id = $1",
                &[&e.id, &e.acked_at, &e.acked_by],
            )
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
                "UPDATE sessions SET ended_at = $2, end_reason = $3 WHERE id = $1",
                &[&old.id, &old.ended_at, &old.end_reason],
            )
            .db()?;
            let new_id: i64 = tx
                .query_one(
                    "INSERT INTO sessions (rig, polecat, bead, tmux_session, runtime, branch,
                                           base_commit, started_at, running_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
                    &[
                        &old.rig,
                        &old.polecat,
                        &old.bead,
                        &old.tmux_session,
                        &old.runtime,
                        &old.branch,
                        &old.base_commit,
                        &now,
                    ],
                )
                .db()?
                .try_get(0)
                .db()?;
            insert_event(tx, &now, actor, &ended)?;
            let to = [old.agent()];
            let mail = insert_mail(tx, &rules::handoff_mail(&to, req), &now, actor)?;
            insert_event(tx, &now, actor, &rules::handed_off(&old, new_id, mail.id))?;
            fetch_session(tx, new_id)
        })
    }
}

impl PgStore {
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
