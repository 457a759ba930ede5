//! Participants and their fixed-IP allowlists.

use chrono::{DateTime, Utc};

use super::log::append_log;
use super::{BeginWrite, Page, Result, Store, StoreError, conflict_on_unique, stored_time, with_pool};
use crate::domain::log::NewLogEntry;
use crate::domain::participant::Participant;
use crate::domain::{
    Capabilities, IpRange, ParticipantCode, ParticipantKind, ParticipantStatus, UnifiedBusinessNumber,
};

/// A participant to create.
#[derive(Debug, Clone)]
pub struct NewParticipant {
    pub code: ParticipantCode,
    pub kind: ParticipantKind,
    pub name: String,
    pub unified_business_number: Option<UnifiedBusinessNumber>,
    pub status: ParticipantStatus,
    pub capabilities: Capabilities,
    pub supervisor: Option<ParticipantCode>,
    pub email: Option<String>,
}

/// Fields of a participant to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ParticipantUpdate {
    pub name: Option<String>,
    pub unified_business_number: Option<UnifiedBusinessNumber>,
    pub capabilities: Option<Capabilities>,
    pub supervisor: Option<ParticipantCode>,
    pub email: Option<String>,
}

/// One entry of a participant's fixed-IP allowlist.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct AllowlistEntry {
    pub id: i64,
    pub participant: ParticipantCode,
    /// An address or CIDR block, IPv4 or IPv6.
    #[schema(value_type = String, example = "203.0.113.7")]
    #[serde(serialize_with = "crate::store::display")]
    pub ip_range: IpRange,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
pub(super) struct ParticipantRow {
    pub(super) code: String,
    pub(super) kind: String,
    pub(super) name: String,
    pub(super) ubn: Option<String>,
    pub(super) status: String,
    pub(super) status_reason: Option<String>,
    pub(super) can_receive: bool,
    pub(super) can_send: bool,
    pub(super) supervisor_code: Option<String>,
    pub(super) email: Option<String>,
    pub(super) created_at: DateTime<Utc>,
    pub(super) updated_at: DateTime<Utc>,
}

impl TryFrom<ParticipantRow> for Participant {
    type Error = StoreError;
    fn try_from(r: ParticipantRow) -> Result<Self> {
        Ok(Participant {
            code: ParticipantCode::parse(&r.code)?,
            kind: r.kind.parse()?,
            name: r.name,
            unified_business_number: r.ubn.as_deref().map(UnifiedBusinessNumber::parse).transpose()?,
            status: r.status.parse()?,
            status_reason: r.status_reason,
            capabilities: Capabilities { receive: r.can_receive, send: r.can_send },
            supervisor: r.supervisor_code.as_deref().map(ParticipantCode::parse).transpose()?,
            email: r.email,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AllowlistRow {
    id: i64,
    participant_code: String,
    ip_range: String,
    note: Option<String>,
    created_at: DateTime<Utc>,
}

impl TryFrom<AllowlistRow> for AllowlistEntry {
    type Error = StoreError;
    fn try_from(r: AllowlistRow) -> Result<Self> {
        Ok(AllowlistEntry {
            id: r.id,
            participant: ParticipantCode::parse(&r.participant_code)?,
            ip_range: IpRange::parse(&r.ip_range)?,
            note: r.note,
            created_at: r.created_at,
        })
    }
}

/// Inserts the participant `$p` (a `&NewParticipant`) inside the open
/// transaction `$tx`, with its roster entry when it is not pending.
macro_rules! insert_participant {
    ($tx:expr, $at:expr, $p:expr) => {{
        let p: &$crate::store::NewParticipant = $p;
        sqlx::query(
            "INSERT INTO participants (code, kind, name, ubn, status, can_receive, can_send, supervisor_code, \
             email, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $10, $9, $9)",
        )
        .bind(p.code.as_str())
        .bind(p.kind.as_str())
        .bind(&p.name)
        .bind(p.unified_business_number.as_ref().map(|u| u.as_str()))
        .bind(p.status.as_str())
        .bind(p.capabilities.receive)
        .bind(p.capabilities.send)
        .bind(p.supervisor.as_ref().map(|c| c.as_str()))
        .bind($at)
        .bind(&p.email)
        .execute(&mut **$tx)
        .await
        .map_err($crate::store::conflict_on_unique(format!("participant {} already exists", p.code)))?;
        if p.status != $crate::domain::ParticipantStatus::Pending {
            let detail = format!("{} {} ({})", p.code, p.name, p.kind);
            $crate::store::sanctions::roster_change!($tx, $at, p.code.as_str(), "registered", detail);
        }
    }};
}
pub(crate) use insert_participant;

/// Changes the fields `$u` (a `&ParticipantUpdate`) sets of the participant
/// `$code` inside `$tx`, with a roster entry saying `$detail`. Evaluates to
/// the rows changed.
macro_rules! update_participant {
    ($tx:expr, $at:expr, $code:expr, $u:expr, $detail:expr) => {{
        let u: &$crate::store::ParticipantUpdate = $u;
        let code: &str = $code.as_ref();
        let n = sqlx::query(
            "UPDATE participants SET name = COALESCE($2, name), ubn = COALESCE($3, ubn), \
             can_receive = COALESCE($4, can_receive), can_send = COALESCE($5, can_send), \
             supervisor_code = COALESCE($6, supervisor_code), updated_at = $7, email = COALESCE($8, email) WHERE code = $1",
        )
        .bind(code)
        .bind(&u.name)
        .bind(u.unified_business_number.as_ref().map(|x| x.as_str()))
        .bind(u.capabilities.map(|c| c.receive))
        .bind(u.capabilities.map(|c| c.send))
        .bind(u.supervisor.as_ref().map(|c| c.as_str()))
        .bind($at)
        .bind(&u.email)
        .execute(&mut **$tx)
        .await?
        .rows_affected();
        if n > 0 {
            $crate::store::sanctions::roster_change!($tx, $at, code, "changed", $detail);
        }
        n
    }};
}
pub(crate) use update_participant;

/// Sets the status (with its reason) of the participant `$code` inside
/// `$tx`, unless it is terminated, with its roster entry. Evaluates to the
/// rows changed.
macro_rules! set_participant_status {
    ($tx:expr, $at:expr, $code:expr, $status:expr, $reason:expr) => {{
        let code: &str = $code.as_ref();
        let status: $crate::domain::ParticipantStatus = $status;
        let reason: Option<&str> = $reason;
        let before: Option<(String,)> = sqlx::query_as("SELECT status FROM participants WHERE code = $1")
            .bind(code)
            .fetch_optional(&mut **$tx)
            .await?;
        let n = sqlx::query(
            "UPDATE participants SET status = $2, status_reason = $3, updated_at = $4 \
             WHERE code = $1 AND status <> 'terminated'",
        )
        .bind(code)
        .bind(status.as_str())
        .bind(reason)
        .bind($at)
        .execute(&mut **$tx)
        .await?
        .rows_affected();
        if n > 0 {
            let change = match (before.as_ref().map(|b| b.0.as_str()), status) {
                (Some("pending"), $crate::domain::ParticipantStatus::Active) => "activated",
                (_, $crate::domain::ParticipantStatus::Active) => "reinstated",
                (_, s) => s.as_str(),
            };
            let detail = match reason {
                Some(r) => format!("{code} {change}: {r}"),
                None => format!("{code} {change}"),
            };
            $crate::store::sanctions::roster_change!($tx, $at, code, change, detail);
        }
        n
    }};
}
pub(crate) use set_participant_status;

/// Inserts one allowlist entry inside `$tx`; evaluates to the query's
/// result (an [`AllowlistRow`]), so the caller decides what a duplicate means.
macro_rules! insert_allowlist_entry {
    ($tx:expr, $at:expr, $code:expr, $range:expr, $note:expr) => {{
        let range: &$crate::domain::IpRange = $range;
        sqlx::query_as::<_, $crate::store::participants::AllowlistRow>(
            "INSERT INTO allowlist (participant_code, ip_range, note, created_at) VALUES ($1, $2, $3, $4) \
             RETURNING id, participant_code, ip_range, note, created_at",
        )
        .bind($code)
        .bind(range.to_string())
        .bind($note)
        .bind($at)
        .fetch_one(&mut **$tx)
        .await
    }};
}
pub(crate) use insert_allowlist_entry;

pub(super) const PARTICIPANT_COLUMNS: &str = "code, kind, name, ubn, status, status_reason, can_receive, can_send, \
                                   supervisor_code, email, created_at, updated_at";

impl Store {
    pub async fn participant(&self, code: &str) -> Result<Option<Participant>> {
        let sql = format!("SELECT {PARTICIPANT_COLUMNS} FROM participants WHERE code = $1");
        let row: Option<ParticipantRow> = with_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(code).fetch_optional(pool).await?
        });
        row.map(Participant::try_from).transpose()
    }

    /// Participants in code order, a page at a time.
    pub async fn participants(&self, page: &Page<String>) -> Result<Vec<Participant>> {
        let sql = format!("SELECT {PARTICIPANT_COLUMNS} FROM participants WHERE code > $1 ORDER BY code LIMIT $2");
        let rows: Vec<ParticipantRow> = with_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(page.after.as_deref().unwrap_or(""))
                .bind(page.limit)
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(Participant::try_from).collect()
    }

    /// Creates a participant and logs it, in one transaction.
    pub async fn create_participant(
        &self,
        p: &NewParticipant,
        at: DateTime<Utc>,
        log: &NewLogEntry,
    ) -> Result<Participant> {
        let at = stored_time(at);
        with_pool!(self, |pool| {
            let mut tx = self.begin_write(pool).await?;
            insert_participant!(tx, at, p);
            append_log!(tx, at, log);
            tx.commit().await?;
            self.auth_changed();
        });
        self.participant(p.code.as_str()).await?.ok_or(StoreError::NotFound)
    }

    /// Changes the given fields of a participant and logs it, in one transaction.
    pub async fn update_participant(
        &self,
        code: &ParticipantCode,
        u: &ParticipantUpdate,
        at: DateTime<Utc>,
        log: &NewLogEntry,
    ) -> Result<Participant> {
        let at = stored_time(at);
        let changed = with_pool!(self, |pool| {
            let mut tx = self.begin_write(pool).await?;
            let n = update_participant!(tx, at, code, u, format!("{code} details changed"));
            if n > 0 {
                append_log!(tx, at, log);
            }
            tx.commit().await?;
            self.auth_changed();
            n
        });
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        self.participant(code.as_str()).await?.ok_or(StoreError::NotFound)
    }

    /// Sets a participant's status with its reason, and logs it, in one transaction.
    /// A terminated participant stays terminated.
    pub async fn set_participant_status(
        &self,
        code: &ParticipantCode,
        status: ParticipantStatus,
        reason: Option<&str>,
        at: DateTime<Utc>,
        log: &NewLogEntry,
    ) -> Result<Participant> {
        let at = stored_time(at);
        let changed = with_pool!(self, |pool| {
            let mut tx = self.begin_write(pool).await?;
            let n = set_participant_status!(tx, at, code, status, reason);
            if n > 0 {
                append_log!(tx, at, log);
            }
            tx.commit().await?;
            self.auth_changed();
            n
        });
        match (changed, self.participant(code.as_str()).await?) {
            (_, None) => Err(StoreError::NotFound),
            (0, Some(_)) => Err(StoreError::Conflict(format!("participant {code} is terminated"))),
            (_, Some(p)) => Ok(p),
        }
    }

    /// Status, receive capability and name of each of `codes` that exists,
    /// in chunks so 10,000 recipients stay within parameter limits.
    pub async fn reachability(
        &self,
        codes: &[&str],
    ) -> Result<std::collections::HashMap<String, (ParticipantStatus, bool, String)>> {
        let mut out = std::collections::HashMap::with_capacity(codes.len());
        for chunk in codes.chunks(1000) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT code, status, can_receive, name FROM participants WHERE code IN ({})",
                placeholders.join(", ")
            );
            let rows: Vec<(String, String, bool, String)> = with_pool!(self, |pool| {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                for c in chunk {
                    q = q.bind(*c);
                }
                q.fetch_all(pool).await?
            });
            for (code, status, can_receive, name) in rows {
                out.insert(code, (status.parse()?, can_receive, name));
            }
        }
        Ok(out)
    }

    /// A participant's allowlist, or every participant's (`None`).
    pub async fn allowlist_of(&self, code: Option<&str>) -> Result<Vec<AllowlistEntry>> {
        let rows: Vec<AllowlistRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, participant_code, ip_range, note, created_at FROM allowlist \
                 WHERE $1 IS NULL OR participant_code = $1 ORDER BY participant_code, id",
            )
            .bind(code)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(AllowlistEntry::try_from).collect()
    }

    pub async fn allowlist(&self, code: &str) -> Result<Vec<AllowlistEntry>> {
        self.allowlist_of(Some(code)).await
    }

    pub async fn add_allowlist_entry(
        &self,
        code: &ParticipantCode,
        range: IpRange,
        note: Option<&str>,
        at: DateTime<Utc>,
        log: &NewLogEntry,
    ) -> Result<AllowlistEntry> {
        let at = stored_time(at);
        let row: AllowlistRow = with_pool!(self, |pool| {
            let mut tx = self.begin_write(pool).await?;
            let row = insert_allowlist_entry!(tx, at, code.as_str(), &range, note)
                .map_err(conflict_on_unique(format!("{range} is already allowed for {code}")))?;
            append_log!(tx, at, log);
            tx.commit().await?;
            self.auth_changed();
            row
        });
        row.try_into()
    }

    /// Removes one entry; `NotFound` when the participant has no such entry.
    pub async fn remove_allowlist_entry(
        &self,
        code: &ParticipantCode,
        id: i64,
        at: DateTime<Utc>,
        log: &NewLogEntry,
    ) -> Result<()> {
        let at = stored_time(at);
        let n = with_pool!(self, |pool| {
            let mut tx = self.begin_write(pool).await?;
            let n = sqlx::query("DELETE FROM allowlist WHERE id = $1 AND participant_code = $2")
                .bind(id)
                .bind(code.as_str())
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
        if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }
}
