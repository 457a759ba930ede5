//! How many connections the hub holds, in all and from one address, and
//! the exchange-log entries of connections refused or closed for stalling.
//!
//! A connection is refused before its TLS handshake (nothing can be said to
//! the client then but a closed socket), so each refusal is logged; to keep
//! an attacker from flooding the log, at most a few entries a minute are
//! written per address and a few hundred in all, and every event is counted
//! in `/metrics` (`gwx_connection_events_total`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::domain::log::{LogAction, NewLogEntry};
use crate::runtime::config::ConnectionsConfig;
use crate::service::app::App;

/// Entries a minute about one address, and about all together.
const LOG_PER_ADDRESS_PER_MINUTE: u32 = 6;
const LOG_PER_MINUTE: u32 = 300;

pub struct Connections {
    total: Arc<Semaphore>,
    max_total: u32,
    per_ip: Mutex<HashMap<IpAddr, u32>>,
    max_per_ip: u32,
    log_per_ip: DefaultKeyedRateLimiter<IpAddr>,
    log_all: DefaultDirectRateLimiter,
}

/// One admitted connection; its place is given back when dropped.
pub struct Admitted {
    _total: OwnedSemaphorePermit,
    ip: Option<(IpAddr, Arc<Connections>)>,
}

impl std::fmt::Debug for Admitted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admitted").field("ip", &self.ip.as_ref().map(|(ip, _)| ip)).finish()
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        metrics::gauge!("gwx_connections_open").decrement(1);
        if let Some((ip, conns)) = &self.ip {
            let mut counts = conns.per_ip.lock().expect("connection counts lock");
            if let Some(n) = counts.get_mut(ip) {
                *n -= 1;
                if *n == 0 {
                    counts.remove(ip);
                }
            }
        }
    }
}

/// A connection-level event written to the exchange log.
pub enum Event {
    /// Refused: over the total or per-address limit.
    Refused(String),
    /// Closed: handshake, headers or the client's reading too slow.
    TimedOut(String),
}

impl Connections {
    pub fn new(c: &ConnectionsConfig) -> Arc<Connections> {
        let per_minute = |n: u32| Quota::per_minute(NonZeroU32::new(n).expect("a positive literal"));
        Arc::new(Connections {
            total: Arc::new(Semaphore::new(c.max_connections as usize)),
            max_total: c.max_connections,
            per_ip: Mutex::default(),
            max_per_ip: c.max_connections_per_ip,
            log_per_ip: RateLimiter::keyed(per_minute(LOG_PER_ADDRESS_PER_MINUTE)),
            log_all: RateLimiter::direct(per_minute(LOG_PER_MINUTE)),
        })
    }

    /// A place among all connections, or why there is none.
    pub fn admit(&self) -> Result<Admitted, String> {
        match self.total.clone().try_acquire_owned() {
            Ok(p) => {
                metrics::gauge!("gwx_connections_open").increment(1);
                Ok(Admitted { _total: p, ip: None })
            }
            Err(_) => Err(format!("the hub already holds its maximum of {} connections", self.max_total)),
        }
    }

    /// Counts `admitted` against `ip` too, unless `ip` holds its maximum.
    pub fn admit_from(self: &Arc<Self>, admitted: &mut Admitted, ip: IpAddr) -> Result<(), String> {
        let ip = ip.to_canonical();
        let mut counts = self.per_ip.lock().expect("connection counts lock");
        let n = counts.entry(ip).or_insert(0);
        if *n >= self.max_per_ip {
            return Err(format!("{ip} already holds its maximum of {} connections", self.max_per_ip));
        }
        *n += 1;
        admitted.ip = Some((ip, self.clone()));
        Ok(())
    }

    #[cfg(test)]
    fn open_from(&self, ip: IpAddr) -> u32 {
        self.per_ip.lock().expect("connection counts lock").get(&ip.to_canonical()).copied().unwrap_or(0)
    }

    /// Counts the event and writes it to the exchange log unless `ip` or
    /// the hub as a whole has had its share of entries this minute.
    pub async fn log(&self, app: &App, ip: IpAddr, credential: Option<String>, event: Event) {
        let (action, kind, problem, detail) = match event {
            Event::Refused(d) => (LogAction::ConnectionRefused, "refused", "too-many-connections", d),
            Event::TimedOut(d) => (LogAction::ConnectionTimedOut, "timed_out", "request-timeout", d),
        };
        metrics::counter!("gwx_connection_events_total", "event" => kind).increment(1);
        let ip = ip.to_canonical();
        if self.log_per_ip.len() > 100_000 {
            self.log_per_ip.retain_recent();
        }
        if self.log_per_ip.check_key(&ip).is_err() || self.log_all.check().is_err() {
            metrics::counter!("gwx_connection_events_unlogged_total").increment(1);
            return;
        }
        let mut entry = NewLogEntry::new(action, detail).source_ip(ip).problem(format!("urn:gwx:error:{problem}"));
        entry.credential = credential;
        app.log(&entry).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(total: u32, per_ip: u32) -> ConnectionsConfig {
        let text = format!("max_connections = {total}\nmax_connections_per_ip = {per_ip}\n");
        toml::from_str(&text).unwrap()
    }

    #[test]
    fn an_address_holds_at_most_its_share_and_gets_it_back_on_close() {
        let conns = Connections::new(&config(10, 2));
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let mut held = Vec::new();
        for _ in 0..2 {
            let mut a = conns.admit().unwrap();
            conns.admit_from(&mut a, ip).unwrap();
            held.push(a);
        }
        let mut third = conns.admit().unwrap();
        let refused = conns.admit_from(&mut third, ip).unwrap_err();
        assert!(refused.contains("192.0.2.7 already holds its maximum of 2"), "{refused}");
        let mut other = conns.admit().unwrap();
        conns.admit_from(&mut other, "192.0.2.8".parse().unwrap()).unwrap();
        held.pop();
        assert_eq!(conns.open_from(ip), 1);
        conns.admit_from(&mut third, ip).unwrap();
    }

    #[test]
    fn the_total_is_shared_by_all_addresses() {
        let conns = Connections::new(&config(2, 2));
        let a = conns.admit().unwrap();
        let _b = conns.admit().unwrap();
        assert!(conns.admit().unwrap_err().contains("maximum of 2 connections"));
        drop(a);
        assert!(conns.admit().is_ok());
    }
}
