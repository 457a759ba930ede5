//! The hub's own commands: `gwx init` (the ready demo) and `gwx serve`.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

use super::load_config;
use crate::http::server::Hub;
use crate::store::Store;

/// Creates the demo hub in `dir` and says how to use it.
pub async fn init(dir: &Path, database: Option<String>, force: bool) -> anyhow::Result<()> {
    crate::tools::demo::init(dir, database.as_deref(), force).await?;
    print_demo_help(dir);
    Ok(())
}

/// Runs the hub configured in `dir`; with `init`, first creates the demo
/// there if `dir` holds no hub yet.
pub async fn serve(
    dir: &Path,
    https: Vec<SocketAddr>,
    http: Vec<SocketAddr>,
    database: Option<String>,
    init: bool,
) -> anyhow::Result<()> {
    if init && !dir.join(crate::runtime::config::CONFIG_FILE).exists() {
        crate::tools::demo::init(dir, database.as_deref(), false).await?;
        print_demo_help(dir);
    }
    let mut config = load_config(dir, database)?;
    if !https.is_empty() {
        config.server.https = https;
    }
    if !http.is_empty() {
        config.server.http = http;
    }
    // Handlers first: a SIGHUP sent as soon as the hub says it listens
    // must reload the trust store, not end the process.
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let store = Store::open(&config.database_url()).await.context("open the database")?;
    let hub = Hub::start(config, store, Arc::new(crate::runtime::clock::SystemClock)).await?;
    for a in &hub.https {
        println!("gwx hub: https://{a}/  (plain HTTP {:?} redirects)", hub.http);
    }
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
