//! The one-year retention of the exchange log (§8, DESIGN §9) and backups
//! (DESIGN §11): the purge keeps the chain verifiable from its checkpoint
//! and never goes below the policy; a backup taken while documents arrive
//! restores into an empty hub and verifies.

mod common;

use chrono::Duration;
use common::{Backend, TestHub, fresh_database, json, send_doc};
use gwx::client::package::SendOptions;
use gwx::runtime::config::Config;
use gwx::store::{LogFilter, Store};
use gwx::tools::demo::{CIVIL_AFFAIRS, EDUCATION};

async fn start(backend: Backend) -> TestHub {
    TestHub::start_with(backend, |c| c.auth.inactivity_days = 3650).await
}

/// Sends a document with a 100 KiB attachment (a blob file); returns its id.
async fn send_with_file(hub: &TestHub, serial: &str) -> String {
    let opts = SendOptions { to: vec![EDUCATION.into()], ..Default::default() };
    let v = json(
        send_doc(hub, &hub.client(CIVIL_AFFAIRS), CIVIL_AFFAIRS, CIVIL_AFFAIRS, serial, &opts, Some(100 * 1024)).await,
        201,
    )
    .await;
    v["document_id"].as_str().unwrap().to_owned()
}

/// The blob files of a document's parts.
async fn files_of(hub: &TestHub, doc: &str) -> Vec<std::path::PathBuf> {
    let parts = hub.store().document_parts(doc).await.unwrap();
    parts.iter().filter(|p| p.inline.is_none()).map(|p| hub.hub.app.blobs.path(p.sha256.as_str())).collect()
}

async fn the_purge_after_a_year_keeps_the_chain_verifiable(backend: Backend) {
    let hub = start(backend).await;
    let old = send_with_file(&hub, "8001").await;
    let old_files = files_of(&hub, &old).await;
    assert_eq!(old_files.len(), 1);
    assert!(old_files[0].exists());
    let before = hub.store().log_entries(&LogFilter { limit: 100_000, ..Default::default() }).await.unwrap();

    // 364 days on: nothing is old enough.
    hub.clock.advance(Duration::days(364));
    let r = gwx::service::jobs::purge(&hub.hub.app).await.unwrap();
    assert_eq!((r.entries, r.documents, r.blobs), (0, 0, 0));
    assert!(hub.store().log_checkpoint().await.unwrap().is_none());

    // 365 days + 1 after the first document, a new one arrives, then the purge runs.
    hub.clock.advance(Duration::days(2));
    let new = send_with_file(&hub, "8002").await;
    let r = gwx::service::jobs::purge(&hub.hub.app).await.unwrap();
    assert_eq!(r.entries as usize, before.len(), "everything from the first day: {r:?}");
    assert_eq!((r.documents, r.deliveries, r.files), (1, 1, 1), "{r:?}");
    assert!(r.blobs >= 2, "the old document's blobs, inline and file: {r:?}");
    assert!(!old_files[0].exists(), "the old blob file is gone");
    assert!(hub.store().document(&old).await.unwrap().is_none());
    for f in files_of(&hub, &new).await {
        assert!(f.exists(), "the new document keeps its blobs");
    }
    let v = hub.client(CIVIL_AFFAIRS).get(hub.url(&format!("/api/v1/documents/{old}"))).send().await.unwrap();
    assert_eq!(v.status(), 404);
    json(hub.client(CIVIL_AFFAIRS).get(hub.url(&format!("/api/v1/documents/{new}"))).send().await.unwrap(), 200).await;

    // The chain verifies from the checkpoint, which is the last purged entry.
    let cp = hub.store().log_checkpoint().await.unwrap().expect("checkpoint");
    assert_eq!(Some(cp.seq), r.checkpoint_seq);
    let report = hub.store().verify_log().await.unwrap().expect("chain intact");
    assert_eq!(report.checkpoint, Some(cp.seq));
    let kept = hub.store().log_entries(&LogFilter { limit: 100_000, ..Default::default() }).await.unwrap();
    assert_eq!(kept[0].seq, cp.seq + 1);
    assert_eq!(kept[0].prev_hash, cp.hash, "the first kept entry chains to the checkpoint");
    assert!(kept.iter().all(|e| e.at >= gwx::runtime::clock::Clock::now(&hub.clock) - Duration::days(365)));
    let purged = common::wait_for_log(hub.store(), "log.purged", "1 documents").await;
    assert!(purged.detail.contains("retention purge (365 days)"), "{}", purged.detail);
    // The purge is in the security view and in `gwx log verify`'s terms.
    let sec = json(
        hub.client(gwx::tools::demo::ETHICS)
            .get(hub.url("/api/v1/audit/security?action=log.purged"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert!(!sec["items"].as_array().unwrap().is_empty());

    // Purging again removes only the first purge's own entry; still verifiable.
    hub.clock.advance(Duration::days(366));
    let again = gwx::service::jobs::purge(&hub.hub.app).await.unwrap();
    assert!(again.entries >= 1 && again.documents == 1, "{again:?}");
    hub.store().verify_log().await.unwrap().expect("chain intact after a second purge");
    hub.stop().await;
}

#[test]
fn retention_below_the_policy_is_refused() {
    let dir = std::path::Path::new("/srv/gwx");
    let e = Config::parse(dir, "[log]\nretention_days = 364\n").unwrap_err().to_string();
    assert!(e.contains("below the policy") && e.contains("365"), "{e}");
    assert_eq!(Config::parse(dir, "").unwrap().log.retention_days, 365);
    assert_eq!(Config::parse(dir, "[log]\nretention_days = 730\n").unwrap().log.retention_days, 730);
}

async fn a_backup_taken_while_sending_restores_and_verifies(backend: Backend) {
    let hub = start(backend.clone()).await;
    for i in 0..3 {
        send_with_file(&hub, &format!("90{i:02}")).await;
    }
    let backup_dir = hub.path("backup");
    let db_url = hub.hub.app.config.database_url();
    let data_dir = hub.hub.app.config.data_dir();

    // Documents keep arriving during the backup.
    let sending = async {
        let mut n = 0;
        for i in 0..15 {
            send_with_file(&hub, &format!("91{i:02}")).await;
            n += 1;
        }
        n
    };
    let (m, sent) = tokio::join!(gwx::tools::backup::backup(&db_url, &data_dir, &backup_dir), sending);
    let m = m.unwrap();
    assert_eq!(sent, 15);
    assert!(m.blob_files >= 3, "{m:?}");
    assert!(backup_dir.join("manifest.json").exists());

    // Restore into a new, empty hub directory and database.
    let target = tempfile::tempdir().unwrap();
    let url = fresh_database(&backend, target.path()).await;
    let restored_data = target.path().join("data");
    let r = gwx::tools::backup::restore(&backup_dir, &url, &restored_data).await.unwrap();
    assert!(r.blobs_checked >= 4 * 3, "{r:?}");
    assert!(r.log_entries_checked > 0);
    let store = Store::open(&url).await.unwrap();
    let report = store.verify_log().await.unwrap().expect("restored chain intact");
    assert_eq!(report.head_seq, m.log_head_seq);
    // Every restored document is whole: each of its file blobs is there.
    let (docs,): (i64,) = match &store.db {
        gwx::store::Db::Sqlite(p) => sqlx::query_as("SELECT COUNT(*) FROM documents").fetch_one(p).await.unwrap(),
        gwx::store::Db::Postgres(p) => sqlx::query_as("SELECT COUNT(*) FROM documents").fetch_one(p).await.unwrap(),
    };
    assert!((3..=18).contains(&docs), "{docs}");
    assert_eq!(m.blob_files as i64, docs, "one attachment file per document in the snapshot");
    store.close().await;

    // A restore refuses a non-empty target, and a damaged backup.
    let again = gwx::tools::backup::restore(&backup_dir, &url, &restored_data).await.unwrap_err().to_string();
    assert!(again.contains("empty"), "{again}");
    let blob = std::fs::read_dir(backup_dir.join("blobs")).unwrap().next().unwrap().unwrap().path();
    let file = std::fs::read_dir(blob).unwrap().next().unwrap().unwrap().path();
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[500] ^= 1;
    std::fs::write(&file, bytes).unwrap();
    let target2 = tempfile::tempdir().unwrap();
    let url2 = fresh_database(&backend, target2.path()).await;
    let damaged =
        gwx::tools::backup::restore(&backup_dir, &url2, &target2.path().join("data")).await.unwrap_err().to_string();
    assert!(damaged.contains("damaged"), "{damaged}");

    // The same through the command line: `gwx backup` of a running hub.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gwx"))
        .args(["backup", "--dir"])
        .arg(hub.dir.path())
        .arg("--database")
        .arg(&db_url)
        .arg("--to")
        .arg(hub.path("backup2"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("backup written to"));
    if let Backend::Postgres(server) = &backend {
        for u in [&url, &url2] {
            let name = u.rsplit('/').next().unwrap();
            Store::open_admin(&format!("{server}/postgres")).await.unwrap().drop_database(name).await.unwrap();
        }
    }
    hub.stop().await;
}

both_databases!(the_purge_after_a_year_keeps_the_chain_verifiable, a_backup_taken_while_sending_restores_and_verifies);
