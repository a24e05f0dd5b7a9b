//! The XML of one feed item, written straight into bytes by the rules of
//! quick-xml (which the rss and atom_syndication crates write with): text
//! and attribute values escaped for `<`, `>`, `&`, `'` and `"`; CDATA split
//! before each `>` that closes a `]]`; no spaces, no indentation.
//!
//! Written by hand because the crates write an item only inside a whole
//! document, and building each item as the crate's structure (strings
//! copied, maps built, a document written and the item cut back out of it)
//! took a fifth of a first run's CPU; writing the same bytes directly takes
//! about two thirds of that. The crates stay the reference: the tests
//! render whole documents with them and compare the bytes
//! (`feed/tests.rs`), so a change in their layout fails a test rather than
//! making herald's feeds differ from theirs.

/// `<name>` + `text` escaped + `</name>`.
pub(super) fn text_element(out: &mut Vec<u8>, name: &str, text: &str) {
    start(out, name, &[]);
    escape(out, text);
    end(out, name);
}

/// `<name>` with attributes (values escaped).
pub(super) fn start(out: &mut Vec<u8>, name: &str, attributes: &[(&str, &str)]) {
    out.push(b'<');
    out.extend_from_slice(name.as_bytes());
    push_attributes(out, attributes);
    out.push(b'>');
}

/// `<name .../>`.
pub(super) fn empty(out: &mut Vec<u8>, name: &str, attributes: &[(&str, &str)]) {
    out.push(b'<');
    out.extend_from_slice(name.as_bytes());
    push_attributes(out, attributes);
    out.extend_from_slice(b"/>");
}

/// `</name>`.
pub(super) fn end(out: &mut Vec<u8>, name: &str) {
    out.extend_from_slice(b"</");
    out.extend_from_slice(name.as_bytes());
    out.push(b'>');
}

/// `<name>` + `text` as CDATA sections + `</name>`.
pub(super) fn cdata_element(out: &mut Vec<u8>, name: &str, text: &str) {
    start(out, name, &[]);
    cdata(out, text);
    end(out, name);
}

fn push_attributes(out: &mut Vec<u8>, attributes: &[(&str, &str)]) {
    for (key, value) in attributes {
        out.push(b' ');
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"=\"");
        escape(out, value);
        out.push(b'"');
    }
}

/// `text` in CDATA sections, as quick-xml's `BytesCData::escaped` cuts it:
/// a new section starts at each `>` that follows `]]`, so that no section
/// holds `]]>`.
fn cdata(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    let mut from = 0;
    for gt in memchr::memchr_iter(b'>', bytes) {
        if bytes[from..gt].ends_with(b"]]") {
            section(out, &bytes[from..gt]);
            from = gt;
        }
    }
    section(out, &bytes[from..]);
}

fn section(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(b"<![CDATA[");
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"]]>");
}

/// What each byte becomes in escaped text: `None` for itself.
const fn replacement(b: u8) -> Option<&'static [u8]> {
    match b {
        b'<' => Some(b"&lt;"),
        b'>' => Some(b"&gt;"),
        b'&' => Some(b"&amp;"),
        b'\'' => Some(b"&apos;"),
        b'"' => Some(b"&quot;"),
        _ => None,
    }
}

/// Appends `text` escaped as quick-xml's `escape` does (text and
/// attribute values alike).
pub(super) fn escape(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + bytes.len() / 8);
    let mut from = 0;
    let mut i = 0;
    // Eight bytes at a time (a full-content feed escapes hundreds of MB
    // of HTML): the first byte of the word that needs escaping, if any.
    while let Some(word) = bytes.get(i..i + 8) {
        let word = u64::from_le_bytes(word.try_into().unwrap_or_default());
        let found = [b'<', b'>', b'&', b'\'', b'"']
            .iter()
            .fold(0, |found, &c| found | super::bytes_equal(word, c));
        if found == 0 {
            i += 8;
            continue;
        }
        let at = i + (found.trailing_zeros() / 8) as usize;
        if let Some(replacement) = replacement(bytes[at]) {
            out.extend_from_slice(&bytes[from..at]);
            out.extend_from_slice(replacement);
            from = at + 1;
        }
        i = at + 1;
    }
    for (at, &b) in bytes.iter().enumerate().skip(i) {
        if let Some(replacement) = replacement(b) {
            out.extend_from_slice(&bytes[from..at]);
            out.extend_from_slice(replacement);
            from = at + 1;
        }
    }
    out.extend_from_slice(&bytes[from..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_as_quick_xml_does() {
        for text in [
            "",
            "plain",
            "a < b > c & d ' e \" f",
            "<<>>&&''\"\"",
            "exactly8<12345678>tail é 👩‍💻 &amp;",
        ] {
            let mut out = Vec::new();
            escape(&mut out, text);
            assert_eq!(out, quick_xml::escape::escape(text).as_bytes(), "{text}");
        }
    }

    proptest::proptest! {
        #[test]
        /// `=`, `?` and `#` sit just above a byte that is escaped (a
        /// borrow can mark them too).
        fn escapes_any_text_as_quick_xml_does(text in "([<>&'\"=?#]|[a-z]{1,9}|é|\u{80}|\u{ff}){0,40}") {
            let mut out = Vec::new();
            escape(&mut out, &text);
            let theirs = quick_xml::escape::escape(text.as_str());
            proptest::prop_assert_eq!(out, theirs.as_bytes());
        }
    }

    #[test]
    fn cuts_cdata_as_quick_xml_does() {
        for text in ["", "a", "]]>", "a]]>b]]>c", "]]]>>", "]>]]", "x]]"] {
            let mut ours = Vec::new();
            cdata(&mut ours, text);
            let mut theirs = Vec::new();
            let mut writer = quick_xml::Writer::new(&mut theirs);
            for event in quick_xml::events::BytesCData::escaped(text) {
                writer
                    .write_event(quick_xml::events::Event::CData(event))
                    .unwrap();
            }
            assert_eq!(ours, theirs, "{text}");
        }
    }
}
