//! Telling the outside that a run happened, so a dead cron job is noticed:
//! a health-check ping (healthchecks.io, Uptime Kuma: the URL on success,
//! the URL with `/fail` on failure) and a Prometheus text file (node
//! exporter's textfile collector reads it) with the run's numbers.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::MonitoringSettings;
use crate::publish::RunReport;

/// How long a ping may take; a slow monitor must not hold a cron run.
pub const PING_TIMEOUT: Duration = Duration::from_secs(10);

/// The Prometheus text exposition of one run (no report: it stopped
/// before deciding anything). `success` is the run's verdict (exit 0);
/// `last_success` the newest successful run's time, this one's when it
/// succeeded.
pub fn metrics_text(
    report: Option<&RunReport>,
    success: bool,
    duration: Duration,
    finished: DateTime<Utc>,
    last_success: Option<DateTime<Utc>>,
) -> String {
    let mut out = String::new();
    let mut counts: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for r in report.iter().flat_map(|r| &r.results) {
        *counts
            .entry((r.target.as_str(), r.status.as_str()))
            .or_default() += 1;
    }
    let _ = writeln!(
        out,
        "# HELP herald_posts Posts handled by the last run, by target and outcome."
    );
    let _ = writeln!(out, "# TYPE herald_posts gauge");
    for ((target, status), n) in &counts {
        let _ = writeln!(
            out,
            "herald_posts{{target=\"{}\",outcome=\"{}\"}} {n}",
            label(target),
            status
        );
    }
    let written = report
        .and_then(|r| r.outcome.as_ref())
        .map_or(0, |o| o.written.len());
    let _ = writeln!(
        out,
        "# HELP herald_feeds_written Feed files the last run wrote."
    );
    let _ = writeln!(out, "# TYPE herald_feeds_written gauge");
    let _ = writeln!(out, "herald_feeds_written {written}");
    let _ = writeln!(
        out,
        "# HELP herald_run_duration_seconds How long the last run took."
    );
    let _ = writeln!(out, "# TYPE herald_run_duration_seconds gauge");
    let _ = writeln!(
        out,
        "herald_run_duration_seconds {:.3}",
        duration.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "# HELP herald_run_success Whether the last run succeeded (exit 0)."
    );
    let _ = writeln!(out, "# TYPE herald_run_success gauge");
    let _ = writeln!(out, "herald_run_success {}", u8::from(success));
    let _ = writeln!(
        out,
        "# HELP herald_last_run_timestamp_seconds When the last run ended."
    );
    let _ = writeln!(out, "# TYPE herald_last_run_timestamp_seconds gauge");
    let _ = writeln!(
        out,
        "herald_last_run_timestamp_seconds {}",
        finished.timestamp()
    );
    if let Some(at) = last_success {
        let _ = writeln!(
            out,
            "# HELP herald_last_success_timestamp_seconds When a run last succeeded."
        );
        let _ = writeln!(out, "# TYPE herald_last_success_timestamp_seconds gauge");
        let _ = writeln!(
            out,
            "herald_last_success_timestamp_seconds {}",
            at.timestamp()
        );
    }
    out
}

/// A label value as the exposition format writes it.
fn label(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The last success recorded in an earlier metrics file.
fn previous_success(path: &Path) -> Option<DateTime<Utc>> {
    let text = std::fs::read_to_string(path).ok()?;
    let value = text
        .lines()
        .find_map(|l| l.strip_prefix("herald_last_success_timestamp_seconds "))?;
    DateTime::from_timestamp(value.trim().parse().ok()?, 0)
}

/// Writes the metrics file and pings the health check, as configured;
/// returns what could not be done, as warnings (neither stops a run).
pub async fn report(
    settings: &MonitoringSettings,
    run: Option<&RunReport>,
    success: bool,
    duration: Duration,
) -> Vec<String> {
    let mut warnings = Vec::new();
    let now = Utc::now();
    if let Some(path) = &settings.metrics_file {
        let last = if success {
            Some(now)
        } else {
            previous_success(path)
        };
        let text = metrics_text(run, success, duration, now, last);
        if let Err(e) = crate::fsio::write_atomic(path, text.as_bytes()) {
            warnings.push(format!(
                "cannot write the metrics file {}: {e}",
                crate::paths::display(path)
            ));
        }
    }
    if let Some(secret) = &settings.healthcheck_url {
        match secret.expose() {
            Err(e) => warnings.push(format!("monitoring.healthcheck_url: {e}")),
            Ok(url) => {
                let url = if success {
                    url
                } else {
                    format!("{}/fail", url.trim_end_matches('/'))
                };
                let sent = match reqwest::Client::builder().timeout(PING_TIMEOUT).build() {
                    Ok(client) => client.get(&url).send().await.map(|r| r.status()),
                    Err(e) => Err(e),
                };
                match sent {
                    Ok(status) if status.is_success() => {}
                    Ok(status) => warnings.push(format!(
                        "the health check answered HTTP {status} (monitoring.healthcheck_url)"
                    )),
                    Err(e) => warnings.push(format!(
                        "the health check could not be pinged (monitoring.healthcheck_url): {}",
                        crate::social::http::redact_url(&e.to_string())
                    )),
                }
            }
        }
    }
    warnings
}
