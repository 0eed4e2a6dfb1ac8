//! What a load against a server process came to, in the keys `bench push` and `bench
//! authorize` both report (docs/benchmarking.md): throughput, latency, refusals, CPU per
//! request against the floor measured in the same run, and how the cores were spent.

use std::collections::BTreeMap;

use serde::Serialize;

use super::load::Load;
use super::percentile;
use super::process::Clocks;

/// The figures every server load reports; `server_cpu_us_per_request` and `cpu_ratio` are
/// null when the server's process is unknown.
#[derive(Debug, Serialize)]
pub(super) struct Figures {
    pub(super) throughput_per_s: f64,
    pub(super) p50_ms: f64,
    pub(super) p90_ms: f64,
    pub(super) p99_ms: f64,
    pub(super) max_ms: f64,
    pub(super) errors: BTreeMap<String, u64>,
    pub(super) server_cpu_us_per_request: Option<f64>,
    pub(super) cores: usize,
    pub(super) cpu_ratio: Option<f64>,
    pub(super) throughput_ratio: f64,
    pub(super) completed: u64,
    pub(super) seconds: f64,
    pub(super) database_cpu_us_per_request: Option<f64>,
    /// This process's CPU time per request: the load generator, on the same cores.
    pub(super) load_generator_cpu_us_per_request: f64,
    /// The machine's idle time during the load, in cores (0 when every core was busy).
    pub(super) idle_cores: f64,
}

impl Figures {
    /// The figures of `load`, with the CPU `spent` meanwhile, against `floor_us`.
    pub(super) fn of(load: Load, spent: Clocks, floor_us: f64) -> Self {
        let Load {
            mut latencies,
            errors,
            seconds,
        } = load;
        latencies.sort_unstable();
        let completed = latencies.len() as u64;
        let handled = completed + errors.values().sum::<u64>();
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let throughput = completed as f64 / seconds;
        let per_request = |seconds: f64| seconds * 1e6 / handled.max(1) as f64;
        let cpu_us = spent.server.map(per_request);
        Self {
            throughput_per_s: throughput,
            p50_ms: percentile(&latencies, 0.50),
            p90_ms: percentile(&latencies, 0.90),
            p99_ms: percentile(&latencies, 0.99),
            max_ms: latencies.last().copied().unwrap_or_default() as f64 / 1000.0,
            errors,
            server_cpu_us_per_request: cpu_us,
            cores,
            cpu_ratio: cpu_us.map(|c| c / floor_us),
            throughput_ratio: throughput / (cores as f64 * 1e6 / floor_us),
            completed,
            seconds,
            database_cpu_us_per_request: spent.database.map(per_request),
            load_generator_cpu_us_per_request: per_request(spent.own),
            idle_cores: spent.idle / seconds,
        }
    }

    /// The readable lines from "completed" to the load generator's.
    pub(super) fn print(&self, completed: &str, refused: &str) {
        println!(
            "  {completed:<14} {} ({:.0}/s)",
            self.completed, self.throughput_per_s
        );
        println!(
            "  latency        p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            self.p50_ms, self.p90_ms, self.p99_ms, self.max_ms
        );
        if self.errors.is_empty() {
            println!("  {refused:<14} none");
        }
        for (code, n) in &self.errors {
            println!("  {refused:<14} {code}: {n}");
        }
        match (self.server_cpu_us_per_request, self.cpu_ratio) {
            (Some(cpu), Some(ratio)) => {
                println!("  server CPU     {cpu:.1} µs per request ({ratio:.2} × the floor)")
            }
            _ => println!("  server CPU     unknown (give --server-pid with --url)"),
        }
        if let Some(db) = self.database_cpu_us_per_request {
            println!("  database CPU   {db:.1} µs per request (its server's processes)");
        }
        println!(
            "  load generator {:.1} µs per request (this process); {:.2} of {} cores idle",
            self.load_generator_cpu_us_per_request, self.idle_cores, self.cores
        );
    }
}
