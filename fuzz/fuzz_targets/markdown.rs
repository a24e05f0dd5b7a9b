//! Markdown rendering and sanitizing: any text, no panic, and no tag in the
//! output is a script or iframe, has an event-handler attribute, or points
//! an href or src at javascript:. (Text is escaped, so every `<` in the
//! output starts a real tag; words like "javascript:" in prose are fine.)
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let base = url::Url::parse("https://f.example/articles/a/").expect("base");
    let html = herald::article::markdown::render(text, &base);
    for tag in html.split('<').skip(1) {
        let tag = tag.split('>').next().unwrap_or_default().to_ascii_lowercase();
        let name = tag.trim_start_matches('/').split([' ', '\n', '\t', '/']).next().unwrap_or_default();
        assert!(!matches!(name, "script" | "iframe" | "object" | "embed"), "<{tag}>");
        let mut rest = tag.as_str();
        while let Some(i) = rest.find(" on") {
            let attr = &rest[i + 1..];
            let end = attr.find(['=', ' ']).unwrap_or(attr.len());
            assert!(!attr[end..].starts_with('='), "event handler in <{tag}>");
            rest = &rest[i + 3..];
        }
        for key in ["href=\"", "src=\""] {
            for (i, _) in tag.match_indices(key) {
                let value = &tag[i + key.len()..];
                assert!(!value.trim_start().starts_with("javascript:"), "<{tag}>");
            }
        }
    }
    let _ = herald::article::markdown::first_paragraph(text);
});
