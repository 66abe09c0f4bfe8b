//! The synthetic catalogs Backstage was measured on (`benches/gen_catalog.py N DIR --seed 42`,
//! `--nest 10` from 100,000), written once and reused.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The sizes asked for on the command line (`10000,100000`), else `default`.
pub fn sizes(default: &str) -> Vec<usize> {
    std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_else(|| default.into())
        .split(',')
        .map(|s| s.trim().parse().expect("sizes are numbers"))
        .collect()
}

/// Writes the catalog of `n` components into `dir`, unless it is there already.
pub fn generate(n: usize, dir: &Path) {
    if dir.join("expected.json").exists() {
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/gen_catalog.py");
    let mut cmd = Command::new("python3");
    cmd.arg(script)
        .arg(n.to_string())
        .arg(dir)
        .args(["--seed", "42"]);
    if n >= 100_000 {
        cmd.args(["--nest", "10"]);
    }
    let status = cmd.status().expect("python3 runs the catalog generator");
    assert!(status.success());
}

/// Where the catalogs are written, once, and reused by every benchmark.
pub fn work_dir() -> PathBuf {
    std::env::temp_dir().join("switchboard-bench")
}

/// The catalogs of the sizes asked for (else `default`), each written if it is not there yet:
/// (size, its directory).
pub fn catalogs(default: &str) -> Vec<(usize, PathBuf)> {
    sizes(default)
        .into_iter()
        .map(|n| {
            let dir = work_dir().join(format!("catalog-{n}"));
            generate(n, &dir);
            (n, dir)
        })
        .collect()
}
