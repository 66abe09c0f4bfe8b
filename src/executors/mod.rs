//! Executors: what workflow steps do in the world. Each implements
//! `workflows::executor::Executor`; a new one is a module here, its name and required inputs
//! in `workflows::definition::EXECUTORS`, and its registration in `executors::all`.

pub mod github;
pub mod http;
pub mod register;

use std::collections::HashMap;
use std::sync::Arc;

use crate::workflows::executor::Executor;

/// The executors by name.
pub type Executors = HashMap<&'static str, Arc<dyn Executor>>;

/// Every executor, built from what they need.
pub fn all(
    register: register::Register,
    http: http::Http,
    github: github::GitHubSteps,
) -> Executors {
    let exempt = crate::scorecards::exemptions::Exempt {
        store: register.store.clone(),
    };
    let mut list: Vec<Arc<dyn Executor>> =
        vec![Arc::new(register), Arc::new(http), Arc::new(exempt)];
    list.extend(github.executors());
    list.into_iter().map(|e| (e.name(), e)).collect()
}
