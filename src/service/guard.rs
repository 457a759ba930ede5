//! The guard in front of every request (§15, terms §10–11, `seeds/002`
//! §23): blocked addresses refused at once, even on open keep-alive
//! connections, and per-address and per-certificate rate limits.
//!
//! The block list lives in the database (every node enforces the same
//! list) and is held here in memory: reloaded every two seconds, and at
//! once on the node that changes it. Rate-limit counters are per node.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::runtime::config::LimitsConfig;
use crate::store::{Block, Store};

pub struct Guard {
    blocks: RwLock<Arc<Vec<Block>>>,
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    per_certificate: DefaultKeyedRateLimiter<String>,
}

/// Why a request is refused before anything else looks at it.
pub enum Stop {
    Blocked(Block),
    /// Over a rate limit; retry after this long.
    Limited {
        what: &'static str,
        retry_after: Duration,
    },
}

fn quota(per_minute: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(per_minute.max(1)).expect("at least 1"))
}

impl Guard {
    pub fn new(limits: &LimitsConfig) -> Guard {
        Guard {
            blocks: RwLock::default(),
            per_ip: RateLimiter::keyed(quota(limits.requests_per_minute_per_ip)),
            per_certificate: RateLimiter::keyed(quota(limits.requests_per_minute_per_certificate)),
        }
    }

    pub async fn reload(&self, store: &Store) -> crate::store::Result<()> {
        let blocks = store.blocks().await?;
        *self.blocks.write().expect("blocks lock") = Arc::new(blocks);
        Ok(())
    }

    /// Checks a request from `ip` presenting the certificate `fingerprint`.
    pub fn check(&self, ip: IpAddr, fingerprint: Option<&str>) -> Result<(), Stop> {
        let blocks = self.blocks.read().expect("blocks lock").clone();
        if let Some(b) = blocks.iter().find(|b| b.ip_range.contains(ip)) {
            return Err(Stop::Blocked(b.clone()));
        }
        let now = DefaultClock::default().now();
        if let Err(not_until) = self.per_ip.check_key(&ip) {
            return Err(Stop::Limited { what: "this address", retry_after: not_until.wait_time_from(now) });
        }
        if let Some(fp) = fingerprint
            && let Err(not_until) = self.per_certificate.check_key(&fp.to_owned())
        {
            return Err(Stop::Limited { what: "this certificate", retry_after: not_until.wait_time_from(now) });
        }
        Ok(())
    }

    /// Forgets rate-limit keys that have been idle long enough.
    pub fn forget_idle(&self) {
        self.per_ip.retain_recent();
        self.per_certificate.retain_recent();
    }
}
