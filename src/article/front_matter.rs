//! Splitting a file into front matter and body, and reading the front matter
//! as its author meant it.
//!
//! Real files arrive with single-quoted values holding raw apostrophes
//! (`subtitle: 'How DeepSeek's models ...'`), which strict YAML rejects. Such a
//! line is repaired before parsing (each lone `'` doubled, as YAML spells an
//! apostrophe inside single quotes) and reported as a warning at its line. No
//! other YAML is rewritten: any other error is reported with its line and
//! column and the article is left out.
//!
//! Pure functions over text; reading files happens in `load`.

use std::borrow::Cow;

/// Where the front matter and the body are in a file's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split<'a> {
    /// The YAML between the fences, without them.
    pub yaml: &'a str,
    /// File line number (1-based) of the YAML's first line.
    pub yaml_first_line: u32,
    /// File line number of the opening `---`.
    pub open_line: u32,
    /// Byte offset of the body in the text given to `split`.
    pub body_offset: usize,
    /// File line number of the body's first line.
    pub body_line: u32,
}

/// Why a file has no usable front matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitError {
    /// Nothing but white space.
    Empty,
    /// The file does not start with `---`.
    Missing,
    /// `---` opened at this line was never closed.
    Unclosed { open_line: u32 },
    /// The closing fence was not found in the first part of the file read; the
    /// caller reads more and tries again.
    NeedMore,
}

/// Splits `text` (possibly only the start of a file, see `complete`) into front
/// matter and body. A UTF-8 BOM and CRLF line ends are accepted; blank lines
/// before the opening fence are skipped. When `complete` is false and no
/// closing fence is found, `NeedMore` asks the caller for the rest.
pub fn split(text: &str, complete: bool) -> Result<Split<'_>, SplitError> {
    let mut offset = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let mut line_no: u32 = 0;
    let mut open_line = None;
    let mut yaml_start = 0;
    for line in text[offset..].split_inclusive('\n') {
        line_no += 1;
        let start = offset;
        offset += line.len();
        let content = line.trim_end_matches(['\n', '\r']);
        match open_line {
            None => {
                if content.trim().is_empty() {
                    continue;
                }
                if is_fence(content, "---") {
                    open_line = Some(line_no);
                    yaml_start = offset;
                } else {
                    return Err(SplitError::Missing);
                }
            }
            Some(open) => {
                let ends_line = line.ends_with('\n') || complete;
                if ends_line && (is_fence(content, "---") || is_fence(content, "...")) {
                    return Ok(Split {
                        yaml: &text[yaml_start..start],
                        yaml_first_line: open + 1,
                        open_line: open,
                        body_offset: offset,
                        body_line: line_no + 1,
                    });
                }
            }
        }
    }
    match open_line {
        None if text[..].trim_start_matches('\u{feff}').trim().is_empty() && complete => {
            Err(SplitError::Empty)
        }
        None if !complete => Err(SplitError::NeedMore),
        None => Err(SplitError::Missing),
        Some(_) if !complete => Err(SplitError::NeedMore),
        Some(open_line) => Err(SplitError::Unclosed { open_line }),
    }
}

fn is_fence(line: &str, fence: &str) -> bool {
    line.strip_prefix(fence)
        .is_some_and(|rest| rest.trim().is_empty())
}

/// A line whose raw apostrophes were doubled; `line` is 0-based within the
/// YAML, `column` the 1-based character column of the first one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repair {
    pub line: usize,
    pub column: usize,
}

/// Doubles lone apostrophes inside single-quoted scalars that fill the rest of
/// their line (`key: '...'` or `- '...'`). A correct `''` is left alone and
/// is no repair. Returns the text unchanged (borrowed) when nothing needed it.
pub fn repair_apostrophes(yaml: &str) -> (Cow<'_, str>, Vec<Repair>) {
    // Written by hand: no YAML library offers a lenient mode for this defect,
    // and the rule is narrow enough to state exactly.
    let mut repairs = Vec::new();
    let mut out = String::new();
    let mut copied_to = 0;
    let mut line_start = 0;
    for (index, line) in yaml.split_inclusive('\n').enumerate() {
        if let Some(inner_range) = single_quoted_value(line)
            && let Some(fixed) = double_lone_apostrophes(&line[inner_range.clone()])
        {
            let first_lone = first_lone_apostrophe(&line[inner_range.clone()]).unwrap_or(0);
            let column = line[..inner_range.start + first_lone].chars().count() + 1;
            repairs.push(Repair {
                line: index,
                column,
            });
            let abs_inner = line_start + inner_range.start;
            out.push_str(&yaml[copied_to..abs_inner]);
            out.push_str(&fixed);
            copied_to = line_start + inner_range.end;
        }
        line_start += line.len();
    }
    if repairs.is_empty() {
        return (Cow::Borrowed(yaml), repairs);
    }
    out.push_str(&yaml[copied_to..]);
    (Cow::Owned(out), repairs)
}

/// For `key: '...'` or `- '...'` filling the line, the byte range of the
/// text between the quotes.
fn single_quoted_value(line: &str) -> Option<std::ops::Range<usize>> {
    let content = line.trim_end_matches(['\n', '\r']).trim_end();
    let indent = content.len() - content.trim_start().len();
    let rest = &content[indent..];
    let value_start = if let Some(after_dash) = rest.strip_prefix("- ") {
        indent + 2 + (after_dash.len() - after_dash.trim_start().len())
    } else {
        // A plain key: letters, digits, `_`, `-`, `.`, then `:` and a space.
        let key_len = rest
            .find(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.')))
            .unwrap_or(rest.len());
        if key_len == 0 || !rest[key_len..].starts_with(':') {
            return None;
        }
        let after_colon = &rest[key_len + 1..];
        let spaces = after_colon.len() - after_colon.trim_start().len();
        if spaces == 0 {
            return None;
        }
        indent + key_len + 1 + spaces
    };
    let value = &content[value_start..];
    if value.len() >= 2 && value.starts_with('\'') && value.ends_with('\'') {
        Some(value_start + 1..content.len() - 1)
    } else {
        None
    }
}

fn first_lone_apostrophe(inner: &str) -> Option<usize> {
    let bytes = inner.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\'' {
            if bytes.get(i + 1) == Some(&b'\'') {
                i += 2;
                continue;
            }
            return Some(i);
        }
        i += 1;
    }
    None
}

fn double_lone_apostrophes(inner: &str) -> Option<String> {
    first_lone_apostrophe(inner)?;
    let mut out = String::with_capacity(inner.len() + 4);
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            if chars.peek() == Some(&'\'') {
                chars.next();
            }
            out.push_str("''");
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// Top-level keys of a YAML mapping as written (`key:` at column 1), with their
/// 0-based line, for typo warnings on keys herald does not know.
pub fn top_level_keys(yaml: &str) -> Vec<(usize, &str)> {
    yaml.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let first = line.chars().next()?;
            if first.is_whitespace() || matches!(first, '#' | '-' | '"' | '\'') {
                return None;
            }
            let (key, _) = line.split_once(':')?;
            Some((i, key.trim()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_with_bom_crlf_and_leading_blank_lines() {
        let text = "\u{feff}---\r\ntitle: A\r\n---\r\nBody\r\n";
        let s = split(text, true).unwrap();
        assert_eq!(s.yaml, "title: A\r\n");
        assert_eq!(s.yaml_first_line, 2);
        assert_eq!(&text[s.body_offset..], "Body\r\n");
        assert_eq!(s.body_line, 4);

        let text = "\n\n---\ntitle: A\n...\nBody";
        let s = split(text, true).unwrap();
        assert_eq!(s.open_line, 3);
        assert_eq!(s.yaml_first_line, 4);
        assert_eq!(&text[s.body_offset..], "Body");
    }

    #[test]
    fn split_errors_name_the_problem() {
        assert_eq!(split("", true), Err(SplitError::Empty));
        assert_eq!(split(" \n\n", true), Err(SplitError::Empty));
        assert_eq!(split("# Title\n", true), Err(SplitError::Missing));
        assert_eq!(
            split("---\ntitle: A\nbody\n", true),
            Err(SplitError::Unclosed { open_line: 1 })
        );
        assert_eq!(split("---\ntitle: A\n", false), Err(SplitError::NeedMore));
        // A fence cut off at the end of a partial read is not yet a fence.
        assert_eq!(
            split("---\ntitle: A\n---", false),
            Err(SplitError::NeedMore)
        );
        assert!(split("---\ntitle: A\n---", true).is_ok());
        // `----` or `--- x` is not a fence.
        assert_eq!(
            split("---\na: 1\n----\n", true),
            Err(SplitError::Unclosed { open_line: 1 })
        );
    }

    #[test]
    fn repairs_only_lone_apostrophes_in_single_quoted_lines() {
        let yaml = "title: 'It''s fine'\nsubtitle: 'How DeepSeek's models beat OpenAI's'\ncta: \"Don't\"\n";
        let (fixed, repairs) = repair_apostrophes(yaml);
        assert_eq!(
            fixed,
            "title: 'It''s fine'\nsubtitle: 'How DeepSeek''s models beat OpenAI''s'\ncta: \"Don't\"\n"
        );
        assert_eq!(
            repairs,
            vec![Repair {
                line: 1,
                column: 24
            }]
        );
    }

    #[test]
    fn repair_leaves_valid_yaml_borrowed() {
        let yaml = "title: 'Plain'\ntags:\n  - 'a'\nnote: it's plain\n";
        let (fixed, repairs) = repair_apostrophes(yaml);
        assert!(matches!(fixed, Cow::Borrowed(_)));
        assert!(repairs.is_empty());
    }

    #[test]
    fn repairs_list_items_and_crlf_lines() {
        let (fixed, repairs) = repair_apostrophes("tags:\r\n  - 'rock'n'roll'\r\n");
        assert_eq!(fixed, "tags:\r\n  - 'rock''n''roll'\r\n");
        assert_eq!(
            repairs,
            vec![Repair {
                line: 1,
                column: 10
            }]
        );
    }

    #[test]
    fn top_level_keys_skip_nested_and_comments() {
        let keys = top_level_keys("title: A\n# c\ntags:\n  - x\nauthor:\n  name: B\n");
        assert_eq!(keys, vec![(0, "title"), (2, "tags"), (4, "author")]);
    }
}
