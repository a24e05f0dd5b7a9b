//! JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/), written with serde
//! structs so key order is fixed and the bytes are stable.

use serde::Serialize;

use super::{Channel, Entry};

#[derive(Serialize)]
struct Document<'a> {
    version: &'static str,
    title: &'a str,
    home_page_url: &'a str,
    feed_url: &'a str,
    description: &'a str,
    language: &'a str,
    authors: Vec<Author<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hubs: Vec<Hub<'a>>,
    items: Vec<Item<'a>>,
}

#[derive(Serialize)]
struct Author<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
}

#[derive(Serialize)]
struct Hub<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    url: &'a str,
}

#[derive(Serialize)]
struct Item<'a> {
    id: &'a str,
    url: &'a str,
    title: &'a str,
    summary: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_html: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<&'a str>,
    date_published: String,
    date_modified: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authors: Vec<Author<'a>>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    tags: &'a [String],
}

/// Renders a JSON Feed 1.1 document.
pub fn render(channel: &Channel<'_>, entries: &[&Entry<'_>]) -> Vec<u8> {
    let author = channel.author;
    let doc = Document {
        version: "https://jsonfeed.org/version/1.1",
        title: &channel.title,
        home_page_url: channel.home.as_str(),
        feed_url: channel.self_url.as_str(),
        description: &channel.description,
        language: channel.language,
        authors: vec![Author {
            name: &author.name,
            url: author.url.as_ref().map(ToString::to_string),
        }],
        hubs: channel
            .hubs
            .iter()
            .map(|h| Hub {
                kind: "WebSub",
                url: h.as_str(),
            })
            .collect(),
        items: entries
            .iter()
            .map(|e| Item {
                id: e.article.id(),
                url: e.article.permalink.as_str(),
                title: &e.title,
                summary: &e.summary,
                content_html: e.content_html.as_deref(),
                // JSON Feed needs content_html or content_text: without full
                // content, the summary stands in as the text.
                content_text: e.content_html.is_none().then_some(e.summary.as_str()),
                image: e.article.hero_image.as_ref().map(url::Url::as_str),
                date_published: e.published().to_rfc3339(),
                date_modified: e.modified().to_rfc3339(),
                authors: e
                    .author
                    .as_deref()
                    .map(|name| vec![Author { name, url: None }])
                    .unwrap_or_default(),
                tags: &e.tags,
            })
            .collect(),
    };
    // Serialising plain structs of strings cannot fail.
    let mut out = serde_json::to_vec_pretty(&doc).unwrap_or_default();
    out.push(b'\n');
    out
}
