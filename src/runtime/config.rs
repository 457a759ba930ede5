//! `gwx.toml`: the hub's configuration. Relative paths are taken from the
//! directory that holds the file, so a demo directory can be moved whole.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::domain::IpRange;
use crate::pki::trust::CrlCheck;
pub use crate::store::blobs::BlobsConfig;

pub const CONFIG_FILE: &str = "gwx.toml";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Directory the configuration was read from; relative paths start here.
    #[serde(skip)]
    pub dir: PathBuf,
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub tls: TlsConfig,
    #[serde(default)]
    pub database: DatabaseConfig,
    #[serde(default)]
    pub blobs: BlobsConfig,
    #[serde(default)]
    pub auth: AuthConfig,
    #[serde(default)]
    pub proxy: ProxyConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
    #[serde(default)]
    pub connections: ConnectionsConfig,
    #[serde(default)]
    pub receipts: ReceiptsConfig,
    #[serde(default)]
    pub deadlines: DeadlinesConfig,
    #[serde(default)]
    pub log: LogConfig,
    /// E-mail for notifications; none when absent.
    pub smtp: Option<SmtpConfig>,
}

/// Deadlines (DESIGN §6).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadlinesConfig {
    /// Office minutes a recipient has to confirm a document that asks for
    /// immediate confirmation (§10). Default 60.
    #[serde(default = "default_immediate_minutes")]
    pub immediate_minutes: u32,
}

fn default_immediate_minutes() -> u32 {
    60
}

impl Default for DeadlinesConfig {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

/// The exchange log (DESIGN §9).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// Days entries (and the documents they concern) are kept before the
    /// daily purge. Never less than the policy's one year (§8).
    #[serde(default = "default_retention_days")]
    pub retention_days: u32,
}

/// The rules' minimum: 收、發文交換紀錄及錯誤訊息，應保存一年 (§8).
pub const MIN_RETENTION_DAYS: u32 = 365;

fn default_retention_days() -> u32 {
    MIN_RETENTION_DAYS
}

impl Default for LogConfig {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

/// The mail relay notifications are sent through.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    /// The sender address of notification e-mails.
    pub from: String,
    /// Upgrade the connection with STARTTLS (required by most relays).
    #[serde(default)]
    pub starttls: bool,
    pub username: Option<String>,
    pub password: Option<String>,
}

fn default_smtp_port() -> u16 {
    25
}

/// The certificate (chain, PEM) and key that sign receipts. Absent: the
/// TLS certificate and key.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptsConfig {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// Size limits of a package (DESIGN §3.3); refusals state them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest single file (document or attachment), bytes. Default 20 MiB.
    #[serde(default = "default_max_file")]
    pub max_file_bytes: u64,
    /// Largest package (all files together), bytes. Default 100 MiB.
    #[serde(default = "default_max_package")]
    pub max_package_bytes: u64,
    /// Bytes all uploads in flight may hold in memory together; the rest
    /// of their parts waits in temporary files. Default 32 MiB.
    #[serde(default = "default_intake_memory")]
    pub intake_memory_bytes: u64,
    /// Largest header block of one part of a package. Default 16 KiB.
    #[serde(default = "default_max_part_header")]
    pub max_part_header_bytes: u64,
    /// Most parts in one package. Default 500.
    #[serde(default = "default_max_parts")]
    pub max_parts: u32,
    /// Requests a minute from one client address before `429`.
    #[serde(default = "default_per_ip")]
    pub requests_per_minute_per_ip: u32,
    /// Requests a minute with one client certificate before `429`.
    #[serde(default = "default_per_certificate")]
    pub requests_per_minute_per_certificate: u32,
}

fn default_per_ip() -> u32 {
    120_000
}
fn default_per_certificate() -> u32 {
    30_000
}

fn default_intake_memory() -> u64 {
    32 * 1024 * 1024
}
fn default_max_part_header() -> u64 {
    16 * 1024
}
fn default_max_parts() -> u32 {
    500
}

fn default_max_file() -> u64 {
    20 * 1024 * 1024
}
fn default_max_package() -> u64 {
    100 * 1024 * 1024
}

impl Default for LimitsConfig {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

/// What one client may hold of the hub's connections and for how long
/// (DESIGN §2): a stalled or idle connection is closed, a slow upload
/// refused, so that no single source can exhaust the hub.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionsConfig {
    /// Seconds a client has to complete the TLS handshake (and send its
    /// PROXY header, behind a load balancer). Default 10.
    #[serde(default = "default_handshake_timeout")]
    pub handshake_timeout_secs: u64,
    /// Seconds from the first byte of a request to the end of its headers
    /// (HTTP/1.1). Default 10.
    #[serde(default = "default_header_timeout")]
    pub header_timeout_secs: u64,
    /// Seconds an upload may go without a byte before it is refused (408).
    /// Default 20.
    #[serde(default = "default_body_idle_timeout")]
    pub body_idle_timeout_secs: u64,
    /// Slowest accepted upload, bytes a second on average over the time the
    /// hub spent waiting for the body; checked once the hub has waited
    /// `body_idle_timeout_secs`. Default 4096. 0: no minimum.
    #[serde(default = "default_min_upload_rate")]
    pub min_upload_bytes_per_sec: u64,
    /// Seconds a response may wait for the client to read it before the
    /// connection is closed. Default 20.
    #[serde(default = "default_send_timeout")]
    pub send_timeout_secs: u64,
    /// Seconds an idle keep-alive connection (no request in progress) stays
    /// open. Default 20.
    #[serde(default = "default_keep_alive_idle")]
    pub keep_alive_idle_secs: u64,
    /// Open connections at most, all clients together. Default 4096.
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
    /// Open connections at most from one client address. Default 256 (an
    /// agency's clerks often share one address). Connections from a trusted
    /// proxy count against the address its PROXY header gives.
    #[serde(default = "default_max_connections_per_ip")]
    pub max_connections_per_ip: u32,
}

fn default_handshake_timeout() -> u64 {
    10
}
fn default_header_timeout() -> u64 {
    10
}
fn default_body_idle_timeout() -> u64 {
    20
}
fn default_min_upload_rate() -> u64 {
    4096
}
fn default_send_timeout() -> u64 {
    20
}
fn default_keep_alive_idle() -> u64 {
    20
}
fn default_max_connections() -> u32 {
    4096
}
fn default_max_connections_per_ip() -> u32 {
    256
}

impl Default for ConnectionsConfig {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

impl ConnectionsConfig {
    fn check(&self) -> anyhow::Result<()> {
        let timeouts = [
            ("handshake_timeout_secs", self.handshake_timeout_secs),
            ("header_timeout_secs", self.header_timeout_secs),
            ("body_idle_timeout_secs", self.body_idle_timeout_secs),
            ("send_timeout_secs", self.send_timeout_secs),
            ("keep_alive_idle_secs", self.keep_alive_idle_secs),
        ];
        for (name, v) in timeouts {
            anyhow::ensure!((1..=3600).contains(&v), "connections.{name} must be between 1 and 3600 seconds");
        }
        anyhow::ensure!(self.max_connections >= 1, "connections.max_connections must be at least 1");
        anyhow::ensure!(
            (1..=self.max_connections).contains(&self.max_connections_per_ip),
            "connections.max_connections_per_ip must be between 1 and max_connections"
        );
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// HTTPS listen addresses.
    #[serde(default = "default_https")]
    pub https: Vec<SocketAddr>,
    /// Plain-HTTP listen addresses (answer only 301 to HTTPS). Empty: none.
    #[serde(default = "default_http")]
    pub http: Vec<SocketAddr>,
    /// The HTTPS base URL clients use, target of the plain-HTTP redirect.
    /// Default: `https://localhost:<first https port>`.
    pub public_url: Option<String>,
    /// `max-age` of the Strict-Transport-Security header, in seconds.
    #[serde(default = "default_hsts")]
    pub hsts_max_age: u64,
    /// Data directory (blobs, the SQLite file).
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// The exchange center's name, on the 電子公文交換戳記 of printed
    /// documents (§13-4), e.g. 臺北市政府公文電子交換中心.
    #[serde(default = "default_hub_name")]
    pub name: String,
}

fn default_hub_name() -> String {
    "公文電子交換中心".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The hub's certificate (chain) and key, PEM.
    #[serde(default = "default_cert")]
    pub cert: PathBuf,
    #[serde(default = "default_key")]
    pub key: PathBuf,
    /// Directory of CA certificates and CRLs that client certificates are checked against.
    #[serde(default = "default_trust_dir")]
    pub trust_dir: PathBuf,
    #[serde(default)]
    pub crl_check: CrlCheck,
    /// Warn the IT bureau (log, `/metrics`, console) this long before a
    /// CRL's nextUpdate.
    #[serde(default = "default_crl_warning_hours")]
    pub crl_warning_hours: u32,
    /// Every this many seconds the hub checks its CRLs' currency and looks
    /// at the trust directory: changed files are loaded (0: never; reload
    /// then by `POST /trust/reload` or SIGHUP only).
    #[serde(default = "default_trust_watch_secs")]
    pub trust_watch_secs: u64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `postgres://…` for PostgreSQL; otherwise a SQLite file. Default: `<data_dir>/gwx.db`.
    pub url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Credentials unused this many days are disabled by the daily job.
    #[serde(default = "default_inactivity_days")]
    pub inactivity_days: u32,
    /// Warn this many days before a certificate expires.
    #[serde(default = "default_expiry_warning_days")]
    pub expiry_warning_days: u32,
}

/// Client addresses behind a load balancer (DESIGN §2). Off by default: the
/// TCP peer is the client. Only connections from `trusted` addresses may tell
/// the hub another client address, by a PROXY-protocol header (when
/// `proxy_protocol`) or by `client_ip_header`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    #[serde(default)]
    pub trusted: Vec<String>,
    #[serde(default)]
    pub proxy_protocol: bool,
    /// e.g. `X-Forwarded-For`: the last address in it is taken.
    pub client_ip_header: Option<String>,
}

fn default_https() -> Vec<SocketAddr> {
    vec!["127.0.0.1:8443".parse().expect("literal address")]
}
fn default_http() -> Vec<SocketAddr> {
    vec!["127.0.0.1:8080".parse().expect("literal address")]
}
fn default_hsts() -> u64 {
    31_536_000
}
fn default_data_dir() -> PathBuf {
    "data".into()
}
fn default_cert() -> PathBuf {
    "certs/hub.pem".into()
}
fn default_key() -> PathBuf {
    "certs/hub.key".into()
}
fn default_trust_dir() -> PathBuf {
    "certs".into()
}
fn default_crl_warning_hours() -> u32 {
    72
}
fn default_trust_watch_secs() -> u64 {
    60
}
fn default_inactivity_days() -> u32 {
    90
}
fn default_expiry_warning_days() -> u32 {
    30
}

impl Default for ServerConfig {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}
impl Default for TlsConfig {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}
impl Default for AuthConfig {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

impl Config {
    /// Reads `dir/gwx.toml`; a missing file gives the defaults.
    pub fn load(dir: &Path) -> anyhow::Result<Config> {
        let path = dir.join(CONFIG_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => anyhow::bail!("cannot read {}: {e}", path.display()),
        };
        Self::parse(dir, &text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    pub fn parse(dir: &Path, text: &str) -> anyhow::Result<Config> {
        let mut c: Config = toml::from_str(text)?;
        c.dir = dir.to_owned();
        for t in &c.proxy.trusted {
            IpRange::parse(t)?;
        }
        if c.limits.max_file_bytes == 0 || c.limits.max_package_bytes < c.limits.max_file_bytes {
            anyhow::bail!("limits: max_package_bytes must be at least max_file_bytes, both above 0");
        }
        if c.limits.intake_memory_bytes < 8 * 1024 * 1024 {
            // A document (5 MiB) and its envelope (1 MiB) must fit to be parsed.
            anyhow::bail!("limits.intake_memory_bytes must be at least 8 MiB");
        }
        if !(1024..=1024 * 1024).contains(&c.limits.max_part_header_bytes) || c.limits.max_parts < 3 {
            anyhow::bail!("limits: max_part_header_bytes must be 1 KiB to 1 MiB, max_parts at least 3");
        }
        if c.log.retention_days < MIN_RETENTION_DAYS {
            anyhow::bail!(
                "log.retention_days = {} is below the policy: the exchange log is kept at least {MIN_RETENTION_DAYS} days (§8)",
                c.log.retention_days
            );
        }
        if c.deadlines.immediate_minutes == 0 || c.deadlines.immediate_minutes > 8 * 60 * 5 {
            anyhow::bail!("deadlines.immediate_minutes must be between 1 and 2400 (five working days)");
        }
        c.connections.check()?;
        if let Some(u) = &c.blobs.url {
            anyhow::ensure!(
                u.starts_with("s3://"),
                "blobs.url must be s3://bucket/prefix (or absent: <data_dir>/blobs)"
            );
        }
        if c.auth.inactivity_days == 0 {
            anyhow::bail!("auth.inactivity_days must be at least 1");
        }
        Ok(c)
    }

    /// A path from the configuration, resolved against its directory.
    pub fn path(&self, p: &Path) -> PathBuf {
        if p.is_absolute() { p.to_owned() } else { self.dir.join(p) }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.path(&self.server.data_dir)
    }

    /// The database URL: the configured one (environment and flags are
    /// applied by the caller) or the SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database.url {
            Some(u) if crate::store::is_postgres_url(u) => u.clone(),
            Some(u) => {
                let p = u.strip_prefix("sqlite://").or_else(|| u.strip_prefix("sqlite:")).unwrap_or(u);
                self.path(Path::new(p)).display().to_string()
            }
            None => self.data_dir().join("gwx.db").display().to_string(),
        }
    }

    pub fn public_url(&self) -> String {
        match &self.server.public_url {
            Some(u) => u.trim_end_matches('/').to_owned(),
            None => {
                let port = self.server.https.first().map(|a| a.port()).unwrap_or(443);
                format!("https://localhost:{port}")
            }
        }
    }

    pub fn trusted_proxies(&self) -> Vec<IpRange> {
        self.proxy.trusted.iter().filter_map(|t| IpRange::parse(t).ok()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_relative_paths() {
        let c = Config::parse(Path::new("/srv/gwx"), "").unwrap();
        assert_eq!(c.server.https, default_https());
        assert_eq!(c.database_url(), "/srv/gwx/data/gwx.db");
        assert_eq!(c.path(&c.tls.cert), Path::new("/srv/gwx/certs/hub.pem"));
        assert_eq!(c.public_url(), "https://localhost:8443");
        assert_eq!(c.auth.inactivity_days, 90);
        assert!(c.proxy.trusted.is_empty());
        assert_eq!(c.connections.keep_alive_idle_secs, 20);
    }

    #[test]
    fn refuses_unknown_keys_and_bad_proxies() {
        assert!(Config::parse(Path::new("/"), "[server]\nhttps_port = 1\n").is_err());
        assert!(Config::parse(Path::new("/"), "[proxy]\ntrusted = [\"nonsense\"]\n").is_err());
        let short = Config::parse(Path::new("/"), "[log]\nretention_days = 364\n").unwrap_err().to_string();
        assert!(short.contains("below the policy"), "{short}");
        assert_eq!(Config::parse(Path::new("/"), "[log]\nretention_days = 400\n").unwrap().log.retention_days, 400);
        let zero = Config::parse(Path::new("/"), "[connections]\nsend_timeout_secs = 0\n").unwrap_err().to_string();
        assert!(zero.contains("send_timeout_secs"), "{zero}");
        let per_ip = "[connections]\nmax_connections = 10\nmax_connections_per_ip = 11\n";
        assert!(Config::parse(Path::new("/"), per_ip).is_err());
        let c = Config::parse(Path::new("/"), "[database]\nurl = \"postgres://u@h/db\"\n").unwrap();
        assert_eq!(c.database_url(), "postgres://u@h/db");
    }
}
