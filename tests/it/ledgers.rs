//! One suite of ledger semantics, run against both stores: the SQLite file
//! and a throwaway PostgreSQL cluster. Two `Ledger` handles on one store
//! stand for two hosts.

use chrono::{DateTime, Utc};
use herald::ledger::{
    Attempt, Claim, DatabaseUrl, Ledger, LedgerError, Location, Pace, Status, Unsent,
};
use herald::secret::Secret;

use crate::pg::Cluster;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

/// A store to open handles on, and what keeps it alive.
struct Store {
    location: Location,
    _file: Option<tempfile::TempDir>,
    _cluster: Option<Cluster>,
}

impl Store {
    fn open(&self) -> Ledger {
        Ledger::open_at(&self.location).unwrap()
    }
}

fn sqlite() -> Store {
    let dir = tempfile::tempdir().unwrap();
    Store {
        location: Location::File(dir.path().join("state.db")),
        _file: Some(dir),
        _cluster: None,
    }
}

fn database_url(url: &str) -> Location {
    Location::Database(DatabaseUrl {
        url: Secret::new(url),
    })
}

fn postgres() -> Option<Store> {
    let cluster = Cluster::start()?;
    let db = cluster.database();
    Some(Store {
        location: database_url(&cluster.url(&db)),
        _file: None,
        _cluster: Some(cluster),
    })
}

/// Runs `case` on each store there is here (PostgreSQL may be skipped
/// outside CI, and says so).
fn on_both(case: impl Fn(&Store, &str)) {
    case(&sqlite(), "sqlite");
    if let Some(pg) = postgres() {
        case(&pg, "postgres");
    }
}

fn attempt<'a>(target: &'a str, article: &'a str, now: &str) -> Attempt<'a> {
    Attempt {
        target,
        article_id: article,
        key: "key-1",
        hash: "h1",
        now: at(now),
    }
}

#[test]
fn records_the_life_of_a_post() {
    on_both(|store, name| {
        let ledger = store.open();
        let a = attempt("masto", "https://x/a/", "2024-01-01T00:00:00Z");
        assert_eq!(
            ledger.claim(&a, None, None).unwrap(),
            Claim::Granted,
            "{name}"
        );
        let r = ledger.get("masto", "https://x/a/").unwrap().unwrap();
        assert_eq!((r.status, r.attempts), (Status::Pending, 1), "{name}");
        assert_eq!(r.holder.as_deref(), Some(ledger.holder()), "{name}");
        assert!(r.claim_expires_at.is_some(), "{name}");
        ledger
            .mark("masto", "https://x/a/", Status::Failed, "HTTP 503", a.now)
            .unwrap();
        // The run's own post is claimed again for its next attempt.
        assert_eq!(
            ledger.claim(&a, Some(r.revision), None).unwrap(),
            Claim::Granted
        );
        ledger
            .mark_posted(
                "masto",
                "https://x/a/",
                &herald::social::Delivered {
                    remote_id: Some("1".into()),
                    remote_url: Some("https://m/1".into()),
                    reference: None,
                },
                a.now,
            )
            .unwrap();
        let snap = ledger.snapshot().unwrap();
        let r = snap.get("masto", "https://x/a/").unwrap();
        assert_eq!(
            (
                r.status,
                r.attempts,
                r.remote_url.as_deref(),
                r.last_error.as_deref()
            ),
            (Status::Posted, 2, Some("https://m/1"), None),
            "{name}"
        );
        assert_eq!(
            r.claim_expires_at, None,
            "{name}: a posted row holds no claim"
        );
        assert_eq!(snap.last_posted["masto"], a.now, "{name}");
        assert_eq!(snap.shared, name == "postgres");
        // Nothing held back overwrites a posted row.
        let unsent = Unsent {
            status: Status::Queued,
            reason: "later",
            idempotency_key: "k",
            content_hash: "h2",
        };
        ledger
            .record_unsent("masto", "https://x/a/", &unsent, a.now)
            .unwrap();
        let r = ledger.get("masto", "https://x/a/").unwrap().unwrap();
        assert_eq!(r.status, Status::Posted, "{name}");
        // A run's record, numbered by the store.
        let run = ledger.start_run(a.now).unwrap();
        ledger.finish_run(run, a.now, "posted 1").unwrap();
        assert!(!ledger.is_empty().unwrap());
    });
}

#[test]
fn of_two_hosts_that_read_the_same_ledger_exactly_one_claims_a_post() {
    on_both(|store, name| {
        let (a, b) = (store.open(), store.open());
        let now = "2024-01-01T00:00:00Z";
        // Both read: no row. A claims first; B's claim finds the row changed.
        assert_eq!(
            a.claim(&attempt("t", "p1", now), None, None).unwrap(),
            Claim::Granted
        );
        assert_eq!(
            b.claim(&attempt("t", "p1", now), None, None).unwrap(),
            Claim::Taken,
            "{name}"
        );
        // A queued post both read at revision r: one claim wins.
        let unsent = Unsent {
            status: Status::Queued,
            reason: "min_interval",
            idempotency_key: "k",
            content_hash: "h",
        };
        a.record_unsent("t", "p2", &unsent, at(now)).unwrap();
        let seen = a.get("t", "p2").unwrap().unwrap().revision;
        assert_eq!(
            b.claim(&attempt("t", "p2", now), Some(seen), None).unwrap(),
            Claim::Granted
        );
        assert_eq!(
            a.claim(&attempt("t", "p2", now), Some(seen), None).unwrap(),
            Claim::Taken,
            "{name}"
        );
        // Once posted by B, A still cannot claim it from what it read.
        b.mark_posted("t", "p2", &herald::social::Delivered::default(), at(now))
            .unwrap();
        assert_eq!(
            a.claim(&attempt("t", "p2", now), Some(seen), None).unwrap(),
            Claim::Taken
        );
    });
}

#[test]
fn many_hosts_claiming_at_once_grant_each_post_once() {
    on_both(|store, name| {
        let hosts: Vec<Ledger> = (0..6).map(|_| store.open()).collect();
        let granted = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for host in hosts {
                let granted = &granted;
                scope.spawn(move || {
                    for n in 0..20 {
                        let id = format!("post-{n}");
                        let a = Attempt {
                            target: "t",
                            article_id: &id,
                            key: "k",
                            hash: "h",
                            now: at("2024-01-01T00:00:00Z"),
                        };
                        if host.claim(&a, None, None).unwrap() == Claim::Granted {
                            granted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                    }
                });
            }
        });
        assert_eq!(
            granted.into_inner(),
            20,
            "{name}: each of 20 posts claimed once"
        );
        let records = store.open().records().unwrap();
        assert_eq!(records.len(), 20);
        assert!(records.iter().all(|r| r.attempts == 1), "{name}");
    });
}

#[test]
fn a_shared_ledger_keeps_pacing_across_hosts_and_never_overwrites_a_live_claim() {
    on_both(|store, name| {
        let (a, b) = (store.open(), store.open());
        let started = at("2024-01-01T00:00:00Z");
        let pace = Pace {
            min_interval: chrono::TimeDelta::minutes(30),
            max_per_run: 5,
            run_started: started,
        };
        let now = "2024-01-01T00:01:00Z";
        assert_eq!(
            a.claim(&attempt("t", "p1", now), None, Some(&pace))
                .unwrap(),
            Claim::Granted
        );
        // B would post another article to the same target a minute later.
        let paced = b
            .claim(&attempt("t", "p2", now), None, Some(&pace))
            .unwrap();
        // B records p1 as queued (its plan was older): not over A's claim.
        let unsent = Unsent {
            status: Status::Queued,
            reason: "stale plan",
            idempotency_key: "k",
            content_hash: "h",
        };
        b.record_unsent("t", "p1", &unsent, at(now)).unwrap();
        let p1 = a.get("t", "p1").unwrap().unwrap().status;
        if a.shared() {
            assert_eq!(paced, Claim::Paced, "{name}");
            assert_eq!(p1, Status::Pending, "{name}");
            // Another target is not held back.
            assert_eq!(
                b.claim(&attempt("u", "p2", now), None, Some(&pace))
                    .unwrap(),
                Claim::Granted
            );
            // After the interval, B may post.
            assert_eq!(
                b.claim(
                    &attempt("t", "p2", "2024-01-01T00:40:00Z"),
                    None,
                    Some(&pace)
                )
                .unwrap(),
                Claim::Granted
            );
            // max_per_run counts every host's posts since the run began.
            let tight = Pace {
                min_interval: chrono::TimeDelta::zero(),
                max_per_run: 2,
                run_started: started,
            };
            assert_eq!(
                a.claim(
                    &attempt("t", "p3", "2024-01-01T00:41:00Z"),
                    None,
                    Some(&tight)
                )
                .unwrap(),
                Claim::Paced
            );
        } else {
            // One host: its plan paces alone, and its run lock excludes others.
            assert_eq!(paced, Claim::Granted, "{name}");
            assert_eq!(p1, Status::Queued, "{name}");
        }
    });
}

#[test]
fn learned_state_is_seen_by_every_host_and_renewed_by_one_at_a_time() {
    on_both(|store, name| {
        let (a, b) = (store.open(), store.open());
        let now = at("2024-01-01T00:00:00Z");
        a.set_learned("bsky", "session", Some("{\"v\":1}"), now)
            .unwrap();
        assert_eq!(
            b.learned_now("bsky", "session").unwrap().as_deref(),
            Some("{\"v\":1}")
        );
        assert!(a.lock_target("bsky").unwrap());
        if a.shared() {
            assert!(
                !b.lock_target("bsky").unwrap(),
                "{name}: one host at a time"
            );
            assert!(b.lock_target("other").unwrap());
            a.unlock_target("bsky").unwrap();
            assert!(b.lock_target("bsky").unwrap());
            b.unlock_target("bsky").unwrap();
        }
        b.set_learned("bsky", "session", None, now).unwrap();
        assert_eq!(
            a.snapshot().unwrap().learned("bsky").get("session"),
            None,
            "{name}"
        );
    });
}

#[test]
fn a_moved_article_takes_its_rows_and_thread_parts_along() {
    on_both(|store, name| {
        let l = store.open();
        let now = "2024-01-01T00:00:00Z";
        l.claim(&attempt("t", "https://x/old/", now), None, None)
            .unwrap();
        l.claim(&attempt("t", "https://x/old/#part-2", now), None, None)
            .unwrap();
        l.move_article("https://x/old/", "https://x/new/").unwrap();
        let ids: Vec<String> = l
            .records()
            .unwrap()
            .into_iter()
            .map(|r| r.article_id)
            .collect();
        assert_eq!(ids, ["https://x/new/", "https://x/new/#part-2"], "{name}");
        l.describe("https://x/new/", "Title", "2024-01-01T00:00:00+00:00")
            .unwrap();
        assert_eq!(
            l.get("t", "https://x/new/")
                .unwrap()
                .unwrap()
                .title
                .as_deref(),
            Some("Title")
        );
    });
}

#[test]
fn a_sqlite_ledger_migrates_to_postgres_and_exports_the_same_lines() {
    let Some(pg) = postgres() else { return };
    let file = sqlite();
    let l = file.open();
    let now = at("2024-01-01T00:00:00Z");
    l.claim_site("https://news.example/").unwrap();
    l.claim(&attempt("t", "a", "2024-01-01T00:00:00Z"), None, None)
        .unwrap();
    l.mark_posted(
        "t",
        "a",
        &herald::social::Delivered {
            remote_id: Some("1".into()),
            remote_url: None,
            reference: Some("cid".into()),
        },
        now,
    )
    .unwrap();
    l.set_learned("t", "max_characters", Some("500"), now)
        .unwrap();
    let mut from = Vec::new();
    herald::ledger::transfer::export(&l, &mut from).unwrap();
    drop(l);
    let Location::File(path) = &file.location else {
        unreachable!()
    };
    let Location::Database(url) = &pg.location else {
        unreachable!()
    };
    let counts = herald::ledger::transfer::migrate(path, url).unwrap();
    assert_eq!(counts.to_string(), "1 meta, 1 posts, 1 target_state");
    let mut to = Vec::new();
    herald::ledger::transfer::export(&pg.open(), &mut to).unwrap();
    assert_eq!(
        String::from_utf8(to).unwrap(),
        String::from_utf8(from).unwrap()
    );
    // Never into a ledger with records.
    assert!(herald::ledger::transfer::migrate(path, url).is_err());
}

#[test]
fn a_database_from_a_newer_herald_or_a_foreign_schema_is_refused() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let db = cluster.database();
    let location = database_url(&cluster.url(&db));
    drop(Ledger::open_at(&location).unwrap());
    cluster.sql(&db, "INSERT INTO herald.schema_version VALUES (99)");
    for result in [
        Ledger::open_at(&location).map(drop),
        Ledger::open_read_only_at(&location).map(drop),
    ] {
        assert!(
            matches!(result, Err(LedgerError::TooNew { found: 99, .. })),
            "{result:?}"
        );
    }
    let other = cluster.database();
    cluster.sql(
        &other,
        "CREATE SCHEMA herald; CREATE TABLE herald.posts (x int)",
    );
    let err = Ledger::open_at(&database_url(&cluster.url(&other))).map(drop);
    assert!(matches!(err, Err(LedgerError::Corrupt { .. })), "{err:?}");
    // A dry run's read creates nothing in an empty database.
    let empty = cluster.database();
    assert!(
        Ledger::open_read_only_at(&database_url(&cluster.url(&empty)))
            .unwrap()
            .is_none()
    );
    assert_eq!(
        cluster.sql(
            &empty,
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'herald'"
        ),
        [Some("0".to_string())]
    );
}

#[test]
fn a_schema_per_site_keeps_two_sites_apart_in_one_database() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let db = cluster.database();
    let blog = database_url(&format!("{}&schema=blog", cluster.url(&db)));
    let news = database_url(&format!("{}&schema=news", cluster.url(&db)));
    Ledger::open_at(&blog)
        .unwrap()
        .claim_site("https://blog.example/")
        .unwrap();
    Ledger::open_at(&news)
        .unwrap()
        .claim_site("https://news.example/")
        .unwrap();
    let err = Ledger::open_at(&news)
        .unwrap()
        .claim_site("https://blog.example/");
    assert!(matches!(err, Err(LedgerError::OtherSite { .. })), "{err:?}");
}

#[test]
fn tls_verifies_the_server_against_sslrootcert_and_refuses_an_unknown_one() {
    let certs = tempfile::tempdir().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "herald test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let server_key = rcgen::KeyPair::generate().unwrap();
    let server = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&server_key, &ca)
        .unwrap();
    let (ca_file, cert_file, key_file) = (
        certs.path().join("ca.pem"),
        certs.path().join("server.pem"),
        certs.path().join("server.key"),
    );
    std::fs::write(&ca_file, ca.pem()).unwrap();
    std::fs::write(&cert_file, server.pem()).unwrap();
    std::fs::write(&key_file, server_key.serialize_pem()).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(certs.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    crate::pg::chown_all(certs.path(), crate::pg::server_user());
    let Some(cluster) = Cluster::start_with(&[
        "ssl=on",
        &format!("ssl_cert_file={}", cert_file.display()),
        &format!("ssl_key_file={}", key_file.display()),
    ]) else {
        return;
    };
    let db = cluster.database();
    let base = format!("postgres://herald@127.0.0.1:{}/{db}", cluster.port);
    let verified = format!(
        "{base}?sslmode=verify-full&sslrootcert={}",
        ca_file.display()
    );
    let ledger = Ledger::open_at(&database_url(&verified)).unwrap();
    ledger.claim_site("https://news.example/").unwrap();
    assert_eq!(
        cluster.sql(
            &db,
            "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
             WHERE s.ssl AND a.application_name = 'herald'"
        ),
        [Some("1".to_string())],
        "herald's connection is encrypted"
    );
    drop(ledger);
    // Without the CA, the server's certificate is refused, even with `require`.
    let err = Ledger::open_at(&database_url(&format!("{base}?sslmode=require")))
        .map(drop)
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot reach the database"), "{err}");
    assert!(err.to_lowercase().contains("certificate"), "{err}");
}
