//! The `gwx` command line: the hub (`serve`, `init`), operator commands and
//! the agency client commands.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::client::package::SendOptions;
use crate::client::{Client, Identity};
use crate::http::server::Hub;
use crate::runtime::config::Config;
use crate::store::Store;

#[derive(Parser)]
#[command(name = "gwx", version, about = "gwx — 公文電子交換中心 (electronic official-document exchange hub)")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Create a ready demo hub in DIR: PKI, configuration, database, sample participants.
    Init {
        #[arg(long, default_value = "gwx-demo")]
        dir: PathBuf,
        /// Use this PostgreSQL database instead of the embedded SQLite.
        #[arg(long, env = "GWX_DATABASE_URL")]
        database: Option<String>,
        /// Replace an existing demo in DIR.
        #[arg(long)]
        force: bool,
    },
    /// Run the hub configured in DIR/gwx.toml.
    Serve {
        #[arg(long, default_value = "gwx-demo")]
        dir: PathBuf,
        /// HTTPS listen address (repeatable); replaces the configured ones.
        #[arg(long)]
        https: Vec<SocketAddr>,
        /// Plain-HTTP (redirect) listen address (repeatable).
        #[arg(long)]
        http: Vec<SocketAddr>,
        #[arg(long, env = "GWX_DATABASE_URL")]
        database: Option<String>,
        /// First create the demo (as `gwx init`) if DIR holds no hub yet.
        #[arg(long)]
        init: bool,
    },
    /// The exchange log.
    Log {
        #[command(subcommand)]
        command: LogCommand,
    },
    /// Show who the hub thinks you are (participant, roles, source IP).
    Whoami {
        #[command(flatten)]
        identity: Identity,
    },
    /// Sign and send a 公文 DI with the SW and attachments it declares.
    Send {
        #[command(flatten)]
        package: PackageArgs,
        /// Also write the hub's signed receipt (CMS DER) here.
        #[arg(long)]
        receipt: Option<PathBuf>,
        #[command(flatten)]
        identity: Identity,
    },
    /// Sign a 公文 DI into a package directory without sending it, for
    /// upload through the web console (a browser cannot sign with the card).
    Sign {
        #[command(flatten)]
        package: PackageArgs,
        /// The directory to write the signed package into.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        identity: Identity,
    },
    /// List your inbox.
    Inbox {
        /// Only deliveries in this state: delivered, fetched, confirmed, returned.
        #[arg(long)]
        state: Option<String>,
        /// Wait up to this many seconds for a new delivery when there is none.
        #[arg(long, default_value_t = 0)]
        wait: u64,
        /// Print the hub's JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        identity: Identity,
    },
    /// Download a delivery's package into DIR and verify it.
    Fetch {
        /// Delivery id (from `gwx inbox`).
        id: String,
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        identity: Identity,
    },
    /// Verify a downloaded package: signature and every file's hash.
    Verify {
        dir: PathBuf,
        /// CA certificates the signer must chain to.
        #[arg(long, env = "GWX_CA")]
        ca: PathBuf,
    },
    /// Confirm (確認) a delivery.
    Confirm {
        id: String,
        #[command(flatten)]
        identity: Identity,
    },
    /// Return (退文) a delivery with the reason.
    Return {
        id: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        identity: Identity,
    },
    /// Show each recipient's state of a document you sent.
    Status {
        document: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        identity: Identity,
    },
    /// Send groups (行文群組): list, show, create, add, remove, history.
    Group {
        #[command(subcommand)]
        command: GroupCommand,
        #[command(flatten)]
        identity: Identity,
    },
    /// Load-test a hub over mTLS and print what it measured (see README).
    Bench(crate::tools::bench::BenchArgs),
    /// Your deadline lists: the paper resend list (as sender, §12-2) and
    /// the overdue deliveries (as receiver, §13-2).
    Deadlines {
        /// `sender` or `receiver`; both when omitted.
        list: Option<DeadlineList>,
        /// Print the hub's `csv` or printable `html` instead of a summary.
        #[arg(long)]
        format: Option<String>,
        #[command(flatten)]
        identity: Identity,
    },
    /// Copy the database and blobs of the hub in DIR, consistently, while it runs.
    Backup {
        #[arg(long, default_value = "gwx-demo")]
        dir: PathBuf,
        #[arg(long, env = "GWX_DATABASE_URL")]
        database: Option<String>,
        /// A new or empty directory for the backup.
        #[arg(long)]
        to: PathBuf,
    },
    /// Restore a backup into the (empty) database and data directory of the
    /// hub in DIR, then verify every blob hash and the log chain.
    Restore {
        #[arg(long, default_value = "gwx-demo")]
        dir: PathBuf,
        #[arg(long, env = "GWX_DATABASE_URL")]
        database: Option<String>,
        #[arg(long)]
        from: PathBuf,
    },
    /// Record that a recipient got the document on paper (補發紙本).
    PaperResend {
        /// Delivery id (from `gwx status`).
        id: String,
        #[arg(long)]
        note: Option<String>,
        #[command(flatten)]
        identity: Identity,
    },
}

/// A 公文 DI and its recipients, as `send` and `sign` take them.
#[derive(clap::Args)]
pub struct PackageArgs {
    /// The DI file (its DOCTYPE names the SW and attachments beside it).
    di: PathBuf,
    /// 正本 recipient (agency code, optionally with unit code); repeatable.
    #[arg(long)]
    to: Vec<String>,
    /// 副本 recipient; repeatable.
    #[arg(long)]
    cc: Vec<String>,
    /// A send group (行文群組) id; repeatable.
    #[arg(long)]
    group: Vec<String>,
    /// A declared attachment that is not beside the DI; repeatable.
    #[arg(long)]
    attach: Vec<PathBuf>,
    /// A case of major rights: recipients must confirm promptly (§10).
    #[arg(long)]
    immediate: bool,
}

impl PackageArgs {
    fn options(self) -> (PathBuf, SendOptions) {
        let opts = SendOptions {
            to: self.to,
            cc: self.cc,
            groups: self.group,
            attach: self.attach,
            immediate_confirmation: self.immediate,
        };
        (self.di, opts)
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum DeadlineList {
    Sender,
    Receiver,
}

#[derive(Subcommand)]
pub enum GroupCommand {
    /// The groups you may use or edit.
    List,
    /// One group and its members.
    Show { id: String },
    /// Create a group (shared: secretariat; private: your agency_admin).
    Create {
        #[arg(long)]
        name: String,
        /// A shared group (default: private to your participant).
        #[arg(long)]
        shared: bool,
        /// A member participant code; repeatable.
        #[arg(long)]
        member: Vec<String>,
        /// A member group id; repeatable.
        #[arg(long)]
        member_group: Vec<String>,
    },
    /// Add members to a group.
    Add {
        id: String,
        #[arg(long)]
        member: Vec<String>,
        #[arg(long)]
        member_group: Vec<String>,
    },
    /// Remove members from a group.
    Remove {
        id: String,
        #[arg(long)]
        member: Vec<String>,
        #[arg(long)]
        member_group: Vec<String>,
    },
    /// Every version of a group: who changed what, when.
    History { id: String },
}

#[derive(Subcommand)]
pub enum LogCommand {
    /// Check the hash chain of the exchange log.
    Verify {
        #[arg(long, default_value = "gwx-demo")]
        dir: PathBuf,
        #[arg(long, env = "GWX_DATABASE_URL")]
        database: Option<String>,
    },
}

fn load_config(dir: &Path, database: Option<String>) -> anyhow::Result<Config> {
    let mut config = Config::load(dir)?;
    if database.is_some() {
        config.database.url = database;
    }
    Ok(config)
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Init { dir, database, force } => {
            crate::tools::demo::init(&dir, database.as_deref(), force).await?;
            print_demo_help(&dir);
            Ok(())
        }
        Command::Serve { dir, https, http, database, init } => {
            if init && !dir.join(crate::runtime::config::CONFIG_FILE).exists() {
                crate::tools::demo::init(&dir, database.as_deref(), false).await?;
                print_demo_help(&dir);
            }
            serve(&dir, https, http, database).await
        }
        Command::Log { command: LogCommand::Verify { dir, database } } => {
            let config = load_config(&dir, database)?;
            let store = Store::open(&config.database_url()).await?;
            match store.verify_log().await? {
                Ok(r) => {
                    let from = r.checkpoint.map(|c| format!(" from the retention checkpoint #{c}")).unwrap_or_default();
                    println!(
                        "exchange log intact: {} entries checked{from}, head #{} {}",
                        r.checked, r.head_seq, r.head_hash
                    );
                    Ok(())
                }
                Err(b) => anyhow::bail!("exchange log chain broken: {b}"),
            }
        }
        Command::Whoami { identity } => {
            let v = Client::new(&identity)?.get_json("/api/v1/whoami").await?;
            println!("{}", serde_json::to_string_pretty(&v)?);
            Ok(())
        }
        Command::Send { package, receipt, identity } => {
            let (di, opts) = package.options();
            send(&identity, &di, &opts, receipt.as_deref()).await
        }
        Command::Sign { package, out, identity } => {
            let (di, opts) = package.options();
            let (sender, cert, key) = signer(&Client::new(&identity)?, &identity).await?;
            let package = crate::client::package::from_di_file(&di, &opts, &sender, &cert, &key)?;
            let files = package.write_to(&out)?;
            println!("signed package written to {} ({} files):", out.display(), files.len());
            for f in files {
                println!("  {}", f.display());
            }
            println!("upload them on the console's 發送公文 page");
            Ok(())
        }
        Command::Inbox { state, wait, json, identity } => {
            let mut path = format!("/api/v1/inbox?wait={wait}");
            if let Some(s) = state {
                path.push_str(&format!("&state={s}"));
            }
            let v = Client::new(&identity)?.get_json(&path).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print_deliveries(&v["items"], true);
            }
            Ok(())
        }
        Command::Fetch { id, out, identity } => {
            let written = Client::new(&identity)?.fetch(&id, &out).await?;
            let v = crate::client::verify::verify_dir(&out, &identity.ca)?;
            println!(
                "{} files written to {}; signature verified (signed by {}); every file matches the signed envelope",
                written.len(),
                out.display(),
                v.signer
            );
            println!("{}  {}  {}", v.envelope.document_number, v.envelope.sender, v.envelope.subject);
            Ok(())
        }
        Command::Verify { dir, ca } => {
            let v = crate::client::verify::verify_dir(&dir, &ca)?;
            println!("signature verified (signed by {}); {} files match the signed envelope", v.signer, v.files);
            Ok(())
        }
        Command::Confirm { id, identity } => {
            let v = Client::new(&identity)?
                .post_json(&format!("/api/v1/deliveries/{id}/confirm"), &serde_json::json!({}))
                .await?;
            println!(
                "confirmed {} ({}) at {}",
                v["document_number"].as_str().unwrap_or(""),
                id,
                v["confirmed_at"].as_str().unwrap_or("")
            );
            Ok(())
        }
        Command::Return { id, reason, identity } => {
            let v = Client::new(&identity)?
                .post_json(&format!("/api/v1/deliveries/{id}/return"), &serde_json::json!({"reason": reason}))
                .await?;
            println!(
                "returned {} ({}): {}",
                v["document_number"].as_str().unwrap_or(""),
                id,
                v["return_reason"].as_str().unwrap_or("")
            );
            Ok(())
        }
        Command::Status { document, json, identity } => {
            let v = Client::new(&identity)?.get_json(&format!("/api/v1/documents/{document}")).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!(
                    "{}  {}  accepted {}",
                    v["document_number"].as_str().unwrap_or(""),
                    v["subject"].as_str().unwrap_or(""),
                    v["accepted_at"].as_str().unwrap_or("")
                );
                print_deliveries(&v["recipients"], false);
            }
            Ok(())
        }
        Command::Group { command, identity } => group(&Client::new(&identity)?, command).await,
        Command::Bench(args) => {
            let json = args.json;
            let report = crate::tools::bench::run(args).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                crate::tools::bench::print(&report);
            }
            Ok(())
        }
        Command::Deadlines { list, format, identity } => deadlines(&Client::new(&identity)?, list, format).await,
        Command::Backup { dir, database, to } => {
            let config = load_config(&dir, database)?;
            let m = crate::tools::backup::backup(&config.database_url(), &config.data_dir(), &to).await?;
            println!(
                "backup written to {}: {} database, log head #{}, {} blob files ({} bytes)",
                to.display(),
                m.database,
                m.log_head_seq,
                m.blob_files,
                m.blob_bytes
            );
            Ok(())
        }
        Command::Restore { dir, database, from } => {
            let config = load_config(&dir, database)?;
            let r = crate::tools::backup::restore(&from, &config.database_url(), &config.data_dir()).await?;
            println!(
                "restored the backup of {} into {}: {} blobs verified, exchange log intact ({} entries, head #{})",
                r.manifest.created_at,
                config.data_dir().display(),
                r.blobs_checked,
                r.log_entries_checked,
                r.manifest.log_head_seq
            );
            Ok(())
        }
        Command::PaperResend { id, note, identity } => {
            let v = Client::new(&identity)?
                .post_json(&format!("/api/v1/deliveries/{id}/paper-resend"), &serde_json::json!({"note": note}))
                .await?;
            println!(
                "paper resend recorded for {} at {}",
                v["recipient"].as_str().unwrap_or(""),
                v["paper_resend_at"].as_str().unwrap_or("")
            );
            Ok(())
        }
    }
}

/// The participant the certificate belongs to, asked of the hub, with the
/// certificate and key that sign for it.
async fn signer(
    client: &Client,
    identity: &Identity,
) -> anyhow::Result<(crate::domain::ParticipantCode, openssl::x509::X509, openssl::pkey::PKey<openssl::pkey::Private>)>
{
    let who = client.get_json("/api/v1/whoami").await?;
    let sender = crate::domain::ParticipantCode::parse(who["participant"]["code"].as_str().unwrap_or(""))?;
    let cert = openssl::x509::X509::from_pem(&std::fs::read(&identity.cert)?)?;
    let key = openssl::pkey::PKey::private_key_from_pem(&std::fs::read(&identity.key)?)?;
    Ok((sender, cert, key))
}

async fn send(identity: &Identity, di: &Path, opts: &SendOptions, receipt: Option<&Path>) -> anyhow::Result<()> {
    let client = Client::new(identity)?;
    let (sender, cert, key) = signer(&client, identity).await?;
    let out = crate::client::package::from_di_file(di, opts, &sender, &cert, &key)?;
    let total = out.total_bytes();
    let progress = (total > 1024 * 1024 && std::io::IsTerminal::is_terminal(&std::io::stderr())).then(|| {
        let p = indicatif::ProgressBar::new(total);
        p.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}")
                .expect("template"),
        );
        p
    });
    let (status, v) = client.send(&out, progress).await?;
    if let Some(path) = receipt {
        use base64::Engine;
        let der = base64::engine::general_purpose::STANDARD.decode(v["receipt"].as_str().unwrap_or(""))?;
        std::fs::write(path, der)?;
    }
    let again = if status == 200 { " (already accepted before: the first receipt)" } else { "" };
    println!(
        "accepted{again}: document {} {} at {}",
        v["document_id"].as_str().unwrap_or(""),
        v["document_number"].as_str().unwrap_or(""),
        v["accepted_at"].as_str().unwrap_or("")
    );
    for r in v["recipients"].as_array().into_iter().flatten() {
        let kind = if r["kind"] == "copy" { "副本" } else { "正本" };
        let via = r["via_group"].as_str().map(|g| format!(" (group {g})")).unwrap_or_default();
        println!("  {kind} {}{via}", r["participant"].as_str().unwrap_or(""));
    }
    println!("envelope SHA-256 {}", v["envelope_sha256"].as_str().unwrap_or(""));
    Ok(())
}

fn member_list(member: &[String], groups: &[String]) -> Vec<serde_json::Value> {
    member
        .iter()
        .map(|m| serde_json::json!({"participant": m}))
        .chain(groups.iter().map(|g| serde_json::json!({"group": g})))
        .collect()
}

fn print_group(g: &serde_json::Value) {
    let s = |k: &str| g[k].as_str().unwrap_or("").to_owned();
    println!("{}  {}  {}  (owner {}, version {})", s("id"), s("scope"), s("name"), s("owner"), g["version"]);
    for m in g["members"].as_array().into_iter().flatten() {
        match (m["participant"].as_str(), m["group"].as_str()) {
            (Some(p), _) => println!("  {p}"),
            (_, Some(gr)) => println!("  group {gr}"),
            _ => {}
        }
    }
}

async fn group(client: &Client, command: GroupCommand) -> anyhow::Result<()> {
    match command {
        GroupCommand::List => {
            let v = client.get_json("/api/v1/groups").await?;
            for g in v.as_array().into_iter().flatten() {
                println!(
                    "{}  {:<7}  {}  ({} members)",
                    g["id"].as_str().unwrap_or(""),
                    g["scope"].as_str().unwrap_or(""),
                    g["name"].as_str().unwrap_or(""),
                    g["members"].as_array().map_or(0, |m| m.len())
                );
            }
        }
        GroupCommand::Show { id } => print_group(&client.get_json(&format!("/api/v1/groups/{id}")).await?),
        GroupCommand::Create { name, shared, member, member_group } => {
            let body = serde_json::json!({"scope": if shared { "shared" } else { "private" }, "name": name, "members": member_list(&member, &member_group)});
            print_group(&client.post_json("/api/v1/groups", &body).await?);
        }
        GroupCommand::Add { id, member, member_group } => {
            let g = client.get_json(&format!("/api/v1/groups/{id}")).await?;
            let mut members = g["members"].as_array().cloned().unwrap_or_default();
            for m in member_list(&member, &member_group) {
                if !members.contains(&m) {
                    members.push(m);
                }
            }
            let body = serde_json::json!({"name": g["name"], "members": members, "version": g["version"]});
            print_group(&client.put_json(&format!("/api/v1/groups/{id}"), &body).await?);
        }
        GroupCommand::Remove { id, member, member_group } => {
            let g = client.get_json(&format!("/api/v1/groups/{id}")).await?;
            let gone = member_list(&member, &member_group);
            let members: Vec<_> = g["members"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|m| !gone.contains(m))
                .collect();
            let body = serde_json::json!({"name": g["name"], "members": members, "version": g["version"]});
            print_group(&client.put_json(&format!("/api/v1/groups/{id}"), &body).await?);
        }
        GroupCommand::History { id } => {
            let v = client.get_json(&format!("/api/v1/groups/{id}/history")).await?;
            for h in v.as_array().into_iter().flatten() {
                let members: Vec<String> = h["members"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|m| {
                        m["participant"]
                            .as_str()
                            .map(str::to_owned)
                            .or_else(|| m["group"].as_str().map(|g| format!("group {g}")))
                    })
                    .collect();
                println!(
                    "v{}  {}  {} by {} ({})  \"{}\": {}",
                    h["version"],
                    h["at"].as_str().unwrap_or(""),
                    h["change"].as_str().unwrap_or(""),
                    h["actor_name"].as_str().unwrap_or(""),
                    h["actor"].as_str().unwrap_or(""),
                    h["name"].as_str().unwrap_or(""),
                    members.join(", ")
                );
            }
        }
    }
    Ok(())
}

/// One line per delivery: id, state, and what it is.
async fn deadlines(client: &Client, list: Option<DeadlineList>, format: Option<String>) -> anyhow::Result<()> {
    let lists = match list {
        Some(l) => vec![l],
        None => vec![DeadlineList::Sender, DeadlineList::Receiver],
    };
    for l in lists {
        let (path, title, deadline) = match l {
            DeadlineList::Sender => ("/api/v1/deadlines/sender", "應補發紙本 (paper resend list)", "sender_deadline"),
            DeadlineList::Receiver => ("/api/v1/deadlines/receiver", "逾期未處理 (overdue)", "receiver_deadline"),
        };
        if let Some(f) = &format {
            let body = client.get_bytes(&format!("{path}?format={f}")).await?;
            std::io::Write::write_all(&mut std::io::stdout(), &body)?;
            continue;
        }
        let v = client.get_json(&format!("{path}?limit=1000")).await?;
        println!("{title}:");
        let rows = v["items"].as_array().cloned().unwrap_or_default();
        if rows.is_empty() {
            println!("  (none)");
        }
        for d in rows {
            let s = |k: &str| d[k].as_str().unwrap_or("").to_owned();
            let who = match l {
                DeadlineList::Sender => format!("to {}", s("recipient")),
                DeadlineList::Receiver => format!("from {}", s("sender")),
            };
            let reason = d["return_reason"].as_str().map(|r| format!(" 退文原因: {r}")).unwrap_or_default();
            println!(
                "  {}  {:<9}  {who}  {}  {}  deadline {}{reason}",
                s("id"),
                s("state"),
                s("document_number"),
                s("subject"),
                s(deadline)
            );
        }
    }
    Ok(())
}

fn print_deliveries(items: &serde_json::Value, inbox: bool) {
    let rows = items.as_array().cloned().unwrap_or_default();
    if rows.is_empty() {
        println!("(none)");
    }
    for d in rows {
        let s = |k: &str| d[k].as_str().unwrap_or("").to_owned();
        let urgent = if d["immediate_confirmation"] == true { " [立即確認]" } else { "" };
        let who = if inbox { format!("from {}", s("sender")) } else { format!("to {}", s("recipient")) };
        let reason = d["return_reason"].as_str().map(|r| format!(" 退文原因: {r}")).unwrap_or_default();
        let paper = d["paper_resend_at"].as_str().map(|t| format!(" 已補發紙本 {t}")).unwrap_or_default();
        println!(
            "{}  {:<9}  {} {} {}{urgent}  {}{reason}{paper}",
            s("id"),
            s("state"),
            who,
            s("document_number"),
            s("speed"),
            s("subject")
        );
    }
}

async fn serve(
    dir: &Path,
    https: Vec<SocketAddr>,
    http: Vec<SocketAddr>,
    database: Option<String>,
) -> anyhow::Result<()> {
    let mut config = load_config(dir, database)?;
    if !https.is_empty() {
        config.server.https = https;
    }
    if !http.is_empty() {
        config.server.http = http;
    }
    let store = Store::open(&config.database_url()).await.context("open the database")?;
    let hub = Hub::start(config, store, Arc::new(crate::runtime::clock::SystemClock)).await?;
    for a in &hub.https {
        println!("gwx hub: https://{a}/  (plain HTTP {:?} redirects)", hub.http);
    }

    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        tokio::select! {
            _ = hup.recv() => match crate::service::trust::reload_on_signal(&hub.app).await {
                Ok(()) => tracing::info!("trust store reloaded"),
                Err(e) => tracing::error!(%e, "trust store reload failed; the previous one stays in force"),
            },
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
        }
    }
    tracing::info!("shutting down");
    hub.shutdown().await;
    Ok(())
}

fn print_demo_help(dir: &Path) {
    let d = dir.display();
    let code = crate::tools::demo::SECRETARIAT;
    println!(
        "demo hub created in {d}\n\n\
         run it:       gwx serve --dir {d}\n\
         try it:       curl --cacert {d}/certs/ca.pem --cert {d}/clients/{code}.pem --key {d}/clients/{code}.key https://localhost:8443/api/v1/whoami\n\
         as a client:  export GWX_HUB=https://localhost:8443 GWX_CA={d}/certs/ca.pem GWX_CERT={d}/clients/{code}.pem GWX_KEY={d}/clients/{code}.key\n\
         \x20             gwx whoami\n\
         send:         GWX_CERT={d}/clients/379130000C.pem GWX_KEY={d}/clients/379130000C.key gwx send tests/fixtures/letter/1153012345.di\n\
         receive:      gwx inbox; gwx fetch <delivery-id> --out received/; gwx confirm <delivery-id>\n\
         console:      https://localhost:8443/console/ (import {d}/clients/<code>.p12, password demo,\n\
         \x20             into the browser and trust {d}/certs/ca.pem); public roster: /roster\n\
         refusals:     {d}/clients/revoked.pem, expired.pem, untrusted.pem, unregistered.pem; {} only from 127.0.0.2",
        crate::tools::demo::ASSOCIATION
    );
}
