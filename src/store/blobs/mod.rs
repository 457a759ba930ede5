//! Content-addressed blob storage: every part of every package is stored
//! once, by its SHA-256, however many recipients it has (DESIGN §11).
//!
//! A part is received into memory and spills to a temporary file once it
//! outgrows its memory allowance, or once the [`MemoryBudget`] shared by
//! every upload in flight is spent, so a 100 MiB package (or many at once)
//! needs no more memory than the budget and a few chunks. When a package is accepted, each part is kept either
//! *inline* (small parts, the envelope, its signature and usually the DI:
//! stored in the database row of the blob, durable with the same commit
//! that accepts the document) or as a *file* (written and renamed into
//! `blobs/ab/<sha256>`, not yet synced). The attachment bytes so never pass
//! through the database's write-ahead log. The group committer makes every
//! file of a commit group durable with one `syncfs` of the blob file system
//! ([`BlobSync`]) before the transaction that refers to them. A refused
//! package costs no sync, and its temporary files are removed when dropped.

use std::io;
use std::path::{Path, PathBuf};

use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::domain::document::Sha256;
use crate::formats::attachment::{SNIFF_BYTES, TextCheck};

/// Parts up to this size are stored inline in the database (the parts the
/// hub parses are usually smaller; attachments usually larger).
pub const INLINE_MAX: u64 = 16 * 1024;

/// An attachment is received into memory up to this size (within the
/// budget), so a typical one is written to its file in one call.
pub const ATTACHMENT_MEMORY: usize = 64 * 1024;

/// The bytes all uploads in flight may hold in memory together; what does
/// not fit waits on disk.
#[derive(Debug, Clone)]
pub struct MemoryBudget {
    bytes: Arc<Semaphore>,
    total: usize,
}

impl MemoryBudget {
    pub fn new(total: usize) -> MemoryBudget {
        let total = total.clamp(1, Semaphore::MAX_PERMITS);
        MemoryBudget { bytes: Arc::new(Semaphore::new(total)), total }
    }

    /// `n` bytes now, if they are free.
    fn try_take(&self, n: usize) -> Option<OwnedSemaphorePermit> {
        self.bytes.clone().try_acquire_many_owned(u32::try_from(n).ok()?).ok()
    }

    /// `n` bytes (at most the whole budget), waiting until they are free.
    async fn take(&self, n: usize) -> OwnedSemaphorePermit {
        let n = u32::try_from(n.min(self.total)).unwrap_or(u32::MAX);
        self.bytes.clone().acquire_many_owned(n).await.expect("the budget's semaphore is never closed")
    }

    /// Bytes held at the moment.
    pub fn in_use(&self) -> usize {
        self.total - self.bytes.available_permits()
    }
}

/// Adds `more` to what `held` holds.
fn hold(held: &mut Option<OwnedSemaphorePermit>, more: OwnedSemaphorePermit) {
    match held {
        Some(h) => h.merge(more),
        None => *held = Some(more),
    }
}

pub mod s3;
mod scratch;

/// Where the blobs (attachments) are kept (DESIGN §11).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlobsConfig {
    /// `s3://bucket/prefix`: an S3-compatible object store, for several
    /// nodes. Absent: the directory `<data_dir>/blobs`.
    pub url: Option<String>,
    /// The store's address, e.g. `http://127.0.0.1:3900` for a local
    /// Garage (`http://` is allowed for loopback and private networks).
    pub endpoint: Option<String>,
    /// Default: `AWS_REGION` / `AWS_DEFAULT_REGION`, else `us-east-1`.
    pub region: Option<String>,
    /// Default: `AWS_ACCESS_KEY_ID`.
    pub access_key_id: Option<String>,
    /// Default: `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: Option<String>,
}

/// Where the blobs are: a directory (one node, or a directory every node
/// mounts) or an S3-compatible object store (several nodes).
#[derive(Debug, Clone)]
pub struct Blobs {
    /// Where parts being received wait: the node's own directory under
    /// `data/tmp`, on the file system of a `blobs/` directory.
    tmp: PathBuf,
    /// Holds that directory for this node while it runs.
    _scratch: Option<Arc<scratch::Scratch>>,
    backend: Backend,
}

#[derive(Debug, Clone)]
enum Backend {
    Dir { dir: PathBuf, sync: BlobSync },
    Object(Arc<s3::ObjectBlobs>),
}

/// A stored blob's bytes, as they are read.
pub type BlobReader = std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send>>;

/// The name of the marker (in the blob directory, or under the bucket's
/// prefix) that holds the store's identity.
const MARKER: &str = "gwx-blob-store.json";

/// Which blob store this is: `id` is drawn once, when the store is first
/// used, and kept in the store itself, so the same store reached by another
/// path or address is still recognised; `location` says where it is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoreIdentity {
    pub id: String,
    pub location: String,
}

/// Makes the blob files written so far durable: one `syncfs` of the file
/// system that holds `blobs/` (file contents, the renames and new
/// directories alike), called once per commit group before the
/// transaction that refers to them. Elsewhere than Linux: a `sync`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobSync(Arc<PathBuf>);

impl BlobSync {
    /// Blocks until every blob file written before the call is on disk.
    pub fn sync(&self) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let dir = std::fs::File::open(&*self.0)?;
            // SAFETY: the descriptor is open for as long as `dir` lives.
            if unsafe { libc::syncfs(dir.as_raw_fd()) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            // SAFETY: sync(2) takes no arguments and cannot fail.
            unsafe { libc::sync() };
        }
        Ok(())
    }
}

/// What the database already holds of a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known {
    No,
    /// Its bytes in its row (kept inline again, so the row is whole even
    /// if a purge removes it meanwhile).
    Inline,
    /// A durable file.
    File,
}

/// Where a kept part lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kept {
    /// In the database: these bytes go into the blob's row.
    Inline(Vec<u8>),
    /// A file under `blobs/` (durable once synced); `created` when this call put it there
    /// (it was not stored before), so a failed acceptance can take it back.
    File { created: bool },
}

impl Blobs {
    /// Opens the blob store `config` names (the data directory's `blobs`
    /// by default) and makes this node's scratch directory under
    /// `data_dir/tmp`; the leftovers of nodes no longer running (an
    /// interrupted upload) are removed there, those of running nodes that
    /// share the data directory left alone.
    pub fn open(data_dir: &Path, config: &BlobsConfig) -> anyhow::Result<Blobs> {
        let mut blobs = Blobs::at(data_dir, config)?;
        if let Backend::Dir { dir, .. } = &blobs.backend {
            std::fs::create_dir_all(dir)?;
        }
        let scratch = scratch::Scratch::create(&blobs.tmp)?;
        blobs.tmp = scratch.dir.clone();
        blobs._scratch = Some(Arc::new(scratch));
        Ok(blobs)
    }

    /// The blob store as it is, for tools that run beside a serving hub
    /// (its temporary files are left alone).
    pub fn at(data_dir: &Path, config: &BlobsConfig) -> anyhow::Result<Blobs> {
        let tmp = data_dir.join("tmp");
        if config.url.is_some() {
            let store = s3::ObjectBlobs::connect(config)?;
            return Ok(Blobs { tmp, _scratch: None, backend: Backend::Object(Arc::new(store)) });
        }
        Ok(Blobs::dir(&data_dir.join("blobs"), tmp))
    }

    /// Blobs in the directory `dir` (`ab/<sha256>`).
    pub fn dir(dir: &Path, tmp: PathBuf) -> Blobs {
        Blobs {
            tmp,
            _scratch: None,
            backend: Backend::Dir { sync: BlobSync(Arc::new(dir.to_owned())), dir: dir.to_owned() },
        }
    }

    /// `file` or `object`: what a blob is in this store, for messages.
    pub fn noun(&self) -> &'static str {
        match self.backend {
            Backend::Dir { .. } => "file",
            Backend::Object(_) => "object",
        }
    }

    /// Where the store is, for messages.
    pub fn location(&self) -> String {
        match &self.backend {
            Backend::Dir { dir, .. } => format!("the directory {}", dir.display()),
            Backend::Object(o) => format!("the object store {}", o.location),
        }
    }

    /// Whether this is an object store.
    pub fn is_object_store(&self) -> bool {
        matches!(self.backend, Backend::Object(_))
    }

    /// This store's identity, read from its marker; one is drawn and
    /// written when it has none yet (a new store, or one from before the
    /// marker existed) and `create`.
    pub async fn identity(&self, create: bool) -> io::Result<Option<StoreIdentity>> {
        let location = self.location();
        let found = match &self.backend {
            Backend::Dir { dir, .. } => match tokio::fs::read(dir.join(MARKER)).await {
                Ok(b) => Some(b),
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => return Err(e),
            },
            Backend::Object(o) => match o.get(&o.marker()).await {
                Ok((mut r, _)) => {
                    let mut b = Vec::new();
                    tokio::io::AsyncReadExt::read_to_end(&mut r, &mut b).await?;
                    Some(b)
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => return Err(e),
            },
        };
        if let Some(bytes) = found {
            let id: StoreIdentity = serde_json::from_slice(&bytes)
                .map_err(|e| io::Error::other(format!("the blob store's {MARKER} is not readable: {e}")))?;
            return Ok(Some(StoreIdentity { id: id.id, location }));
        }
        if !create {
            return Ok(None);
        }
        let id = StoreIdentity { id: uuid::Uuid::now_v7().to_string(), location: location.clone() };
        let bytes = serde_json::to_vec_pretty(&id).map_err(io::Error::other)?;
        match &self.backend {
            Backend::Dir { dir, .. } => {
                tokio::fs::create_dir_all(dir).await?;
                let temp = dir.join(format!(".{MARKER}.{}", uuid::Uuid::now_v7().simple()));
                tokio::fs::write(&temp, &bytes).await?;
                tokio::fs::File::open(&temp).await?.sync_all().await?;
                tokio::fs::rename(&temp, dir.join(MARKER)).await?;
                tokio::fs::File::open(dir).await?.sync_all().await?;
            }
            Backend::Object(o) => o.put(&o.marker(), bytes).await?,
        }
        Ok(Some(id))
    }

    /// What makes this store's files durable, for the commit that refers to
    /// them: none for an object store (a PUT acknowledged is durable).
    pub fn syncer(&self) -> Option<BlobSync> {
        match &self.backend {
            Backend::Dir { sync, .. } => Some(sync.clone()),
            Backend::Object(_) => None,
        }
    }

    /// The file of blob `sha` in a directory store (none in an object store).
    pub fn local_path(&self, sha: &str) -> Option<PathBuf> {
        match &self.backend {
            Backend::Dir { dir, .. } => Some(dir.join(&sha[..2]).join(sha)),
            Backend::Object(_) => None,
        }
    }

    /// A new part to receive; it stays in memory up to `memory_cap` bytes
    /// while `budget` has room for them.
    pub fn spool(&self, memory_cap: usize, budget: &MemoryBudget) -> Spool {
        Spool {
            budget: budget.clone(),
            held: None,
            tmp_dir: self.tmp.clone(),
            file: None,
            guard: TempGuard(None),
            hasher: openssl::sha::Sha256::new(),
            size: 0,
            head: Vec::with_capacity(SNIFF_BYTES),
            text: TextCheck::default(),
            memory: Vec::new(),
            memory_cap,
        }
    }

    /// Keeps a received part: inline when small, or when the database
    /// holds it inline already (the caller stores the bytes in the same
    /// transaction as the document), else in the store: a file under
    /// `blobs/`, not yet synced (the commit that refers to it first runs
    /// [`BlobSync::sync`]), or an object, uploaded (in parts when large)
    /// unless one of its size is there already. Bytes written from memory
    /// give their share of the intake budget back.
    /// `known`: what the database has of it; a durable blob is not written
    /// again, but one found without its row (an acceptance in flight, or
    /// one a crash interrupted) is.
    pub async fn keep(&self, spooled: &mut Spooled, known: Known) -> io::Result<Kept> {
        if spooled.bytes.is_some() && (spooled.size <= INLINE_MAX || known == Known::Inline) {
            return Ok(Kept::Inline(spooled.bytes.take().expect("checked")));
        }
        if known == Known::File {
            return Ok(Kept::File { created: false });
        }
        let sha = spooled.sha256.as_str().to_owned();
        let dir = match &self.backend {
            Backend::Dir { dir, .. } => dir,
            Backend::Object(o) => {
                let key = o.blob_key(&sha);
                // Content-addressed: an object of that name and size is these bytes.
                if o.size(&key).await? == Some(spooled.size) {
                    return Ok(Kept::File { created: false });
                }
                match (spooled.bytes.take(), &spooled.guard.0) {
                    (Some(bytes), _) => {
                        o.put(&key, bytes).await?;
                        spooled.held = None;
                    }
                    (None, Some(temp)) => o.put_file(&key, temp).await?,
                    (None, None) => return Err(io::Error::other("a spilled part without its file")),
                }
                return Ok(Kept::File { created: true });
            }
        };
        let target = dir.join(&sha[..2]).join(&sha);
        let temp = spooled.guard.0.take();
        let memory = if temp.is_none() { spooled.bytes.take() } else { None };
        let tmp_dir = self.tmp.clone();
        tokio::task::spawn_blocking(move || -> io::Result<()> {
            let parent = target.parent().expect("blob path has a parent");
            if !parent.exists() {
                std::fs::create_dir_all(parent)?;
            }
            let mut guard = TempGuard(temp);
            if let (None, Some(bytes)) = (&guard.0, memory) {
                // Guarded before it is written: a full disk leaves no part of it.
                let t = tmp_dir.join(uuid::Uuid::now_v7().to_string());
                guard.0 = Some(t.clone());
                std::fs::write(&t, bytes)?;
            }
            let Some(temp) = guard.0.as_ref() else { return Err(io::Error::other("a spilled part without its file")) };
            std::fs::rename(temp, &target)?;
            guard.0 = None;
            Ok(())
        })
        .await
        .map_err(io::Error::other)??;
        spooled.held = None;
        Ok(Kept::File { created: true })
    }

    /// Takes back blobs a failed acceptance created, unless a stored
    /// blob refers to one by now (an acceptance of the same bytes that
    /// committed meanwhile). Best effort: a blob left behind is one no
    /// row refers to, reused by a later acceptance of the same bytes.
    pub async fn take_back(&self, store: &crate::store::Store, created: &[crate::domain::document::Sha256]) {
        for sha in created {
            if !matches!(store.blob_stored(sha).await, Ok(Known::No)) {
                continue;
            }
            if let Err(e) = self.remove(sha.as_str()).await {
                tracing::warn!(%e, %sha, "cannot remove the blob of a failed acceptance");
            }
        }
    }

    /// Removes blob `sha` (absent already is no error).
    pub async fn remove(&self, sha: &str) -> io::Result<()> {
        match &self.backend {
            Backend::Dir { .. } => match tokio::fs::remove_file(self.local_path(sha).expect("a directory")).await {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            },
            Backend::Object(o) => o.delete(&o.blob_key(sha)).await,
        }
    }

    /// Whether blob `sha` is stored (as a file or object, of any size).
    pub async fn exists(&self, sha: &str) -> io::Result<bool> {
        match &self.backend {
            Backend::Dir { .. } => Ok(self.local_path(sha).expect("a directory").exists()),
            Backend::Object(o) => Ok(o.size(&o.blob_key(sha)).await?.is_some()),
        }
    }

    /// Blob `sha`'s bytes, to be read, and its stored size. Not found is
    /// an error of kind `NotFound`.
    pub async fn open_blob(&self, sha: &str) -> io::Result<(BlobReader, u64)> {
        match &self.backend {
            Backend::Dir { .. } => {
                let file = tokio::fs::File::open(self.local_path(sha).expect("a directory")).await?;
                let len = file.metadata().await?.len();
                Ok((Box::pin(file), len))
            }
            Backend::Object(o) => o.get(&o.blob_key(sha)).await,
        }
    }

    /// Reads blob `sha` whole: its size and SHA-256. With `copy`, the bytes
    /// are also written there (a backup).
    pub async fn digest(&self, sha: &str, mut copy: Option<&mut tokio::fs::File>) -> io::Result<(u64, [u8; 32])> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut r, _) = self.open_blob(sha).await?;
        let mut hasher = openssl::sha::Sha256::new();
        let mut size = 0u64;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = r.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            if let Some(out) = copy.as_deref_mut() {
                out.write_all(&buf[..n]).await?;
            }
            size += n as u64;
        }
        Ok((size, hasher.finish()))
    }

    /// Stores the file at `path` as blob `sha` (a restore; the caller has
    /// checked its bytes).
    pub async fn put_file(&self, sha: &str, path: &Path) -> io::Result<()> {
        match &self.backend {
            Backend::Dir { .. } => {
                let target = self.local_path(sha).expect("a directory");
                tokio::fs::create_dir_all(target.parent().expect("a parent")).await?;
                tokio::fs::copy(path, &target).await?;
                tokio::fs::File::open(&target).await?.sync_all().await
            }
            Backend::Object(o) => o.put_file(&o.blob_key(sha), path).await,
        }
    }

    /// Whether the store holds any blob (its marker aside).
    pub async fn holds_any(&self) -> io::Result<bool> {
        match &self.backend {
            Backend::Dir { dir, .. } => match std::fs::read_dir(dir) {
                Ok(mut entries) => Ok(entries.any(|e| e.is_ok_and(|e| e.file_name() != MARKER))),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
                Err(e) => Err(e),
            },
            Backend::Object(o) => o.any_blob().await,
        }
    }
}

/// Removes its temporary file when dropped, unless the blob was kept.
#[derive(Debug)]
struct TempGuard(Option<PathBuf>);

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// A part being received.
pub struct Spool {
    budget: MemoryBudget,
    /// The budget's bytes `memory` holds (its capacity).
    held: Option<OwnedSemaphorePermit>,
    tmp_dir: PathBuf,
    file: Option<tokio::fs::File>,
    guard: TempGuard,
    hasher: openssl::sha::Sha256,
    size: u64,
    head: Vec<u8>,
    text: TextCheck,
    memory: Vec<u8>,
    memory_cap: usize,
}

impl Spool {
    pub async fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.hasher.update(chunk);
        self.size += chunk.len() as u64;
        if self.head.len() < SNIFF_BYTES {
            let n = (SNIFF_BYTES - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..n]);
        }
        self.text.feed(chunk);
        if self.file.is_none() && self.keep_in_memory(chunk.len()) {
            self.memory.extend_from_slice(chunk);
            return Ok(());
        }
        if self.file.is_none() {
            let path = self.tmp_dir.join(uuid::Uuid::now_v7().to_string());
            let mut file = tokio::fs::OpenOptions::new().write(true).create_new(true).open(&path).await?;
            self.guard = TempGuard(Some(path));
            file.write_all(&std::mem::take(&mut self.memory)).await?;
            self.held = None;
            self.file = Some(file);
        }
        self.file.as_mut().expect("spilled").write_all(chunk).await
    }

    /// Whether `more` bytes fit in memory: within the part's allowance, and
    /// the budget has room for the buffer's growth (doubling, so that
    /// growing costs linear time).
    fn keep_in_memory(&mut self, more: usize) -> bool {
        let needed = self.memory.len() + more;
        if needed > self.memory_cap {
            return false;
        }
        let capacity = self.memory.capacity();
        if needed <= capacity {
            return true;
        }
        let grown = needed.max(capacity * 2).min(self.memory_cap);
        let Some(permit) = self.budget.try_take(grown - capacity) else { return false };
        hold(&mut self.held, permit);
        self.memory.reserve_exact(grown - self.memory.len());
        true
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub async fn finish(mut self) -> io::Result<Spooled> {
        let bytes = match self.file.take() {
            Some(mut f) => {
                f.flush().await?;
                None
            }
            None => Some(self.memory),
        };
        Ok(Spooled {
            held: self.held,
            sha256: Sha256::from_digest(self.hasher.finish()),
            size: self.size,
            head: self.head,
            is_text: self.text.finish(),
            bytes,
            guard: self.guard,
        })
    }
}

/// A received part: hashed, sized, in memory or in a temporary file.
#[derive(Debug)]
pub struct Spooled {
    pub sha256: Sha256,
    pub size: u64,
    /// The first bytes, for format sniffing.
    pub head: Vec<u8>,
    /// The whole part was UTF-8 text without NUL.
    pub is_text: bool,
    /// The bytes, when the part fit in its memory allowance (or was loaded).
    pub bytes: Option<Vec<u8>>,
    guard: TempGuard,
    /// The budget's bytes `bytes` holds.
    held: Option<OwnedSemaphorePermit>,
}

impl Spooled {
    /// The part's bytes in memory, read back from its temporary file if it
    /// was spilled: for the parts the hub parses (bounded by their limits).
    /// Waits for room in `budget` first, so parsing too stays within it.
    pub async fn load(&mut self, budget: &MemoryBudget) -> io::Result<&[u8]> {
        if self.bytes.is_none() {
            let permit = budget.take(usize::try_from(self.size).unwrap_or(usize::MAX)).await;
            let path = self.guard.0.as_ref().ok_or_else(|| io::Error::other("a spilled part without its file"))?;
            self.bytes = Some(tokio::fs::read(path).await?);
            hold(&mut self.held, permit);
        }
        Ok(self.bytes.as_deref().expect("loaded"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn receive(blobs: &Blobs, cap: usize, data: &[u8]) -> Spooled {
        let mut s = blobs.spool(cap, &MemoryBudget::new(64 << 20));
        for c in data.chunks(7) {
            s.write(c).await.unwrap();
        }
        s.finish().await.unwrap()
    }

    #[tokio::test]
    async fn uploads_share_one_memory_budget_and_spill_beyond_it() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::open(dir.path(), &BlobsConfig::default()).unwrap();
        let budget = MemoryBudget::new(100);
        let first = {
            let mut s = blobs.spool(80, &budget);
            s.write(&[1; 80]).await.unwrap();
            s.finish().await.unwrap()
        };
        assert!(first.bytes.is_some());
        assert_eq!(budget.in_use(), 80);
        // The second upload finds only 20 bytes free: it goes to disk.
        let mut second = {
            let mut s = blobs.spool(80, &budget);
            s.write(&[2; 50]).await.unwrap();
            s.finish().await.unwrap()
        };
        assert!(second.bytes.is_none(), "spilled");
        assert_eq!(budget.in_use(), 80);
        // Read back to be parsed once the first is done with its share.
        drop(first);
        assert_eq!(second.load(&budget).await.unwrap(), &[2; 50]);
        assert_eq!(budget.in_use(), 50);
        drop(second);
        assert_eq!(budget.in_use(), 0);
    }

    #[tokio::test]
    async fn small_parts_inline_large_ones_once_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::open(dir.path(), &BlobsConfig::default()).unwrap();
        let mut small = receive(&blobs, 1024, "公文 body".as_bytes()).await;
        assert_eq!(small.sha256, Sha256::of("公文 body".as_bytes()));
        assert!(small.is_text);
        assert_eq!(blobs.keep(&mut small, Known::No).await.unwrap(), Kept::Inline("公文 body".as_bytes().to_vec()));

        let big = vec![7u8; INLINE_MAX as usize + 10];
        let mut a = receive(&blobs, 16, &big).await;
        assert!(a.bytes.is_none(), "spilled to a file");
        assert_eq!(blobs.keep(&mut a, Known::No).await.unwrap(), Kept::File { created: true });
        blobs.syncer().expect("a directory").sync().unwrap();
        assert_eq!(std::fs::read(blobs.local_path(a.sha256.as_str()).unwrap()).unwrap(), big);
        // The same content again, this time from memory, once the database
        // knows it: stored once. Not known (an interrupted acceptance left
        // the file), it is written again, whole.
        let mut b = receive(&blobs, big.len(), &big).await;
        assert_eq!(blobs.keep(&mut b, Known::File).await.unwrap(), Kept::File { created: false });
        std::fs::write(blobs.local_path(a.sha256.as_str()).unwrap(), b"torn").unwrap();
        let mut c = receive(&blobs, big.len(), &big).await;
        assert_eq!(blobs.keep(&mut c, Known::No).await.unwrap(), Kept::File { created: true });
        assert_eq!(std::fs::read(blobs.local_path(a.sha256.as_str()).unwrap()).unwrap(), big);
        // A refused part leaves nothing behind.
        drop(receive(&blobs, 16, &big).await);
        assert_eq!(std::fs::read_dir(&blobs.tmp).unwrap().count(), 0);
        let stored: Vec<_> = std::fs::read_dir(dir.path().join("blobs")).unwrap().collect();
        assert_eq!(stored.len(), 1);
    }
}
