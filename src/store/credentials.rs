//! Credentials: registered certificates, each bound to one participant and a set of roles.

use chrono::{DateTime, Utc};

use super::log::append_log;
use super::{BeginWrite, Page, Result, Store, StoreError, conflict_on_unique, stored_time, with_pool};
use crate::domain::log::{LogAction, NewLogEntry};
use crate::domain::{ParticipantCode, Roles};
use crate::pki::CertInfo;

/// A registered certificate (憑證) and who holds it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Credential {
    pub id: i64,
    /// SHA-256 of the certificate's DER, lower-case hex.
    pub fingerprint: String,
    pub participant: ParticipantCode,
    pub subject: String,
    pub issuer: String,
    /// Serial number, upper-case hex.
    pub serial: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    /// 統一編號 read from the certificate, when it carries one.
    pub unified_business_number: Option<String>,
    /// IC card number (憑證卡號).
    pub card_number: Option<String>,
    /// The person holding the card.
    pub holder: String,
    pub roles: Roles,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
    #[serde(skip)]
    pub certificate_pem: String,
}

impl Credential {
    pub fn is_disabled(&self) -> bool {
        self.disabled_at.is_some()
    }
}

/// A certificate to register.
#[derive(Debug, Clone)]
pub struct NewCredential {
    pub participant: ParticipantCode,
    pub cert: CertInfo,
    pub card_number: Option<String>,
    pub holder: String,
    pub roles: Roles,
}

#[derive(sqlx::FromRow)]
pub(super) struct CredentialRow {
    id: i64,
    fingerprint: String,
    participant_code: String,
    subject: String,
    issuer: String,
    serial: String,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
    ubn: Option<String>,
    card_number: Option<String>,
    holder: String,
    roles: String,
    certificate_pem: String,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    disabled_at: Option<DateTime<Utc>>,
    disabled_reason: Option<String>,
}

impl TryFrom<CredentialRow> for Credential {
    type Error = StoreError;
    fn try_from(r: CredentialRow) -> Result<Self> {
        Ok(Credential {
            id: r.id,
            fingerprint: r.fingerprint,
            participant: ParticipantCode::parse(&r.participant_code)?,
            subject: r.subject,
            issuer: r.issuer,
            serial: r.serial,
            not_before: r.not_before,
            not_after: r.not_after,
            unified_business_number: r.ubn,
            card_number: r.card_number,
            holder: r.holder,
            roles: Roles::from_storage(&r.roles)?,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            disabled_at: r.disabled_at,
            disabled_reason: r.disabled_reason,
            certificate_pem: r.certificate_pem,
        })
    }
}

/// Inserts the credential `$c` (a `&NewCredential`) inside `$tx`, the SQL
/// `$on_conflict` clause appended. Evaluates to the query's result: the new
/// id, or none when the clause skipped an existing certificate.
macro_rules! insert_credential {
    ($tx:expr, $at:expr, $c:expr, $on_conflict:expr) => {{
        let c: &$crate::store::NewCredential = $c;
        let sql = format!(
            "INSERT INTO credentials (fingerprint, participant_code, subject, issuer, serial, not_before, \
             not_after, ubn, card_number, holder, roles, certificate_pem, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) {} RETURNING id",
            $on_conflict
        );
        sqlx::query_as::<_, (i64,)>(sqlx::AssertSqlSafe(sql))
            .bind(&c.cert.fingerprint)
            .bind(c.participant.as_str())
            .bind(&c.cert.subject)
            .bind(&c.cert.issuer)
            .bind(&c.cert.serial)
            .bind($crate::store::stored_time(c.cert.not_before))
            .bind($crate::store::stored_time(c.cert.not_after))
            .bind(&c.cert.unified_business_number)
            .bind(&c.card_number)
            .bind(&c.holder)
            .bind(c.roles.to_storage())
            .bind(&c.cert.pem)
            .bind($at)
            .fetch_optional(&mut **$tx)
            .await
            .map(|row| row.map(|(id,)| id))
    }};
}
pub(crate) use insert_credential;

pub(super) const CREDENTIAL_COLUMNS: &str = "id, fingerprint, participant_code, subject, issuer, serial, not_before, not_after, \
     ubn, card_number, holder, roles, certificate_pem, created_at, last_used_at, disabled_at, disabled_reason";

/// Serialises the writes that may disable `it_bureau` credentials, so two
/// operators disabling each other at once cannot leave none: SQLite's
/// writes are serial already; PostgreSQL takes a transaction lock.
macro_rules! lock_operators {
    ($store:expr, $tx:ident) => {
        if matches!($store.db, super::Db::Postgres(_)) {
            sqlx::query("SELECT pg_advisory_xact_lock(7301302)").execute(&mut **$tx).await?;
        }
    };
}

impl Store {
    pub async fn credential(&self, id: i64) -> Result<Option<Credential>> {
        let sql = format!("SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE id = $1");
        let row: Option<CredentialRow> =
            with_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await?);
        row.map(Credential::try_from).transpose()
    }

    pub async fn credential_by_fingerprint(&self, fingerprint: &str) -> Result<Option<Credential>> {
        let sql = format!("SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE fingerprint = $1");
        let row: Option<CredentialRow> = with_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(fingerprint).fetch_optional(pool).await?
        });
        row.map(Credential::try_from).transpose()
    }

    /// Credentials in id order, optionally of one participant only, or only
    /// enabled ones whose certificate expires before `expiring_before`.
    pub async fn credentials(
        &self,
        participant: Option<&str>,
        expiring_before: Option<DateTime<Utc>>,
        page: &Page<i64>,
    ) -> Result<Vec<Credential>> {
        let sql = format!(
            "SELECT {CREDENTIAL_COLUMNS} FROM credentials \
             WHERE id > $1 AND ($2 IS NULL OR participant_code = $2) \
               AND ($4 IS NULL OR (not_after < $4 AND disabled_at IS NULL)) ORDER BY id LIMIT $3"
        );
        let rows: Vec<CredentialRow> = with_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(page.after.unwrap_or(0))
                .bind(participant)
                .bind(page.limit)
                .bind(expiring_before.map(stored_time))
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(Credential::try_from).collect()
    }

    /// Registers a certificate and logs it, in one transaction.
    pub async fn register_credential(
        &self,
        c: &NewCredential,
        at: DateTime<Utc>,
        log: &NewLogEntry,
    ) -> Result<Credential> {
        let at = stored_time(at);
        let id: i64 = with_pool!(self, |pool| {
            let mut tx = self.begin_write(pool).await?;
            let id = insert_credential!(tx, at, c, "")
                .map_err(conflict_on_unique(format!("certificate {} is already registered", c.cert.fingerprint)))?
                .expect("a plain INSERT returns its row");
            append_log!(tx, at, log);
            tx.commit().await?;
            self.auth_changed();
            id
        });
        self.credential(id).await?.ok_or(StoreError::NotFound)
    }

    /// Disables (with a reason) or re-enables (`reason = None`) a credential, and logs it.
    pub async fn set_credential_disabled(
        &self,
        id: i64,
        reason: Option<&str>,
        at: DateTime<Utc>,
        log: &NewLogEntry,
    ) -> Result<Credential> {
        let at = stored_time(at);
        let n = with_pool!(self, |pool| {
            let mut tx = self.begin_write(pool).await?;
            if reason.is_some() {
                lock_operators!(self, tx);
                let (target, others): (i64, i64) = sqlx::query_as(
                    "SELECT COALESCE(SUM(CASE WHEN id = $1 THEN 1 ELSE 0 END), 0), \
                            COALESCE(SUM(CASE WHEN id <> $1 AND disabled_at IS NULL THEN 1 ELSE 0 END), 0) \
                     FROM credentials WHERE (' ' || roles || ' ') LIKE '% it_bureau %'",
                )
                .bind(id)
                .fetch_one(&mut **tx)
                .await?;
                if target > 0 && others == 0 {
                    return Err(StoreError::Conflict(format!(
                        "credential {id} is the last enabled it_bureau credential"
                    )));
                }
            }
            let n = sqlx::query(
                "UPDATE credentials SET disabled_at = $2, disabled_reason = $3, \
                 last_used_at = CASE WHEN $2 IS NULL THEN $4 ELSE last_used_at END WHERE id = $1",
            )
            .bind(id)
            .bind(reason.map(|_| at))
            .bind(reason)
            .bind(at)
            .execute(&mut **tx)
            .await?
            .rows_affected();
            if n > 0 {
                append_log!(tx, at, log);
            }
            tx.commit().await?;
            self.auth_changed();
            n
        });
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        self.credential(id).await?.ok_or(StoreError::NotFound)
    }

    /// Records use of a credential. Writes only when the stored time is older
    /// than `stale_before`, so a busy credential costs one write an interval.
    pub async fn touch_credential(&self, id: i64, at: DateTime<Utc>, stale_before: DateTime<Utc>) -> Result<()> {
        with_pool!(self, |pool| {
            sqlx::query(
                "UPDATE credentials SET last_used_at = $2 WHERE id = $1 \
                 AND (last_used_at IS NULL OR last_used_at < $3)",
            )
            .bind(id)
            .bind(stored_time(at))
            .bind(stored_time(stale_before))
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Disables every enabled credential unused since `cutoff` (never used:
    /// counted from registration), logging each; returns those disabled.
    /// The most recently used enabled `it_bureau` credential is kept, so the
    /// hub is never left without an operator who can enable the others.
    pub async fn disable_inactive_credentials(
        &self,
        cutoff: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<Vec<Credential>> {
        let at = stored_time(at);
        let ids: Vec<i64> = with_pool!(self, |pool| {
            let mut tx = self.begin_write(pool).await?;
            lock_operators!(self, tx);
            let rows: Vec<(i64, String, String)> = sqlx::query_as(
                "UPDATE credentials SET disabled_at = $2, disabled_reason = $3 \
                 WHERE disabled_at IS NULL AND COALESCE(last_used_at, created_at) < $1 \
                 AND id <> COALESCE((SELECT k.id FROM credentials k WHERE k.disabled_at IS NULL \
                     AND (' ' || k.roles || ' ') LIKE '% it_bureau %' \
                     ORDER BY COALESCE(k.last_used_at, k.created_at) DESC, k.id DESC LIMIT 1), 0) \
                 RETURNING id, participant_code, fingerprint",
            )
            .bind(stored_time(cutoff))
            .bind(at)
            .bind(INACTIVITY_REASON)
            .fetch_all(&mut **tx)
            .await?;
            for (id, participant, fingerprint) in &rows {
                let entry = NewLogEntry::new(
                    LogAction::CredentialDisabled,
                    format!("credential {id} disabled: {INACTIVITY_REASON} (unused since before {cutoff})"),
                )
                .participant(participant.clone())
                .credential(fingerprint.clone());
                append_log!(tx, at, &entry);
            }
            tx.commit().await?;
            self.auth_changed();
            rows.into_iter().map(|r| r.0).collect()
        });
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.extend(self.credential(id).await?);
        }
        Ok(out)
    }
}

/// The reason recorded when the daily job disables an unused credential.
pub const INACTIVITY_REASON: &str = "unused for the inactivity period";
