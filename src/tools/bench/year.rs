//! The `year` scenario: a year of city traffic in a fresh hub, then every
//! read path measured through the hub at that size.
//!
//! Seeding goes through the store's bulk path (`Store::seed_documents`: the
//! committer's own statements, log chain included, many documents per
//! transaction) before the hub starts: `--year-participants` agencies, five
//! recipients a document, `--year-deliveries` deliveries accepted evenly over
//! the past 365 days; everything older than the last few weeks confirmed,
//! except that the secretariat (a demo participant, so the bench can log in
//! as it) is a recipient of `--year-inbox` documents it never handled. Then
//! the hub is started and timed to its first accepted document, and each read
//! path is asked 100 times as its user would ask it.

use std::time::{Duration, Instant};

use anyhow::Context;

use chrono::{DateTime, Utc};

use crate::client::{Client, Identity};
use crate::domain::ParticipantCode;
use crate::domain::document::{Classification, PartName, RecipientKind, Sha256, Speed};
use crate::domain::log::{LogAction, NewLogEntry};
use crate::domain::participant::{Capabilities, ParticipantKind, ParticipantStatus};
use crate::formats::envelope::FileRole;
use crate::store::{Deadlines, DocumentRecord, NewDelivery, NewDocument, NewParticipant, Part, Store};
use crate::tools::demo;

use super::fixtures::{Signer, make_package};
use super::*;

const RECIPIENTS_PER_DOCUMENT: usize = 5;
/// Documents per seeding transaction.
const SEED_BATCH: usize = 500;
/// Requests per measured path.
const ASKS: usize = 100;
/// Requests per path before those measured. A hub just started has not yet
/// used most connections of its pool (SQLite 4, PostgreSQL 16; each request
/// takes the one idle longest): on each, the first request reads the path's
/// pages into that connection's cache and prepares its statements.
const WARM_ASKS: usize = 20;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Year {
    pub participants: usize,
    pub documents: usize,
    pub deliveries: usize,
    /// Deliveries not yet confirmed, in all inboxes.
    pub pending: u64,
    /// Of those, in the secretariat's inbox.
    pub inbox_pending: usize,
    pub log_entries: usize,
    pub seed_seconds: f64,
    /// From `gwx serve` started to the first document accepted (201).
    pub startup_to_first_accept_s: f64,
    pub paths: Vec<PathTiming>,
    /// 研考會's timeliness report over the year (median of three).
    pub timeliness_year_ms: f64,
    /// A month of the exchange log as CSV, streamed.
    pub log_csv_month_mib: f64,
    pub log_csv_mib_per_s: f64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct PathTiming {
    pub path: String,
    pub who: String,
    pub latency: Latencies,
}

/// The seeded agencies' codes.
fn agency(i: usize) -> ParticipantCode {
    ParticipantCode::parse(&format!("38{:07}Z", i)).expect("a well-formed code")
}

fn part(part: PartName, role: Option<FileRole>, name: &str, bytes: &[u8]) -> Part {
    Part {
        part,
        role,
        name: name.to_owned(),
        media_type: "application/xml".into(),
        size: bytes.len() as i64,
        sha256: Sha256::of(bytes),
        inline: Some(bytes.to_vec()),
        damaged: false,
    }
}

/// The `i`-th of `count` documents of the year ending at `end`.
fn document(i: usize, count: usize, end: DateTime<Utc>, agencies: usize, inbox: usize) -> NewDocument {
    let year = chrono::Duration::days(365);
    let at = end - year + year * i as i32 / count.max(1) as i32;
    // Every tenth from the IT bureau (a demo participant: its lists are measured).
    let sender = if i.is_multiple_of(10) { demo::IT_BUREAU.to_owned() } else { agency(i % agencies).to_string() };
    let mut recipients: Vec<ParticipantCode> =
        (1..=RECIPIENTS_PER_DOCUMENT).map(|k| agency((i * 7 + k * 13) % agencies)).collect();
    recipients.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    recipients.dedup();
    // `inbox` of the `count` documents, spread evenly, go to the secretariat too.
    if (i + 1) * inbox / count > i * inbox / count {
        recipients.pop();
        recipients.push(ParticipantCode::parse(demo::SECRETARIAT).expect("demo code"));
    }
    let id = uuid::Uuid::now_v7().to_string();
    NewDocument {
        record: DocumentRecord {
            id: id.clone(),
            sender_code: sender.clone(),
            document_number: format!("府年字第115{i:08}號"),
            envelope_sha256: Sha256::of(id.as_bytes()),
            subject: format!("年度交換量測第{i}號公文，請查照。"),
            speed: Speed::Normal,
            classification: Classification::Ordinary,
            immediate_confirmation: false,
            kind: "函".into(),
            document_date: at.date_naive().to_string(),
            signer_fingerprint: "seeded".into(),
            submitted_by: "seeded".into(),
            source_ip: "127.0.0.1".into(),
            accepted_at: at,
            receipt: b"seeded".to_vec(),
        },
        parts: vec![
            part(PartName::Envelope, None, "envelope.xml", b"<envelope/>"),
            part(PartName::Signature, None, "envelope.p7s", b"seeded signature"),
            part(PartName::Document, Some(FileRole::Document), "seeded.di", b"<seeded/>"),
        ],
        deliveries: recipients
            .into_iter()
            .enumerate()
            .map(|(k, r)| NewDelivery {
                id: uuid::Uuid::now_v7().to_string(),
                recipient: r,
                unit: None,
                kind: if k == 0 { RecipientKind::Original } else { RecipientKind::Copy },
                via_group: None,
            })
            .collect(),
        deadlines: Deadlines {
            sender: at + chrono::Duration::hours(24),
            receiver: at + chrono::Duration::hours(20),
            immediate: None,
        },
        files: Vec::new(),
        blobs: None,
    }
}

fn log_of(doc: &NewDocument) -> Vec<NewLogEntry> {
    let r = &doc.record;
    let mut log = vec![
        NewLogEntry::new(
            LogAction::DocumentAccepted,
            format!("{} {} to {} recipients", r.document_number, r.kind, doc.deliveries.len()),
        )
        .participant(r.sender_code.clone())
        .source_ip("127.0.0.1")
        .document(r.id.clone()),
    ];
    for d in &doc.deliveries {
        log.push(
            NewLogEntry::new(LogAction::DeliveryDelivered, format!("{} {}", r.document_number, d.recipient))
                .participant(d.recipient.to_string())
                .counterpart(r.sender_code.clone())
                .document(r.id.clone()),
        );
    }
    log
}

/// What was seeded; kept next to a `--year-dir` hub so a later run can
/// measure it again without seeding.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Seeded {
    documents: usize,
    deliveries: usize,
    pending: u64,
    inbox_pending: usize,
    log_entries: usize,
    /// Some of the IT bureau's documents, whose status is asked.
    it_docs: Vec<String>,
    seed_seconds: f64,
}

/// How much a seeded year holds.
#[derive(Debug, Clone, Copy)]
pub struct YearSize {
    /// Agencies besides the demo's.
    pub participants: usize,
    pub deliveries: usize,
    /// Deliveries left unconfirmed, in all inboxes.
    pub pending: usize,
    /// Of those, in the secretariat's inbox.
    pub inbox: usize,
}

/// Seeds a year of `size` into the (migrated, demo) database at `url`;
/// returns the number of documents. Also what the query-plan tests run on.
pub async fn seed_year(url: &str, size: YearSize) -> anyhow::Result<usize> {
    Ok(seed(url, size).await?.documents)
}

/// Seeds a year into the (migrated, demo) database at `url`.
async fn seed(url: &str, size: YearSize) -> anyhow::Result<Seeded> {
    let t = Instant::now();
    let store = Store::open(url).await?;
    let now = Utc::now();
    let agencies = size.participants.max(RECIPIENTS_PER_DOCUMENT + 1);
    for i in 0..agencies {
        let p = NewParticipant {
            code: agency(i),
            kind: ParticipantKind::Agency,
            name: format!("年度量測機關{i:03}"),
            unified_business_number: None,
            status: ParticipantStatus::Active,
            capabilities: Capabilities { receive: true, send: true },
            supervisor: None,
            email: None,
        };
        let log = NewLogEntry::new(LogAction::ParticipantCreated, format!("participant {} (bench)", p.code));
        store.create_participant(&p, now - chrono::Duration::days(366), &log).await?;
    }
    let documents = (size.deliveries / RECIPIENTS_PER_DOCUMENT).max(1);
    let to_inbox = size.inbox.min(documents);
    let (mut deliveries, mut entries, mut inbox) = (0, 0, 0);
    let mut it_docs = Vec::new();
    let mut recent_from = None;
    // Other recipients' deliveries of the most recent documents stay pending.
    let others_pending = size.pending.saturating_sub(size.inbox);
    let recent_docs = others_pending / (RECIPIENTS_PER_DOCUMENT - 1).max(1);
    for start in (0..documents).step_by(SEED_BATCH) {
        let batch: Vec<(NewDocument, Vec<NewLogEntry>)> = (start..(start + SEED_BATCH).min(documents))
            .map(|i| {
                let d = document(i, documents, now, agencies, to_inbox);
                if i + recent_docs == documents {
                    recent_from = Some(d.record.accepted_at);
                }
                let log = log_of(&d);
                (d, log)
            })
            .collect();
        for (d, log) in &batch {
            deliveries += d.deliveries.len();
            entries += log.len();
            inbox += d.deliveries.iter().filter(|r| r.recipient.as_str() == demo::SECRETARIAT).count();
            if d.record.sender_code == demo::IT_BUREAU && it_docs.len() < ASKS {
                it_docs.push(d.record.id.clone());
            }
        }
        store.seed_documents(batch).await?;
        if start % (SEED_BATCH * 100) == 0 {
            eprintln!("year: {start} of {documents} documents seeded…");
        }
    }
    let confirmed = store.seed_confirm(recent_from.unwrap_or(now), demo::SECRETARIAT).await?;
    store.analyze().await?;
    store.close().await;
    Ok(Seeded {
        documents,
        deliveries,
        pending: deliveries as u64 - confirmed,
        inbox_pending: inbox,
        log_entries: entries,
        it_docs,
        seed_seconds: t.elapsed().as_secs_f64(),
    })
}

async fn timed(client: &Client, path: &str, who: &str) -> anyhow::Result<PathTiming> {
    // First untimed: a polling client keeps its connection open, and a hub
    // that has been serving has used every connection of its pool.
    for _ in 0..WARM_ASKS {
        client.get_bytes(path).await.with_context(|| format!("{path} as {who}"))?;
    }
    let mut lat = Vec::with_capacity(ASKS);
    for _ in 0..ASKS {
        let t = Instant::now();
        client.get_bytes(path).await.with_context(|| format!("{path} as {who}"))?;
        lat.push(t.elapsed());
    }
    Ok(PathTiming { path: path.to_owned(), who: who.to_owned(), latency: Latencies::of(lat) })
}

pub(super) async fn year(args: &BenchArgs) -> anyhow::Result<Year> {
    let temp = match &args.year_dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("gwx-bench-year-{}", std::process::id())),
    };
    let kept = temp.join("year-seed.json");
    let seeded = match std::fs::read(&kept).ok().and_then(|b| serde_json::from_slice::<Seeded>(&b).ok()) {
        Some(s) if args.year_dir.is_some() => {
            eprintln!("year: measuring the year already seeded in {}", temp.display());
            s
        }
        _ => {
            let _ = std::fs::remove_dir_all(&temp);
            demo::init(&temp, args.year_database.as_deref(), false).await?;
            let url = match &args.year_database {
                Some(u) => u.clone(),
                None => temp.join("data/gwx.db").display().to_string(),
            };
            let size = YearSize {
                participants: args.year_participants,
                deliveries: args.year_deliveries,
                pending: args.year_pending,
                inbox: args.year_inbox,
            };
            let s = seed(&url, size).await?;
            std::fs::write(&kept, serde_json::to_vec(&s)?)?;
            s
        }
    };
    let Seeded { documents, deliveries, pending, inbox_pending, log_entries, ref it_docs, seed_seconds } = seeded;
    eprintln!("year: {documents} documents, {deliveries} deliveries seeded in {seed_seconds:.0} s; starting the hub…");

    // Start-up: from the process started to the first document accepted.
    let t = Instant::now();
    let mut hub = super::hub::spawn(temp.clone(), args.year_database.as_deref())?;
    if args.year_dir.is_some() {
        hub.temp = None;
    }
    let id = |code: &str| Identity {
        hub: hub.url.clone(),
        cert: temp.join(format!("clients/{code}.pem")),
        key: temp.join(format!("clients/{code}.key")),
        ca: temp.join("certs/ca.pem"),
    };
    let it = Client::new(&id(demo::IT_BUREAU))?;
    let signer = Signer {
        code: ParticipantCode::parse(demo::IT_BUREAU)?,
        keys: crate::pki::demo::KeyPair::read(&temp.join("clients").join(demo::IT_BUREAU))?,
    };
    // A number of its own each run: a kept hub has the earlier runs' documents.
    let number = format!("99{:08}", Utc::now().timestamp() % 100_000_000);
    let first = make_package(&signer, &number, 4096, 1, vec![demo::SECRETARIAT.into()])?;
    loop {
        match it.send_without_retry(&first).await {
            Ok((201, _)) => break,
            _ if t.elapsed() < Duration::from_secs(600) => tokio::time::sleep(Duration::from_millis(20)).await,
            other => anyhow::bail!("the hub did not accept a document within 10 minutes: {other:?}"),
        }
    }
    let startup_to_first_accept_s = t.elapsed().as_secs_f64();

    let secretariat = Client::new(&id(demo::SECRETARIAT))?;
    let rdec = Client::new(&id(demo::RDEC))?;
    let pending_label = format!("秘書處 ({inbox_pending} pending)");
    let mut paths = vec![
        timed(&secretariat, "/api/v1/inbox?state=delivered&limit=100", &pending_label).await?,
        timed(&secretariat, "/api/v1/inbox?limit=100", "秘書處").await?,
        timed(&secretariat, "/api/v1/deadlines/receiver?limit=100", "秘書處").await?,
        timed(&it, "/api/v1/deadlines/sender?limit=100", "資訊局").await?,
        timed(&it, "/api/v1/log?limit=100", "資訊局 (whole log)").await?,
        timed(&secretariat, "/api/v1/log?limit=100", "秘書處 (own entries)").await?,
        timed(&secretariat, "/api/v1/roster", "秘書處").await?,
        // The clerk's console pages of the same lists.
        timed(&secretariat, "/console/inbox", &pending_label).await?,
        timed(&it, "/console/sent", "資訊局").await?,
        timed(&it, "/console/deadlines/sender", "資訊局").await?,
    ];
    let mut status = Vec::with_capacity(it_docs.len());
    for doc in it_docs {
        let t = Instant::now();
        it.get_bytes(&format!("/api/v1/documents/{doc}")).await?;
        status.push(t.elapsed());
    }
    paths.push(PathTiming {
        path: "/api/v1/documents/{id}".into(),
        who: "資訊局 (its documents)".into(),
        latency: Latencies::of(status),
    });

    let today = Utc::now().date_naive();
    let from = today - chrono::Duration::days(365);
    let mut times = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        rdec.get_bytes(&format!("/api/v1/audit/timeliness?from={from}&to={today}")).await?;
        times.push(t.elapsed());
    }
    times.sort_unstable();
    let month = today - chrono::Duration::days(30);
    let t = Instant::now();
    let csv_bytes = it.count_bytes(&format!("/api/v1/log?format=csv&from={month}&to={today}")).await?;
    let csv_s = t.elapsed().as_secs_f64();
    let log_csv_month_mib = csv_bytes as f64 / (1024.0 * 1024.0);
    drop(hub);
    Ok(Year {
        participants: args.year_participants,
        documents,
        deliveries,
        pending,
        inbox_pending,
        log_entries,
        seed_seconds,
        startup_to_first_accept_s,
        paths,
        timeliness_year_ms: times[1].as_secs_f64() * 1000.0,
        log_csv_month_mib,
        log_csv_mib_per_s: log_csv_month_mib / csv_s,
    })
}
