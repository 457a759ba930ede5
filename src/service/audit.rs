//! Audits (DESIGN §8): 研考會's timeliness report over every participant,
//! and 政風處's security view of the exchange log.

use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::Role;
use crate::domain::log::LogAction;
use crate::domain::period::period;
use crate::service::app::App;
use crate::service::caller::Caller;
use crate::service::error::{Result, ServiceError};
use crate::store::{LogFilter, Timeliness};

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct TimelinessReport {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// When the figures were taken: "overdue" and "pending" are as of then.
    pub as_of: DateTime<Utc>,
    pub participants: Vec<Timeliness>,
    pub totals: Timeliness,
}

/// The timeliness figures of the Taipei days `from`..=`to` (default: the
/// last 30 days), per participant (or for one) and in total.
pub async fn timeliness(
    app: &App,
    caller: &Caller,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    participant: Option<&str>,
) -> Result<TimelinessReport> {
    caller.require(Role::Rdec)?;
    let now = app.now();
    let p = period(from, to, now)?;
    let participant = participant.map(str::trim).filter(|p| !p.is_empty());
    let (participants, totals) = app.store.timeliness(p.start, p.end, now, participant).await?;
    Ok(TimelinessReport {
        from: p.from,
        to: p.to,
        as_of: now,
        participants,
        totals: Timeliness { name: "合計".into(), ..totals },
    })
}

/// What the security view shows: authentication refusals, blocks,
/// suspensions, credential and allowlist changes (DESIGN §8).
pub const SECURITY_ACTIONS: [LogAction; 20] = [
    LogAction::TlsRefused,
    LogAction::ConnectionRefused,
    LogAction::ConnectionTimedOut,
    LogAction::AuthRefused,
    LogAction::IpBlocked,
    LogAction::IpUnblocked,
    LogAction::ParticipantSuspended,
    LogAction::ParticipantReinstated,
    LogAction::ParticipantTerminated,
    LogAction::CredentialRegistered,
    LogAction::CredentialDisabled,
    LogAction::CredentialEnabled,
    LogAction::AllowlistAdded,
    LogAction::AllowlistRemoved,
    LogAction::TrustReloaded,
    LogAction::TrustReloadFailed,
    LogAction::CrlExpiring,
    LogAction::CrlExpired,
    LogAction::LogPurged,
    LogAction::ClosureDeclared,
];

/// 政風處's selection of the log: one of the security actions (all when
/// `action` is none), about `participant` when given.
pub fn security_filter(caller: &Caller, action: Option<&str>, participant: Option<&str>) -> Result<LogFilter> {
    caller.require(Role::Ethics)?;
    let actions = match action {
        Some(a) => {
            let a: LogAction = a.parse()?;
            if !SECURITY_ACTIONS.contains(&a) {
                return Err(ServiceError::InvalidField(format!("{a} is not part of the security view")));
            }
            vec![a.as_str().to_owned()]
        }
        None => SECURITY_ACTIONS.iter().map(|a| a.as_str().to_owned()).collect(),
    };
    Ok(LogFilter { participant: participant.map(str::to_owned), actions, ..Default::default() })
}
