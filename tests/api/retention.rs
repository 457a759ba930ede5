//! The one-year retention of the exchange log (§8, DESIGN §9) and backups
//! (DESIGN §11): the purge keeps the chain verifiable from its checkpoint
//! and never goes below the policy; a backup taken while documents arrive
//! restores into an empty hub and verifies.

use chrono::Duration;
use gwx::client::package::SendOptions;
use gwx::runtime::config::Config;
use gwx::store::{LogFilter, PurgeReport, Store};
use gwx::tools::demo::{CIVIL_AFFAIRS, EDUCATION, ETHICS};

use gwx::runtime::config::BlobsConfig;

use crate::helpers::{Backend, TestHub, drop_postgres_database, fresh_database, test_blobs};

async fn start(backend: Backend) -> TestHub {
    TestHub::start_with(backend, |c| c.auth.inactivity_days = 3650).await
}

/// Sends a document with a 100 KiB attachment (a blob file); returns its id.
async fn send_with_file(hub: &TestHub, serial: &str) -> String {
    let opts = SendOptions { to: vec![EDUCATION.into()], ..Default::default() };
    let v = hub.send_doc(&hub.as_(CIVIL_AFFAIRS), CIVIL_AFFAIRS, CIVIL_AFFAIRS, serial, &opts, Some(100 * 1024)).await;
    v.created()["document_id"].as_str().unwrap().to_owned()
}

/// The SHA-256 of a document's parts kept in the blob store.
async fn files_of(hub: &TestHub, doc: &str) -> Vec<String> {
    let parts = hub.store().document_parts(doc).await.unwrap();
    parts.iter().filter(|p| p.inline.is_none()).map(|p| p.sha256.as_str().to_owned()).collect()
}

async fn purge(hub: &TestHub) -> PurgeReport {
    gwx::service::jobs::purge(&hub.hub.app).await.unwrap()
}

/// A document on day 0 and one on day 366, then the purge. (old, new, the
/// old one's blob files, entries logged on day 0, the purge's report).
async fn a_year_and_a_purge(hub: &TestHub) -> (String, String, Vec<String>, usize, PurgeReport) {
    let old = send_with_file(hub, "8001").await;
    let old_files = files_of(hub, &old).await;
    assert_eq!(old_files.len(), 1);
    assert!(hub.blob(&old_files[0]).await.is_some());
    let before = hub.store().log_entries(&LogFilter { limit: 100_000, ..Default::default() }).await.unwrap();
    hub.clock.advance(Duration::days(366));
    let new = send_with_file(hub, "8002").await;
    (old, new, old_files, before.len(), purge(hub).await)
}

async fn nothing_is_purged_before_a_year(backend: Backend) {
    let hub = start(backend).await;
    send_with_file(&hub, "8001").await;
    hub.clock.advance(Duration::days(364));
    let r = purge(&hub).await;
    assert_eq!((r.entries, r.documents, r.blobs), (0, 0, 0));
    assert!(hub.store().log_checkpoint().await.unwrap().is_none());
    // Nothing was due: nothing was written, not even a log entry.
    let purged = LogFilter { actions: vec!["log.purged".into()], limit: 10, ..Default::default() };
    assert!(hub.store().log_entries(&purged).await.unwrap().is_empty());
    hub.stop().await;
}

async fn a_purge_larger_than_a_batch_takes_everything_old_in_batches(backend: Backend) {
    let hub = start(backend).await;
    let n = gwx::store::PURGE_BATCH as usize + 20;
    // More documents, and more than twice as many log entries, as one batch takes.
    let hub = std::sync::Arc::new(hub);
    let senders: Vec<_> = (0..4)
        .map(|w| {
            let hub = hub.clone();
            tokio::spawn(async move {
                for i in (w..n).step_by(4) {
                    hub.send_plain(CIVIL_AFFAIRS, &format!("{:04}", 1000 + i), &[EDUCATION], &[]).await.created();
                }
            })
        })
        .collect();
    for s in senders {
        s.await.unwrap();
    }
    let old_with_file = send_with_file(&hub, "8001").await;
    hub.clock.advance(Duration::days(366));
    let new = send_with_file(&hub, "8002").await;
    // The old file-carrying document was sent on day 0 too: purged with the rest.
    let r = purge(&hub).await;
    assert_eq!(r.documents as usize, n + 1, "{r:?}");
    assert_eq!(r.deliveries as usize, n + 1, "{r:?}");
    assert!(r.entries as usize > 2 * n, "{r:?}");
    assert_eq!(r.files, 1, "{r:?}");
    assert!(hub.store().document(&old_with_file).await.unwrap().is_none());
    assert!(hub.store().document(&new).await.unwrap().is_some());
    hub.store().verify_log().await.unwrap().expect("chain intact from the last batch's checkpoint");
    let checkpoint = hub.store().log_checkpoint().await.unwrap().unwrap();
    assert_eq!(checkpoint.entries, r.entries, "the last checkpoint counts the whole purge");
    hub.logged("log.purged", &format!("{} documents", n + 1)).await;
    std::sync::Arc::into_inner(hub).unwrap().stop().await;
}

async fn a_purge_after_a_year_removes_old_documents_and_their_blobs_only(backend: Backend) {
    let hub = start(backend).await;
    let (old, new, old_files, logged, r) = a_year_and_a_purge(&hub).await;
    assert_eq!(r.entries as usize, logged, "everything from the first day: {r:?}");
    assert_eq!((r.documents, r.deliveries, r.files), (1, 1, 1), "{r:?}");
    assert!(r.blobs >= 2, "the old document's blobs, inline and file: {r:?}");
    assert!(hub.blob(&old_files[0]).await.is_none(), "the old blob file is gone");
    assert!(hub.store().document(&old).await.unwrap().is_none());
    for f in files_of(&hub, &new).await {
        assert!(hub.blob(&f).await.is_some(), "the new document keeps its blobs");
    }
    hub.as_(CIVIL_AFFAIRS).get(&format!("/api/v1/documents/{old}")).await.refused(404, "not-found");
    hub.as_(CIVIL_AFFAIRS).get(&format!("/api/v1/documents/{new}")).await.ok();
    hub.stop().await;
}

async fn the_chain_verifies_from_the_purge_checkpoint(backend: Backend) {
    let hub = start(backend).await;
    let (_, _, _, _, r) = a_year_and_a_purge(&hub).await;
    let cp = hub.store().log_checkpoint().await.unwrap().expect("checkpoint");
    assert_eq!(Some(cp.seq), r.checkpoint_seq);
    let report = hub.store().verify_log().await.unwrap().expect("chain intact");
    assert_eq!(report.checkpoint, Some(cp.seq));
    let kept = hub.store().log_entries(&LogFilter { limit: 100_000, ..Default::default() }).await.unwrap();
    assert_eq!(kept[0].seq, cp.seq + 1);
    assert_eq!(kept[0].prev_hash, cp.hash, "the first kept entry chains to the checkpoint");
    assert!(kept.iter().all(|e| e.at >= gwx::runtime::clock::Clock::now(&hub.clock) - Duration::days(365)));
    hub.stop().await;
}

async fn a_purge_is_logged_for_the_security_view(backend: Backend) {
    let hub = start(backend).await;
    a_year_and_a_purge(&hub).await;
    let purged = hub.logged("log.purged", "1 documents").await;
    assert!(purged.detail.contains("retention purge (365 days)"), "{}", purged.detail);
    let sec = hub.as_(ETHICS).get("/api/v1/audit/security?action=log.purged").await.ok();
    assert!(!sec["items"].as_array().unwrap().is_empty());
    hub.stop().await;
}

async fn a_second_purge_keeps_the_chain_verifiable(backend: Backend) {
    let hub = start(backend).await;
    a_year_and_a_purge(&hub).await;
    // Purging again removes the first purge's own entry and the second document.
    hub.clock.advance(Duration::days(366));
    let again = purge(&hub).await;
    assert!(again.entries >= 1 && again.documents == 1, "{again:?}");
    hub.store().verify_log().await.unwrap().expect("chain intact after a second purge");
    hub.stop().await;
}

#[test]
fn a_retention_below_the_policy_is_refused() {
    let dir = std::path::Path::new("/srv/gwx");
    let e = Config::parse(dir, "[log]\nretention_days = 364\n").unwrap_err().to_string();
    assert!(e.contains("below the policy") && e.contains("365"), "{e}");
    assert_eq!(Config::parse(dir, "").unwrap().log.retention_days, 365);
    assert_eq!(Config::parse(dir, "[log]\nretention_days = 730\n").unwrap().log.retention_days, 730);
}

/// Three documents, then a backup while fifteen more arrive. (backup directory, manifest).
async fn backed_up_while_sending(hub: &TestHub) -> (std::path::PathBuf, gwx::tools::backup::Manifest) {
    for i in 0..3 {
        send_with_file(hub, &format!("90{i:02}")).await;
    }
    let backup_dir = hub.path("backup");
    let (db_url, blobs) = (hub.hub.app.config.database_url(), &hub.hub.app.blobs);
    let sending = async {
        let mut n = 0;
        for i in 0..15 {
            send_with_file(hub, &format!("91{i:02}")).await;
            n += 1;
        }
        n
    };
    let (m, sent) = tokio::join!(gwx::tools::backup::backup(&db_url, blobs, &backup_dir), sending);
    let m = m.unwrap();
    assert_eq!(sent, 15);
    assert!(m.blob_files >= 3, "{m:?}");
    assert!(backup_dir.join("manifest.json").exists());
    (backup_dir, m)
}

/// A new, empty database (on `backend`), data directory and blob store
/// (a new prefix in the object store on its variant); dropped
/// (PostgreSQL) by `drop`.
struct Target {
    dir: tempfile::TempDir,
    url: String,
    backend: Backend,
    blobs: BlobsConfig,
}

impl Target {
    async fn new(backend: &Backend) -> Target {
        let dir = tempfile::tempdir().unwrap();
        let url = fresh_database(backend, dir.path()).await;
        let blobs = match test_blobs() {
            Some(_) => crate::garage::blobs_config(crate::garage::garage().unwrap()),
            None => BlobsConfig::default(),
        };
        Target { dir, url, backend: backend.clone(), blobs }
    }

    async fn restore(&self, backup_dir: &std::path::Path) -> anyhow::Result<gwx::tools::backup::Restored> {
        gwx::tools::backup::restore(backup_dir, &self.url, &self.data(), &self.blobs).await
    }

    fn data(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    async fn drop(self) {
        if let Backend::Postgres(server) = &self.backend {
            drop_postgres_database(server, &self.url).await;
        }
    }
}

async fn a_backup_taken_while_documents_arrive_restores_whole_and_verified(backend: Backend) {
    let hub = start(backend.clone()).await;
    let (backup_dir, m) = backed_up_while_sending(&hub).await;
    let target = Target::new(&backend).await;
    let r = target.restore(&backup_dir).await.unwrap();
    assert!(r.blobs_checked >= 4 * 3, "{r:?}");
    assert!(r.log_entries_checked > 0);
    let store = Store::open(&target.url).await.unwrap();
    let report = store.verify_log().await.unwrap().expect("restored chain intact");
    assert_eq!(report.head_seq, m.log_head_seq);
    // Every restored document is whole: each of its file blobs is there.
    let docs = store.document_count().await.unwrap();
    assert!((3..=18).contains(&docs), "{docs}");
    assert_eq!(m.blob_files as i64, docs, "one attachment file per document in the snapshot");
    store.close().await;
    target.drop().await;
    hub.stop().await;
}

async fn a_restore_refuses_a_target_that_is_not_empty(backend: Backend) {
    let hub = start(backend.clone()).await;
    let (backup_dir, _) = backed_up_while_sending(&hub).await;
    let target = Target::new(&backend).await;
    target.restore(&backup_dir).await.unwrap();
    let again = target.restore(&backup_dir).await.unwrap_err().to_string();
    assert!(again.contains("empty"), "{again}");
    target.drop().await;
    hub.stop().await;
}

/// The target as a failed restore must leave it: no database, no blobs,
/// nothing half made.
async fn assert_untouched(target: &Target) {
    match &target.backend {
        Backend::Sqlite => assert!(!std::path::Path::new(&target.url).exists(), "no database file"),
        Backend::Postgres(_) => {
            assert!(gwx::store::backup::pg_is_empty(&target.url).await.unwrap(), "no tables");
        }
    }
    let blobs = gwx::store::blobs::Blobs::at(&target.data(), &target.blobs).unwrap();
    assert!(!blobs.holds_any().await.unwrap(), "no blobs in {}", blobs.location());
    let left: Vec<_> = std::fs::read_dir(target.data())
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left in the data directory: {left:?}");
}

async fn a_restore_refuses_a_damaged_backup_and_leaves_the_target_as_it_was(backend: Backend) {
    let hub = start(backend.clone()).await;
    let (backup_dir, _) = backed_up_while_sending(&hub).await;
    let blob = std::fs::read_dir(backup_dir.join("blobs")).unwrap().next().unwrap().unwrap().path();
    let file = std::fs::read_dir(blob).unwrap().next().unwrap().unwrap().path();
    let good = std::fs::read(&file).unwrap();
    let mut bytes = good.clone();
    bytes[500] ^= 1;
    std::fs::write(&file, bytes).unwrap();
    let target = Target::new(&backend).await;
    let damaged = target.restore(&backup_dir).await.unwrap_err();
    let damaged = format!("{damaged:#}");
    assert!(damaged.contains("damaged") && damaged.contains("nothing was restored"), "{damaged}");
    assert_untouched(&target).await;
    // The repaired backup restores into the same target.
    std::fs::write(&file, good).unwrap();
    target.restore(&backup_dir).await.unwrap();
    target.drop().await;
    hub.stop().await;
}

async fn a_backup_missing_a_blob_its_database_needs_restores_nothing(backend: Backend) {
    let hub = start(backend.clone()).await;
    let (backup_dir, _) = backed_up_while_sending(&hub).await;
    let prefix = std::fs::read_dir(backup_dir.join("blobs")).unwrap().next().unwrap().unwrap().path();
    let file = std::fs::read_dir(&prefix).unwrap().next().unwrap().unwrap().path();
    std::fs::remove_file(&file).unwrap();
    let target = Target::new(&backend).await;
    // The database is restored, then found to need a blob the backup lacks: undone.
    let missing = format!("{:#}", target.restore(&backup_dir).await.unwrap_err());
    assert!(missing.contains(file.file_name().unwrap().to_str().unwrap()), "{missing}");
    assert_untouched(&target).await;
    target.drop().await;
    hub.stop().await;
}

async fn gwx_backup_copies_a_running_hub(backend: Backend) {
    let hub = start(backend).await;
    send_with_file(&hub, "9201").await;
    std::fs::write(hub.path("gwx.toml"), hub.config_file()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gwx"))
        .args(["backup", "--dir"])
        .arg(hub.dir.path())
        .arg("--database")
        .arg(hub.hub.app.config.database_url())
        .arg("--to")
        .arg(hub.path("backup2"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("backup written to"));
    hub.stop().await;
}

/// The purge of a large table works in short transactions, each taking
/// the write lock for one batch: documents sent meanwhile are accepted
/// between its batches, not queued behind the whole purge (issue 12).
async fn documents_are_accepted_between_the_batches_of_a_large_purge(backend: Backend) {
    use gwx::tools::bench::{YearSize, seed_year};
    let hub = start(backend).await;
    // 8,000 documents and 40,000 deliveries over the last year, each
    // logged: sixteen batches of documents, then the log in batches too.
    let size = YearSize { participants: 10, deliveries: 40_000, pending: 0, inbox: 0 };
    let seeded = seed_year(&hub.hub.app.config.database_url(), size).await.unwrap();
    let before = hub.store().document_count().await.unwrap();
    assert!(before as usize >= seeded);
    hub.clock.advance(Duration::days(400));

    let app = hub.hub.app.clone();
    let purge = tokio::spawn(async move { gwx::service::jobs::purge(&app).await });
    // Four senders, each sending one document after the other until the
    // purge is done; after each acceptance, how far the purge has got: the
    // documents left and its latest log checkpoint (one per log batch).
    let seen = std::sync::Mutex::new(Vec::new());
    let send = |sender: usize| {
        let (hub, seen, purge) = (&hub, &seen, &purge);
        async move {
            let mut n = 0;
            while !purge.is_finished() {
                send_with_file(hub, &format!("9{sender}{n:03}")).await;
                let count = hub.store().document_count().await.unwrap();
                let checkpoint = hub.store().log_checkpoint().await.unwrap().map(|c| c.seq);
                seen.lock().unwrap().push((count, checkpoint));
                n += 1;
            }
        }
    };
    futures_util::future::join_all((0..4).map(send)).await;
    let r = purge.await.unwrap().unwrap();
    assert!(r.documents as usize >= seeded, "{r:?}");
    let after = hub.store().document_count().await.unwrap();
    let seen = seen.into_inner().unwrap();
    // Accepted once the purge had begun (documents gone, or a checkpoint)
    // and before its last batch: at several points in between.
    let mut between: Vec<(i64, Option<i64>)> =
        seen.iter().copied().filter(|&(n, cp)| (n < before || cp.is_some()) && cp != r.checkpoint_seq).collect();
    between.dedup();
    assert!(
        between.len() >= 2,
        "{} documents accepted during the purge, at {} points between its batches: {seen:?}",
        seen.len(),
        between.len()
    );
    // Every one of them is there, whole.
    assert_eq!(after as usize, seen.len() + (before as usize - r.documents as usize));
    hub.stop().await;
}

crate::both_databases!(
    nothing_is_purged_before_a_year,
    a_purge_larger_than_a_batch_takes_everything_old_in_batches,
    the_chain_verifies_from_the_purge_checkpoint,
    a_purge_is_logged_for_the_security_view,
    a_second_purge_keeps_the_chain_verifiable,
    documents_are_accepted_between_the_batches_of_a_large_purge,
);

crate::every_store!(
    a_purge_after_a_year_removes_old_documents_and_their_blobs_only,
    a_backup_taken_while_documents_arrive_restores_whole_and_verified,
    a_restore_refuses_a_target_that_is_not_empty,
    a_restore_refuses_a_damaged_backup_and_leaves_the_target_as_it_was,
    a_backup_missing_a_blob_its_database_needs_restores_nothing,
    gwx_backup_copies_a_running_hub,
);
