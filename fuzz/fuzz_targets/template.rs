//! Templates with arbitrary article fields (and arbitrary templates): no
//! panic, no hang (fuel), and a fitted text always within its limit.
#![no_main]

use herald::social::compose::{Composer, CountUnit, PostFields, TextLimit};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut parts = text.splitn(5, '\u{1}');
    let title = parts.next().unwrap_or_default().to_string();
    let summary = parts.next().unwrap_or_default().to_string();
    let cta = parts.next().map(str::to_string);
    let template = parts.next();
    let fields = PostFields {
        title,
        summary,
        cta,
        url: "https://f.example/articles/a/".to_string(),
        tags: vec!["a b".into(), "ünï".into()],
        ..PostFields::default()
    };
    let limits = [
        TextLimit { unit: CountUnit::Graphemes, max: 500, url_length: Some(23), max_bytes: None },
        TextLimit { unit: CountUnit::Graphemes, max: 300, url_length: None, max_bytes: Some(3000) },
        TextLimit::new(CountUnit::Utf16, 1024),
        TextLimit::new(CountUnit::CodePoints, 200),
    ];
    for source in [None, template] {
        let Ok(composer) = Composer::new(source) else { continue };
        for limit in limits {
            if let Ok(fitted) = composer.fit(&fields, limit) {
                assert!(limit.fits(&fitted.text), "{limit:?}: {}", fitted.text);
            }
        }
    }
});
