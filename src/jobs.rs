//! Daily jobs: disable credentials unused for the inactivity period
//! (`seeds/002` §5(5)). Idempotent, so several hub nodes may run them.

use std::sync::Arc;
use std::time::Duration;

use chrono::Duration as Days;
use tokio::sync::watch;

use crate::app::App;

/// What a run of the daily jobs did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct DailyReport {
    /// Ids of the credentials disabled for inactivity.
    pub disabled_credentials: Vec<i64>,
}

pub async fn daily(app: &App) -> anyhow::Result<DailyReport> {
    let now = app.now();
    let cutoff = now - Days::days(i64::from(app.config.auth.inactivity_days));
    let disabled = app.store.disable_inactive_credentials(cutoff, now).await?;
    for c in &disabled {
        tracing::info!(id = c.id, participant = %c.participant, subject = %c.subject, "credential disabled for inactivity");
    }
    Ok(DailyReport { disabled_credentials: disabled.iter().map(|c| c.id).collect() })
}

/// Runs [`daily`] at start and then every 24 hours until shutdown.
pub async fn run_daily(app: Arc<App>, mut shutdown: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(Duration::from_secs(24 * 3600));
    loop {
        tokio::select! {
            _ = interval.tick() => {
                if let Err(e) = daily(&app).await {
                    tracing::error!(%e, "daily jobs failed");
                }
            }
            _ = shutdown.changed() => return,
        }
    }
}
