//! Front matter of the common flat shape, read without the YAML parser.
//!
//! Nearly every article's front matter is a list of `key: value` lines whose
//! values are quoted strings, plain words or short lists of them. Reading
//! such front matter with serde-saphyr took a sixth of a first run's CPU
//! (`perf` on a 10,000-article first run: 17 % of the samples in the YAML
//! parser, as much as the whole floor spends on YAML); this reader takes a
//! small fraction of that. No crate reads a YAML subset while promising
//! serde-saphyr's answers, hence this module.
//!
//! It is an allowlist, not a YAML parser. It answers only for text in the
//! narrow grammar below, and only when every value is asked for in a way
//! whose answer is known to be serde-saphyr's; for anything else it answers
//! `None` and the caller parses with serde-saphyr, which also gives every
//! error its line and column. A property test (below) and the
//! `front_matter_flat` fuzz target hold every answer it gives equal to
//! serde-saphyr's.
//!
//! The grammar, line by line (a final `\r` is dropped; a tab, another
//! control character, a byte-order mark or a Unicode line break anywhere
//! means `None`):
//! - a blank line, or a comment starting in the first column;
//! - `key: value`, the key in the first column, made of ASCII letters,
//!   digits, `_` and `-`, starting with a letter, and no word YAML reads
//!   as a boolean or a null; each key once;
//! - `key:` alone, followed by nothing (null) or by items `- value`, all
//!   indented alike.
//!
//! A value is `'single-quoted'` (`''` for an apostrophe), `"double-quoted"`
//! without escapes, a `[flow, list]` of such scalars, or a plain scalar that
//! YAML reads as one line of text, followed by nothing but spaces.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::value::{SeqDeserializer, StrDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, Visitor};

/// `deserialize_*` methods that answer `Unsure`: shapes the grammar does
/// not hold, or answers (numbers) not known to be serde-saphyr's.
macro_rules! unsure {
    ($($method:ident)*) => {
        $(fn $method<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Unsure> {
            Err(Unsure)
        })*
    };
}

/// The `deserialize_*` methods with names or lengths, all `Unsure`.
macro_rules! unsure_shaped {
    () => {
        fn deserialize_unit_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            _visitor: V,
        ) -> Result<V::Value, Unsure> {
            Err(Unsure)
        }
        fn deserialize_newtype_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            _visitor: V,
        ) -> Result<V::Value, Unsure> {
            Err(Unsure)
        }
        fn deserialize_tuple<V: Visitor<'de>>(
            self,
            _len: usize,
            _visitor: V,
        ) -> Result<V::Value, Unsure> {
            Err(Unsure)
        }
        fn deserialize_tuple_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            _len: usize,
            _visitor: V,
        ) -> Result<V::Value, Unsure> {
            Err(Unsure)
        }
        fn deserialize_enum<V: Visitor<'de>>(
            self,
            _name: &'static str,
            _variants: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Unsure> {
            Err(Unsure)
        }
    };
}

/// More comment lines than this are left to serde-saphyr, which buffers
/// at most 32 in a row while it looks ahead.
const MAX_COMMENTS: usize = 16;

/// Longer keys are left to serde-saphyr, which looks at most 1,024
/// characters ahead for a key's colon.
const MAX_KEY_LEN: usize = 256;

/// Front matter longer than this is left to serde-saphyr, whose budgets
/// (250,000 nodes) a shorter text cannot reach.
const MAX_LEN: usize = 64 * 1024;

/// `yaml` read as a `T`, when it is in the flat grammar and `T` asks for
/// its values in ways this reader answers as serde-saphyr does; `None`
/// otherwise (the caller then parses with serde-saphyr).
pub fn read<'a, T: Deserialize<'a>>(yaml: &'a str) -> Option<T> {
    let entries = entries(yaml)?;
    T::deserialize(Document(entries)).ok()
}

/// One value, as written.
#[derive(Debug)]
enum Value<'a> {
    /// `key:` with nothing after it.
    Null,
    /// A plain scalar, trimmed.
    Plain(&'a str),
    /// A quoted scalar's text.
    Quoted(Cow<'a, str>),
    /// A flow or block list of plain or quoted scalars.
    List(Vec<Value<'a>>),
}

/// The entries of `yaml`, in order, or `None` when it is not in the grammar.
fn entries(yaml: &str) -> Option<Vec<(&str, Value<'_>)>> {
    if yaml.len() > MAX_LEN {
        return None;
    }
    let mut out: Vec<(&str, Value<'_>)> = Vec::with_capacity(16);
    let mut comments = 0;
    let mut lines = yaml
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .peekable();
    while let Some(line) = lines.next() {
        if !clean(line) {
            return None;
        }
        if line.starts_with('#') {
            comments += 1;
            if comments > MAX_COMMENTS {
                return None;
            }
            continue;
        }
        if is_blank(line) {
            continue;
        }
        let (key, rest) = key(line)?;
        if out.iter().any(|(k, _)| *k == key) {
            return None;
        }
        let rest = rest.trim_start_matches(' ');
        let value = if rest.is_empty() {
            block_list(&mut lines)?
        } else if rest.starts_with('[') {
            let (list, after) = flow_list(rest)?;
            is_blank(after).then_some(list)?
        } else {
            let (value, after) = scalar(rest, Context::Block)?;
            is_blank(after).then_some(value)?
        };
        out.push((key, value));
    }
    (!out.is_empty()).then_some(out)
}

/// No character that YAML treats apart: controls (a tab included), DEL,
/// the C1 range (NEL among it), Unicode line breaks, a byte-order mark
/// and the two non-characters YAML excludes.
fn clean(line: &str) -> bool {
    line.bytes().all(|b| b >= 0x20 && b != 0x7f)
        && (line.is_ascii()
            || !line.chars().any(|c| {
                matches!(
                    c,
                    '\u{80}'
                        ..='\u{9f}'
                            | '\u{2028}'
                            | '\u{2029}'
                            | '\u{feff}'
                            | '\u{fffe}'
                            | '\u{ffff}'
                )
            }))
}

fn is_blank(s: &str) -> bool {
    s.bytes().all(|b| b == b' ')
}

/// The key of a `key: …` line and what follows the colon.
fn key(line: &str) -> Option<(&str, &str)> {
    let colon = line.find(':')?;
    let (key, rest) = (&line[..colon], &line[colon + 1..]);
    if key.len() > MAX_KEY_LEN {
        return None;
    }
    let mut bytes = key.bytes();
    let first = bytes.next()?;
    let key_ok = (first.is_ascii_alphabetic() || first == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    // A key is a scalar too: `null:` or `on:` is not the text it shows.
    (key_ok && text_to_any(key) && (rest.is_empty() || rest.starts_with(' ')))
        .then_some((key, rest))
}

/// After `key:` alone: the items `- value` that follow, all indented alike
/// (blank lines between them are allowed), or null when none does.
fn block_list<'a>(
    lines: &mut std::iter::Peekable<impl Iterator<Item = &'a str>>,
) -> Option<Value<'a>> {
    let mut items = Vec::new();
    let mut indent = None;
    while let Some(&line) = lines.peek() {
        if !clean(line) {
            return None;
        }
        if is_blank(line) {
            lines.next();
            continue;
        }
        let body = line.trim_start_matches(' ');
        let spaces = line.len() - body.len();
        let Some(item) = body.strip_prefix("- ") else {
            // The next key, or (indented) something this grammar leaves out:
            // a continued scalar, a nested mapping, an indented comment.
            if spaces == 0 {
                break;
            }
            return None;
        };
        if *indent.get_or_insert(spaces) != spaces {
            return None;
        }
        let (value, after) = scalar(item.trim_start_matches(' '), Context::Block)?;
        if !is_blank(after) {
            return None;
        }
        items.push(value);
        lines.next();
    }
    Some(if items.is_empty() {
        Value::Null
    } else {
        Value::List(items)
    })
}

/// `[a, 'b', "c"]` at the start of `s`, and what follows the `]`.
fn flow_list(s: &str) -> Option<(Value<'_>, &str)> {
    let mut rest = s.strip_prefix('[')?.trim_start_matches(' ');
    let mut items = Vec::new();
    if let Some(after) = rest.strip_prefix(']') {
        return Some((Value::List(items), after));
    }
    loop {
        let (item, after) = scalar(rest, Context::Flow)?;
        items.push(item);
        let after = after.trim_start_matches(' ');
        if let Some(after) = after.strip_prefix(']') {
            return Some((Value::List(items), after));
        }
        // A comma and then an item: `[a,]` is left to serde-saphyr.
        rest = after.strip_prefix(',')?.trim_start_matches(' ');
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Context {
    /// A value of its own line, or a block list's item.
    Block,
    /// An item of a `[flow, list]`.
    Flow,
}

/// The scalar at the start of `s` and what follows it.
fn scalar(s: &str, context: Context) -> Option<(Value<'_>, &str)> {
    match s.as_bytes().first()? {
        b'\'' => {
            let body = &s[1..];
            let mut doubled = false;
            let mut at = 0;
            loop {
                let quote = at + body[at..].find('\'')?;
                if body[quote + 1..].starts_with('\'') {
                    doubled = true;
                    at = quote + 2;
                } else {
                    let text = &body[..quote];
                    let text = if doubled {
                        Cow::Owned(text.replace("''", "'"))
                    } else {
                        Cow::Borrowed(text)
                    };
                    return Some((Value::Quoted(text), &body[quote + 1..]));
                }
            }
        }
        b'"' => {
            let body = &s[1..];
            let end = body.find(['"', '\\'])?;
            (body.as_bytes()[end] == b'"')
                .then(|| (Value::Quoted(Cow::Borrowed(&body[..end])), &body[end + 1..]))
        }
        _ => {
            let end = match context {
                Context::Block => s.len(),
                Context::Flow => s.find([',', ']']).unwrap_or(s.len()),
            };
            let text = s[..end].trim_end_matches(' ');
            plain(text, context).then_some((Value::Plain(text), &s[end..]))
        }
    }
}

/// Whether YAML reads `text` as one plain scalar of this context: not
/// starting with an indicator, no comment (` #`), no mapping (`: ` or a
/// final `:`), and in a flow list none of `:#[]{}` or quotes either.
fn plain(text: &str, context: Context) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    if "-?:,[]{}#&*!|>'\"%@`~".contains(first) {
        return false;
    }
    match context {
        Context::Block => !(text.contains(" #") || text.contains(": ") || text.ends_with(':')),
        Context::Flow => !text.contains([':', '#', '[', ']', '{', '}', '\'', '"']),
    }
}

/// The plain scalars YAML reads as null.
fn is_null(text: &str) -> bool {
    matches!(text, "null" | "Null" | "NULL")
}

/// Whether serde-saphyr gives a plain scalar to `deserialize_any` as text:
/// it starts with a letter and is none of the words it reads as a boolean,
/// a null or a float (any case; the list is wider than YAML 1.2's, as
/// serde-saphyr reads `yes`, `on` and `y` as booleans).
fn text_to_any(text: &str) -> bool {
    const WORDS: &[&str] = &[
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "nan", "inf", "infinity",
    ];
    text.chars().next().is_some_and(char::is_alphabetic)
        && !WORDS.iter().any(|w| w.eq_ignore_ascii_case(text))
}

/// Not an answer this reader can vouch for: the caller asks serde-saphyr.
#[derive(Debug)]
struct Unsure;

impl fmt::Display for Unsure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not in the flat front-matter grammar")
    }
}

impl std::error::Error for Unsure {}

impl de::Error for Unsure {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Unsure
    }
}

/// The whole front matter: a mapping, and nothing else.
struct Document<'a>(Vec<(&'a str, Value<'a>)>);

impl<'de> Deserializer<'de> for Document<'_> {
    type Error = Unsure;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unsure> {
        let mut entries = Entries {
            entries: self.0.into_iter(),
            value: None,
        };
        visitor.visit_map(&mut entries)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Unsure> {
        self.deserialize_any(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unsure> {
        self.deserialize_any(visitor)
    }

    unsure! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_f32
        deserialize_f64 deserialize_char deserialize_str deserialize_string deserialize_bytes
        deserialize_byte_buf deserialize_option deserialize_unit deserialize_seq
        deserialize_identifier deserialize_ignored_any
    }
    unsure_shaped!();
}

struct Entries<'a> {
    entries: std::vec::IntoIter<(&'a str, Value<'a>)>,
    value: Option<Value<'a>>,
}

impl<'de> MapAccess<'de> for Entries<'_> {
    type Error = Unsure;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Unsure> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some(value);
        seed.deserialize(StrDeserializer::<Unsure>::new(key))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Unsure> {
        seed.deserialize(self.value.take().ok_or(Unsure)?)
    }
}

impl<'de> IntoDeserializer<'de, Unsure> for Value<'_> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> Deserializer<'de> for Value<'_> {
    type Error = Unsure;

    /// Asked by untagged enums and by types that take several shapes.
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unsure> {
        match self {
            Value::Quoted(text) => visitor.visit_str(&text),
            Value::Plain(text) if text_to_any(text) => visitor.visit_str(text),
            Value::List(items) => self::list(items, visitor),
            Value::Plain(_) | Value::Null => Err(Unsure),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unsure> {
        match self {
            Value::Null => visitor.visit_none(),
            Value::Plain(text) if is_null(text) => visitor.visit_none(),
            value => visitor.visit_some(value),
        }
    }

    /// A string field takes any plain scalar as written (`12`, `yes`,
    /// `2024-02-10`), but for the null words.
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unsure> {
        match self {
            Value::Quoted(text) => visitor.visit_str(&text),
            Value::Plain(text) if !is_null(text) => visitor.visit_str(text),
            _ => Err(Unsure),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unsure> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unsure> {
        self.deserialize_str(visitor)
    }

    /// Only `true` and `false`; serde-saphyr's wider spellings (`yes`,
    /// `on`, quoted ones) are left to it.
    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unsure> {
        match self {
            Value::Plain("true") => visitor.visit_bool(true),
            Value::Plain("false") => visitor.visit_bool(false),
            _ => Err(Unsure),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unsure> {
        match self {
            Value::List(items) => self::list(items, visitor),
            _ => Err(Unsure),
        }
    }

    /// An unknown key's value. serde-saphyr reads it even so, and rejects
    /// the floats that are not finite (`.inf`, `1e400`); such values, and
    /// any that might be one, are left to it.
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unsure> {
        if self.surely_finite() {
            visitor.visit_unit()
        } else {
            Err(Unsure)
        }
    }

    unsure! {
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_u8
        deserialize_u16 deserialize_u32 deserialize_u64 deserialize_f32 deserialize_f64
        deserialize_char deserialize_bytes deserialize_byte_buf deserialize_unit
        deserialize_map
    }
    unsure_shaped!();

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Unsure> {
        Err(Unsure)
    }
}

impl Value<'_> {
    /// Whether serde-saphyr, reading this value as whatever it looks like,
    /// cannot find a float that is not finite in it: no `.inf` or `.nan`
    /// (a `.` first, after any sign), no exponent, no long run of digits.
    fn surely_finite(&self) -> bool {
        match self {
            Value::Null | Value::Quoted(_) => true,
            Value::List(items) => items.iter().all(Value::surely_finite),
            Value::Plain(text) => {
                text.starts_with(char::is_alphabetic)
                    || !(text.trim_start_matches(['+', '-']).starts_with('.')
                        || text.contains(['e', 'E'])
                        || text.len() > 64)
            }
        }
    }
}

fn list<'de, V: Visitor<'de>>(items: Vec<Value<'_>>, visitor: V) -> Result<V::Value, Unsure> {
    let mut items = SeqDeserializer::new(items.into_iter());
    let value = visitor.visit_seq(&mut items)?;
    items.end()?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::super::{RawFrontMatter, front_matter_both_ways};
    use proptest::prelude::*;

    /// The flat reader's answer for `yaml`, held equal to serde-saphyr's.
    fn read_checked(yaml: &str) -> Option<String> {
        let (flat, full) = front_matter_both_ways(yaml)?;
        assert_eq!(flat, full, "for {yaml:?}");
        Some(flat)
    }

    #[test]
    fn reads_the_shapes_publishers_write() {
        let shapes = [
            // The benchmark corpus and the seed (after its apostrophes are repaired).
            "title: 'Regulation window'\nsubtitle: 'How Priya''s approach changes'\nauthor: 'Kenji Watanabe'\nread_time: '12 mins'\npublish_date: '2023-02-23'\nheroImage: 'https://media.example.com/hero/9458.jpg'\ncta: 'Follow us for more on data!'\ntags: [open-source]\n",
            // The bundled example.
            "title: \"What to Expect\"\nauthor: \"Santiago Ramirez\"\npublish_date: \"2030-01-15T08:00:00+01:00\"\nhero_alt: \"Delegates' flags\"\ntags: [policy, safety]\n",
            "title: 'Agents'\ntags: [newsroom, agents]\ndraft: true\n",
            // Hugo and Jekyll: plain dates and titles, block lists, comments.
            "# comment\ntitle: Don't panic, really\ndate: 2024-02-10T09:00:00Z\ndraft: false\ncategories:\n  - Releases\n  - 'Open source'\n\nslug: first-post\r\n",
            "title: C# tips\ntags:\n- rust\n- \"web\"\nauthor: [Ann, Bob]\nimage:\n",
        ];
        for yaml in shapes {
            assert!(read_checked(yaml).is_some(), "not read: {yaml:?}");
        }
        let raw: RawFrontMatter = super::read(shapes[3]).expect("read");
        assert_eq!(raw.title.as_deref(), Some("Don't panic, really"));
        assert_eq!(
            raw.tags.map(|t| t.0),
            Some(vec!["Releases".into(), "Open source".into()])
        );
        assert_eq!(raw.draft, Some(false));
    }

    #[test]
    fn leaves_everything_else_to_the_yaml_parser() {
        let others = [
            "draft: yes\n",                                 // a boolean only serde-saphyr spells
            "draft: 'true'\n",                              // a quoted boolean
            "title: 'a' # comment\n",                       // a comment after a value
            "tags: [a,]\n",                                 // a trailing comma
            "title: &x a\n",                                // an anchor
            "title: !!str 12\n",                            // a tag
            "title: a\n  b\n",                              // a continued plain scalar
            "title: 'a\n  b'\n",                            // a quoted scalar on two lines
            "title: \"a\\tb\"\n",                           // an escape
            "title:\ta\n",                                  // a tab
            "title: a\ntitle: b\n",                         // a repeated key
            "date: 2024-01-01\npublish_date: 2024-01-02\n", // two spellings of one key
            "author: 12\n",                                 // a number where any shape may go
            "tags: 2024\n",
            "author: [Ann, 12]\n",
            "social:\n  skip: [x]\n", // a nested mapping
            "tags:\n  - a\n   - b\n", // items indented unlike
            "# only a comment\n",
            "title: |\n  a\n",    // a block scalar
            "title: a: b\n",      // a mapping where a scalar goes
            "title : a\n",        // a space before the colon
            "'title': a\n",       // a quoted key
            "title: \u{feff}a\n", // a byte-order mark
            "title: a\u{85}b\n",  // NEL, a line break in YAML 1.1
        ];
        for yaml in others {
            assert_eq!(front_matter_both_ways(yaml), None, "read: {yaml:?}");
        }
    }

    /// Scalars as written, tricky ones among them.
    fn scalar() -> impl Strategy<Value = String> {
        let words = prop::sample::select(vec![
            "true",
            "false",
            "True",
            "yes",
            "No",
            "on",
            "y",
            "n",
            "null",
            "NULL",
            "~",
            "nan",
            "Inf",
            ".inf",
            "12",
            "-3",
            "+3",
            ".5",
            "1e3",
            "0x1F",
            "0o17",
            "1_000",
            "007",
            "2024-02-10",
            "2024-02-10T09:00:00Z",
            "1:20",
            "a: b",
            "a:b",
            "a:",
            "a #b",
            "a#b",
            "C# tips",
            "Don't",
            "foo!",
            "-a",
            "- a",
            "?a",
            "&x v",
            "*a",
            "!a",
            "|",
            ">a",
            "%a",
            "@a",
            "`a",
            "[a]",
            "{a}",
            "a,b",
            "a[b]",
            "é",
            "Straße",
            "x\u{85}y",
            "x\u{2028}y",
            "\u{feff}a",
            "a\tb",
            "a\\b",
            "Yes please",
            "nul",
            "",
            "1e400",
            ".NaN",
            "-.inf",
            "+.5",
        ]);
        let free = "[a-zA-Z0-9 ,:#'\"!&*\\[\\]{}\\\\-]{0,10}";
        prop_oneof![
            3 => words.prop_map(str::to_owned),
            3 => "[a-zA-Z][a-zA-Z0-9 ,:#'!-]{0,10}".prop_map(|s| s.trim().to_owned()),
            1 => free.prop_map(|s| s.trim().to_owned()),
            4 => free.prop_map(|s| format!("'{}'", s.replace('\'', "''"))),
            1 => free.prop_map(|s| format!("'{s}'")),
            2 => free.prop_map(|s| format!("\"{s}\"")),
        ]
    }

    /// A value after `key:`: a scalar, a flow list, a block list or nothing.
    fn value() -> impl Strategy<Value = String> {
        let items = prop::collection::vec(scalar(), 0..4);
        prop_oneof![
            4 => scalar().prop_map(|s| format!(" {s}")),
            2 => (prop::collection::vec(scalar(), 0..4), prop::sample::select(vec![",", ", ", " , "]), prop::sample::select(vec!["", " "]))
                .prop_map(|(items, comma, pad)| format!(" [{pad}{}{pad}]", items.join(comma))),
            2 => (items, 0usize..3, prop::bool::ANY).prop_map(|(items, indent, uneven)| {
                let mut out = String::new();
                for (i, item) in items.iter().enumerate() {
                    let extra = usize::from(uneven && i == 1);
                    out.push_str(&format!("\n{}- {item}", " ".repeat(indent + extra)));
                }
                out
            }),
            1 => Just(String::new()),
            1 => prop::sample::select(vec![" 'a' # c", "  ", " a\n  b", " \t", "\n  x: y", " *a"]).prop_map(str::to_owned),
        ]
    }

    fn line() -> impl Strategy<Value = String> {
        let key = prop::sample::select(vec![
            "title",
            "subtitle",
            "description",
            "summary",
            "author",
            "read_time",
            "publish_date",
            "date",
            "created",
            "heroImage",
            "image",
            "hero_alt",
            "cta",
            "tags",
            "categories",
            "draft",
            "slug",
            "canonical_url",
            "social",
            "extra",
            "x-y",
            "_z",
            "Title",
        ]);
        prop_oneof![
            8 => (key, value()).prop_map(|(k, v)| format!("{k}:{v}")),
            1 => prop::sample::select(vec!["", "# note", "  # note", "  ", "title :a", "- a", "'k': v", "k:v"]).prop_map(str::to_owned),
            1 => (1usize..40).prop_map(|n| "#\n".repeat(n)),
            1 => prop::sample::select(vec![250usize, 1100]).prop_map(|n| format!("{}: v", "k".repeat(n))),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(6000))]
        /// Whatever the flat reader answers, serde-saphyr answers the same.
        #[test]
        fn agrees_with_serde_saphyr(lines in prop::collection::vec(line(), 1..6), crlf in prop::bool::ANY) {
            let end = if crlf { "\r\n" } else { "\n" };
            let yaml: String = lines.iter().map(|l| format!("{l}{end}")).collect();
            if let Some((flat, full)) = front_matter_both_ways(&yaml) {
                prop_assert_eq!(flat, full, "for {:?}", yaml);
            }
        }
    }
}
