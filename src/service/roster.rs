//! 機關及連線用戶名冊 (§5-4): the public roster of the exchange's
//! participants, and every registration, change, suspension and
//! cancellation. No certificate is needed to read it.

use chrono::{DateTime, Utc};

use crate::domain::participant::Participant;
use crate::domain::{Capabilities, ParticipantStatus};
use crate::service::app::App;
use crate::service::error::Result;
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
