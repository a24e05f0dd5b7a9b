//! The pieces of a post's card on the preview page, escaped once, for each
//! platform's `card` to arrange the way its platform shows a post.

use std::fmt::Write as _;

/// HTML-escapes text for element content and attribute values.
pub fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Escaped text with URLs as links and line breaks kept.
pub fn rich(text: &str) -> String {
    let mut out = String::new();
    let mut last = 0;
    for (start, end) in super::compose::url_spans(text) {
        out.push_str(&esc(&text[last..start]));
        let url = esc(&text[start..end]);
        let _ = write!(out, "<a href=\"{url}\">{url}</a>");
        last = end;
    }
    out.push_str(&esc(&text[last..]));
    out.replace('\n', "<br>")
}

/// A post's card pieces, already escaped.
pub struct Card<'a> {
    /// The card title.
    pub title: &'a str,
    /// The article's link.
    pub url: &'a str,
    /// The hero image as an `<img>`, or empty.
    pub hero: &'a str,
    /// The post text with links.
    pub text: &'a str,
    /// The site's title.
    pub site: &'a str,
    /// Who the post goes out as (an account, a channel, a room).
    pub account: &'a str,
}

impl Card<'_> {
    /// The poster's name line, as social timelines show it.
    pub fn who(&self) -> String {
        let handle = self.account;
        let initial = self.site.chars().next().unwrap_or('h');
        format!(
            "<div class=\"who\"><div class=\"avatar\">{initial}</div><div><div class=\"name\">{}</div><div class=\"handle\">{}</div></div></div>",
            self.site,
            esc(handle)
        )
    }

    /// A timeline post: the name line, the text, then the image below it
    /// (Mastodon, Threads, X).
    pub fn timeline(&self) -> String {
        format!("{}<div>{}</div>{}", self.who(), self.text, self.hero)
    }
}
