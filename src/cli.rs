//! The `gwx` command line: the hub (`serve`, `init`), operator commands and
//! the agency client commands.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::client::{Client, Identity};
use crate::config::Config;
use crate::server::Hub;
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
            crate::demo::init(&dir, database.as_deref(), force).await?;
            print_demo_help(&dir);
            Ok(())
        }
        Command::Serve { dir, https, http, database, init } => {
            if init && !dir.join(crate::config::CONFIG_FILE).exists() {
                crate::demo::init(&dir, database.as_deref(), false).await?;
                print_demo_help(&dir);
            }
            serve(&dir, https, http, database).await
        }
        Command::Log { command: LogCommand::Verify { dir, database } } => {
            let config = load_config(&dir, database)?;
            let store = Store::open(&config.database_url()).await?;
            match store.verify_log().await? {
                Ok(r) => {
                    println!(
                        "exchange log intact: {} entries checked, head #{} {}",
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
    let hub = Hub::start(config, store, Arc::new(crate::clock::SystemClock)).await?;
    for a in &hub.https {
        println!("gwx hub: https://{a}/  (plain HTTP {:?} redirects)", hub.http);
    }

    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        tokio::select! {
            _ = hup.recv() => match hub.app.tls.reload() {
                Ok(s) => {
                    let entry = crate::domain::log::NewLogEntry::new(
                        crate::domain::log::LogAction::TrustReloaded,
                        format!("{} (SIGHUP)", crate::http::describe_trust(&s)),
                    );
                    hub.app.log(&entry).await;
                    tracing::info!("trust store reloaded");
                }
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
    let code = crate::demo::SECRETARIAT;
    println!(
        "demo hub created in {d}\n\n\
         run it:       gwx serve --dir {d}\n\
         try it:       curl --cacert {d}/certs/ca.pem --cert {d}/clients/{code}.pem --key {d}/clients/{code}.key https://localhost:8443/api/v1/whoami\n\
         as a client:  export GWX_HUB=https://localhost:8443 GWX_CA={d}/certs/ca.pem GWX_CERT={d}/clients/{code}.pem GWX_KEY={d}/clients/{code}.key\n\
         \x20             gwx whoami\n\
         refusals:     {d}/clients/revoked.pem, expired.pem, untrusted.pem, unregistered.pem; {} only from 127.0.0.2",
        crate::demo::ASSOCIATION
    );
}
