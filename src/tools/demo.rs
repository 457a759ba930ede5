//! `gwx init`: a ready demo hub in one directory (DESIGN §12).
//!
//! Layout (a contract; tests and the README rely on it):
//! ```text
//! DIR/gwx.toml                 configuration
//! DIR/certs/ca.pem             trust anchors: demo root, GCA and XCA
//! DIR/certs/crl.pem            their CRLs (one demo certificate revoked)
//! DIR/certs/hub.pem, hub.key   the hub's server certificate (localhost, 127.0.0.1, ::1)
//! DIR/clients/<code>.pem/.key  one client certificate per sample participant
//! DIR/clients/<code>.p12       the same as PKCS#12 for a browser (password `demo`)
//! DIR/clients/revoked|expired|unregistered|untrusted.pem/.key  refusals to try
//! DIR/pki/                     the demo CA keys (DEMO ONLY) for issuing more
//! DIR/data/                    the SQLite database (and later the blobs)
//! ```

use std::path::Path;

use anyhow::Context;
use chrono::{Duration, Utc};

use crate::domain::log::{LogAction, NewLogEntry};
use crate::domain::{
    Capabilities, IpRange, ParticipantCode, ParticipantKind, ParticipantStatus, Role, Roles, UnifiedBusinessNumber,
};
use crate::pki::CertInfo;
use crate::pki::demo::{KeyPair, Profile, crl, issue_new};
use crate::runtime::clock::Clock;
use crate::runtime::config::CONFIG_FILE;
use crate::store::{NewCredential, NewParticipant, Store};

/// A sample participant of the demo.
pub struct DemoParticipant {
    pub code: &'static str,
    pub kind: ParticipantKind,
    pub name: &'static str,
    pub ubn: Option<&'static str>,
    pub roles: &'static [Role],
    pub supervisor: Option<&'static str>,
    pub allow: &'static [&'static str],
    pub holder: &'static str,
}

pub const IT_BUREAU: &str = "379130000C";
pub const SECRETARIAT: &str = "379100000G";
pub const RDEC: &str = "379200000A";
pub const ETHICS: &str = "379190000E";
pub const EDUCATION: &str = "379030000W";
pub const SOCIAL_WELFARE: &str = "379040000N";
pub const CIVIL_AFFAIRS: &str = "379010000Q";
/// A connected user supervised by the education bureau.
pub const FOUNDATION: &str = "CU10450009";
/// A connected user allowed only from 127.0.0.2.
pub const ASSOCIATION: &str = "CU12345675";

const LOOPBACK: &[&str] = &["127.0.0.1", "::1"];
const CLERK: &[Role] = &[Role::Sender, Role::Receiver];

pub const PARTICIPANTS: &[DemoParticipant] = &[
    DemoParticipant {
        code: IT_BUREAU,
        kind: ParticipantKind::Agency,
        name: "臺北市政府資訊局",
        ubn: None,
        roles: &[Role::ItBureau, Role::Sender, Role::Receiver],
        supervisor: None,
        allow: LOOPBACK,
        holder: "王資訊",
    },
    DemoParticipant {
        code: SECRETARIAT,
        kind: ParticipantKind::Agency,
        name: "臺北市政府秘書處",
        ubn: None,
        roles: &[Role::Secretariat, Role::AgencyAdmin, Role::Sender, Role::Receiver],
        supervisor: None,
        allow: LOOPBACK,
        holder: "陳秘書",
    },
    DemoParticipant {
        code: RDEC,
        kind: ParticipantKind::Agency,
        name: "臺北市政府研究發展考核委員會",
        ubn: None,
        roles: &[Role::Rdec, Role::Sender, Role::Receiver],
        supervisor: None,
        allow: LOOPBACK,
        holder: "林研考",
    },
    DemoParticipant {
        code: ETHICS,
        kind: ParticipantKind::Agency,
        name: "臺北市政府政風處",
        ubn: None,
        roles: &[Role::Ethics, Role::Sender, Role::Receiver],
        supervisor: None,
        allow: LOOPBACK,
        holder: "張政風",
    },
    DemoParticipant {
        code: EDUCATION,
        kind: ParticipantKind::Agency,
        name: "臺北市政府教育局",
        ubn: None,
        roles: &[Role::Supervisor, Role::AgencyAdmin, Role::Sender, Role::Receiver],
        supervisor: None,
        allow: LOOPBACK,
        holder: "李教育",
    },
    DemoParticipant {
        code: SOCIAL_WELFARE,
        kind: ParticipantKind::Agency,
        name: "臺北市政府社會局",
        ubn: None,
        roles: &[Role::Supervisor, Role::Sender, Role::Receiver],
        supervisor: None,
        allow: LOOPBACK,
        holder: "黃社會",
    },
    DemoParticipant {
        code: CIVIL_AFFAIRS,
        kind: ParticipantKind::Agency,
        name: "臺北市政府民政局",
        ubn: None,
        roles: &[Role::AgencyAdmin, Role::Sender, Role::Receiver],
        supervisor: None,
        allow: LOOPBACK,
        holder: "吳民政",
    },
    DemoParticipant {
        code: FOUNDATION,
        kind: ParticipantKind::ConnectedUser,
        name: "財團法人臺北市青少年文教基金會",
        ubn: Some("10450009"),
        roles: CLERK,
        supervisor: Some(EDUCATION),
        allow: LOOPBACK,
        holder: "周基金",
    },
    DemoParticipant {
        code: ASSOCIATION,
        kind: ParticipantKind::ConnectedUser,
        name: "社團法人臺北市社區關懷協會",
        ubn: Some("12345675"),
        roles: CLERK,
        supervisor: Some(SOCIAL_WELFARE),
        allow: &["127.0.0.2"],
        holder: "鄭協會",
    },
];

/// Participant codes whose extra demo certificates show the refusals.
pub const REVOKED_HOLDER: &str = CIVIL_AFFAIRS;
pub const EXPIRED_HOLDER: &str = CIVIL_AFFAIRS;
/// The 統一編號 in the unregistered organisation certificate (a would-be applicant).
pub const UNREGISTERED_UBN: &str = "10450010";

fn gca_name() -> [(&'static str, &'static str); 4] {
    [("C", "TW"), ("O", "行政院"), ("OU", "政府憑證管理中心"), ("CN", "GWX 示範 GCA (demo only)")]
}

/// The password of the demo clients' PKCS#12 files (test keys, not secrets).
pub const DEMO_P12_PASSWORD: &str = "demo";

/// Creates the demo PKI under `dir` (certs/, clients/, pki/).
pub fn create_pki(dir: &Path) -> anyhow::Result<()> {
    let now = Utc::now();
    let (past, ca_until, card_until) =
        (now - Duration::days(1), now + Duration::days(20 * 365), now + Duration::days(6 * 365));
    for sub in ["certs", "clients", "pki", "data"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    let root = issue_new(
        &[("C", "TW"), ("O", "行政院"), ("OU", "政府憑證總管理中心"), ("CN", "GWX 示範根憑證 (demo only)")],
        Profile::Ca,
        past,
        ca_until,
        None,
    )?;
    let gca = issue_new(&gca_name(), Profile::Ca, past, ca_until, Some(&root))?;
    let xca = issue_new(
        &[("C", "TW"), ("O", "行政院"), ("OU", "組織及團體憑證管理中心"), ("CN", "GWX 示範 XCA (demo only)")],
        Profile::Ca,
        past,
        ca_until,
        Some(&root),
    )?;
    let untrusted =
        issue_new(&[("C", "TW"), ("O", "Nobody"), ("CN", "Untrusted demo CA")], Profile::Ca, past, ca_until, None)?;
    for (name, kp) in [("root", &root), ("gca", &gca), ("xca", &xca), ("untrusted-ca", &untrusted)] {
        kp.write(&dir.join("pki").join(name))?;
    }
    std::fs::write(
        dir.join("pki/README.txt"),
        "DEMO/TEST KEYS ONLY. These CA keys were generated by `gwx init` for a demonstration hub.\n\
         Never use them, or certificates they issued, for real documents.\n",
    )?;
    let mut ca_pem = root.cert_pem();
    ca_pem.extend(gca.cert_pem());
    ca_pem.extend(xca.cert_pem());
    std::fs::write(dir.join("certs/ca.pem"), ca_pem)?;

    let ips = ["127.0.0.1".parse()?, "::1".parse()?];
    let hub = issue_new(
        &[("C", "TW"), ("O", "臺北市政府資訊局"), ("CN", "localhost")],
        Profile::Server { dns: &["localhost"], ips: &ips },
        past,
        now + Duration::days(825),
        Some(&gca),
    )?;
    let mut hub_pem = hub.cert_pem();
    hub_pem.extend(gca.cert_pem());
    std::fs::write(dir.join("certs/hub.pem"), hub_pem)?;
    crate::pki::demo::write_private(&dir.join("certs/hub.key"), &hub.key_pem())?;
    // Receipts are signed with a key of their own (ECDSA P-256), not the TLS key.
    let receipt_key = crate::pki::demo::new_ec_key()?;
    let receipt_cert = crate::pki::demo::issue(
        &crate::pki::demo::name(&[("C", "TW"), ("O", "臺北市政府資訊局"), ("CN", "gwx 公文電子交換中心收據")])?,
        &receipt_key,
        Profile::Signing,
        past,
        now + Duration::days(825),
        Some(&gca),
    )?;
    let receipt = KeyPair { cert: receipt_cert, key: receipt_key };
    let mut receipt_pem = receipt.cert_pem();
    receipt_pem.extend(gca.cert_pem());
    std::fs::write(dir.join("certs/receipt.pem"), receipt_pem)?;
    crate::pki::demo::write_private(&dir.join("certs/receipt.key"), &receipt.key_pem())?;

    for p in PARTICIPANTS {
        let (issuer, subject) = match p.kind {
            ParticipantKind::Agency => (&gca, vec![("C", "TW"), ("O", p.name), ("CN", p.holder)]),
            ParticipantKind::ConnectedUser => (&xca, vec![("C", "TW"), ("O", p.name), ("CN", p.name)]),
        };
        let kp = issue_new(&subject, Profile::Client { ubn: p.ubn }, past, card_until, Some(issuer))?;
        kp.write(&dir.join("clients").join(p.code))?;
        // For importing into a browser to use the web console (DEMO ONLY password).
        let p12 = openssl::pkcs12::Pkcs12::builder()
            .name(&format!("{} {}", p.code, p.holder))
            .pkey(&kp.key)
            .cert(&kp.cert)
            .build2(DEMO_P12_PASSWORD)?;
        crate::pki::demo::write_private(&dir.join("clients").join(format!("{}.p12", p.code)), &p12.to_der()?)?;
    }
    let revoked = issue_new(
        &[("C", "TW"), ("O", "臺北市政府民政局"), ("CN", "已離職人員 (revoked demo)")],
        Profile::Client { ubn: None },
        past,
        card_until,
        Some(&gca),
    )?;
    revoked.write(&dir.join("clients/revoked"))?;
    let expired = issue_new(
        &[("C", "TW"), ("O", "臺北市政府民政局"), ("CN", "過期憑證 (expired demo)")],
        Profile::Client { ubn: None },
        now - Duration::days(6 * 365),
        now - Duration::days(1),
        Some(&gca),
    )?;
    expired.write(&dir.join("clients/expired"))?;
    issue_new(
        &[("C", "TW"), ("O", "社團法人臺北市新申請協會"), ("CN", "社團法人臺北市新申請協會")],
        Profile::Client { ubn: Some(UNREGISTERED_UBN) },
        past,
        card_until,
        Some(&xca),
    )?
    .write(&dir.join("clients/unregistered"))?;
    issue_new(
        &[("C", "TW"), ("O", "Nobody"), ("CN", "untrusted client")],
        Profile::Client { ubn: None },
        past,
        card_until,
        Some(&untrusted),
    )?
    .write(&dir.join("clients/untrusted"))?;

    write_crls(dir, &[&revoked.cert])
}

/// (Re)writes `certs/crl.pem`: a CRL for each demo CA, the issuing CAs
/// revoking `revoked` (those they issued). Valid for ten years, longer than
/// the demo's client certificates, so the demo (and a test clock moved on
/// by years) keeps working; a real CA publishes CRLs valid for days, and
/// the hub refuses what a CRL past its nextUpdate covers.
pub fn write_crls(dir: &Path, revoked: &[&openssl::x509::X509]) -> anyhow::Result<()> {
    let now = Utc::now();
    let number = u32::try_from(now.timestamp()).unwrap_or(1);
    let mut pem = Vec::new();
    for name in ["root", "gca", "xca"] {
        let ca = KeyPair::read(&dir.join("pki").join(name))?;
        let mine: Vec<_> = revoked
            .iter()
            .copied()
            .filter(|c| c.issuer_name().try_cmp(ca.cert.subject_name()).is_ok_and(|o| o.is_eq()))
            .collect();
        pem.extend(crl(&ca, &mine, number, now, 3650)?.to_pem()?);
    }
    std::fs::write(dir.join("certs/crl.pem"), pem)?;
    Ok(())
}

/// The configuration `gwx init` writes.
pub fn config_text(database_url: Option<&str>) -> String {
    let db = match database_url {
        Some(u) => format!("url = \"{u}\""),
        None => "# url = \"postgres://gwx@localhost/gwx\"   # default: SQLite in data/gwx.db".to_owned(),
    };
    format!(
        r#"# gwx demo hub — generated by `gwx init`. Paths are relative to this file.

[server]
https = ["127.0.0.1:8443"]          # add "[::1]:8443" for IPv6
http = ["127.0.0.1:8080"]           # answers only 301 to HTTPS
# public_url = "https://localhost:8443"
data_dir = "data"
name = "臺北市政府公文電子交換中心"  # on the 電子公文交換戳記 of printed documents

[tls]
cert = "certs/hub.pem"
key = "certs/hub.key"
trust_dir = "certs"                 # CA certificates and CRLs; changes are loaded within trust_watch_secs
crl_check = "all"
crl_warning_hours = 72              # warn (log, /metrics, console) this long before a CRL's nextUpdate
trust_watch_secs = 60               # 0: reload only by POST /api/v1/trust/reload or SIGHUP

[receipts]
# The key that signs receipts; default: the TLS certificate and key.
cert = "certs/receipt.pem"
key = "certs/receipt.key"

[database]
{db}

[auth]
inactivity_days = 90
expiry_warning_days = 30

[limits]
max_file_bytes = 20971520           # 20 MiB a file
max_package_bytes = 104857600       # 100 MiB a package
intake_memory_bytes = 33554432      # 32 MiB for all uploads in flight; the rest waits on disk
max_part_header_bytes = 16384
max_parts = 500

[connections]
# A stalled or idle connection is closed, a too-slow upload refused (408).
handshake_timeout_secs = 10
header_timeout_secs = 10
body_idle_timeout_secs = 20
min_upload_bytes_per_sec = 4096
send_timeout_secs = 20
keep_alive_idle_secs = 20
max_connections = 4096
max_connections_per_ip = 256

[proxy]
# Behind a TCP load balancer: list it here and enable the PROXY protocol.
trusted = []
proxy_protocol = false
# client_ip_header = "X-Forwarded-For"
"#
    )
}

/// Registers the sample participants, their allowlists and credentials.
pub async fn seed(store: &Store, dir: &Path, clock: &dyn Clock) -> anyhow::Result<()> {
    let now = clock.now();
    let by_init =
        |action, detail: String, code: &str| NewLogEntry::new(action, format!("{detail} (gwx init)")).counterpart(code);
    // Supervisors first: connected users refer to them.
    let mut ordered: Vec<&DemoParticipant> = PARTICIPANTS.iter().collect();
    ordered.sort_by_key(|p| p.kind == ParticipantKind::ConnectedUser);
    for p in ordered {
        let code = ParticipantCode::parse(p.code)?;
        let new = NewParticipant {
            code: code.clone(),
            kind: p.kind,
            name: p.name.to_owned(),
            unified_business_number: p.ubn.map(UnifiedBusinessNumber::parse).transpose()?,
            status: ParticipantStatus::Active,
            capabilities: Capabilities { receive: true, send: true },
            supervisor: p.supervisor.map(ParticipantCode::parse).transpose()?,
            email: Some(format!("gwx-demo+{}@example.gov.tw", p.code.to_ascii_lowercase())),
        };
        store
            .create_participant(
                &new,
                now,
                &by_init(LogAction::ParticipantCreated, format!("participant {} {}", p.code, p.name), p.code),
            )
            .await?;
        for ip in p.allow {
            let range = IpRange::parse(ip)?;
            store
                .add_allowlist_entry(
                    &code,
                    range,
                    Some("demo"),
                    now,
                    &by_init(LogAction::AllowlistAdded, format!("{range} allowed"), p.code),
                )
                .await?;
        }
        register(store, dir, p.code, p.code, p.holder, Roles::new(p.roles.iter().copied()), now).await?;
    }
    seed_groups(store, now).await?;
    register(store, dir, REVOKED_HOLDER, "revoked", "已離職人員", Roles::new([Role::Sender, Role::Receiver]), now)
        .await?;
    register(store, dir, EXPIRED_HOLDER, "expired", "過期憑證", Roles::new([Role::Sender, Role::Receiver]), now)
        .await?;
    Ok(())
}

/// Sample send groups: a shared one of the secretariat, a private one of 民政局.
async fn seed_groups(store: &Store, now: chrono::DateTime<Utc>) -> anyhow::Result<()> {
    use crate::domain::document::RecipientCode;
    use crate::domain::group::{GroupMember, GroupScope};
    use crate::store::{GroupActor, GroupEdit};
    let member = |c: &str| RecipientCode::parse(c).map(GroupMember::Participant);
    let samples = [
        (
            GroupScope::Shared,
            SECRETARIAT,
            "陳秘書",
            "本府一級機關",
            &[IT_BUREAU, RDEC, ETHICS, EDUCATION, SOCIAL_WELFARE, CIVIL_AFFAIRS][..],
        ),
        (GroupScope::Private, CIVIL_AFFAIRS, "吳民政", "民政局常用受文者", &[EDUCATION, SOCIAL_WELFARE][..]),
    ];
    for (scope, owner, holder, name, codes) in samples {
        let members = codes.iter().map(|c| member(c)).collect::<Result<Vec<_>, _>>()?;
        let log =
            NewLogEntry::new(LogAction::GroupCreated, format!("{scope} group {name} (gwx init)")).participant(owner);
        let edit =
            GroupEdit { name, members: &members, actor: GroupActor { participant: owner, holder }, at: now, log: &log };
        store.create_group(scope, &ParticipantCode::parse(owner)?, &edit).await?;
    }
    Ok(())
}

async fn register(
    store: &Store,
    dir: &Path,
    code: &str,
    file: &str,
    holder: &str,
    roles: Roles,
    now: chrono::DateTime<Utc>,
) -> anyhow::Result<()> {
    let pem = std::fs::read(dir.join("clients").join(format!("{file}.pem")))?;
    let cert = CertInfo::from_pem(&pem)?;
    let new = NewCredential {
        participant: ParticipantCode::parse(code)?,
        card_number: Some(format!("DEMO{}", &cert.serial[..cert.serial.len().min(12)])),
        cert,
        holder: holder.to_owned(),
        roles,
    };
    let log =
        NewLogEntry::new(LogAction::CredentialRegistered, format!("certificate of {holder} registered (gwx init)"))
            .counterpart(code);
    store.register_credential(&new, now, &log).await?;
    Ok(())
}

/// `gwx init --dir DIR`: PKI, configuration, database with sample participants.
pub async fn init(dir: &Path, database_url: Option<&str>, force: bool) -> anyhow::Result<()> {
    if dir.join(CONFIG_FILE).exists() && !force {
        anyhow::bail!("{} already holds a hub ({CONFIG_FILE} exists); use --force to start over", dir.display());
    }
    if force {
        for sub in ["certs", "clients", "pki", "data"] {
            let _ = std::fs::remove_dir_all(dir.join(sub));
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    create_pki(dir)?;
    std::fs::write(dir.join(CONFIG_FILE), config_text(database_url))?;
    let config = crate::runtime::config::Config::load(dir)?;
    let store = Store::open(&config.database_url()).await?;
    seed(&store, dir, &crate::runtime::clock::SystemClock).await?;
    store.close().await;
    Ok(())
}
