//! The one lookup every request makes: a certificate's credential, its
//! participant and the participant's allowlist, in a single round trip.

use sqlx::Row;

use super::credentials::{CREDENTIAL_COLUMNS, CredentialRow};
use super::participants::ParticipantRow;
use super::{Credential, Result, Store, with_pool};
use crate::domain::IpRange;
use crate::domain::participant::Participant;

/// What authentication needs to know about a certificate.
#[derive(Debug, Clone)]
pub struct AuthRecord {
    pub credential: Credential,
    pub participant: Participant,
    pub allowlist: Vec<IpRange>,
}

/// The credential, its participant and allowlist, by fingerprint ($1): what
/// authenticates every request, in one query (built once).
pub(crate) fn auth_sql() -> &'static str {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(build_auth_sql);
    &SQL
}

fn build_auth_sql() -> String {
    let cred_cols: Vec<String> = CREDENTIAL_COLUMNS.split(',').map(|c| format!("c.{}", c.trim())).collect();
    format!(
        "SELECT {}, p.code AS p_code, p.kind AS p_kind, p.name AS p_name, p.ubn AS p_ubn, p.status AS p_status, \
             p.status_reason AS p_status_reason, p.can_receive AS p_can_receive, p.can_send AS p_can_send, \
             p.supervisor_code AS p_supervisor_code, p.email AS p_email, p.created_at AS p_created_at, p.updated_at AS p_updated_at, \
             a.ip_range AS a_ip_range \
             FROM credentials c JOIN participants p ON p.code = c.participant_code \
             LEFT JOIN allowlist a ON a.participant_code = p.code WHERE c.fingerprint = $1",
        cred_cols.join(", ")
    )
}

impl Store {
    pub async fn auth_record(&self, fingerprint: &str) -> Result<Option<AuthRecord>> {
        let sql = auth_sql();
        let rows: Vec<(CredentialRow, ParticipantRow, Option<String>)> = with_pool!(self, |pool| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(fingerprint).fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                let credential: CredentialRow = sqlx::FromRow::from_row(r)?;
                let participant = ParticipantRow {
                    code: r.try_get("p_code")?,
                    kind: r.try_get("p_kind")?,
                    name: r.try_get("p_name")?,
                    ubn: r.try_get("p_ubn")?,
                    status: r.try_get("p_status")?,
                    status_reason: r.try_get("p_status_reason")?,
                    can_receive: r.try_get("p_can_receive")?,
                    can_send: r.try_get("p_can_send")?,
                    supervisor_code: r.try_get("p_supervisor_code")?,
                    email: r.try_get("p_email")?,
                    created_at: r.try_get("p_created_at")?,
                    updated_at: r.try_get("p_updated_at")?,
                };
                out.push((credential, participant, r.try_get("a_ip_range")?));
            }
            out
        });
        let mut it = rows.into_iter();
        let Some((c, p, first)) = it.next() else { return Ok(None) };
        let mut allowlist = Vec::new();
        for ip in first.into_iter().chain(it.filter_map(|(_, _, ip)| ip)) {
            allowlist.push(IpRange::parse(&ip)?);
        }
        Ok(Some(AuthRecord { credential: c.try_into()?, participant: p.try_into()?, allowlist }))
    }
}

/// Authentications read on PostgreSQL, kept for a moment: each request
/// otherwise pays a round trip to the database for the same credential,
/// participant and allowlist. An entry is good for [`AUTH_KEPT_FOR`] and
/// only while nothing authentication reads has changed since it was read
/// ([`Store::auth_epoch`]): changes made through this store count at once,
/// those of other nodes (or of any writer) when the database's triggers
/// announce them, and a lost announcement connection counts as a change.
/// The caller still makes every check (revocation, validity, allowlist,
/// disabled, suspended) on each request. On SQLite (one node, the database
/// in process) nothing is kept.
#[derive(Debug, Default)]
pub(crate) struct KeptAuth {
    entries: std::sync::Mutex<std::collections::HashMap<String, Kept>>,
}

#[derive(Debug)]
struct Kept {
    epoch: u64,
    read_at: std::time::Instant,
    record: AuthRecord,
}

/// The longest an authentication read is used again: the bound on how
/// long a change made elsewhere can go unseen should its announcement be
/// lost with a connection.
pub const AUTH_KEPT_FOR: std::time::Duration = std::time::Duration::from_secs(2);

/// Credentials kept at most (all are dropped when full).
const AUTH_KEPT_MAX: usize = 10_000;

impl Store {
    /// [`Store::auth_record`], kept for a moment on PostgreSQL (see [`KeptAuth`]).
    pub async fn kept_auth_record(&self, fingerprint: &str) -> Result<Option<AuthRecord>> {
        if !self.is_postgres() {
            return self.auth_record(fingerprint).await;
        }
        // Read before the database is: a change made meanwhile leaves the
        // entry already stale.
        let epoch = self.auth_epoch();
        if let Some(k) = self.kept_auth.entries.lock().expect("kept authentications").get(fingerprint)
            && k.epoch == epoch
            && k.read_at.elapsed() < AUTH_KEPT_FOR
        {
            return Ok(Some(k.record.clone()));
        }
        let found = self.auth_record(fingerprint).await?;
        if let Some(record) = &found {
            let mut entries = self.kept_auth.entries.lock().expect("kept authentications");
            if entries.len() >= AUTH_KEPT_MAX {
                entries.clear();
            }
            let kept = Kept { epoch, read_at: std::time::Instant::now(), record: record.clone() };
            entries.insert(fingerprint.to_owned(), kept);
        }
        Ok(found)
    }
}
