//! A throwaway PostgreSQL cluster per test: `initdb` once per machine (a
//! template in the temporary folder, copied for each test), the server
//! started on 127.0.0.1 with a free port and its socket in its own folder,
//! stopped when dropped; never a system service. As root, the server runs as the `postgres`
//! user (it refuses root).
//!
//! Where PostgreSQL is missing, it is installed from Debian's packages
//! (`apt-get install postgresql`, as root or through `sudo -n`). Where that
//! cannot be done the tests that need it are skipped and say so, unless
//! `HERALD_REQUIRE_POSTGRES` is set (CI sets it: there they never skip).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::servers::free_port;

static INSTALL: Mutex<()> = Mutex::new(());

/// The folder of `initdb` and `postgres`, installing PostgreSQL where it
/// is missing; `None` when it cannot be had here.
fn binaries() -> Option<PathBuf> {
    let _once = INSTALL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(dir) = find_binaries() {
        return Some(dir);
    }
    let root = unsafe { libc::geteuid() } == 0;
    let install = |update: bool| {
        let mut steps: Vec<Vec<&str>> = Vec::new();
        if update {
            steps.push(vec!["apt-get", "update", "-q"]);
        }
        steps.push(vec![
            "apt-get",
            "install",
            "-y",
            "-q",
            "--no-install-recommends",
            "postgresql",
        ]);
        steps.into_iter().all(|args| {
            let mut cmd = if root {
                Command::new(args[0])
            } else {
                let mut c = Command::new("sudo");
                c.arg("-n").arg(args[0]);
                c
            };
            cmd.args(&args[1..])
                .env("DEBIAN_FRONTEND", "noninteractive")
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
    };
    eprintln!("PostgreSQL is not installed: installing Debian's postgresql package");
    // Debian's way to keep a package from starting its service (the tests
    // run their own servers): a policy that refuses, for the install only.
    let policy = Path::new("/usr/sbin/policy-rc.d");
    let own_policy =
        root && !policy.exists() && std::fs::write(policy, "#!/bin/sh\nexit 101\n").is_ok();
    if own_policy {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(policy, std::fs::Permissions::from_mode(0o755));
    }
    if !install(false) {
        install(true);
    }
    if own_policy {
        let _ = std::fs::remove_file(policy);
    }
    find_binaries()
}

fn find_binaries() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|bin| bin.join("initdb").exists() && bin.join("postgres").exists())
        .collect();
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    if let Some(best) = found.pop() {
        return Some(best);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .find(|p| p.join("initdb").exists() && p.join("postgres").exists())
    })
}

/// The user the server runs as: `postgres` when the tests run as root.
pub fn server_user() -> Option<(u32, u32)> {
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let name = std::ffi::CString::new("postgres").unwrap();
    // SAFETY: getpwnam returns a pointer to static storage or null; it is
    // read at once.
    let entry = unsafe { libc::getpwnam(name.as_ptr()) };
    assert!(
        !entry.is_null(),
        "running as root, the server needs the user postgres (made by Debian's package)"
    );
    let (uid, gid) = unsafe { ((*entry).pw_uid, (*entry).pw_gid) };
    Some((uid, gid))
}

pub fn chown_all(path: &Path, owner: Option<(u32, u32)>) {
    let Some((uid, gid)) = owner else { return };
    for entry in walkdir::WalkDir::new(path) {
        let entry = entry.unwrap();
        std::os::unix::fs::lchown(entry.path(), Some(uid), Some(gid)).unwrap();
    }
}

fn as_server_user(cmd: &mut Command) -> &mut Command {
    if let Some((uid, gid)) = server_user() {
        use std::os::unix::process::CommandExt;
        cmd.uid(uid).gid(gid);
    }
    cmd
}

/// A data folder made by `initdb` once per build folder, copied for
/// each cluster.
fn template(bin: &Path) -> PathBuf {
    static TEMPLATE: Mutex<()> = Mutex::new(());
    let _once = TEMPLATE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // In the system's temporary folder, not the build folder: the server's
    // user must be able to reach it (a checkout under a private home may
    // not be).
    let dir =
        std::env::temp_dir().join(format!("herald-pg-template-{}", unsafe { libc::geteuid() }));
    let stamp = dir.join("herald-template-ready");
    let made_by = bin.display().to_string();
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(made_by.as_str()) {
        return dir;
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    chown_all(&dir, server_user());
    let out = as_server_user(
        Command::new(bin.join("initdb"))
            .arg("-D")
            .arg(&dir)
            .args([
                "-U",
                "herald",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ])
            .env("LC_ALL", "C"),
    )
    .output()
    .expect("initdb runs");
    assert!(
        out.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&stamp, made_by).unwrap();
    dir
}

/// A running throwaway cluster; stopped (and its data removed) when
/// dropped.
pub struct Cluster {
    bin: PathBuf,
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
    settings: Vec<String>,
}

impl Cluster {
    /// Starts a cluster, or `None` (having said why) where PostgreSQL
    /// cannot be had and the tests may skip.
    pub fn start() -> Option<Cluster> {
        Cluster::start_with(&[])
    }

    /// With extra server settings (`ssl=on`, …).
    pub fn start_with(settings: &[&str]) -> Option<Cluster> {
        let Some(bin) = binaries() else {
            assert!(
                std::env::var_os("HERALD_REQUIRE_POSTGRES").is_none(),
                "PostgreSQL is required (HERALD_REQUIRE_POSTGRES) and could not be installed"
            );
            eprintln!(
                "skipped: PostgreSQL is not installed and could not be (as root or with sudo: apt-get install postgresql)"
            );
            return None;
        };
        let template = template(&bin);
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let status = Command::new("cp")
            .arg("-a")
            .arg(&template)
            .arg(&data)
            .status()
            .unwrap();
        assert!(status.success(), "copying the template cluster failed");
        chown_all(dir.path(), server_user());
        let mut cluster = Cluster {
            bin,
            child: None,
            port: free_port(),
            dir,
            settings: settings.iter().map(|s| s.to_string()).collect(),
        };
        cluster.run();
        Some(cluster)
    }

    fn run(&mut self) {
        let data = self.dir.path().join("data");
        let log = std::fs::File::create(self.dir.path().join("server.log")).unwrap();
        chown_all(&self.dir.path().join("server.log"), server_user());
        let mut cmd = Command::new(self.bin.join("postgres"));
        cmd.arg("-D")
            .arg(&data)
            .arg("-p")
            .arg(self.port.to_string())
            .args(["-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!(
                "unix_socket_directories={}",
                self.dir.path().display()
            ))
            // Without fsync a crash of the machine could lose data, a
            // crash of the server (`stop`) cannot.
            .args(["-c", "fsync=off"])
            .args(["-c", "full_page_writes=off", "-c", "max_connections=60"]);
        for s in &self.settings {
            cmd.arg("-c").arg(s);
        }
        let child = as_server_user(&mut cmd)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("postgres starts");
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && self.try_admin("SELECT 1").is_ok()
            {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!(
                    "postgres exited ({status}): {}",
                    std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("postgres did not answer on port {}", self.port);
    }

    /// Stops the server at once (as a crash would); `restart` brings it
    /// back on the same port with the same data.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGQUIT: immediate shutdown, the server's children with it.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGQUIT) };
            let _ = child.wait();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }

    /// A URL of database `db` on this cluster (without TLS).
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://herald@127.0.0.1:{}/{db}?sslmode=disable",
            self.port
        )
    }

    /// A new empty database, by name.
    pub fn database(&self) -> String {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let name = format!(
            "t{}",
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        self.admin(&format!("CREATE DATABASE {name}"));
        name
    }

    fn try_admin(&self, sql: &str) -> Result<(), String> {
        self.try_sql("postgres", sql).map(drop)
    }

    /// Runs `sql` on the cluster's `postgres` database, as its superuser.
    pub fn admin(&self, sql: &str) {
        self.try_admin(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Runs `sql` on database `db`; the first column of each row, as text.
    /// On a thread of its own: the client may not run inside a runtime.
    pub fn try_sql(&self, db: &str, sql: &str) -> Result<Vec<Option<String>>, String> {
        let url = self.url(db);
        let sql = sql.to_string();
        std::thread::spawn(move || {
            let mut client =
                postgres::Client::connect(&url, postgres::NoTls).map_err(|e| e.to_string())?;
            let messages = client.simple_query(&sql).map_err(|e| e.to_string())?;
            Ok(messages
                .into_iter()
                .filter_map(|m| match m {
                    postgres::SimpleQueryMessage::Row(r) => Some(r.get(0).map(str::to_string)),
                    _ => None,
                })
                .collect())
        })
        .join()
        .unwrap()
    }

    pub fn sql(&self, db: &str, sql: &str) -> Vec<Option<String>> {
        self.try_sql(db, sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}
