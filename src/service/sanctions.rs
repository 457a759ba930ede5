//! Sanctions (§15, terms §10–11): the IT bureau blocks an address or CIDR
//! block at once, without notice, and lifts it; every request is screened
//! against the blocks and the rate limits before anything else looks at it.

use std::net::IpAddr;

use crate::domain::log::LogAction;
use crate::domain::{IpRange, Role};
use crate::service::app::App;
use crate::service::caller::Caller;
use crate::service::error::{Result, ServiceError};
use crate::service::guard::Stop;
use crate::store::Block;

/// Refuses a request from `ip` (with the certificate `fingerprint`) that is
/// blocked or over a rate limit.
pub fn screen(app: &App, ip: IpAddr, fingerprint: Option<&str>) -> Result<()> {
    match app.guard.check(ip, fingerprint) {
        Ok(()) => Ok(()),
        Err(Stop::Blocked(b)) => {
            Err(ServiceError::IpBlocked(format!("{ip} is blocked ({}): {}", b.ip_range, b.reason)))
        }
        Err(Stop::Limited { what, retry_after }) => Err(ServiceError::RateLimited {
            detail: format!("too many requests from {what}; retry after {} s", retry_after.as_secs().max(1)),
            retry_after,
        }),
    }
}

pub async fn blocks(app: &App, caller: &Caller) -> Result<Vec<Block>> {
    caller.require(Role::ItBureau)?;
    Ok(app.store.blocks().await?)
}

/// Blocks `ip` (an address or CIDR block) with the reason, on every node
/// at once. The caller's own address cannot be blocked from where it is.
pub async fn block(app: &App, caller: &Caller, ip: &str, reason: &str) -> Result<Block> {
    caller.require(Role::ItBureau)?;
    let range = IpRange::parse(ip.trim())?;
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(ServiceError::InvalidField("a block needs its reason".into()));
    }
    if range.contains(caller.source_ip) {
        return Err(ServiceError::InvalidField(format!(
            "{range} contains your own address {}; block it from elsewhere",
            caller.source_ip
        )));
    }
    let log = caller.log_entry(LogAction::IpBlocked, format!("{range} blocked: {reason}"));
    let b = app.store.add_block(range, reason, caller.participant.code.as_str(), app.now(), &log).await?;
    app.guard.reload(&app.store).await?;
    app.announce(crate::store::events::BLOCKS).await;
    Ok(b)
}

pub async fn unblock(app: &App, caller: &Caller, id: i64) -> Result<()> {
    caller.require(Role::ItBureau)?;
    let blocks = app.store.blocks().await?;
    let b = blocks.iter().find(|b| b.id == id).ok_or_else(|| ServiceError::NotFound(format!("no block {id}")))?;
    let log = caller.log_entry(LogAction::IpUnblocked, format!("{} unblocked", b.ip_range));
    app.store.remove_block(id, app.now(), &log).await?;
    app.guard.reload(&app.store).await?;
    app.announce(crate::store::events::BLOCKS).await;
    Ok(())
}
