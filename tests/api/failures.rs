//! When the hub itself fails, the client still gets a problem and the
//! exchange log an entry: nothing fails silently. Damaged stored bytes are
//! never served, a download that fails is not a fetch, and `gwx check`
//! finds what needs repair.

use axum::routing::get;
use gwx::tools::demo::{EDUCATION, SECRETARIAT};

use crate::helpers::{Backend, TestHub};

async fn a_panicking_handler_is_a_500_problem_and_a_log_entry(backend: Backend) {
    async fn fails() -> &'static str {
        panic!("the seeded failure")
    }
    let failing = axum::Router::new().route("/api/v1/fails", get(fails));
    let hub = TestHub::start_with_routes(backend, |_| {}, failing).await;
    let c = hub.as_(SECRETARIAT);
    let v = c.get("/api/v1/fails").await.refused(500, "internal");
    assert!(!v.to_string().contains("seeded failure"), "the client is not told the hub's internals: {v}");
    let e = hub.logged("error", "GET /api/v1/fails: handler panicked: the seeded failure").await;
    assert_eq!(e.problem.as_deref(), Some("urn:gwx:error:internal"));
    // The connection and the hub go on serving.
    c.get("/api/v1/whoami").await.ok();
    hub.stop().await;
}

crate::both_databases!(a_panicking_handler_is_a_500_problem_and_a_log_entry);

/// SECRETARIAT sends EDUCATION a document with a 200 kB attachment (kept
/// in the blob store); the delivery id and the attachment's SHA-256.
async fn with_a_blob_file(hub: &TestHub) -> (String, String) {
    let opts = gwx::client::package::SendOptions { to: vec![EDUCATION.into()], ..Default::default() };
    let sent = hub.send_doc(&hub.as_(SECRETARIAT), SECRETARIAT, SECRETARIAT, "1150000901", &opts, Some(200_000)).await;
    let document = sent.created()["document_id"].as_str().unwrap().to_owned();
    let parts = hub.store().document_parts(&document).await.unwrap();
    let attachment = parts.iter().find(|p| p.inline.is_none()).expect("a part kept as a file");
    let delivery = hub.inbox(EDUCATION).await[0]["id"].as_str().unwrap().to_owned();
    (delivery, attachment.sha256.as_str().to_owned())
}

async fn state_of(hub: &TestHub, delivery: &str) -> String {
    hub.as_(EDUCATION).get(&format!("/api/v1/deliveries/{delivery}")).await.ok()["state"].as_str().unwrap().to_owned()
}

async fn a_package_that_cannot_be_produced_is_not_counted_as_fetched(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let (delivery, blob) = with_a_blob_file(&hub).await;
    hub.remove_blob(&blob).await;
    let c = hub.as_(EDUCATION);
    let v = c.get(&format!("/api/v1/deliveries/{delivery}/package")).await.refused(500, "damaged-file");
    assert!(v["detail"].as_str().unwrap().contains("is damaged on the hub"), "{v}");
    let noun = hub.hub.app.blobs.noun();
    hub.logged("error", &format!("is damaged: its {noun} is missing")).await;
    assert_eq!(state_of(&hub, &delivery).await, "delivered", "a failed download is not a fetch");
    c.post(&format!("/api/v1/deliveries/{delivery}/confirm"), serde_json::json!({}))
        .await
        .refused(409, "invalid-state");
    hub.stop().await;
}

async fn damaged_bytes_are_cut_off_never_served_again_and_served_once_restored(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let (delivery, blob) = with_a_blob_file(&hub).await;
    let original = hub.blob(&blob).await.unwrap();
    let mut damaged = original.clone();
    damaged[100_000] ^= 0x20; // same size, one bit changed
    hub.overwrite_blob(&blob, &damaged).await;

    let c = hub.as_(EDUCATION);
    let url = hub.url(&format!("/api/v1/deliveries/{delivery}/package"));
    let resp = c.http.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200, "the damage shows only once the bytes were read");
    assert!(resp.bytes().await.is_err(), "the download is cut off, never completed");
    hub.logged("error", "its file's bytes hash to").await;
    assert_eq!(state_of(&hub, &delivery).await, "delivered");
    // Known damaged now: refused before a byte is sent.
    c.get(&format!("/api/v1/deliveries/{delivery}/package")).await.refused(500, "damaged-file");

    // The IT bureau restores the file from a backup: served again, and fetched.
    hub.overwrite_blob(&blob, &original).await;
    let package = c.get(&format!("/api/v1/deliveries/{delivery}/package")).await;
    assert_eq!(package.status, 200);
    assert!(package.body.windows(original.len()).any(|w| w == original.as_slice()), "the whole attachment");
    assert_eq!(state_of(&hub, &delivery).await, "fetched");
    hub.stop().await;
}

/// `gwx check --dir` on the test hub's directory.
fn gwx_check(hub: &TestHub) -> (bool, String) {
    std::fs::write(hub.path("gwx.toml"), hub.config_file()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gwx"))
        .args(["check", "--dir"])
        .arg(hub.dir.path())
        .env_remove("GWX_DATABASE_URL")
        .output()
        .unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

async fn gwx_check_finds_a_damaged_blob_and_sees_it_whole_again(backend: Backend) {
    let hub = TestHub::start(backend).await;
    let (_, blob) = with_a_blob_file(&hub).await;
    let (ok, out) = gwx_check(&hub);
    assert!(ok && out.contains("all is well"), "{out}");

    let original = hub.blob(&blob).await.unwrap();
    hub.overwrite_blob(&blob, &original[..original.len() - 1]).await;
    let (ok, out) = gwx_check(&hub);
    let (sha, noun) = (&blob, hub.hub.app.blobs.noun());
    assert!(!ok && out.contains(&format!("blob {sha} is damaged: its {noun} is")), "{out}");
    assert_eq!(hub.store().damaged_blob_count().await.unwrap(), 1, "marked, so it is not served");

    // At the next start-up the hub says so, in its log too.
    let now = hub.hub.app.now();
    let report = gwx::service::check::at_start_up(&hub.hub.app.config, hub.store(), now).await.unwrap();
    assert!(report.problems.iter().any(|p| p.contains("1 blobs are marked damaged")), "{report:?}");
    hub.logged("error", "start-up check: 1 blobs are marked damaged").await;

    hub.overwrite_blob(&blob, &original).await;
    let (ok, out) = gwx_check(&hub);
    assert!(ok && out.contains(&format!("blob {sha} is whole again")), "{out}");
    assert_eq!(hub.store().damaged_blob_count().await.unwrap(), 0);
    hub.stop().await;
}

crate::every_store!(
    a_package_that_cannot_be_produced_is_not_counted_as_fetched,
    damaged_bytes_are_cut_off_never_served_again_and_served_once_restored,
    gwx_check_finds_a_damaged_blob_and_sees_it_whole_again,
);

/// A TCP relay to `target` that can be cut, as a network cut or an object
/// store going down: while cut it drops the connections it holds and closes
/// each new one at once.
struct Relay {
    port: u16,
    cut: tokio::sync::watch::Sender<bool>,
}

impl Relay {
    async fn to(target: String) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (cut, watch) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut watch = watch.clone();
                if *watch.borrow() {
                    continue; // dropped: closed at once
                }
                let target = target.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = watch.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        Relay { port, cut }
    }

    fn cut(&self, cut: bool) {
        self.cut.send_replace(cut);
    }
}

/// How many requests the hub has answered "the document store is not answering".
async fn not_answering(hub: &TestHub) -> usize {
    let f = gwx::store::LogFilter { actions: vec!["error".into()], limit: 1000, ..Default::default() };
    let entries = hub.store().log_entries(&f).await.unwrap();
    entries.iter().filter(|e| e.detail.contains("document store is not answering")).count()
}

/// The object store stops answering: a submission and a download get a 503
/// `unavailable` (nothing kept, logged), not a 500; the `gwx` client sends
/// the same package again, and once the store answers again it is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_store_that_does_not_answer_is_a_503_and_the_client_sends_again() {
    let Some(garage) = tokio::task::spawn_blocking(crate::garage::garage).await.unwrap() else { return };
    let mut blobs = crate::garage::blobs_config(garage);
    let relay = Relay::to(blobs.endpoint.as_deref().unwrap().trim_start_matches("http://").to_owned()).await;
    blobs.endpoint = Some(format!("http://127.0.0.1:{}", relay.port));
    let hub = TestHub::start_with(Backend::Sqlite, |c| c.blobs = blobs).await;
    let (delivery, _) = with_a_blob_file(&hub).await;

    relay.cut(true);
    let c = hub.as_(SECRETARIAT);
    let opts = gwx::client::package::SendOptions { to: vec![EDUCATION.into()], ..Default::default() };
    let v = hub
        .send_doc(&c, SECRETARIAT, SECRETARIAT, "1150003002", &opts, Some(300_000))
        .await
        .refused(503, "unavailable");
    assert!(crate::helpers::detail(&v).contains("send it again later"), "{v}");
    hub.logged("error", "POST /api/v1/documents: the hub's document store is not answering").await;
    assert_eq!(hub.store().document_count().await.unwrap(), 1, "nothing of it kept");
    let got = hub.as_(EDUCATION).get(&format!("/api/v1/deliveries/{delivery}/package")).await;
    got.refused(503, "unavailable");
    assert_eq!(state_of(&hub, &delivery).await, "delivered", "a download that failed is not a fetch");

    // The clerk's client sends again while the store is down, and is
    // accepted once it answers.
    let client = gwx::client::Client::new(&hub.identity(SECRETARIAT)).unwrap();
    let out = crate::helpers::signed_package(&hub.path(""), SECRETARIAT, "1150003003", &[EDUCATION], 300_000);
    let sending = tokio::spawn(async move { client.send(&out, None).await });
    let before = not_answering(&hub).await;
    for waited in 0.. {
        if not_answering(&hub).await > before {
            break;
        }
        assert!(waited < 600, "the client's send got no 503 within 30 s");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    relay.cut(false);
    let (status, receipt) = sending.await.unwrap().expect("accepted once the store answers");
    assert_eq!(status, 201, "{receipt}");
    assert_eq!(hub.store().document_count().await.unwrap(), 2);
    hub.stop().await;
}
