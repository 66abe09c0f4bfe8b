//! `catalog.register`: adds or replaces entities in the provisional source `registered`,
//! validated like any catalog file and shown as "registered by run N". Sources are read, never
//! written: a registration only stands until a real source defines the same entity, and then
//! it is dropped in its favour (`sync`). Registering again for the same run replaces what that
//! run registered, so a step done twice registers once.

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::catalog::ingest::{FileOrigin, Reader, ingest_file};
use crate::outbox::Sending;
use crate::store::Store;
use crate::workflows::executor::{Call, Executor};

/// The provisional source registrations are kept in.
pub const SOURCE: &str = "registered";

pub struct Register {
    pub store: Store,
    pub reader: Reader,
}

impl Executor for Register {
    fn name(&self) -> &'static str {
        "catalog.register"
    }

    fn changes_catalog(&self) -> bool {
        true
    }

    fn run<'a>(&'a self, call: &'a Call<'a>) -> Sending<'a, Value> {
        Box::pin(async move {
            let Some(file) = call.with.get("file").and_then(Value::as_str) else {
                bail!("catalog.register needs `file`: the catalog file's text");
            };
            let location = format!("registered by run {}", call.run_id);
            let origin = FileOrigin {
                source: SOURCE,
                location: &location,
                location_type: "file",
                commit: None,
                fetched_at: chrono::Utc::now().timestamp(),
            };
            let report = ingest_file(file.as_bytes(), &origin, &self.reader);
            if report.broken
                || report.entities.iter().any(|e| !e.reasons.is_empty())
                || report.entities.is_empty()
            {
                let why: Vec<String> = report
                    .issues
                    .iter()
                    .map(|i| format!("line {}: {}", i.line, i.message))
                    .chain(
                        report
                            .entities
                            .iter()
                            .flat_map(|e| e.reasons.iter().cloned()),
                    )
                    .collect();
                bail!(
                    "the file to register is not a valid catalog file: {}",
                    if why.is_empty() {
                        "it holds no entity".to_string()
                    } else {
                        why.join("; ")
                    }
                );
            }
            let refs: Vec<String> = report.entities.iter().map(|e| e.key.clone()).collect();
            let scope = format!("run-{}", call.run_id);
            let mut r = self.store.begin_replace_in(SOURCE, &scope, None).await?;
            r.file(&location, report.entities, report.problems, true)
                .await?;
            r.finish().await.context("storing the registration")?;
            Ok(json!({"registered": refs, "location": location}))
        })
    }
}
