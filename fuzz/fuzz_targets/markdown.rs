//! Markdown rendering and sanitizing: any text, no panic, and the output
//! never carries script, event handlers or javascript: URLs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let base = url::Url::parse("https://f.example/articles/a/").expect("base");
    let html = herald::article::markdown::render(text, &base);
    let lower = html.to_ascii_lowercase();
    assert!(!lower.contains("<script"), "{html}");
    assert!(!lower.contains("javascript:"), "{html}");
    assert!(!lower.contains("<iframe"), "{html}");
    let _ = herald::article::markdown::first_paragraph(text);
});
