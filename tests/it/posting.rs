//! The seed article posted to local stand-ins for all nine platforms:
//! method, path, headers, body structure and limits of every request.

use std::io::Cursor;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use unicode_segmentation::UnicodeSegmentation;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::support::{Site, output, posting_site, repo};

pub const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A small valid JPEG.
pub fn jpeg() -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 5) as u8, 128])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// The config's `social.targets` for all nine platforms on `base`.
pub fn all_targets(base: &str) -> String {
    format!(
        "    - {{ name: slack, type: slack, url: \"{base}/slack/services/T0/B0/XXXX\" }}
    - {{ name: discord, type: discord, url: \"{base}/discord/api/webhooks/1/tok\" }}
    - {{ name: teams, type: teams, url: \"{base}/teams/workflows/run?sig=SIGSECRET\" }}
    - {{ name: chat, type: google_chat, url: \"{base}/chat/v1/spaces/S/messages?key=K&token=T\" }}
    - {{ name: mm, type: mattermost, url: \"{base}/mm/hooks/abc\" }}
    - {{ name: tg, type: telegram, bot_token: \"${{TG_TOKEN}}\", chat_id: \"@newsroom\", api_url: \"{base}/tg\" }}
    - {{ name: masto, type: mastodon, instance: \"{base}/masto\", token: \"${{MASTODON_TOKEN}}\" }}
    - {{ name: bsky, type: bluesky, service: \"{base}/bsky\", identifier: news.example, app_password: \"${{BSKY_APP_PASSWORD}}\" }}
    - {{ name: hooks, type: webhook, url: \"{base}/hook\", secret: \"${{WEBHOOK_SECRET}}\", headers: {{ X-Team: \"news\" }} }}
"
    )
}

/// A site with the seed article (its hero image on `base`) and `targets`.
pub fn seed_site(base: &str, targets: &str) -> Site {
    seed_site_with(base, "", targets)
}

/// `seed_site` with extra lines under `social:`.
pub fn seed_site_with(base: &str, social: &str, targets: &str) -> Site {
    let site = posting_site(social, targets);
    let seed = std::fs::read_to_string(repo().join("content/deepseek-paradigm-shift.md")).unwrap();
    let seed = seed.replace(
        "https://media.magick.ai/ai-competition-abstract.jpg",
        &format!("{base}/img/hero.jpg"),
    );
    site.article("deepseek-paradigm-shift.md", seed);
    site
}

/// Mounts a success answer for every platform.
pub async fn mount_all(server: &MockServer) {
    let ok = |body: Value| ResponseTemplate::new(200).set_body_json(body);
    Mock::given(method("GET"))
        .and(path("/img/hero.jpg"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "image/jpeg")
                .set_body_bytes(jpeg()),
        )
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/slack/services/T0/B0/XXXX"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/discord/api/webhooks/1/tok"))
        .respond_with(ok(
            json!({"id": "1111", "channel_id": "22", "guild_id": "33"}),
        ))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/teams/workflows/run"))
        .respond_with(ResponseTemplate::new(202))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/chat/v1/spaces/S/messages"))
        .respond_with(ok(json!({"name": "spaces/S/messages/M1"})))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/mm/hooks/abc"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path_regex("^/tg/bot.*/send(Photo|Message)$"))
        .respond_with(ok(json!({"ok": true, "result": {"message_id": 77, "chat": {"id": -100, "username": "newsroom"}}})))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/masto/api/v2/instance"))
        .respond_with(ok(json!({"configuration": {"statuses": {"max_characters": 500, "characters_reserved_per_url": 23}}})))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/masto/api/v2/media"))
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({"id": "m1", "url": null})))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/masto/api/v1/media/m1"))
        .respond_with(ok(
            json!({"id": "m1", "url": "https://masto.example/m1.jpg"}),
        ))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/masto/api/v1/statuses"))
        .respond_with(ok(
            json!({"id": "s1", "url": "https://masto.example/@news/s1"}),
        ))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/bsky/xrpc/com.atproto.server.createSession"))
        .respond_with(ok(
            json!({"accessJwt": "jwt-123", "refreshJwt": "r", "did": "did:plc:news"}),
        ))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/bsky/xrpc/com.atproto.repo.uploadBlob"))
        .respond_with(ok(json!({"blob": {"$type": "blob", "ref": {"$link": "bafkreib"}, "mimeType": "image/jpeg", "size": 1234}})))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/bsky/xrpc/com.atproto.repo.createRecord"))
        .respond_with(ok(
            json!({"uri": "at://did:plc:news/app.bsky.feed.post/3k", "cid": "bafyc"}),
        ))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ok(json!({"id": "receipt-1"})))
        .mount(server)
        .await;
}

/// The environment the targets' secrets come from.
pub fn secrets(cmd: &mut assert_cmd::Command) -> &mut assert_cmd::Command {
    cmd.env("TG_TOKEN", "123456:TELEGRAM-SECRET")
        .env("MASTODON_TOKEN", "mastodon-secret-token")
        .env("BSKY_APP_PASSWORD", "bsky-app-secret")
        .env("WEBHOOK_SECRET", WEBHOOK_SECRET)
}

pub const NOW: &str = "2024-02-11T00:00:00Z";
const PERMALINK: &str = "https://news.example/articles/deepseek-paradigm-shift/";
const TITLE: &str = "The DeepSeek Paradigm Shift: A Wake-Up Call for OpenAI and the AI Industry";

fn requests_to<'r>(all: &'r [Request], p: &str) -> Vec<&'r Request> {
    all.iter().filter(|r| r.url.path() == p).collect()
}

fn json_of(r: &Request) -> Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{} body is not JSON: {e}", r.url))
}

fn header<'r>(r: &'r Request, name: &str) -> Option<&'r str> {
    r.headers.get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn the_seed_reaches_all_nine_platforms_within_their_limits() {
    let server = MockServer::start().await;
    mount_all(&server).await;
    let base = server.uri();
    let site = seed_site(&base, &all_targets(&base));
    let mut cmd = site.herald();
    secrets(&mut cmd).args(["publish", "--now", NOW]);
    let assert = cmd.assert().success();
    let (stdout, stderr) = output(&assert);
    assert!(stdout.contains("posted 9"), "{stdout}\n{stderr}");

    let all = server.received_requests().await.unwrap();

    // Slack: Block Kit with a text fallback.
    let slack = json_of(requests_to(&all, "/slack/services/T0/B0/XXXX")[0]);
    assert_eq!(slack["blocks"][0]["type"], "header");
    assert_eq!(slack["blocks"][0]["text"]["text"], TITLE);
    let section = slack["blocks"][1]["text"]["text"].as_str().unwrap();
    assert!(
        section.contains("Stay ahead of the AI revolution!"),
        "{section}"
    );
    assert!(section.contains(&format!("<{PERMALINK}|Read the article>")));
    assert!(section.chars().count() <= 3000);
    assert_eq!(
        slack["blocks"][2]["image_url"],
        format!("{base}/img/hero.jpg")
    );
    assert_eq!(slack["blocks"][2]["alt_text"], TITLE);
    assert!(slack["text"].as_str().unwrap().contains(PERMALINK));

    // Discord: an embed, wait=true, mentions off.
    let discord = requests_to(&all, "/discord/api/webhooks/1/tok")[0];
    assert_eq!(discord.url.query(), Some("wait=true"));
    let d = json_of(discord);
    let embed = &d["embeds"][0];
    assert_eq!(embed["title"], TITLE);
    assert_eq!(embed["url"], PERMALINK);
    assert_eq!(embed["image"]["url"], format!("{base}/img/hero.jpg"));
    assert_eq!(embed["footer"]["text"], "Test Site");
    assert!(embed["description"].as_str().unwrap().chars().count() <= 4096);
    assert_eq!(d["allowed_mentions"]["parse"], json!([]));

    // Teams: an Adaptive Card 1.4 attachment; the flow's query is kept.
    let teams_req = requests_to(&all, "/teams/workflows/run")[0];
    assert_eq!(teams_req.url.query(), Some("sig=SIGSECRET"));
    let teams = json_of(teams_req);
    let card = &teams["attachments"][0];
    assert_eq!(
        card["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(card["content"]["version"], "1.4");
    assert_eq!(card["content"]["actions"][0]["url"], PERMALINK);
    assert!(serde_json::to_vec(&teams).unwrap().len() < 28 * 1024);

    // Google Chat: cardsV2 and a stable requestId.
    let chat_req = requests_to(&all, "/chat/v1/spaces/S/messages")[0];
    let query: Vec<(String, String)> = chat_req.url.query_pairs().into_owned().collect();
    assert!(
        query.contains(&("key".into(), "K".into()))
            && query.contains(&("token".into(), "T".into()))
    );
    let request_id = &query.iter().find(|(k, _)| k == "requestId").unwrap().1;
    assert!(request_id.starts_with("herald-"));
    let chat = json_of(chat_req);
    let card = &chat["cardsV2"][0]["card"];
    assert_eq!(card["header"]["title"], TITLE);
    assert_eq!(
        card["sections"][0]["widgets"][0]["image"]["imageUrl"],
        format!("{base}/img/hero.jpg")
    );
    assert_eq!(
        card["sections"][0]["widgets"][2]["buttonList"]["buttons"][0]["onClick"]["openLink"]["url"],
        PERMALINK
    );

    // Mattermost: an attachment with the image.
    let mm = json_of(requests_to(&all, "/mm/hooks/abc")[0]);
    assert_eq!(mm["attachments"][0]["title_link"], PERMALINK);
    assert_eq!(
        mm["attachments"][0]["image_url"],
        format!("{base}/img/hero.jpg")
    );

    // Telegram: sendPhoto with an HTML caption within 1024 UTF-16 units.
    let tg_req = requests_to(&all, "/tg/bot123456:TELEGRAM-SECRET/sendPhoto")[0];
    let tg = json_of(tg_req);
    assert_eq!(tg["chat_id"], "@newsroom");
    assert_eq!(tg["parse_mode"], "HTML");
    assert_eq!(tg["photo"], format!("{base}/img/hero.jpg"));
    let caption = tg["caption"].as_str().unwrap();
    assert!(caption.starts_with(&format!("<b>{TITLE}</b>")), "{caption}");
    let visible = caption.replace("<b>", "").replace("</b>", "");
    assert!(visible.encode_utf16().count() <= 1024);
    assert!(caption.ends_with(PERMALINK));
    assert_eq!(
        tg["reply_markup"]["inline_keyboard"][0][0]["url"],
        PERMALINK
    );

    // Mastodon: instance limit, upload with alt text, poll, then the status.
    let order: Vec<String> = all
        .iter()
        .filter(|r| r.url.path().starts_with("/masto/"))
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect();
    assert_eq!(
        order,
        [
            "GET /masto/api/v2/instance",
            "POST /masto/api/v2/media",
            "GET /masto/api/v1/media/m1",
            "POST /masto/api/v1/statuses"
        ]
    );
    let upload = requests_to(&all, "/masto/api/v2/media")[0];
    assert_eq!(
        header(upload, "authorization"),
        Some("Bearer mastodon-secret-token")
    );
    let upload_body = String::from_utf8_lossy(&upload.body);
    assert!(upload_body.contains("name=\"description\""));
    assert!(
        upload_body.contains(TITLE),
        "alt text defaults to the title"
    );
    assert!(
        header(upload, "content-type")
            .unwrap()
            .starts_with("multipart/form-data")
    );
    let status_req = requests_to(&all, "/masto/api/v1/statuses")[0];
    assert!(
        header(status_req, "idempotency-key")
            .unwrap()
            .starts_with("herald-")
    );
    let status = json_of(status_req);
    assert_eq!(status["media_ids"], json!(["m1"]));
    assert_eq!(status["language"], "en");
    let text = status["status"].as_str().unwrap();
    assert!(text.ends_with(PERMALINK));
    let counted = text
        .replace(PERMALINK, "12345678901234567890123")
        .graphemes(true)
        .count();
    assert!(counted <= 500, "{counted}");

    // Bluesky: one session, the blob, the record with exact facets.
    let session = json_of(requests_to(&all, "/bsky/xrpc/com.atproto.server.createSession")[0]);
    assert_eq!(
        session,
        json!({"identifier": "news.example", "password": "bsky-app-secret"})
    );
    let blob = requests_to(&all, "/bsky/xrpc/com.atproto.repo.uploadBlob")[0];
    assert_eq!(header(blob, "content-type"), Some("image/jpeg"));
    assert!(blob.body.len() <= 1_000_000);
    let create_req = requests_to(&all, "/bsky/xrpc/com.atproto.repo.createRecord")[0];
    assert_eq!(header(create_req, "authorization"), Some("Bearer jwt-123"));
    let create = json_of(create_req);
    assert_eq!(create["repo"], "did:plc:news");
    assert_eq!(create["collection"], "app.bsky.feed.post");
    let rkey = create["rkey"].as_str().unwrap();
    assert_eq!(rkey.len(), 13);
    let record = &create["record"];
    let text = record["text"].as_str().unwrap();
    assert!(text.graphemes(true).count() <= 300 && text.len() <= 3000);
    let facet = &record["facets"][0];
    let (start, end) = (
        facet["index"]["byteStart"].as_u64().unwrap() as usize,
        facet["index"]["byteEnd"].as_u64().unwrap() as usize,
    );
    assert_eq!(&text.as_bytes()[start..end], PERMALINK.as_bytes());
    assert_eq!(facet["features"][0]["uri"], PERMALINK);
    assert_eq!(record["embed"]["$type"], "app.bsky.embed.external");
    assert_eq!(record["embed"]["external"]["uri"], PERMALINK);
    assert_eq!(
        record["embed"]["external"]["thumb"]["ref"]["$link"],
        "bafkreib"
    );
    assert_eq!(record["langs"], json!(["en"]));
    assert!(record["createdAt"].as_str().unwrap().ends_with('Z'));

    // Webhook: signed per Standard Webhooks, checked here independently.
    let hook = requests_to(&all, "/hook")[0];
    let id = header(hook, "webhook-id").unwrap();
    let timestamp = header(hook, "webhook-timestamp").unwrap();
    let signature = header(hook, "webhook-signature").unwrap();
    assert!(id.starts_with("herald-"));
    assert_eq!(header(hook, "x-team"), Some("news"));
    let age = chrono::Utc::now().timestamp() - timestamp.parse::<i64>().unwrap();
    assert!(age.abs() < 300, "timestamp within five minutes");
    use base64::Engine as _;
    let key = base64::engine::general_purpose::STANDARD
        .decode(WEBHOOK_SECRET.trim_start_matches("whsec_"))
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(&hook.body);
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    assert!(
        signature.split(' ').any(|s| s == format!("v1,{expected}")),
        "{signature}"
    );
    let doc = json_of(hook);
    assert_eq!(doc["type"], "article.published");
    assert_eq!(doc["data"]["url"], PERMALINK);
    assert_eq!(doc["data"]["title"], TITLE);
    assert_eq!(
        doc["data"]["subtitle"],
        "How DeepSeek's efficient AI models challenge OpenAI's resource-heavy approach"
    );

    // The image was fetched once for both platforms that upload it.
    assert_eq!(requests_to(&all, "/img/hero.jpg").len(), 1);

    // syndication.json links the article to its posts.
    let syndication: Value = serde_json::from_str(&site.read_public("syndication.json")).unwrap();
    let links = syndication[PERMALINK].as_array().unwrap();
    assert_eq!(links.len(), 9);
    assert!(
        links
            .iter()
            .any(|l| l["url"] == "https://masto.example/@news/s1")
    );
    assert!(
        links
            .iter()
            .any(|l| l["url"] == "https://discord.com/channels/33/22/1111")
    );

    // status shows every post as posted.
    let status = site.herald().arg("status").assert().success();
    let table = output(&status).0;
    assert_eq!(
        table.lines().filter(|l| l.contains(" posted ")).count(),
        9,
        "{table}"
    );

    // A second run in a row makes no request of any kind and prints nothing.
    let before = all.len();
    let mut again = site.herald();
    secrets(&mut again).args(["publish", "--now", NOW]);
    let assert = again.assert().success();
    assert_eq!(output(&assert), (String::new(), String::new()));
    assert_eq!(server.received_requests().await.unwrap().len(), before);
}

#[tokio::test]
async fn dry_run_shows_the_text_that_is_sent_and_sends_nothing() {
    let server = MockServer::start().await;
    mount_all(&server).await;
    let base = server.uri();
    let site = seed_site(&base, &all_targets(&base));
    let mut cmd = site.herald();
    secrets(&mut cmd).args([
        "publish",
        "--dry-run",
        "--format",
        "json",
        "--now",
        NOW,
        "--preview",
        "preview.html",
    ]);
    let assert = cmd.assert().success();
    let plan: Value = serde_json::from_str(&output(&assert).0).unwrap();
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        0,
        "a dry run sends nothing"
    );
    assert!(
        !site.root().join("state").exists(),
        "a dry run creates nothing under the state path"
    );
    let posts = plan["posts"].as_array().unwrap();
    assert_eq!(posts.len(), 9);
    let preview = std::fs::read_to_string(site.root().join("preview.html")).unwrap();
    for p in posts {
        let text = p["text"].as_str().unwrap();
        assert!(p["count"].as_u64().unwrap() <= p["limit"].as_u64().unwrap());
        // The preview page shows the same text (HTML-escaped).
        let first_line = text.lines().next().unwrap().replace('&', "&amp;");
        assert!(
            preview.contains(&first_line),
            "{}: {first_line}",
            p["target"]
        );
    }
    // Each card says who it posts as, and folds the requests it sends.
    assert!(preview.contains("@news.example"), "Bluesky's identifier");
    assert!(preview.contains("the bot, in @newsroom"), "Telegram's chat");
    assert!(
        preview.contains("the token&#39;s account on")
            || preview.contains("the token's account on")
    );
    assert_eq!(preview.matches("<details class=\"raw\">").count(), 9);
    assert!(preview.contains("fetched when sent"), "the image's note");
    // Every field the payload shows: Slack's context line, Discord's and
    // Mattermost's author.
    assert!(
        preview.contains("Test Site · Santiago Ramirez · 8 mins"),
        "Slack's context line"
    );
    assert_eq!(
        preview
            .matches("<div class=\"author\">Santiago Ramirez</div>")
            .count(),
        2,
        "Discord's and Mattermost's author"
    );
    // Secrets never appear; their variable names do.
    let dump = plan.to_string();
    for secret in [
        "TELEGRAM-SECRET",
        "mastodon-secret-token",
        "bsky-app-secret",
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    ] {
        assert!(
            !dump.contains(secret) && !preview.contains(secret),
            "{secret} leaked"
        );
    }
    assert!(dump.contains("${MASTODON_TOKEN}"));

    // Run for real: what was sent equals what the dry run showed.
    let mut real = site.herald();
    secrets(&mut real).args(["publish", "--now", NOW]);
    real.assert().success();
    let all = server.received_requests().await.unwrap();
    let masto = json_of(requests_to(&all, "/masto/api/v1/statuses")[0]);
    let planned = posts.iter().find(|p| p["target"] == "masto").unwrap();
    assert_eq!(masto["status"], planned["text"]);
    let bsky = json_of(requests_to(&all, "/bsky/xrpc/com.atproto.repo.createRecord")[0]);
    let planned = posts.iter().find(|p| p["target"] == "bsky").unwrap();
    assert_eq!(bsky["record"]["text"], planned["text"]);
}

#[tokio::test]
async fn telegram_escapes_html_and_sends_a_message_without_an_image() {
    let server = MockServer::start().await;
    mount_all(&server).await;
    let base = server.uri();
    let targets = format!(
        "    - {{ name: tg, type: telegram, bot_token: \"${{TG_TOKEN}}\", chat_id: \"-100123\", api_url: \"{base}/tg\" }}\n"
    );
    let site = posting_site("", &targets);
    site.article(
        "tags.md",
        "---\ntitle: \"Use <b> & <i> tags\"\ndescription: \"Why a < b && c > d matters\"\npublish_date: 2024-02-10\n---\nBody\n",
    );
    let mut cmd = site.herald();
    secrets(&mut cmd)
        .args(["publish", "--now", NOW])
        .assert()
        .success();
    let all = server.received_requests().await.unwrap();
    let sent = requests_to(&all, "/tg/bot123456:TELEGRAM-SECRET/sendMessage");
    assert_eq!(sent.len(), 1, "no image: sendMessage");
    let body = json_of(sent[0]);
    let text = body["text"].as_str().unwrap();
    assert!(
        text.starts_with("<b>Use &lt;b&gt; &amp; &lt;i&gt; tags</b>"),
        "{text}"
    );
    assert!(
        text.contains("Why a &lt; b &amp;&amp; c &gt; d matters"),
        "{text}"
    );
    assert_eq!(
        body["link_preview_options"]["url"],
        "https://news.example/articles/tags/"
    );
}

/// Every platform's requests for the seed article and articles with awkward
/// text, as the dry run plans them (secrets redacted), one snapshot per
/// platform.
#[test]
fn request_bodies_for_awkward_articles_per_platform() {
    let base = "http://127.0.0.1:9";
    let site = seed_site(base, &all_targets(base));
    let long_title = format!(
        "{} the end",
        "Thirty-character title chunk. ".repeat(10).trim_end()
    );
    assert!(long_title.chars().count() >= 300);
    site.article(
        "awkward-markup.md",
        "---\ntitle: \"Fish & Chips <b>not bold</b> \\\"quoted\\\" 'single'\"\ndescription: \"A < B && C > D, said O'Brien & \\\"friends\\\".\"\ncta: \"Read <more> & share\"\npublish_date: 2024-02-10T08:00:00Z\ntags: [food & drink, \"<tag>\"]\n---\nBody\n",
    )
    .article(
        "awkward-emoji.md",
        "---\ntitle: \"👩🏽‍💻 Developers ❤️ Rust 🦀 👍🏿 and 🏳️‍🌈 flags 🇺🇦\"\ndescription: \"Family 👨‍👩‍👧‍👦, skin tones 👋🏻👋🏼👋🏽👋🏾👋🏿 and a ZWJ 🧑‍🚀 astronaut.\"\npublish_date: 2024-02-10T07:00:00Z\n---\nBody\n",
    )
    .article(
        "awkward-rtl.md",
        "---\ntitle: مرحبا بالعالم — שלום עולם\ndescription: نص عربي مع English في الوسط، ועברית גם.\ncta: تابعونا\npublish_date: 2024-02-10T06:00:00Z\n---\nBody\n",
    )
    .article(
        "awkward-long.md",
        format!("---\ntitle: \"{long_title}\"\ndescription: \"{}\"\npublish_date: 2024-02-10T05:00:00Z\n---\nBody\n", "Long summary words. ".repeat(120).trim_end()),
    );
    let mut cmd = site.herald();
    secrets(&mut cmd).args(["publish", "--dry-run", "--format", "json", "--now", NOW]);
    let plan: Value = serde_json::from_str(&output(&cmd.assert().success()).0).unwrap();
    let posts = plan["posts"].as_array().unwrap();
    assert_eq!(posts.len(), 9 * 5);
    for target in [
        "slack", "discord", "teams", "chat", "mm", "tg", "masto", "bsky", "hooks",
    ] {
        let mine: Vec<Value> = posts
            .iter()
            .filter(|p| p["target"] == target)
            .map(|p| {
                assert!(p["count"].as_u64() <= p["limit"].as_u64(), "{target}: over the limit");
                let requests: Vec<&Value> = p["steps"]
                    .as_array()
                    .map(|steps| steps.iter().map(|s| &s["request"]).collect())
                    .unwrap_or_default();
                json!({"article": p["article_id"], "count": p["count"], "limit": p["limit"], "notes": p["notes"], "requests": requests})
            })
            .collect();
        let text = serde_json::to_string_pretty(&mine)
            .unwrap()
            .replace(base, "http://stand-in");
        insta::assert_snapshot!(format!("requests_{target}"), text);
    }
}
