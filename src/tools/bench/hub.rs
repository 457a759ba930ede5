//! The hub under test: a running one named on the command line, or a
//! fresh demo hub started as a child process so its memory and CPU can be read.

use std::path::PathBuf;

use anyhow::Context;

use crate::client::Identity;
use crate::tools::demo;

use super::*;

pub(super) struct HubUnderTest {
    pub(super) url: String,
    pub(super) dir: PathBuf,
    /// The hub's processes (several nodes behind a load balancer); the
    /// first is the one whose memory is read.
    pub(super) pids: Vec<u32>,
    pub(super) child: Option<std::process::Child>,
    pub(super) temp: Option<PathBuf>,
}

impl Drop for HubUnderTest {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(t) = &self.temp {
            let _ = std::fs::remove_dir_all(t);
        }
    }
}

impl HubUnderTest {
    pub(super) fn pid(&self) -> Option<u32> {
        self.pids.first().copied()
    }

    /// CPU seconds all the hub's processes have used so far.
    pub(super) fn cpu_seconds(&self) -> Option<f64> {
        (!self.pids.is_empty()).then(|| self.pids.iter().filter_map(|p| cpu_seconds(*p)).sum())
    }
}

pub(super) async fn hub_under_test(args: &BenchArgs) -> anyhow::Result<HubUnderTest> {
    if let Some(url) = &args.hub {
        let dir =
            args.dir.clone().context("--hub needs --dir, the demo directory with the participants' certificates")?;
        return Ok(HubUnderTest {
            url: url.trim_end_matches('/').into(),
            dir,
            pids: args.hub_pid.clone(),
            child: None,
            temp: None,
        });
    }
    let temp = std::env::temp_dir().join(format!("gwx-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&temp);
    demo::init(&temp, args.database.as_deref(), false).await?;
    spawn(temp, args.database.as_deref())
}

/// Runs `gwx serve` on the demo in `temp` (removed when dropped) as a child
/// process, once it says where it listens.
pub(super) fn spawn(temp: PathBuf, database: Option<&str>) -> anyhow::Result<HubUnderTest> {
    let mut cmd = std::process::Command::new(std::env::current_exe()?);
    cmd.args(["serve", "--dir"]).arg(&temp).args(["--https", "127.0.0.1:0", "--http", "127.0.0.1:0"]);
    if let Some(db) = database {
        cmd.args(["--database", db]);
    }
    let mut child = cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::null()).spawn()?;
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().expect("piped")), &mut line)?;
    let port = line
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .and_then(|p| p.parse::<u16>().ok())
        .with_context(|| format!("the hub did not start: {line}"))?;
    Ok(HubUnderTest {
        url: format!("https://localhost:{port}"),
        dir: temp.clone(),
        pids: vec![child.id()],
        child: Some(child),
        temp: Some(temp),
    })
}

pub(super) fn identity(hub: &HubUnderTest, code: &str) -> Identity {
    Identity {
        hub: hub.url.clone(),
        cert: hub.dir.join(format!("clients/{code}.pem")),
        key: hub.dir.join(format!("clients/{code}.key")),
        ca: hub.dir.join("certs/ca.pem"),
    }
}

/// kB of the hub process: (current RSS, peak RSS since the last reset).
pub(super) fn rss_kb(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// CPU seconds the local PostgreSQL cluster has used so far: every
/// `postgres` process's user and system time, and that of the backends its
/// postmaster has reaped (children's times).
pub(super) fn postgres_cpu_seconds() -> Option<f64> {
    processes_cpu_seconds("postgres")
}

/// CPU seconds the local Garage processes (an object store on this
/// machine) have used so far; `None` when none runs.
pub(super) fn garage_cpu_seconds() -> Option<f64> {
    processes_cpu_seconds("garage").filter(|s| *s > 0.0)
}

/// CPU seconds (and their reaped children's) of every process named `name`.
fn processes_cpu_seconds(name: &str) -> Option<f64> {
    let name = format!("({name}");
    let mut total = 0.0;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        let Some((head, rest)) = stat.rsplit_once(')') else { continue };
        if !head.ends_with(&name) {
            continue;
        }
        let f: Vec<&str> = rest.split_whitespace().collect();
        total += (11..15).filter_map(|i| f.get(i)?.parse::<f64>().ok()).sum::<f64>() / 100.0;
    }
    Some(total)
}

/// CPU seconds (user + system) the hub process has used so far.
pub(super) fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}
