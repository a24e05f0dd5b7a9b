//! The flat front-matter reader against serde-saphyr: for any text the flat
//! reader answers for, both give the same front matter.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Some((flat, full)) = herald::article::front_matter_both_ways(text) {
        assert_eq!(flat, full, "for {text:?}");
    }
});
