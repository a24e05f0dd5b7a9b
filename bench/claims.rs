//! Claims per second: how fast hosts can take posts from the ledger, each
//! claim followed by the write that records the post made (the two writes
//! every post costs), on SQLite and on PostgreSQL with one host and with
//! several claiming the same posts at once.
//!
//!   cargo run --release --example claims -- SQLITE_FILE POSTGRES_URL [POSTS] [HOSTS]
//!
//! Prints a Markdown table (bench/run.sh puts it in the README's).

use std::time::Instant;

use herald::ledger::{Attempt, Claim, DatabaseUrl, Ledger, Location, Pace};
use herald::secret::Secret;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: claims SQLITE_FILE POSTGRES_URL [POSTS] [HOSTS]");
        std::process::exit(2);
    }
    let posts: usize = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(2000);
    let hosts: usize = args.get(4).and_then(|n| n.parse().ok()).unwrap_or(4);
    let sqlite = Location::File(args[1].clone().into());
    let postgres = Location::Database(DatabaseUrl {
        url: Secret::new(args[2].clone()),
    });
    println!("| store | hosts | posts | claims per second (claim + record posted) |");
    println!("|---|---|---|---|");
    for (name, location, hosts, prefix) in [
        ("SQLite", &sqlite, 1, "a"),
        ("PostgreSQL", &postgres, 1, "a"),
        ("PostgreSQL", &postgres, hosts, "b"),
    ] {
        let rate = run(location, posts, hosts, prefix);
        println!("| {name} | {hosts} | {posts} | {rate:.0} |");
    }
}

/// `hosts` handles claim the same `posts` posts, each trying every one in
/// runs of at most 50;
/// returns claims granted per second. Panics if a post is granted twice.
fn run(location: &Location, posts: usize, hosts: usize, prefix: &str) -> f64 {
    let ledgers: Vec<Ledger> = (0..hosts)
        .map(|_| Ledger::open_at(location).expect("the ledger opens"))
        .collect();
    let granted = std::sync::atomic::AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for (h, ledger) in ledgers.into_iter().enumerate() {
            let granted = &granted;
            scope.spawn(move || {
                // Runs of up to 50 posts (a cron run's max_per_run), across
                // hosts: a paced claim starts the host's next run.
                let mut pace = Pace {
                    min_interval: chrono::TimeDelta::zero(),
                    max_per_run: 50,
                    run_started: chrono::Utc::now(),
                };
                // Each host starts at another place, as hosts' plans differ.
                for i in 0..posts {
                    let n = (i + h * posts / hosts.max(1)) % posts;
                    let id = format!("https://bench.example/{prefix}{hosts}/{n}/");
                    loop {
                        let now = chrono::Utc::now();
                        let attempt = Attempt {
                            target: "hook",
                            article_id: &id,
                            key: "key",
                            hash: "hash",
                            now,
                        };
                        match ledger.claim(&attempt, None, Some(&pace)).expect("claim") {
                            Claim::Granted => {
                                ledger
                                    .mark_posted("hook", &id, &Default::default(), now)
                                    .expect("record");
                                granted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            }
                            Claim::Paced => {
                                pace.run_started = chrono::Utc::now();
                                continue;
                            }
                            Claim::Taken => {}
                        }
                        break;
                    }
                }
            });
        }
    });
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(
        granted.into_inner(),
        posts,
        "each post granted exactly once"
    );
    posts as f64 / seconds
}
