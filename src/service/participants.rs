//! Participants (機關 and 連線用戶) as the IT bureau registers and sanctions
//! them (§4-2, §15): creation, changes, suspension, reinstatement and
//! termination, and each one's fixed-IP allowlist. Every change is logged
//! and lands in the public roster's history.

use crate::domain::log::{LogAction, NewLogEntry};
use crate::domain::participant::{Participant, check_email, check_name, status_change_allowed};
use crate::domain::{
    Capabilities, IpRange, ParticipantCode, ParticipantKind, ParticipantStatus, Role, UnifiedBusinessNumber,
};
use crate::service::app::App;
use crate::service::caller::Caller;
use crate::service::error::{Result, ServiceError};
use crate::store::{AllowlistEntry, NewParticipant, Page, ParticipantUpdate};

/// A participant to register.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParticipantForm {
    pub code: ParticipantCode,
    pub kind: ParticipantKind,
    pub name: String,
    #[schema(value_type = Option<String>, pattern = "^[0-9]{8}$")]
    pub unified_business_number: Option<UnifiedBusinessNumber>,
    pub capabilities: Capabilities,
    /// Required for a connected user: the agency that reviews its applications.
    pub supervisor: Option<ParticipantCode>,
    /// Default `active`.
    pub status: Option<ParticipantStatus>,
    /// Where its notifications are e-mailed.
    pub email: Option<String>,
}

/// Fields of a participant to change; those left out stay as they are.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParticipantChanges {
    pub name: Option<String>,
    #[schema(value_type = Option<String>, pattern = "^[0-9]{8}$")]
    pub unified_business_number: Option<UnifiedBusinessNumber>,
    pub capabilities: Option<Capabilities>,
    pub supervisor: Option<ParticipantCode>,
    pub email: Option<String>,
}

/// The entry an IT bureau action writes to the exchange log.
fn admin_log(caller: &Caller, action: LogAction, counterpart: &ParticipantCode, detail: String) -> NewLogEntry {
    caller.log_entry(action, detail).counterpart(counterpart.to_string())
}

/// The participant `code`, or `NotFound`.
pub async fn existing(app: &App, code: &str) -> Result<Participant> {
    app.store.participant(code).await?.ok_or_else(|| ServiceError::NotFound(format!("no participant {code}")))
}

/// The supervising agency (審核機關) `code` names, if it may be one: an
/// agency of the exchange with an enabled credential of the `supervisor`
/// role. The one answer for participants and applications alike.
pub async fn supervisor_of(app: &App, code: &ParticipantCode) -> Result<Participant> {
    let p = match app.store.participant(code.as_str()).await? {
        Some(p) if p.kind == ParticipantKind::Agency => p,
        Some(_) => return Err(ServiceError::InvalidField(format!("supervisor {code} is not an agency"))),
        None => {
            return Err(ServiceError::InvalidField(format!(
                "supervisor {code} is not an agency of the exchange (no such participant)"
            )));
        }
    };
    let creds = app.store.credentials(Some(code.as_str()), None, &Page { after: None, limit: 1000 }).await?;
    if !creds.iter().any(|c| c.roles.contains(Role::Supervisor) && !c.is_disabled()) {
        return Err(ServiceError::InvalidField(format!("{code} {} does not review applications (審核機關)", p.name)));
    }
    Ok(p)
}

/// One page of participants in code order.
pub async fn list(app: &App, caller: &Caller, page: &Page<String>) -> Result<Vec<Participant>> {
    caller.require(Role::ItBureau)?;
    Ok(app.store.participants(page).await?)
}

pub async fn show(app: &App, caller: &Caller, code: &str) -> Result<Participant> {
    caller.require(Role::ItBureau)?;
    existing(app, code).await
}

/// Registers a participant. A connected user needs its 統一編號 and its
/// supervising agency.
pub async fn create(app: &App, caller: &Caller, form: ParticipantForm) -> Result<Participant> {
    caller.require(Role::ItBureau)?;
    let name = check_name(&form.name)?;
    if form.kind == ParticipantKind::ConnectedUser {
        if form.unified_business_number.is_none() {
            return Err(ServiceError::InvalidField(
                "a connected user needs its unified business number (統一編號)".into(),
            ));
        }
        if form.supervisor.is_none() {
            return Err(ServiceError::InvalidField("a connected user needs its supervising agency (審核機關)".into()));
        }
    }
    if let Some(s) = &form.supervisor {
        supervisor_of(app, s).await?;
    }
    let new = NewParticipant {
        code: form.code,
        kind: form.kind,
        name,
        unified_business_number: form.unified_business_number,
        status: form.status.unwrap_or(ParticipantStatus::Active),
        capabilities: form.capabilities,
        supervisor: form.supervisor,
        email: form.email.as_deref().map(check_email).transpose()?,
    };
    let log = admin_log(
        caller,
        LogAction::ParticipantCreated,
        &new.code,
        format!("participant {} {} created ({})", new.code, new.name, new.kind),
    );
    Ok(app.store.create_participant(&new, app.now(), &log).await?)
}

pub async fn update(app: &App, caller: &Caller, code: &str, changes: ParticipantChanges) -> Result<Participant> {
    caller.require(Role::ItBureau)?;
    let p = existing(app, code).await?;
    if let Some(s) = &changes.supervisor {
        supervisor_of(app, s).await?;
    }
    let update = ParticipantUpdate {
        name: changes.name.as_deref().map(check_name).transpose()?,
        unified_business_number: changes.unified_business_number,
        capabilities: changes.capabilities,
        supervisor: changes.supervisor,
        email: changes.email.as_deref().map(check_email).transpose()?,
    };
    let log = admin_log(caller, LogAction::ParticipantUpdated, &p.code, format!("participant {} updated", p.code));
    Ok(app.store.update_participant(&p.code, &update, app.now(), &log).await?)
}

/// Suspends (暫停, reversible), reinstates or terminates (終止, final) a
/// participant (§15). Suspending and terminating need a reason.
pub async fn change_status(
    app: &App,
    caller: &Caller,
    code: &str,
    to: ParticipantStatus,
    reason: Option<&str>,
) -> Result<Participant> {
    caller.require(Role::ItBureau)?;
    let p = existing(app, code).await?;
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    let stopping = matches!(to, ParticipantStatus::Suspended | ParticipantStatus::Terminated);
    if stopping && p.code == caller.participant.code {
        return Err(ServiceError::InvalidField(format!(
            "{} is your own participant: it is made {to} by the IT bureau from another participant's credential",
            p.code
        )));
    }
    if stopping && reason.is_none() {
        return Err(ServiceError::InvalidField(format!("a reason is required to make a participant {to}")));
    }
    if !status_change_allowed(p.status, to) {
        return Err(ServiceError::Conflict(format!("participant {} is {} and cannot become {to}", p.code, p.status)));
    }
    let action = match to {
        ParticipantStatus::Suspended => LogAction::ParticipantSuspended,
        ParticipantStatus::Terminated => LogAction::ParticipantTerminated,
        _ => LogAction::ParticipantReinstated,
    };
    let detail =
        format!("participant {} {} → {to}{}", p.code, p.status, reason.map(|r| format!(": {r}")).unwrap_or_default());
    let log = admin_log(caller, action, &p.code, detail);
    Ok(app.store.set_participant_status(&p.code, to, reason, app.now(), &log).await?)
}

pub async fn allowlist(app: &App, caller: &Caller, code: &str) -> Result<Vec<AllowlistEntry>> {
    caller.require(Role::ItBureau)?;
    let p = existing(app, code).await?;
    Ok(app.store.allowlist(p.code.as_str()).await?)
}

/// Allows an address or CIDR block for the participant.
pub async fn allow(app: &App, caller: &Caller, code: &str, ip: &str, note: Option<&str>) -> Result<AllowlistEntry> {
    caller.require(Role::ItBureau)?;
    let p = existing(app, code).await?;
    let range = IpRange::parse(ip.trim())?;
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    let log = admin_log(caller, LogAction::AllowlistAdded, &p.code, format!("{range} allowed for {}", p.code));
    Ok(app.store.add_allowlist_entry(&p.code, range, note, app.now(), &log).await?)
}

pub async fn disallow(app: &App, caller: &Caller, code: &str, id: i64) -> Result<()> {
    caller.require(Role::ItBureau)?;
    let p = existing(app, code).await?;
    let entries = app.store.allowlist(p.code.as_str()).await?;
    let entry = entries
        .iter()
        .find(|e| e.id == id)
        .ok_or_else(|| ServiceError::NotFound(format!("{code} has no allowlist entry {id}")))?;
    // The operator cannot shut itself out by accident: its own address keeps an entry.
    let mine = p.code == caller.participant.code && entry.ip_range.contains(caller.source_ip);
    if mine && !entries.iter().any(|e| e.id != id && e.ip_range.contains(caller.source_ip)) {
        return Err(ServiceError::InvalidField(format!(
            "{} is the only entry that allows your own address {}; remove it from elsewhere",
            entry.ip_range, caller.source_ip
        )));
    }
    let log = admin_log(
        caller,
        LogAction::AllowlistRemoved,
        &p.code,
        format!("{} no longer allowed for {}", entry.ip_range, p.code),
    );
    Ok(app.store.remove_allowlist_entry(&p.code, id, app.now(), &log).await?)
}
