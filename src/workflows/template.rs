//! Step inputs are templates (minijinja, strict: an undefined variable is an error) over
//! `params`, `entity`, `actor`, `run` and `steps['NAME'].outputs`. They are checked when the
//! workflow is loaded, as far as can be seen then, and rendered when the step runs. A rendered
//! value is only ever data (a URL, a body field, a file's text): no step runs a shell.
//!
//! A step may take its files from a golden-path template (`files_from: NAME`): the directory
//! `templates/NAME/` beside the workflow file, whose `template.yaml` names the template, its
//! version and changelog and the files it manages. Those files are templates too, read when
//! the workflow is loaded (and checked with it), and rendered with `template` (`name`,
//! `version`) besides the usual roots.

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde_json::Value;
use sha2::Digest as _;

use super::definition::{Parameter, TEMPLATE_ROOTS};

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env
}

/// Every problem the templates in `with` show before running: syntax, unknown variables,
/// unknown parameters, steps that do not run before this one.
pub fn check_all(with: &Value, params: &[Parameter], earlier_steps: &[&str]) -> Vec<String> {
    let env = environment();
    let mut out = Vec::new();
    let with_template = with.get("template").is_some_and(Value::is_object);
    each_string(with, &mut |s| {
        if !s.contains("{{") && !s.contains("{%") {
            return;
        }
        let t = match env.template_from_str(s) {
            Ok(t) => t,
            Err(e) => {
                out.push(format!(
                    "template `{s}` does not compile: {}",
                    e.detail().unwrap_or("syntax error")
                ));
                return;
            }
        };
        let mut vars: Vec<String> = t.undeclared_variables(true).into_iter().collect();
        vars.sort();
        for v in vars {
            let (root, rest) = v.split_once('.').unwrap_or((&v, ""));
            if root == "template" && !with_template {
                out.push(format!(
                    "`{v}` in `{s}`: this step takes no files from a template (`files_from: NAME`)"
                ));
            } else if !TEMPLATE_ROOTS.contains(&root) {
                out.push(format!(
                    "`{v}` in `{s}` is not known (templates read {})",
                    TEMPLATE_ROOTS.join(", ")
                ));
            } else if root == "params" && !rest.is_empty() {
                let name = rest.split('.').next().unwrap_or(rest);
                if !params.iter().any(|p| p.name == name) {
                    out.push(format!(
                        "`params.{name}` in `{s}` is not one of the parameters"
                    ));
                }
            }
        }
        for step in steps_named(s) {
            if !earlier_steps.contains(&step.as_str()) {
                out.push(format!(
                    "`steps['{step}']` in `{s}` is not a step that runs before this one"
                ));
            }
        }
    });
    out
}

/// What `templates/NAME/template.yaml` says.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateSpec {
    name: String,
    #[serde(default)]
    title: Option<String>,
    version: String,
    #[serde(default)]
    changelog: Vec<String>,
    files: Vec<TemplateFile>,
}

/// A file the template manages: its path (the same in the template and the repository), or a
/// path in the repository (itself a template) and the file it is made from.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum TemplateFile {
    Same(String),
    Made { path: String, from: String },
}

/// Reads the golden-path template `name` beside the workflow file `workflow_file`: what it is
/// (`{name, title, version, changelog, files}`) and its files (`[{path, content}]`, both
/// templates).
pub fn load_tree(workflow_file: &str, name: &str) -> Result<(Value, Value), String> {
    if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        return Err(format!(
            "`files_from: {name}` is not a template's directory name"
        ));
    }
    let dir = std::path::Path::new(workflow_file)
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .join("templates")
        .join(name);
    let spec_path = dir.join("template.yaml");
    let text = std::fs::read_to_string(&spec_path).map_err(|e| {
        format!(
            "template `{name}`: cannot read {}: {e}",
            spec_path.display()
        )
    })?;
    let spec: TemplateSpec = serde_saphyr::from_str(&text)
        .map_err(|e| format!("template `{name}`: {}: {e}", spec_path.display()))?;
    let mut files = Vec::new();
    let mut paths = Vec::new();
    for f in &spec.files {
        let (path, from) = match f {
            TemplateFile::Same(p) => (p.as_str(), p.as_str()),
            TemplateFile::Made { path, from } => (path.as_str(), from.as_str()),
        };
        if from.split('/').any(|s| s == ".." || s.is_empty()) || from.starts_with('/') {
            return Err(format!(
                "template `{name}`: `{from}` is not inside the template"
            ));
        }
        let content = std::fs::read_to_string(dir.join(from))
            .map_err(|e| format!("template `{name}`: cannot read {from}: {e}"))?;
        files.push(serde_json::json!({"path": path, "content": content}));
        paths.push(path.to_string());
    }
    // What the files are, to tell a template edited after a run was requested.
    let mut h = sha2::Sha256::new();
    for f in &files {
        for part in [&f["path"], &f["content"]] {
            let text = part.as_str().unwrap_or_default();
            h.update((text.len() as u64).to_le_bytes());
            h.update(text.as_bytes());
        }
    }
    let about = serde_json::json!({
        "name": spec.name, "title": spec.title, "version": spec.version,
        "changelog": spec.changelog, "files": paths,
        "digest": hex::encode(&h.finalize()[..8]),
    });
    Ok((about, Value::Array(files)))
}

/// Every golden-path template beside the workflow file `workflow_file` (each directory of
/// `templates/` with a `template.yaml`), as `[{template, files}]` (`load_tree`'s two halves),
/// by name.
pub fn load_all(workflow_file: &str) -> Result<Value, String> {
    let dir = std::path::Path::new(workflow_file)
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .join("templates");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .filter(|e| e.path().join("template.yaml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let (about, files) = load_tree(workflow_file, &name)?;
        out.push(serde_json::json!({"template": about, "files": files}));
    }
    Ok(Value::Array(out))
}

/// Renders a step's `with` against `context`, with its golden-path template (`template`) as a
/// root when it has one. A step that re-renders templates itself (`templates`, from
/// `templates_from: all`) gets them as written, and the run's `context` to render them with.
pub fn render_step(with: &Value, context: &Value) -> Result<Value, String> {
    if let Some(templates @ Value::Array(_)) = with.get("templates") {
        let mut rest = with.clone();
        if let Some(m) = rest.as_object_mut() {
            m.remove("templates");
        }
        let mut out = render_all(&rest, context)?;
        out["templates"] = templates.clone();
        out["context"] = context.clone();
        return Ok(out);
    }
    match with.get("template") {
        Some(t @ Value::Object(_)) => {
            let mut ctx = context.clone();
            ctx["template"] = t.clone();
            render_all(with, &ctx)
        }
        _ => render_all(with, context),
    }
}

/// Renders every string of `with` against `context` (a JSON object of the template roots).
pub fn render_all(with: &Value, context: &Value) -> Result<Value, String> {
    let env = environment();
    let ctx = minijinja::Value::from(minijinja::value::Serde(context));
    render_value(&env, with, &ctx)
}

fn render_value(env: &Environment<'_>, v: &Value, ctx: &minijinja::Value) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) if s.contains("{{") || s.contains("{%") => Value::String(
            env.render_str(s, ctx.clone())
                .map_err(|e| format!("rendering `{s}`: {}", e.detail().unwrap_or("failed")))?,
        ),
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| render_value(env, x, ctx))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| Ok((k.clone(), render_value(env, x, ctx)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

fn each_string(v: &Value, f: &mut impl FnMut(&str)) {
    match v {
        Value::String(s) => f(s),
        Value::Array(a) => a.iter().for_each(|x| each_string(x, f)),
        Value::Object(m) => m.values().for_each(|x| each_string(x, f)),
        _ => {}
    }
}

/// The step names read as `steps['NAME']` or `steps.NAME`.
fn steps_named(s: &str) -> Vec<String> {
    let re = regex::Regex::new(r#"steps(?:\[\s*['"]([^'"]+)['"]\s*\]|\.([A-Za-z0-9_-]+))"#)
        .expect("regex");
    re.captures_iter(s)
        .filter_map(|c| c.get(1).or(c.get(2)).map(|m| m.as_str().to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn templates_render_strictly_and_leave_other_values_alone() {
        let with = json!({"url": "https://x/{{ params.name }}", "n": 3, "body": {"by": "{{ actor.ref }}"}});
        let ctx = json!({"params": {"name": "db"}, "actor": {"ref": "user:default/ada"}});
        assert_eq!(
            render_all(&with, &ctx).unwrap(),
            json!({"url": "https://x/db", "n": 3, "body": {"by": "user:default/ada"}})
        );
        let missing = render_all(&json!("{{ params.nope }}"), &ctx).unwrap_err();
        assert!(missing.contains("params.nope"), "{missing}");
    }

    #[test]
    fn checks_name_unknown_roots_parameters_and_later_steps() {
        let found = check_all(
            &json!({"a": "{{ secrets.x }}", "b": "{{ steps['later'].outputs.x }}", "c": "{{ oops"}),
            &[],
            &["earlier"],
        );
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(
            check_all(
                &json!("{{ steps['earlier'].outputs.body.x }} {{ run.id }}"),
                &[],
                &["earlier"]
            )
            .is_empty()
        );
    }
}
