//! Problems found in user input (articles, config), reported as
//! `path:line:col: level: message`, the shape editors and CI logs understand.
//!
//! A diagnostic is data, not an error: loading goes on past it, and the caller
//! decides what an error-level diagnostic means (exit 1 for `check`, a left-out
//! article for `feeds`).

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// How bad a problem is: an error leaves the article (or config) out, a warning
/// is repaired or ignored and reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Warning,
    Error,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Warning => "warning",
            Level::Error => "error",
        })
    }
}

/// One problem in one file, with a position when one is known (1-based).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Diagnostic {
    pub path: PathBuf,
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub level: Level,
    pub message: String,
}

impl Diagnostic {
    pub fn error(path: &Path, message: impl Into<String>) -> Self {
        Self::new(path, Level::Error, message)
    }

    pub fn warning(path: &Path, message: impl Into<String>) -> Self {
        Self::new(path, Level::Warning, message)
    }

    fn new(path: &Path, level: Level, message: impl Into<String>) -> Self {
        Diagnostic {
            path: path.to_path_buf(),
            line: None,
            column: None,
            level,
            message: message.into(),
        }
    }

    /// Places the problem at a line and column; 0 means "unknown".
    #[must_use]
    pub fn at(mut self, line: u32, column: u32) -> Self {
        self.line = (line > 0).then_some(line);
        self.column = (column > 0).then_some(column);
        self
    }

    pub fn is_error(&self) -> bool {
        self.level == Level::Error
    }

    /// `path:line:col` with whatever part of the position is known.
    pub fn location(&self) -> String {
        let mut out = crate::paths::display(&self.path);
        if let Some(line) = self.line {
            out.push_str(&format!(":{line}"));
            if let Some(column) = self.column {
                out.push_str(&format!(":{column}"));
            }
        }
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.location(), self.level, self.message)
    }
}
