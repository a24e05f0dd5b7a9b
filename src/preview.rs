//! `--preview FILE.html`: one self-contained page (inline CSS, no script)
//! showing every post of the plan as a card styled like its platform, with
//! the same fitted text the request carries, so a person can look before
//! anything goes out. Pure: plan in, HTML out.

use std::fmt::Write as _;

use crate::config::Config;
use crate::publish::plan::Plan;
use crate::publish::posts::PlannedPost;
use crate::social::READ_LABEL;

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Escaped text with URLs as links and line breaks kept.
fn rich(text: &str) -> String {
    let mut out = String::new();
    let mut last = 0;
    for (start, end) in crate::social::compose::url_spans(text) {
        out.push_str(&esc(&text[last..start]));
        let url = esc(&text[start..end]);
        let _ = write!(out, "<a href=\"{url}\">{url}</a>");
        last = end;
    }
    out.push_str(&esc(&text[last..]));
    out.replace('\n', "<br>")
}

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
.slack{background:#fff}.slack .bar{background:#4a154b}.slack .card{border-left:4px solid #ddd;padding-left:10px}
.slack h3{margin:0 0 6px;font-size:16px}.slack a{color:#1264a3}
.discord{background:#313338;color:#dbdee1}.discord .bar{background:#5865f2}
.discord .embed{background:#2b2d31;border-left:4px solid #5865f2;border-radius:4px;padding:10px 14px}
.discord .embed a.t{color:#00a8fc;font-weight:700;text-decoration:none}.discord .foot{font-size:12px;opacity:.7;margin-top:8px}
.teams{background:#fff}.teams .bar{background:#5b5fc7}.teams .btn{background:#5b5fc7;color:#fff}
.google_chat{background:#fff}.google_chat .bar{background:#1a73e8}.google_chat .btn{color:#1a73e8;border:1px solid #dadce0}
.mattermost{background:#fff}.mattermost .bar{background:#1e325c}.mattermost .att{border-left:4px solid #1e325c;padding-left:10px}
.mattermost a.t{font-weight:700;color:#2389d7}
.telegram{background:#dfe7cf}.telegram .bar{background:#229ed9}.telegram .bubble{background:#fff;border-radius:12px;padding:6px;max-width:360px}
.telegram .bubble .cap{padding:4px 6px}.telegram .btn{display:block;text-align:center;background:rgba(0,0,0,.06);color:#168acd;margin:6px 0 0}
.mastodon{background:#191b22;color:#fff}.mastodon .bar{background:#6364ff}.mastodon .avatar{background:#6364ff}.mastodon a{color:#8c8dff}
.bluesky{background:#fff}.bluesky .bar{background:#1185fe}.bluesky .avatar{background:#1185fe}.bluesky a{color:#1185fe}
.webhook{background:#fff}.webhook .bar{background:#555}.webhook pre{font-size:12px;white-space:pre-wrap;word-break:break-word;margin:0}
"#;

/// The preview page for every post of `plan` that will be sent.
pub fn html(plan: &Plan, config: &Config) -> String {
    let mut out = String::new();
    let site = esc(&config.site.title);
    let posts: Vec<&PlannedPost> = plan.posts.iter().filter(|p| p.action.sends()).collect();
    let _ = write!(
        out,
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>herald preview: {site}</title><style>{STYLE}</style></head><body>\
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
        card(&mut out, p, &site);
    }
    out.push_str("</div></body></html>\n");
    out
}

fn card(out: &mut String, p: &PlannedPost, site: &str) {
    let Some(post) = &p.post else { return };
    let text = &post.fitted.text;
    let url = esc(post.url.as_str());
    let title = esc(&post.card_title);
    let hero = post
        .image
        .as_ref()
        .map(|i| {
            format!(
                "<img class=\"hero\" src=\"{}\" alt=\"{}\">",
                esc(i.as_str()),
                esc(&post.image_alt)
            )
        })
        .unwrap_or_default();
    let initial = site.chars().next().unwrap_or('h');
    let _ = write!(
        out,
        "<section class=\"post {}\"><div class=\"bar\"><span>{} · {}</span><span class=\"count\">{}/{} {}</span></div>",
        p.platform,
        esc(&p.target),
        p.platform,
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
    out.push_str("<div class=\"body\">");
    let who = |handle: &str| {
        format!(
            "<div class=\"who\"><div class=\"avatar\">{initial}</div><div><div class=\"name\">{site}</div><div class=\"handle\">{}</div></div></div>",
            esc(handle)
        )
    };
    match p.platform {
        "slack" => {
            let _ = write!(
                out,
                "<div class=\"card\"><h3>{title}</h3><div>{}</div><a href=\"{url}\">{READ_LABEL}</a>{hero}<div class=\"meta\">{}</div></div>",
                rich(text),
                esc(&post.fields.site)
            );
        }
        "discord" => {
            let _ = write!(
                out,
                "<div class=\"embed\"><a class=\"t\" href=\"{url}\">{title}</a><div>{}</div>{hero}<div class=\"foot\">{}</div></div>",
                rich(text),
                esc(&post.fields.site)
            );
        }
        "teams" | "google_chat" => {
            let _ = write!(
                out,
                "<strong>{title}</strong>{hero}<div>{}</div><a class=\"btn\" href=\"{url}\">{READ_LABEL}</a><div class=\"meta\">{}</div>",
                rich(text),
                esc(&post.fields.site)
            );
        }
        "mattermost" => {
            let _ = write!(
                out,
                "<div class=\"att\"><a class=\"t\" href=\"{url}\">{title}</a><div>{}</div>{hero}<div class=\"meta\">{}</div></div>",
                rich(text),
                esc(&post.fields.site)
            );
        }
        "telegram" => {
            let _ = write!(
                out,
                "<div class=\"bubble\">{}<div class=\"cap\">{}</div><a class=\"btn\" href=\"{url}\">{READ_LABEL}</a></div>",
                hero.replace("class=\"hero\"", "class=\"hero\" style=\"margin-top:0\""),
                crate::social::telegram::caption(post).replace('\n', "<br>")
            );
        }
        "mastodon" => {
            let _ = write!(
                out,
                "{}<div>{}</div>{hero}",
                who(&format!("@{}", p.target)),
                rich(text)
            );
        }
        "bluesky" => {
            let domain = post.url.host_str().unwrap_or_default();
            let _ = write!(
                out,
                "{}<div>{}</div><a class=\"linkcard\" href=\"{url}\" style=\"display:block;color:inherit;text-decoration:none\">{hero}<div class=\"lc\"><strong>{}</strong><div class=\"d\">{}</div><div class=\"d\">{}</div></div></a>",
                who(&p.target),
                rich(text),
                esc(&post.fields.title),
                esc(&post.fields.summary),
                esc(domain)
            );
        }
        _ => {
            let doc = serde_json::to_string_pretty(&crate::social::webhook::document(post))
                .unwrap_or_default();
            let _ = write!(out, "<pre>{}</pre>", esc(&doc));
        }
    }
    out.push_str("</div></section>");
}
