//! Writing output files safely: only when the bytes change (so modification
//! times mean something and cron runs touch nothing), and atomically (a
//! temporary file in the same folder, synced, then renamed over the old one),
//! so a reader or a full disk never sees half a feed.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` unless the file already holds exactly them.
/// Returns whether the file was written.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> io::Result<bool> {
    if same_contents(path, bytes) {
        return Ok(false);
    }
    write_atomic(path, bytes)?;
    Ok(true)
}

/// Whether the file at `path` holds exactly `bytes`, read in chunks (a large
/// feed is never loaded whole to be compared). Any error reads as "no".
pub fn same_contents(path: &Path, bytes: &[u8]) -> bool {
    use std::io::Read;
    let Ok(mut file) = fs::File::open(path) else {
        return false;
    };
    if file.metadata().map(|m| m.len()).ok() != Some(bytes.len() as u64) {
        return false;
    }
    let mut buf = vec![0u8; 64 * 1024];
    let mut offset = 0;
    loop {
        match file.read(&mut buf) {
            Ok(0) => return offset == bytes.len(),
            Ok(n) => {
                if offset + n > bytes.len() || buf[..n] != bytes[offset..offset + n] {
                    return false;
                }
                offset += n;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// Whether the file at `path` holds exactly what `render` writes, compared
/// as it is written (neither side is held whole), stopping at the first
/// difference. Any error reads as "no".
pub fn same_as(
    path: &Path,
    render: impl FnOnce(&mut (dyn Write + Send)) -> io::Result<()>,
) -> bool {
    let Ok(file) = fs::File::open(path) else {
        return false;
    };
    let mut comparer = Comparer {
        file: io::BufReader::with_capacity(256 * 1024, file),
        scratch: Vec::new(),
    };
    if render(&mut comparer).is_err() {
        return false;
    }
    // Equal so far: the file must also end here.
    matches!(io::Read::read(&mut comparer.file, &mut [0u8; 1]), Ok(0))
}

/// A writer that checks each write against the next bytes of a file and
/// fails at the first difference.
struct Comparer {
    file: io::BufReader<fs::File>,
    scratch: Vec<u8>,
}

impl Write for Comparer {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.scratch.resize(bytes.len(), 0);
        io::Read::read_exact(&mut self.file, &mut self.scratch)?;
        if self.scratch != bytes {
            return Err(io::Error::other("the file differs"));
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Replaces `path` with `bytes` in one step; on any failure the old file is
/// left as it was and the temporary file is removed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |file| file.write_all(bytes))
}

/// Replaces `path` with what `fill` writes, in one step: `fill` writes a
/// temporary file in the same folder, which is synced and renamed over
/// `path`. On any failure the old file is left as it was.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut WriteBehind) -> io::Result<()>,
) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = WriteBehind::new(fs::File::create(&tmp)?);
        fill(&mut file)?;
        file.file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// A file being written whose bytes start on their way to the disk every
/// few megabytes (Linux's `sync_file_range`, as RocksDB's `bytes_per_sync`
/// does), while the rest is still being made. The `fsync` that ends an
/// atomic write then waits for the last few megabytes only, not for a
/// whole feed of hundreds of MB after it was rendered. Elsewhere it is a
/// plain file.
pub struct WriteBehind {
    file: fs::File,
    written: u64,
    /// Where the bytes not yet sent on their way start.
    pending: u64,
}

/// How many bytes are written before they are sent on their way.
const WRITE_BEHIND: u64 = 8 << 20;

impl WriteBehind {
    fn new(file: fs::File) -> Self {
        WriteBehind {
            file,
            written: 0,
            pending: 0,
        }
    }

    /// The file itself (to set its permissions, say).
    pub fn file(&self) -> &fs::File {
        &self.file
    }

    /// Starts the disk's write of the bytes written since the last call.
    /// Advisory: a failure here changes nothing, since the final `fsync`
    /// reports every error.
    fn send_pending(&mut self) {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            // SAFETY: the descriptor is this open file's; the call reads
            // no memory of ours.
            unsafe {
                libc::sync_file_range(
                    self.file.as_raw_fd(),
                    self.pending as libc::off64_t,
                    (self.written - self.pending) as libc::off64_t,
                    libc::SYNC_FILE_RANGE_WRITE,
                );
            }
        }
        self.pending = self.written;
    }
}

impl Write for WriteBehind {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let n = self.file.write(bytes)?;
        self.written += n as u64;
        if self.written - self.pending >= WRITE_BEHIND {
            self.send_pending();
        }
        Ok(n)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let n = self.file.write_vectored(bufs)?;
        self.written += n as u64;
        if self.written - self.pending >= WRITE_BEHIND {
            self.send_pending();
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Replaces each of `paths` with what `fill` writes to it, each in one
/// step, as `write_atomic_with` does for one: `fill` writes temporary files
/// in the same order, which are synced and renamed over the paths. When
/// `fill` fails, every old file is left as it was.
pub fn write_atomic_many(
    paths: &[&Path],
    fill: impl FnOnce(&mut [WriteBehind]) -> io::Result<()>,
) -> Vec<io::Result<()>> {
    let mut temps: Vec<PathBuf> = Vec::with_capacity(paths.len());
    let opened: io::Result<Vec<WriteBehind>> = paths
        .iter()
        .map(|path| {
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            fs::create_dir_all(dir)?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
            let file = fs::File::create(&tmp)?;
            temps.push(tmp);
            Ok(WriteBehind::new(file))
        })
        .collect();
    let filled = opened.and_then(|mut files| {
        fill(&mut files)?;
        // Synced side by side: each waits on the disk.
        std::thread::scope(|scope| {
            let syncs: Vec<_> = files
                .iter()
                .map(|f| scope.spawn(move || f.file.sync_all()))
                .collect();
            syncs.into_iter().try_for_each(|s| {
                s.join()
                    .unwrap_or_else(|_| Err(io::Error::other("sync panicked")))
            })
        })
    });
    if let Err(e) = filled {
        for tmp in &temps {
            let _ = fs::remove_file(tmp);
        }
        return paths
            .iter()
            .map(|_| Err(io::Error::new(e.kind(), e.to_string())))
            .collect();
    }
    temps
        .iter()
        .zip(paths)
        .map(|(tmp, path)| {
            fs::rename(tmp, path).inspect_err(|_| {
                let _ = fs::remove_file(tmp);
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_only_when_bytes_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/feed.xml");
        assert!(write_if_changed(&path, b"one").unwrap());
        let mtime = fs::metadata(&path).unwrap().modified().unwrap();
        assert!(!write_if_changed(&path, b"one").unwrap());
        assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), mtime);
        assert!(write_if_changed(&path, b"two").unwrap());
        assert!(
            write_if_changed(&path, b"tw0").unwrap(),
            "same length, other bytes"
        );
        assert!(same_contents(&path, b"tw0"));
        assert!(!same_contents(&path, b"tw"));
        assert!(!same_contents(&dir.path().join("missing"), b""));
        assert_eq!(fs::read(&path).unwrap(), b"tw0");
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    /// A file of several write-behind steps, written in pieces of every
    /// size and vectored, ends up exactly as written.
    #[test]
    fn a_file_sent_on_its_way_in_steps_is_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.xml");
        let expected: Vec<u8> = (0..(2 * WRITE_BEHIND + 12_345))
            .map(|i| (i % 251) as u8)
            .collect();
        write_atomic_with(&path, |out| {
            let (head, tail) = expected.split_at(WRITE_BEHIND as usize - 7);
            for piece in head.chunks(100_003) {
                out.write_all(piece)?;
            }
            let (a, b) = tail.split_at(tail.len() / 2);
            let mut slices = [io::IoSlice::new(a), io::IoSlice::new(b)];
            let mut slices = &mut slices[..];
            while !slices.is_empty() {
                let n = out.write_vectored(slices)?;
                io::IoSlice::advance_slices(&mut slices, n);
            }
            assert_eq!(out.written, expected.len() as u64);
            assert!(out.pending >= WRITE_BEHIND, "sent on its way as written");
            Ok(())
        })
        .unwrap();
        assert!(fs::read(&path).unwrap() == expected);
    }

    #[test]
    fn several_files_are_replaced_together_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.xml"), dir.path().join("sub/b.json"));
        fs::write(&a, b"old").unwrap();
        let results = write_atomic_many(&[&a, &b], |files| {
            files[0].write_all(b"new a")?;
            files[1].write_all(b"new b")
        });
        assert!(results.iter().all(Result::is_ok));
        assert_eq!(fs::read(&a).unwrap(), b"new a");
        assert_eq!(fs::read(&b).unwrap(), b"new b");
        let results = write_atomic_many(&[&a, &b], |files| {
            files[0].write_all(b"half")?;
            Err(io::Error::other("the render failed"))
        });
        assert!(results.iter().all(Result::is_err));
        assert_eq!(fs::read(&a).unwrap(), b"new a", "the old file is intact");
        let leftovers = fs::read_dir(dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .count();
        assert_eq!(leftovers, 0);
    }

    #[test]
    fn a_stream_is_compared_with_the_file_as_it_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feed.xml");
        fs::write(&path, b"abcdef").unwrap();
        let in_parts = |parts: &'static [&'static [u8]]| {
            move |out: &mut (dyn Write + Send)| parts.iter().try_for_each(|p| out.write_all(p))
        };
        assert!(same_as(&path, in_parts(&[b"abc", b"", b"def"])));
        assert!(!same_as(&path, in_parts(&[b"abc", b"de"])), "shorter");
        assert!(!same_as(&path, in_parts(&[b"abcdef", b"g"])), "longer");
        assert!(
            !same_as(&path, in_parts(&[b"abX", b"def"])),
            "a byte differs"
        );
        assert!(!same_as(&dir.path().join("missing"), in_parts(&[b""])));
        // The comparison stops at the first difference: later parts are not
        // asked for.
        let mut asked = 0;
        let stopped = same_as(&path, |out| {
            for part in [b"zz", b"zz", b"zz"] {
                asked += 1;
                out.write_all(part)?;
            }
            Ok(())
        });
        assert!(!stopped);
        assert_eq!(asked, 1);
    }
}
