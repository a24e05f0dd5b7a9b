//! What herald prints: diagnostics, the plan of a dry run, the summary of a
//! real run, as text for people or one JSON document for machines. Pure
//! functions from values to strings; the caller chooses the stream.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};
use serde::Serialize;

use crate::config::Config;
use crate::diagnostic::{Diagnostic, Level};
use crate::ledger::{Record, Status};
use crate::publish::Outcome;
use crate::publish::deliver::PostResult;
use crate::publish::plan::{FeedStatus, Plan, relative_to};
use crate::publish::posts::Action;

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
pub fn plan_text(plan: &Plan, palette: Palette, config: &Config, posting: bool) -> String {
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
    if posting {
        posts_text(&mut out, plan, palette, config);
    }
    out
}

fn posts_text(out: &mut String, plan: &Plan, palette: Palette, config: &Config) {
    // Adopting a fingerprint is bookkeeping, not a post.
    let shown: Vec<_> = plan
        .posts
        .iter()
        .filter(|p| p.action != Action::Adopt)
        .collect();
    let sending = shown.iter().filter(|p| p.action.sends()).count();
    let failing = shown
        .iter()
        .filter(|p| p.action.sends() && p.would_fail)
        .count();
    let counts = if failing > 0 {
        format!(
            "({sending} to send, of which {failing} would fail as configured; {} in all)",
            shown.len()
        )
    } else {
        format!("({sending} to send, {} in all)", shown.len())
    };
    let _ = writeln!(
        out,
        "\n{} {}",
        palette.heading("Posts"),
        palette.dim(&counts)
    );
    let enabled: Vec<_> = config.social.targets.iter().filter(|t| t.enabled).collect();
    if enabled.is_empty() {
        let _ = writeln!(out, "  none: no social targets are configured");
        return;
    }
    for target in enabled {
        let mine: Vec<_> = shown.iter().filter(|p| p.target == target.name).collect();
        // Notes read "<target>: …"; target names cannot contain ": ".
        let notes: Vec<&str> = plan
            .post_notes
            .iter()
            .filter_map(|n| n.strip_prefix(&format!("{}: ", target.name)))
            .collect();
        let note = (!notes.is_empty()).then(|| notes.join("; "));
        if mine.is_empty() {
            let _ = writeln!(
                out,
                "  {} ({}): nothing due{}",
                target.name,
                target.platform.kind(),
                note.map(|n| format!("; {n}")).unwrap_or_default()
            );
            continue;
        }
        if let Some(n) = note {
            let _ = writeln!(out, "  {} ({}): {n}", target.name, target.platform.kind());
        }
        for l in plan.learning.iter().filter(|l| l.target == target.name) {
            let _ = writeln!(
                out,
                "  {} ({}): {}",
                target.name,
                target.platform.kind(),
                palette.dim(&format!(
                    "a real run first asks {} (this plan uses what is known now):",
                    l.what
                ))
            );
            request_text(out, &l.request);
        }
        for p in mine {
            let _ = writeln!(
                out,
                "\n  {} {} {}  {}",
                palette.heading(&p.target),
                palette.dim(&format!("({})", p.platform)),
                p.action.word(),
                p.title
            );
            let _ = writeln!(out, "    why: {}", p.reason);
            if let Some(e) = &p.error {
                let _ = writeln!(out, "    {}: {e}", palette.level(Level::Error));
            }
            if let (Some(text), Some(count), Some(limit), Some(unit)) =
                (&p.text, p.count, p.limit, p.unit)
            {
                let _ = writeln!(out, "    text ({count}/{limit} {unit}):");
                for line in text.lines() {
                    let _ = writeln!(out, "      | {line}");
                }
            }
            if let Some(image) = &p.image {
                let _ = writeln!(out, "    image: {image}");
            }
            for n in &p.notes {
                let _ = writeln!(out, "    note: {n}");
            }
            for step in p.steps.preview() {
                let _ = writeln!(out, "    {}: {}", step.step, palette.dim(&step.note));
                request_text(out, &step.request);
                if let Some(other) = &step.otherwise {
                    let _ = writeln!(out, "    {}", palette.dim("otherwise:"));
                    request_text(out, other);
                }
                if let Some(check) = &step.check {
                    let _ = writeln!(
                        out,
                        "    {}",
                        palette.dim(
                            "if its answer is lost or refused, first asks whether the post exists:"
                        )
                    );
                    request_text(out, check);
                }
            }
        }
    }
}

fn request_text(out: &mut String, r: &crate::social::http::RequestPreview) {
    let _ = writeln!(
        out,
        "    {} {}",
        serde_json::to_string(&r.method)
            .unwrap_or_default()
            .trim_matches('"'),
        r.url
    );
    for (k, v) in &r.headers {
        let _ = writeln!(out, "      {k}: {v}");
    }
    if !r.body.is_null() {
        let body = serde_json::to_string_pretty(&r.body).unwrap_or_default();
        for line in body.lines() {
            let _ = writeln!(out, "      {line}");
        }
    }
}

/// The one line a real run prints when it did something (cron stays quiet
/// otherwise).
pub fn outcome_line(plan: &Plan, outcome: &Outcome, results: &[PostResult]) -> Option<String> {
    let mut parts = Vec::new();
    if !outcome.written.is_empty() {
        let names: Vec<String> = outcome
            .written
            .iter()
            .map(|p| relative_to(p, &plan.feeds_dir).display().to_string())
            .collect();
        parts.push(format!(
            "wrote {} feed {} in {} ({})",
            names.len(),
            if names.len() == 1 { "file" } else { "files" },
            crate::paths::display(&plan.feeds_dir),
            names.join(", ")
        ));
    }
    let summary = crate::publish::deliver::summary(results);
    if !summary.is_empty() {
        parts.push(summary);
    }
    (!parts.is_empty()).then(|| format!("herald: {}", parts.join("; ")))
}

/// `herald status` as a table.
pub fn status_table(records: &[Record], site: &str, palette: Palette) -> String {
    if records.is_empty() {
        return "no posts recorded yet\n".to_string();
    }
    let article = |id: &str| {
        id.strip_prefix(site)
            .map_or_else(|| id.to_string(), |p| format!("/{p}"))
    };
    let rows: Vec<[String; 6]> = records
        .iter()
        .map(|r| {
            let when = r
                .posted_at
                .or(r.last_attempt_at)
                .unwrap_or(r.updated_at)
                .format("%Y-%m-%d %H:%M")
                .to_string();
            let detail = match (r.status, &r.holder, r.claim_expires_at) {
                (Status::Posted, _, _) => r
                    .remote_url
                    .clone()
                    .or_else(|| r.remote_id.clone())
                    .unwrap_or_default(),
                // Whose claim it is (a host sharing the ledger is sending
                // it, or died while it did) and until when it holds.
                (Status::Pending, Some(holder), Some(until)) => format!(
                    "claimed by {holder} until {}",
                    until.format("%Y-%m-%d %H:%M")
                ),
                _ => r.last_error.clone().unwrap_or_default(),
            };
            [
                article(&r.article_id),
                r.target.clone(),
                r.status.to_string(),
                when,
                r.attempts.to_string(),
                detail,
            ]
        })
        .collect();
    let headers = [
        "ARTICLE",
        "TARGET",
        "STATUS",
        "WHEN (UTC)",
        "ATTEMPTS",
        "REMOTE URL / LAST ERROR",
    ];
    let mut widths = headers.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row.iter()).take(5) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: [&str; 6]| -> String {
        format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {:>w4$}  {}",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            cells[4],
            cells[5],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
            w4 = widths[4]
        )
        .trim_end()
        .to_string()
    };
    let _ = writeln!(out, "{}", palette.heading(&line(headers)));
    for row in &rows {
        let _ = writeln!(
            out,
            "{}",
            line([&row[0], &row[1], &row[2], &row[3], &row[4], &row[5]])
        );
    }
    out
}

#[derive(Serialize)]
struct JsonReport<'a> {
    dry_run: bool,
    #[serde(flatten)]
    plan: &'a Plan,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<&'a Outcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    results: Option<&'a [PostResult]>,
}

/// The machine-readable document: the plan, and what was done if anything.
pub fn plan_json(plan: &Plan, outcome: Option<&Outcome>, results: Option<&[PostResult]>) -> String {
    let report = JsonReport {
        dry_run: outcome.is_none(),
        plan,
        outcome,
        results,
    };
    serde_json::to_string_pretty(&report).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}
