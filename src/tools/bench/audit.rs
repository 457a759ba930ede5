//! The `audit` scenario: 研考會's timeliness report and the whole exchange
//! log as CSV, over whatever the hub holds.

use std::time::Instant;

use crate::client::Client;

use super::*;

/// Times the audit queries over whatever the hub holds today.
pub(super) async fn audit(rdec: &Client) -> anyhow::Result<Audit> {
    let mut times = Vec::new();
    let mut deliveries = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let v = rdec.get_json("/api/v1/audit/timeliness").await?;
        times.push(t.elapsed());
        deliveries = v["totals"]["received"].as_i64().unwrap_or(0);
    }
    times.sort_unstable();
    let t = Instant::now();
    let csv = rdec.get_bytes("/api/v1/log?format=csv").await?;
    let log_csv_seconds = t.elapsed().as_secs_f64();
    Ok(Audit {
        deliveries,
        timeliness_ms: times[2].as_secs_f64() * 1000.0,
        log_entries: csv.iter().filter(|&&b| b == b'\n').count().saturating_sub(1),
        log_csv_seconds,
        log_csv_mib: csv.len() as f64 / (1024.0 * 1024.0),
    })
}
