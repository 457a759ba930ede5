//! Load scenarios: `throughput` (as fast as accepted) and the fixed-rate
//! `latency` and `lifecycle` runs, with recipients fetching and confirming.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use crate::client::Client;
use crate::client::package::Outgoing;
use crate::domain::document::Sha256;
use crate::pki::trust::TrustMaterial;

use super::*;

/// What makes a 201 an accepted document: a receipt that parses, whose
/// CMS signature verifies against the demo CA and was made with the hub's
/// receipt certificate, and that names the envelope submitted.
pub(super) struct ReceiptCheck {
    pub(super) trust: TrustMaterial,
    /// SHA-256 fingerprint of the hub's receipt certificate.
    pub(super) signer: String,
    /// For a reference server, which signs nothing: a 201 is an answer.
    pub(super) answered_only: bool,
}

impl ReceiptCheck {
    pub(super) fn load(dir: &std::path::Path) -> anyhow::Result<ReceiptCheck> {
        let trust = TrustMaterial::load_ca_file(&dir.join("certs/ca.pem"))?;
        let pem = std::fs::read(dir.join("certs/receipt.pem"))?;
        let cert = openssl::x509::X509::from_pem(&pem)?;
        let signer = crate::pki::fingerprint(&cert);
        Ok(ReceiptCheck { trust, signer, answered_only: false })
    }

    /// `Ok` for an accepted document, else the cause of the failure.
    pub(super) fn verdict(
        &self,
        sent: anyhow::Result<(u16, serde_json::Value)>,
        envelope: &[u8],
    ) -> Result<(), String> {
        use base64::Engine;
        let v = match sent {
            Ok((201, _)) if self.answered_only => return Ok(()),
            Ok((201, v)) => v,
            Ok((status, _)) => return Err(format!("HTTP {status}")),
            Err(e) => {
                return Err(match e.downcast_ref::<crate::client::HubProblem>() {
                    Some(p) => format!("HTTP {} {}", p.status, p.type_.trim_start_matches("urn:gwx:error:")),
                    None if e.chain().any(|c| c.downcast_ref::<reqwest::Error>().is_some_and(|r| r.is_timeout())) => {
                        "client timeout".into()
                    }
                    None => "connection error".into(),
                });
            }
        };
        let der = v["receipt"]
            .as_str()
            .and_then(|r| base64::engine::general_purpose::STANDARD.decode(r).ok())
            .ok_or("201 without a receipt")?;
        let (content, signer) =
            crate::pki::cms::verify_attached(&der, &self.trust).map_err(|_| "receipt signature does not verify")?;
        if crate::pki::fingerprint(&signer) != self.signer {
            return Err("receipt not signed by the hub's receipt certificate".into());
        }
        let content: serde_json::Value = serde_json::from_slice(&content).map_err(|_| "receipt content unreadable")?;
        if content["envelope_sha256"] != Sha256::of(envelope).as_str() || content["document_id"] != v["document_id"] {
            return Err("receipt names another envelope".into());
        }
        Ok(())
    }
}

/// Failures by cause.
#[derive(Debug, Default)]
pub(super) struct Failures(pub(super) BTreeMap<String, usize>);

impl Failures {
    pub(super) fn add(&mut self, cause: String) {
        *self.0.entry(cause).or_default() += 1;
    }

    fn merge(&mut self, other: Failures) {
        for (k, n) in other.0 {
            *self.0.entry(k).or_default() += n;
        }
    }

    pub(super) fn total(&self) -> usize {
        self.0.values().sum()
    }
}

pub(super) async fn throughput(
    clients: &[Arc<Client>],
    docs: Vec<(usize, Outgoing)>,
    args: &BenchArgs,
    check: Arc<ReceiptCheck>,
) -> Throughput {
    let docs = Arc::new(docs);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..args.clients)
        .map(|_| {
            let (docs, next, clients, check) = (docs.clone(), next.clone(), clients.to_vec(), check.clone());
            tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut failures = Failures::default();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((s, out)) = docs.get(i) else { break };
                    let t = Instant::now();
                    let sent = clients[*s].send_without_retry(out).await;
                    let took = t.elapsed();
                    match check.verdict(sent, &out.envelope_xml) {
                        Ok(()) => lat.push(took),
                        Err(cause) => failures.add(cause),
                    }
                }
                (lat, failures)
            })
        })
        .collect();
    let mut lat = Vec::new();
    let mut failures = Failures::default();
    for w in workers {
        let (l, f) = w.await.expect("worker");
        lat.extend(l);
        failures.merge(f);
    }
    let seconds = start.elapsed().as_secs_f64();
    Throughput {
        documents: docs.len(),
        package_bytes: args.size,
        recipients: args.recipients,
        clients: args.clients,
        seconds,
        documents_per_s: lat.len() as f64 / seconds,
        submit: Latencies::of(lat),
        failures: failures.total(),
        failures_by_cause: failures.0,
        hub_cpu_ms_per_document: None,
        client_cpu_ms_per_document: None,
        database_cpu_ms_per_document: None,
        nodes: 1,
        object_store_cpu_ms_per_document: None,
        reference: None,
    }
}

/// Recipients long-poll, download and confirm until `expected` deliveries
/// are confirmed. Only deliveries after `since` (a delivery-id cursor) count.
pub(super) async fn receive_and_confirm(
    clients: Vec<Arc<Client>>,
    expected: usize,
    deadline: Instant,
    since: String,
) -> Vec<Duration> {
    let confirmed = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|c| {
            let confirmed = confirmed.clone();
            let since = since.clone();
            tokio::spawn(async move {
                let mut lat = Vec::new();
                while confirmed.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
                    let query = format!("/api/v1/inbox?state=delivered&limit=200&wait=1&cursor={since}");
                    let Ok(page) = c.get_json(&query).await else { continue };
                    let items = page["items"].as_array().cloned().unwrap_or_default();
                    let results: Vec<Option<Duration>> = futures_util::stream::iter(items)
                        .map(|d| {
                            let c = c.clone();
                            async move {
                                let id = d["id"].as_str()?.to_owned();
                                c.download(&id).await.ok()?;
                                let v = c
                                    .post_json(&format!("/api/v1/deliveries/{id}/confirm"), &serde_json::json!({}))
                                    .await
                                    .ok()?;
                                let t = |v: &serde_json::Value| chrono::DateTime::parse_from_rfc3339(v.as_str()?).ok();
                                (t(&v["confirmed_at"])? - t(&d["delivered_at"])?).to_std().ok()
                            }
                        })
                        .buffer_unordered(8)
                        .collect()
                        .await;
                    for r in results.into_iter().flatten() {
                        lat.push(r);
                        confirmed.fetch_add(1, Ordering::Relaxed);
                    }
                }
                lat
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap_or_default());
    }
    all
}

/// Recipients confirming during a rate run: how many confirmations to wait
/// for, for at most `within`.
pub(super) struct Confirming {
    pub(super) expected: usize,
    pub(super) within: Duration,
}

/// How a fixed-rate run bounds itself: requests in flight at most, and a
/// timeout on each (above capacity the run fails requests instead of
/// queueing them without end).
pub(super) struct Bounds {
    pub(super) in_flight: usize,
    pub(super) timeout: Duration,
}

pub(super) async fn rate_run(
    clients: &[Arc<Client>],
    docs: Vec<(usize, Outgoing)>,
    rate: f64,
    confirm: Option<Confirming>,
    check: Arc<ReceiptCheck>,
    bounds: Bounds,
) -> RateRun {
    // Delivery ids are time-ordered (UUIDv7): one made now is a cursor that
    // skips every delivery left by earlier scenarios.
    let since = uuid::Uuid::now_v7().to_string();
    let receivers = confirm
        .map(|c| tokio::spawn(receive_and_confirm(clients.to_vec(), c.expected, Instant::now() + c.within, since)));
    let interval = Duration::from_secs_f64(1.0 / rate);
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let start = Instant::now();
    let slots = Arc::new(tokio::sync::Semaphore::new(bounds.in_flight.max(1)));
    let mut sends = Vec::with_capacity(docs.len());
    let mut failures = Failures::default();
    for (s, out) in docs {
        ticker.tick().await;
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            failures.add(format!("not sent: {} requests already in flight", bounds.in_flight));
            continue;
        };
        let (c, check, timeout) = (clients[s].clone(), check.clone(), bounds.timeout);
        sends.push(tokio::spawn(async move {
            let _slot = slot;
            let t = Instant::now();
            let sent = match tokio::time::timeout(timeout, c.send_without_retry(&out)).await {
                Ok(r) => r,
                Err(_) => return Err("client timeout".to_owned()),
            };
            let took = t.elapsed();
            check.verdict(sent, &out.envelope_xml).map(|()| took)
        }));
    }
    let mut lat = Vec::new();
    for s in sends {
        match s.await.unwrap_or_else(|e| Err(format!("task failed: {e}"))) {
            Ok(d) => lat.push(d),
            Err(cause) => failures.add(cause),
        }
    }
    let achieved = lat.len() as f64 / start.elapsed().as_secs_f64();
    let confirm = match receivers {
        Some(r) => Some(Latencies::of(r.await.unwrap_or_default())),
        None => None,
    };
    RateRun {
        warm_up_seconds: 0,
        target_per_s: rate,
        achieved_per_s: achieved,
        submit: Latencies::of(lat),
        inbox_to_confirm: confirm,
        failures: failures.total(),
        failures_by_cause: failures.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::demo::{KeyPair, Profile, issue_new};
    use base64::Engine;

    /// A CA, the hub's receipt key and another key it issued, in `dir`.
    fn pki(dir: &std::path::Path) -> (KeyPair, KeyPair) {
        let now = chrono::Utc::now();
        let later = now + chrono::Duration::days(1);
        let ca = issue_new(&[("CN", "CA")], Profile::Ca, now, later, None).unwrap();
        let receipt = issue_new(&[("CN", "收據")], Profile::Client { ubn: None }, now, later, Some(&ca)).unwrap();
        let other = issue_new(&[("CN", "other")], Profile::Client { ubn: None }, now, later, Some(&ca)).unwrap();
        std::fs::create_dir_all(dir.join("certs")).unwrap();
        std::fs::write(dir.join("certs/ca.pem"), ca.cert_pem()).unwrap();
        std::fs::write(dir.join("certs/receipt.pem"), receipt.cert_pem()).unwrap();
        (receipt, other)
    }

    fn answer(signer: &KeyPair, id: &str, envelope_sha256: &str) -> serde_json::Value {
        let content = serde_json::json!({"document_id": id, "envelope_sha256": envelope_sha256});
        let der =
            crate::pki::cms::sign_attached(content.to_string().as_bytes(), &signer.cert, &signer.key, &[]).unwrap();
        serde_json::json!({"document_id": id, "receipt": base64::engine::general_purpose::STANDARD.encode(der)})
    }

    #[test]
    fn only_a_receipt_the_hub_signed_for_that_envelope_counts() {
        let dir = tempfile::tempdir().unwrap();
        let (receipt, other) = pki(dir.path());
        let check = ReceiptCheck::load(dir.path()).unwrap();
        let envelope = b"<envelope/>";
        let sha = Sha256::of(envelope).to_string();
        let verdict = |v| check.verdict(Ok((201, v)), envelope);
        assert_eq!(verdict(answer(&receipt, "d1", &sha)), Ok(()));
        // What nginx (or anything else) answering 201 would give.
        assert_eq!(verdict(serde_json::json!({})), Err("201 without a receipt".into()));
        assert_eq!(
            verdict(answer(&other, "d1", &sha)),
            Err("receipt not signed by the hub's receipt certificate".into())
        );
        assert_eq!(verdict(answer(&receipt, "d1", &"0".repeat(64))), Err("receipt names another envelope".into()));
        let mut forged = answer(&receipt, "d1", &sha);
        forged["document_id"] = "d2".into();
        assert_eq!(verdict(forged), Err("receipt names another envelope".into()));
        assert_eq!(check.verdict(Ok((200, serde_json::json!({}))), envelope), Err("HTTP 200".into()));
    }
}
