//! A full disk: the hub runs (as a process) with its data directory on a
//! small tmpfs, in a mount namespace of its own (`unshare`), and the test
//! fills that filesystem (through `/proc/<pid>/root`). Submissions get
//! `507 storage-full` and leave nothing behind — no document, no blob, no
//! temporary file — and once space is freed the same hub accepts again,
//! on every pooled database connection, without a restart.

use std::path::{Path, PathBuf};
use std::process::Command;

use gwx::client::{Client, Identity};

use crate::helpers::{Backend, drop_postgres_database, new_postgres_database, spawn_hub};

const GWX: &str = env!("CARGO_BIN_EXE_gwx");
const SENDER: &str = "379130000C";

/// The hub process, and its data directory as the test sees it.
struct SmallDisk {
    child: std::process::Child,
    port: u16,
    dir: PathBuf,
    /// `dir/data` inside the hub's mount namespace.
    data: PathBuf,
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `gwx serve` on `dir` with `dir/data` a tmpfs of `size` (e.g. "24m").
fn serve_on_small_disk(dir: &Path, size: &str, database: Option<&str>) -> SmallDisk {
    let root = Command::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap_or(false);
    let mut cmd = Command::new("unshare");
    if !root {
        cmd.args(["--user", "--map-root-user"]);
    }
    // The demo's data move onto the tmpfs, which then hides the original.
    let script = r#"set -e; cd "$1"; mv data data.init; mkdir data
        mount -t tmpfs -o size="$2" gwx-small-disk data; cp -a data.init/. data/; rm -rf data.init
        shift 2; exec "$@""#;
    cmd.args(["--mount", "--propagation", "private", "sh", "-c", script, "sh"]).arg(dir).arg(size);
    cmd.args([GWX, "serve", "--dir"]).arg(dir).args(["--https", "127.0.0.1:0", "--http", "127.0.0.1:0"]);
    if let Some(url) = database {
        cmd.args(["--database", url]);
    }
    let (child, port) = spawn_hub(cmd);
    let data = PathBuf::from(format!("/proc/{}/root", child.id())).join(dir.strip_prefix("/").unwrap()).join("data");
    SmallDisk { child, port, dir: dir.to_owned(), data }
}

impl SmallDisk {
    fn client(&self, code: &str) -> Client {
        Client::new(&Identity {
            hub: format!("https://localhost:{}", self.port),
            cert: self.dir.join(format!("clients/{code}.pem")),
            key: self.dir.join(format!("clients/{code}.key")),
            ca: self.dir.join("certs/ca.pem"),
        })
        .unwrap()
    }

    /// Writes a file until the tmpfs has no room left.
    fn fill(&self) {
        use std::io::Write;
        let mut f = std::fs::File::create(self.data.join("filler")).unwrap();
        let block = vec![0u8; 1 << 20];
        loop {
            if f.write_all(&block).and_then(|()| f.sync_all()).is_err() {
                break;
            }
        }
        // The last few KiB too.
        while f.write_all(&block[..4096]).is_ok() {}
    }

    fn free(&self) {
        std::fs::remove_file(self.data.join("filler")).unwrap();
    }

    fn files(&self, sub: &str) -> usize {
        fn walk(p: &Path) -> usize {
            std::fs::read_dir(p)
                .map_or(0, |rd| rd.map(|e| e.unwrap().path()).map(|p| if p.is_dir() { walk(&p) } else { 1 }).sum())
        }
        walk(&self.data.join(sub))
    }
}

/// A signed package from SENDER to the secretariat, number `serial`, with
/// one PDF attachment of `attachment` bytes (above 64 KiB: a blob file).
fn package(dir: &Path, serial: &str, attachment: usize) -> gwx::client::package::Outgoing {
    crate::helpers::signed_package(dir, SENDER, serial, &["379100000G"], attachment)
}

/// The documents the client's participant has had accepted (its log entries).
async fn documents_sent(client: &Client) -> usize {
    let v = client.get_json("/api/v1/log?action=document.accepted&limit=1000").await.unwrap();
    v["items"].as_array().unwrap().len()
}

async fn a_full_disk_refuses_with_storage_full_keeps_nothing_and_recovers(backend: Backend) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let url = match &backend {
        Backend::Postgres(server) => Some(new_postgres_database(server).await),
        Backend::Sqlite => None,
    };
    let mut init = Command::new(GWX);
    init.args(["init", "--dir"]).arg(&dir).env_remove("GWX_DATABASE_URL");
    if let Some(u) = &url {
        init.args(["--database", u]);
    }
    assert!(init.output().unwrap().status.success());
    let hub = serve_on_small_disk(&dir, "24m", url.as_deref());
    let sender = hub.client(SENDER);
    let (status, _) = sender.send(&package(&dir, "1150000001", 300 * 1024), None).await.unwrap();
    assert_eq!(status, 201);
    let (docs, blobs) = (documents_sent(&sender).await, hub.files("blobs"));

    hub.fill();
    // A file part has nowhere to go; on SQLite, neither has the database's own write.
    let mut cases = vec![("1150000002", 2 << 20)];
    if url.is_none() {
        cases.push(("1150000003", 1024));
    }
    for (serial, size) in cases {
        let err = sender.send(&package(&dir, serial, size), None).await.expect_err(serial);
        let problem = err.downcast_ref::<gwx::client::HubProblem>().unwrap_or_else(|| panic!("{serial}: {err:#}"));
        assert_eq!((problem.status, problem.type_.as_str()), (507, "urn:gwx:error:storage-full"), "{serial}");
        assert!(problem.detail.contains("nothing of this request was kept"), "{}", problem.detail);
        assert_eq!(hub.files("tmp"), 0, "{serial}: temporary files left");
        assert_eq!(hub.files("blobs"), blobs, "{serial}: a blob file left");
    }

    // Space again: the same hub accepts, on every connection of its pools.
    hub.free();
    assert_eq!(documents_sent(&sender).await, docs, "a refused document was stored");
    for i in 0..8 {
        let serial = format!("11500001{i:02}");
        let (status, v) =
            sender.send(&package(&dir, &serial, if i % 2 == 0 { 200 * 1024 } else { 1024 }), None).await.unwrap();
        assert_eq!(status, 201, "{serial} after space was freed: {v}");
    }
    let sends: Vec<_> = (0..6)
        .map(|i| {
            let (client, out) = (hub.client(SENDER), package(&dir, &format!("11500002{i:02}"), 1024));
            tokio::spawn(async move { client.send(&out, None).await.unwrap().0 })
        })
        .collect();
    for s in sends {
        assert_eq!(s.await.unwrap(), 201);
    }
    assert_eq!(documents_sent(&sender).await, docs + 14);
    // What was accepted before the disk filled is still whole.
    let receiver = hub.client("379100000G");
    let inbox = receiver.get_json("/api/v1/inbox?limit=1000").await.unwrap();
    let first = inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["document_number"].as_str().unwrap().contains("1150000001"));
    let out = tmp.path().join("fetched");
    receiver.fetch(first.unwrap()["id"].as_str().unwrap(), &out).await.unwrap();
    gwx::client::verify::verify_dir(&out, &dir.join("certs/ca.pem")).unwrap();
    drop(hub);
    if let (Backend::Postgres(server), Some(u)) = (&backend, &url) {
        drop_postgres_database(server, u).await;
    }
}

crate::both_databases!(a_full_disk_refuses_with_storage_full_keeps_nothing_and_recovers);
