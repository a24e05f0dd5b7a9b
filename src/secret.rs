//! Values that must never appear in output (tokens, webhook URLs, passwords)
//! and the `${NAME}` references that fill them from the environment.
//!
//! A `Secret` keeps the text as written (`${SLACK_WEBHOOK_URL}`) and is
//! resolved only when a request is sent, so a plan, a dry run and every
//! error print the variable's name, never its value.

use std::fmt;

use serde::Deserialize;
use serde::de::Deserializer;

/// A value that must not appear in output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    template: String,
}

impl Secret {
    pub fn new(template: impl Into<String>) -> Self {
        Secret {
            template: template.into(),
        }
    }

    /// A value known only at run time (a session token): held as a secret
    /// so that it never prints, with no `${...}` expansion.
    pub fn literal(value: &str) -> Self {
        Secret::new(value.replace('$', "$$"))
    }

    /// The real value, with `${NAME}` taken from the environment and
    /// `${file:PATH}` from a file (a container's `/run/secrets/NAME`; one
    /// trailing line break is not part of the value).
    pub fn expose(&self) -> Result<String, MissingEnv> {
        expand_env(&self.template, &|name| match name.strip_prefix("file:") {
            Some(path) => std::fs::read_to_string(path).ok().map(|text| {
                text.strip_suffix("\r\n")
                    .or_else(|| text.strip_suffix('\n'))
                    .unwrap_or(&text)
                    .to_string()
            }),
            None => std::env::var(name).ok(),
        })
    }

    /// The environment variables it refers to, for messages that tell the
    /// owner what to set or fix.
    pub fn variables(&self) -> Vec<String> {
        env_names(&self.template)
    }

    /// What a dry run shows: the variable names, never their values. A
    /// URL written in the config shows its scheme and host (which say where
    /// the post goes and hold no credential), its path and query redacted.
    pub fn redacted(&self) -> String {
        let names = self.variables();
        if names.is_empty() {
            match url::Url::parse(&self.template) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
                    let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
                    format!(
                        "{}://{}{port}/[redacted]",
                        u.scheme(),
                        u.host_str().unwrap_or_default()
                    )
                }
                _ => "[redacted]".to_string(),
            }
        } else {
            names.iter().map(|n| format!("${{{n}}}")).collect()
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({})", self.redacted())
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// A secret is written as any scalar: a bot token or a numeric id
/// may be read by YAML as a number.
impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::units::Text::deserialize(d).map(|t| Secret::new(t.0))
    }
}

/// An environment variable a value refers to is not set (or, for
/// `file:PATH`, the file cannot be read or is empty).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", missing(.0))]
pub struct MissingEnv(pub String);

fn missing(name: &str) -> String {
    match name.strip_prefix("file:") {
        Some(path) => format!("the secret file {path} cannot be read or is empty"),
        None => format!("environment variable {name} is not set"),
    }
}

/// Expands `${NAME}` and `${NAME:-default}`; `$$` is a literal `$`.
pub fn expand_env(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, MissingEnv> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('{')
            && let Some(end) = inner.find('}')
        {
            let spec = &inner[..end];
            let (name, default) = match spec.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (spec, None),
            };
            match lookup(name).filter(|v| !v.is_empty()) {
                Some(value) => out.push_str(&value),
                None => match default {
                    Some(d) => out.push_str(d),
                    None => return Err(MissingEnv(name.to_string())),
                },
            }
            rest = &inner[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn env_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            rest = tail;
            continue;
        }
        let Some(inner) = after.strip_prefix('{') else {
            rest = after;
            continue;
        };
        match inner.find('}') {
            Some(end) => {
                let spec = &inner[..end];
                names.push(spec.split(":-").next().unwrap_or(spec).to_string());
                rest = &inner[end + 1..];
            }
            None => break,
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expand_env_handles_defaults_and_escapes() {
        let look = |n: &str| (n == "A").then(|| "x".to_string());
        assert_eq!(expand_env("${A}-${B:-d}-$$-$5", &look).unwrap(), "x-d-$-$5");
        assert_eq!(expand_env("${B}", &look), Err(MissingEnv("B".into())));
    }

    #[test]
    fn a_secret_can_come_from_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "s3cr3t\n").unwrap();
        let secret = Secret::new(format!("Bearer ${{file:{}}}", path.display()));
        assert_eq!(secret.expose().unwrap(), "Bearer s3cr3t");
        assert_eq!(secret.redacted(), format!("${{file:{}}}", path.display()));
        let gone = Secret::new("${file:/nonexistent/herald-secret}");
        assert_eq!(
            gone.expose().unwrap_err().to_string(),
            "the secret file /nonexistent/herald-secret cannot be read or is empty"
        );
    }

    #[test]
    fn secrets_print_their_variables_only() {
        let s = Secret::new("https://x.example/${A}/${B:-b}");
        assert_eq!(s.redacted(), "${A}${B}");
        assert_eq!(format!("{s:?}"), "Secret(${A}${B})");
        assert_eq!(Secret::new("plain").redacted(), "[redacted]");
        // A literal value with dollars is never expanded.
        assert_eq!(Secret::literal("a$b${C}").expose().unwrap(), "a$b${C}");
        assert_eq!(Secret::literal("a$b${C}").variables(), Vec::<String>::new());
    }
}
