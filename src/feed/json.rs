//! JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/): the document's
//! frame serialised by serde_json from structs, so key order is fixed and
//! the bytes are stable; each item written as serde_json's pretty printer
//! writes it, its strings escaped as serde_json escapes them.

use serde::Serialize;
use url::Url;

use super::{Channel, Entry, LayoutError};

#[derive(Serialize)]
struct Document<'a, I> {
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
    items: Vec<I>,
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

#[cfg(test)]
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
    let mut head = to_bytes(&document(channel, Vec::<()>::new()));
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

/// One item as serde_json's pretty printer writes it inside the document
/// (`to_item` gives the structure it writes, which the tests serialise):
/// after a separator, indented two levels, each string escaped as serde_json
/// escapes it. `html` is its full content.
pub(super) fn item(e: &Entry, html: Option<&str>, first: bool, out: &mut Vec<u8>) {
    out.reserve(html.map_or(0, |h| h.len() + h.len() / 8) + 1024);
    out.extend_from_slice(if first { b"\n    {" } else { b",\n    {" });
    let mut fields = Fields { out, first: true };
    fields.string("id", e.article.id());
    fields.string("url", e.article.permalink.as_str());
    fields.string("title", &e.title);
    fields.string("summary", &e.summary);
    match html {
        Some(html) => fields.string("content_html", html),
        // JSON Feed needs content_html or content_text: without full
        // content, the summary stands in as the text.
        None => fields.string("content_text", &e.summary),
    }
    if let Some(image) = &e.details.hero_image {
        fields.string("image", image.as_str());
    }
    fields.string("date_published", &e.published().to_rfc3339());
    fields.string("date_modified", &e.modified().to_rfc3339());
    if let Some(name) = &e.author {
        fields.key("authors");
        fields
            .out
            .extend_from_slice(b"[\n        {\n          \"name\": ");
        json_string(fields.out, name);
        fields.out.extend_from_slice(b"\n        }\n      ]");
    }
    if !e.tags.is_empty() {
        fields.key("tags");
        fields.out.push(b'[');
        for (i, tag) in e.tags.iter().enumerate() {
            fields.out.extend_from_slice(if i == 0 {
                b"\n        "
            } else {
                b",\n        "
            });
            json_string(fields.out, tag);
        }
        fields.out.extend_from_slice(b"\n      ]");
    }
    out.extend_from_slice(b"\n    }");
}

/// The members of an item's object, one level in.
struct Fields<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
}

impl Fields<'_> {
    fn key(&mut self, key: &str) {
        self.out.extend_from_slice(if self.first {
            b"\n      "
        } else {
            b",\n      "
        });
        self.first = false;
        json_string(self.out, key);
        self.out.extend_from_slice(b": ");
    }

    fn string(&mut self, key: &str, value: &str) {
        self.key(key);
        json_string(self.out, value);
    }
}

/// A JSON string, quoted and escaped as serde_json escapes it (`"`, `\\`,
/// and the control characters: `\b \t \n \f \r` or `\u00xx`), eight
/// bytes at a time: a full-content feed's HTML is mostly runs of bytes
/// that need no escaping, and serde_json's byte-by-byte escaping was a
/// twentieth of a first run. A test holds it to serde_json's.
fn json_string(out: &mut Vec<u8>, value: &str) {
    let bytes = value.as_bytes();
    out.reserve(bytes.len() + bytes.len() / 8 + 2);
    out.push(b'"');
    let mut from = 0;
    let mut i = 0;
    while let Some(word) = bytes.get(i..i + 8) {
        let word = u64::from_le_bytes(word.try_into().unwrap_or_default());
        let found = super::bytes_equal(word, b'"')
            | super::bytes_equal(word, b'\\')
            | super::bytes_below(word, 0x20);
        if found == 0 {
            i += 8;
            continue;
        }
        let at = i + (found.trailing_zeros() / 8) as usize;
        out.extend_from_slice(&bytes[from..at]);
        push_escaped(out, bytes[at]);
        from = at + 1;
        i = at + 1;
    }
    for (at, &b) in bytes.iter().enumerate().skip(i) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            out.extend_from_slice(&bytes[from..at]);
            push_escaped(out, b);
            from = at + 1;
        }
    }
    out.extend_from_slice(&bytes[from..]);
    out.push(b'"');
}

/// A byte serde_json escapes, escaped.
fn push_escaped(out: &mut Vec<u8>, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match b {
        b'"' => out.extend_from_slice(b"\\\""),
        b'\\' => out.extend_from_slice(b"\\\\"),
        b'\x08' => out.extend_from_slice(b"\\b"),
        b'\t' => out.extend_from_slice(b"\\t"),
        b'\n' => out.extend_from_slice(b"\\n"),
        b'\x0c' => out.extend_from_slice(b"\\f"),
        b'\r' => out.extend_from_slice(b"\\r"),
        _ => out.extend_from_slice(&[
            b'\\',
            b'u',
            b'0',
            b'0',
            HEX[usize::from(b >> 4)],
            HEX[usize::from(b & 0xf)],
        ]),
    }
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

fn document<I>(channel: &Channel, items: Vec<I>) -> Document<'_, I> {
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

#[cfg(test)]
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

#[cfg(test)]
mod tests {
    proptest::proptest! {
        /// Strings escape exactly as serde_json escapes them.
        #[test]
        fn strings_escape_as_serde_json_escapes_them(
            // Space, `#` and `]` sit just above a byte that is escaped
            // (a borrow can mark them too).
            text in "([\"\\\\/ #\\]]|[\u{0}-\u{1f}]|\u{7f}|[a-z]{1,9}|é|👩‍💻|\u{2028}){0,40}",
        ) {
            let mut ours = Vec::new();
            super::json_string(&mut ours, &text);
            let theirs = serde_json::to_vec(&text).unwrap();
            proptest::prop_assert_eq!(ours, theirs);
        }
    }
}
