//! Events between the nodes of one hub (DESIGN §11), over PostgreSQL
//! `LISTEN/NOTIFY`: new deliveries (to wake the long-polls of their
//! recipients on every node) and changes a node keeps in memory (the block
//! list, the calendar, the trust store). A notification is sent by the
//! transaction that makes the change and delivered when it commits. SQLite
//! is one node: its wakes stay in process.

use super::{Db, Result, Store};

/// Recipients with new deliveries, comma-separated.
pub const INBOX: &str = "gwx_inbox";
/// What changed: one of the names below.
pub const CHANGED: &str = "gwx_changed";

/// The block list changed.
pub const BLOCKS: &str = "blocks";
/// A calendar year was loaded, or a closure declared.
pub const CALENDAR: &str = "calendar";
/// The trust store (CA certificates, CRLs) was reloaded.
pub const TRUST: &str = "trust";
/// What authentication reads (participants, credentials, allowlists)
/// changed: sent by the database's own triggers, whoever wrote.
pub const AUTH: &str = "auth";

/// A notification's payload must stay below 8,000 bytes: recipients are
/// sent in chunks of this many codes.
pub(crate) const CODES_PER_NOTIFY: usize = 500;

/// Something another node (or this one) did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// These participants have new deliveries.
    Inbox(Vec<String>),
    /// Cached state to read again.
    Changed(String),
    /// The connection was lost (and is made again at the next call): what
    /// was announced meanwhile is not heard.
    Lost,
}

/// The events of every node, as they commit.
pub struct Events(sqlx::postgres::PgListener);

impl Events {
    /// The next event. A lost connection is re-established (events of the
    /// moment are lost: the long-polls re-check the database each second
    /// and the caches expire, so nothing waits for ever).
    pub async fn next(&mut self) -> Result<Event> {
        loop {
            let Some(n) = self.0.try_recv().await? else { return Ok(Event::Lost) };
            match n.channel() {
                INBOX => return Ok(Event::Inbox(n.payload().split(',').map(str::to_owned).collect())),
                CHANGED => return Ok(Event::Changed(n.payload().to_owned())),
                _ => continue,
            }
        }
    }
}

impl Store {
    /// Listens to every node's events (PostgreSQL); `None` on SQLite.
    pub async fn listen(&self) -> Result<Option<Events>> {
        match &self.db {
            Db::Sqlite(_) => Ok(None),
            Db::Postgres(pool) => {
                let mut l = sqlx::postgres::PgListener::connect_with(pool).await?;
                l.listen_all([INBOX, CHANGED]).await?;
                Ok(Some(Events(l)))
            }
        }
    }

    /// Tells every node that `what` changed (PostgreSQL; nothing on SQLite).
    pub async fn announce(&self, what: &str) -> Result<()> {
        if let Db::Postgres(pool) = &self.db {
            sqlx::query("SELECT pg_notify($1, $2)").bind(CHANGED).bind(what).execute(pool).await?;
        }
        Ok(())
    }
}
