//! The `gwx` command line: the hub (`serve`, `init`), the clerk's client
//! commands and the operator's. Each command's work is in the file of its
//! kind; this file only parses and dispatches.

mod clerk;
mod hub;
mod operator;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

pub use clerk::{DeadlineList, GroupCommand, PackageArgs};
pub use operator::LogCommand;

use crate::client::{Client, Identity};
use crate::runtime::config::Config;

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
    /// Check a hub's data: every blob against its SHA-256, the exchange
    /// log's chain, the configuration. Exit 1 when repairs are needed.
    Check {
        #[arg(long, default_value = "gwx-demo")]
        dir: PathBuf,
        #[arg(long, env = "GWX_DATABASE_URL")]
        database: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show who the hub thinks you are (participant, roles, source IP).
    Whoami {
        /// Print the hub's JSON.
        #[arg(long)]
        json: bool,
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
    /// Read a delivery as it reads on paper: the 公文 (any kind), its
    /// attachments, who sent it and when (Taipei time), after verifying the
    /// package's signature. Counts as reading it (a fetch).
    Show {
        /// Delivery id (from `gwx inbox`).
        id: String,
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

/// The hub configuration in `dir`, with the database URL given on the command line.
fn load_config(dir: &Path, database: Option<String>) -> anyhow::Result<Config> {
    let mut config = Config::load(dir)?;
    if database.is_some() {
        config.database.url = database;
    }
    Ok(config)
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Init { dir, database, force } => hub::init(&dir, database, force).await,
        Command::Serve { dir, https, http, database, init } => hub::serve(&dir, https, http, database, init).await,
        Command::Log { command: LogCommand::Verify { dir, database } } => operator::verify_log(&dir, database).await,
        Command::Check { dir, database, json } => operator::check(&dir, database, json).await,
        Command::Backup { dir, database, to } => operator::backup(&dir, database, &to).await,
        Command::Restore { dir, database, from } => operator::restore(&dir, database, &from).await,
        Command::Bench(args) => operator::bench(args).await,
        Command::Whoami { json, identity } => clerk::whoami(&identity, json).await,
        Command::Send { package, receipt, identity } => clerk::send(&identity, package, receipt.as_deref()).await,
        Command::Sign { package, out, identity } => clerk::sign(&identity, package, &out).await,
        Command::Inbox { state, wait, json, identity } => clerk::inbox(&identity, state, wait, json).await,
        Command::Fetch { id, out, identity } => clerk::fetch(&identity, &id, &out).await,
        Command::Show { id, identity } => clerk::show(&identity, &id).await,
        Command::Verify { dir, ca } => clerk::verify(&dir, &ca),
        Command::Confirm { id, identity } => clerk::confirm(&identity, &id).await,
        Command::Return { id, reason, identity } => clerk::return_(&identity, &id, &reason).await,
        Command::Status { document, json, identity } => clerk::status(&identity, &document, json).await,
        Command::PaperResend { id, note, identity } => clerk::paper_resend(&identity, &id, note).await,
        Command::Group { command, identity } => clerk::group(&Client::new(&identity)?, command).await,
        Command::Deadlines { list, format, identity } => clerk::deadlines(&Client::new(&identity)?, list, format).await,
    }
}
