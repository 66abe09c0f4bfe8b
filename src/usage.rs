//! Usage and adoption: every question's intent, surface, answer time and whether it found
//! anything, counted in memory as it is answered (no I/O on the answer path) and added to the
//! store's daily figures every minute; the questions that found nothing; and `stats`, which
//! shows them with the workflows' funnel to platform engineers and admins.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::conversation::{Intent, Reply, Section};
use crate::store::{Store, UsageRow};

/// The longest question kept as one that found nothing.
const KEPT_CHARS: usize = 200;

#[derive(Default)]
struct Pending {
    /// (day, surface, intent) → (questions, unresolved, latency in ms).
    daily: HashMap<(String, String, String), (i64, i64, i64)>,
    /// query → (times, last asked).
    zero: HashMap<String, (i64, i64)>,
}

/// Counts kept since the last flush.
#[derive(Default)]
pub struct Usage {
    pending: Mutex<Pending>,
}

/// The intent as figures name it (`sync_status`).
pub fn intent_name(intent: Intent) -> String {
    serde_json::to_value(intent)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{intent:?}").to_lowercase())
}

impl Usage {
    /// One question answered.
    pub fn record(
        &self,
        surface: &str,
        reply: &Reply,
        resolved: bool,
        latency_ms: i64,
        now: DateTime<Utc>,
    ) {
        let mut p = self.pending.lock().expect("usage");
        let day = now.format("%Y-%m-%d").to_string();
        let d = p
            .daily
            .entry((day, surface.to_string(), intent_name(reply.intent)))
            .or_default();
        d.0 += 1;
        d.1 += i64::from(!resolved);
        d.2 += latency_ms;
        if !resolved && !reply.query.trim().is_empty() {
            let q: String = reply
                .query
                .trim()
                .to_lowercase()
                .chars()
                .take(KEPT_CHARS)
                .collect();
            let z = p.zero.entry(q).or_default();
            z.0 += 1;
            z.1 = now.timestamp();
        }
    }

    /// Adds what was counted to the store; kept for the next flush when that fails.
    pub async fn flush(&self, store: &Store) -> Result<()> {
        let taken = std::mem::take(&mut *self.pending.lock().expect("usage"));
        if taken.daily.is_empty() && taken.zero.is_empty() {
            return Ok(());
        }
        let rows: Vec<UsageRow> = taken
            .daily
            .iter()
            .map(|((day, surface, intent), (q, u, l))| UsageRow {
                day: day.clone(),
                surface: surface.clone(),
                intent: intent.clone(),
                questions: *q,
                unresolved: *u,
                latency_ms: *l,
            })
            .collect();
        let zero: Vec<(String, i64, i64)> = taken
            .zero
            .iter()
            .map(|(q, (n, at))| (q.clone(), *n, *at))
            .collect();
        if let Err(e) = store.add_usage(&rows, &zero).await {
            // Put back, added to what came in meanwhile.
            let mut p = self.pending.lock().expect("usage");
            for (k, v) in taken.daily {
                let d = p.daily.entry(k).or_default();
                d.0 += v.0;
                d.1 += v.1;
                d.2 += v.2;
            }
            for (k, v) in taken.zero {
                let z = p.zero.entry(k).or_default();
                z.0 += v.0;
                z.1 = z.1.max(v.1);
            }
            return Err(e);
        }
        Ok(())
    }
}

/// `stats [DAYS]`: the last DAYS days (7 when not said) of questions, what found nothing, and
/// each workflow's funnel.
pub async fn stats(store: &Store, query: &str, days: i64, now: DateTime<Utc>) -> Result<Reply> {
    let since = now - chrono::Duration::days(days);
    let rows = store
        .usage_since(&since.format("%Y-%m-%d").to_string())
        .await?;
    let zero = store.top_zero_results(since.timestamp(), 10).await?;
    let funnel = store.run_funnel(since.timestamp()).await?;
    let total: i64 = rows.iter().map(|r| r.questions).sum();
    let unresolved: i64 = rows.iter().map(|r| r.unresolved).sum();
    let latency: i64 = rows.iter().map(|r| r.latency_ms).sum();
    let mut by_surface: BTreeMap<&str, i64> = BTreeMap::new();
    let mut by_intent: BTreeMap<&str, i64> = BTreeMap::new();
    let mut by_day: BTreeMap<&str, i64> = BTreeMap::new();
    for r in &rows {
        *by_surface.entry(&r.surface).or_default() += r.questions;
        *by_intent.entry(&r.intent).or_default() += r.questions;
        *by_day.entry(&r.day).or_default() += r.questions;
    }
    // workflow → [requested, approved, succeeded, failed, denied, abandoned]
    let mut flows: BTreeMap<&str, [i64; 6]> = BTreeMap::new();
    for (workflow, state, n) in &funnel {
        let f = flows.entry(workflow).or_default();
        f[0] += n;
        match state.as_str() {
            "approved" | "running" => f[1] += n,
            "succeeded" => {
                f[1] += n;
                f[2] += n;
            }
            "failed" => {
                f[1] += n;
                f[3] += n;
            }
            "denied" => f[4] += n,
            "expired" | "cancelled" => f[5] += n,
            _ => {}
        }
    }
    let mut r = Reply::new(Intent::Stats, query);
    r.view.headline = format!(
        "{total} questions in the last {days} days, {} found nothing{}",
        unresolved,
        if total > 0 {
            format!(
                " ({}%); answered in {} ms on average",
                unresolved * 100 / total,
                latency / total
            )
        } else {
            String::new()
        }
    );
    let list = |m: &BTreeMap<&str, i64>| {
        m.iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    r.view.fields.push(("By surface".into(), list(&by_surface)));
    r.view.fields.push(("By day".into(), list(&by_day)));
    let mut intents: Vec<(&&str, &i64)> = by_intent.iter().collect();
    intents.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    r.view.sections.push(Section::new(
        "Asked most",
        intents.iter().map(|(k, v)| format!("{k}: {v}")).collect(),
        10,
    ));
    r.view.sections.push(Section::new(
        "Found nothing (the catalog's gaps)",
        zero.iter().map(|(q, n)| format!("“{q}” × {n}")).collect(),
        10,
    ));
    r.view.sections.push(Section::new(
        "Workflows: requested → approved → succeeded (failed, denied, abandoned)",
        flows
            .iter()
            .map(|(w, f)| {
                format!(
                    "{w}: {} → {} → {} ({} failed, {} denied, {} abandoned)",
                    f[0], f[1], f[2], f[3], f[4], f[5]
                )
            })
            .collect(),
        20,
    ));
    r.result = json!({
        "days": days,
        "questions": total,
        "unresolved": unresolved,
        "average_ms": if total > 0 { latency / total } else { 0 },
        "by_surface": by_surface,
        "by_intent": by_intent,
        "by_day": by_day,
        "zero_results": zero.iter().map(|(q, n)| json!({"query": q, "times": n})).collect::<Vec<_>>(),
        "workflows": flows.iter().map(|(w, f)| json!({
            "workflow": w, "requested": f[0], "approved": f[1], "succeeded": f[2],
            "failed": f[3], "denied": f[4], "abandoned": f[5],
        })).collect::<Vec<_>>(),
    });
    Ok(r)
}
