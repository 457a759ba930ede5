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

#[derive(Debug, Clone)]
pub struct Blobs {
    dir: PathBuf,
    tmp: PathBuf,
    sync: BlobSync,
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
    /// Opens (creating) `data_dir/blobs` and `data_dir/tmp`; leftovers of an
    /// interrupted upload in `tmp` are removed.
    pub fn open(data_dir: &Path) -> io::Result<Blobs> {
        let dir = data_dir.join("blobs");
        let tmp = data_dir.join("tmp");
        std::fs::create_dir_all(&dir)?;
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp)?;
        Ok(Blobs::at(data_dir))
    }

    /// The blobs of `data_dir` as they are, for tools that run beside a
    /// serving hub (its temporary files are left alone).
    pub fn at(data_dir: &Path) -> Blobs {
        let dir = data_dir.join("blobs");
        Blobs { sync: BlobSync(Arc::new(dir.clone())), dir, tmp: data_dir.join("tmp") }
    }

    /// What makes this store's files durable, for the commit that refers to them.
    pub fn syncer(&self) -> BlobSync {
        self.sync.clone()
    }

    pub fn path(&self, sha: &str) -> PathBuf {
        self.dir.join(&sha[..2]).join(sha)
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
    /// transaction as the document), else as a file under `blobs/`, not yet
    /// synced: the commit that refers to it first runs [`BlobSync::sync`].
    /// `known`: what the database has of it; a durable file is not written
    /// again, but one found without its row (an acceptance in flight, or
    /// one a crash interrupted) is.
    pub async fn keep(&self, spooled: &mut Spooled, known: Known) -> io::Result<Kept> {
        if spooled.bytes.is_some() && (spooled.size <= INLINE_MAX || known == Known::Inline) {
            return Ok(Kept::Inline(spooled.bytes.take().expect("checked")));
        }
        if known == Known::File {
            return Ok(Kept::File { created: false });
        }
        let target = self.path(spooled.sha256.as_str());
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
        Ok(Kept::File { created: true })
    }

    /// Takes back blob files a failed acceptance created, unless a stored
    /// blob refers to one by now (an acceptance of the same bytes that
    /// committed meanwhile). Best effort: a file left behind is one no blob
    /// refers to, reused by a later acceptance of the same bytes.
    pub async fn take_back(&self, store: &crate::store::Store, created: &[crate::domain::document::Sha256]) {
        for sha in created {
            if !matches!(store.blob_stored(sha).await, Ok(Known::No)) {
                continue;
            }
            if let Err(e) = tokio::fs::remove_file(self.path(sha.as_str())).await {
                tracing::warn!(%e, %sha, "cannot remove the blob file of a failed acceptance");
            }
        }
    }

    pub async fn open_blob(&self, sha: &str) -> io::Result<tokio::fs::File> {
        tokio::fs::File::open(self.path(sha)).await
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
        let blobs = Blobs::open(dir.path()).unwrap();
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
        let blobs = Blobs::open(dir.path()).unwrap();
        let mut small = receive(&blobs, 1024, "公文 body".as_bytes()).await;
        assert_eq!(small.sha256, Sha256::of("公文 body".as_bytes()));
        assert!(small.is_text);
        assert_eq!(blobs.keep(&mut small, Known::No).await.unwrap(), Kept::Inline("公文 body".as_bytes().to_vec()));

        let big = vec![7u8; INLINE_MAX as usize + 10];
        let mut a = receive(&blobs, 16, &big).await;
        assert!(a.bytes.is_none(), "spilled to a file");
        assert_eq!(blobs.keep(&mut a, Known::No).await.unwrap(), Kept::File { created: true });
        blobs.syncer().sync().unwrap();
        assert_eq!(std::fs::read(blobs.path(a.sha256.as_str())).unwrap(), big);
        // The same content again, this time from memory, once the database
        // knows it: stored once. Not known (an interrupted acceptance left
        // the file), it is written again, whole.
        let mut b = receive(&blobs, big.len(), &big).await;
        assert_eq!(blobs.keep(&mut b, Known::File).await.unwrap(), Kept::File { created: false });
        std::fs::write(blobs.path(a.sha256.as_str()), b"torn").unwrap();
        let mut c = receive(&blobs, big.len(), &big).await;
        assert_eq!(blobs.keep(&mut c, Known::No).await.unwrap(), Kept::File { created: true });
        assert_eq!(std::fs::read(blobs.path(a.sha256.as_str())).unwrap(), big);
        // A refused part leaves nothing behind.
        drop(receive(&blobs, 16, &big).await);
        assert_eq!(std::fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
        let stored: Vec<_> = std::fs::read_dir(dir.path().join("blobs")).unwrap().collect();
        assert_eq!(stored.len(), 1);
    }
}
