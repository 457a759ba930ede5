//! Content-addressed blob storage: every part of every package is stored
//! once, by its SHA-256, however many recipients it has (DESIGN §11).
//!
//! A part is received into memory and spills to a temporary file once it
//! outgrows its memory allowance, so a 100 MiB package needs no more memory
//! than a few chunks. When a package is accepted, each part is kept either
//! *inline* (small parts: stored in the database row of the blob, durable
//! with the same commit that accepts the document) or as a *file*
//! (fsync file → rename into `blobs/ab/<sha256>` → fsync directory, before
//! that commit). A refused package costs no fsync, and its temporary files
//! are removed when dropped.

use std::io;
use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt;

use crate::domain::document::Sha256;
use crate::formats::attachment::{SNIFF_BYTES, TextCheck};

/// Parts up to this size are stored inline in the database.
pub const INLINE_MAX: u64 = 64 * 1024;

#[derive(Debug, Clone)]
pub struct Blobs {
    dir: PathBuf,
    tmp: PathBuf,
}

/// Where a kept part lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kept {
    /// In the database: these bytes go into the blob's row.
    Inline(Vec<u8>),
    /// A durable file under `blobs/`.
    File,
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
        Ok(Blobs { dir, tmp })
    }

    pub fn path(&self, sha: &str) -> PathBuf {
        self.dir.join(&sha[..2]).join(sha)
    }

    /// A new part to receive; it stays in memory up to `memory_cap` bytes.
    pub fn spool(&self, memory_cap: usize) -> Spool {
        Spool {
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

    /// Makes a received part durable: inline when small (the caller stores
    /// the bytes in the same transaction as the document), else as a file.
    pub async fn keep(&self, spooled: &mut Spooled) -> io::Result<Kept> {
        if spooled.bytes.is_some() && spooled.size <= INLINE_MAX {
            return Ok(Kept::Inline(spooled.bytes.take().expect("checked")));
        }
        let target = self.path(spooled.sha256.as_str());
        let size = spooled.size;
        let temp = spooled.guard.0.take();
        let memory = if temp.is_none() { spooled.bytes.take() } else { None };
        let tmp_dir = self.tmp.clone();
        tokio::task::spawn_blocking(move || -> io::Result<()> {
            let parent = target.parent().expect("blob path has a parent");
            if !parent.exists() {
                std::fs::create_dir_all(parent)?;
                sync_dir(parent.parent().expect("blobs dir"))?;
            }
            let mut guard = TempGuard(match (temp, memory) {
                (Some(t), _) => Some(t),
                (None, Some(bytes)) => {
                    let t = tmp_dir.join(uuid::Uuid::now_v7().to_string());
                    std::fs::write(&t, bytes)?;
                    Some(t)
                }
                (None, None) => None,
            });
            let Some(temp) = guard.0.as_ref() else { return Ok(()) };
            if std::fs::metadata(&target).is_ok_and(|m| m.len() == size) {
                return Ok(()); // stored before; the guard removes the copy
            }
            std::fs::File::open(temp)?.sync_all()?;
            std::fs::rename(temp, &target)?;
            guard.0 = None;
            sync_dir(parent)
        })
        .await
        .map_err(io::Error::other)??;
        Ok(Kept::File)
    }

    pub async fn open_blob(&self, sha: &str) -> io::Result<tokio::fs::File> {
        tokio::fs::File::open(self.path(sha)).await
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
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
        if self.file.is_none() && self.memory.len() + chunk.len() <= self.memory_cap {
            self.memory.extend_from_slice(chunk);
            return Ok(());
        }
        if self.file.is_none() {
            let path = self.tmp_dir.join(uuid::Uuid::now_v7().to_string());
            let mut file = tokio::fs::OpenOptions::new().write(true).create_new(true).open(&path).await?;
            self.guard = TempGuard(Some(path));
            file.write_all(&std::mem::take(&mut self.memory)).await?;
            self.file = Some(file);
        }
        self.file.as_mut().expect("spilled").write_all(chunk).await
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
    /// The bytes, when the part fit in its memory allowance.
    pub bytes: Option<Vec<u8>>,
    guard: TempGuard,
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn receive(blobs: &Blobs, cap: usize, data: &[u8]) -> Spooled {
        let mut s = blobs.spool(cap);
        for c in data.chunks(7) {
            s.write(c).await.unwrap();
        }
        s.finish().await.unwrap()
    }

    #[tokio::test]
    async fn small_parts_inline_large_ones_once_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::open(dir.path()).unwrap();
        let mut small = receive(&blobs, 1024, "公文 body".as_bytes()).await;
        assert_eq!(small.sha256, Sha256::of("公文 body".as_bytes()));
        assert!(small.is_text);
        assert_eq!(blobs.keep(&mut small).await.unwrap(), Kept::Inline("公文 body".as_bytes().to_vec()));

        let big = vec![7u8; INLINE_MAX as usize + 10];
        let mut a = receive(&blobs, 16, &big).await;
        assert!(a.bytes.is_none(), "spilled to a file");
        assert_eq!(blobs.keep(&mut a).await.unwrap(), Kept::File);
        assert_eq!(std::fs::read(blobs.path(a.sha256.as_str())).unwrap(), big);
        // The same content again, this time from memory: stored once.
        let mut b = receive(&blobs, big.len(), &big).await;
        assert_eq!(blobs.keep(&mut b).await.unwrap(), Kept::File);
        // A refused part leaves nothing behind.
        drop(receive(&blobs, 16, &big).await);
        assert_eq!(std::fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
        let stored: Vec<_> = std::fs::read_dir(dir.path().join("blobs")).unwrap().collect();
        assert_eq!(stored.len(), 1);
    }
}
