//! The hub's shared context: configuration, storage, clock and TLS state,
//! and what a node keeps in memory of the database (the calendar, the
//! block list): every service takes it.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::domain::IpRange;
use crate::domain::calendar::Calendar;
use crate::domain::log::NewLogEntry;
use crate::pki::receipt::ReceiptSigner;
use crate::runtime::clock::SharedClock;
use crate::runtime::config::Config;
use crate::runtime::tls::TlsState;
use crate::service::error::ServiceError;
use crate::store::blobs::{Blobs, MemoryBudget};
use crate::store::{Store, StoreError};

pub struct App {
    pub config: Config,
    pub store: Store,
    pub clock: SharedClock,
    pub tls: TlsState,
    pub trusted_proxies: Vec<IpRange>,
    pub blobs: Blobs,
    /// The memory all uploads in flight share (`limits.intake_memory_bytes`).
    pub intake_memory: MemoryBudget,
    pub receipts: ReceiptSigner,
    /// Participant codes with new deliveries, for long-polling inboxes on
    /// this node (other nodes' deliveries are found by re-querying).
    pub inbox_events: tokio::sync::broadcast::Sender<String>,
    /// Blocked addresses and rate limits.
    pub guard: crate::service::guard::Guard,
    /// The working-day calendar, cached.
    pub calendar: CalendarCache,
    /// Key of the web console's CSRF tokens, derived from the hub's own
    /// private key (so every node behind a load balancer agrees).
    pub console_key: [u8; 32],
}

impl App {
    pub fn new(config: Config, store: Store, clock: SharedClock, tls: TlsState) -> anyhow::Result<Self> {
        use anyhow::Context;
        let trusted_proxies = config.trusted_proxies();
        let blobs = Blobs::open(&config.data_dir(), &config.blobs).context("blob storage")?;
        let cert_path = config.receipts.cert.as_ref().unwrap_or(&config.tls.cert);
        let key_path = config.receipts.key.as_ref().unwrap_or(&config.tls.key);
        let cert = std::fs::read(config.path(cert_path)).context("receipt certificate")?;
        let key = std::fs::read(config.path(key_path)).context("receipt key")?;
        let receipts = ReceiptSigner::load(&cert, &key).context("receipt signer")?;
        let mut hasher = openssl::sha::Sha256::new();
        hasher.update(b"gwx console CSRF key\0");
        hasher.update(&key);
        let console_key = hasher.finish();
        let (inbox_events, _) = tokio::sync::broadcast::channel(1024);
        let guard = crate::service::guard::Guard::new(&config.limits);
        let intake_memory = MemoryBudget::new(usize::try_from(config.limits.intake_memory_bytes).unwrap_or(usize::MAX));
        Ok(App {
            config,
            store,
            clock,
            tls,
            trusted_proxies,
            blobs,
            intake_memory,
            receipts,
            inbox_events,
            guard,
            calendar: Default::default(),
            console_key,
        })
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The current calendar (read again from the store when older than 30 s).
    pub async fn calendar(&self) -> Result<Arc<Calendar>, StoreError> {
        if let Some((cal, at)) = self.calendar.0.read().expect("calendar lock").as_ref()
            && at.elapsed() < CALENDAR_TTL
        {
            return Ok(cal.clone());
        }
        self.reload_calendar().await
    }

    pub async fn reload_calendar(&self) -> Result<Arc<Calendar>, StoreError> {
        let cal = Arc::new(self.store.calendar().await?);
        *self.calendar.0.write().expect("calendar lock") = Some((cal.clone(), Instant::now()));
        Ok(cal)
    }

    /// `sqlite` or `postgres`.
    pub fn backend_name(&self) -> &'static str {
        self.store.backend_name()
    }

    /// Closes the database (at shutdown).
    pub async fn close(&self) {
        self.store.close().await
    }

    /// Whether the database answers; its backend's name when it does.
    pub async fn health(&self) -> Result<&'static str, ServiceError> {
        match self.store.ping().await {
            Ok(()) => Ok(self.store.backend_name()),
            Err(e) => Err(ServiceError::Unavailable(format!("database: {e}"))),
        }
    }

    /// Tells every node that `what` (a name of `store::events`) changed
    /// here. Best effort: a node that misses it catches up with its
    /// periodic refresh.
    pub async fn announce(&self, what: &str) {
        if let Err(e) = self.store.announce(what).await {
            tracing::warn!(%e, what, "cannot tell the other nodes of a change");
        }
    }

    /// Appends to the exchange log. A log that cannot be written is an
    /// operational emergency, but refusing service to report it would hide it
    /// further: the failure goes to the process log and the metrics.
    pub async fn log(&self, entry: &NewLogEntry) {
        if let Err(err) = self.store.append_log(self.now(), entry).await {
            metrics::counter!("gwx_exchange_log_failures_total").increment(1);
            tracing::error!(%err, action = ?entry.action, "cannot write the exchange log");
        }
    }
}

/// How long a node trusts its copy of the calendar before reading it again,
/// so an upload or closure on one node reaches the others.
const CALENDAR_TTL: Duration = Duration::from_secs(30);

/// The calendar as last read from the store.
#[derive(Default)]
pub struct CalendarCache(RwLock<Option<(Arc<Calendar>, Instant)>>);
