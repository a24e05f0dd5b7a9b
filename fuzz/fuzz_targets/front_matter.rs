//! Front-matter split, apostrophe repair and parse: any bytes, no panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let config = herald::config::parse(
        std::path::Path::new("config/herald.yaml"),
        "site: {title: F, url: https://f.example/}\ncontent: {timezone: Europe/Paris}\n",
        &|_| None,
    )
    .expect("fixed config");
    let ctx = herald::article::ParseContext {
        site: &config.site,
        content: &config.content,
    };
    for complete in [true, false] {
        let _ = herald::article::parse(std::path::Path::new("content/f.md"), text, complete, &ctx);
    }
    let _ = herald::article::front_matter::repair_apostrophes(text);
});
