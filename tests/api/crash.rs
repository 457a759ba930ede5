//! A hub killed (SIGKILL) while documents are being accepted loses none
//! that it acknowledged and leaves none half-routed: after a restart every
//! 201 has its document, all its deliveries and its receipt, the exchange
//! log still verifies, and no temporary upload is left behind.

use std::process::Command;
use std::sync::Arc;

use gwx::client::{Client, Identity};

use crate::helpers::signed_package;

const GWX: &str = env!("CARGO_BIN_EXE_gwx");

fn serve(dir: &std::path::Path, port: u16) -> std::process::Child {
    crate::helpers::spawn_serve(dir, &format!("127.0.0.1:{port}")).0
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_documents_survive_a_kill() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let out = Command::new(GWX).args(["init", "--dir"]).arg(&dir).env_remove("GWX_DATABASE_URL").output().unwrap();
    assert!(out.status.success());
    let port = free_port();
    let mut hub = serve(&dir, port);

    let id = |code: &str| Identity {
        hub: format!("https://localhost:{port}"),
        cert: dir.join(format!("clients/{code}.pem")),
        key: dir.join(format!("clients/{code}.key")),
        ca: dir.join("certs/ca.pem"),
    };
    let sender = Arc::new(Client::new(&id("379130000C")).unwrap());

    // Eight senders keep submitting (some with attachments large enough to be
    // stored as files) until the hub dies under them.
    let mut workers = Vec::new();
    for w in 0..8 {
        let (sender, dir) = (sender.clone(), dir.clone());
        workers.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for i in 0..10_000 {
                let serial = format!("{w:02}{i:05}");
                let size = if i % 3 == 0 { 200 * 1024 } else { 4 * 1024 };
                let out = signed_package(&dir, "379130000C", &serial, &["379100000G", "379200000A"], size);
                match sender.send(&out, None).await {
                    Ok((201, v)) => acknowledged.push(v["document_id"].as_str().unwrap().to_owned()),
                    _ => break,
                }
            }
            acknowledged
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    hub.kill().unwrap(); // SIGKILL: no shutdown, no flush
    hub.wait().unwrap();
    let mut acknowledged = Vec::new();
    for w in workers {
        acknowledged.extend(w.await.unwrap());
    }
    assert!(acknowledged.len() > 20, "only {} documents before the kill", acknowledged.len());

    let mut hub = serve(&dir, port);
    let sender = Client::new(&id("379130000C")).unwrap();
    for doc in &acknowledged {
        let s =
            sender.get_json(&format!("/api/v1/documents/{doc}")).await.unwrap_or_else(|e| panic!("{doc} lost: {e}"));
        assert_eq!(s["recipients"].as_array().unwrap().len(), 2, "{doc} half-routed");
        assert_eq!(s["parts"].as_array().unwrap().len(), 4, "{doc}");
    }
    // Every delivery can be downloaded intact, file parts and inline parts alike.
    let receiver = Client::new(&id("379100000G")).unwrap();
    let mut items = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = receiver.get_json(&format!("/api/v1/inbox?limit=1000&cursor={cursor}")).await.unwrap();
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    let delivered: std::collections::HashSet<&str> = items.iter().map(|d| d["document_id"].as_str().unwrap()).collect();
    assert!(
        acknowledged.iter().all(|d| delivered.contains(d.as_str())),
        "an acknowledged document is missing from the inbox"
    );
    for d in items.iter().take(40) {
        let out = tmp.path().join(d["id"].as_str().unwrap());
        receiver.fetch(d["id"].as_str().unwrap(), &out).await.unwrap();
        gwx::client::verify::verify_dir(&out, &dir.join("certs/ca.pem")).unwrap();
    }
    hub.kill().unwrap();
    hub.wait().unwrap();

    let verify =
        Command::new(GWX).args(["log", "verify", "--dir"]).arg(&dir).env_remove("GWX_DATABASE_URL").output().unwrap();
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
    // Uploads cut off by the kill were removed when the hub started again
    // (the restarted hub's own scratch directory, empty, stays after its kill).
    assert_eq!(crate::packages::files_in(&dir.join("data/tmp")), 0, "temporary uploads left");
    let scratch: Vec<_> = std::fs::read_dir(dir.join("data/tmp")).unwrap().collect();
    assert!(scratch.len() <= 1, "the killed hub's scratch directory was not cleared at restart: {scratch:?}");
}
