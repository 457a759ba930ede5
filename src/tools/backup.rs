//! `gwx backup` and `gwx restore` (DESIGN §11): a consistent copy of the
//! database and the blobs (from the blob directory or the object store),
//! taken while the hub runs, and its restoration into an empty database and
//! an empty blob store (a data directory, or a bucket prefix), verified.
//!
//! Consistency: the database is copied as one snapshot (SQLite `VACUUM
//! INTO`; PostgreSQL `pg_dump --snapshot` of a snapshot exported by a
//! transaction that stays open meanwhile). The blob files to copy are the
//! ones *that snapshot* references; blobs are immutable and named by their
//! hash, so a file copied later is the same file. Each copied file is
//! hashed on the way, so a backup never holds a damaged blob unnoticed.
//!
//! A backup directory holds `gwx.db` (SQLite) or `gwx.pgdump` (PostgreSQL
//! custom format), `blobs/ab/<sha256>`, and `manifest.json`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail, ensure};

use crate::pki::digest_file;
use crate::runtime::config::BlobsConfig;
use crate::store::backup::{PgSnapshot, SnapshotFacts, pg_is_empty, sqlite_snapshot};
use crate::store::blobs::Blobs;
use crate::store::{Store, is_postgres_url};

/// What a backup holds, written as `manifest.json`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub gwx_version: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// `sqlite` or `postgres`.
    pub database: String,
    /// The log head in the snapshot.
    pub log_head_seq: i64,
    pub log_head_hash: String,
    /// Blob files copied (inline blobs travel inside the database).
    pub blob_files: u64,
    pub blob_bytes: u64,
}

const MANIFEST: &str = "manifest.json";

fn blob_path(root: &Path, sha: &str) -> PathBuf {
    root.join("blobs").join(&sha[..2]).join(sha)
}

/// Copies `from` to `to` (creating its directory), checking the SHA-256 of
/// the bytes against `sha`. Returns the size.
fn copy_verified(from: &Path, to: &Path, sha: &str) -> anyhow::Result<u64> {
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut dst = std::fs::File::create(to).with_context(|| format!("create {}", to.display()))?;
    let (size, digest) = digest_file(from, Some(&mut dst)).with_context(|| format!("copy blob {}", from.display()))?;
    dst.sync_all()?;
    let got = hex::encode(digest);
    ensure!(got == sha, "blob {} is damaged: its content hashes to {got}", from.display());
    Ok(size)
}

/// Copies blob `sha` from `blobs` to the file `to`, checking its SHA-256.
/// Returns the size.
async fn download_verified(blobs: &Blobs, sha: &str, to: &Path) -> anyhow::Result<u64> {
    if let Some(dir) = to.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    let mut dst = tokio::fs::File::create(to).await.with_context(|| format!("create {}", to.display()))?;
    let (size, digest) = blobs.digest(sha, Some(&mut dst)).await.with_context(|| format!("copy blob {sha}"))?;
    dst.sync_all().await?;
    let got = hex::encode(digest);
    ensure!(got == sha, "blob {sha} is damaged: its content hashes to {got}");
    Ok(size)
}

/// Hashes a file.
fn file_sha256(path: &Path) -> anyhow::Result<String> {
    let (_, digest) = digest_file(path, None).with_context(|| format!("read blob {}", path.display()))?;
    Ok(hex::encode(digest))
}

fn prepare_target(to: &Path) -> anyhow::Result<()> {
    if to.exists() {
        ensure!(
            std::fs::read_dir(to)?.next().is_none(),
            "{} is not empty: a backup goes into a new or empty directory",
            to.display()
        );
    }
    std::fs::create_dir_all(to).with_context(|| format!("create {}", to.display()))?;
    Ok(())
}

/// Backs up the hub whose database is `db_url` and whose blobs are in
/// `blobs`, into the new or empty directory `to`.
pub async fn backup(db_url: &str, blobs: &Blobs, to: &Path) -> anyhow::Result<Manifest> {
    prepare_target(to)?;
    let is_pg = is_postgres_url(db_url);
    let facts = if is_pg {
        let snapshot = PgSnapshot::open(db_url).await.context("connect to PostgreSQL")?;
        let dump = to.join("gwx.pgdump");
        let (url, name) = (db_url.to_owned(), snapshot.name.clone());
        let out = tokio::task::spawn_blocking(move || {
            Command::new("pg_dump")
                .args(["--format=custom", "--no-owner", "--snapshot", &name, "--file"])
                .arg(&dump)
                .arg(url)
                .output()
        })
        .await?
        .context("run pg_dump (install the PostgreSQL client tools)")?;
        ensure!(out.status.success(), "pg_dump failed: {}", String::from_utf8_lossy(&out.stderr).trim());
        let facts = snapshot.facts.clone();
        snapshot.close().await?;
        facts
    } else {
        sqlite_snapshot(db_url, &to.join("gwx.db")).await.context("snapshot the SQLite database (VACUUM INTO)")?
    };
    let SnapshotFacts { files, log_head: head } = facts;

    let mut blob_bytes = 0;
    for sha in &files {
        blob_bytes += download_verified(blobs, sha, &blob_path(to, sha)).await?;
    }
    let blob_files = files.len() as u64;

    let manifest = Manifest {
        format: 1,
        gwx_version: env!("CARGO_PKG_VERSION").to_owned(),
        created_at: chrono::Utc::now(),
        database: if is_pg { "postgres" } else { "sqlite" }.to_owned(),
        log_head_seq: head.0,
        log_head_hash: head.1,
        blob_files,
        blob_bytes,
    };
    std::fs::write(to.join(MANIFEST), serde_json::to_vec_pretty(&manifest)?)?;
    Ok(manifest)
}

/// What a restore found when it verified the result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Restored {
    pub manifest: Manifest,
    pub blobs_checked: u64,
    pub log_entries_checked: u64,
}

/// Restores the backup in `from` into the empty database `db_url`, the
/// data directory `data_dir` and the empty blob store `blobs` configures,
/// all or nothing: the blobs are copied (each checked against its name)
/// into a staging directory (or uploaded into the object store) and the
/// database restored into a staging file (SQLite) or in one transaction
/// (PostgreSQL); then every blob the database references and the log chain
/// are verified against the copy, the blob store is recorded as the
/// database's, and only then is it all moved into place. On any failure
/// the target is left as it was (empty: uploaded objects are removed
/// again), so the next, good backup can be restored into it.
pub async fn restore(from: &Path, db_url: &str, data_dir: &Path, blobs: &BlobsConfig) -> anyhow::Result<Restored> {
    let manifest: Manifest = serde_json::from_slice(
        &std::fs::read(from.join(MANIFEST)).with_context(|| format!("{} has no {MANIFEST}", from.display()))?,
    )
    .context("read the manifest")?;
    ensure!(manifest.format == 1, "unknown backup format {}", manifest.format);
    let is_pg = is_postgres_url(db_url);
    ensure!(
        (manifest.database == "postgres") == is_pg,
        "this is a {} backup; restore it into a {} database",
        manifest.database,
        manifest.database
    );
    let target_blobs = Blobs::at(data_dir, blobs)?;
    let blobs_dir = data_dir.join("blobs");
    if target_blobs.is_object_store() {
        if target_blobs.holds_any().await.context("reach the object store")? {
            bail!("the object store already holds blobs: restore into an empty bucket or prefix");
        }
    } else if blobs_dir.exists() && std::fs::read_dir(&blobs_dir)?.next().is_some() {
        bail!("{} already holds blobs: restore into an empty data directory", blobs_dir.display());
    }
    if is_pg {
        let empty = pg_is_empty(db_url).await.context("connect to PostgreSQL")?;
        ensure!(empty, "the database already has tables: restore into an empty database");
    } else {
        let target = Path::new(db_url);
        ensure!(!target.exists(), "{} exists: restore into an empty data directory", target.display());
    }

    std::fs::create_dir_all(data_dir).with_context(|| format!("create {}", data_dir.display()))?;
    let staging = Staging::new(data_dir, db_url, is_pg, target_blobs);
    match staged_restore(from, &manifest, &staging).await {
        Ok((blobs_checked, log_entries_checked)) => {
            staging.commit(&blobs_dir, db_url)?;
            Ok(Restored { manifest, blobs_checked, log_entries_checked })
        }
        Err(e) => {
            staging.abandon().await;
            Err(e.context("nothing was restored: the target is as it was"))
        }
    }
}

/// Where a restore is assembled before it is moved into place.
struct Staging {
    /// `DATA/.restore-<id>/`: its `blobs/` becomes `DATA/blobs`.
    dir: PathBuf,
    /// SQLite: the database file beside the target, renamed onto it at the end.
    sqlite: Option<PathBuf>,
    /// The target database.
    target: String,
    /// PostgreSQL: the restore was applied to the target (in one transaction).
    pg_applied: std::sync::atomic::AtomicBool,
    /// The object store the blobs go to (none: `dir/blobs`, moved into place).
    objects: Option<Blobs>,
    /// Where the blobs will be once in place.
    location: String,
    /// The objects uploaded so far, removed again if the restore fails.
    uploaded: std::sync::Mutex<Vec<String>>,
}

impl Staging {
    fn new(data_dir: &Path, db_url: &str, is_pg: bool, target: Blobs) -> Staging {
        let id = uuid::Uuid::now_v7().simple().to_string();
        let sqlite = (!is_pg).then(|| {
            let target = Path::new(db_url);
            let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "gwx.db".into());
            target.with_file_name(format!(".{name}.restore-{id}"))
        });
        Staging {
            dir: data_dir.join(format!(".restore-{id}")),
            sqlite,
            target: db_url.to_owned(),
            pg_applied: false.into(),
            location: target.location(),
            objects: target.is_object_store().then_some(target),
            uploaded: Default::default(),
        }
    }

    /// Where the restored blobs are while the restore is checked.
    fn blobs(&self) -> Blobs {
        match &self.objects {
            Some(o) => o.clone(),
            None => Blobs::dir(&self.dir.join("blobs"), self.dir.join("tmp")),
        }
    }

    /// The database the restore is written to: the staged SQLite file, or
    /// the PostgreSQL target itself.
    fn db_url(&self) -> String {
        self.sqlite.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| self.target.clone())
    }

    /// Moves the staged blobs and database into place (renames, on the
    /// same file system).
    fn commit(self, blobs_dir: &Path, db_url: &str) -> anyhow::Result<()> {
        if self.objects.is_none() {
            if blobs_dir.exists() {
                std::fs::remove_dir(blobs_dir).with_context(|| format!("{} is not empty", blobs_dir.display()))?;
            }
            std::fs::rename(self.dir.join("blobs"), blobs_dir).context("move the restored blobs into place")?;
        }
        if let Some(staged) = &self.sqlite {
            // Any journal left beside it travels with it.
            for suffix in ["-wal", "-shm"] {
                let side = PathBuf::from(format!("{}{suffix}", staged.display()));
                if side.exists() {
                    std::fs::rename(&side, format!("{db_url}{suffix}"))?;
                }
            }
            std::fs::rename(staged, db_url).context("move the restored database into place")?;
            if let Some(dir) = Path::new(db_url).parent() {
                std::fs::File::open(dir)?.sync_all()?;
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        Ok(())
    }

    /// Removes everything the restore made.
    async fn abandon(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some(objects) = &self.objects {
            let uploaded = std::mem::take(&mut *self.uploaded.lock().expect("uploaded lock"));
            for sha in uploaded {
                if let Err(e) = objects.remove(&sha).await {
                    tracing::error!(%e, %sha, "could not remove an object a failed restore uploaded");
                }
            }
        }
        if let Some(staged) = &self.sqlite {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", staged.display()));
            }
        }
        if self.pg_applied.load(std::sync::atomic::Ordering::SeqCst)
            && let Err(e) = crate::store::backup::pg_empty_again(&self.target).await
        {
            tracing::error!(%e, "could not empty the PostgreSQL target after a failed restore");
        }
    }
}

/// Copies, restores and verifies into `staging`. Returns (blobs, log entries) checked.
async fn staged_restore(from: &Path, manifest: &Manifest, staging: &Staging) -> anyhow::Result<(u64, u64)> {
    // The blob files, each checked against its name on the way.
    let (src, dst) = (from.to_owned(), staging.dir.clone());
    let to_objects = staging.objects.is_some();
    let files = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<(String, PathBuf)>> {
        std::fs::create_dir_all(dst.join("blobs"))?;
        let root = src.join("blobs");
        let mut files = Vec::new();
        if !root.exists() {
            return Ok(files);
        }
        for prefix in std::fs::read_dir(&root)? {
            let prefix = prefix?;
            if !prefix.file_type()?.is_dir() {
                continue;
            }
            for f in std::fs::read_dir(prefix.path())? {
                let f = f?;
                let sha = f.file_name().to_string_lossy().into_owned();
                if to_objects {
                    let got = file_sha256(&f.path())?;
                    ensure!(got == sha, "blob {} is damaged: its content hashes to {got}", f.path().display());
                } else {
                    copy_verified(&f.path(), &blob_path(&dst, &sha), &sha)?;
                }
                files.push((sha, f.path()));
            }
        }
        Ok(files)
    })
    .await??;
    if let Some(objects) = &staging.objects {
        for (sha, path) in files {
            staging.uploaded.lock().expect("uploaded lock").push(sha.clone());
            objects.put_file(&sha, &path).await.with_context(|| format!("upload blob {sha}"))?;
        }
    }

    let url = staging.db_url();
    match &staging.sqlite {
        Some(staged) => {
            std::fs::copy(from.join("gwx.db"), staged).context("copy the database")?;
            std::fs::File::open(staged)?.sync_all()?;
        }
        None => {
            staging.pg_applied.store(true, std::sync::atomic::Ordering::SeqCst);
            let out = Command::new("pg_restore")
                .args(["--no-owner", "--exit-on-error", "--single-transaction", "--dbname", &url])
                .arg(from.join("gwx.pgdump"))
                .output()
                .context("run pg_restore (install the PostgreSQL client tools)")?;
            ensure!(out.status.success(), "pg_restore failed: {}", String::from_utf8_lossy(&out.stderr).trim());
        }
    }
    let store = Store::open(&url).await.context("open the restored database")?;
    let verified = async {
        // A restored PostgreSQL database has no planner statistics yet.
        store.analyze().await.context("refresh the planner's statistics")?;
        let blobs = staging.blobs();
        let checked = verify(&store, &blobs).await?;
        let head_seq = store.log_head_seq().await?;
        ensure!(
            head_seq == manifest.log_head_seq,
            "the restored log ends at {head_seq}, the manifest says {}",
            manifest.log_head_seq
        );
        // The restored database belongs with the store it was restored into.
        let mut identity = blobs.identity(true).await?.expect("created when absent");
        identity.location = staging.location.clone();
        store.record_blob_store(&identity, chrono::Utc::now()).await?;
        Ok(checked)
    }
    .await;
    store.close().await;
    verified
}

/// Checks every blob (inline bytes or file) against its hash and the whole
/// log chain. Returns (blobs, log entries) checked.
pub async fn verify(store: &Store, blobs: &Blobs) -> anyhow::Result<(u64, u64)> {
    let mut checked = 0u64;
    let mut after = String::new();
    loop {
        let batch = store.blobs_after(&after, 200).await?;
        let Some(last) = batch.last() else { break };
        after = last.sha256.clone();
        for crate::store::backup::BlobRow { sha256: sha, data, .. } in batch {
            let got = match data {
                Some(bytes) => hex::encode(openssl::sha::sha256(&bytes)),
                None => hex::encode(blobs.digest(&sha, None).await.with_context(|| format!("read blob {sha}"))?.1),
            };
            ensure!(got == sha, "blob {sha} is damaged: its content hashes to {got}");
            checked += 1;
        }
    }
    let report = store.verify_log().await?.map_err(|b| anyhow::anyhow!("the exchange log chain is broken: {b}"))?;
    Ok((checked, report.checked))
}
