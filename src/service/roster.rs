//! 機關及連線用戶名冊 (§5-4): the public roster of the exchange's
//! participants, and every registration, change, suspension and
//! cancellation. No certificate is needed to read it.

use chrono::{DateTime, Utc};

use crate::domain::log::LogAction;
use crate::domain::participant::Participant;
use crate::domain::{Capabilities, ParticipantKind, ParticipantStatus, Role};
use crate::formats::{FormatError, address_book};
use crate::service::app::App;
use crate::service::caller::Caller;
use crate::service::error::{Result, ServiceError};
use crate::service::participants::{self, ParticipantChanges, ParticipantForm};
use crate::store::{Page, RosterChange};

/// A participant as the public roster shows it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RosterEntry {
    pub code: String,
    pub name: String,
    /// agency or connected_user.
    pub kind: String,
    pub capabilities: Capabilities,
    /// active or suspended.
    pub status: String,
    /// Registered since.
    pub since: DateTime<Utc>,
    /// Last change of its entry.
    pub updated_at: DateTime<Utc>,
}

impl From<Participant> for RosterEntry {
    fn from(p: Participant) -> Self {
        RosterEntry {
            code: p.code.to_string(),
            name: p.name,
            kind: p.kind.to_string(),
            capabilities: p.capabilities,
            status: p.status.to_string(),
            since: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// Every participant that is registered and not cancelled, in code order.
pub async fn entries(app: &App) -> Result<Vec<RosterEntry>> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = app.store.participants(&Page { after: after.clone(), limit: 1000 }).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.code.to_string());
        out.extend(
            page.into_iter()
                .filter(|p| matches!(p.status, ParticipantStatus::Active | ParticipantStatus::Suspended))
                .map(RosterEntry::from),
        );
    }
    Ok(out)
}

/// The roster's changes at or after `since`, after the change id `after`.
pub async fn changes(app: &App, since: Option<DateTime<Utc>>, after: i64, limit: i64) -> Result<Vec<RosterChange>> {
    Ok(app.store.roster_changes(since, after, limit).await?)
}

/// The last `n` changes, newest first (the console's roster page).
pub async fn latest_changes(app: &App, n: usize) -> Result<Vec<RosterChange>> {
    let mut changes = app.store.roster_changes(None, 0, 10_000).await?;
    changes.reverse();
    changes.truncate(n);
    Ok(changes)
}

/// What importing a national address book does (or, in a dry run, would do).
#[derive(Debug, Default, serde::Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    pub dry_run: bool,
    /// Agencies in the file.
    pub rows: usize,
    /// Agencies new to the hub, registered as `pending` (not yet able to
    /// exchange: the IT bureau activates each with its card and addresses).
    pub created: Vec<ImportedName>,
    /// Participants whose name the file changes.
    pub renamed: Vec<Renamed>,
    pub unchanged: usize,
    /// Participants whose status in the file differs from the hub's. Not
    /// changed: suspension and termination are the IT bureau's decisions (§15).
    pub status_differs: Vec<StatusDiffers>,
    /// Lines not imported, and why.
    pub skipped: Vec<Skipped>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ImportedName {
    pub code: String,
    pub name: String,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Renamed {
    pub code: String,
    pub from: String,
    pub to: String,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct StatusDiffers {
    pub code: String,
    pub name: String,
    /// The file's STATUSCODE, as a participant status.
    pub national: ParticipantStatus,
    pub hub: ParticipantStatus,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Skipped {
    pub line: usize,
    pub code: String,
    pub reason: String,
}

/// Imports a national address book (`ORGID,ORGNAME,STATUSCODE,UPDATETIME`)
/// to seed or refresh agency names and codes; with `dry_run`, only says
/// what it would change. A file with any bad line changes nothing.
pub async fn import(app: &App, caller: &Caller, bytes: &[u8], dry_run: bool) -> Result<ImportReport> {
    caller.require(Role::ItBureau)?;
    let rows = address_book::parse(bytes).map_err(|e| match e {
        FormatError::Invalid(m) | FormatError::Unsafe(m) | FormatError::UnsafeName(m) => {
            ServiceError::InvalidField(format!("national address book: {m}"))
        }
    })?;
    let mut report = ImportReport { dry_run, rows: rows.len(), ..ImportReport::default() };
    let mut creations = Vec::new();
    let mut renames = Vec::new();
    for row in rows {
        let code = row.code.to_string();
        match app.store.participant(&code).await? {
            None if row.status != ParticipantStatus::Active => report.skipped.push(Skipped {
                line: row.line,
                code,
                reason: format!(
                    "not in use in the address book (STATUSCODE {})",
                    address_book::status_code(row.status)
                ),
            }),
            None => {
                report.created.push(ImportedName { code, name: row.name.clone() });
                creations.push(row);
            }
            Some(p) => {
                let hub_reads =
                    if p.status == ParticipantStatus::Pending { ParticipantStatus::Active } else { p.status };
                if hub_reads != row.status {
                    report.status_differs.push(StatusDiffers {
                        code: code.clone(),
                        name: p.name.clone(),
                        national: row.status,
                        hub: p.status,
                    });
                }
                if p.name != row.name {
                    report.renamed.push(Renamed { code, from: p.name.clone(), to: row.name.clone() });
                    renames.push(row);
                } else {
                    report.unchanged += 1;
                }
            }
        }
    }
    if dry_run {
        return Ok(report);
    }
    for row in creations {
        let form = ParticipantForm {
            code: row.code,
            kind: ParticipantKind::Agency,
            name: row.name,
            unified_business_number: None,
            capabilities: Capabilities { receive: true, send: true },
            supervisor: None,
            status: Some(ParticipantStatus::Pending),
            email: None,
        };
        participants::create(app, caller, form).await?;
    }
    for row in renames {
        let changes = ParticipantChanges { name: Some(row.name), ..ParticipantChanges::default() };
        participants::update(app, caller, row.code.as_str(), changes).await?;
    }
    let summary = format!(
        "national address book imported: {} rows, {} created, {} renamed, {} unchanged, {} status differences, {} skipped",
        report.rows,
        report.created.len(),
        report.renamed.len(),
        report.unchanged,
        report.status_differs.len(),
        report.skipped.len()
    );
    app.log(&caller.log_entry(LogAction::RosterImported, summary)).await;
    Ok(report)
}
