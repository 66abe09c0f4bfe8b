//! Policy rules: CEL expressions over `params`, `entity`, `actor` and `now`, compiled once when
//! a workflow is loaded and evaluated for each request. Every rule must hold; a rule that does
//! not names its message.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::definition::Parameter;

/// The variables a rule may read.
pub const VARIABLES: &[&str] = &["params", "entity", "actor", "now"];

/// One compiled rule and what a refusal says.
#[derive(Clone)]
pub struct Rule {
    pub source: String,
    pub message: String,
    program: Arc<cel::Program>,
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rule")
            .field("source", &self.source)
            .finish()
    }
}

/// The names macros bind (`links.exists(l, l.type == "slo")` binds `l`): variables of the
/// expression itself, not ones a rule must be given.
fn bound_by_macros(source: &str) -> Vec<String> {
    static BINDS: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r"\.(?:all|exists|exists_one|map|filter)\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*,",
        )
        .unwrap()
    });
    BINDS
        .captures_iter(source)
        .map(|c| c[1].to_string())
        .collect()
}

/// What a rule is evaluated against.
pub struct Facts<'a> {
    pub params: &'a Value,
    pub entity: &'a Value,
    pub actor: &'a Value,
    pub now: DateTime<Utc>,
}

impl Rule {
    /// Compiles `source`; a syntax error, or a variable or parameter that does not exist, is
    /// refused with where it is.
    pub fn compile(source: &str, message: &str, params: &[Parameter]) -> Result<Rule, String> {
        let program = cel::Program::compile(source).map_err(|e| e.to_string())?;
        let refs = program.references();
        let bound = bound_by_macros(source);
        for v in refs.variables() {
            if !VARIABLES.contains(&v) && !bound.iter().any(|b| b == v) {
                return Err(format!(
                    "`{v}` is not known (a rule reads {})",
                    VARIABLES.join(", ")
                ));
            }
        }
        // `params.NAME` of a parameter that does not exist would only fail when evaluated.
        for name in dotted(source, "params") {
            if !params.iter().any(|p| p.name == name) {
                return Err(format!("`params.{name}` is not one of the parameters"));
            }
        }
        Ok(Rule {
            source: source.to_string(),
            message: message.to_string(),
            program: Arc::new(program),
        })
    }

    /// Whether the rule holds for `facts`; an error (a field the entity does not have, a type
    /// mismatch) is reported as such, never taken as a pass.
    pub fn holds(&self, facts: &Facts<'_>) -> Result<bool, String> {
        let mut ctx = cel::Context::default();
        ctx.add_variable_from_value("params", cel_value(facts.params));
        ctx.add_variable_from_value("entity", cel_value(facts.entity));
        ctx.add_variable_from_value("actor", cel_value(facts.actor));
        ctx.add_variable_from_value("now", cel::Value::Timestamp(facts.now.fixed_offset()));
        match self.program.execute(&ctx) {
            Ok(cel::Value::Bool(b)) => Ok(b),
            Ok(other) => Err(format!(
                "the rule `{}` gave {other:?}, not true or false",
                self.source
            )),
            Err(e) => Err(format!(
                "the rule `{}` could not be evaluated: {e}",
                self.source
            )),
        }
    }
}

/// The names read as `root.NAME` in `source`.
fn dotted(source: &str, root: &str) -> Vec<String> {
    let re = regex::Regex::new(&format!(r"\b{root}\.([A-Za-z_][A-Za-z0-9_]*)")).expect("regex");
    re.captures_iter(source).map(|c| c[1].to_string()).collect()
}

/// A JSON value as CEL sees it; whole numbers are signed (CEL refuses `uint + int`).
pub fn cel_value(v: &Value) -> cel::Value {
    match v {
        Value::Null => cel::Value::Null,
        Value::Bool(b) => cel::Value::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => cel::Value::Int(i),
            None => cel::Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => cel::Value::String(Arc::new(s.clone())),
        Value::Array(a) => cel::Value::List(Arc::new(a.iter().map(cel_value).collect())),
        Value::Object(m) => {
            let map: HashMap<String, cel::Value> =
                m.iter().map(|(k, v)| (k.clone(), cel_value(v))).collect();
            cel::Value::from(map)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn size() -> Vec<Parameter> {
        vec![Parameter {
            name: "size".into(),
            kind: super::super::definition::Kind::Integer {
                min: None,
                max: None,
            },
            required: true,
            default: None,
            description: None,
        }]
    }

    #[test]
    fn rules_read_params_entity_actor_and_now() {
        let r = Rule::compile(
            r#"params.size + 1 <= 3 && entity.spec.lifecycle == "production" && actor.ref.startsWith("user:") && now > timestamp("2020-01-01T00:00:00Z")"#,
            "too big",
            &size(),
        )
        .unwrap();
        let entity = json!({"spec": {"lifecycle": "production"}});
        let actor = json!({"ref": "user:default/ada"});
        let holds = |n: i64| {
            r.holds(&Facts {
                params: &json!({"size": n}),
                entity: &entity,
                actor: &actor,
                now: Utc::now(),
            })
        };
        // Bound as a signed number: `+ 1` works.
        assert_eq!(holds(2), Ok(true));
        assert_eq!(holds(3), Ok(false));
    }

    #[test]
    fn a_macro_may_bind_its_own_variable_and_the_rule_reads_it() {
        let r = Rule::compile(
            r#"entity.links.exists(l, l.type == "slo") && !entity.links.all(x, x.type == "slo")"#,
            "m",
            &[],
        )
        .unwrap();
        let entity = json!({"links": [{"type": "slo"}, {"type": "docs"}]});
        let facts = Facts {
            params: &json!({}),
            entity: &entity,
            actor: &json!({}),
            now: Utc::now(),
        };
        assert_eq!(r.holds(&facts), Ok(true));
        // A name no macro binds is still refused.
        assert!(Rule::compile("entity.links.exists(l, m.type == 1)", "m", &[]).is_err());
    }

    #[test]
    fn unknown_names_are_refused_when_compiled_and_missing_fields_are_errors_not_passes() {
        assert!(Rule::compile("param.size > 1", "m", &size()).is_err());
        assert!(Rule::compile("params.sise > 1", "m", &size()).is_err());
        assert!(Rule::compile("params.size >", "m", &size()).is_err());
        let r = Rule::compile("entity.spec.tier == 1", "m", &size()).unwrap();
        let none = json!({});
        let facts = Facts {
            params: &json!({"size": 1}),
            entity: &json!({"spec": {}}),
            actor: &none,
            now: Utc::now(),
        };
        assert!(r.holds(&facts).is_err());
    }
}
