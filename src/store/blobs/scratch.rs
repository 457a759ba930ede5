//! A node's own scratch directory under `data/tmp`, where the parts it is
//! receiving wait. Several nodes may share one data directory (a mount
//! every node has): each works in `tmp/<id>/`, locked (`flock`) for as long
//! as the node runs, and a node that starts removes only the directories
//! no running node holds — those of nodes that crashed or stopped.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Suffix of a directory being created (not yet locked by its node).
const NEW: &str = ".new";

/// A node's scratch directory, removed when the last clone of its
/// [`Blobs`](super::Blobs) goes.
#[derive(Debug)]
pub(super) struct Scratch {
    pub(super) dir: PathBuf,
    /// Held open: the lock lasts as long as the file does.
    _lock: File,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Takes the lock of `dir` when nobody holds it (`Ok(None)`: held).
fn lock(dir: &Path) -> io::Result<Option<File>> {
    let file = File::open(dir)?;
    // SAFETY: flock on a descriptor this function owns.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(Some(file));
    }
    match io::Error::last_os_error() {
        e if e.raw_os_error() == Some(libc::EWOULDBLOCK) => Ok(None),
        e => Err(e),
    }
}

impl Scratch {
    /// Clears what no running node holds in `root` and makes this node's
    /// directory there.
    pub(super) fn create(root: &Path) -> io::Result<Scratch> {
        std::fs::create_dir_all(root)?;
        for entry in std::fs::read_dir(root)?.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else { continue };
            if !kind.is_dir() {
                // A file of an earlier version, which used `tmp` itself.
                let _ = std::fs::remove_file(&path);
                continue;
            }
            // Another node between creating and locking its directory.
            let young = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| SystemTime::now().duration_since(t).unwrap_or_default() < Duration::from_secs(60));
            if path.to_string_lossy().ends_with(NEW) && young {
                continue;
            }
            if let Ok(Some(_unheld)) = lock(&path) {
                let _ = std::fs::remove_dir_all(&path);
            }
        }
        // Created under a name others pass over, locked, then named: no
        // other node can see it unlocked.
        let id = uuid::Uuid::now_v7().simple().to_string();
        let new = root.join(format!("{id}{NEW}"));
        std::fs::create_dir(&new)?;
        let lock = lock(&new)?.ok_or_else(|| io::Error::other("a new scratch directory is locked already"))?;
        let dir = root.join(id);
        std::fs::rename(&new, &dir)?;
        Ok(Scratch { dir, _lock: lock })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_starting_node_clears_only_what_no_running_node_holds() {
        let root = tempfile::tempdir().unwrap();
        let running = Scratch::create(root.path()).unwrap();
        std::fs::write(running.dir.join("part"), b"in flight").unwrap();
        // A node that crashed: its directory is there, nobody holds it.
        let crashed = root.path().join("0192aaaa");
        std::fs::create_dir(&crashed).unwrap();
        std::fs::write(crashed.join("part"), b"left over").unwrap();
        std::fs::write(root.path().join("old-file"), b"an earlier version's").unwrap();

        let second = Scratch::create(root.path()).unwrap();
        assert!(running.dir.join("part").exists(), "the running node's part was removed");
        assert!(!crashed.exists(), "the crashed node's directory is left");
        assert!(!root.path().join("old-file").exists());
        assert_ne!(second.dir, running.dir);

        let dir = second.dir.clone();
        drop(second);
        assert!(!dir.exists(), "a node that stops leaves its directory");
    }
}
