//! Atom 1.0 (RFC 4287): the document's frame by the `atom_syndication`
//! crate, each entry as it writes one.

#[cfg(test)]
use atom_syndication::{Category, Content};
use atom_syndication::{
    Entry as AtomEntry, Feed, FixedDateTime, Generator, Link, Person, Text, TextType, WriteConfig,
};

use super::{Channel, Entry, GENERATOR, LayoutError, VERSION, image_mime_type, newest, xml};

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

/// One `<entry>`, as the crate writes it inside a document (`entry` gives
/// the crate's structure of it, which the tests render), with `html` as
/// its full content.
pub(super) fn item(e: &Entry, html: Option<&str>, out: &mut Vec<u8>) {
    let a = &e.article;
    let link = a.permalink.as_str();
    out.reserve(html.map_or(0, |h| h.len() + h.len() / 4) + 1024);
    out.extend_from_slice(b"<entry>");
    xml::text_element(out, "title", &e.title);
    xml::text_element(out, "id", link);
    xml::text_element(out, "updated", &e.modified().to_rfc3339());
    if let Some(author) = &e.author {
        xml::start(out, "author", &[]);
        xml::text_element(out, "name", author);
        xml::end(out, "author");
    }
    for tag in &e.tags {
        xml::empty(out, "category", &[("term", tag)]);
    }
    xml::empty(
        out,
        "link",
        &[("href", link), ("rel", "alternate"), ("type", "text/html")],
    );
    if let Some(hero) = &e.details.hero_image {
        let alt = super::xml_safe(e.details.alt_text(&a.title));
        let (href, rel, title) = (
            ("href", hero.as_str()),
            ("rel", "enclosure"),
            ("title", &*alt),
        );
        match image_mime_type(hero) {
            Some(mime) => xml::empty(out, "link", &[href, rel, ("type", mime), title]),
            None => xml::empty(out, "link", &[href, rel, title]),
        }
    }
    xml::text_element(out, "published", &e.published().to_rfc3339());
    xml::text_element(out, "summary", &e.summary);
    if let Some(html) = html {
        xml::start(out, "content", &[("type", "html")]);
        xml::escape(out, html);
        xml::end(out, "content");
    }
    out.extend_from_slice(b"</entry>");
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

#[cfg(test)]
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
