//! `gwx check` (DESIGN §11): is a hub's data what it should be? Every
//! referenced blob present and matching its SHA-256, the exchange log's
//! chain intact, the configuration consistent. A blob found damaged is
//! marked (never served until whole) and one found whole again unmarked.
//!
//! The cheap part — configuration, the last links of the log, the blobs
//! already marked — runs at every start-up.

use std::path::Path;

use chrono::{DateTime, Utc};

use crate::domain::log::{LogAction, NewLogEntry};
use crate::runtime::config::Config;
use crate::store::Store;
use crate::store::blobs::{Blobs, StoreIdentity};

/// Log entries the start-up check follows back from the head.
pub const START_UP_LOG_TAIL: i64 = 1000;

/// What a check found. `problems` are what must be repaired; `notes` what
/// an operator should know.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct CheckReport {
    pub blobs_checked: u64,
    pub blobs_damaged: u64,
    pub blobs_healed: u64,
    pub log_entries_checked: u64,
    pub problems: Vec<String>,
    pub notes: Vec<String>,
}

impl CheckReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The configuration: the files it names exist and agree, the data
/// directory takes writes.
pub fn configuration(config: &Config, report: &mut CheckReport) {
    let readable = |what: &str, p: &Path, report: &mut CheckReport| {
        if let Err(e) = std::fs::metadata(p) {
            report.problems.push(format!("{what} {}: {e}", p.display()));
        }
    };
    let cert = config.path(&config.tls.cert);
    let key = config.path(&config.tls.key);
    readable("the hub certificate", &cert, report);
    readable("the hub key", &key, report);
    readable("the trust directory", &config.path(&config.tls.trust_dir), report);
    if let (Some(c), Some(k)) = (&config.receipts.cert, &config.receipts.key) {
        readable("the receipt certificate", &config.path(c), report);
        readable("the receipt key", &config.path(k), report);
    }
    if let (Ok(c), Ok(k)) = (std::fs::read(&cert), std::fs::read(&key)) {
        match (openssl::x509::X509::from_pem(&c), openssl::pkey::PKey::private_key_from_pem(&k)) {
            (Ok(c), Ok(k)) => {
                if !c.public_key().is_ok_and(|p| p.public_eq(&k)) {
                    report.problems.push("the hub key does not belong to the hub certificate".into());
                }
                let soon = openssl::asn1::Asn1Time::days_from_now(30).expect("a time 30 days ahead");
                if c.not_after() < soon {
                    report.notes.push(format!("the hub certificate expires {}", c.not_after()));
                }
            }
            _ => report.problems.push("the hub certificate or key is not PEM".into()),
        }
    }
    let probe = config.data_dir().join(".gwx-check");
    match std::fs::write(&probe, b"check") {
        Ok(()) => {
            let _ = std::fs::remove_file(&probe);
        }
        Err(e) => {
            report.problems.push(format!("the data directory {} takes no writes: {e}", config.data_dir().display()))
        }
    }
}

/// The exchange log's chain: all of it, or its last `tail` links.
async fn log_chain(store: &Store, tail: Option<i64>, report: &mut CheckReport) -> crate::store::Result<()> {
    let verified = match tail {
        Some(n) => store.verify_log_tail(n).await?,
        None => store.verify_log().await?,
    };
    match verified {
        Ok(r) => report.log_entries_checked = r.checked,
        Err(b) => report.problems.push(format!("the exchange log chain is broken: {b}")),
    }
    Ok(())
}

/// Every blob the database references: present, of its size, hashing to its
/// name. Marks and unmarks damage.
async fn blobs(store: &Store, blobs: &Blobs, now: DateTime<Utc>, report: &mut CheckReport) -> anyhow::Result<()> {
    let mut after = String::new();
    loop {
        let batch = store.blobs_after(&after, 200).await?;
        let Some(last) = batch.last() else { break };
        after = last.sha256.clone();
        for b in batch {
            let sha = crate::domain::document::Sha256::parse(&b.sha256)?;
            let found = match &b.data {
                Some(bytes) if crate::domain::document::Sha256::of(bytes) == sha => Ok(()),
                Some(_) => Err("its bytes in the database do not match its SHA-256".to_owned()),
                None => {
                    let (size, noun) = (b.size as u64, blobs.noun());
                    match blobs.digest(sha.as_str(), None).await {
                        Ok((n, _)) if n != size => Err(format!("its {noun} is {n} bytes, not {size}")),
                        Ok((_, d)) if hex::encode(d) != sha.as_str() => Err(format!("its {noun}'s bytes do not match")),
                        Ok(_) => Ok(()),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(format!("its {noun} is missing")),
                        Err(e) => Err(format!("its {noun} cannot be read: {e}")),
                    }
                }
            };
            report.blobs_checked += 1;
            let sha = crate::domain::document::Sha256::parse(&b.sha256)?;
            match (found, b.damaged) {
                (Ok(()), true) => {
                    store.clear_blob_damage(&sha).await?;
                    report.blobs_healed += 1;
                    report.notes.push(format!("blob {sha} is whole again"));
                }
                (Ok(()), false) => {}
                (Err(why), was) => {
                    if !was {
                        store.mark_blob_damaged(&sha, now).await?;
                    }
                    report.blobs_damaged += 1;
                    report.problems.push(format!("blob {sha} is damaged: {why}"));
                }
            }
        }
    }
    Ok(())
}

/// Whether `blobs` is the store the database's blobs are in. Returns the
/// refusal to give when it is not.
fn other_store(recorded: &StoreIdentity, ours: &StoreIdentity) -> Option<String> {
    (recorded.id != ours.id).then(|| {
        format!(
            "this node's blob store is not the database's: the database's blobs are in {} (blob store {}), \
             this node's [blobs] is {} (blob store {}); point [blobs] at the database's store",
            recorded.location, recorded.id, ours.location, ours.id
        )
    })
}

/// At start-up: the first node on a database records its blob store (nodes
/// starting together take turns); any other refuses to start when its blob
/// store is not that one (a data directory per node, say, or another bucket).
pub async fn blob_store(store: &Store, blobs: &Blobs, now: DateTime<Utc>) -> anyhow::Result<()> {
    use anyhow::Context;
    let identify = || async {
        let ours = blobs.identity(true).await.context("read the blob store's identity")?;
        Ok::<_, anyhow::Error>(ours.expect("created when absent"))
    };
    let recorded = store.claim_blob_store(now, identify).await?;
    let ours = identify().await?;
    if let Some(refusal) = other_store(&recorded, &ours) {
        anyhow::bail!(refusal);
    }
    Ok(())
}

/// The whole check (`gwx check`): configuration, every blob, the whole log.
pub async fn full(
    config: &Config,
    store: &Store,
    blob_store: &Blobs,
    now: DateTime<Utc>,
) -> anyhow::Result<CheckReport> {
    let mut report = CheckReport::default();
    configuration(config, &mut report);
    match (store.recorded_blob_store().await?, blob_store.identity(false).await) {
        (Some(recorded), Ok(Some(ours))) => report.problems.extend(other_store(&recorded, &ours)),
        (Some(recorded), Ok(None)) => report.problems.push(format!(
            "the configured blob store has no identity: the database's blobs are in {} (blob store {})",
            recorded.location, recorded.id
        )),
        (None, _) => report.notes.push("no blob store is recorded yet: the first start records it".into()),
        (_, Err(e)) => report.problems.push(format!("the blob store cannot be reached: {e}")),
    }
    blobs(store, blob_store, now, &mut report).await?;
    log_chain(store, None, &mut report).await?;
    Ok(report)
}

/// The start-up check: configuration, the log's last links, the blobs
/// already known damaged. What it finds is logged (and in the exchange log)
/// but does not stop the hub: documents not concerned are still served.
pub async fn at_start_up(config: &Config, store: &Store, now: DateTime<Utc>) -> anyhow::Result<CheckReport> {
    let mut report = CheckReport::default();
    configuration(config, &mut report);
    log_chain(store, Some(START_UP_LOG_TAIL), &mut report).await?;
    let damaged = store.damaged_blob_count().await?;
    if damaged > 0 {
        report.problems.push(format!("{damaged} blobs are marked damaged: restore them and run gwx check"));
    }
    for p in &report.problems {
        tracing::error!(problem = %p, "start-up check");
    }
    metrics::gauge!("gwx_check_problems").set(report.problems.len() as f64);
    if !report.ok() {
        let entry = NewLogEntry::new(LogAction::ServerError, format!("start-up check: {}", report.problems.join("; ")))
            .problem("urn:gwx:error:check-failed");
        store.append_log(now, &entry).await?;
    }
    Ok(report)
}
