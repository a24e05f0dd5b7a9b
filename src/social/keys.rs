//! A target's own keys, as its platform reads them. The config reads the
//! keys every target shares (`name`, `type`, `template`, …) and hands the
//! rest here; the platform deserializes them into its own settings type
//! (unknown keys denied) and checks what serde cannot (URLs, `${ENV}`).
//! Errors name the key; the config places them at their line and column.

use serde::de::DeserializeOwned;
use url::Url;

use crate::secret::expand_env;

/// The keys of one target that belong to its platform.
pub struct Keys<'a> {
    values: serde_json::Map<String, serde_json::Value>,
    env: &'a dyn Fn(&str) -> Option<String>,
}

/// What is wrong with a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyProblem {
    /// The platform does not take this key; `expected` are the ones it does.
    Unknown { expected: Vec<String> },
    /// A key the platform needs is not there.
    Missing,
    /// The value is not what the key takes.
    Invalid(String),
}

/// A problem with one key, by its path below the target (`token`,
/// `headers.X-Key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    pub key: String,
    pub problem: KeyProblem,
}

impl KeyError {
    pub fn invalid(key: &str, message: impl Into<String>) -> Self {
        KeyError {
            key: key.to_string(),
            problem: KeyProblem::Invalid(message.into()),
        }
    }
}

impl<'a> Keys<'a> {
    pub fn new(
        values: serde_json::Map<String, serde_json::Value>,
        env: &'a dyn Fn(&str) -> Option<String>,
    ) -> Self {
        Keys { values, env }
    }

    /// The platform's settings, deserialized with unknown keys denied.
    pub fn read<T: DeserializeOwned>(&self) -> Result<T, KeyError> {
        serde_path_to_error::deserialize(serde_json::Value::Object(self.values.clone())).map_err(
            |e| {
                let path = e.path().to_string();
                let problem = serde_problem(&e.inner().to_string());
                // The path of an unknown key ends with it; a missing key's
                // path is its parent's.
                let key = match &problem {
                    SerdeProblem::Missing { field } if path != "." => format!("{path}.{field}"),
                    SerdeProblem::Missing { field } | SerdeProblem::Unknown { field, .. }
                        if path == "." =>
                    {
                        field.clone()
                    }
                    _ => path,
                };
                KeyError {
                    key,
                    problem: match problem {
                        SerdeProblem::Unknown { expected, .. } => KeyProblem::Unknown { expected },
                        SerdeProblem::Missing { .. } => KeyProblem::Missing,
                        SerdeProblem::Other(m) => KeyProblem::Invalid(m),
                    },
                }
            },
        )
    }

    /// A plain (non-secret) value with `${NAME}` expanded.
    pub fn text(&self, key: &str, value: &str) -> Result<String, KeyError> {
        expand_env(value, self.env).map_err(|e| KeyError::invalid(key, e.to_string()))
    }

    /// An absolute http(s) URL, `${NAME}` expanded.
    pub fn url(&self, key: &str, value: &str) -> Result<Url, KeyError> {
        let value = self.text(key, value)?;
        http_url(&value).map_err(|m| KeyError::invalid(key, m))
    }
}

/// The keys of a platform reached through one secret URL (an incoming
/// webhook: Slack, Discord, Teams, Google Chat, Mattermost).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookUrl {
    pub url: crate::secret::Secret,
}

/// `value` as an absolute http(s) URL, or why not.
pub fn http_url(value: &str) -> Result<Url, String> {
    let url = Url::parse(value).map_err(|e| {
        let hint = if matches!(e, url::ParseError::RelativeUrlWithoutBase) {
            " (it must be absolute, like https://example.com/)"
        } else {
            ""
        };
        format!("{value:?} is not a valid URL: {e}{hint}")
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!(
            "{value:?} must be an absolute http(s) URL, like https://example.com/"
        ));
    }
    Ok(url)
}

/// serde's error texts, read back into what they say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SerdeProblem {
    Unknown {
        field: String,
        expected: Vec<String>,
    },
    Missing {
        field: String,
    },
    Other(String),
}

/// Reads serde's wording (`unknown field `x`, expected one of …`,
/// `missing field `y``, `invalid type: …, expected …`).
pub fn serde_problem(message: &str) -> SerdeProblem {
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((field, expected)) = rest.split_once('`')
    {
        // serde quotes the expected names ("expected `a` or `b`", "expected
        // one of `a`, `b`"); serde-saphyr lists them bare ("expected one of
        // a, b").
        let expected: Vec<String> = if expected.contains('`') {
            expected
                .split('`')
                .skip(1)
                .step_by(2)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        } else {
            expected
                .trim_start_matches(", expected one of ")
                .trim_start_matches(", expected ")
                .split(", ")
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        };
        return SerdeProblem::Unknown {
            field: field.to_string(),
            expected,
        };
    }
    if let Some(rest) = message.strip_prefix("missing field `")
        && let Some((field, _)) = rest.split_once('`')
    {
        return SerdeProblem::Missing {
            field: field.to_string(),
        };
    }
    if let Some(rest) = message.strip_prefix("invalid type: ")
        && let Some((found, expected)) = rest.split_once(", expected ")
    {
        return SerdeProblem::Other(format!("expected {expected}, found {found}"));
    }
    SerdeProblem::Other(message.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Two {
        instance: String,
        token: String,
    }

    fn keys(json: serde_json::Value) -> Keys<'static> {
        let serde_json::Value::Object(map) = json else {
            panic!("an object")
        };
        Keys::new(map, &|_| None)
    }

    #[test]
    fn unknown_and_missing_keys_are_named() {
        let e = keys(serde_json::json!({"instance": "x", "tokn": "t"}))
            .read::<Two>()
            .unwrap_err();
        assert_eq!(e.key, "tokn");
        assert_eq!(
            e.problem,
            KeyProblem::Unknown {
                expected: vec!["instance".into(), "token".into()]
            }
        );
        let e = keys(serde_json::json!({"instance": "x"}))
            .read::<Two>()
            .unwrap_err();
        assert_eq!((e.key.as_str(), e.problem), ("token", KeyProblem::Missing));
        let e = keys(serde_json::json!({"instance": 5, "token": "t"}))
            .read::<Two>()
            .unwrap_err();
        assert_eq!(e.key, "instance");
        assert!(matches!(e.problem, KeyProblem::Invalid(m) if m.contains("expected a string")));
    }

    #[test]
    fn urls_must_be_absolute_http() {
        assert!(http_url("https://a.example/x").is_ok());
        assert!(
            http_url("/relative")
                .unwrap_err()
                .contains("must be absolute")
        );
        assert!(
            http_url("ftp://a.example/")
                .unwrap_err()
                .contains("http(s)")
        );
    }
}
