//! Named points where a test run can make the process exit or a call fail, to prove that a
//! crash at that moment loses nothing and repeats nothing.
//!
//! `SWITCHBOARD_FAILPOINTS=before_post=exit,after_post=error` arms points by name: `exit`
//! ends the process there (exit code 86), `error` makes the step fail as an I/O error would.
//! Inert unless the variable is set; tests in one process arm an instance of their own.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Result, bail};

/// The variable that arms failpoints in a process.
pub const ENV: &str = "SWITCHBOARD_FAILPOINTS";

/// What an armed point does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Exit,
    Error,
}

/// A set of armed points; the default arms none.
#[derive(Clone, Debug, Default)]
pub struct Failpoints(Arc<HashMap<String, Action>>);

impl Failpoints {
    /// Reads `name=exit|error` pairs separated by commas.
    pub fn parse(spec: &str) -> Result<Failpoints> {
        let mut points = HashMap::new();
        for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((name, action)) = pair.split_once('=') else {
                bail!("{ENV}: `{pair}` is not name=exit or name=error");
            };
            let action = match action.trim() {
                "exit" => Action::Exit,
                "error" => Action::Error,
                other => bail!("{ENV}: `{other}` is not exit or error (in `{pair}`)"),
            };
            points.insert(name.trim().to_string(), action);
        }
        Ok(Failpoints(Arc::new(points)))
    }

    /// The points armed by `SWITCHBOARD_FAILPOINTS`, or none.
    pub fn from_env() -> Result<Failpoints> {
        match std::env::var(ENV) {
            Ok(spec) => Failpoints::parse(&spec),
            Err(_) => Ok(Failpoints::default()),
        }
    }

    /// Passes through an unarmed point; an armed one exits or fails as it was told.
    pub fn hit(&self, name: &str) -> Result<()> {
        match self.0.get(name) {
            None => Ok(()),
            Some(Action::Exit) => {
                eprintln!("failpoint {name}: exiting");
                std::process::exit(86)
            }
            Some(Action::Error) => bail!("failpoint {name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn armed_points_fail_and_others_pass() {
        let f = Failpoints::parse("before_post=error, after_post=exit").unwrap();
        assert!(f.hit("before_post").is_err());
        assert!(f.hit("somewhere_else").is_ok());
        assert!(Failpoints::default().hit("before_post").is_ok());
        assert!(Failpoints::parse("before_post").is_err());
        assert!(Failpoints::parse("before_post=explode").is_err());
    }
}
