//! `--preview FILE.html`: one self-contained page (inline CSS, no script)
//! showing every post of the plan as a card styled like its platform, with
//! the same fitted text the request carries, so a person can look before
//! anything goes out. Pure: plan in, HTML out.

use std::fmt::Write as _;

use super::plan::Plan;
use super::posts::PlannedPost;
use crate::config::Config;
use crate::social::card::{Card, esc, rich};

const STYLE: &str = r#"
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#eef0f3;margin:0;padding:24px;color:#1d1d1f}
h1{font-size:20px;margin:0 0 4px} .sub{color:#666;margin:0 0 20px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:20px;align-items:start}
.post{border-radius:12px;overflow:hidden;box-shadow:0 1px 3px rgba(0,0,0,.15)}
.bar{font:600 12px system-ui;padding:6px 12px;color:#fff;display:flex;justify-content:space-between}
.body{padding:14px}
.meta{font-size:12px;opacity:.75;margin-top:8px}
.hero{display:block;width:100%;max-height:260px;object-fit:cover;border-radius:8px;margin-top:10px;background:#ccc}
.btn{display:inline-block;margin-top:10px;padding:6px 14px;border-radius:6px;text-decoration:none;font-weight:600}
.who{display:flex;gap:10px;align-items:center;margin-bottom:8px}
.avatar{width:40px;height:40px;border-radius:50%;display:flex;align-items:center;justify-content:center;font-weight:700;color:#fff}
.name{font-weight:700} .handle{opacity:.6;font-size:13px}
.linkcard{border:1px solid rgba(128,128,128,.35);border-radius:10px;overflow:hidden;margin-top:10px}
.linkcard .hero{border-radius:0;margin:0}
.linkcard .lc{padding:8px 12px} .lc .d{font-size:12px;opacity:.7}
.notes{font-size:12px;background:#fff8d6;color:#5c4800;padding:6px 12px}
.count{font-size:12px;opacity:.8}
.raw{margin-top:10px;font-size:12px} .raw pre{white-space:pre-wrap;word-break:break-all;max-height:320px;overflow:auto;background:rgba(128,128,128,.12);padding:8px;border-radius:6px}
"#;

/// The preview page for every post of `plan` that will be sent.
pub fn html(plan: &Plan, config: &Config) -> String {
    let mut out = String::new();
    let site = esc(&config.site.title);
    let posts: Vec<&PlannedPost> = plan.posts.iter().filter(|p| p.action.sends()).collect();
    // Each platform's own look, once per platform in the config.
    let mut styles: Vec<&str> = Vec::new();
    for t in &config.social.targets {
        let style = t.platform.card_style();
        if !styles.contains(&style) {
            styles.push(style);
        }
    }
    let styles = styles.join("\n");
    let _ = write!(
        out,
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>herald preview: {site}</title><style>{STYLE}{styles}</style></head><body>\
         <h1>{site}: {} {} to send</h1><p class=\"sub\">Preview made {} · nothing has been sent</p><div class=\"grid\">",
        esc(&config.site.language),
        posts.len(),
        if posts.len() == 1 { "post" } else { "posts" },
        plan.now.format("%Y-%m-%d %H:%M UTC"),
    );
    if posts.is_empty() {
        out.push_str("<p>Nothing is due.</p>");
    }
    for p in posts {
        card(&mut out, p, &site, config);
    }
    out.push_str("</div></body></html>\n");
    out
}

fn card(out: &mut String, p: &PlannedPost, site: &str, config: &Config) {
    let Some(post) = &p.post else { return };
    let Some(target) = config.social.targets.iter().find(|t| t.name == p.target) else {
        return;
    };
    let hero = post
        .image
        .as_ref()
        .map(|i| {
            format!(
                "<img class=\"hero\" src=\"{0}\" alt=\"{1}\"><div class=\"meta\">image: {0} (fetched when sent; a post goes without it if it cannot be used; this page shows it only if your browser can load it)</div>",
                esc(i.as_str()),
                esc(&post.image_alt)
            )
        })
        .unwrap_or_default();
    let account = target
        .platform
        .account()
        .unwrap_or_else(|| format!("@{}", p.target));
    let _ = write!(
        out,
        "<section class=\"post {}\"><div class=\"bar\"><span>{} · {} · as {}</span><span class=\"count\">{}/{} {}</span></div>",
        p.platform,
        esc(&p.target),
        p.platform,
        esc(&account),
        post.fitted.count,
        post.fitted.limit.max,
        post.fitted.limit.unit.label()
    );
    if !post.fitted.notes.is_empty() {
        let _ = write!(
            out,
            "<div class=\"notes\">{}</div>",
            esc(&post.fitted.notes.join("; "))
        );
    }
    let card = Card {
        title: &esc(&post.card_title),
        url: &esc(post.url.as_str()),
        hero: &hero,
        text: &rich(&post.fitted.text),
        site,
        account: &esc(&account),
    };
    // What is sent, folded: the requests as the dry run prints them.
    let requests = serde_json::to_string_pretty(&p.steps.preview()).unwrap_or_default();
    let _ = write!(
        out,
        "<div class=\"body\">{}<details class=\"raw\"><summary>the requests ({} {})</summary><pre>{}</pre></details></div></section>",
        target.platform.card(post, &card),
        p.steps.0.len(),
        if p.steps.0.len() == 1 {
            "step"
        } else {
            "steps"
        },
        esc(&requests)
    );
}
