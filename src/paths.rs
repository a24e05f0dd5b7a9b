//! Path helpers: lexical normalisation and display relative to the working
//! directory, so messages read `content/a.md` rather than
//! `/home/me/site/config/../content/a.md`.

use std::path::{Component, Path, PathBuf};

/// Joins `relative` onto `base` and removes `.` and `..` lexically (symlinks
/// are not resolved: the user's own spelling of the path is what they see).
pub fn resolve(base: &Path, relative: &Path) -> PathBuf {
    normalize(&base.join(relative))
}

/// Removes `.` and `..` components without touching the file system.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                let can_pop = matches!(out.components().next_back(), Some(Component::Normal(_)));
                if can_pop {
                    out.pop();
                } else if !out.has_root() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// The path as a user would type it from the working directory.
pub fn display(path: &Path) -> String {
    if path.is_absolute()
        && let Ok(cwd) = std::env::current_dir()
        && let Ok(rel) = path.strip_prefix(&cwd)
    {
        return rel.display().to_string();
    }
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_parent_components_lexically() {
        let cases = [
            ("config/../content", "content"),
            ("./config/./x", "config/x"),
            ("../a/b/../c", "../a/c"),
            ("/srv/site/config/../public", "/srv/site/public"),
            ("/..", "/"),
            ("a/..", "."),
        ];
        for (input, want) in cases {
            assert_eq!(normalize(Path::new(input)), PathBuf::from(want), "{input}");
        }
    }
}
