//! The trust store (CA certificates and CRLs) client certificates and
//! signatures are checked against: what it holds, and reading it again
//! without a restart (new CRLs, new CAs), logged.

use crate::domain::Role;
use crate::domain::log::{LogAction, NewLogEntry};
use crate::pki::trust::TrustSummary;
use crate::service::app::App;
use crate::service::caller::Caller;
use crate::service::error::{Result, ServiceError};

pub fn summary(app: &App, caller: &Caller) -> Result<TrustSummary> {
    caller.require(Role::ItBureau)?;
    Ok(app.tls.trust().summary.clone())
}

/// Re-reads the trust store at the IT bureau's request; on any error the
/// previous one stays in force.
pub async fn reload(app: &App, caller: &Caller) -> Result<TrustSummary> {
    caller.require(Role::ItBureau)?;
    let summary = app
        .tls
        .reload()
        .map_err(|e| ServiceError::TrustReloadFailed(format!("{e}; the previous trust store stays in force")))?;
    app.log(&caller.log_entry(LogAction::TrustReloaded, describe(&summary))).await;
    Ok(summary)
}

/// Re-reads the trust store on the operator's signal (SIGHUP).
pub async fn reload_on_signal(app: &App) -> anyhow::Result<()> {
    let summary = app.tls.reload()?;
    app.log(&NewLogEntry::new(LogAction::TrustReloaded, format!("{} (SIGHUP)", describe(&summary)))).await;
    Ok(())
}

/// One line for the exchange log.
pub fn describe(s: &TrustSummary) -> String {
    let revoked: usize = s.crls.iter().map(|c| c.revoked).sum();
    format!(
        "trust store reloaded: {} CAs, {} CRLs, {revoked} revoked certificates",
        s.certificate_authorities.len(),
        s.crls.len()
    )
}
