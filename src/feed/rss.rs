//! RSS 2.0 with the content, Dublin Core, Atom and Media RSS extensions:
//! the document's frame by the `rss` crate, each item as it writes one.

use std::collections::BTreeMap;

use rss::extension::atom::{AtomExtension, Link};
use rss::extension::dublincore;
#[cfg(test)]
use rss::extension::{Extension, dublincore::DublinCoreExtension};
#[cfg(test)]
use rss::{Category, Guid};
use rss::{Channel as RssChannel, Item};

use super::{Channel, Entry, GENERATOR, LayoutError, VERSION, image_mime_type, newest, xml};

const MEDIA_NS: &str = "http://search.yahoo.com/mrss/";
const CONTENT_NS: &str = "http://purl.org/rss/1.0/modules/content/";

/// The document around the items: everything before `</channel>`, and the
/// rest. Namespaces the items use are declared here, as the crate would
/// declare them seeing the items.
pub(super) fn frame(
    channel: &Channel,
    entries: &[&Entry],
    full: bool,
) -> Result<(Vec<u8>, Vec<u8>), LayoutError> {
    let mut namespaces = own_namespaces(entries);
    if full {
        namespaces.insert("content".to_string(), CONTENT_NS.to_string());
    }
    if entries.iter().any(|e| e.author.is_some()) {
        namespaces.insert("dc".to_string(), dublincore::NAMESPACE.to_string());
    }
    let mut bytes = to_bytes(&document(channel, entries, namespaces, Vec::new()));
    bytes.push(b'\n');
    super::split_before(bytes, b"</channel>", "rss")
}

/// One `<item>`, as the crate writes it inside a document (`to_item`
/// gives the crate's structure of it, which the tests render), with `html`
/// as its full content.
pub(super) fn item(entry: &Entry, html: Option<&str>, out: &mut Vec<u8>) {
    let a = &entry.article;
    let link = a.permalink.as_str();
    out.reserve(html.map_or(0, str::len) + 1024);
    out.extend_from_slice(b"<item>");
    xml::text_element(out, "title", &entry.title);
    xml::text_element(out, "link", link);
    xml::cdata_element(out, "description", &super::escape_html(&entry.summary));
    for tag in &entry.tags {
        xml::text_element(out, "category", tag);
    }
    xml::text_element(out, "guid", link);
    xml::text_element(out, "pubDate", &entry.published().to_rfc2822());
    if let Some(html) = html {
        xml::cdata_element(out, "content:encoded", html);
    }
    // The crate writes extensions by prefix, then name, then attribute
    // name: `media:content` (medium, type, url), then `media:thumbnail`.
    if let Some(hero) = &entry.details.hero_image {
        let medium = ("medium", "image");
        let url = ("url", hero.as_str());
        match image_mime_type(hero) {
            Some(mime) => xml::start(out, "media:content", &[medium, ("type", mime), url]),
            None => xml::start(out, "media:content", &[medium, url]),
        }
        xml::start(out, "media:description", &[("type", "plain")]);
        xml::escape(out, &super::xml_safe(entry.details.alt_text(&a.title)));
        xml::end(out, "media:description");
        xml::end(out, "media:content");
        xml::start(out, "media:thumbnail", &[url]);
        xml::end(out, "media:thumbnail");
    }
    if let Some(author) = &entry.author {
        xml::text_element(out, "dc:creator", author);
    }
    out.extend_from_slice(b"</item>");
}

/// The whole document rendered by the crate at once: what `frame` and
/// `item` together must equal, byte for byte.
#[cfg(test)]
pub(super) fn render_whole(channel: &Channel, entries: &[&Entry]) -> Vec<u8> {
    let items = entries.iter().map(|e| to_item(e)).collect();
    let mut bytes = to_bytes(&document(channel, entries, own_namespaces(entries), items));
    bytes.push(b'\n');
    bytes
}

/// The namespaces herald declares itself (the crate adds those of the
/// items it writes).
fn own_namespaces(entries: &[&Entry]) -> BTreeMap<String, String> {
    let mut namespaces = BTreeMap::new();
    if entries.iter().any(|e| e.details.hero_image.is_some()) {
        namespaces.insert("media".to_string(), MEDIA_NS.to_string());
    }
    namespaces
}

fn document(
    channel: &Channel,
    entries: &[&Entry],
    namespaces: BTreeMap<String, String>,
    items: Vec<Item>,
) -> RssChannel {
    let mut links = vec![Link {
        href: channel.self_url.to_string(),
        rel: "self".to_string(),
        mime_type: Some("application/rss+xml".to_string()),
        ..Link::default()
    }];
    links.extend(channel.hubs.iter().map(|hub| Link {
        href: hub.to_string(),
        rel: "hub".to_string(),
        ..Link::default()
    }));
    let mut namespaces = namespaces;
    let mut extensions = rss::extension::ExtensionMap::default();
    if let Some(archive) = &channel.archive {
        let rss = Some("application/rss+xml".to_string());
        let related = [
            ("current", Some(&archive.current)),
            ("prev-archive", archive.prev.as_ref()),
            ("next-archive", archive.next.as_ref()),
        ];
        for (rel, href) in related {
            if let Some(href) = href {
                links.push(Link {
                    href: href.to_string(),
                    rel: rel.to_string(),
                    mime_type: rss.clone(),
                    ..Link::default()
                });
            }
        }
        if archive.complete {
            namespaces.insert("fh".to_string(), super::HISTORY_NS.to_string());
            let mut archive_element = rss::extension::Extension::default();
            archive_element.set_name("fh:archive");
            extensions.insert(
                "fh".to_string(),
                [("archive".to_string(), vec![archive_element])].into(),
            );
        }
    }
    RssChannel {
        title: channel.title.clone(),
        link: channel.home.to_string(),
        description: channel.description.clone(),
        language: Some(channel.language.clone()),
        last_build_date: newest(entries).map(|d| d.to_rfc2822()),
        generator: Some(format!("{GENERATOR} {VERSION}")),
        docs: Some("https://www.rssboard.org/rss-specification".to_string()),
        items,
        atom_ext: Some(AtomExtension { links }),
        namespaces,
        extensions,
        ..RssChannel::default()
    }
}

fn to_bytes(doc: &RssChannel) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        1024 + doc
            .items
            .iter()
            .map(|i| i.content.as_ref().map_or(0, String::len) + 1024)
            .sum::<usize>(),
    );
    // Writing to a Vec cannot fail; the rss crate's only errors are I/O ones.
    let _ = doc.write_to(&mut out);
    out
}

#[cfg(test)]
fn to_item(entry: &Entry) -> Item {
    let a = &entry.article;
    let mut extensions = BTreeMap::new();
    if let Some(hero) = &entry.details.hero_image {
        let mut attrs = BTreeMap::from([
            ("url".to_string(), hero.to_string()),
            ("medium".to_string(), "image".to_string()),
        ]);
        if let Some(mime) = image_mime_type(hero) {
            attrs.insert("type".to_string(), mime.to_string());
        }
        let description = Extension {
            name: "media:description".to_string(),
            value: Some(super::xml_safe(entry.details.alt_text(&a.title))),
            attrs: BTreeMap::from([("type".to_string(), "plain".to_string())]),
            children: BTreeMap::new(),
        };
        let content = Extension {
            name: "media:content".to_string(),
            attrs,
            children: BTreeMap::from([("description".to_string(), vec![description])]),
            ..Extension::default()
        };
        let thumbnail = Extension {
            name: "media:thumbnail".to_string(),
            attrs: BTreeMap::from([("url".to_string(), hero.to_string())]),
            ..Extension::default()
        };
        extensions.insert(
            "media".to_string(),
            BTreeMap::from([
                ("content".to_string(), vec![content]),
                ("thumbnail".to_string(), vec![thumbnail]),
            ]),
        );
    }
    Item {
        title: Some(entry.title.clone()),
        link: Some(a.permalink.to_string()),
        guid: Some(Guid {
            value: a.permalink.to_string(),
            permalink: true,
        }),
        pub_date: Some(entry.published().to_rfc2822()),
        description: Some(super::escape_html(&entry.summary)),
        content: entry.content_html.clone(),
        categories: entry
            .tags
            .iter()
            .map(|t| Category {
                name: t.clone(),
                domain: None,
            })
            .collect(),
        dublin_core_ext: entry.author.as_ref().map(|name| DublinCoreExtension {
            creators: vec![name.clone()],
            ..DublinCoreExtension::default()
        }),
        extensions,
        ..Item::default()
    }
}
