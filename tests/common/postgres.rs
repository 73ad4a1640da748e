//! A throw-away PostgreSQL server for the tests: Debian's binaries, a cluster in a temporary
//! directory, listening on a spare loopback port (and a Unix socket in that directory), stopped
//! when dropped. Run as the `postgres` user when the tests run as root (initdb refuses root).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The superuser's password: connections over TCP authenticate with it (SCRAM).
pub const PASSWORD: &str = "s3cret-Pg-pw-93f1";

pub struct Postgres {
    pub port: u16,
    bin: PathBuf,
    data: PathBuf,
    settings: Vec<String>,
    ids: Option<(u32, u32)>,
    server: Option<Child>,
    dir: tempfile::TempDir,
}

impl Postgres {
    /// Starts a server with `settings` (`name=value`) and `files` copied into its data directory;
    /// `None` when PostgreSQL is not installed or cannot start here. Under CI (where `.ci/run`
    /// installs it) that is a failure, not a skip.
    pub fn start(settings: &[&str], files: &[(&Path, &str)]) -> Option<Postgres> {
        let pg = Postgres::try_start(settings, files);
        if pg.is_none() {
            assert!(
                std::env::var_os("CI").is_none(),
                "PostgreSQL (Debian's postgresql package) did not start, and CI must test it"
            );
            eprintln!("PostgreSQL not installed or not startable here: not tested");
        }
        pg
    }

    fn try_start(settings: &[&str], files: &[(&Path, &str)]) -> Option<Postgres> {
        use std::os::unix::fs::PermissionsExt;
        let mut bins: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .flatten()
            .map(|e| e.path().join("bin"))
            .filter(|b| b.join("postgres").exists())
            .collect();
        bins.sort();
        let bin = bins.pop()?;
        let ids = if unsafe { libc::geteuid() } == 0 {
            let pw = unsafe { libc::getpwnam(c"postgres".as_ptr()).as_ref() }?;
            Some((pw.pw_uid, pw.pw_gid))
        } else {
            None
        };
        let dir = tempfile::tempdir().ok()?;
        let data = dir.path().join("data");
        std::fs::create_dir(&data).ok()?;
        let pwfile = dir.path().join("pw");
        std::fs::write(&pwfile, PASSWORD).ok()?;
        if let Some((uid, gid)) = ids {
            for p in [dir.path(), data.as_path(), pwfile.as_path()] {
                std::os::unix::fs::chown(p, Some(uid), Some(gid)).ok()?;
            }
        }
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).ok()?;
        let init = as_owner(Command::new(bin.join("initdb")), ids)
            .args(["-D", data.to_str()?, "-U", "postgres", "--auth-local=trust"])
            .args(["--auth-host=scram-sha-256", "--pwfile", pwfile.to_str()?])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .ok()?;
        if !init.success() {
            return None;
        }
        for (from, to) in files {
            let dest = data.join(to);
            std::fs::copy(from, &dest).ok()?;
            if let Some((uid, gid)) = ids {
                std::os::unix::fs::chown(&dest, Some(uid), Some(gid)).ok()?;
            }
            std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o600)).ok()?;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let mut pg = Postgres {
            port,
            bin,
            data,
            settings: settings.iter().map(|s| s.to_string()).collect(),
            ids,
            server: None,
            dir,
        };
        pg.run().then_some(pg)
    }

    /// Starts the server on its data directory and waits until it accepts connections.
    fn run(&mut self) -> bool {
        let mut cmd = as_owner(Command::new(self.bin.join("postgres")), self.ids);
        cmd.arg("-D")
            .arg(&self.data)
            .args(["-p", &self.port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!(
                "unix_socket_directories={}",
                self.dir.path().display()
            ))
            .args(["-c", "fsync=off"]);
        for s in &self.settings {
            cmd.args(["-c", s]);
        }
        let Ok(child) = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn() else {
            return false;
        };
        self.server = Some(child);
        for _ in 0..400 {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() && self.client().is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// The URL of a database of the server, with the password.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://postgres:{PASSWORD}@127.0.0.1:{}/{db}",
            self.port
        )
    }

    /// A client of the `postgres` database, to look at what vigil stored.
    pub fn client(&self) -> Result<postgres::Client, postgres::Error> {
        postgres::Client::connect(&self.url("postgres"), postgres::NoTls)
    }

    /// Creates a database and returns its URL.
    pub fn database(&self, name: &str) -> String {
        self.client()
            .unwrap()
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        self.url(name)
    }

    /// Stops the server at once, as a crash would (an immediate shutdown: every connection is
    /// dropped, nothing is flushed).
    pub fn crash(&mut self) {
        if let Some(mut child) = self.server.take() {
            unsafe { libc::kill(child.id() as i32, libc::SIGQUIT) };
            let _ = child.wait();
        }
    }

    /// Starts the server again after [`Postgres::crash`].
    pub fn restart(&mut self) {
        assert!(self.run(), "PostgreSQL did not start again");
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(mut child) = self.server.take() {
            // A fast shutdown: connections are closed, the cluster is left consistent.
            unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
            let _ = child.wait();
        }
    }
}

/// The command, run as the cluster's owner when the tests run as root.
fn as_owner(mut cmd: Command, ids: Option<(u32, u32)>) -> Command {
    use std::os::unix::process::CommandExt;
    if let Some((uid, gid)) = ids {
        cmd.uid(uid).gid(gid);
    }
    cmd
}
