//! Size scenarios: `large` packages sent at once (peak memory) and one document to
//! `fanout` recipients (time to accept, attachment stored once).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use crate::client::Client;
use crate::tools::demo;

use super::fixtures::{Signer, make_package};
use super::hub::{HubUnderTest, identity, rss_kb};
use super::*;

pub(super) async fn large(
    hub: &HubUnderTest,
    signer: &Signer,
    client: &Client,
    args: &BenchArgs,
    run: u64,
) -> anyhow::Result<Large> {
    let total = args.large_mib * 1024 * 1024 - 64 * 1024;
    let parts = args.large_parts.max(1);
    let packages: Vec<_> = (0..args.large_packages.max(1))
        .map(|i| make_package(signer, &format!("30{run:04}{i:04}"), total, parts, vec![demo::SECRETARIAT.into()]))
        .collect::<anyhow::Result<_>>()?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // VmRSS just before, and its maximum sampled every 5 ms during the run.
    let idle = hub.pid().and_then(|p| rss_kb(p).map(|r| r.0));
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = hub.pid().map(|pid| {
        let sampling = sampling.clone();
        tokio::spawn(async move {
            let mut peak = 0;
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(rss_kb(pid).map_or(0, |r| r.0));
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            peak.max(rss_kb(pid).map_or(0, |r| r.0))
        })
    });
    let t = Instant::now();
    let sent = futures_util::future::join_all(packages.iter().map(|out| client.send_without_retry(out))).await;
    let seconds = t.elapsed().as_secs_f64();
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let peak = match sampler {
        Some(s) => Some(s.await?),
        None => None,
    };
    for r in sent {
        let (status, v) = r?;
        anyhow::ensure!(status == 201, "a large package was not accepted: {v}");
    }
    let mib = |kb: u64| kb as f64 / 1024.0;
    Ok(Large {
        packages: packages.len(),
        files_each: parts + 1,
        package_mib: packages[0].total_bytes() as f64 / 1024.0 / 1024.0,
        seconds,
        hub_idle_rss_mib: idle.map(mib),
        hub_peak_rss_mib: peak.map(mib),
        hub_peak_above_idle_mib: idle.zip(peak).map(|(i, p)| mib(p.saturating_sub(i))),
    })
}

pub(super) fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| if e.path().is_dir() { count_files(&e.path()) } else { 1 }).sum())
        .unwrap_or(0)
}

pub(super) async fn fanout(
    hub: &HubUnderTest,
    signer: &Signer,
    client: &Client,
    args: &BenchArgs,
    run: u64,
) -> anyhow::Result<Fanout> {
    let admin = Arc::new(Client::new(&identity(hub, demo::IT_BUREAU))?);
    let codes: Vec<String> = (0..args.fanout).map(|i| format!("9{i:08}B")).collect();
    let created: Vec<anyhow::Result<()>> = futures_util::stream::iter(codes.clone())
        .map(|code| {
            let admin = admin.clone();
            async move {
                let body = serde_json::json!({"code": code, "kind": "agency", "name": format!("效能測試機關{code}"),
                    "capabilities": {"receive": true, "send": false}});
                match admin.post_json("/api/v1/participants", &body).await {
                    Ok(_) => Ok(()),
                    Err(e) if e.downcast_ref::<crate::client::HubProblem>().is_some_and(|p| p.status == 409) => Ok(()),
                    Err(e) => Err(e),
                }
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    created.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    let out = make_package(signer, &format!("40{run:04}0001"), 256 * 1024, 1, codes)?;
    let blobs = hub.dir.join("data/blobs");
    let before = count_files(&blobs);
    eprintln!("fanout: sending one document to {} recipients…", args.fanout);
    let t = Instant::now();
    let (status, v) = client.send_without_retry(&out).await?;
    anyhow::ensure!(status == 201, "the fan-out document was not accepted: {v}");
    let seconds = t.elapsed().as_secs_f64();
    let local = hub.child.is_some() || hub.dir.join("data").exists();
    let attachment = out.attachments.iter().find(|a| a.entry.role == crate::formats::envelope::FileRole::Attachment);
    let sha = attachment.map(|a| a.entry.sha256.to_string()).unwrap_or_default();
    Ok(Fanout {
        recipients: args.fanout,
        seconds,
        blob_files_stored: local.then(|| count_files(&blobs) - before),
        attachment_stored_once: local.then(|| blobs.join(&sha[..2]).join(&sha).is_file()),
    })
}
