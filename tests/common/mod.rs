//! The one helper that starts a real hub for end-to-end tests: real mTLS on
//! loopback, a fresh database per test (SQLite file or a new PostgreSQL
//! database), the demo PKI and participants of `gwx init`, and a manual clock.
#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

use chrono::Utc;
use gwx::http::server::Hub;
use gwx::runtime::clock::ManualClock;
use gwx::runtime::config::Config;
use gwx::store::Store;

/// Which database a test runs on.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    /// Server URL without database name, e.g. `postgres://gwx:gwx@localhost`.
    Postgres(String),
}

impl Backend {
    /// PostgreSQL when `GWX_TEST_POSTGRES` names a server. When it does not,
    /// the test is skipped, unless `GWX_REQUIRE_POSTGRES=1` (as in CI), where
    /// a skip would hide an untested implementation: then it fails.
    pub fn postgres() -> Option<Backend> {
        match std::env::var("GWX_TEST_POSTGRES") {
            Ok(url) if !url.is_empty() => Some(Backend::Postgres(url.trim_end_matches('/').to_owned())),
            _ => {
                if std::env::var("GWX_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                    panic!(
                        "GWX_REQUIRE_POSTGRES=1 but GWX_TEST_POSTGRES is not set: PostgreSQL tests would be skipped"
                    );
                }
                eprintln!("skipped: set GWX_TEST_POSTGRES=postgres://user:pass@host to run the PostgreSQL variant");
                None
            }
        }
    }
}

/// Runs an async test body on SQLite and on PostgreSQL, as two tests.
#[macro_export]
macro_rules! both_databases {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::common::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(b) = $crate::common::Backend::postgres() {
                    super::$name(b).await
                }
            }
        }
    )+};
}

/// The demo PKI, generated once per test binary and copied into each test.
fn pki_template() -> &'static Path {
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("gwx-test-pki-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        gwx::tools::demo::create_pki(&dir).expect("demo PKI");
        dir
    })
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// A fresh database on `backend`: a SQLite file in `dir`, or a new PostgreSQL database.
pub async fn fresh_database(backend: &Backend, dir: &Path) -> String {
    match backend {
        Backend::Sqlite => dir.join("data/gwx.db").display().to_string(),
        Backend::Postgres(server) => {
            static N: AtomicU32 = AtomicU32::new(0);
            let name = format!(
                "gwx_t_{}_{}_{}",
                std::process::id(),
                Utc::now().timestamp_micros(),
                N.fetch_add(1, Ordering::SeqCst)
            );
            let admin = Store::open_admin(&format!("{server}/postgres")).await.expect("connect to PostgreSQL");
            admin.create_database(&name).await.expect("create test database");
            format!("{server}/{name}")
        }
    }
}

pub struct TestHub {
    pub hub: Hub,
    pub dir: tempfile::TempDir,
    pub clock: ManualClock,
    pub backend: Backend,
}

impl TestHub {
    pub async fn start(backend: Backend) -> TestHub {
        Self::start_with(backend, |_| {}).await
    }

    /// Starts a hub after `configure` has adjusted the configuration.
    pub async fn start_with(backend: Backend, configure: impl FnOnce(&mut Config)) -> TestHub {
        // The hub's own warnings and errors, shown with a failing test's output.
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_env("GWX_LOG").unwrap_or_else(|_| "gwx=warn".into()),
            )
            .try_init();
        let dir = tempfile::tempdir().unwrap();
        copy_dir(pki_template(), dir.path());
        let url = fresh_database(&backend, dir.path()).await;
        let mut config = Config::parse(dir.path(), &gwx::tools::demo::config_text(Some(&url))).unwrap();
        config.server.https = vec!["127.0.0.1:0".parse().unwrap()];
        config.server.http = vec!["127.0.0.1:0".parse().unwrap()];
        configure(&mut config);
        let clock = ManualClock::new(Utc::now());
        let store = Store::open(&config.database_url()).await.expect("open store");
        gwx::tools::demo::seed(&store, dir.path(), &clock).await.expect("seed demo participants");
        let hub = Hub::start(config, store, Arc::new(clock.clone())).await.expect("start hub");
        TestHub { hub, dir, clock, backend }
    }

    pub fn store(&self) -> &Store {
        &self.hub.app.store
    }

    pub fn addr(&self) -> SocketAddr {
        self.hub.https[0]
    }

    /// `https://localhost:<port><path>`: the hub certificate names localhost.
    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr().port())
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// A client with no certificate, trusting the demo CA.
    pub fn anonymous(&self) -> reqwest::Client {
        self.builder().build().unwrap()
    }

    fn builder(&self) -> reqwest::ClientBuilder {
        let ca = std::fs::read(self.path("certs/ca.pem")).unwrap();
        reqwest::Client::builder()
            .tls_certs_only(reqwest::Certificate::from_pem_bundle(&ca).unwrap())
            .resolve("localhost", self.addr())
            .no_proxy()
    }

    /// A client presenting `clients/<name>.pem` from 127.0.0.1.
    pub fn client(&self, name: &str) -> reqwest::Client {
        self.client_builder(name).build().unwrap()
    }

    /// A client presenting `clients/<name>.pem`, connecting from `local`.
    pub fn client_from(&self, name: &str, local: &str) -> reqwest::Client {
        self.client_builder(name).local_address(local.parse::<IpAddr>().unwrap()).build().unwrap()
    }

    pub fn client_builder(&self, name: &str) -> reqwest::ClientBuilder {
        let cert = std::fs::read(self.path(&format!("clients/{name}.pem"))).unwrap();
        let key = std::fs::read(self.path(&format!("clients/{name}.key"))).unwrap();
        self.builder().identity(reqwest::Identity::from_pkcs8_pem(&cert, &key).unwrap())
    }

    /// Issues a client certificate from the demo CA `ca` ("gca", "xca" or
    /// "untrusted-ca"), writes it to clients/<name>.pem/.key, returns its PEM.
    pub fn issue_client(&self, ca: &str, name: &str, org: &str, ubn: Option<&str>) -> String {
        use gwx::pki::demo::{KeyPair, Profile, issue_new};
        let issuer = KeyPair::read(&self.path(&format!("pki/{ca}"))).unwrap();
        let now = Utc::now();
        let kp = issue_new(
            &[("C", "TW"), ("O", org), ("CN", org)],
            Profile::Client { ubn },
            now - chrono::Duration::hours(1),
            now + chrono::Duration::days(365),
            Some(&issuer),
        )
        .unwrap();
        kp.write(&self.path(&format!("clients/{name}"))).unwrap();
        String::from_utf8(kp.cert_pem()).unwrap()
    }

    /// Registers a new certificate for `participant` with `roles` through the
    /// admin API; the client is then `client(name)`.
    pub async fn register_clerk(&self, participant: &str, name: &str, roles: &[&str]) {
        let pem = self.issue_client("gca", name, name, None);
        let body = serde_json::json!({"participant": participant, "certificate": pem, "roles": roles, "holder": name});
        let resp = self
            .client(gwx::tools::demo::IT_BUREAU)
            .post(self.url("/api/v1/credentials"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    }

    /// Stops the hub and drops a PostgreSQL test database.
    pub async fn stop(self) {
        let url = self.hub.app.config.database_url();
        self.hub.shutdown().await;
        if let Backend::Postgres(server) = &self.backend {
            let name = url.rsplit('/').next().unwrap().to_owned();
            let admin = Store::open_admin(&format!("{server}/postgres")).await.unwrap();
            admin.drop_database(&name).await.unwrap();
        }
    }
}

/// The response body as JSON, with the status checked first.
pub async fn json(resp: reqwest::Response, status: u16) -> serde_json::Value {
    let got = resp.status().as_u16();
    let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let body = resp.text().await.unwrap();
    assert_eq!(got, status, "unexpected status; body: {body}");
    if status >= 400 {
        assert_eq!(ct, "application/problem+json", "refusals are problem+json");
    }
    serde_json::from_str(&body).unwrap_or_else(|_| panic!("not JSON: {body}"))
}

/// Asserts a problem+json refusal with the given status and type name.
pub async fn problem(resp: reqwest::Response, status: u16, name: &str) -> serde_json::Value {
    let v = json(resp, status).await;
    assert_eq!(v["type"], format!("urn:gwx:error:{name}"), "{v}");
    v
}

/// Waits (bounded) until the exchange log holds an entry with `action`
/// whose detail contains `needle`, and returns it. The hub writes TLS
/// refusals after the handshake has failed, so the client may see the
/// failure a moment before the entry lands.
pub async fn wait_for_log(store: &Store, action: &str, needle: &str) -> gwx::domain::log::LogEntry {
    for _ in 0..200 {
        let entries = store
            .log_entries(&gwx::store::LogFilter { actions: vec![action.into()], limit: 1000, ..Default::default() })
            .await
            .unwrap();
        if let Some(e) = entries.into_iter().find(|e| e.detail.contains(needle)) {
            return e;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no '{action}' log entry containing '{needle}'");
}

/// Runs `gwx serve --dir DIR --https ADDR` as a process and returns it with
/// the HTTPS port it announced on its first line of output.
pub fn spawn_serve(dir: &Path, https: &str) -> (std::process::Child, u16) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_gwx"))
        .args(["serve", "--dir"])
        .arg(dir)
        .args(["--https", https, "--http", "127.0.0.1:0"])
        .env_remove("GWX_DATABASE_URL")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port = line
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("the hub did not start: {line}"));
    (child, port)
}

/// Signs and posts a document without attachments (the bench's DI, number
/// `serial`) from participant `code` with the key `clients/<keys>`, over
/// `client`, to `to` (正本) and the send groups `groups`.
pub async fn send_plain(
    hub: &TestHub,
    client: &reqwest::Client,
    keys: &str,
    code: &str,
    serial: &str,
    to: &[&str],
    groups: &[&str],
) -> reqwest::Response {
    let opts = gwx::client::package::SendOptions {
        to: to.iter().map(|c| c.to_string()).collect(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        ..Default::default()
    };
    send_doc(hub, client, keys, code, serial, &opts, None).await
}

/// Like [`send_plain`] with any options, and with one PDF attachment of
/// `attachment` bytes when given (above 64 KiB it is kept as a blob file).
pub async fn send_doc(
    hub: &TestHub,
    client: &reqwest::Client,
    keys: &str,
    code: &str,
    serial: &str,
    opts: &gwx::client::package::SendOptions,
    attachment: Option<usize>,
) -> reqwest::Response {
    use gwx::client::package::Source;
    let kp = gwx::pki::demo::KeyPair::read(&hub.path(&format!("clients/{keys}"))).unwrap();
    let names: Vec<String> = attachment.iter().map(|_| format!("{serial}_ATTCH1.pdf")).collect();
    let di = gwx::tools::bench::bench_di(code, serial, &names);
    let out = gwx::client::package::build(
        gwx::domain::document::FileName::parse("d.di").unwrap(),
        bytes::Bytes::from(di.clone()),
        opts,
        &gwx::domain::ParticipantCode::parse(code).unwrap(),
        &kp.cert,
        &kp.key,
        |name| Ok(Source::Bytes(gwx::tools::bench::pdf_of(attachment.unwrap_or(0), name))),
    )
    .unwrap();
    let mut form = reqwest::multipart::Form::new()
        .part("envelope", reqwest::multipart::Part::bytes(out.envelope_xml.clone()).file_name("envelope.xml"))
        .part("signature", reqwest::multipart::Part::bytes(out.signature.clone()).file_name("envelope.p7s"))
        .part("document", reqwest::multipart::Part::bytes(di.into_bytes()).file_name("d.di"));
    for a in &out.attachments {
        let Source::Bytes(b) = &a.source else { unreachable!("built from bytes") };
        form = form.part(
            "attachment",
            reqwest::multipart::Part::bytes(b.to_vec()).file_name(a.entry.name.as_str().to_owned()),
        );
    }
    client.post(hub.url("/api/v1/documents")).multipart(form).send().await.unwrap()
}

/// Downloads a delivery's package as `who` and confirms it (確認).
pub async fn fetch_and_confirm(hub: &TestHub, who: &str, delivery: &str) -> serde_json::Value {
    let c = hub.client(who);
    let pkg = c.get(hub.url(&format!("/api/v1/deliveries/{delivery}/package"))).send().await.unwrap();
    assert_eq!(pkg.status(), 200);
    pkg.bytes().await.unwrap();
    json(
        c.post(hub.url(&format!("/api/v1/deliveries/{delivery}/confirm")))
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await
}

/// POSTs a JSON body to `path` as `who`.
pub async fn post(hub: &TestHub, who: &str, path: &str, body: serde_json::Value) -> reqwest::Response {
    hub.client(who).post(hub.url(path)).json(&body).send().await.unwrap()
}
