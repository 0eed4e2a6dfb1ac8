//! The server under load: a `provisio serve` child process on loopback, or a running server
//! named by `--url` (and, for its CPU time and memory, `--server-pid`).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};
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

    /// The process's CPU time so far in seconds; `None` for a server whose process is not
    /// known.
    pub(super) fn cpu_seconds(&self) -> anyhow::Result<Option<f64>> {
        self.pid.map(cpu_seconds).transpose()
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

/// Process `pid`'s CPU time so far in seconds (user + system, all threads), from
/// `/proc/PID/stat`.
pub(super) fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .context("reading a process's CPU time from /proc (Linux only)")?;
    // proc(5): utime and stime are fields 14 and 15, counted after the parenthesised command
    // name, in clock ticks of USER_HZ (100 on Linux, fixed by its ABI).
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("malformed /proc stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| -> anyhow::Result<f64> {
        Ok(fields.get(i).context("short /proc stat")?.parse::<f64>()?)
    };
    Ok((tick(11)? + tick(12)?) / 100.0)
}
