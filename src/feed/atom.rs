//! Atom 1.0 (RFC 4287), via the `atom_syndication` crate.

use atom_syndication::{
    Category, Content, Entry as AtomEntry, Feed, FixedDateTime, Generator, Link, Person, Text,
    TextType, WriteConfig,
};

use super::{Channel, Entry, GENERATOR, LayoutError, VERSION, image_mime_type, newest};

/// The document around the entries: the declaration and everything before
/// `</feed>`, and the rest.
pub(super) fn frame(
    channel: &Channel,
    entries: &[&Entry],
) -> Result<(Vec<u8>, Vec<u8>), LayoutError> {
    let mut bytes = to_bytes(&document(channel, entries, Vec::new()));
    bytes.push(b'\n');
    let (mut head, tail) = super::split_before(bytes, b"</feed>", "atom_syndication")?;
    // RFC 4287 wants extension elements before the entries; the crate
    // writes them after, so herald writes this one itself.
    if is_archive_page(channel) {
        head.extend_from_slice(ARCHIVE_MARK);
    }
    Ok((head, tail))
}

/// `fh:archive` (RFC 5005 §4), in an archive page.
const ARCHIVE_MARK: &[u8] = b"<fh:archive/>";

fn is_archive_page(channel: &Channel) -> bool {
    channel.archive.as_ref().is_some_and(|a| a.complete)
}

/// Stands in for an entry's HTML while the crate renders the entry; the
/// HTML, escaped here, then takes its place. The crate's escaping (quick-xml,
/// one character at a time into a new string) was the largest single cost
/// of writing a full-content archive. The mark cannot occur anywhere else
/// in an entry: every text is made XML-safe (no C0 controls) and URLs are
/// percent-encoded.
const CONTENT_MARK: &str = "\u{1}herald-content\u{1}";

/// One `<entry>`, as the crate writes it inside a document.
pub(super) fn item(e: &Entry) -> Result<Vec<u8>, LayoutError> {
    let Some(html) = &e.content_html else {
        return crate_item(entry(e));
    };
    let mut atom = entry(e);
    if let Some(content) = &mut atom.content {
        content.value = Some(CONTENT_MARK.to_string());
    }
    let rendered = crate_item(atom)?;
    let mark = CONTENT_MARK.as_bytes();
    let at = super::find(&rendered, mark)
        .filter(|at| super::rfind(&rendered, mark) == Some(*at))
        .ok_or_else(|| LayoutError {
            krate: "atom_syndication",
            what: "an entry's content is not written once, as it was given".to_string(),
        })?;
    let mut out = Vec::with_capacity(rendered.len() + html.len() + html.len() / 4);
    out.extend_from_slice(&rendered[..at]);
    escape_text(&mut out, html);
    out.extend_from_slice(&rendered[at + mark.len()..]);
    Ok(out)
}

fn crate_item(atom: AtomEntry) -> Result<Vec<u8>, LayoutError> {
    let feed = Feed {
        entries: vec![atom],
        ..Feed::default()
    };
    super::between(to_bytes(&feed), b"<entry>", b"</feed>", "atom_syndication")
}

/// Escapes text exactly as quick-xml's `escape` (which the crate uses for
/// element text) does: `<`, `>`, `&`, `'` and `"`.
fn escape_text(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escaped: &[u8] = match b {
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'&' => b"&amp;",
            b'\'' => b"&apos;",
            b'"' => b"&quot;",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escaped);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// The whole document rendered by the crate at once: what `frame` and
/// `item` together must equal, byte for byte.
#[cfg(test)]
pub(super) fn render_whole(channel: &Channel, entries: &[&Entry]) -> Vec<u8> {
    let all = entries.iter().map(|e| entry(e)).collect();
    let mut bytes = to_bytes(&document(channel, entries, all));
    bytes.push(b'\n');
    if is_archive_page(channel) {
        let at = super::find(&bytes, b"<entry>")
            .or_else(|| super::rfind(&bytes, b"</feed>"))
            .unwrap_or(bytes.len());
        bytes.splice(at..at, ARCHIVE_MARK.iter().copied());
    }
    bytes
}

fn document(channel: &Channel, entries: &[&Entry], all: Vec<AtomEntry>) -> Feed {
    let mut links = vec![
        link(
            channel.self_url.as_str(),
            "self",
            Some("application/atom+xml"),
        ),
        link(channel.home.as_str(), "alternate", Some("text/html")),
    ];
    links.extend(channel.hubs.iter().map(|h| link(h.as_str(), "hub", None)));
    let mut namespaces = std::collections::BTreeMap::new();
    if let Some(archive) = &channel.archive {
        let related = [
            ("current", Some(&archive.current)),
            ("prev-archive", archive.prev.as_ref()),
            ("next-archive", archive.next.as_ref()),
        ];
        for (rel, href) in related {
            if let Some(href) = href {
                links.push(link(href.as_str(), rel, Some("application/atom+xml")));
            }
        }
        if archive.complete {
            namespaces.insert("fh".to_string(), super::HISTORY_NS.to_string());
        }
    }
    let author = &channel.author;
    Feed {
        title: plain(&channel.title),
        subtitle: Some(plain(&channel.description)),
        id: channel.self_url.to_string(),
        updated: newest(entries).unwrap_or_else(epoch),
        authors: vec![Person {
            name: author.name.clone(),
            email: author.email.clone(),
            uri: author.url.as_ref().map(ToString::to_string),
            ..Person::default()
        }],
        links,
        generator: Some(Generator {
            value: GENERATOR.to_string(),
            uri: None,
            version: Some(VERSION.to_string()),
        }),
        lang: Some(channel.language.clone()),
        entries: all,
        namespaces,
        ..Feed::default()
    }
}

/// The document, after a complete XML declaration (the crate's omits the
/// encoding).
fn to_bytes(feed: &Feed) -> Vec<u8> {
    // Escaped HTML grows by about a fifth.
    let content: usize = feed
        .entries
        .iter()
        .filter_map(|e| e.content.as_ref()?.value.as_ref())
        .map(|html| html.len() + html.len() / 4 + 2048)
        .sum();
    let mut out = Vec::with_capacity(2048 + content);
    out.extend_from_slice(b"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    let config = WriteConfig {
        write_document_declaration: false,
        indent_size: None,
    };
    // Writing to a Vec cannot fail; the crate's only errors are I/O ones.
    let _ = feed.write_with_config(&mut out, config);
    out
}

fn entry(e: &Entry) -> AtomEntry {
    let a = &e.article;
    let mut links = vec![link(a.permalink.as_str(), "alternate", Some("text/html"))];
    if let Some(hero) = &e.details.hero_image {
        let mut l = link(hero.as_str(), "enclosure", image_mime_type(hero));
        l.title = Some(super::xml_safe(e.details.alt_text(&a.title)));
        links.push(l);
    }
    AtomEntry {
        id: a.permalink.to_string(),
        title: plain(&e.title),
        updated: e.modified(),
        published: Some(e.published()),
        authors: e
            .author
            .iter()
            .map(|name| Person {
                name: name.clone(),
                ..Person::default()
            })
            .collect(),
        summary: Some(plain(&e.summary)),
        content: e.content_html.as_ref().map(|html| Content {
            value: Some(html.clone()),
            content_type: Some("html".to_string()),
            ..Content::default()
        }),
        categories: e
            .tags
            .iter()
            .map(|t| Category {
                term: t.clone(),
                ..Category::default()
            })
            .collect(),
        links,
        ..AtomEntry::default()
    }
}

fn plain(text: &str) -> Text {
    Text {
        value: text.to_string(),
        r#type: TextType::Text,
        ..Text::default()
    }
}

fn link(href: &str, rel: &str, mime_type: Option<&str>) -> Link {
    Link {
        href: href.to_string(),
        rel: rel.to_string(),
        mime_type: mime_type.map(str::to_string),
        ..Link::default()
    }
}

fn epoch() -> FixedDateTime {
    FixedDateTime::default()
}
