//! The hub's shared context: configuration, storage, clock and TLS state.

use chrono::{DateTime, Utc};

use crate::blobs::Blobs;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::documents::receipt::ReceiptSigner;
use crate::domain::IpRange;
use crate::domain::log::NewLogEntry;
use crate::store::Store;
use crate::tls::TlsState;

pub struct App {
    pub config: Config,
    pub store: Store,
    pub clock: SharedClock,
    pub tls: TlsState,
    pub trusted_proxies: Vec<IpRange>,
    pub blobs: Blobs,
    pub receipts: ReceiptSigner,
    /// Participant codes with new deliveries, for long-polling inboxes on
    /// this node (other nodes' deliveries are found by re-querying).
    pub inbox_events: tokio::sync::broadcast::Sender<String>,
    /// Blocked addresses and rate limits.
    pub guard: crate::sanctions::Guard,
    /// The working-day calendar, cached.
    pub calendar: crate::deadlines::CalendarCache,
    /// Key of the web console's CSRF tokens, derived from the hub's own
    /// private key (so every node behind a load balancer agrees).
    pub console_key: [u8; 32],
}

impl App {
    pub fn new(config: Config, store: Store, clock: SharedClock, tls: TlsState) -> anyhow::Result<Self> {
        use anyhow::Context;
        let trusted_proxies = config.trusted_proxies();
        let blobs = Blobs::open(&config.data_dir()).context("blob storage")?;
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
        let guard = crate::sanctions::Guard::new(&config.limits);
        Ok(App {
            config,
            store,
            clock,
            tls,
            trusted_proxies,
            blobs,
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
