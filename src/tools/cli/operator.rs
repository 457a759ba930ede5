//! The operator's commands: the exchange log's chain check, backup and
//! restore, and the benchmark.

use std::path::Path;

use super::load_config;
use crate::store::Store;

#[derive(clap::Subcommand)]
pub enum LogCommand {
    /// Check the hash chain of the exchange log.
    Verify {
        #[arg(long, default_value = "gwx-demo")]
        dir: std::path::PathBuf,
        #[arg(long, env = "GWX_DATABASE_URL")]
        database: Option<String>,
    },
}

/// Checks the hash chain of the exchange log (from the retention checkpoint).
pub async fn verify_log(dir: &Path, database: Option<String>) -> anyhow::Result<()> {
    let config = load_config(dir, database)?;
    let store = Store::open(&config.database_url()).await?;
    match store.verify_log().await? {
        Ok(r) => {
            let from = r.checkpoint.map(|c| format!(" from the retention checkpoint #{c}")).unwrap_or_default();
            println!("exchange log intact: {} entries checked{from}, head #{} {}", r.checked, r.head_seq, r.head_hash);
            Ok(())
        }
        Err(b) => anyhow::bail!("exchange log chain broken: {b}"),
    }
}

/// `gwx check`: every blob, the whole log chain and the configuration.
/// Fails (exit 1) when anything needs repair.
pub async fn check(dir: &Path, database: Option<String>, json: bool) -> anyhow::Result<()> {
    let config = load_config(dir, database)?;
    let store = Store::open(&config.database_url()).await?;
    let blobs = crate::store::blobs::Blobs::at(&config.data_dir(), &config.blobs)?;
    let report = crate::service::check::full(&config, &store, &blobs, chrono::Utc::now()).await?;
    store.close().await;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for n in &report.notes {
            println!("note: {n}");
        }
        for p in &report.problems {
            println!("PROBLEM: {p}");
        }
        println!(
            "{} blobs checked ({} damaged, {} whole again), {} log entries checked: {}",
            report.blobs_checked,
            report.blobs_damaged,
            report.blobs_healed,
            report.log_entries_checked,
            if report.ok() { "all is well" } else { "repairs needed" }
        );
    }
    anyhow::ensure!(report.ok(), "{} problems found", report.problems.len());
    Ok(())
}

pub async fn backup(dir: &Path, database: Option<String>, to: &Path) -> anyhow::Result<()> {
    let config = load_config(dir, database)?;
    let blobs = crate::store::blobs::Blobs::at(&config.data_dir(), &config.blobs)?;
    let m = crate::tools::backup::backup(&config.database_url(), &blobs, to).await?;
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

pub async fn restore(dir: &Path, database: Option<String>, from: &Path) -> anyhow::Result<()> {
    let config = load_config(dir, database)?;
    let r = crate::tools::backup::restore(from, &config.database_url(), &config.data_dir(), &config.blobs).await?;
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

pub async fn bench(args: crate::tools::bench::BenchArgs) -> anyhow::Result<()> {
    let json = args.json;
    let report = crate::tools::bench::run(args).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        crate::tools::bench::print(&report);
    }
    Ok(())
}
