//! The local source: catalog files named in `catalog.local.paths` (files, directories, globs),
//! plus whatever their Location entities point at, relative to the Location's own file.
//!
//! Files are read and parsed on all cores, a wave of discovered files at a time; the order of
//! the result is the order of discovery, so "the first definition wins" is deterministic.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

use crate::catalog::RawEntity;
use crate::catalog::ingest::{FileOrigin, FileReport, LineIssue, ingest_file};
use crate::catalog::parse::ParseLimits;
use crate::catalog::snapshot::Problem;

/// Everything one scan of local files produced.
#[derive(Debug, Default)]
pub struct ScanOutcome {
    pub entities: Vec<RawEntity>,
    pub problems: Vec<Problem>,
    /// Per file, every issue with its line (for `check`).
    pub issues: Vec<(String, Vec<LineIssue>)>,
    pub files_read: usize,
    /// Files that could not be read or parsed in full: what an earlier sync saw of them is kept.
    pub incomplete: Vec<String>,
}

/// Scans the given paths. `progress` is called after each wave with (files read, entities).
pub fn scan(
    paths: &[String],
    limits: &ParseLimits,
    fetched_at: i64,
    progress: &mut dyn FnMut(usize, usize),
) -> ScanOutcome {
    let mut out = ScanOutcome::default();
    let mut seen: HashSet<PathBuf> = HashSet::new();
    let mut wave: Vec<PathBuf> = Vec::new();
    for p in paths {
        match expand(Path::new(p)) {
            Ok(files) => wave.extend(files),
            Err(msg) => out.problems.push(Problem {
                location: p.clone(),
                line: 0,
                message: msg,
            }),
        }
    }
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    while !wave.is_empty() {
        wave.retain(|f| seen.insert(clean(f)));
        let results = read_all(&wave, limits, fetched_at, threads);
        let mut next = Vec::new();
        for (file, result) in wave.iter().zip(results) {
            let location = display(file);
            match result {
                Err(e) => {
                    out.incomplete.push(location.clone());
                    out.problems.push(Problem {
                        location: location.clone(),
                        line: 0,
                        message: format!("cannot read file: {e}"),
                    });
                    out.issues.push((
                        location,
                        vec![LineIssue {
                            line: 0,
                            message: format!("cannot read file: {e}"),
                            fatal: true,
                        }],
                    ));
                }
                Ok(report) => {
                    out.files_read += 1;
                    if report.broken {
                        out.incomplete.push(location.clone());
                    }
                    let dir = file.parent().unwrap_or(Path::new("."));
                    for t in &report.targets {
                        if t.contains("://") {
                            continue;
                        }
                        match expand(&dir.join(t)) {
                            Ok(files) => next.extend(files),
                            Err(msg) => {
                                let line = report
                                    .entities
                                    .iter()
                                    .find(|e| e.key.starts_with("location:"))
                                    .map_or(1, |e| e.provenance.line);
                                out.problems.push(Problem {
                                    location: location.clone(),
                                    line,
                                    message: format!("Location target {t}: {msg}"),
                                });
                            }
                        }
                    }
                    out.entities.extend(report.entities);
                    out.problems.extend(report.problems);
                    out.issues.push((location, report.issues));
                }
            }
        }
        progress(out.files_read, out.entities.len());
        wave = next;
    }
    out
}

fn read_all(
    files: &[PathBuf],
    limits: &ParseLimits,
    fetched_at: i64,
    threads: usize,
) -> Vec<std::io::Result<FileReport>> {
    let one = |f: &PathBuf| -> std::io::Result<FileReport> {
        let bytes = read_limited(f, limits.max_file_bytes)?;
        let location = display(f);
        let origin = FileOrigin {
            source: "local",
            location: &location,
            commit: None,
            fetched_at,
        };
        Ok(ingest_file(&bytes, &origin, limits))
    };
    if files.len() < 2 || threads < 2 {
        return files.iter().map(one).collect();
    }
    let chunk = files.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|c| s.spawn(move || c.iter().map(one).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("catalog reader thread panicked"))
            .collect()
    })
}

/// Reads at most one byte more than the limit, so a huge file costs no more than that.
fn read_limited(path: &Path, limit: usize) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut buf = Vec::new();
    std::fs::File::open(path)?
        .take(limit as u64 + 1)
        .read_to_end(&mut buf)?;
    Ok(buf)
}

/// Files named by a path: the file itself, every .yaml/.yml below a directory, or a glob's matches.
pub fn expand(path: &Path) -> Result<Vec<PathBuf>, String> {
    let s = path.to_string_lossy();
    if s.contains(['*', '?', '[']) {
        let matches: Vec<PathBuf> = glob::glob(&s)
            .map_err(|e| format!("bad glob pattern: {e}"))?
            .filter_map(Result::ok)
            .filter(|p| p.is_file())
            .collect();
        if matches.is_empty() {
            return Err("glob matches no file".into());
        }
        return Ok(matches);
    }
    if path.is_dir() {
        let mut files = Vec::new();
        walk_dir(path, &mut files).map_err(|e| format!("cannot list directory: {e}"))?;
        files.sort();
        return Ok(files);
    }
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    Err("no such file or directory".into())
}

fn walk_dir(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let p = entry.path();
        let ft = entry.file_type()?;
        if ft.is_dir() {
            walk_dir(&p, out)?;
        } else if ft.is_file()
            && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
        {
            out.push(p);
        }
    }
    Ok(())
}

/// Lexically normalised path (`a/./b/../c` → `a/c`), used to visit each file once.
fn clean(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

fn display(p: &Path) -> String {
    clean(p).to_string_lossy().into_owned()
}
