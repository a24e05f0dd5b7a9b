//! Secrets never leak: every command, run with distinctive secret values,
//! prints none of them, and none lands in the ledger, the preview,
//! syndication.json or the feeds, even when a platform's error echoes the
//! URL it was called at.

use serde_json::json;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::support::{BASE_CONFIG, Site};

const SECRETS: &[(&str, &str)] = &[
    ("SLACK_URL_TOKEN", "SLACKxSECRETx7f3a9"),
    ("DISCORD_TOKEN", "DISCORDxSECRETx2b81"),
    ("TEAMS_SIG", "TEAMSxSECRETx55e0"),
    ("CHAT_TOKEN", "CHATxSECRETx9c4d"),
    ("MM_KEY", "MATTERMOSTxSECRETx1a2b"),
    ("TG_TOKEN", "123456:TELEGRAMxSECRETx88"),
    ("MASTODON_TOKEN", "MASTODONxSECRETx3e3e"),
    ("BSKY_APP_PASSWORD", "BLUESKYxSECRETx4f4f"),
    ("WEBHOOK_SECRET", "whsec_U0VDUkVUeFdFQkhPT0t4c2VjcmV0"),
    ("HOOK_TOKEN", "HOOKxSECRETx6d6d"),
    ("HEADER_TOKEN", "HEADERxSECRETx7a7a"),
];

/// Answers every platform's call with one JSON body that satisfies all of
/// their parsers, except Discord, which refuses and echoes the URL it was
/// called at (as some proxies and platforms do).
struct Everything;

impl Respond for Everything {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        if request.url.path().starts_with("/discord") {
            return ResponseTemplate::new(400).set_body_json(json!({
                "message": format!("Unknown Webhook at {} (path {})", request.url, request.url.path()),
                "code": 10015
            }));
        }
        ResponseTemplate::new(200).set_body_json(json!({
            "id": "1", "url": "https://remote.example/1", "ok": true,
            "result": {"message_id": 1}, "name": "spaces/S/messages/1",
            "accessJwt": "jwt", "did": "did:plc:x", "blob": {"$type": "blob"},
            "uri": "at://did:plc:x/app.bsky.feed.post/1",
            "configuration": {"statuses": {"max_characters": 500}}
        }))
    }
}

#[tokio::test]
async fn no_command_leaks_a_secret() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(Everything)
        .mount(&server)
        .await;
    let b = server.uri();
    let config = format!(
        "{BASE_CONFIG}social:
  allow_private_network: true
  retry_base: 10ms
  targets:
    - {{ name: slack, type: slack, url: \"{b}/slack/services/T0/B0/${{SLACK_URL_TOKEN}}\" }}
    - {{ name: discord, type: discord, url: \"{b}/discord/api/webhooks/1/${{DISCORD_TOKEN}}\" }}
    - {{ name: teams, type: teams, url: \"{b}/teams/run?sig=${{TEAMS_SIG}}\" }}
    - {{ name: chat, type: google_chat, url: \"{b}/chat/v1/spaces/S/messages?key=K&token=${{CHAT_TOKEN}}\" }}
    - {{ name: mm, type: mattermost, url: \"{b}/mm/hooks/${{MM_KEY}}\" }}
    - {{ name: tg, type: telegram, bot_token: \"${{TG_TOKEN}}\", chat_id: \"@c\", api_url: \"{b}/tg\" }}
    - {{ name: masto, type: mastodon, instance: \"{b}/masto\", token: \"${{MASTODON_TOKEN}}\" }}
    - {{ name: bsky, type: bluesky, service: \"{b}/bsky\", identifier: me, app_password: \"${{BSKY_APP_PASSWORD}}\" }}
    - {{ name: hooks, type: webhook, url: \"{b}/hook/${{HOOK_TOKEN}}\", secret: \"${{WEBHOOK_SECRET}}\", headers: {{ Authorization: \"Bearer ${{HEADER_TOKEN}}\" }} }}
state:
  path: ../state/herald.db
"
    );
    let site = Site::with_config(&config);
    site.simple("a", "2024-02-10");
    let run = |args: &[&str]| {
        let mut cmd = site.herald();
        for (k, v) in SECRETS {
            cmd.env(k, v);
        }
        let out = cmd.args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let now = "2024-02-11T00:00:00Z";
    let mut outputs = Vec::new();
    for args in [
        vec!["check"],
        vec!["-vv", "feeds", "--now", now],
        vec!["publish", "--dry-run", "--now", now],
        vec!["publish", "--dry-run", "--format", "json", "--now", now],
        vec![
            "publish",
            "--dry-run",
            "--now",
            now,
            "--preview",
            "preview.html",
        ],
        vec![
            "-vv",
            "publish",
            "--now",
            now,
            "--preview",
            "preview-real.html",
        ],
        vec!["-vv", "publish", "--now", now, "--retry-uncertain"],
        vec!["status"],
        vec!["status", "--format", "json"],
    ] {
        let (code, stdout, stderr) = run(&args);
        outputs.push((args.join(" "), code, stdout, stderr));
    }
    // The real run did post (so the files below are not empty) and the
    // Discord failure was reported with the platform's message.
    let real = &outputs[5];
    assert_eq!(real.1, Some(2), "{}", real.3);
    assert!(real.3.contains("Unknown Webhook at"), "{}", real.3);
    let status = &outputs[7].2;
    assert!(
        status.contains("Unknown Webhook at <url> (path [redacted])"),
        "{status}"
    );

    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for name in [
        "preview.html",
        "preview-real.html",
        "public/syndication.json",
        "public/feed.xml",
        "public/atom.xml",
        "public/feed.json",
    ] {
        files.push((
            name.to_string(),
            std::fs::read(site.root().join(name)).unwrap(),
        ));
    }
    for entry in std::fs::read_dir(site.root().join("state")).unwrap() {
        let entry = entry.unwrap();
        files.push((
            entry.file_name().to_string_lossy().into_owned(),
            std::fs::read(entry.path()).unwrap(),
        ));
    }
    for (_, secret) in SECRETS {
        // The webhook secret's key part, too.
        let probes = [
            secret.to_string(),
            secret.trim_start_matches("whsec_").to_string(),
        ];
        for probe in probes.iter().filter(|p| p.len() >= 8) {
            for (args, _, stdout, stderr) in &outputs {
                assert!(
                    !stdout.contains(probe.as_str()),
                    "`herald {args}` printed {probe} on stdout:\n{stdout}"
                );
                assert!(
                    !stderr.contains(probe.as_str()),
                    "`herald {args}` printed {probe} on stderr:\n{stderr}"
                );
            }
            for (name, bytes) in &files {
                let text = String::from_utf8_lossy(bytes);
                assert!(!text.contains(probe.as_str()), "{probe} found in {name}");
            }
        }
    }
    // The dry run names the variables instead.
    assert!(
        outputs[2].2.contains("${DISCORD_TOKEN}"),
        "{}",
        outputs[2].2
    );
}
