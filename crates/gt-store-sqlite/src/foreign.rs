//! Reading another program's SQLite database, read-only: an agent runtime's
//! own store (OpenCode keeps its messages in one). The file is opened
//! read-only, never migrated or written; gt's own database is never opened
//! this way.

use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags};

use super::DbResult;
use gt_core::error::Result;

/// The largest message row read (bytes of its JSON).
const MAX_ROW: i64 = 1 << 20;

/// OpenCode's messages (`message.data`, JSON text) of its sessions that ran
/// in one of `directories` and started at or after `since_ms` (milliseconds
/// since the epoch), oldest first, at most `limit`. An error when the file
/// is not a database with OpenCode's tables.
pub fn opencode_messages(
    db: &Path,
    directories: &[&str],
    since_ms: i64,
    limit: usize,
) -> Result<Vec<String>> {
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .db()?;
    conn.busy_timeout(Duration::from_secs(1)).db()?;
    let mut out = Vec::new();
    let mut stmt = conn
        .prepare(
            "SELECT m.data FROM message m JOIN session s ON s.id = m.session_id
             WHERE s.directory = ?1 AND s.time_created >= ?2 AND typeof(m.data) = 'text'
               AND length(m.data) <= ?3
             ORDER BY m.time_created, m.id LIMIT ?4",
        )
        .db()?;
    for dir in directories {
        let rows = stmt
            .query_map(
                params![
                    dir,
                    since_ms,
                    MAX_ROW,
                    i64::try_from(limit).unwrap_or(i64::MAX)
                ],
                |r| r.get::<_, String>(0),
            )
            .db()?;
        for r in rows {
            out.push(r.db()?);
            if out.len() >= limit {
                return Ok(out);
            }
        }
    }
    Ok(out)
}
