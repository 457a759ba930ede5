//! Content-addressed blob storage under the data directory: every part of
//! every package is stored once, by its SHA-256, however many recipients it
//! has (DESIGN §11).
//!
//! A part streams into a temporary file while it is hashed and sized, so a
//! 100 MiB package needs no more memory than one chunk. Keeping a blob is
//! fsync file → rename into `blobs/ab/<sha256>` → fsync directory; a refused
//! package's temporary files are removed when dropped.

use std::io;
use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt;

use crate::domain::document::Sha256;
use crate::formats::attachment::{SNIFF_BYTES, TextCheck};

#[derive(Debug, Clone)]
pub struct Blobs {
    dir: PathBuf,
    tmp: PathBuf,
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

    /// A new temporary file to stream a part into. Up to `keep_in_memory`
    /// bytes are also kept in memory (for the parts the hub parses).
    pub async fn spool(&self, keep_in_memory: usize) -> io::Result<Spool> {
        let path = self.tmp.join(uuid::Uuid::now_v7().to_string());
        let file = tokio::fs::OpenOptions::new().write(true).create_new(true).open(&path).await?;
        Ok(Spool {
            file,
            guard: TempGuard(Some(path)),
            hasher: openssl::sha::Sha256::new(),
            size: 0,
            head: Vec::with_capacity(SNIFF_BYTES),
            text: TextCheck::default(),
            memory: Vec::new(),
            keep_in_memory,
        })
    }

    /// Moves a spooled part into the store under its hash, durably. A blob
    /// already present (same hash, same size) is kept as it is.
    pub async fn keep(&self, spooled: &mut Spooled) -> io::Result<()> {
        let target = self.path(spooled.sha256.as_str());
        let Some(temp) = spooled.guard.0.take() else { return Ok(()) };
        let size = spooled.size;
        tokio::task::spawn_blocking(move || -> io::Result<()> {
            let parent = target.parent().expect("blob path has a parent");
            if !parent.exists() {
                std::fs::create_dir_all(parent)?;
                sync_dir(parent.parent().expect("blobs dir"))?;
            }
            match std::fs::metadata(&target) {
                Ok(m) if m.len() == size => {
                    std::fs::remove_file(&temp)?;
                    return Ok(());
                }
                _ => {}
            }
            std::fs::rename(&temp, &target)?;
            sync_dir(parent)
        })
        .await
        .map_err(io::Error::other)?
    }

    pub async fn open_blob(&self, sha: &str) -> io::Result<tokio::fs::File> {
        tokio::fs::File::open(self.path(sha)).await
    }

    pub async fn read(&self, sha: &str) -> io::Result<Vec<u8>> {
        tokio::fs::read(self.path(sha)).await
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
    file: tokio::fs::File,
    guard: TempGuard,
    hasher: openssl::sha::Sha256,
    size: u64,
    head: Vec<u8>,
    text: TextCheck,
    memory: Vec<u8>,
    keep_in_memory: usize,
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
        if self.memory.len() + chunk.len() <= self.keep_in_memory {
            self.memory.extend_from_slice(chunk);
        } else {
            self.keep_in_memory = 0;
            self.memory = Vec::new();
        }
        self.file.write_all(chunk).await
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Flushes and fsyncs the temporary file.
    pub async fn finish(mut self) -> io::Result<Spooled> {
        self.file.flush().await?;
        self.file.sync_all().await?;
        let in_memory = self.keep_in_memory > 0 || self.size == 0;
        Ok(Spooled {
            sha256: Sha256::from_digest(self.hasher.finish()),
            size: self.size,
            head: self.head,
            is_text: self.text.finish(),
            bytes: in_memory.then_some(self.memory),
            guard: self.guard,
        })
    }
}

/// A received part: hashed, sized, on disk (temporarily until kept).
#[derive(Debug)]
pub struct Spooled {
    pub sha256: Sha256,
    pub size: u64,
    /// The first bytes, for format sniffing.
    pub head: Vec<u8>,
    /// The whole part was UTF-8 text without NUL.
    pub is_text: bool,
    /// The bytes, when the part was small enough to keep in memory.
    pub bytes: Option<Vec<u8>>,
    guard: TempGuard,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stores_once_and_cleans_up_refusals() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::open(dir.path()).unwrap();
        let mut s = blobs.spool(1024).await.unwrap();
        s.write("公文".as_bytes()).await.unwrap();
        s.write(b" body").await.unwrap();
        let mut a = s.finish().await.unwrap();
        assert_eq!(a.sha256, Sha256::of("公文 body".as_bytes()));
        assert!(a.is_text);
        assert_eq!(a.bytes.as_deref(), Some("公文 body".as_bytes()));
        blobs.keep(&mut a).await.unwrap();
        assert_eq!(blobs.read(a.sha256.as_str()).await.unwrap(), "公文 body".as_bytes());

        // The same content again: stored once, the temporary file removed.
        let mut s = blobs.spool(0).await.unwrap();
        s.write("公文 body".as_bytes()).await.unwrap();
        let mut b = s.finish().await.unwrap();
        assert!(b.bytes.is_none());
        blobs.keep(&mut b).await.unwrap();
        // A refused part leaves nothing behind.
        let mut s = blobs.spool(0).await.unwrap();
        s.write(b"refused").await.unwrap();
        drop(s.finish().await.unwrap());
        assert_eq!(std::fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
        let stored: Vec<_> = std::fs::read_dir(dir.path().join("blobs")).unwrap().collect();
        assert_eq!(stored.len(), 1);
    }
}
