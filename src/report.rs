//! What herald prints: diagnostics, the plan of a dry run, the summary of a
//! real run, as text for people or one JSON document for machines. Pure
//! functions from values to strings; the caller chooses the stream.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};
use serde::Serialize;

use crate::diagnostic::{Diagnostic, Level};
use crate::publish::Outcome;
use crate::publish::plan::{FeedStatus, Plan, relative_to};

/// Whether to colour, decided once from `--color` and the terminal.
#[derive(Debug, Clone, Copy)]
pub struct Palette {
    pub color: bool,
}

impl Palette {
    fn paint(&self, style: Style, text: &str) -> String {
        if self.color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    }

    fn level(&self, level: Level) -> String {
        let style = match level {
            Level::Error => AnsiColor::Red.on_default().bold(),
            Level::Warning => AnsiColor::Yellow.on_default().bold(),
        };
        self.paint(style, &level.to_string())
    }

    fn heading(&self, text: &str) -> String {
        self.paint(Style::new().bold(), text)
    }

    fn dim(&self, text: &str) -> String {
        self.paint(Style::new().dimmed(), text)
    }
}

/// `path:line:col: level: message`, the level coloured on a terminal.
pub fn diagnostic(d: &Diagnostic, palette: Palette) -> String {
    format!(
        "{}: {}: {}",
        d.location(),
        palette.level(d.level),
        d.message
    )
}

/// The text a dry run prints.
pub fn plan_text(plan: &Plan, palette: Palette, targets_configured: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {}",
        palette.heading("Dry run"),
        palette.dim(&format!(
            "at {}: nothing is written or sent",
            plan.now.format("%Y-%m-%d %H:%M:%S UTC")
        ))
    );
    let _ = writeln!(
        out,
        "\n{} {}",
        palette.heading(&format!(
            "Feeds in {}",
            crate::paths::display(&plan.feeds_dir)
        )),
        palette.dim(&format!("({} articles published)", plan.published))
    );
    if plan.feeds.is_empty() {
        let _ = writeln!(out, "  none: every feed format is turned off");
    }
    let width = plan
        .feeds
        .iter()
        .map(|f| {
            relative_to(&f.path, &plan.feeds_dir)
                .display()
                .to_string()
                .chars()
                .count()
        })
        .max()
        .unwrap_or(0);
    for f in &plan.feeds {
        let status = match f.status {
            FeedStatus::New => "new",
            FeedStatus::Changed => "changed",
            FeedStatus::Unchanged => "unchanged",
        };
        let _ = writeln!(
            out,
            "  {status:<10} {:<width$}  {:<14} {} {}",
            relative_to(&f.path, &plan.feeds_dir).display(),
            f.format.label(),
            f.items.len(),
            if f.items.len() == 1 { "item" } else { "items" },
        );
    }
    let by_id: std::collections::HashMap<&str, &crate::publish::plan::PlannedEntry> =
        plan.entries.iter().map(|e| (e.id.as_str(), e)).collect();
    if let Some(main) = plan.feeds.iter().find(|f| f.tag.is_none()) {
        let _ = writeln!(out, "\n{}", palette.heading("Items, newest first"));
        if main.items.is_empty() {
            let _ = writeln!(out, "  none yet");
        }
        for id in &main.items {
            if let Some(e) = by_id.get(id.as_str()) {
                let _ = writeln!(out, "  {}  {}", e.published.format("%Y-%m-%d"), e.title);
                let _ = writeln!(out, "              {}", palette.dim(id));
            }
        }
    }
    let errors: Vec<&Diagnostic> = plan.problems.iter().filter(|d| d.is_error()).collect();
    if !plan.skipped.is_empty() || !errors.is_empty() {
        let _ = writeln!(out, "\n{}", palette.heading("Left out"));
        for s in &plan.skipped {
            let _ = writeln!(out, "  {}  {}", crate::paths::display(&s.source), s.reason);
        }
        for d in &errors {
            let _ = writeln!(out, "  {}", diagnostic(d, palette));
        }
    }
    let warnings: Vec<&Diagnostic> = plan.problems.iter().filter(|d| !d.is_error()).collect();
    if !warnings.is_empty() {
        let _ = writeln!(out, "\n{}", palette.heading("Warnings"));
        for d in warnings {
            let _ = writeln!(out, "  {}", diagnostic(d, palette));
        }
    }
    if targets_configured > 0 {
        let _ = writeln!(
            out,
            "\n{}\n  not planned: this version of herald writes feeds only ({targets_configured} social targets configured)",
            palette.heading("Posts")
        );
    }
    out
}

/// The one line a real run prints when it changed something (cron stays
/// quiet otherwise).
pub fn outcome_line(plan: &Plan, outcome: &Outcome) -> Option<String> {
    if outcome.written.is_empty() {
        return None;
    }
    let names: Vec<String> = outcome
        .written
        .iter()
        .map(|p| relative_to(p, &plan.feeds_dir).display().to_string())
        .collect();
    Some(format!(
        "herald: wrote {} feed {} in {} ({})",
        names.len(),
        if names.len() == 1 { "file" } else { "files" },
        crate::paths::display(&plan.feeds_dir),
        names.join(", ")
    ))
}

#[derive(Serialize)]
struct JsonReport<'a> {
    dry_run: bool,
    #[serde(flatten)]
    plan: &'a Plan,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<&'a Outcome>,
}

/// The machine-readable document: the plan, and what was done if anything.
pub fn plan_json(plan: &Plan, outcome: Option<&Outcome>) -> String {
    let report = JsonReport {
        dry_run: outcome.is_none(),
        plan,
        outcome,
    };
    serde_json::to_string_pretty(&report).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}
