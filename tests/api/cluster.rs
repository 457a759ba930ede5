//! The cluster of `deploy/cluster` (one PostgreSQL database, a three-node
//! Garage, three gwx nodes, haproxy in TCP mode with PROXY v2) under load,
//! as a city would run it, and its failures: a gwx node and a Garage node
//! killed (`kill -9`) while documents are being sent. The `gwx` client
//! sends again what got no answer; afterwards every acknowledged document
//! is there with all its deliveries and bytes, none half-routed, the log
//! chain intact.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use gwx::client::{Client, Identity};
use gwx::store::Store;

use crate::helpers::signed_package;

use gwx::tools::demo::{CIVIL_AFFAIRS, EDUCATION, IT_BUREAU, SECRETARIAT, SOCIAL_WELFARE};

const SENDERS: [&str; 3] = [IT_BUREAU, SECRETARIAT, CIVIL_AFFAIRS];
const RECIPIENTS: [&str; 2] = [EDUCATION, SOCIAL_WELFARE];

/// A running cluster, stopped when dropped.
struct Cluster {
    base: PathBuf,
    env: Vec<(&'static str, String)>,
    port: u16,
}

impl Cluster {
    /// Starts the cluster with the test binary; `None` (skipped) without
    /// Garage, haproxy or PostgreSQL, unless the object-store tests are
    /// required.
    fn start() -> Option<Cluster> {
        let required = std::env::var("GWX_REQUIRE_S3").as_deref() == Ok("1");
        let haproxy = Command::new("haproxy").arg("-v").output().is_ok_and(|o| o.status.success());
        let (Some(garage), Some(crate::helpers::Backend::Postgres(pg)), true) =
            (crate::garage::binary(), crate::helpers::Backend::postgres(), haproxy)
        else {
            assert!(!required, "GWX_REQUIRE_S3=1 but garage, haproxy or PostgreSQL is missing");
            eprintln!("skipped: the cluster needs garage, haproxy and PostgreSQL");
            return None;
        };
        let base = std::env::temp_dir().join(format!("gwx-test-cluster-{}", std::process::id()));
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let env = vec![
            ("GWX_CLUSTER_DIR", base.display().to_string()),
            ("GWX_CLUSTER_POSTGRES", pg),
            ("GWX_CLUSTER_DB", format!("gwx_cluster_{}", std::process::id())),
            ("GWX_CLUSTER_PORT", port.to_string()),
            ("GWX", env!("CARGO_BIN_EXE_gwx").to_owned()),
            ("GWX_GARAGE", garage.display().to_string()),
        ];
        // Made before it starts: whatever starts is stopped when it is dropped.
        let cluster = Cluster { base, env, port };
        let out = cluster.script("start");
        assert!(out.status.success(), "cluster start: {}{}", stdout(&out), stderr(&out));
        Some(cluster)
    }

    fn script(&self, verb: &str) -> std::process::Output {
        Command::new("deploy/cluster/cluster.sh").arg(verb).envs(self.env.iter().cloned()).output().unwrap()
    }

    fn database_url(&self) -> String {
        let pg = &self.env.iter().find(|(k, _)| *k == "GWX_CLUSTER_POSTGRES").unwrap().1;
        let db = &self.env.iter().find(|(k, _)| *k == "GWX_CLUSTER_DB").unwrap().1;
        format!("{pg}/{db}")
    }

    fn demo(&self) -> PathBuf {
        self.base.join("demo")
    }

    /// `code`'s client, through haproxy.
    fn client(&self, code: &str) -> Client {
        let d = self.demo();
        Client::new(&Identity {
            hub: format!("https://localhost:{}", self.port),
            cert: d.join(format!("clients/{code}.pem")),
            key: d.join(format!("clients/{code}.key")),
            ca: d.join("certs/ca.pem"),
        })
        .unwrap()
    }

    /// `kill -9` of a process whose pid file is `rel`.
    fn kill(&self, rel: &str) {
        let pid = std::fs::read_to_string(self.base.join(rel)).unwrap();
        let ok = Command::new("kill").args(["-9", pid.trim()]).status().unwrap();
        assert!(ok.success(), "kill {rel}");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let out = self.script("stop");
        if !out.status.success() {
            eprintln!("cluster stop: {}{}", stdout(&out), stderr(&out));
        }
    }
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_a_node_and_a_garage_node_under_load_loses_no_acknowledged_document() {
    let Some(cluster) = tokio::task::spawn_blocking(Cluster::start).await.unwrap() else { return };
    let demo = cluster.demo();
    let acknowledged = std::sync::Mutex::new(Vec::new());
    let sent = AtomicUsize::new(0);
    const EACH: usize = 40;
    let send = |sender: &'static str| {
        let (cluster, demo, acknowledged, sent) = (&cluster, &demo, &acknowledged, &sent);
        async move {
            let client = cluster.client(sender);
            for i in 0..EACH {
                let serial = format!("{}{i:04}", &sender[3..7]);
                let out = signed_package(demo, sender, &serial, &RECIPIENTS, 100 * 1024 + i);
                let (status, receipt) = client.send(&out, None).await.unwrap_or_else(|e| panic!("{serial}: {e:#}"));
                assert!(status == 201 || status == 200, "{serial}: {status}");
                let id = receipt["document_id"].as_str().unwrap().to_owned();
                acknowledged.lock().unwrap().push((id, out.attachments[0].entry.size));
                sent.fetch_add(1, Ordering::SeqCst);
            }
        }
    };
    let failures = async {
        let sent = &sent;
        let wait_for = |n: usize| async move {
            while sent.load(Ordering::SeqCst) < n {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        };
        wait_for(15).await;
        cluster.kill("node2/pid");
        wait_for(45).await;
        cluster.kill("garage/3/pid");
    };
    tokio::join!(futures_util::future::join_all(SENDERS.map(send)), failures);

    let acknowledged = acknowledged.into_inner().unwrap();
    assert_eq!(acknowledged.len(), SENDERS.len() * EACH);
    let store = Store::open(&cluster.database_url()).await.unwrap();
    assert_eq!(store.document_count().await.unwrap() as usize, acknowledged.len(), "each document once");
    for (id, size) in &acknowledged {
        let parts = store.document_parts(id).await.unwrap();
        assert_eq!(parts.len(), 4, "{id}: envelope, signature, DI, attachment");
        assert!(parts.iter().any(|p| p.size as u64 == *size), "{id}: its attachment");
        let deliveries = store.document_deliveries(id).await.unwrap();
        assert_eq!(deliveries.len(), RECIPIENTS.len(), "{id}: every delivery, none half-routed");
    }
    assert!(store.verify_log().await.unwrap().is_ok(), "the log chain is intact");
    // Every byte is there: the recipients fetch everything, through the
    // nodes left and the two Garage nodes left.
    for r in RECIPIENTS {
        let client = cluster.client(r);
        let mut ids = Vec::new();
        let mut cursor = String::new();
        loop {
            let page = client.get_json(&format!("/api/v1/inbox?limit=100&cursor={cursor}")).await.unwrap();
            ids.extend(page["items"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().to_owned()));
            match page["next_cursor"].as_str() {
                Some(n) => cursor = n.to_owned(),
                None => break,
            }
        }
        let mut fetched = 0;
        for id in &ids {
            let out = cluster.base.join(format!("fetched/{r}/{id}"));
            client.fetch(id, &out).await.unwrap_or_else(|e| panic!("fetch {id}: {e:#}"));
            fetched += 1;
        }
        assert_eq!(fetched, acknowledged.len(), "{r} fetched every document, verified");
    }
    store.close().await;
}
