//! The trust store (CA certificates and CRLs) client certificates and
//! signatures are checked against: what it holds, reading it again without
//! a restart (new CRLs, new CAs), logged, and watching it.
//!
//! Stale revocation data fails closed: once a CRL's nextUpdate has passed,
//! certificates it covers are refused at the handshake (OpenSSL) and on open
//! connections (`caller::authenticate`, `revocation-unknown`) until a newer
//! CRL is installed. The IT bureau is warned `tls.crl_warning_hours` ahead
//! (log entry, `/metrics`, console). Since the IT bureau's own card may be
//! among those refused, installing the newer CRL in the trust directory is
//! enough: the watch loads a changed directory within `tls.trust_watch_secs`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::domain::Role;
use crate::domain::log::{LogAction, NewLogEntry};
use crate::pki::trust::{CrlState, TrustSummary};
use crate::service::app::App;
use crate::service::caller::Caller;
use crate::service::error::{Result, ServiceError};

/// The warning period ahead of a CRL's nextUpdate.
fn warning(app: &App) -> chrono::Duration {
    chrono::Duration::hours(i64::from(app.config.tls.crl_warning_hours))
}

/// The trust store with each CRL's state now.
pub fn current(app: &App) -> TrustSummary {
    app.tls.trust().summary_at(app.now(), warning(app))
}

pub fn summary(app: &App, caller: &Caller) -> Result<TrustSummary> {
    caller.require(Role::ItBureau)?;
    Ok(current(app))
}

/// Re-reads the trust store at the IT bureau's request; on any error the
/// previous one stays in force.
pub async fn reload(app: &App, caller: &Caller) -> Result<TrustSummary> {
    caller.require(Role::ItBureau)?;
    app.tls
        .reload()
        .map_err(|e| ServiceError::TrustReloadFailed(format!("{e}; the previous trust store stays in force")))?;
    let summary = current(app);
    app.log(&caller.log_entry(LogAction::TrustReloaded, describe(&summary))).await;
    publish(&summary, app.now());
    app.announce(crate::store::events::TRUST).await;
    Ok(summary)
}

/// Re-reads the trust store on the operator's signal (SIGHUP).
pub async fn reload_on_signal(app: &App) -> anyhow::Result<()> {
    app.tls.reload()?;
    let summary = current(app);
    app.log(&NewLogEntry::new(LogAction::TrustReloaded, format!("{} (SIGHUP)", describe(&summary)))).await;
    publish(&summary, app.now());
    app.announce(crate::store::events::TRUST).await;
    Ok(())
}

/// One line for the exchange log, saying which CRLs are not current.
pub fn describe(s: &TrustSummary) -> String {
    let revoked: usize = s.crls.iter().map(|c| c.revoked).sum();
    let mut line = format!(
        "trust store reloaded: {} CAs, {} CRLs, {revoked} revoked certificates",
        s.certificate_authorities.len(),
        s.crls.len()
    );
    for c in s.crls.iter().filter(|c| c.state != CrlState::Current) {
        line.push_str(&format!("; {}", crl_warning(c)));
    }
    line
}

/// What to tell the IT bureau about a CRL that is not current.
pub fn crl_warning(c: &crate::pki::trust::CrlSummary) -> String {
    let at = c.next_update.map(|t| t.to_rfc3339()).unwrap_or_default();
    match c.state {
        CrlState::Expired => format!(
            "the CRL of {} expired at {at}: certificates it covers are refused, on new and open connections, \
             until a newer CRL is installed in the trust directory",
            c.issuer
        ),
        CrlState::Expiring => format!(
            "the CRL of {} expires at {at}: install a newer one before then, or certificates it covers will be refused",
            c.issuer
        ),
        CrlState::Current => format!("the CRL of {} is current until {at}", c.issuer),
    }
}

/// The CRLs' currency as gauges: seconds to nextUpdate (negative once
/// past) and whether each is expiring or expired.
pub fn publish(s: &TrustSummary, now: DateTime<Utc>) {
    for c in &s.crls {
        let issuer = c.issuer.clone();
        if let Some(t) = c.next_update {
            metrics::gauge!("gwx_crl_next_update_seconds", "issuer" => issuer.clone())
                .set((t - now).num_seconds() as f64);
        }
        let state = |x| if c.state == x { 1.0 } else { 0.0 };
        metrics::gauge!("gwx_crl_expiring", "issuer" => issuer.clone()).set(state(CrlState::Expiring));
        metrics::gauge!("gwx_crl_expired", "issuer" => issuer).set(state(CrlState::Expired));
    }
}

/// What the watch has already told the IT bureau: (issuer, nextUpdate, state).
type Told = HashSet<(String, Option<DateTime<Utc>>, CrlState)>;

/// One look: loads a changed trust directory (when `load_changes`), then
/// logs each CRL that has newly become expiring or expired, and publishes
/// the gauges.
pub async fn look(app: &App, told: &mut Told, load_changes: bool) {
    if load_changes && app.tls.directory_changed() {
        match app.tls.reload() {
            Ok(_) => {
                let line = format!("{} (the trust directory changed)", describe(&current(app)));
                app.log(&NewLogEntry::new(LogAction::TrustReloaded, line)).await;
            }
            Err(e) => {
                let line = format!(
                    "the trust directory changed but cannot be loaded: {e}; the previous trust store stays in force"
                );
                tracing::error!("{line}");
                app.log(&NewLogEntry::new(LogAction::TrustReloadFailed, line)).await;
            }
        }
    }
    let summary = current(app);
    for c in summary.crls.iter().filter(|c| c.state != CrlState::Current) {
        let action = if c.state == CrlState::Expired { LogAction::CrlExpired } else { LogAction::CrlExpiring };
        if told.insert((c.issuer.clone(), c.next_update, c.state)) {
            tracing::warn!("{}", crl_warning(c));
            app.log(&NewLogEntry::new(action, crl_warning(c))).await;
        }
    }
    publish(&summary, app.now());
}

/// Runs [`look`] at start and every `tls.trust_watch_secs` until shutdown
/// (when that is 0, the directory is not watched and the CRLs are checked
/// every minute).
pub async fn watch(app: Arc<App>, mut shutdown: watch::Receiver<bool>) {
    let mut told = Told::new();
    let every = app.config.tls.trust_watch_secs;
    let mut tick = tokio::time::interval(Duration::from_secs(if every == 0 { 60 } else { every }));
    loop {
        tokio::select! {
            _ = tick.tick() => look(&app, &mut told, every != 0).await,
            _ = shutdown.changed() => return,
        }
    }
}
