//! The hub's shared context: configuration, storage, clock and TLS state.

use chrono::{DateTime, Utc};

use crate::clock::SharedClock;
use crate::config::Config;
use crate::domain::IpRange;
use crate::domain::log::{LogEntry, NewLogEntry};
use crate::store::Store;
use crate::tls::TlsState;

pub struct App {
    pub config: Config,
    pub store: Store,
    pub clock: SharedClock,
    pub tls: TlsState,
    pub trusted_proxies: Vec<IpRange>,
}

impl App {
    pub fn new(config: Config, store: Store, clock: SharedClock, tls: TlsState) -> Self {
        let trusted_proxies = config.trusted_proxies();
        App { config, store, clock, tls, trusted_proxies }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Appends to the exchange log. A log that cannot be written is an
    /// operational emergency, but refusing service to report it would hide it
    /// further: the failure goes to the process log and the metrics.
    pub async fn log(&self, entry: &NewLogEntry) -> Option<LogEntry> {
        match self.store.append_log(self.now(), entry).await {
            Ok(e) => Some(e),
            Err(err) => {
                metrics::counter!("gwx_exchange_log_failures_total").increment(1);
                tracing::error!(%err, action = ?entry.action, "cannot write the exchange log");
                None
            }
        }
    }
}
