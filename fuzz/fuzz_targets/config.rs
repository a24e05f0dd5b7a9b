//! Config parsing and validation: any text, no panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = herald::config::parse(std::path::Path::new("/srv/site/config/herald.yaml"), text, &|name| {
        (name.len() % 2 == 0).then(|| format!("value-of-{name}"))
    });
});
