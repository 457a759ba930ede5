//! The one helper that starts a real hub for end-to-end tests — real mTLS
//! on loopback, a fresh database per test (a SQLite file or a new
//! PostgreSQL database), the demo PKI and participants of `gwx init`, a
//! manual clock — and the verbs tests speak to it with:
//!
//! ```ignore
//! let hub = TestHub::start(backend).await;
//! let me = hub.as_(SECRETARIAT).get("/api/v1/whoami").await.ok();
//! hub.as_(SECRETARIAT).post("/api/v1/participants", json!({})).await.refused(403, "forbidden");
//! ```
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
use serde_json::Value;

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
    (@variants $name:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn sqlite() {
            super::$name($crate::helpers::Backend::Sqlite).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn postgres() {
            if let Some(b) = $crate::helpers::Backend::postgres() {
                super::$name(b).await
            }
        }
    };
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            $crate::both_databases!(@variants $name);
        }
    )+};
}

tokio::task_local! {
    /// The object store (a prefix in the test Garage) the hubs a test starts
    /// keep their blobs in; unset: the data directory.
    pub static BLOBS: gwx::runtime::config::BlobsConfig;
}

/// Runs an async test body on SQLite, on PostgreSQL, and on PostgreSQL
/// with the blobs in an object store (the test Garage), as three tests:
/// for every test that stores or reads blob bytes.
#[macro_export]
macro_rules! every_store {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            $crate::both_databases!(@variants $name);
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn object_store() {
                let garage = tokio::task::spawn_blocking($crate::garage::garage).await.unwrap();
                if let (Some(b), Some(g)) = ($crate::helpers::Backend::postgres(), garage) {
                    $crate::helpers::BLOBS.scope($crate::garage::blobs_config(g), super::$name(b)).await
                }
            }
        }
    )+};
}

/// The blob store of the running test: `Some` on the object-store variant.
pub fn test_blobs() -> Option<gwx::runtime::config::BlobsConfig> {
    BLOBS.try_with(|b| b.clone()).ok()
}

/// `[blobs]` of a `gwx.toml` for `b` (nothing for the data directory).
pub fn blobs_toml(b: &gwx::runtime::config::BlobsConfig) -> String {
    let mut t = String::new();
    if let Some(url) = &b.url {
        t.push_str(&format!("\n[blobs]\nurl = {url:?}\n"));
        for (k, v) in [
            ("endpoint", &b.endpoint),
            ("region", &b.region),
            ("access_key_id", &b.access_key_id),
            ("secret_access_key", &b.secret_access_key),
        ] {
            if let Some(v) = v {
                t.push_str(&format!("{k} = {v:?}\n"));
            }
        }
    }
    t
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

/// A fresh, empty PostgreSQL database on `server`; its URL.
pub async fn new_postgres_database(server: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let name =
        format!("gwx_t_{}_{}_{}", std::process::id(), Utc::now().timestamp_micros(), N.fetch_add(1, Ordering::SeqCst));
    let admin = Store::open_admin(&format!("{server}/postgres")).await.expect("connect to PostgreSQL");
    admin.create_database(&name).await.expect("create test database");
    admin.close().await;
    format!("{server}/{name}")
}

/// Drops the PostgreSQL test database `url` on `server`.
pub async fn drop_postgres_database(server: &str, url: &str) {
    let name = url.rsplit('/').next().unwrap().to_owned();
    let admin = Store::open_admin(&format!("{server}/postgres")).await.unwrap();
    admin.drop_database(&name).await.unwrap();
    admin.close().await;
}

/// A fresh database on `backend`: a SQLite file in `dir`, or a new PostgreSQL database.
pub async fn fresh_database(backend: &Backend, dir: &Path) -> String {
    match backend {
        Backend::Sqlite => dir.join("data/gwx.db").display().to_string(),
        Backend::Postgres(server) => new_postgres_database(server).await,
    }
}

pub struct TestHub {
    pub hub: Hub,
    pub dir: tempfile::TempDir,
    pub clock: ManualClock,
    pub backend: Backend,
    /// Another node on a database a first node made (its `stop` leaves the
    /// database to that one).
    pub second: bool,
}

impl TestHub {
    pub async fn start(backend: Backend) -> TestHub {
        Self::start_with(backend, |_| {}).await
    }

    /// Starts a hub after `configure` has adjusted the configuration.
    pub async fn start_with(backend: Backend, configure: impl FnOnce(&mut Config)) -> TestHub {
        Self::start_with_routes(backend, configure, axum::Router::new()).await
    }

    /// Starts a hub that also serves `extra` (e.g. a handler that fails).
    pub async fn start_with_routes(
        backend: Backend,
        configure: impl FnOnce(&mut Config),
        extra: axum::Router<gwx::http::AppState>,
    ) -> TestHub {
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
        if let Some(b) = test_blobs() {
            config.blobs = b;
        }
        configure(&mut config);
        let clock = ManualClock::new(Utc::now());
        let store = Store::open(&config.database_url()).await.expect("open store");
        gwx::tools::demo::seed(&store, dir.path(), &clock).await.expect("seed demo participants");
        let hub = Hub::start_with_routes(config, store, Arc::new(clock.clone()), extra).await.expect("start hub");
        TestHub { hub, dir, clock, backend, second: false }
    }

    /// Another node of this hub: its own directory (the same PKI and
    /// configuration, its own data directory), the same database and, unless
    /// `configure` says otherwise, the same blob store; the same clock.
    pub async fn another_node(&self, configure: impl FnOnce(&mut Config)) -> anyhow::Result<TestHub> {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(pki_template(), dir.path());
        let first = &self.hub.app.config;
        let mut config = Config::parse(dir.path(), &gwx::tools::demo::config_text(Some(&first.database_url())))?;
        config.server.https = vec!["127.0.0.1:0".parse().unwrap()];
        config.server.http = vec!["127.0.0.1:0".parse().unwrap()];
        config.blobs = first.blobs.clone();
        configure(&mut config);
        let store = Store::open(&config.database_url()).await?;
        let hub = Hub::start_with_routes(config, store, Arc::new(self.clock.clone()), axum::Router::new()).await?;
        Ok(TestHub { hub, dir, clock: self.clock.clone(), backend: self.backend.clone(), second: true })
    }

    /// `n` nodes of a new hub started at the same moment: a new database
    /// (the demo participants in it) and a blob store nobody has claimed
    /// yet (the first node's data directory, shared, or on the object-store
    /// variant a new prefix). The outcome of each node's start, in order;
    /// the first node owns the database.
    pub async fn start_together(backend: Backend, n: usize) -> Vec<anyhow::Result<TestHub>> {
        let first = tempfile::tempdir().unwrap();
        copy_dir(pki_template(), first.path());
        let url = fresh_database(&backend, first.path()).await;
        let clock = ManualClock::new(Utc::now());
        let seeding = Store::open(&url).await.expect("open store");
        gwx::tools::demo::seed(&seeding, first.path(), &clock).await.expect("seed demo participants");
        seeding.close().await;
        let shared_data = first.path().join("data");
        let mut dirs = vec![first];
        dirs.extend((1..n).map(|_| tempfile::tempdir().unwrap()));
        let starts = dirs.into_iter().enumerate().map(|(i, dir)| {
            let (url, clock, backend, shared_data) = (url.clone(), clock.clone(), backend.clone(), shared_data.clone());
            async move {
                copy_dir(pki_template(), dir.path());
                let mut config = Config::parse(dir.path(), &gwx::tools::demo::config_text(Some(&url)))?;
                config.server.https = vec!["127.0.0.1:0".parse().unwrap()];
                config.server.http = vec!["127.0.0.1:0".parse().unwrap()];
                config.server.data_dir = shared_data;
                if let Some(b) = test_blobs() {
                    config.blobs = b;
                }
                let store = Store::open(&config.database_url()).await?;
                let hub = Hub::start_with_routes(config, store, Arc::new(clock.clone()), axum::Router::new()).await?;
                Ok(TestHub { hub, dir, clock, backend, second: i > 0 })
            }
        });
        futures_util::future::join_all(starts).await
    }

    pub fn store(&self) -> &Store {
        &self.hub.app.store
    }

    /// The `gwx.toml` of this hub (database and blob store), for the `gwx`
    /// commands a test runs on its directory.
    pub fn config_file(&self) -> String {
        let config = &self.hub.app.config;
        gwx::tools::demo::config_text(Some(&config.database_url())) + &blobs_toml(&config.blobs)
    }

    /// The stored bytes of blob `sha` (a file or an object); `None` when missing.
    pub async fn blob(&self, sha: &str) -> Option<Vec<u8>> {
        match self.hub.app.blobs.open_blob(sha).await {
            Ok((mut r, _)) => {
                let mut bytes = Vec::new();
                tokio::io::AsyncReadExt::read_to_end(&mut r, &mut bytes).await.unwrap();
                Some(bytes)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => panic!("read blob {sha}: {e}"),
        }
    }

    /// Replaces blob `sha`'s stored bytes (damage, or a repair).
    pub async fn overwrite_blob(&self, sha: &str, bytes: &[u8]) {
        let temp = self.dir.path().join(format!("blob-{}", uuid::Uuid::now_v7().simple()));
        std::fs::write(&temp, bytes).unwrap();
        self.hub.app.blobs.put_file(sha, &temp).await.unwrap();
        std::fs::remove_file(temp).unwrap();
    }

    /// Removes blob `sha` from the blob store.
    pub async fn remove_blob(&self, sha: &str) {
        self.hub.app.blobs.remove(sha).await.unwrap();
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

    /// Requests presenting `clients/<name>.pem` (a participant code, or one
    /// of the demo's other certificates), from 127.0.0.1.
    pub fn as_(&self, name: &str) -> As<'_> {
        As { hub: self, http: self.client(name) }
    }

    /// Requests presenting `clients/<name>.pem`, from the address `local`.
    pub fn as_from(&self, name: &str, local: &str) -> As<'_> {
        As { hub: self, http: self.client_from(name, local) }
    }

    /// Requests without a client certificate.
    pub fn anonymously(&self) -> As<'_> {
        As { hub: self, http: self.anonymous() }
    }

    /// Requests through `http`, a client built from [`client_builder`](Self::client_builder).
    pub fn with(&self, http: reqwest::Client) -> As<'_> {
        As { hub: self, http }
    }

    /// A client with no certificate, trusting the demo CA.
    pub fn anonymous(&self) -> reqwest::Client {
        self.builder().build().unwrap()
    }

    /// A client builder with no certificate, trusting the demo CA.
    pub fn anonymous_builder(&self) -> reqwest::ClientBuilder {
        self.builder()
    }

    fn builder(&self) -> reqwest::ClientBuilder {
        let ca = std::fs::read(self.path("certs/ca.pem")).unwrap();
        // HTTP/1.1, as gwx's own client speaks (tests of HTTP/2 ask for it).
        reqwest::Client::builder()
            .http1_only()
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

    /// The `gwx` client's identity for `clients/<name>`.
    pub fn identity(&self, name: &str) -> gwx::client::Identity {
        gwx::client::Identity {
            hub: format!("https://localhost:{}", self.addr().port()),
            cert: self.path(&format!("clients/{name}.pem")),
            key: self.path(&format!("clients/{name}.key")),
            ca: self.path("certs/ca.pem"),
        }
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
    /// admin API; its requests are then `as_(name)`.
    pub async fn register_clerk(&self, participant: &str, name: &str, roles: &[&str]) {
        let pem = self.issue_client("gca", name, name, None);
        let body = serde_json::json!({"participant": participant, "certificate": pem, "roles": roles, "holder": name});
        self.as_(gwx::tools::demo::IT_BUREAU).post("/api/v1/credentials", body).await.created();
    }

    /// Waits (bounded) until the exchange log holds an entry with `action`
    /// whose detail contains `needle`, and returns it.
    pub async fn logged(&self, action: &str, needle: &str) -> gwx::domain::log::LogEntry {
        wait_for_log(self.store(), action, needle).await
    }

    /// Stops the hub and drops a PostgreSQL test database.
    pub async fn stop(self) {
        let url = self.hub.app.config.database_url();
        self.hub.shutdown().await;
        if let (Backend::Postgres(server), false) = (&self.backend, self.second) {
            drop_postgres_database(server, &url).await;
        }
    }
}

/// Requests to the hub as one certificate holder (one client, so its
/// keep-alive connections are reused between requests).
pub struct As<'h> {
    hub: &'h TestHub,
    pub http: reqwest::Client,
}

impl As<'_> {
    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.http.get(self.hub.url(path))).await
    }

    /// POSTs `body` as JSON.
    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(self.http.post(self.hub.url(path)).json(&body)).await
    }

    /// POSTs with no body at all.
    pub async fn post_empty(&self, path: &str) -> Reply {
        self.send(self.http.post(self.hub.url(path))).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.send(self.http.put(self.hub.url(path)).json(&body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.send(self.http.patch(self.hub.url(path)).json(&body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(self.http.delete(self.hub.url(path))).await
    }

    /// A request to `path` to finish building (headers, other bodies) and
    /// [`send`](Self::send).
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, self.hub.url(path))
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        self.try_send(req).await.expect("the hub answers")
    }

    /// For a request the TLS handshake may refuse.
    pub async fn try_get(&self, path: &str) -> Result<Reply, reqwest::Error> {
        self.try_send(self.http.get(self.hub.url(path))).await
    }

    pub async fn try_send(&self, req: reqwest::RequestBuilder) -> Result<Reply, reqwest::Error> {
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await?;
        Ok(Reply { status, headers, body })
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: bytes::Bytes,
}

impl Reply {
    /// `200` with a JSON body.
    pub fn ok(self) -> Value {
        self.json(200)
    }

    /// `201` with a JSON body.
    pub fn created(self) -> Value {
        self.json(201)
    }

    /// `204`.
    pub fn no_content(self) {
        assert_eq!(self.status, 204, "unexpected status; body: {}", self.text());
    }

    /// The JSON body, with the status checked first; refusals must be problem+json.
    pub fn json(self, status: u16) -> Value {
        let body = self.text().to_owned();
        assert_eq!(self.status, status, "unexpected status; body: {body}");
        if status >= 400 {
            assert_eq!(self.content_type(), "application/problem+json", "refusals are problem+json");
        }
        serde_json::from_str(&body).unwrap_or_else(|_| panic!("not JSON: {body}"))
    }

    /// A problem+json refusal with this status and type name; its body.
    pub fn refused(self, status: u16, name: &str) -> Value {
        let v = self.json(status);
        assert_eq!(v["type"], format!("urn:gwx:error:{name}"), "{v}");
        v
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or("")
    }

    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap_or("<binary>")
    }
}

/// The `detail` of a problem, for `contains` checks.
pub fn detail(v: &Value) -> &str {
    v["detail"].as_str().unwrap_or("")
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
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_gwx"));
    cmd.args(["serve", "--dir"]).arg(dir).args(["--https", https, "--http", "127.0.0.1:0"]);
    spawn_hub(cmd)
}

/// Runs `cmd`, which starts a hub, and returns it with the HTTPS port the
/// hub announced on its first line of output.
pub fn spawn_hub(mut cmd: std::process::Command) -> (std::process::Child, u16) {
    use std::io::BufRead;
    let mut child = cmd
        .env_remove("GWX_DATABASE_URL")
        .stdout(std::process::Stdio::piped())
        .stderr(if std::env::var_os("GWX_TEST_HUB_STDERR").is_some() {
            std::process::Stdio::inherit()
        } else {
            std::process::Stdio::null()
        })
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

impl TestHub {
    /// Signs and posts, as participant `code` with its own key, a document
    /// without attachments (the bench's DI, number `serial`) to `to` (正本)
    /// and the send groups `groups`.
    pub async fn send_plain(&self, code: &str, serial: &str, to: &[&str], groups: &[&str]) -> Reply {
        let opts = gwx::client::package::SendOptions {
            to: to.iter().map(|c| c.to_string()).collect(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            ..Default::default()
        };
        self.send_doc(&self.as_(code), code, code, serial, &opts, None).await
    }

    /// Signs with the key `clients/<keys>` a document from participant
    /// `code` (number `serial`) with `opts`, and one PDF attachment of
    /// `attachment` bytes when given (above 16 KiB it is kept as a blob
    /// file), and posts it through `client`.
    pub async fn send_doc(
        &self,
        client: &As<'_>,
        keys: &str,
        code: &str,
        serial: &str,
        opts: &gwx::client::package::SendOptions,
        attachment: Option<usize>,
    ) -> Reply {
        use gwx::client::package::Source;
        let kp = gwx::pki::demo::KeyPair::read(&self.path(&format!("clients/{keys}"))).unwrap();
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
        client.send(client.request(reqwest::Method::POST, "/api/v1/documents").multipart(form)).await
    }

    /// Downloads a delivery's package as `who` and confirms it (確認).
    pub async fn fetch_and_confirm(&self, who: &str, delivery: &str) -> Value {
        let c = self.as_(who);
        assert_eq!(c.get(&format!("/api/v1/deliveries/{delivery}/package")).await.status, 200);
        c.post(&format!("/api/v1/deliveries/{delivery}/confirm"), serde_json::json!({})).await.ok()
    }

    /// The items of `who`'s inbox.
    pub async fn inbox(&self, who: &str) -> Vec<Value> {
        self.as_(who).get("/api/v1/inbox").await.ok()["items"].as_array().unwrap().clone()
    }
}

/// A TLS stream spoken to by hand, for what no HTTP client would do.
pub type RawTls = tokio_openssl::SslStream<tokio::net::TcpStream>;

impl TestHub {
    /// A bare TCP connection to the HTTPS port from `local` (e.g. "127.0.0.2").
    pub async fn raw_tcp(&self, local: &str) -> tokio::net::TcpStream {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::new(local.parse().unwrap(), 0)).unwrap();
        socket.connect(self.addr()).await.unwrap()
    }

    /// A TLS connection from `local` presenting `clients/<name>`, offering
    /// `alpn` ("h2" or "http/1.1"); `Err` when the hub closes it first.
    pub async fn raw_tls(&self, name: &str, alpn: &str, local: &str) -> Result<RawTls, String> {
        use openssl::ssl::{SslConnector, SslFiletype, SslMethod};
        let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
        // Willing to present any certificate, a weak one too: the hub decides.
        b.set_security_level(0);
        b.set_ca_file(self.path("certs/ca.pem")).unwrap();
        b.set_certificate_file(self.path(&format!("clients/{name}.pem")), SslFiletype::PEM).unwrap();
        b.set_private_key_file(self.path(&format!("clients/{name}.key")), SslFiletype::PEM).unwrap();
        let mut wire = vec![u8::try_from(alpn.len()).unwrap()];
        wire.extend(alpn.as_bytes());
        b.set_alpn_protos(&wire).unwrap();
        let ssl = b.build().configure().unwrap().into_ssl("localhost").unwrap();
        let mut tls = tokio_openssl::SslStream::new(ssl, self.raw_tcp(local).await).unwrap();
        std::pin::Pin::new(&mut tls).connect().await.map_err(|e| e.to_string())?;
        Ok(tls)
    }
}

/// Reads until the hub closes the connection (a reset counts), at most
/// `limit` seconds; what was read. Panics if the hub keeps it open.
pub async fn read_until_closed(stream: &mut (impl tokio::io::AsyncRead + Unpin), limit: u64) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut out = Vec::new();
    let mut buf = [0u8; 16384];
    let read = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    };
    if tokio::time::timeout(std::time::Duration::from_secs(limit), read).await.is_err() {
        panic!("the hub kept the connection open for {limit} s");
    }
    out
}

/// The status and the problem `type` (or body) of a raw HTTP/1.1 response.
pub fn raw_response(bytes: &[u8]) -> (u16, String, Value) {
    let text = String::from_utf8_lossy(bytes);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no HTTP response in {text:?}"));
    let status = head[9..12].parse().unwrap();
    (status, head.to_ascii_lowercase(), serde_json::from_str(body).unwrap_or(Value::String(body.to_owned())))
}

/// A signed package from `sender` (its key in `demo/clients`), number
/// `serial`, to `to`, with one PDF attachment of `attachment` bytes: the
/// bench's DI, as an agency system would send it.
pub fn signed_package(
    demo: &Path,
    sender: &str,
    serial: &str,
    to: &[&str],
    attachment: usize,
) -> gwx::client::package::Outgoing {
    use gwx::client::package::{SendOptions, Source};
    let keys = gwx::pki::demo::KeyPair::read(&demo.join(format!("clients/{sender}"))).unwrap();
    let me = gwx::domain::ParticipantCode::parse(sender).unwrap();
    let name = format!("{serial}_ATTCH1.pdf");
    let di = gwx::tools::bench::bench_di(sender, serial, std::slice::from_ref(&name));
    let opts = SendOptions { to: to.iter().map(|r| r.to_string()).collect(), ..Default::default() };
    gwx::client::package::build(
        gwx::domain::document::FileName::parse(&format!("{serial}.di")).unwrap(),
        bytes::Bytes::from(di),
        &opts,
        &me,
        &keys.cert,
        &keys.key,
        |n| Ok(Source::Bytes(gwx::tools::bench::pdf_of(attachment, n))),
    )
    .unwrap()
}
