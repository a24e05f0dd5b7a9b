//! Writing output files safely: only when the bytes change (so modification
//! times mean something and cron runs touch nothing), and atomically (a
//! temporary file in the same folder, synced, then renamed over the old one),
//! so a reader or a full disk never sees half a feed.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

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
pub fn same_as(path: &Path, render: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> bool {
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
    fill: impl FnOnce(&mut fs::File) -> io::Result<()>,
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
        let mut file = fs::File::create(&tmp)?;
        fill(&mut file)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
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

    #[test]
    fn a_stream_is_compared_with_the_file_as_it_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feed.xml");
        fs::write(&path, b"abcdef").unwrap();
        let in_parts = |parts: &'static [&'static [u8]]| {
            move |out: &mut dyn Write| parts.iter().try_for_each(|p| out.write_all(p))
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
