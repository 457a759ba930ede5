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
//! - `large`: four 100 MiB packages of 24 attachments each, sent at once;
//!   the hub's peak RSS above idle (the intake memory budget at work).
//! - `fanout`: one document to 10,000 recipients; time to accept, and the
//!   attachment stored once.
//! - `audit`: after the others, 研考會's timeliness report over everything
//!   they delivered, and the whole exchange log exported as CSV.
//! - `wake`: a recipient long-polling, documents accepted one at a time:
//!   how soon the poll returns; with `--wake-hubs A,B`, sent through node A
//!   and polled on node B (the wake travels between nodes).
//! - `year` (not in the default list): a year of city traffic seeded into a
//!   hub of its own, then every read path measured at that size.
//!
//! Without `--hub`, the bench creates a demo hub in a temporary directory
//! and runs it as a child process, so it can read the hub's RSS.

mod audit;
pub mod ceiling;
mod fixtures;
mod hub;
mod load;
mod reference;
mod report;
mod size;
mod wake;
mod year;

pub use fixtures::{bench_di, pdf_of};
pub use report::*;
pub use year::{PathTiming, Year, YearSize, seed_year};

use audit::audit;
use fixtures::{Signer, make_package};
use hub::{cpu_seconds, garage_cpu_seconds, hub_under_test, identity, postgres_cpu_seconds};
use load::{Bounds, Confirming, ReceiptCheck, rate_run, throughput};
use size::{fanout, large};

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::client::package::Outgoing;
use crate::client::{Client, HttpVersion, Identity};
use crate::domain::ParticipantCode;
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
    Wake,
    Year,
}

/// A server driven by the same client in the same run, for comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Reference {
    /// Debian's nginx with the hub's certificate and `ssl_verify_client on`
    /// against the demo CA, reading each upload whole and answering 201.
    Nginx,
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
    /// PIDs of the running hub's processes (comma-separated: several nodes
    /// behind a load balancer), to read their CPU use (summed) and the
    /// first one's memory.
    #[arg(long, value_delimiter = ',')]
    pub hub_pid: Vec<u32>,
    /// Database for a started hub (default: its embedded SQLite).
    #[arg(long)]
    pub database: Option<String>,
    #[arg(long, value_delimiter = ',', default_value = "throughput,latency,lifecycle,large,fanout,audit,wake")]
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
    /// Seconds the latency and lifecycle scenarios run at their rate before
    /// they measure (not counted): the hub's connections to its database
    /// opened, its statements prepared, its caches and the clients'
    /// connections warm, as on a hub that has been serving.
    #[arg(long, default_value_t = 3)]
    pub warm_up_seconds: u64,
    /// Submissions per second in the lifecycle scenario (each document is
    /// also fetched and confirmed by every recipient).
    #[arg(long, default_value_t = 150.0)]
    pub lifecycle_rate: f64,
    /// Size of each large package, MiB.
    #[arg(long, default_value_t = 100)]
    pub large_mib: usize,
    /// Large packages sent at the same time.
    #[arg(long, default_value_t = 4)]
    pub large_packages: usize,
    /// Attachments in each large package.
    #[arg(long, default_value_t = 24)]
    pub large_parts: usize,
    /// Recipients of the fan-out document.
    #[arg(long, default_value_t = 10_000)]
    pub fanout: usize,
    /// `year`: agencies seeded besides the demo's.
    #[arg(long, default_value_t = 100)]
    pub year_participants: usize,
    /// `year`: deliveries over the year (five per document).
    #[arg(long, default_value_t = 2_000_000)]
    pub year_deliveries: usize,
    /// `year`: deliveries left unconfirmed, in all inboxes.
    #[arg(long, default_value_t = 300_000)]
    pub year_pending: usize,
    /// `year`: of those, in the secretariat's inbox.
    #[arg(long, default_value_t = 100_000)]
    pub year_inbox: usize,
    /// `year`: PostgreSQL database for the year's hub (default: its own SQLite);
    /// it must be empty.
    #[arg(long)]
    pub year_database: Option<String>,
    /// `year`: build the year's hub in this directory and keep it; a later
    /// run given the same directory (and database) measures it again
    /// without seeding.
    #[arg(long)]
    pub year_dir: Option<std::path::PathBuf>,
    /// `wake`: the node to send through and the node to long-poll on
    /// (default: both the hub under test).
    #[arg(long, value_delimiter = ',')]
    pub wake_hubs: Vec<String>,
    /// `wake`: documents sent, one at a time.
    #[arg(long, default_value_t = 100)]
    pub wake_documents: usize,
    /// Requests in flight at most in the fixed-rate scenarios (more: counted
    /// as failures, not queued).
    #[arg(long, default_value_t = 512)]
    pub max_in_flight: usize,
    /// Client timeout of each request in the fixed-rate scenarios, seconds.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
    /// HTTP version of the bench's clients (both are measured by running twice).
    #[arg(long, value_enum, default_value = "1.1")]
    pub http: HttpVersion,
    /// Run the throughput scenario against this reference too, with the same
    /// client, certificates and packages, and print gwx ÷ reference.
    #[arg(long, value_enum)]
    pub reference: Option<Reference>,
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

/// Documents a fixed-rate scenario sends at `rate`: to warm up, then to measure.
fn rate_counts(rate: f64, args: &BenchArgs) -> (usize, usize) {
    let n = |seconds: u64| (rate * seconds as f64).ceil() as usize;
    (n(args.warm_up_seconds), n(args.seconds))
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
    let version = args.http;
    let clients_of = |url: &str| -> anyhow::Result<Vec<Arc<Client>>> {
        PARTICIPANTS
            .iter()
            .map(|c| Client::speaking(&Identity { hub: url.to_owned(), ..identity(&hub, c) }, version).map(Arc::new))
            .collect()
    };
    let clients = clients_of(&hub.url)?;
    reference::expect_version(&clients[0], version).await?;
    report.http = Some(version);
    let run = run_id();
    let check = Arc::new(ReceiptCheck::load(&hub.dir)?);
    let bounds = || Bounds { in_flight: args.max_in_flight, timeout: Duration::from_secs(args.timeout) };
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
                let cpu = hub.cpu_seconds();
                let own = cpu_seconds(std::process::id());
                let on_postgres = args.database.is_some() && !hub.pids.is_empty();
                let database = on_postgres.then(postgres_cpu_seconds).flatten();
                // A running hub's object store, when it is a local Garage (deploy/cluster).
                let garage = args.hub.is_some().then(garage_cpu_seconds).flatten();
                let mut t = throughput(&clients, docs, &args, check.clone()).await;
                let per_doc = |before: Option<f64>, after: Option<f64>| {
                    after.zip(before).map(|(after, before)| 1000.0 * (after - before) / t.submit.count.max(1) as f64)
                };
                t.nodes = hub.pids.len().max(1);
                t.hub_cpu_ms_per_document = per_doc(cpu, hub.cpu_seconds());
                t.client_cpu_ms_per_document = per_doc(own, cpu_seconds(std::process::id()));
                t.object_store_cpu_ms_per_document = per_doc(garage, garage_cpu_seconds());
                t.database_cpu_ms_per_document = per_doc(database, postgres_cpu_seconds());
                if args.reference == Some(Reference::Nginx) {
                    let nginx = reference::Nginx::start(&hub.dir)?;
                    eprintln!("throughput: the same packages to nginx ({})…", nginx.url);
                    let to_nginx = clients_of(&nginx.url)?;
                    reference::expect_version(&to_nginx[0], version).await?;
                    let docs = packages(args.documents, 11)?;
                    let before = nginx.cpu_seconds();
                    let answered = Arc::new(ReceiptCheck { answered_only: true, ..ReceiptCheck::load(&hub.dir)? });
                    let mut n = throughput(&to_nginx, docs, &args, answered).await;
                    n.hub_cpu_ms_per_document = nginx
                        .cpu_seconds()
                        .map(|after| 1000.0 * (after - before.unwrap_or(0.0)) / n.submit.count.max(1) as f64);
                    t.reference = Some(Box::new(n));
                }
                report.throughput = Some(t);
            }
            Scenario::Latency => {
                let (warm, count) = rate_counts(args.rate, &args);
                eprintln!("latency: signing {} packages…", warm + count);
                let (warm_docs, docs) = (packages(warm, 21)?, packages(count, 20)?);
                eprintln!(
                    "latency: {} documents/s, {} s to warm up, then {} s…",
                    args.rate, args.warm_up_seconds, args.seconds
                );
                rate_run(&clients, warm_docs, args.rate, None, check.clone(), bounds()).await;
                let mut run = rate_run(&clients, docs, args.rate, None, check.clone(), bounds()).await;
                run.warm_up_seconds = args.warm_up_seconds;
                report.latency = Some(run);
            }
            Scenario::Lifecycle => {
                let (warm, count) = rate_counts(args.lifecycle_rate, &args);
                eprintln!("lifecycle: signing {} packages…", warm + count);
                let (warm_docs, docs) = (packages(warm, 51)?, packages(count, 50)?);
                eprintln!(
                    "lifecycle: {} documents/s, recipients fetching and confirming, {} s to warm up, then {} s…",
                    args.lifecycle_rate, args.warm_up_seconds, args.seconds
                );
                let confirming = |n: usize, seconds: u64| Confirming {
                    expected: n * recipients,
                    within: Duration::from_secs(seconds + 60),
                };
                let rate = args.lifecycle_rate;
                let warming = confirming(warm, args.warm_up_seconds);
                rate_run(&clients, warm_docs, rate, Some(warming), check.clone(), bounds()).await;
                let confirm = confirming(count, args.seconds);
                let mut run = rate_run(&clients, docs, rate, Some(confirm), check.clone(), bounds()).await;
                run.warm_up_seconds = args.warm_up_seconds;
                report.lifecycle = Some(run);
            }
            Scenario::Large => {
                eprintln!("large: {} packages of {} MiB at once…", args.large_packages, args.large_mib);
                report.large = Some(large(&hub, &signers[0], &clients[0], &args, run).await?);
            }
            Scenario::Fanout => {
                eprintln!("fanout: registering {} recipients…", args.fanout);
                report.fanout = Some(fanout(&hub, &signers[0], &clients[0], &args, run).await?);
            }
            Scenario::Wake => {
                let (from, to) = match args.wake_hubs.as_slice() {
                    [a, b] => (a.trim_end_matches('/').to_owned(), b.trim_end_matches('/').to_owned()),
                    [] => (hub.url.clone(), hub.url.clone()),
                    _ => {
                        anyhow::bail!("--wake-hubs takes two addresses: the node to send through, then the one to poll")
                    }
                };
                eprintln!("wake: {} documents, sent through {from}, long-polled on {to}…", args.wake_documents);
                let on = |url: &str, code: &str| {
                    Client::speaking(&Identity { hub: url.to_owned(), ..identity(&hub, code) }, version)
                };
                let (sender, receiver) = (on(&from, demo::IT_BUREAU)?, on(&to, demo::EDUCATION)?);
                report.wake = Some(
                    wake::wake(
                        &sender,
                        &receiver,
                        &signers[0],
                        demo::EDUCATION,
                        args.wake_documents,
                        run,
                        check.clone(),
                    )
                    .await?,
                );
            }
            Scenario::Year => {
                eprintln!("year: seeding {} deliveries…", args.year_deliveries);
                report.year = Some(year::year(&args).await?);
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
