//! Step inputs are templates (minijinja, strict: an undefined variable is an error) over
//! `params`, `entity`, `actor`, `run` and `steps['NAME'].outputs`. They are checked when the
//! workflow is loaded, as far as can be seen then, and rendered when the step runs. A rendered
//! value is only ever data (a URL, a body field, a file's text): no step runs a shell.

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde_json::Value;

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
            if !TEMPLATE_ROOTS.contains(&root) {
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
