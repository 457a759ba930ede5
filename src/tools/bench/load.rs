//! Load scenarios: `throughput` (as fast as accepted) and the fixed-rate
//! `latency` and `lifecycle` runs, with recipients fetching and confirming.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use crate::client::Client;
use crate::client::package::Outgoing;

use super::*;

pub(super) async fn throughput(clients: &[Arc<Client>], docs: Vec<(usize, Outgoing)>, args: &BenchArgs) -> Throughput {
    let docs = Arc::new(docs);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..args.clients)
        .map(|_| {
            let (docs, next, clients) = (docs.clone(), next.clone(), clients.to_vec());
            tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut failures = 0;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((s, out)) = docs.get(i) else { break };
                    let t = Instant::now();
                    match clients[*s].send(out, None).await {
                        Ok((201, _)) => lat.push(t.elapsed()),
                        Ok(_) | Err(_) => failures += 1,
                    }
                }
                (lat, failures)
            })
        })
        .collect();
    let mut lat = Vec::new();
    let mut failures = 0;
    for w in workers {
        let (l, f) = w.await.expect("worker");
        lat.extend(l);
        failures += f;
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
        failures,
        hub_cpu_ms_per_document: None,
        client_cpu_ms_per_document: None,
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

pub(super) async fn rate_run(
    clients: &[Arc<Client>],
    docs: Vec<(usize, Outgoing)>,
    rate: f64,
    confirm: Option<Confirming>,
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
    let mut sends = Vec::with_capacity(docs.len());
    for (s, out) in docs {
        ticker.tick().await;
        let c = clients[s].clone();
        sends.push(tokio::spawn(async move {
            let t = Instant::now();
            match c.send(&out, None).await {
                Ok((201, _)) => Some(t.elapsed()),
                _ => None,
            }
        }));
    }
    let mut lat = Vec::new();
    let mut failures = 0;
    for s in sends {
        match s.await.ok().flatten() {
            Some(d) => lat.push(d),
            None => failures += 1,
        }
    }
    let achieved = lat.len() as f64 / start.elapsed().as_secs_f64();
    let confirm = match receivers {
        Some(r) => Some(Latencies::of(r.await.unwrap_or_default())),
        None => None,
    };
    RateRun {
        target_per_s: rate,
        achieved_per_s: achieved,
        submit: Latencies::of(lat),
        inbox_to_confirm: confirm,
        failures,
    }
}
