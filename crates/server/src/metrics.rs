//! Prometheus counters: requests by route and status, errors by code, token events by outcome,
//! authorisations by decision, issuers' decisioning answers by decision and fallback; and the
//! dead-lettered token events, counted in the store when scraped.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use provisio_tsp::payment_wire::DeclineReason;

/// Counters, rendered in the Prometheus text format.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    errors: Mutex<BTreeMap<&'static str, u64>>,
    events_delivered: AtomicU64,
    events_failed: AtomicU64,
    events_dead_lettered: AtomicU64,
    /// Authorisations decided by this instance: approved, then one per decline reason in the
    /// order of `DeclineReason::ALL`.
    authorizations: [AtomicU64; 1 + DeclineReason::ALL.len()],
    /// Issuers' decisioning answers as they counted, by decision and fallback reason (empty
    /// for the issuer's own answer), and their latency.
    decisions: Mutex<BTreeMap<(&'static str, String), u64>>,
    decision_ms: AtomicU64,
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

    pub(crate) fn event_delivered(&self) {
        self.events_delivered.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn event_failed(&self) {
        self.events_failed.fetch_add(1, Ordering::Relaxed);
    }

    /// One authorisation answered: approved (`None`) or declined for `reason`.
    pub(crate) fn authorization(&self, reason: Option<DeclineReason>) {
        let i = reason.map_or(0, |r| {
            1 + DeclineReason::ALL.iter().position(|x| *x == r).unwrap_or(0)
        });
        if let Some(n) = self.authorizations.get(i) {
            n.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// One issuer's decisioning answer (or its fallback) and how long it took.
    pub(crate) fn issuer_decision(&self, verdict: &provisio_risk::IssuerVerdict) {
        if let Ok(mut m) = self.decisions.lock() {
            let key = (
                verdict.decision.as_str(),
                verdict.fallback.clone().unwrap_or_default(),
            );
            *m.entry(key).or_default() += 1;
        }
        self.decision_ms
            .fetch_add(u64::from(verdict.latency_ms), Ordering::Relaxed);
    }

    pub(crate) fn event_dead_lettered(&self) {
        self.events_dead_lettered.fetch_add(1, Ordering::Relaxed);
    }

    /// The text format; `dead_events` is the store's count of dead-lettered events (`None`
    /// if the store could not be asked).
    pub(crate) fn render(&self, dead_events: Option<u64>) -> String {
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
        out.push_str("# HELP provisio_token_events_total Token event delivery attempts by this instance, by outcome.\n");
        out.push_str("# TYPE provisio_token_events_total counter\n");
        for (outcome, n) in [
            ("delivered", &self.events_delivered),
            ("failed", &self.events_failed),
            ("dead_lettered", &self.events_dead_lettered),
        ] {
            let _ = writeln!(
                out,
                "provisio_token_events_total{{outcome=\"{outcome}\"}} {}",
                n.load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP provisio_authorizations_total Authorisations answered by this instance, by decision and decline reason.\n");
        out.push_str("# TYPE provisio_authorizations_total counter\n");
        let labels = std::iter::once(("APPROVED", ""))
            .chain(DeclineReason::ALL.iter().map(|r| ("DECLINED", r.as_str())));
        for ((decision, reason), n) in labels.zip(&self.authorizations) {
            let _ = writeln!(
                out,
                "provisio_authorizations_total{{decision=\"{decision}\",reason=\"{reason}\"}} {}",
                n.load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP provisio_issuer_decisions_total Issuers' decisioning answers as they counted, by decision and fallback reason (empty: the issuer answered).\n");
        out.push_str("# TYPE provisio_issuer_decisions_total counter\n");
        if let Ok(m) = self.decisions.lock() {
            for ((decision, fallback), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "provisio_issuer_decisions_total{{decision=\"{decision}\",fallback=\"{fallback}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP provisio_issuer_decision_milliseconds_total Time spent waiting for issuers' decisioning.\n");
        out.push_str("# TYPE provisio_issuer_decision_milliseconds_total counter\n");
        let _ = writeln!(
            out,
            "provisio_issuer_decision_milliseconds_total {}",
            self.decision_ms.load(Ordering::Relaxed)
        );
        if let Some(n) = dead_events {
            out.push_str("# HELP provisio_token_events_dead Token events dead-lettered and not re-driven (all instances).\n");
            out.push_str("# TYPE provisio_token_events_dead gauge\n");
            let _ = writeln!(out, "provisio_token_events_dead {n}");
        }
        out
    }
}
