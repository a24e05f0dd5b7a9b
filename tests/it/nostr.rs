//! Nostr against relays started by the test (each checks ids and
//! signatures itself): acknowledgements counted against `min_acks`, relays
//! that refuse, stay silent or close, the same event on every resend, and
//! NIP-23 articles.

use serde_json::Value;

use crate::posting::NOW;
use crate::relay::{Behaviour, start};
use crate::support::{Site, ledger_records, output, posting_site, publish_at};

const KEY: &str = "7f7ff03d123792d6ac594bfa67bf6d0c0ab55b6b1fdb6249303fe861f1ccba9a";

fn site(relays: &[&str], extra: &str) -> Site {
    let list: Vec<String> = relays.iter().map(|r| format!("\"{r}\"")).collect();
    let site = posting_site(
        "",
        &format!(
            "    - {{ name: nostr, type: nostr, relays: [{}], secret_key: \"{KEY}\", timeout: 300ms{extra} }}\n",
            list.join(", ")
        ),
    );
    site.article(
        "async.md",
        "---\ntitle: Async tips\npublish_date: 2024-02-10\ndescription: Pinning, explained.\ntags: [Rust]\nheroImage: https://news.example/a.jpg\nheroImageAlt: A pin\n---\n\nSee [the chart](../chart/).\n",
    );
    site
}

fn sealed_kept(site: &Site) -> usize {
    let db = rusqlite::Connection::open(site.root().join("state/herald.db")).unwrap();
    db.query_row(
        "SELECT count(*) FROM target_state WHERE key LIKE 'sealed:%'",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

#[tokio::test]
async fn one_acknowledgement_is_enough_by_default_and_the_others_are_warnings() {
    let a = start(vec![Behaviour::Accept]).await;
    let b = start(vec![Behaviour::Refuse("blocked: not on the allow list")]).await;
    let c = start(vec![Behaviour::Silent]).await;
    let site = site(&[&a.url, &b.url, &c.url], "");
    let ran = publish_at(&site, NOW).success();
    let err = output(&ran).1;
    assert!(err.contains("blocked: not on the allow list"), "{err}");
    assert!(err.contains("no answer within"), "{err}");
    let event = &a.events()[0];
    assert!(event.valid);
    assert_eq!(event.event["kind"], 1);
    let content = event.event["content"].as_str().unwrap();
    assert!(content.starts_with("Async tips"), "{content}");
    assert!(
        content.ends_with("\nhttps://news.example/a.jpg"),
        "{content}"
    );
    let tags = event.event["tags"].to_string();
    assert!(
        tags.contains(r#"["imeta","url https://news.example/a.jpg","alt A pin"]"#),
        "{tags}"
    );
    assert!(
        tags.contains(r#"["r","https://news.example/articles/async/"]"#),
        "{tags}"
    );
    assert!(tags.contains(r#"["t","rust"]"#), "{tags}");
    let record = &ledger_records(&site)[0];
    assert_eq!(record["status"], "posted");
    assert_eq!(record["remote_id"], event.event["id"]);
    assert!(
        record["remote_url"]
            .as_str()
            .unwrap()
            .starts_with("nostr:note1")
    );
    assert_eq!(
        sealed_kept(&site),
        0,
        "the kept event is let go once it is out"
    );
}

/// Too few acknowledgements: the event is kept, and every later attempt,
/// in this run and the next, sends that very event (one id), which the
/// relays that have it call a duplicate.
#[tokio::test]
async fn every_resend_is_the_same_event_until_enough_relays_have_it() {
    let a = start(vec![Behaviour::Accept]).await;
    let b = start(vec![
        Behaviour::Close,
        Behaviour::Close,
        Behaviour::Close,
        Behaviour::Accept,
    ])
    .await;
    let site = site(&[&a.url, &b.url], ", min_acks: 2");
    let first = publish_at(&site, NOW).code(2);
    assert!(
        output(&first)
            .1
            .contains("1 of 2 servers accepted it (2 needed)"),
        "{}",
        output(&first).1
    );
    assert_eq!(sealed_kept(&site), 1);
    publish_at(&site, NOW).success();
    let ids: Vec<Value> = a
        .events()
        .iter()
        .chain(b.events().iter())
        .map(|r| r.event["id"].clone())
        .collect();
    assert!(ids.len() >= 5, "{ids:?}");
    assert!(ids.iter().all(|id| *id == ids[0]), "one event: {ids:?}");
    assert_eq!(ledger_records(&site)[0]["status"], "posted");
    assert_eq!(sealed_kept(&site), 0);
}

#[tokio::test]
async fn an_article_is_a_nip_23_event_with_the_whole_markdown() {
    let a = start(vec![Behaviour::Accept]).await;
    let site = site(&[&a.url], ", kind: article");
    publish_at(&site, NOW).success();
    let event = &a.events()[0].event;
    assert_eq!(event["kind"], 30023);
    assert_eq!(
        event["content"],
        "See [the chart](https://news.example/articles/chart/).\n"
    );
    let tags = event["tags"].to_string();
    for tag in [
        r#"["d","async"]"#,
        r#"["title","Async tips"]"#,
        r#"["summary","Pinning, explained."]"#,
        r#"["image","https://news.example/a.jpg"]"#,
    ] {
        assert!(tags.contains(tag), "{tag} in {tags}");
    }
    let published = chrono::DateTime::parse_from_rfc3339("2024-02-10T09:00:00Z")
        .unwrap()
        .timestamp();
    assert!(
        tags.contains(&format!(r#"["published_at","{published}"]"#)),
        "{tags}"
    );
}

#[tokio::test]
async fn an_nsec_key_signs_and_a_bad_key_sends_nothing() {
    use bech32::{Bech32, Hrp};
    let a = start(vec![Behaviour::Accept]).await;
    let bytes: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&KEY[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let nsec = bech32::encode::<Bech32>(Hrp::parse("nsec").unwrap(), &bytes).unwrap();
    let good = posting_site(
        "",
        &format!(
            "    - {{ name: nostr, type: nostr, relays: [\"{}\"], secret_key: \"${{NOSTR_KEY}}\" }}\n",
            a.url
        ),
    );
    good.simple("one", "2024-02-10");
    good.herald()
        .env("NOSTR_KEY", &nsec)
        .args(["publish", "--now", NOW])
        .assert()
        .success();
    assert!(a.events()[0].valid);

    let bad = posting_site(
        "",
        &format!(
            "    - {{ name: nostr, type: nostr, relays: [\"{}\"], secret_key: \"${{NOSTR_KEY}}\" }}\n",
            a.url
        ),
    );
    bad.simple("one", "2024-02-10");
    let ran = bad
        .herald()
        .env("NOSTR_KEY", "nsec1notakey")
        .args(["publish", "--now", NOW])
        .assert()
        .code(2);
    assert!(
        output(&ran).1.contains("nsec1 key does not decode"),
        "{}",
        output(&ran).1
    );
    assert_eq!(a.events().len(), 1, "nothing more was sent");
}

#[tokio::test]
async fn a_thread_of_notes_marks_its_root_and_reply_and_every_event_is_valid() {
    let a = start(vec![Behaviour::Accept]).await;
    let site = site(&[&a.url], "");
    let mut config = std::fs::read_to_string(site.root().join("config/herald.yaml")).unwrap();
    config = config.replace("social:\n", "social:\n  link_in_reply: true\n");
    site.write_config(&config);
    publish_at(&site, NOW).success();
    let events = a.events();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events.iter().all(|e| e.valid));
    let first = &events[0].event;
    let reply = &events[1].event;
    assert!(
        !first["content"]
            .as_str()
            .unwrap()
            .contains("articles/async")
    );
    assert!(
        reply["content"]
            .as_str()
            .unwrap()
            .contains("https://news.example/articles/async/")
    );
    let id = first["id"].as_str().unwrap();
    assert_eq!(reply["tags"][0], serde_json::json!(["e", id, "", "root"]));
    assert_eq!(reply["tags"][1], serde_json::json!(["e", id, "", "reply"]));
    let records = ledger_records(&site);
    assert_eq!(records.len(), 2);
    assert!(
        records.iter().all(|r| r["status"] == "posted"),
        "{records:?}"
    );
}
