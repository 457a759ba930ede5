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
