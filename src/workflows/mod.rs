//! Self-service workflows, the pure half: definitions read from `commands/*.yaml` and checked
//! (`definition`), policy rules in CEL (`policy`), step inputs as templates (`template`). No
//! I/O happens here beyond reading the definition files when asked to load them.

pub mod definition;
pub mod drift;
pub mod executor;
pub mod permissions;
pub mod policy;
pub mod replies;
pub mod run;
pub mod template;

pub use definition::{Finding, Workflow};

/// The workflows read from `paths` (files and globs), and the problems of those left out:
/// (file, problem). Two workflows of one name: the second is left out.
pub fn load(paths: &[String]) -> (Vec<Workflow>, Vec<(String, Finding)>) {
    let mut workflows: Vec<Workflow> = Vec::new();
    let mut problems = Vec::new();
    for file in files(paths) {
        let bytes = match read(&file) {
            Ok(b) => b,
            Err(f) => {
                problems.push((file, f));
                continue;
            }
        };
        match definition::parse(&file, &bytes) {
            Ok(wf) => match workflows.iter().find(|w| w.name == wf.name) {
                Some(first) => problems.push((
                    file,
                    Finding {
                        line: 1,
                        message: format!(
                            "a workflow named `{}` is already defined in {}",
                            wf.name, first.file
                        ),
                    },
                )),
                None => workflows.push(wf),
            },
            Err(findings) => problems.extend(findings.into_iter().map(|f| (file.clone(), f))),
        }
    }
    (workflows, problems)
}

/// The workflow files `paths` name: each a file, a directory (its `*.yaml` and `*.yml`, not
/// below: `commands/templates/` holds no workflows) or a glob, sorted.
/// A definition file's bytes, or the problem that says it cannot be read.
pub fn read(file: &str) -> Result<Vec<u8>, Finding> {
    std::fs::read(file).map_err(|e| Finding {
        line: 1,
        message: format!("cannot read: {e}"),
    })
}

pub fn files(paths: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for p in paths {
        let path = std::path::Path::new(p);
        if path.is_dir() {
            let pattern = format!("{}/*.y*ml", p.trim_end_matches('/'));
            out.extend(glob_files(&pattern));
        } else if p.contains(['*', '?', '[']) {
            out.extend(glob_files(p));
        } else {
            out.push(p.clone());
        }
    }
    out.sort();
    out.dedup();
    out
}

fn glob_files(pattern: &str) -> Vec<String> {
    glob::glob(pattern)
        .map(|paths| {
            paths
                .filter_map(Result::ok)
                .filter(|p| p.is_file())
                .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
                .map(|p| p.display().to_string())
                .collect()
        })
        .unwrap_or_default()
}
