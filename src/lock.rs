//! One run at a time per ledger: an advisory lock on `<state.path>.lock`,
//! holding the owner's pid. The kernel drops the lock when the process ends,
//! however it ends, so a killed run never leaves a stale lock behind.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another herald run{} holds the lock on {}; nothing was done", .pid.map(|p| format!(" (pid {p})")).unwrap_or_default(), crate::paths::display(.path))]
    Held { path: PathBuf, pid: Option<u32> },
    #[error("cannot take the lock {}: {message}", crate::paths::display(.path))]
    Io { path: PathBuf, message: String },
}

/// The held lock; released when dropped.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
    pub path: PathBuf,
}

/// The lock file beside the ledger.
pub fn lock_path(state: &Path) -> PathBuf {
    let mut name = state
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".lock");
    state.with_file_name(name)
}

/// Takes the lock for `state`, waiting up to `wait` for another run.
pub fn acquire(state: &Path, wait: Option<Duration>) -> Result<RunLock, LockError> {
    let path = lock_path(state);
    let io = |e: std::io::Error| LockError::Io {
        path: path.clone(),
        message: e.to_string(),
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    // A symbolic link in the lock's place is refused, never followed: the
    // pid would otherwise overwrite whatever file it points to.
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW).mode(0o600);
    }
    let mut file = options.open(&path).map_err(|e| {
        if path.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink()) {
            LockError::Io {
                path: path.clone(),
                message: "it is a symbolic link, which herald does not follow; remove it (herald makes its own lock file)".to_string(),
            }
        } else {
            io(e)
        }
    })?;
    let deadline = wait.map(|w| Instant::now() + w);
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) => {
                if deadline.is_some_and(|d| Instant::now() < d) {
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
                return Err(LockError::Held {
                    path,
                    pid: holder_pid(&mut file),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
    }
    file.set_len(0).map_err(io)?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    write!(file, "{}", std::process::id()).map_err(io)?;
    file.flush().map_err(io)?;
    Ok(RunLock { _file: file, path })
}

/// The pid the holder wrote. A run that took the lock an instant ago may
/// not have written it yet: look again for a moment before giving up.
fn holder_pid(file: &mut File) -> Option<u32> {
    for _ in 0..20 {
        let mut text = String::new();
        if file.seek(SeekFrom::Start(0)).is_ok()
            && file.read_to_string(&mut text).is_ok()
            && let Ok(pid) = text.trim().parse()
        {
            return Some(pid);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_names_the_holder_and_the_first_is_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.db");
        let first = acquire(&state, None).unwrap();
        match acquire(&state, None) {
            Err(LockError::Held { pid, .. }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("{other:?}"),
        }
        drop(first);
        assert!(acquire(&state, Some(Duration::from_millis(10))).is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn a_lock_that_is_a_symbolic_link_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.db");
        let victim = dir.path().join("precious.txt");
        std::fs::write(&victim, "keep me").unwrap();
        std::os::unix::fs::symlink(&victim, lock_path(&state)).unwrap();
        match acquire(&state, None) {
            Err(LockError::Io { message, .. }) => {
                assert!(message.contains("symbolic link"), "{message}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    }

    #[test]
    fn a_holder_that_has_not_written_its_pid_yet_is_still_named() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.db");
        let path = lock_path(&state);
        let holder = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        holder.lock().unwrap();
        // The holder writes its pid a moment after taking the lock.
        let late = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            std::fs::write(&path, "4242").unwrap();
        });
        match acquire(&state, None) {
            Err(LockError::Held { pid, .. }) => assert_eq!(pid, Some(4242)),
            other => panic!("{other:?}"),
        }
        late.join().unwrap();
        drop(holder);
    }
}
