//! The direct Markdown path against the sanitizing one: for any text the
//! direct path accepts, both give the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let base = url::Url::parse("https://example.com/articles/post/").expect("base");
    if let Some((direct, sanitized)) = herald::article::markdown::both_paths(text, &base) {
        assert_eq!(direct, sanitized, "for {text:?}");
    }
});
