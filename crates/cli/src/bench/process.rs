//! The server under load: a `provisio serve` child process on loopback, or a running server
//! named by `--url` (and, for its CPU time and memory, `--server-pid`).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use provisio_client::ProvisioClient;

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The server the load goes to. A child process is killed when this is dropped.
pub(super) struct Target {
    child: Option<Child>,
    pid: Option<u32>,
    /// Its base URL.
    pub(super) base: String,
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Target {
    /// A server already running at `base` (process `pid`, if known, for `/proc` readings).
    pub(super) fn running(base: &str, pid: Option<u32>) -> Self {
        Self {
            child: None,
            pid,
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    /// Starts `provisio serve` on a free loopback port and waits until it answers.
    pub(super) async fn spawn(
        store: &str,
        dir: &std::path::Path,
        master: &str,
        admin: &str,
    ) -> anyhow::Result<Self> {
        let port = free_port()?;
        let child = Command::new(std::env::current_exe()?)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--database-url")
            .arg(store)
            .arg("--data-dir")
            .arg(dir)
            .env("PROVISIO_MASTER_KEY", master)
            .env("PROVISIO_ADMIN_KEY", admin)
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting provisio serve")?;
        Self::started(child, port, admin).await
    }

    /// Starts the reference server (`reference.rs`) on a free loopback port.
    pub(super) async fn spawn_reference() -> anyhow::Result<Self> {
        let port = free_port()?;
        let child = Command::new(std::env::current_exe()?)
            .args(["bench", "reference-server", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting the reference server")?;
        Self::started(child, port, "reference").await
    }

    /// Waits until the child on `port` answers.
    async fn started(child: Child, port: u16, admin: &str) -> anyhow::Result<Self> {
        let target = Self {
            pid: Some(child.id()),
            child: Some(child),
            base: format!("http://127.0.0.1:{port}"),
        };
        let probe = ProvisioClient::new(&target.base, admin);
        for _ in 0..400 {
            if probe.jwks().await.is_ok() {
                return Ok(target);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        bail!("the server did not come up")
    }

    /// The server's process id; `None` for a server whose process is not known.
    pub(super) fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// The process's resident memory in MiB (`VmRSS` in `/proc/PID/status`).
    pub(super) fn rss_mib(&self) -> anyhow::Result<Option<f64>> {
        let Some(pid) = self.pid else { return Ok(None) };
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .context("reading the server's memory from /proc (Linux only)")?;
        let kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .context("no VmRSS in /proc status")?;
        Ok(Some(kib / 1024.0))
    }
}

/// CPU clocks read on each side of a load, in seconds: this process's own (the load
/// generator, or the store bench's whole work), the server's and the database server's (when
/// their processes are known), and the machine's idle time over all cores. With them a run
/// accounts for every core: what each party spent, and what nobody did.
#[derive(Debug, Clone, Copy)]
pub(super) struct Clocks {
    pub(super) own: f64,
    pub(super) server: Option<f64>,
    pub(super) database: Option<f64>,
    pub(super) idle: f64,
}

impl Clocks {
    /// Reads them now; `database` is a process tree (`tree_cpu_seconds`).
    pub(super) fn read(server: Option<u32>, database: Option<u32>) -> anyhow::Result<Self> {
        Ok(Self {
            own: cpu_seconds(std::process::id())?,
            server: server.map(cpu_seconds).transpose()?,
            database: database.map(tree_cpu_seconds).transpose()?,
            idle: idle_core_seconds()?,
        })
    }

    /// What was spent between `before` and these readings.
    pub(super) fn since(self, before: Self) -> Self {
        let minus = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| a - b);
        Self {
            own: self.own - before.own,
            server: minus(self.server, before.server),
            database: minus(self.database, before.database),
            idle: self.idle - before.idle,
        }
    }
}

/// Process `pid`'s CPU time so far in seconds (user + system, all threads), from
/// `/proc/PID/stat`.
fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = Stat::read(pid)?.context("the process is gone")?;
    Ok(stat.own)
}

/// The CPU time so far of process `pid` and all its children, the ones it has reaped
/// (`cutime`, `cstime`) and the ones still running: a database server whose connections are
/// processes of their own, as PostgreSQL's are. A child that ends between two readings is
/// counted in the second by its parent, so the difference holds.
fn tree_cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let root = Stat::read(pid)?.context("the database process is gone")?;
    let mut total = root.own + root.reaped;
    for entry in std::fs::read_dir("/proc")? {
        let Some(child) = entry?
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // A process may end while the list is read; it is then counted by its parent.
        if let Ok(Some(stat)) = Stat::read(child)
            && stat.parent == pid
        {
            total += stat.own + stat.reaped;
        }
    }
    Ok(total)
}

/// The machine's idle time so far, in core-seconds: `idle` plus `iowait` of the `cpu` line of
/// `/proc/stat` (proc(5)), summed over every core.
fn idle_core_seconds() -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string("/proc/stat")
        .context("reading the machine's idle time from /proc (Linux only)")?;
    idle_of(&stat)
}

fn idle_of(stat: &str) -> anyhow::Result<f64> {
    let cpu = stat
        .lines()
        .find_map(|l| l.strip_prefix("cpu "))
        .context("no cpu line in /proc/stat")?;
    // user nice system idle iowait ...: clock ticks of USER_HZ (100).
    let ticks: Vec<f64> = cpu
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .context("malformed /proc/stat")?;
    match ticks.get(3..5) {
        Some([idle, iowait]) => Ok((idle + iowait) / 100.0),
        _ => bail!("short cpu line in /proc/stat"),
    }
}

/// The fields of `/proc/PID/stat` read here, in seconds.
struct Stat {
    parent: u32,
    own: f64,
    reaped: f64,
}

impl Stat {
    /// `None` when the process has ended.
    fn read(pid: u32) -> anyhow::Result<Option<Self>> {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return Ok(None);
        };
        // proc(5): after the parenthesised command name, ppid is field 4, utime, stime,
        // cutime and cstime are fields 14 to 17, in clock ticks of USER_HZ (100 on Linux,
        // fixed by its ABI).
        let rest = stat
            .rsplit_once(')')
            .map(|(_, r)| r)
            .context("malformed /proc stat")?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3).context("short /proc stat");
        let ticks = |n: usize| -> anyhow::Result<f64> { Ok(field(n)?.parse::<f64>()?) };
        Ok(Some(Self {
            parent: field(4)?.parse()?,
            own: (ticks(14)? + ticks(15)?) / 100.0,
            reaped: (ticks(16)? + ticks(17)?) / 100.0,
        }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::{cpu_seconds, idle_of, tree_cpu_seconds};

    #[test]
    fn idle_time_is_idle_plus_iowait_of_all_cores() {
        let stat =
            "cpu  4705 150 1120 16250 520 0 25 0 0 0\ncpu0 2000 75 560 8000 260 0 10 0 0 0\n";
        assert!((idle_of(stat).unwrap() - 167.7).abs() < 1e-9);
        assert!(idle_of("cpu0 1 2 3 4 5\n").is_err());
        assert!(idle_of("cpu  1 2 3\n").is_err());
        assert!(idle_of("cpu  1 2 x 4 5\n").is_err());
    }

    #[test]
    fn a_process_tree_counts_its_children_running_and_reaped() {
        let me = std::process::id();
        let (tree_before, own_before) = (tree_cpu_seconds(me).unwrap(), cpu_seconds(me).unwrap());
        // A child that keeps a core busy until it is stopped.
        let mut child = std::process::Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .unwrap();
        let children = || tree_cpu_seconds(me).unwrap() - cpu_seconds(me).unwrap();
        let children_before = tree_before - own_before;
        // However busy the machine, the child gets its 0.1 s of CPU within 20 s.
        let mut running = children();
        for _ in 0..400 {
            if running - children_before >= 0.1 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
            running = children();
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let reaped = children();
        // Running, the child is read from its own /proc entry; reaped, from this process's
        // cutime and cstime. Either way the tree holds at least its 0.1 s; the process's own
        // time does not. (The two readings of one child may differ by a clock tick: the kernel
        // rounds a running task's times afresh at each reading.)
        assert!(
            running - children_before >= 0.1,
            "{running} {children_before}"
        );
        assert!(reaped >= running - 0.02, "{reaped} {running}");
    }
}
