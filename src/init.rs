//! `herald init [DIR]`: a first `herald.yaml` for the site in DIR.
//!
//! It recognises Hugo, Jekyll, Zola, Eleventy and Astro by their config
//! files, and otherwise takes DIR for a plain folder of Markdown. From the
//! site's own config it reads the title, the address and the language
//! where it can; the content folder and the folder feeds go to follow the
//! generator's conventions (feeds go where the generator copies static
//! files from, so they are published with the site). Every path is
//! written relative to DIR, where the file is, so herald resolves it the
//! same from any working directory.

use std::path::{Path, PathBuf};

use url::Url;

/// A site generator herald knows the layout of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generator {
    Hugo,
    Jekyll,
    Zola,
    Eleventy,
    Astro,
    Plain,
}

impl Generator {
    pub fn name(self) -> &'static str {
        match self {
            Generator::Hugo => "Hugo",
            Generator::Jekyll => "Jekyll",
            Generator::Zola => "Zola",
            Generator::Eleventy => "Eleventy",
            Generator::Astro => "Astro",
            Generator::Plain => "a plain folder of Markdown",
        }
    }
}

/// What `init` found out about the site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub generator: Generator,
    pub title: Option<String>,
    pub url: Option<Url>,
    pub language: Option<String>,
    /// Relative to the site's folder.
    pub content: PathBuf,
    pub feeds: PathBuf,
}

impl Site {
    /// The address pattern of an article, as the generator builds it: its
    /// section (the content folder's last part) and its slug; herald's own
    /// default where the generator's is not a path of sections.
    pub fn permalink(&self) -> String {
        let section = match self.generator {
            Generator::Hugo | Generator::Zola | Generator::Eleventy | Generator::Astro => self
                .content
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .filter(|n| !matches!(n.as_str(), "content" | "src" | "."))
                .unwrap_or_default(),
            Generator::Jekyll | Generator::Plain => return "/articles/{slug}/".to_string(),
        };
        if section.is_empty() {
            "/{slug}/".to_string()
        } else {
            format!("/{section}/{{slug}}/")
        }
    }
}

/// Why `init` wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{0} is not a folder")]
    NotAFolder(String),
    #[error("{0} exists already: herald init does not overwrite it (remove it, or edit it)")]
    Exists(String),
    #[error("cannot write {path}: {message}")]
    Write { path: String, message: String },
}

fn exists(dir: &Path, name: &str) -> bool {
    dir.join(name).exists()
}

fn read(dir: &Path, name: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(name)).ok()
}

/// The first of `names` that is a folder in `dir`, else `fallback`.
fn first_folder(dir: &Path, names: &[&str], fallback: &str) -> PathBuf {
    names
        .iter()
        .find(|n| dir.join(n).is_dir())
        .map_or_else(|| PathBuf::from(fallback), PathBuf::from)
}

fn toml_table(text: &str) -> Option<toml::Table> {
    text.parse::<toml::Table>().ok()
}

fn toml_string(table: &toml::Table, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| {
        let mut value: Option<&toml::Value> = None;
        for (i, part) in k.split('.').enumerate() {
            value = if i == 0 {
                table.get(part)
            } else {
                value?.as_table()?.get(part)
            };
        }
        value?.as_str().map(str::to_string)
    })
}

/// The string assigned to `key` in a JavaScript or TypeScript config
/// (`site: 'https://…'`), found by reading the text: running the file is
/// not herald's to do.
fn js_string(text: &str, key: &str) -> Option<String> {
    let at = text.find(&format!("{key}:"))? + key.len() + 1;
    let rest = text[at..].trim_start();
    let quote = rest
        .chars()
        .next()
        .filter(|c| matches!(c, '"' | '\'' | '`'))?;
    let value: String = rest[1..].chars().take_while(|c| *c != quote).collect();
    Some(value)
}

fn url(text: Option<String>) -> Option<Url> {
    text.and_then(|u| Url::parse(&u).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https"))
}

/// Recognises the site in `dir`.
pub fn detect(dir: &Path) -> Site {
    let hugo = ["hugo.toml", "hugo.yaml", "hugo.yml", "hugo.json"]
        .iter()
        .find_map(|n| read(dir, n).map(|t| (n.to_string(), t)))
        .or_else(|| {
            read(dir, "config.toml")
                .filter(|t| t.contains("baseURL"))
                .map(|t| ("config.toml".to_string(), t))
        });
    if let Some(text) = hugo {
        let (name, text) = text;
        let (title, base, language) = if name.ends_with(".toml") {
            let table = toml_table(&text).unwrap_or_default();
            (
                toml_string(&table, &["title"]),
                toml_string(&table, &["baseURL", "baseurl"]),
                toml_string(&table, &["languageCode", "defaultContentLanguage"]),
            )
        } else if name.ends_with(".json") {
            let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
            (s("title"), s("baseURL"), s("languageCode"))
        } else {
            let v: serde_json::Value = serde_saphyr::from_str(&text).unwrap_or_default();
            let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
            (s("title"), s("baseURL"), s("languageCode"))
        };
        return Site {
            generator: Generator::Hugo,
            title,
            url: url(base),
            language,
            content: first_folder(
                dir,
                &["content/posts", "content/blog", "content"],
                "content",
            ),
            feeds: PathBuf::from("static"),
        };
    }
    if let Some(text) = read(dir, "zola.toml")
        .or_else(|| read(dir, "config.toml").filter(|t| t.contains("base_url")))
    {
        let table = toml_table(&text).unwrap_or_default();
        return Site {
            generator: Generator::Zola,
            title: toml_string(&table, &["title"]),
            url: url(toml_string(&table, &["base_url"])),
            language: toml_string(&table, &["default_language"]),
            content: first_folder(
                dir,
                &["content/blog", "content/posts", "content"],
                "content",
            ),
            feeds: PathBuf::from("static"),
        };
    }
    if let Some(text) = read(dir, "_config.yml").or_else(|| read(dir, "_config.yaml")) {
        let v: serde_json::Value = serde_saphyr::from_str(&text).unwrap_or_default();
        let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        let base = match (s("url"), s("baseurl")) {
            (Some(u), Some(b)) if !b.is_empty() => Some(format!(
                "{}/{}/",
                u.trim_end_matches('/'),
                b.trim_matches('/')
            )),
            (u, _) => u,
        };
        return Site {
            generator: Generator::Jekyll,
            title: s("title"),
            url: url(base),
            language: s("lang").or_else(|| s("locale")),
            content: first_folder(dir, &["_posts"], "_posts"),
            // Jekyll copies every folder that does not start with `_`.
            feeds: PathBuf::from("feeds"),
        };
    }
    if let Some(text) = ["astro.config.mjs", "astro.config.ts", "astro.config.js"]
        .iter()
        .find_map(|n| read(dir, n))
    {
        return Site {
            generator: Generator::Astro,
            title: None,
            url: url(js_string(&text, "site")),
            language: None,
            content: first_folder(
                dir,
                &["src/content/blog", "src/content/posts", "src/content"],
                "src/content",
            ),
            feeds: PathBuf::from("public"),
        };
    }
    if [
        ".eleventy.js",
        ".eleventy.cjs",
        "eleventy.config.js",
        "eleventy.config.mjs",
        "eleventy.config.cjs",
    ]
    .iter()
    .any(|n| exists(dir, n))
    {
        return Site {
            generator: Generator::Eleventy,
            title: None,
            url: None,
            language: None,
            content: first_folder(dir, &["src/posts", "posts", "src/blog", "blog", "src"], "."),
            // Eleventy writes its output here; herald adds its feeds after.
            feeds: PathBuf::from("_site"),
        };
    }
    Site {
        generator: Generator::Plain,
        title: None,
        url: None,
        language: None,
        content: first_folder(dir, &["content", "posts", "articles"], "."),
        feeds: PathBuf::from("public"),
    }
}

/// A YAML double-quoted string.
fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_string())
}

/// The config for `site` in `dir` (named in the title when it has none).
pub fn config_text(site: &Site, dir: &Path) -> String {
    let folder = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "My site".to_string());
    let title = site.title.clone().unwrap_or(folder);
    let url = site
        .url
        .as_ref()
        .map_or_else(|| "https://example.com/".to_string(), Url::to_string);
    let url_note = if site.url.is_none() {
        "   # set the site's real address"
    } else {
        ""
    };
    let language = site.language.clone().unwrap_or_else(|| "en".to_string());
    let slash = |p: &Path| p.to_string_lossy().replace('\\', "/");
    format!(
        "# herald's config for this {generator} site, written by `herald init`.
# Paths are relative to this file. `herald check` validates it; `herald
# publish --dry-run` shows what a run would do, writing and sending nothing.
site:
  title: {title}
  url: {url}{url_note}
  language: {language}
content:
  dir: {content}
  permalink: {permalink}        # each article's address; check it is the site's{permalink_note}
  timezone: UTC                 # the zone of dates without a time
feeds:
  dir: {feeds}                  # RSS, Atom and JSON Feed files go here
  limit: 20
social:
  max_age: 7d                   # never post an article older than this
  targets: []
  # Examples (secrets come from the environment, ${{NAME}}):
  # - {{ name: mastodon, type: mastodon, instance: https://mastodon.social, token: \"${{MASTODON_TOKEN}}\" }}
  # - {{ name: bluesky, type: bluesky, identifier: you.bsky.social, app_password: \"${{BSKY_APP_PASSWORD}}\" }}
  # - {{ name: slack, type: slack, url: \"${{SLACK_WEBHOOK_URL}}\" }}
state:
  path: .herald/state.db        # the ledger: keep it (it is how herald never posts twice)
",
        generator = site.generator.name(),
        title = quoted(&title),
        url = quoted(&url),
        language = quoted(&language),
        content = quoted(&slash(&site.content)),
        feeds = quoted(&slash(&site.feeds)),
        permalink = quoted(&site.permalink()),
        permalink_note = if site.generator == Generator::Jekyll {
            "\n  # (Jekyll's default is /:year/:month/:day/:title.html, its title from the file name\n  # without the date: give posts a `slug:` and use \"/{year}/{month}/{day}/{slug}.html\")"
        } else {
            ""
        },
    )
}

/// Writes `DIR/herald.yaml` for the site in `dir`; never overwrites one.
pub fn init(dir: &Path) -> Result<(Site, PathBuf), InitError> {
    if !dir.is_dir() {
        return Err(InitError::NotAFolder(crate::paths::display(dir)));
    }
    let path = dir.join("herald.yaml");
    if path.exists() {
        return Err(InitError::Exists(crate::paths::display(&path)));
    }
    let site = detect(dir);
    let text = config_text(&site, dir);
    crate::fsio::write_atomic(&path, text.as_bytes()).map_err(|e| InitError::Write {
        path: crate::paths::display(&path),
        message: e.to_string(),
    })?;
    Ok((site, path))
}
