//! The XML of one feed item, written straight into bytes by the rules of
//! quick-xml (which the rss and atom_syndication crates write with): text
//! and attribute values escaped for `<`, `>`, `&`, `'` and `"`; CDATA split
//! before each `>` that closes a `]]`; no spaces, no indentation.
//!
//! Written by hand because the crates write an item only inside a whole
//! document, and building each item as the crate's structure (strings
//! copied, maps built, a document written and the item cut back out of it)
//! was most of the cost of writing a full-content archive. The crates stay
//! the reference: the tests render whole documents with them and compare
//! the bytes (`feed/tests.rs`), so a change in their layout fails a test
//! rather than making herald's feeds differ from theirs.

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

/// Whether a byte needs escaping, by table (one load per byte, no branch
/// per character kind).
static ESCAPED: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = replacement(b as u8).is_some();
        b += 1;
    }
    table
};

/// Appends `text` escaped as quick-xml's `escape` does (text and
/// attribute values alike).
pub(super) fn escape(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + bytes.len() / 8);
    let mut from = 0;
    // Eight bytes at a time while none of them needs escaping: HTML is
    // mostly runs of text between tags.
    let mut i = 0;
    while i < bytes.len() {
        if i + 8 <= bytes.len() && !bytes[i..i + 8].iter().any(|&b| ESCAPED[b as usize]) {
            i += 8;
            continue;
        }
        if let Some(replacement) = replacement(bytes[i]) {
            out.extend_from_slice(&bytes[from..i]);
            out.extend_from_slice(replacement);
            from = i + 1;
        }
        i += 1;
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
