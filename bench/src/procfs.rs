//! CPU time and memory of processes, from `/proc`: the figures that stay
//! meaningful on a shared, noisy machine (CPU per unit of work, peak RSS).

use anyhow::{Context, anyhow};
use std::sync::OnceLock;
use std::time::Duration;

/// One line of `/proc/<pid>/stat`, the fields we use.
#[derive(Debug, Clone, Copy)]
pub struct Stat {
    pub ppid: u32,
    /// CPU of the process itself (user + system).
    pub own: Duration,
    /// CPU of its children that exited and were waited for.
    pub reaped: Duration,
}

fn ticks_per_sec() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|t| *t > 0)
            .unwrap_or(100)
    })
}

fn ticks(t: u64) -> Duration {
    Duration::from_nanos(t.saturating_mul(1_000_000_000) / ticks_per_sec())
}

/// Parses `/proc/<pid>/stat`; `pid` may be "self".
pub fn stat(pid: &str) -> anyhow::Result<Stat> {
    let raw = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("read /proc/{pid}/stat"))?;
    parse_stat(&raw).ok_or_else(|| anyhow!("unparsable /proc/{pid}/stat"))
}

fn parse_stat(raw: &str) -> Option<Stat> {
    // The command name is in parentheses and may hold spaces: fields are
    // counted from the last ')'. After it: state, ppid, ... utime is the
    // 14th field of the line, the 12th after the name.
    let rest = &raw[raw.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
    Some(Stat {
        ppid: n(1)? as u32,
        own: ticks(n(11)? + n(12)?),
        reaped: ticks(n(13)? + n(14)?),
    })
}

/// CPU used so far by one process.
pub fn cpu(pid: u32) -> anyhow::Result<Duration> {
    Ok(stat(&pid.to_string())?.own)
}

/// CPU of this process (the harness and the in-process fake Telegram).
pub fn self_cpu() -> Duration {
    stat("self").map(|s| s.own).unwrap_or_default()
}

/// CPU of a process tree one level deep: the parent, the children it has
/// reaped, and the children alive now. For Postgres (the postmaster and its
/// backends) the difference of two readings is exact even when backends come
/// and go in between: a backend's CPU moves from "alive" to "reaped" when it
/// exits.
pub fn tree_cpu(parent: u32) -> anyhow::Result<Duration> {
    let p = stat(&parent.to_string())?;
    let mut total = p.own + p.reaped;
    for (_, s) in children(parent)? {
        total += s.own;
    }
    Ok(total)
}

/// The children of `parent` alive now, with their stat lines.
fn children(parent: u32) -> anyhow::Result<Vec<(u32, Stat)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc")?.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        // Processes end while we look: skip what vanished.
        if let Ok(s) = stat(pid)
            && s.ppid == parent
        {
            out.push((pid.parse()?, s));
        }
    }
    Ok(out)
}

/// Context switches so far of every thread of a process (voluntary: it
/// waited for something, a socket or a lock; involuntary: it was preempted).
/// Each one is a sleep and a wake-up, the cost the profiles show as
/// `finish_task_switch`; unlike CPU time, the count per update barely moves
/// with the noise of a shared machine. Threads that ended are not counted.
pub fn switches(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("status")).ok())
        .map(|raw| {
            raw.lines()
                .filter_map(|l| {
                    l.strip_prefix("voluntary_ctxt_switches:")
                        .or_else(|| l.strip_prefix("nonvoluntary_ctxt_switches:"))
                })
                .filter_map(|v| v.trim().parse::<u64>().ok())
                .sum::<u64>()
        })
        .sum()
}

/// [`switches`] of a process and its children alive now (the postmaster
/// and the backends, which a pool keeps for the whole run).
pub fn tree_switches(parent: u32) -> u64 {
    switches(parent)
        + children(parent)
            .unwrap_or_default()
            .iter()
            .map(|(pid, _)| switches(*pid))
            .sum::<u64>()
}

/// CPU time the whole machine spent busy so far (every core, every process).
pub fn machine_busy() -> Duration {
    let raw = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(cpu) = raw.lines().find(|l| l.starts_with("cpu ")) else {
        return Duration::ZERO;
    };
    // user nice system idle iowait irq softirq steal (guest time is in user).
    let f: Vec<u64> = cpu
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let busy = [0, 1, 2, 5, 6, 7]
        .iter()
        .filter_map(|i| f.get(*i))
        .sum::<u64>();
    ticks(busy)
}

/// `VmRSS` and `VmHWM` (peak) of a process, in KiB.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    pub rss_kib: u64,
    pub hwm_kib: u64,
}

pub fn memory(pid: u32) -> anyhow::Result<Memory> {
    let raw = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("read /proc/{pid}/status"))?;
    let field = |name: &str| {
        raw.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Ok(Memory {
        rss_kib: field("VmRSS:"),
        hwm_kib: field("VmHWM:"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_name() {
        let line = "42 (post gres: x) S 7 42 42 0 -1 4194560 10 0 0 0 250 50 30 20 20 0 1 0 100 0";
        let s = parse_stat(line).unwrap();
        assert_eq!(s.ppid, 7);
        assert_eq!(s.own, ticks(300));
        assert_eq!(s.reaped, ticks(50));
    }

    #[test]
    fn this_process_is_readable() {
        assert!(memory(std::process::id()).unwrap().hwm_kib > 0);
        stat("self").unwrap();
        let before = switches(std::process::id());
        std::thread::sleep(Duration::from_millis(5));
        assert!(switches(std::process::id()) > before, "a sleep is a switch");
    }
}
