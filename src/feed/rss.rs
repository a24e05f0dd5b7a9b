//! RSS 2.0 with the content, Dublin Core, Atom and Media RSS extensions, via
//! the `rss` crate.

use std::collections::BTreeMap;

use rss::extension::Extension;
use rss::extension::atom::{AtomExtension, Link};
use rss::extension::dublincore::DublinCoreExtension;
use rss::{Category, Channel as RssChannel, Guid, Item};

use super::{Channel, Entry, GENERATOR, VERSION, image_mime_type, newest};

const MEDIA_NS: &str = "http://search.yahoo.com/mrss/";

/// Renders an RSS 2.0 document.
pub fn render(channel: &Channel<'_>, entries: &[&Entry<'_>]) -> Vec<u8> {
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
    let mut namespaces = BTreeMap::new();
    if entries.iter().any(|e| e.article.hero_image.is_some()) {
        namespaces.insert("media".to_string(), MEDIA_NS.to_string());
    }
    let doc = RssChannel {
        title: channel.title.clone(),
        link: channel.home.to_string(),
        description: channel.description.clone(),
        language: Some(channel.language.to_string()),
        last_build_date: newest(entries).map(|d| d.to_rfc2822()),
        generator: Some(format!("{GENERATOR} {VERSION}")),
        docs: Some("https://www.rssboard.org/rss-specification".to_string()),
        items: entries.iter().map(|e| item(e)).collect(),
        atom_ext: Some(AtomExtension { links }),
        namespaces,
        ..RssChannel::default()
    };
    let mut out = Vec::with_capacity(1024 + entries.len() * 4096);
    // Writing to a Vec cannot fail; the rss crate's only errors are I/O ones.
    let _ = doc.write_to(&mut out);
    out.push(b'\n');
    out
}

fn item(entry: &Entry<'_>) -> Item {
    let a = entry.article;
    let mut extensions = BTreeMap::new();
    if let Some(hero) = &a.hero_image {
        let mut attrs = BTreeMap::from([
            ("url".to_string(), hero.to_string()),
            ("medium".to_string(), "image".to_string()),
        ]);
        if let Some(mime) = image_mime_type(hero) {
            attrs.insert("type".to_string(), mime.to_string());
        }
        let description = Extension {
            name: "media:description".to_string(),
            value: Some(super::xml_safe(a.alt_text())),
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
