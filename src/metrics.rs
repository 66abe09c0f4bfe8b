//! Switchboard's own figures for Prometheus (`GET /metrics` on `http.listen`): questions by
//! intent and surface, answer latency, syncs, webhook deliveries, runs by state, nudges and
//! digests sent. One explicit registry per process, no global state.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

type Labels = Vec<(String, String)>;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Answer latency buckets: 0.25 ms to about 4 s.
fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.000_25, 2.0, 15))
}

pub struct Metrics {
    registry: Registry,
    questions: Family<Labels, Counter>,
    unresolved: Family<Labels, Counter>,
    answer_seconds: Family<Labels, Histogram, fn() -> Histogram>,
    sync_seconds: Family<Labels, Gauge<f64, AtomicU64>>,
    entities: Family<Labels, Gauge>,
    webhooks: Family<Labels, Counter>,
    runs: Family<Labels, Gauge>,
    nudges: Counter,
    digests: Counter,
    ready: Gauge,
    degraded: Family<Labels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("switchboard");
        let m = Metrics {
            questions: Family::default(),
            unresolved: Family::default(),
            answer_seconds: Family::new_with_constructor(latency as fn() -> Histogram),
            sync_seconds: Family::default(),
            entities: Family::default(),
            webhooks: Family::default(),
            runs: Family::default(),
            nudges: Counter::default(),
            digests: Counter::default(),
            ready: Gauge::default(),
            degraded: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "questions",
            "Questions and clicks answered, by intent and surface",
            m.questions.clone(),
        );
        registry.register(
            "unresolved_questions",
            "Questions that found nothing (no such entity, no match, not a question it knows)",
            m.unresolved.clone(),
        );
        registry.register(
            "answer_seconds",
            "Time from a question to its answer, by surface",
            m.answer_seconds.clone(),
        );
        registry.register(
            "sync_duration_seconds",
            "How long the last sync of the sources took (all together), by source",
            m.sync_seconds.clone(),
        );
        registry.register(
            "entities",
            "Entities each source delivered at its last sync",
            m.entities.clone(),
        );
        registry.register(
            "webhook_deliveries",
            "Webhook deliveries, by source and outcome",
            m.webhooks.clone(),
        );
        registry.register("runs", "Workflow runs, by state", m.runs.clone());
        registry.register("nudges_sent", "Nudges sent to teams", m.nudges.clone());
        registry.register("digests_sent", "Weekly digests sent", m.digests.clone());
        registry.register(
            "ready",
            "1 once the first catalog is loaded and answers are served",
            m.ready.clone(),
        );
        registry.register(
            "degraded",
            "1 while answers come from memory because a dependency fails, by reason \
             (database: the store does not answer)",
            m.degraded.clone(),
        );
        Metrics { registry, ..m }
    }

    /// One question answered on `surface` in `seconds`.
    pub fn question(&self, intent: &str, surface: &str, resolved: bool, seconds: f64) {
        self.questions
            .get_or_create(&labels(&[("intent", intent), ("surface", surface)]))
            .inc();
        if !resolved {
            self.unresolved
                .get_or_create(&labels(&[("surface", surface)]))
                .inc();
        }
        self.answer_seconds
            .get_or_create(&labels(&[("surface", surface)]))
            .observe(seconds);
    }

    /// A sync of `source` that took `seconds` and delivered `entities`.
    pub fn synced(&self, source: &str, seconds: f64, entities: usize) {
        let l = labels(&[("source", source)]);
        self.sync_seconds.get_or_create(&l).set(seconds);
        self.entities.get_or_create(&l).set(entities as i64);
    }

    /// A webhook delivery from `source` (`github`, `slack`, `discord`) and what became of it.
    pub fn webhook(&self, source: &str, outcome: &str) {
        self.webhooks
            .get_or_create(&labels(&[("source", source), ("outcome", outcome)]))
            .inc();
    }

    /// How many runs are in each state now.
    pub fn runs(&self, counts: &[(String, i64)]) {
        for (state, n) in counts {
            self.runs
                .get_or_create(&labels(&[("state", state)]))
                .set(*n);
        }
    }

    pub fn nudges_sent(&self, n: usize) {
        self.nudges.inc_by(n as u64);
    }

    pub fn digests_sent(&self, n: usize) {
        self.digests.inc_by(n as u64);
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.set(i64::from(ready));
    }

    /// Whether `reason` (`database`) degrades the service now.
    pub fn set_degraded(&self, reason: &str, degraded: bool) {
        self.degraded
            .get_or_create(&vec![("reason".to_string(), reason.to_string())])
            .set(i64::from(degraded));
    }

    /// The figures in Prometheus's text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String");
        out
    }
}
