//! Feed rendering of arbitrary strings: no panic, and every XML feed
//! re-parses (the rss and atom crates read them back).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut parts = text.splitn(4, '\u{1}');
    let (title, summary, html) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let config = herald::config::parse(
        std::path::Path::new("config/herald.yaml"),
        "site: {title: F, url: https://f.example/}\n",
        &|_| None,
    )
    .expect("fixed config");
    let ctx = herald::article::ParseContext {
        site: &config.site,
        content: &config.content,
    };
    let yaml_title = serde_json_string(title);
    let yaml_summary = serde_json_string(summary);
    let source = format!("---\ntitle: {yaml_title}\npublish_date: 2024-01-01\ntags: [{yaml_title}]\nauthor: {yaml_title}\ndescription: {yaml_summary}\n---\n");
    let Ok(parsed) = herald::article::parse(std::path::Path::new("content/f.md"), &source, true, &ctx) else { return };
    let Some(article) = parsed.article else { return };
    let Ok(details) = article.details(&ctx) else { return };
    let entry = herald::feed::Entry::new(
        &article,
        details,
        Some(herald::article::markdown::xml_safe(html)),
    );
    let channel = herald::feed::Channel {
        title: herald::article::markdown::xml_safe(title),
        description: herald::article::markdown::xml_safe(summary),
        home: config.site.url.clone(),
        self_url: config.site.url.join("feed.xml").expect("url"),
        language: "en".into(),
        author: config.site.author.clone(),
        hubs: vec![],
        archive: None,
    };
    for format in [herald::feed::Format::Rss, herald::feed::Format::Atom, herald::feed::Format::Json] {
        let mut bytes = Vec::new();
        herald::feed::write(format, &channel, &[&entry], &herald::feed::Given, &mut bytes)
            .expect("the crates' layout, as pinned");
        match format {
            herald::feed::Format::Rss => {
                rss::Channel::read_from(&bytes[..]).expect("RSS re-parses");
            }
            herald::feed::Format::Atom => {
                atom_syndication::Feed::read_from(&bytes[..]).expect("Atom re-parses");
            }
            herald::feed::Format::Json => {
                serde_json::from_slice::<serde_json::Value>(&bytes).expect("JSON re-parses");
            }
        }
    }
});

/// A YAML double-quoted scalar holding `s` (JSON strings are valid YAML).
fn serde_json_string(s: &str) -> String {
    serde_json::to_string(s).expect("string")
}
