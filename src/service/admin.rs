//! The IT bureau's overview of the exchange (系統管理): participants with
//! their allowlists, credentials, blocks, the activation queue, the
//! calendar and the state of log retention, in one read.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::domain::Role;
use crate::domain::application::ApplicationState;
use crate::domain::participant::Participant;
use crate::service::app::App;
use crate::service::applications::{self, Requester};
use crate::service::caller::Caller;
use crate::service::error::Result;
use crate::store::{Application, Block, CalendarYearInfo, Checkpoint, Closure, Credential, Page};

/// A participant with its allowlist entries (id, address or block).
pub struct ParticipantRow {
    pub p: Participant,
    pub allowlist_ids: Vec<(i64, String)>,
}

pub struct Overview {
    pub participants: Vec<ParticipantRow>,
    /// The last code of this page of participants, when there may be more.
    pub next: Option<String>,
    pub credentials: Vec<Credential>,
    pub blocks: Vec<Block>,
    /// Approved applications waiting for activation.
    pub activations: Vec<Application>,
    pub years: Vec<CalendarYearInfo>,
    pub closures: Vec<Closure>,
    pub retention_days: u32,
    pub oldest_entry: Option<DateTime<Utc>>,
    pub checkpoint: Option<Checkpoint>,
    /// The trust store, each CRL's state now.
    pub trust: crate::pki::trust::TrustSummary,
}

/// Participants per page of the overview.
pub const PAGE: i64 = 500;

/// The overview, with the page of participants after the code `after`.
pub async fn overview(app: &App, caller: &Caller, after: Option<String>) -> Result<Overview> {
    caller.require(Role::ItBureau)?;
    let mut allowlists: HashMap<String, Vec<(i64, String)>> = HashMap::new();
    for e in app.store.allowlist_of(None).await? {
        allowlists.entry(e.participant.to_string()).or_default().push((e.id, e.ip_range.to_string()));
    }
    let participants: Vec<ParticipantRow> = app
        .store
        .participants(&Page { after, limit: PAGE })
        .await?
        .into_iter()
        .map(|p| ParticipantRow { allowlist_ids: allowlists.remove(p.code.as_str()).unwrap_or_default(), p })
        .collect();
    let next = (participants.len() as i64 == PAGE).then(|| participants.last().map(|r| r.p.code.to_string())).flatten();
    let who = Requester::Registered(Box::new(caller.clone()));
    Ok(Overview {
        participants,
        next,
        credentials: app.store.credentials(None, None, &Page { after: None, limit: 1000 }).await?,
        blocks: app.store.blocks().await?,
        activations: applications::list(app, &who, Some(ApplicationState::Approved)).await?,
        years: app.store.calendar_years().await?,
        closures: app.store.closures().await?,
        retention_days: app.config.log.retention_days,
        oldest_entry: app.store.oldest_log_entry().await?,
        checkpoint: app.store.log_checkpoint().await?,
        trust: crate::service::trust::current(app),
    })
}
