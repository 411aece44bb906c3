//! Latency summaries and what /proc says about a process.

use serde::Serialize;

/// Percentiles of a set of durations, in microseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Latency {
    pub(crate) count: usize,
    pub(crate) p50_us: u64,
    pub(crate) p90_us: u64,
    pub(crate) p99_us: u64,
    pub(crate) max_us: u64,
    pub(crate) mean_us: u64,
}

impl Latency {
    pub(crate) fn of(mut samples_us: Vec<u64>) -> Latency {
        if samples_us.is_empty() {
            return Latency::default();
        }
        samples_us.sort_unstable();
        let at = |q: f64| samples_us[((samples_us.len() - 1) as f64 * q).round() as usize];
        Latency {
            count: samples_us.len(),
            p50_us: at(0.50),
            p90_us: at(0.90),
            p99_us: at(0.99),
            max_us: *samples_us.last().unwrap_or(&0),
            mean_us: samples_us.iter().sum::<u64>() / samples_us.len() as u64,
        }
    }
}

/// A process's resident memory and CPU time, read from /proc.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct ProcSample {
    pub(crate) rss_bytes: u64,
    /// user + system CPU time, in clock ticks.
    pub(crate) cpu_ticks: u64,
}

/// Clock ticks per second on Linux.
const TICKS_PER_SECOND: f64 = 100.0;
const PAGE_SIZE: u64 = 4096;

impl ProcSample {
    /// `None` where /proc cannot be read (another OS, or the process is gone).
    pub(crate) fn of(pid: u32) -> Option<ProcSample> {
        let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
        let resident: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the parenthesised command name; utime and stime are 14 and 15.
        let rest = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let utime: u64 = fields.get(11)?.parse().ok()?;
        let stime: u64 = fields.get(12)?.parse().ok()?;
        Some(ProcSample {
            rss_bytes: resident * PAGE_SIZE,
            cpu_ticks: utime + stime,
        })
    }

    pub(crate) fn own() -> Option<ProcSample> {
        Self::of(std::process::id())
    }
}

/// The processes a server runs in, measured together: some by their pid
/// alone, some with every process below them (a server of an API process,
/// a gateway process and a database, or one that starts workers). The
/// trees are read anew at each sample.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub(crate) struct Processes {
    pub(crate) pids: Vec<u32>,
    pub(crate) trees: Vec<u32>,
}

impl Processes {
    pub(crate) fn is_empty(&self) -> bool {
        self.pids.is_empty() && self.trees.is_empty()
    }

    /// Every process measured now, each once.
    pub(crate) fn members(&self) -> Vec<u32> {
        let mut all = self.pids.clone();
        for pid in with_descendants(&self.trees) {
            if !all.contains(&pid) {
                all.push(pid);
            }
        }
        all
    }

    /// The pids given that cannot be read (gone, or not on this machine).
    pub(crate) fn unreadable(&self) -> Vec<u32> {
        let given = self.pids.iter().chain(&self.trees);
        given
            .copied()
            .filter(|&p| ProcSample::of(p).is_none())
            .collect()
    }

    /// Memory and CPU summed over [`members`](Self::members); `None` when
    /// there are none or a pid given cannot be read. A descendant that
    /// ends between listing and reading is left out.
    pub(crate) fn sample(&self) -> Option<ProcSample> {
        if self.is_empty() || !self.unreadable().is_empty() {
            return None;
        }
        let mut total = ProcSample::default();
        for one in self.members().into_iter().filter_map(ProcSample::of) {
            total.rss_bytes += one.rss_bytes;
            total.cpu_ticks += one.cpu_ticks;
        }
        Some(total)
    }
}

/// `roots` and every process below them, each once.
fn with_descendants(roots: &[u32]) -> Vec<u32> {
    if roots.is_empty() {
        return Vec::new();
    }
    let mut children: std::collections::HashMap<u32, Vec<u32>> = Default::default();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // After the parenthesised command name: state, then the parent's pid.
        let parent = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1));
        if let Some(parent) = parent.and_then(|p| p.parse::<u32>().ok()) {
            children.entry(parent).or_default().push(pid);
        }
    }
    let mut all: Vec<u32> = Vec::new();
    let mut next: Vec<u32> = roots.to_vec();
    while let Some(pid) = next.pop() {
        if all.contains(&pid) {
            continue;
        }
        all.push(pid);
        next.extend(children.get(&pid).into_iter().flatten());
    }
    all
}

/// CPU use between two samples, in percent of one core.
pub(crate) fn cpu_percent(before: ProcSample, after: ProcSample, seconds: f64) -> f64 {
    let ticks = after.cpu_ticks.saturating_sub(before.cpu_ticks) as f64;
    if seconds <= 0.0 {
        0.0
    } else {
        100.0 * ticks / TICKS_PER_SECOND / seconds
    }
}

/// What a phase cost the server and the generator.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Cost {
    pub(crate) seconds: f64,
    pub(crate) server_cpu_percent: Option<f64>,
    pub(crate) server_rss_bytes: Option<u64>,
    pub(crate) bench_cpu_percent: Option<f64>,
}

/// Measures the server and this process around a phase.
pub(crate) struct Meter {
    server: Processes,
    started: std::time::Instant,
    server_before: Option<ProcSample>,
    own_before: Option<ProcSample>,
}

impl Meter {
    pub(crate) fn start(server: &Processes) -> Meter {
        Meter {
            server: server.clone(),
            started: std::time::Instant::now(),
            server_before: server.sample(),
            own_before: ProcSample::own(),
        }
    }

    pub(crate) fn stop(self) -> Cost {
        let seconds = self.started.elapsed().as_secs_f64();
        let server_after = self.server.sample();
        let own_after = ProcSample::own();
        Cost {
            seconds,
            server_cpu_percent: self
                .server_before
                .zip(server_after)
                .map(|(b, a)| cpu_percent(b, a, seconds)),
            server_rss_bytes: server_after.map(|s| s.rss_bytes),
            bench_cpu_percent: self
                .own_before
                .zip(own_after)
                .map(|(b, a)| cpu_percent(b, a, seconds)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let l = Latency::of((1..=100).collect());
        assert_eq!((l.p50_us, l.p90_us, l.p99_us, l.max_us), (51, 90, 99, 100));
        assert_eq!(Latency::of(vec![]).count, 0);
    }

    #[test]
    fn a_process_tree_is_measured_whole() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("start sleep");
        let me = std::process::id();
        let tree = Processes {
            trees: vec![me],
            ..Processes::default()
        };
        let alone = Processes {
            pids: vec![me],
            ..Processes::default()
        };
        let (members, lone) = (tree.members(), alone.members());
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(members[0], me);
        assert!(
            members.contains(&child.id()),
            "the child is counted: {members:?}"
        );
        assert_eq!(lone, [me], "a pid alone is measured alone");
    }

    #[test]
    fn several_processes_are_summed_and_a_missing_one_is_named() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("start sleep");
        let me = std::process::id();
        let both = Processes {
            pids: vec![me, child.id()],
            ..Processes::default()
        };
        let sum = both.sample().expect("both readable");
        let child_alone = ProcSample::of(child.id()).expect("the child is readable");
        let _ = child.kill();
        let _ = child.wait();
        // The sum holds this process's megabytes besides the sleep's.
        assert!(sum.rss_bytes > child_alone.rss_bytes);
        assert_eq!(both.unreadable(), [child.id()]);
        assert!(
            both.sample().is_none(),
            "a measurement without a server process is none"
        );
    }

    #[test]
    fn reads_its_own_process() {
        let me = ProcSample::own().expect("/proc is readable here");
        assert!(me.rss_bytes > 0);
    }
}
