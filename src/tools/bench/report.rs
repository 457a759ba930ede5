//! What the bench measured, and the report as text (each figure labelled).

use std::time::Duration;

use super::*;

pub(super) fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Latencies {
    pub count: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latencies {
    pub(super) fn of(mut v: Vec<Duration>) -> Self {
        v.sort_unstable();
        Latencies {
            count: v.len(),
            p50_ms: percentile(&v, 0.50),
            p95_ms: percentile(&v, 0.95),
            p99_ms: percentile(&v, 0.99),
            max_ms: v.last().map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0),
        }
    }
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Report {
    pub ceiling: Option<ceiling::Ceiling>,
    pub throughput: Option<Throughput>,
    /// The HTTP version the bench's clients spoke.
    pub http: Option<crate::client::HttpVersion>,
    pub latency: Option<RateRun>,
    pub lifecycle: Option<RateRun>,
    pub large: Option<Large>,
    pub fanout: Option<Fanout>,
    pub audit: Option<Audit>,
    pub wake: Option<Wake>,
    pub year: Option<super::Year>,
}

/// The `wake` scenario: a recipient long-polling on one node, documents
/// accepted on (possibly) another.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Wake {
    pub documents: usize,
    pub sender_hub: String,
    pub receiver_hub: String,
    /// From the sender reading its 201 to the recipient's long-poll
    /// returning with the document (0 when the poll returned first).
    pub after_accept: Latencies,
    /// From the submission's start to the long-poll's return (an upper
    /// bound: the submission itself included).
    pub from_submit: Latencies,
    pub failures: usize,
    pub failures_by_cause: std::collections::BTreeMap<String, usize>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Audit {
    /// Deliveries the timeliness report counted.
    pub deliveries: i64,
    /// Median of five timeliness reports, milliseconds.
    pub timeliness_ms: f64,
    /// Exchange-log entries exported as CSV, and the time it took.
    pub log_entries: usize,
    pub log_csv_seconds: f64,
    pub log_csv_mib: f64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Throughput {
    pub documents: usize,
    pub package_bytes: usize,
    pub recipients: usize,
    pub clients: usize,
    pub seconds: f64,
    pub documents_per_s: f64,
    pub submit: Latencies,
    /// Submissions not accepted: not a 201 with a receipt the hub signed for that envelope.
    pub failures: usize,
    pub failures_by_cause: std::collections::BTreeMap<String, usize>,
    /// Hub CPU time per accepted document (user + system), when the hub's PID is known.
    pub hub_cpu_ms_per_document: Option<f64>,
    /// The bench process's own CPU per document.
    pub client_cpu_ms_per_document: Option<f64>,
    /// Hub processes whose CPU is summed in `hub_cpu_ms_per_document`
    /// (nodes behind a load balancer; 1 otherwise).
    pub nodes: usize,
    /// The CPU of the local Garage processes (the object store) per document,
    /// when any run on this machine.
    pub object_store_cpu_ms_per_document: Option<f64>,
    /// On PostgreSQL: the CPU of the local cluster's processes per document
    /// (part of the server's cost, outside the hub's process).
    pub database_cpu_ms_per_document: Option<f64>,
    /// The same run against the reference server (`--reference`): its
    /// "documents" are 201 answers, its CPU that of all its processes.
    pub reference: Option<Box<Throughput>>,
}

impl Throughput {
    /// The server side's CPU per document: the hub's, and the database's
    /// when it is a process of its own.
    pub fn server_cpu_ms_per_document(&self) -> Option<f64> {
        Some(
            self.hub_cpu_ms_per_document?
                + self.database_cpu_ms_per_document.unwrap_or(0.0)
                + self.object_store_cpu_ms_per_document.unwrap_or(0.0),
        )
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct RateRun {
    /// Seconds at the same rate before, not counted.
    pub warm_up_seconds: u64,
    pub target_per_s: f64,
    pub achieved_per_s: f64,
    pub submit: Latencies,
    /// From the hub's delivery time to its confirmation time, when recipients confirmed.
    pub inbox_to_confirm: Option<Latencies>,
    pub failures: usize,
    pub failures_by_cause: std::collections::BTreeMap<String, usize>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Large {
    /// Packages sent at the same time.
    pub packages: usize,
    /// Files in each (the DI and its attachments).
    pub files_each: usize,
    pub package_mib: f64,
    pub seconds: f64,
    pub hub_idle_rss_mib: Option<f64>,
    pub hub_peak_rss_mib: Option<f64>,
    pub hub_peak_above_idle_mib: Option<f64>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Fanout {
    pub recipients: usize,
    pub seconds: f64,
    /// New blob files: the attachment once, and the envelope when it is too
    /// large to keep inline (10,000 recipients make a large envelope).
    pub blob_files_stored: Option<usize>,
    /// The attachment's content-addressed file exists (one copy for all).
    pub attachment_stored_once: Option<bool>,
}

fn print_failures(causes: &std::collections::BTreeMap<String, usize>) {
    for (cause, n) in causes {
        println!("  failed: {n} × {cause}");
    }
}

/// The report as text.
pub fn print(r: &Report) {
    let Some(c) = &r.ceiling else { return };
    println!("machine ceiling ({} cores, each figure one core):", c.cores);
    println!(
        "  RSA-2048 sign {:>9.0}/s   verify {:>9.0}/s   ECDSA P-256 sign {:>9.0}/s",
        c.rsa_sign_per_s, c.rsa_verify_per_s, c.ecdsa_sign_per_s
    );
    println!(
        "  SHA-256 {:>9.0} MiB/s    fsync (4 KiB) {:>7.0}/s, p99 {:.1} ms, max {:.1} ms",
        c.sha256_mib_per_s, c.fsync_per_s, c.fsync_p99_ms, c.fsync_max_ms
    );
    if let Some(v) = r.http {
        println!("clients speak {}", if v == crate::client::HttpVersion::Http2 { "HTTP/2" } else { "HTTP/1.1" });
    }
    if let Some(t) = &r.throughput {
        println!(
            "throughput: {} documents of {} KiB to {} recipients, {} clients: {:.0} documents/s ({} failed)",
            t.documents,
            t.package_bytes / 1024,
            t.recipients,
            t.clients,
            t.documents_per_s,
            t.failures
        );
        println!(
            "  submit latency p50 {:.1} ms  p95 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
            t.submit.p50_ms, t.submit.p95_ms, t.submit.p99_ms, t.submit.max_ms
        );
        print_failures(&t.failures_by_cause);
        if let Some(cpu) = t.hub_cpu_ms_per_document {
            if t.nodes > 1 {
                println!(
                    "  hub CPU {cpu:.2} ms per document, all {} nodes together (the bench client and the nodes \
                     share the machine)",
                    t.nodes
                );
            } else {
                println!("  hub CPU {cpu:.2} ms per document (the bench client shares the machine)");
            }
        }
        if let Some(db) = t.database_cpu_ms_per_document {
            println!("  PostgreSQL's processes (the local cluster) {db:.2} ms CPU per document");
        }
        if let Some(o) = t.object_store_cpu_ms_per_document {
            println!("  Garage's processes (the object store) {o:.2} ms CPU per document");
        }
        let crypto = c.crypto_documents_per_core(t.package_bytes);
        println!(
            "  ceiling: the per-document cryptography alone (RSA verify + ECDSA receipt + SHA-256) allows {:.0} documents/s \
             per core; achieved {:.0}% of that on {} cores, {:.0}% of one core's fsync/s",
            crypto,
            100.0 * t.documents_per_s / (crypto * c.cores as f64),
            c.cores,
            100.0 * t.documents_per_s / c.fsync_per_s
        );
        if let Some(client) = t.client_cpu_ms_per_document {
            println!("  the bench client itself used {client:.2} ms CPU per document on the same machine");
        }
        if let Some(n) = &t.reference {
            println!(
                "  reference (measured): nginx with ssl_verify_client on, same client and packages: {:.0} uploads/s \
                 answered 201 ({} failed), p99 {:.1} ms",
                n.documents_per_s, n.failures, n.submit.p99_ms
            );
            print_failures(&n.failures_by_cause);
            let cpu = n.hub_cpu_ms_per_document.map(|c| format!("{c:.2} ms")).unwrap_or_else(|| "?".into());
            println!("  nginx CPU {cpu} per upload (master and workers)");
            println!(
                "  gwx ÷ nginx (derived): throughput {:.1} %{}",
                100.0 * t.documents_per_s / n.documents_per_s.max(f64::MIN_POSITIVE),
                match (t.server_cpu_ms_per_document(), n.hub_cpu_ms_per_document) {
                    (Some(g), Some(n)) if n > 0.0 => format!(
                        ", server CPU per request {:.1}×{}",
                        g / n,
                        if t.database_cpu_ms_per_document.is_some() { " (hub and PostgreSQL)" } else { "" }
                    ),
                    _ => String::new(),
                }
            );
            if let (Some(client), Some(received)) = (t.client_cpu_ms_per_document, n.hub_cpu_ms_per_document) {
                // The client shares the machine: what it spends a document,
                // and what the hub cannot avoid (receiving the upload as
                // nginx does, then its cryptography), bound the rate,
                // whatever else the hub does.
                let (cores, crypto_ms) = (c.cores as f64, 1000.0 / crypto);
                let most = cores * 1000.0 / (client + received + crypto_ms);
                let half = (cores * 1000.0 / (0.5 * n.documents_per_s.max(f64::MIN_POSITIVE)) - client).max(0.0);
                println!(
                    "  bound (derived): this client's {client:.2} ms, nginx's {received:.2} ms and the hub's \
                     cryptography ({crypto_ms:.3} ms) per document allow gwx at most {most:.0} documents/s on {cores} \
                     cores, {:.0} % of nginx; at half of nginx's rate the hub would have {half:.2} ms per document \
                     (it used {:.2})",
                    100.0 * most / n.documents_per_s.max(f64::MIN_POSITIVE),
                    t.server_cpu_ms_per_document().unwrap_or(f64::NAN)
                );
            }
        }
    }
    for (name, run) in [("latency", &r.latency), ("lifecycle", &r.lifecycle)] {
        let Some(l) = run else { continue };
        let what = if l.inbox_to_confirm.is_some() { ", every recipient fetching and confirming" } else { "" };
        println!(
            "{name}: {:.0} documents/s (achieved {:.0}/s, {} failed){what}, after {} s at that rate not counted:",
            l.target_per_s, l.achieved_per_s, l.failures, l.warm_up_seconds
        );
        println!(
            "  submit            p50 {:.1} ms  p95 {:.1} ms  p99 {:.1} ms",
            l.submit.p50_ms, l.submit.p95_ms, l.submit.p99_ms
        );
        print_failures(&l.failures_by_cause);
        if let Some(c) = &l.inbox_to_confirm {
            println!(
                "  inbox-to-confirm  p50 {:.1} ms  p95 {:.1} ms  p99 {:.1} ms  ({} confirmations)",
                c.p50_ms, c.p95_ms, c.p99_ms, c.count
            );
        }
    }
    if let Some(g) = &r.large {
        let mib =
            |v: Option<f64>| v.map(|v| format!("{v:.1} MiB")).unwrap_or_else(|| "unknown (give --hub-pid)".into());
        println!(
            "large: {} packages of {:.1} MiB ({} files each) sent at once, all accepted in {:.2} s; \
             hub RSS idle {}, peak {}, peak above idle {} (measured)",
            g.packages,
            g.package_mib,
            g.files_each,
            g.seconds,
            mib(g.hub_idle_rss_mib),
            mib(g.hub_peak_rss_mib),
            mib(g.hub_peak_above_idle_mib)
        );
    }
    if let Some(f) = &r.fanout {
        let stored = match (f.attachment_stored_once, f.blob_files_stored) {
            (Some(true), Some(n)) => format!("the attachment stored once ({n} new blob files in all)"),
            (Some(false), _) => "the attachment was NOT found in the blob store".into(),
            _ => String::new(),
        };
        println!("fanout: one document to {} recipients accepted in {:.3} s; {stored}", f.recipients, f.seconds);
    }
    if let Some(a) = &r.audit {
        println!(
            "audit: timeliness report over {} deliveries in {:.0} ms (median of 5); exchange log of {} entries \
             exported as CSV in {:.2} s ({:.1} MiB, {:.0} entries/s)",
            a.deliveries,
            a.timeliness_ms,
            a.log_entries,
            a.log_csv_seconds,
            a.log_csv_mib,
            a.log_entries as f64 / a.log_csv_seconds.max(1e-9)
        );
    }
    if let Some(w) = &r.wake {
        let nodes = if w.sender_hub == w.receiver_hub {
            format!("on {}", w.sender_hub)
        } else {
            format!("sent through {}, long-polled on {}", w.sender_hub, w.receiver_hub)
        };
        println!("wake: {} documents one at a time, {nodes} ({} failed):", w.documents, w.failures);
        println!(
            "  long-poll return after the 201 (measured)   p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
            w.after_accept.p50_ms, w.after_accept.p99_ms, w.after_accept.max_ms
        );
        println!(
            "  long-poll return after the submission began p50 {:.1} ms  p99 {:.1} ms",
            w.from_submit.p50_ms, w.from_submit.p99_ms
        );
        print_failures(&w.failures_by_cause);
    }
    if let Some(y) = &r.year {
        println!(
            "year (measured): {} participants + the demo's, {} documents, {} deliveries ({} pending, {} in the \
             secretariat's inbox), {} log entries; seeded in {:.0} s",
            y.participants, y.documents, y.deliveries, y.pending, y.inbox_pending, y.log_entries, y.seed_seconds
        );
        println!("  start-up to the first accepted document {:.2} s", y.startup_to_first_accept_s);
        for p in &y.paths {
            println!(
                "  {:<44} as {:<24} p50 {:>6.1} ms  p99 {:>6.1} ms",
                p.path, p.who, p.latency.p50_ms, p.latency.p99_ms
            );
        }
        println!(
            "  timeliness report over the year {:.0} ms (median of 3); a month of the log as CSV: {:.1} MiB at {:.0} MiB/s",
            y.timeliness_year_ms, y.log_csv_month_mib, y.log_csv_mib_per_s
        );
    }
}
