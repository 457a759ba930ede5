//! `gwx bench`: a load generator that drives a hub over real mTLS, the way
//! agencies would, and prints what it measured next to the machine's own
//! ceiling (DESIGN: speed is measured, not guessed).
//!
//! Scenarios:
//! - `throughput`: N signed packages (64 KiB, 3 recipients by default) from
//!   C concurrent clients over keep-alive connections, as fast as accepted.
//! - `latency`: submissions at a fixed rate: submit latency percentiles.
//! - `lifecycle`: submissions at a (lower) fixed rate while every recipient
//!   long-polls, downloads and confirms: submit and inbox-to-confirm
//!   percentiles.
//! - `large`: one 100 MiB package; the hub's peak RSS above idle.
//! - `fanout`: one document to 10,000 recipients; time to accept, and the
//!   attachment stored once.
//! - `audit`: after the others, 研考會's timeliness report over everything
//!   they delivered, and the whole exchange log exported as CSV.
//!
//! Without `--hub`, the bench creates a demo hub in a temporary directory
//! and runs it as a child process, so it can read the hub's RSS.

pub mod ceiling;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use futures_util::StreamExt;

use crate::client::package::{self, Outgoing, SendOptions, Source};
use crate::client::{Client, Identity};
use crate::domain::ParticipantCode;
use crate::domain::document::FileName;
use crate::pki::demo::KeyPair;
use crate::tools::demo;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    Throughput,
    Latency,
    Lifecycle,
    Large,
    Fanout,
    Audit,
}

#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// A running hub to drive (its demo directory must be given with --dir);
    /// default: start a fresh demo hub in a temporary directory.
    #[arg(long)]
    pub hub: Option<String>,
    /// The demo directory (certificates of the sample participants).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// PID of the running hub, to read its memory use.
    #[arg(long)]
    pub hub_pid: Option<u32>,
    /// Database for a started hub (default: its embedded SQLite).
    #[arg(long)]
    pub database: Option<String>,
    #[arg(long, value_delimiter = ',', default_value = "throughput,latency,lifecycle,large,fanout,audit")]
    pub scenarios: Vec<Scenario>,
    /// Concurrent submitting clients.
    #[arg(long, default_value_t = 32)]
    pub clients: usize,
    /// Documents in the throughput scenario.
    #[arg(long, default_value_t = 4000)]
    pub documents: usize,
    /// Package size in bytes (the DI plus one PDF attachment).
    #[arg(long, default_value_t = 65536)]
    pub size: usize,
    /// Recipients per document (at most 7 of the demo participants).
    #[arg(long, default_value_t = 3)]
    pub recipients: usize,
    /// Submissions per second in the latency scenario.
    #[arg(long, default_value_t = 500.0)]
    pub rate: f64,
    /// Seconds of the latency and lifecycle scenarios.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Submissions per second in the lifecycle scenario (each document is
    /// also fetched and confirmed by every recipient).
    #[arg(long, default_value_t = 150.0)]
    pub lifecycle_rate: f64,
    /// Size of the large package, MiB.
    #[arg(long, default_value_t = 100)]
    pub large_mib: usize,
    /// Recipients of the fan-out document.
    #[arg(long, default_value_t = 10_000)]
    pub fanout: usize,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The sample participants that send and receive in the bench (all allowed from 127.0.0.1).
const PARTICIPANTS: &[&str] = &[
    demo::IT_BUREAU,
    demo::SECRETARIAT,
    demo::RDEC,
    demo::ETHICS,
    demo::EDUCATION,
    demo::SOCIAL_WELFARE,
    demo::CIVIL_AFFAIRS,
    demo::FOUNDATION,
];

struct HubUnderTest {
    url: String,
    dir: PathBuf,
    pid: Option<u32>,
    child: Option<std::process::Child>,
    temp: Option<PathBuf>,
}

impl Drop for HubUnderTest {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(t) = &self.temp {
            let _ = std::fs::remove_dir_all(t);
        }
    }
}

async fn hub_under_test(args: &BenchArgs) -> anyhow::Result<HubUnderTest> {
    if let Some(url) = &args.hub {
        let dir =
            args.dir.clone().context("--hub needs --dir, the demo directory with the participants' certificates")?;
        return Ok(HubUnderTest {
            url: url.trim_end_matches('/').into(),
            dir,
            pid: args.hub_pid,
            child: None,
            temp: None,
        });
    }
    let temp = std::env::temp_dir().join(format!("gwx-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&temp);
    demo::init(&temp, args.database.as_deref(), false).await?;
    let mut cmd = std::process::Command::new(std::env::current_exe()?);
    cmd.args(["serve", "--dir"]).arg(&temp).args(["--https", "127.0.0.1:0", "--http", "127.0.0.1:0"]);
    if let Some(db) = &args.database {
        cmd.args(["--database", db]);
    }
    let mut child = cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::null()).spawn()?;
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().expect("piped")), &mut line)?;
    let port = line
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .and_then(|p| p.parse::<u16>().ok())
        .with_context(|| format!("the hub did not start: {line}"))?;
    Ok(HubUnderTest {
        url: format!("https://localhost:{port}"),
        dir: temp.clone(),
        pid: Some(child.id()),
        child: Some(child),
        temp: Some(temp),
    })
}

fn identity(hub: &HubUnderTest, code: &str) -> Identity {
    Identity {
        hub: hub.url.clone(),
        cert: hub.dir.join(format!("clients/{code}.pem")),
        key: hub.dir.join(format!("clients/{code}.key")),
        ca: hub.dir.join("certs/ca.pem"),
    }
}

/// kB of the hub process: (current RSS, peak RSS since the last reset).
fn rss_kb(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// CPU seconds (user + system) the hub process has used so far.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Resets the kernel's peak-RSS mark of `pid` (Linux `clear_refs` 5).
fn reset_peak(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

/// A valid DI (書函) from `sender` with attachments `attachments` (file names).
pub fn bench_di(sender: &str, serial: &str, attachments: &[String]) -> String {
    let entities: String = attachments
        .iter()
        .enumerate()
        .map(|(i, f)| format!("<!ENTITY ATTCH{} SYSTEM \"{f}\" NDATA _X>\n", i + 1))
        .collect();
    let subset =
        if attachments.is_empty() { String::new() } else { format!(" [\n{entities}<!NOTATION _X SYSTEM \"\">\n]") };
    let names: Vec<String> = (1..=attachments.len()).map(|i| format!("ATTCH{i}")).collect();
    let attach = if attachments.is_empty() {
        String::new()
    } else {
        format!("<附件><文字>如文</文字><附件檔名 附件名=\"{}\"/></附件>", names.join(" "))
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<!DOCTYPE 函 SYSTEM \"104_2_utf8.dtd\"{subset}>\n<函>\
         <發文機關><全銜>效能測試機關</全銜><機關代碼>{sender}</機關代碼></發文機關><函類別 代碼=\"書函\"/>\
         <地址>臺北市信義區市府路1號</地址><聯絡方式>承辦人：效能測試</聯絡方式>\
         <受文者><全銜>如正副本行文單位</全銜><機關代碼>{sender}</機關代碼></受文者>\
         <發文日期><年月日>中華民國115年11月20日</年月日></發文日期>\
         <發文字號><字>北市效能字</字><文號><年度>115</年度><流水號>{serial}</流水號><支號/></文號></發文字號>\
         <速別 代碼=\"普通件\"/>{attach}<主旨><文字>效能測試公文{serial}，請查照。</文字></主旨>\
         <正本><全銜>如正副本行文單位</全銜></正本><署名>效能測試</署名></函>\n"
    )
}

/// A PDF of exactly `size` bytes whose content is unique to `tag`.
pub fn pdf_of(size: usize, tag: &str) -> Bytes {
    let mut v = format!("%PDF-1.4\n% gwx bench {tag}\n").into_bytes();
    let filler = b"0123456789abcdef";
    while v.len() < size {
        let n = (size - v.len()).min(filler.len());
        v.extend_from_slice(&filler[..n]);
    }
    v.truncate(size.max(9));
    Bytes::from(v)
}

struct Signer {
    code: ParticipantCode,
    keys: KeyPair,
}

/// Builds and signs one package of about `size` bytes.
fn make_package(
    signer: &Signer,
    serial: &str,
    size: usize,
    attachments: usize,
    to: Vec<String>,
) -> anyhow::Result<Outgoing> {
    let names: Vec<String> = (1..=attachments).map(|i| format!("{serial}_ATTCH{i}.pdf")).collect();
    let di = bench_di(signer.code.as_str(), serial, &names);
    let each = size.saturating_sub(di.len()) / attachments.max(1);
    let opts = SendOptions { to, ..Default::default() };
    package::build(
        FileName::parse(&format!("{serial}.di"))?,
        Bytes::from(di),
        &opts,
        &signer.code,
        &signer.keys.cert,
        &signer.keys.key,
        |name| Ok(Source::Bytes(pdf_of(each, name))),
    )
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
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
    fn of(mut v: Vec<Duration>) -> Self {
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
    pub latency: Option<RateRun>,
    pub lifecycle: Option<RateRun>,
    pub large: Option<Large>,
    pub fanout: Option<Fanout>,
    pub audit: Option<Audit>,
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
    pub failures: usize,
    /// Hub CPU time per accepted document (user + system), when the hub's PID is known.
    pub hub_cpu_ms_per_document: Option<f64>,
    /// The bench process's own CPU per document.
    pub client_cpu_ms_per_document: Option<f64>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct RateRun {
    pub target_per_s: f64,
    pub achieved_per_s: f64,
    pub submit: Latencies,
    /// From the hub's delivery time to its confirmation time, when recipients confirmed.
    pub inbox_to_confirm: Option<Latencies>,
    pub failures: usize,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Large {
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

fn run_id() -> u64 {
    (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)) % 10_000
}

pub async fn run(args: BenchArgs) -> anyhow::Result<Report> {
    let hub = hub_under_test(&args).await?;
    let mut report = Report::default();
    eprintln!("gwx bench: hub {} (demo dir {})", hub.url, hub.dir.display());
    eprintln!("measuring the machine's ceiling…");
    report.ceiling = Some(ceiling::measure(&hub.dir, Duration::from_millis(700))?);

    let signers: Vec<Arc<Signer>> = PARTICIPANTS
        .iter()
        .map(|c| {
            Ok(Arc::new(Signer {
                code: ParticipantCode::parse(c)?,
                keys: KeyPair::read(&hub.dir.join("clients").join(c))?,
            }))
        })
        .collect::<anyhow::Result<_>>()?;
    let clients: Vec<Arc<Client>> =
        PARTICIPANTS.iter().map(|c| Client::new(&identity(&hub, c)).map(Arc::new)).collect::<anyhow::Result<_>>()?;
    let run = run_id();
    let recipients = args.recipients.clamp(1, PARTICIPANTS.len() - 1);
    let to_for = |s: usize| -> Vec<String> {
        (1..=recipients).map(|k| PARTICIPANTS[(s + k) % PARTICIPANTS.len()].to_owned()).collect()
    };
    let packages = |count: usize, phase: u64| -> anyhow::Result<Vec<(usize, Outgoing)>> {
        (0..count)
            .map(|i| {
                let s = i % signers.len();
                let serial = format!("{:02}{:04}{:04}", phase, run, i);
                Ok((s, make_package(&signers[s], &serial, args.size, 1, to_for(s))?))
            })
            .collect()
    };

    for scenario in &args.scenarios {
        match scenario {
            Scenario::Throughput => {
                eprintln!("throughput: signing {} packages…", args.documents);
                let docs = packages(args.documents, 10)?;
                eprintln!("throughput: sending with {} clients…", args.clients);
                let cpu = hub.pid.and_then(cpu_seconds);
                let own = cpu_seconds(std::process::id());
                let mut t = throughput(&clients, docs, &args).await;
                let per_doc = |before: Option<f64>, pid: Option<u32>| {
                    pid.and_then(cpu_seconds)
                        .zip(before)
                        .map(|(after, before)| 1000.0 * (after - before) / t.submit.count.max(1) as f64)
                };
                t.hub_cpu_ms_per_document = per_doc(cpu, hub.pid);
                t.client_cpu_ms_per_document = per_doc(own, Some(std::process::id()));
                report.throughput = Some(t);
            }
            Scenario::Latency => {
                let count = (args.rate * args.seconds as f64).ceil() as usize;
                eprintln!("latency: signing {count} packages…");
                let docs = packages(count, 20)?;
                eprintln!("latency: {} documents/s for {} s…", args.rate, args.seconds);
                report.latency = Some(rate_run(&clients, docs, args.rate, None).await);
            }
            Scenario::Lifecycle => {
                let count = (args.lifecycle_rate * args.seconds as f64).ceil() as usize;
                eprintln!("lifecycle: signing {count} packages…");
                let docs = packages(count, 50)?;
                eprintln!(
                    "lifecycle: {} documents/s for {} s, recipients fetching and confirming…",
                    args.lifecycle_rate, args.seconds
                );
                let confirm =
                    Confirming { expected: count * recipients, within: Duration::from_secs(args.seconds + 60) };
                report.lifecycle = Some(rate_run(&clients, docs, args.lifecycle_rate, Some(confirm)).await);
            }
            Scenario::Large => {
                eprintln!("large: a {} MiB package…", args.large_mib);
                report.large = Some(large(&hub, &signers[0], &clients[0], &args, run).await?);
            }
            Scenario::Fanout => {
                eprintln!("fanout: registering {} recipients…", args.fanout);
                report.fanout = Some(fanout(&hub, &signers[0], &clients[0], &args, run).await?);
            }
            Scenario::Audit => {
                eprintln!("audit: timeliness report and log export…");
                let rdec = PARTICIPANTS.iter().position(|c| *c == demo::RDEC).expect("rdec is a bench participant");
                report.audit = Some(audit(&clients[rdec]).await?);
            }
        }
    }
    Ok(report)
}

async fn throughput(clients: &[Arc<Client>], docs: Vec<(usize, Outgoing)>, args: &BenchArgs) -> Throughput {
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
async fn receive_and_confirm(
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
struct Confirming {
    expected: usize,
    within: Duration,
}

async fn rate_run(
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

async fn large(
    hub: &HubUnderTest,
    signer: &Signer,
    client: &Client,
    args: &BenchArgs,
    run: u64,
) -> anyhow::Result<Large> {
    let total = args.large_mib * 1024 * 1024 - 64 * 1024;
    let out = make_package(signer, &format!("30{run:04}0001"), total, 5, vec![demo::SECRETARIAT.into()])?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = hub.pid.and_then(|p| {
        reset_peak(p);
        rss_kb(p).map(|r| r.0)
    });
    let t = Instant::now();
    let (status, v) = client.send(&out, None).await?;
    anyhow::ensure!(status == 201, "the large package was not accepted: {v}");
    let seconds = t.elapsed().as_secs_f64();
    let peak = hub.pid.and_then(|p| rss_kb(p).map(|r| r.1));
    let mib = |kb: u64| kb as f64 / 1024.0;
    Ok(Large {
        package_mib: out.total_bytes() as f64 / 1024.0 / 1024.0,
        seconds,
        hub_idle_rss_mib: idle.map(mib),
        hub_peak_rss_mib: peak.map(mib),
        hub_peak_above_idle_mib: idle.zip(peak).map(|(i, p)| mib(p.saturating_sub(i))),
    })
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| if e.path().is_dir() { count_files(&e.path()) } else { 1 }).sum())
        .unwrap_or(0)
}

async fn fanout(
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
    let (status, v) = client.send(&out, None).await?;
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

/// The report as text.
/// Times the audit queries over whatever the hub holds today.
async fn audit(rdec: &Client) -> anyhow::Result<Audit> {
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
        if let Some(cpu) = t.hub_cpu_ms_per_document {
            println!("  hub CPU {cpu:.2} ms per document (the bench client shares the machine)");
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
    }
    for (name, run) in [("latency", &r.latency), ("lifecycle", &r.lifecycle)] {
        let Some(l) = run else { continue };
        let what = if l.inbox_to_confirm.is_some() { ", every recipient fetching and confirming" } else { "" };
        println!(
            "{name}: {:.0} documents/s (achieved {:.0}/s, {} failed){what}:",
            l.target_per_s, l.achieved_per_s, l.failures
        );
        println!(
            "  submit            p50 {:.1} ms  p95 {:.1} ms  p99 {:.1} ms",
            l.submit.p50_ms, l.submit.p95_ms, l.submit.p99_ms
        );
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
            "large: {:.1} MiB package accepted in {:.2} s; hub RSS idle {}, peak {}, peak above idle {}",
            g.package_mib,
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
}
