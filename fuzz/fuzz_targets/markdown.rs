//! Markdown rendering and sanitizing: any text, no panic, and no tag in the
//! output is a script or iframe, has an event-handler attribute, or points
//! an href or src at javascript:. Text is escaped, so every `<` in the
//! output starts a real tag; attributes are read with their quoting, so
//! words like "javascript:" or " onload=" inside a value or prose are fine.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// (name, value) of each attribute of a tag's inside (after `<`, before `>`).
fn attributes(tag: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = tag.chars().peekable();
    // The element name.
    while chars.peek().is_some_and(|c| !c.is_whitespace()) {
        chars.next();
    }
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == '/') {
            chars.next();
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() || c == '/' {
                break;
            }
            name.push(c);
            chars.next();
        }
        if name.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            match chars.peek().copied() {
                Some(q @ ('"' | '\'')) => {
                    chars.next();
                    for c in chars.by_ref() {
                        if c == q {
                            break;
                        }
                        value.push(c);
                    }
                }
                _ => {
                    while let Some(&c) = chars.peek() {
                        if c.is_whitespace() {
                            break;
                        }
                        value.push(c);
                        chars.next();
                    }
                }
            }
        }
        out.push((name.to_ascii_lowercase(), value));
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let base = url::Url::parse("https://f.example/articles/a/").expect("base");
    let html = herald::article::markdown::render(text, &base);
    for tag in html.split('<').skip(1) {
        let tag = tag.split('>').next().unwrap_or_default();
        let name = tag.trim_start_matches('/').split([' ', '\n', '\t', '/']).next().unwrap_or_default().to_ascii_lowercase();
        assert!(!matches!(name.as_str(), "script" | "iframe" | "object" | "embed"), "<{tag}>");
        for (attr, value) in attributes(tag) {
            assert!(!attr.starts_with("on"), "event handler {attr} in <{tag}>");
            if attr == "href" || attr == "src" {
                assert!(!value.trim_start().to_ascii_lowercase().starts_with("javascript:"), "<{tag}>");
            }
        }
    }
    let _ = herald::article::markdown::first_paragraph(text);
});
