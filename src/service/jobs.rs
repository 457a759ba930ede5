//! Daily jobs: disable credentials unused for the inactivity period
//! (`seeds/002` §5(5)), and purge the exchange log, documents and blobs
//! older than the retention (DESIGN §9). Idempotent, so several hub nodes
//! may run them.

use std::sync::Arc;
use std::time::Duration;

use chrono::Duration as Days;
use tokio::sync::watch;

use crate::domain::log::{LogAction, NewLogEntry};
use crate::service::app::App;

/// What a node does before it serves: check that its blob store is the
/// database's, load the block list, store the
/// shipped calendars the database lacks, and read the calendar.
pub async fn prepare(app: &App) -> anyhow::Result<()> {
    use anyhow::Context;
    crate::service::check::blob_store(&app.store, &app.blobs, app.now()).await?;
    app.guard.reload(&app.store).await.context("load the block list")?;
    let added =
        crate::service::deadlines::seed_shipped(&app.store, app.now()).await.context("load the shipped calendars")?;
    if !added.is_empty() {
        tracing::info!(?added, "shipped working-day calendars loaded");
    }
    app.reload_calendar().await.context("load the calendar")?;
    crate::service::check::at_start_up(&app.config, &app.store, app.now()).await.context("the start-up check")?;
    Ok(())
}

/// What a run of the daily jobs did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct DailyReport {
    /// Ids of the credentials disabled for inactivity.
    pub disabled_credentials: Vec<i64>,
    pub purge: crate::store::PurgeReport,
    /// Another node was running them: this one did nothing.
    pub elsewhere: bool,
}

/// The daily jobs, on one node at a time: a node that finds another at
/// them does nothing (the other does it all).
pub async fn daily(app: &App) -> anyhow::Result<DailyReport> {
    let Some(turn) = app.store.try_turn("gwx daily jobs").await? else {
        tracing::info!("the daily jobs are running on another node");
        return Ok(DailyReport { elsewhere: true, ..Default::default() });
    };
    let done = daily_jobs(app).await;
    turn.end().await;
    done
}

async fn daily_jobs(app: &App) -> anyhow::Result<DailyReport> {
    let now = app.now();
    let cutoff = now - Days::days(i64::from(app.config.auth.inactivity_days));
    let disabled = app.store.disable_inactive_credentials(cutoff, now).await?;
    for c in &disabled {
        tracing::info!(id = c.id, participant = %c.participant, subject = %c.subject, "credential disabled for inactivity");
    }
    let purge = purge(app).await?;
    Ok(DailyReport { disabled_credentials: disabled.iter().map(|c| c.id).collect(), purge, elsewhere: false })
}

/// Removes what is older than the configured retention (never below the
/// policy's year: the configuration refuses less) and logs it.
pub async fn purge(app: &App) -> anyhow::Result<crate::store::PurgeReport> {
    let days = app.config.log.retention_days;
    anyhow::ensure!(days >= crate::runtime::config::MIN_RETENTION_DAYS, "retention of {days} days is below the policy");
    let now = app.now();
    let cutoff = now - Days::days(i64::from(days));
    let log = NewLogEntry::new(LogAction::LogPurged, format!("retention purge ({days} days)"));
    let r = app.store.purge(cutoff, now, &app.blobs, &log).await?;
    tracing::info!(entries = r.entries, documents = r.documents, blobs = r.blobs, "retention purge");
    Ok(r)
}

/// The daily jobs first run this long after start: never in the way of a
/// node starting to serve.
const DAILY_FIRST_AFTER: Duration = Duration::from_secs(5 * 60);

/// Runs [`daily`] five minutes after start and then every 24 hours until
/// shutdown (the purge works in short batches: documents are accepted
/// meanwhile).
pub async fn run_daily(app: Arc<App>, mut shutdown: watch::Receiver<bool>) {
    let mut interval =
        tokio::time::interval_at(tokio::time::Instant::now() + DAILY_FIRST_AFTER, Duration::from_secs(24 * 3600));
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

/// Keeps the in-memory block list in step with the database (every node
/// enforces the same list) and forgets idle rate-limit keys, every two
/// seconds until shutdown.
pub async fn refresh_guard(app: Arc<App>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if let Err(e) = app.guard.reload(&app.store).await {
                    tracing::warn!(%e, "cannot reload the block list");
                }
                app.guard.forget_idle();
            }
            _ = shutdown.changed() => return,
        }
    }
}
