//! JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/), written with serde
//! structs so key order is fixed and the bytes are stable.

use serde::Serialize;
use url::Url;

use super::{Channel, Entry, LayoutError};

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
    /// The next page of older items (the newest archive page, from the
    /// current feed; the one before, from an archive page).
    #[serde(skip_serializing_if = "Option::is_none")]
    next_url: Option<&'a str>,
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

/// The document around the items: everything up to the items array's
/// `[`, and what closes it.
pub(super) fn frame(
    channel: &Channel,
    entries: &[&Entry],
) -> Result<(Vec<u8>, Vec<u8>), LayoutError> {
    let mut head = to_bytes(&document(channel, Vec::new()));
    // serde_json writes an empty array as `[]`, the document's end as `\n}`.
    let end: &[u8] = b"\"items\": []\n}";
    if !head.ends_with(end) {
        return Err(LayoutError {
            krate: "serde_json",
            what: "the document does not end with an empty items array".to_string(),
        });
    }
    head.truncate(head.len() - b"]\n}".len());
    let tail = if entries.is_empty() {
        b"]\n}\n".to_vec()
    } else {
        b"\n  ]\n}\n".to_vec()
    };
    Ok((head, tail))
}

/// One item as serde_json's pretty printer writes it inside the document:
/// after a separator, indented two levels. Strings never hold a raw line
/// break (JSON escapes them), so indenting after each `\n` is exact.
pub(super) fn item(entry: &Entry, first: bool) -> Vec<u8> {
    let size = entry
        .content_html
        .as_ref()
        .map_or(0, |h| h.len() + h.len() / 8)
        + 2048;
    let mut alone = Vec::with_capacity(size);
    // Serialising plain structs of strings cannot fail.
    let _ = serde_json::to_writer_pretty(&mut alone, &to_item(entry));
    let mut out = Vec::with_capacity(alone.len() + 512);
    out.extend_from_slice(if first { b"\n    " } else { b",\n    " });
    let mut start = 0;
    for at in memchr::memchr_iter(b'\n', &alone) {
        out.extend_from_slice(&alone[start..at]);
        out.extend_from_slice(b"\n    ");
        start = at + 1;
    }
    out.extend_from_slice(&alone[start..]);
    out
}

/// The whole document serialised at once: what `frame` and `item` together
/// must equal, byte for byte.
#[cfg(test)]
pub(super) fn render_whole(channel: &Channel, entries: &[&Entry]) -> Vec<u8> {
    let mut out = to_bytes(&document(
        channel,
        entries.iter().map(|e| to_item(e)).collect(),
    ));
    out.push(b'\n');
    out
}

fn document<'a>(channel: &'a Channel, items: Vec<Item<'a>>) -> Document<'a> {
    let author = &channel.author;
    Document {
        version: "https://jsonfeed.org/version/1.1",
        title: &channel.title,
        home_page_url: channel.home.as_str(),
        feed_url: channel.self_url.as_str(),
        description: &channel.description,
        language: &channel.language,
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
        next_url: channel
            .archive
            .as_ref()
            .and_then(|a| a.prev.as_ref())
            .map(Url::as_str),
        items,
    }
}

fn to_item(e: &Entry) -> Item<'_> {
    Item {
        id: e.article.id(),
        url: e.article.permalink.as_str(),
        title: &e.title,
        summary: &e.summary,
        content_html: e.content_html.as_deref(),
        // JSON Feed needs content_html or content_text: without full
        // content, the summary stands in as the text.
        content_text: e.content_html.is_none().then_some(e.summary.as_str()),
        image: e.details.hero_image.as_ref().map(url::Url::as_str),
        date_published: e.published().to_rfc3339(),
        date_modified: e.modified().to_rfc3339(),
        authors: e
            .author
            .as_deref()
            .map(|name| vec![Author { name, url: None }])
            .unwrap_or_default(),
        tags: &e.tags,
    }
}

fn to_bytes(value: &impl Serialize) -> Vec<u8> {
    // Serialising plain structs of strings cannot fail.
    serde_json::to_vec_pretty(value).unwrap_or_default()
}
