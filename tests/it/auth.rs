//! `herald auth`: the consent flow against a local token endpoint (the
//! browser played by the test), tokens kept in the ledger and never
//! printed, `--status`, expiry warnings, and idle renewals.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde_json::{Value, json};
use sha2::Digest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::posting::NOW;
use crate::support::{Site, answer, output, posting_site};

fn spawn(site: &Site, args: &[&str]) -> std::process::Child {
    Command::new(assert_cmd::cargo::cargo_bin("herald"))
        .current_dir(site.root())
        .env_remove("HERALD_CONFIG")
        .env_remove("HERALD_LOG")
        .env("NO_COLOR", "1")
        .args(["--config", "config/herald.yaml", "auth"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The consent page herald printed, as a URL.
fn consent_url(child: &mut std::process::Child) -> url::Url {
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    url::Url::parse(line.trim()).unwrap_or_else(|e| panic!("{line:?}: {e}"))
}

fn query(url: &url::Url, key: &str) -> String {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no {key} in {url}"))
}

/// What the browser does after consent: a GET to the redirect URI.
async fn come_back(redirect: &str, query: &str) -> String {
    let url = url::Url::parse(redirect).unwrap();
    let mut stream = tokio::net::TcpStream::connect((url.host_str().unwrap(), url.port().unwrap()))
        .await
        .unwrap();
    stream
        .write_all(
            format!(
                "GET {}?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                url.path()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut page = String::new();
    stream.read_to_string(&mut page).await.unwrap();
    page
}

fn finish(child: std::process::Child) -> (bool, String, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn form(r: &Request) -> std::collections::BTreeMap<String, String> {
    url::form_urlencoded::parse(&r.body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn kept(site: &Site, target: &str) -> Option<Value> {
    let db = rusqlite::Connection::open(site.root().join("state/herald.db")).ok()?;
    db.query_row(
        "SELECT value FROM target_state WHERE target = ?1 AND key = 'session'",
        [target],
        |r| r.get::<_, String>(0),
    )
    .ok()
    .map(|v| serde_json::from_str(&v).unwrap())
}

fn x_site(base: &str) -> Site {
    posting_site(
        "",
        &format!(
            "    - {{ name: x, type: x, api_url: \"{base}/x\", auth_url: \"{base}/i/oauth2/authorize\", client_id: herald-client }}\n"
        ),
    )
}

#[tokio::test]
async fn x_consent_with_pkce_keeps_both_tokens_and_prints_neither() {
    let server = MockServer::start().await;
    answer(
        &server,
        "POST",
        "/x/2/oauth2/token",
        ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "bearer", "expires_in": 7200,
            "access_token": "granted-access-token", "refresh_token": "granted-refresh-token",
            "scope": "tweet.write offline.access"
        })),
    )
    .await;
    let site = x_site(&server.uri());
    let mut child = spawn(&site, &["x", "--port", "0"]);
    let consent = consent_url(&mut child);
    assert_eq!(consent.path(), "/i/oauth2/authorize");
    assert_eq!(query(&consent, "client_id"), "herald-client");
    assert_eq!(query(&consent, "response_type"), "code");
    assert!(query(&consent, "scope").contains("offline.access"));
    assert_eq!(query(&consent, "code_challenge_method"), "S256");
    let redirect = query(&consent, "redirect_uri");
    assert!(redirect.starts_with("http://127.0.0.1:"), "{redirect}");
    assert!(redirect.ends_with("/callback"), "{redirect}");
    let state = query(&consent, "state");
    // A stray request first (a browser's favicon) is not the answer.
    let stray = come_back(&redirect.replace("/callback", "/favicon.ico"), "").await;
    assert!(stray.starts_with("HTTP/1.1 404"), "{stray}");
    let page = come_back(&redirect, &format!("state={state}&code=the-code")).await;
    assert!(page.contains("close this window"), "{page}");
    let (ok, stdout, stderr) = finish(child);
    assert!(ok, "{stderr}");

    let exchange = &server.received_requests().await.unwrap()[0];
    let sent = form(exchange);
    assert_eq!(sent["grant_type"], "authorization_code");
    assert_eq!(sent["code"], "the-code");
    assert_eq!(sent["client_id"], "herald-client");
    assert_eq!(sent["redirect_uri"], redirect);
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(sent["code_verifier"].as_bytes()));
    assert_eq!(challenge, query(&consent, "code_challenge"));

    let session = kept(&site, "x").unwrap();
    assert_eq!(session["access"], "granted-access-token");
    assert_eq!(session["refresh"], "granted-refresh-token");
    for text in [&stdout, &stderr] {
        assert!(!text.contains("granted-"), "a token was printed: {text}");
    }

    let status = site.herald().args(["auth", "--status"]).assert().success();
    let (out, _) = output(&status);
    assert!(out.starts_with("x (x): set "), "{out}");
    assert!(out.contains("access token ends"), "{out}");
    assert!(out.contains("refresh token has no stated end"), "{out}");
    assert!(!out.contains("granted-"), "{out}");

    // The next publish uses the kept access token as it is.
    answer(
        &server,
        "POST",
        "/x/2/tweets",
        ResponseTemplate::new(201).set_body_json(json!({"data": {"id": "1"}})),
    )
    .await;
    site.simple("one", "2024-02-10");
    site.herald()
        .args(["publish", "--now", NOW])
        .assert()
        .success();
    let tweet = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.url.path() == "/x/2/tweets")
        .unwrap();
    assert_eq!(
        tweet.headers.get("authorization").unwrap(),
        "Bearer granted-access-token"
    );
}

#[tokio::test]
async fn a_redirect_with_another_state_is_refused_and_nothing_is_kept() {
    let server = MockServer::start().await;
    let site = x_site(&server.uri());
    let mut child = spawn(&site, &["x", "--port", "0"]);
    let consent = consent_url(&mut child);
    come_back(&query(&consent, "redirect_uri"), "state=forged&code=stolen").await;
    let (ok, _, stderr) = finish(child);
    assert!(!ok);
    assert!(stderr.contains("state does not match"), "{stderr}");
    assert!(server.received_requests().await.unwrap().is_empty());
    assert!(kept(&site, "x").is_none());
}

#[tokio::test]
async fn refused_consent_says_what_the_platform_said() {
    let server = MockServer::start().await;
    let site = x_site(&server.uri());
    let mut child = spawn(&site, &["x", "--port", "0"]);
    let consent = consent_url(&mut child);
    let state = query(&consent, "state");
    come_back(
        &query(&consent, "redirect_uri"),
        &format!("error=access_denied&error_description=The+user+denied&state={state}"),
    )
    .await;
    let (ok, _, stderr) = finish(child);
    assert!(!ok);
    assert!(stderr.contains("access_denied The user denied"), "{stderr}");
}

fn threads_site(base: &str) -> Site {
    posting_site(
        "",
        &format!(
            "    - {{ name: th, type: threads, api_url: \"{base}/th\", auth_url: \"{base}/oauth/authorize\", app_id: \"1234\", app_secret: app-secret-value }}\n"
        ),
    )
}

/// On a server: the redirect URI is the site's own page, and the address
/// the browser ended on is pasted back.
#[tokio::test]
async fn threads_consent_pasted_back_is_exchanged_for_a_60_day_token() {
    let server = MockServer::start().await;
    answer(
        &server,
        "POST",
        "/th/oauth/access_token",
        ResponseTemplate::new(200)
            .set_body_json(json!({"access_token": "short-lived", "user_id": 17_841_400})),
    )
    .await;
    answer(
        &server,
        "GET",
        "/th/access_token",
        ResponseTemplate::new(200).set_body_json(
            json!({"access_token": "long-lived", "token_type": "bearer", "expires_in": 5_184_000}),
        ),
    )
    .await;
    let site = threads_site(&server.uri());
    let mut child = spawn(
        &site,
        &[
            "th",
            "--redirect-uri",
            "https://news.example/herald-callback",
        ],
    );
    let consent = consent_url(&mut child);
    assert_eq!(query(&consent, "client_id"), "1234");
    assert_eq!(
        query(&consent, "scope"),
        "threads_basic,threads_content_publish"
    );
    assert!(consent.query_pairs().all(|(k, _)| k != "code_challenge"));
    let state = query(&consent, "state");
    writeln!(
        child.stdin.as_mut().unwrap(),
        "https://news.example/herald-callback?code=the-code&state={state}#_"
    )
    .unwrap();
    let (ok, _, stderr) = finish(child);
    assert!(ok, "{stderr}");
    let sent = server.received_requests().await.unwrap();
    let exchange = form(&sent[0]);
    assert_eq!(exchange["client_secret"], "app-secret-value");
    assert_eq!(
        exchange["redirect_uri"],
        "https://news.example/herald-callback"
    );
    assert_eq!(exchange["code"], "the-code");
    let upgrade = sent[1].url.query().unwrap();
    assert!(
        upgrade.contains("grant_type=th_exchange_token"),
        "{upgrade}"
    );
    assert!(upgrade.contains("access_token=short-lived"), "{upgrade}");
    let session = kept(&site, "th").unwrap();
    assert_eq!(session["access"], "long-lived");
    assert_eq!(session["values"]["user_id"], "17841400");
    let ends =
        chrono::DateTime::parse_from_rfc3339(session["access_expires"].as_str().unwrap()).unwrap();
    let days = (ends.to_utc() - chrono::Utc::now()).num_days();
    assert!((59..=60).contains(&days), "{days}");
}

#[test]
fn a_target_whose_token_is_in_the_config_takes_no_auth() {
    let site = posting_site(
        "",
        "    - { name: li, type: linkedin, author: \"urn:li:person:abc\", token: t0ken }\n",
    );
    let ran = site.herald().args(["auth", "li"]).assert().code(1);
    assert!(
        output(&ran).1.contains("credentials come from the config"),
        "{}",
        output(&ran).1
    );
    let ran = site.herald().args(["auth", "nobody"]).assert().code(1);
    assert!(output(&ran).1.contains("no target is named \"nobody\""));
}

fn linkedin_site(base: &str) -> Site {
    posting_site(
        "",
        &format!(
            "    - {{ name: li, type: linkedin, author: \"urn:li:person:abc\", client_id: li-client, client_secret: li-secret-value, api_url: \"{base}/li\", auth_url: \"{base}/oauth/v2\" }}\n"
        ),
    )
}

/// Writes a kept session for `target` ending in `days`, as `herald auth`
/// would; the ledger is made by a first dry-run-free command.
fn keep_session(site: &Site, target: &str, access: &str, days: i64) {
    site.herald()
        .args(["publish", "--now", NOW])
        .assert()
        .success();
    let db = rusqlite::Connection::open(site.root().join("state/herald.db")).unwrap();
    let session = json!({
        "access": access,
        "access_expires": (chrono::Utc::now() + chrono::TimeDelta::days(days)).to_rfc3339(),
    });
    db.execute(
        "INSERT INTO target_state (target, key, value, updated_at) VALUES (?1, 'session', ?2, ?3)
         ON CONFLICT (target, key) DO UPDATE SET value = ?2",
        rusqlite::params![target, session.to_string(), chrono::Utc::now().to_rfc3339()],
    )
    .unwrap();
}

#[tokio::test]
async fn a_token_ending_within_14_days_is_a_warning_in_check_and_publish() {
    let server = MockServer::start().await;
    let site = linkedin_site(&server.uri());
    // Before any auth: the target waits for one, and says so.
    let checked = site.herald().arg("check").assert().success();
    assert!(
        output(&checked)
            .0
            .contains("no token yet: run `herald auth li`"),
        "{}",
        output(&checked).0
    );
    keep_session(&site, "li", "li-access", 10);
    let checked = site.herald().arg("check").assert().success();
    let (out, _) = output(&checked);
    assert!(out.contains("warning: li: its token ends"), "{out}");
    assert!(
        out.contains("(in 9 days)") || out.contains("(in 10 days)"),
        "{out}"
    );
    assert!(out.contains("run `herald auth li` before then"), "{out}");
    let dry = site
        .herald()
        .args(["publish", "--dry-run", "--now", NOW])
        .assert()
        .success();
    assert!(
        output(&dry).1.contains("li: its token ends"),
        "{}",
        output(&dry).1
    );
    let ran = site
        .herald()
        .args(["publish", "--now", NOW])
        .assert()
        .success();
    assert!(
        output(&ran).1.contains("li: its token ends"),
        "{}",
        output(&ran).1
    );
    let status = site.herald().args(["auth", "--status"]).assert().success();
    assert!(
        output(&status)
            .0
            .contains("run `herald auth li` before then"),
        "{}",
        output(&status).0
    );

    // Twenty days left: nothing to say yet.
    keep_session(&site, "li", "li-access", 20);
    let checked = site.herald().arg("check").assert().success();
    assert!(
        !output(&checked).0.contains("its token"),
        "{}",
        output(&checked).0
    );
}

/// Threads' tokens die after 60 days unused: a run with nothing to post
/// renews one that has under 30 days left.
#[tokio::test]
async fn an_idle_run_renews_a_threads_token_that_is_due() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/th/refresh_access_token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"access_token": "renewed-token", "token_type": "bearer", "expires_in": 5_184_000}),
        ))
        .mount(&server)
        .await;
    let site = threads_site(&server.uri());
    keep_session(&site, "th", "old-token", 20);
    let dry = site
        .herald()
        .args(["publish", "--dry-run", "--now", NOW])
        .assert()
        .success();
    assert!(
        output(&dry)
            .0
            .contains("th (threads): nothing due; its token ends")
            && output(&dry).0.contains("a real run now renews it"),
        "{}",
        output(&dry).0
    );
    assert!(server.received_requests().await.unwrap().is_empty());
    site.herald()
        .args(["publish", "--now", NOW])
        .assert()
        .success();
    let sent = server.received_requests().await.unwrap();
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0]
            .url
            .query()
            .unwrap()
            .contains("access_token=old-token")
    );
    assert_eq!(kept(&site, "th").unwrap()["access"], "renewed-token");
    // Renewed: the next idle run asks nothing.
    site.herald()
        .args(["publish", "--now", NOW])
        .assert()
        .success();
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}
