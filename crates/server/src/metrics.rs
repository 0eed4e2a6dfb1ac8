//! Prometheus counters: requests by route and status, errors by code.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Counters, rendered in the Prometheus text format.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    errors: Mutex<BTreeMap<&'static str, u64>>,
}

impl Metrics {
    pub(crate) fn record(&self, route: &str, status: u16, error_code: Option<&'static str>) {
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((route.to_owned(), status)).or_default() += 1;
        }
        if let (Some(code), Ok(mut m)) = (error_code, self.errors.lock()) {
            *m.entry(code).or_default() += 1;
        }
    }

    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP provisio_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE provisio_http_requests_total counter\n");
        if let Ok(m) = self.requests.lock() {
            for ((route, status), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "provisio_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP provisio_errors_total Error answers by stable code.\n");
        out.push_str("# TYPE provisio_errors_total counter\n");
        if let Ok(m) = self.errors.lock() {
            for (code, n) in m.iter() {
                let _ = writeln!(out, "provisio_errors_total{{code=\"{code}\"}} {n}");
            }
        }
        out
    }
}
