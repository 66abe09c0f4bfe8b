//! The local source: catalog files named in `catalog.local.paths` (files, directories, globs),
//! plus whatever their Location entities point at, relative to the Location's own file.
//!
//! Files are read and parsed on all cores, a slice of discovered files at a time (the next
//! slice while the last is handed over), and handed over in the order of discovery, so "the
//! first definition wins" is deterministic.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

use crate::catalog::RawEntity;
use crate::catalog::ingest::{FileOrigin, FileReport, LineIssue, Reader, ingest_file};
use crate::catalog::parse::ParseLimits;
use crate::catalog::placeholders;
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

/// One file as the scan hands it over.
#[derive(Debug)]
pub struct ScannedFile {
    pub location: String,
    pub report: FileReport,
    /// The file could not be read at all (its report holds the reason).
    pub unreadable: bool,
}

/// Scans the given paths and collects everything (for `check`, `ask --catalog` and tests;
/// a sync uses `scan_each` and never holds the whole catalog raw).
pub fn scan(paths: &[String], reader: &Reader, fetched_at: i64) -> ScanOutcome {
    let mut out = ScanOutcome::default();
    let path_problems = scan_each(paths, reader, fetched_at, &mut |f: ScannedFile| {
        if !f.unreadable {
            out.files_read += 1;
        }
        if f.report.broken {
            out.incomplete.push(f.location.clone());
        }
        out.entities.extend(f.report.entities);
        out.problems.extend(f.report.problems);
        out.issues.push((f.location, f.report.issues));
    });
    out.problems.extend(path_problems);
    out
}

/// Scans the given paths, handing each file to `on_file` in discovery order as soon as its
/// wave is read, so a caller can store and drop it before the next. Returns the problems with
/// configured paths themselves (a path that does not exist).
pub fn scan_each(
    paths: &[String],
    reader: &Reader,
    fetched_at: i64,
    on_file: &mut dyn FnMut(ScannedFile),
) -> Vec<Problem> {
    let mut path_problems = Vec::new();
    let mut seen: HashSet<PathBuf> = HashSet::new();
    let mut wave: Vec<PathBuf> = Vec::new();
    for p in paths {
        match expand(Path::new(p)) {
            Ok(files) => wave.extend(files),
            Err(msg) => path_problems.push(Problem {
                location: p.clone(),
                line: 0,
                message: msg,
            }),
        }
    }
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    while !wave.is_empty() {
        wave.retain(|f| seen.insert(clean(f)));
        let mut next = Vec::new();
        // A wave is read in slices, so a directory of thousands of files never sits in memory
        // whole; the next slice is read while the last one is handed over (and stored).
        let slices = slices(&wave, threads);
        std::thread::scope(|s| {
            let mut ahead = slices
                .first()
                .map(|files| s.spawn(|| read_all(files, reader, fetched_at, threads)));
            for (k, files) in slices.iter().enumerate() {
                let results = ahead
                    .take()
                    .expect("a slice read ahead")
                    .join()
                    .expect("catalog reader thread panicked");
                ahead = slices
                    .get(k + 1)
                    .map(|files| s.spawn(|| read_all(files, reader, fetched_at, threads)));
                for (file, result) in files.iter().zip(results) {
                    let location = display(file);
                    let (mut report, unreadable) = match result {
                        Err(e) => (FileReport::unreadable(&location, &e.to_string()), true),
                        Ok(r) => (r, false),
                    };
                    let dir = file.parent().unwrap_or(Path::new("."));
                    for t in std::mem::take(&mut report.targets) {
                        if t.contains("://") {
                            continue;
                        }
                        match expand(&dir.join(&t)) {
                            Ok(found) => next.extend(found),
                            Err(msg) => {
                                let line = report
                                    .entities
                                    .iter()
                                    .find(|e| e.key.starts_with("location:"))
                                    .map_or(1, |e| e.provenance.line);
                                report.note(&location, line, format!("Location target {t}: {msg}"));
                            }
                        }
                    }
                    on_file(ScannedFile {
                        location,
                        report,
                        unreadable,
                    });
                }
            }
        });
        wave = next;
    }
    path_problems
}

/// Cuts a wave of files into slices read at once: 16 files a core at most, and about
/// `SLICE_BYTES` of YAML, so a slice of large files still holds only a few megabytes raw.
fn slices(wave: &[PathBuf], threads: usize) -> Vec<&[PathBuf]> {
    const SLICE_BYTES: u64 = 2 << 20;
    let most = 16 * threads;
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0u64);
    for (i, f) in wave.iter().enumerate() {
        bytes += std::fs::metadata(f).map_or(0, |m| m.len());
        if i + 1 - start >= most || bytes >= SLICE_BYTES {
            out.push(&wave[start..=i]);
            (start, bytes) = (i + 1, 0);
        }
    }
    if start < wave.len() {
        out.push(&wave[start..]);
    }
    out
}

fn read_all(
    files: &[PathBuf],
    reader: &Reader,
    fetched_at: i64,
    threads: usize,
) -> Vec<std::io::Result<FileReport>> {
    let one = |f: &PathBuf| -> std::io::Result<FileReport> {
        let bytes = read_limited(f, reader.limits.max_file_bytes)?;
        let location = display(f);
        let origin = FileOrigin {
            source: "local",
            location: &location,
            location_type: "file",
            commit: None,
            fetched_at,
        };
        let mut report = ingest_file(&bytes, &origin, reader);
        fill_placeholders(&mut report, f, &reader.limits);
        Ok(report)
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

/// Fills the `$text`, `$json` and `$yaml` placeholders of a file's entities from files beside
/// it (or below it); an absolute URL is left as a link.
fn fill_placeholders(report: &mut FileReport, file: &Path, limits: &ParseLimits) {
    let wanted = placeholders::wanted(report, "", false);
    if wanted.is_empty() {
        return;
    }
    let dir = file.parent().unwrap_or(Path::new("."));
    let location = display(file);
    placeholders::fill(report, &location, &wanted, limits, &mut |path| {
        read_beside(dir, path, limits.max_file_bytes)
    });
}

/// A regular file at `path` below `dir`, read within `limit`. The text of the path cannot
/// climb (`placeholders::wanted` refused `..`), but a symbolic link could point anywhere:
/// the file is read only when, with every link followed, it is still below `dir`.
fn read_beside(dir: &Path, path: &str, limit: usize) -> Result<Vec<u8>, String> {
    let cannot = |e: std::io::Error| format!("cannot read {path}: {e}");
    let base = std::fs::canonicalize(dir).map_err(cannot)?;
    let real = std::fs::canonicalize(dir.join(path)).map_err(cannot)?;
    if !real.starts_with(&base) {
        return Err(format!(
            "{path} leaves the entity file's directory (through a symbolic link); only a file beside it is read"
        ));
    }
    if !real.is_file() {
        return Err(format!("{path} is not a regular file"));
    }
    read_limited(&real, limit).map_err(cannot)
}

/// The largest SBOM read: a big application's lists a few thousand packages in a few MB.
const MAX_SBOM_BYTES: usize = 32 << 20;

/// SBOM files beside catalog files: in each of `dirs` (the directories of the catalog files
/// read), the files `globs` name. Each belongs to the entities of that directory's files
/// (its scope). One that cannot be read is a problem noted, never a failed sync.
pub fn sboms(
    dirs: &std::collections::BTreeSet<String>,
    globs: &[String],
    read_at: i64,
) -> (Vec<crate::store::StoredSbom>, Vec<Problem>) {
    let mut names = crate::compliance::sbom::Names::default();
    let (mut found, mut problems) = (Vec::new(), Vec::new());
    let mut seen = HashSet::new();
    for dir in dirs {
        for g in globs {
            let pattern = Path::new(dir).join(g);
            let Ok(paths) = glob::glob(&pattern.to_string_lossy()) else {
                problems.push(Problem {
                    location: g.clone(),
                    line: 0,
                    message: format!("catalog.local.sbom_globs: `{g}` is not a glob"),
                });
                continue;
            };
            for file in paths.filter_map(Result::ok).filter(|p| p.is_file()) {
                let location = display(&file);
                if !seen.insert(location.clone()) {
                    continue;
                }
                // Read as a placeholder's file is: never through a link out of the directory.
                let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
                let read = read_beside(
                    Path::new(dir),
                    name.as_deref().unwrap_or(""),
                    MAX_SBOM_BYTES,
                )
                .and_then(|b| {
                    if b.len() > MAX_SBOM_BYTES {
                        Err(format!("larger than {} MB", MAX_SBOM_BYTES >> 20))
                    } else {
                        crate::compliance::sbom::parse(&b, &mut names)
                    }
                });
                match read {
                    Ok(sbom) => found.push(crate::store::StoredSbom {
                        location,
                        source: "local".into(),
                        scope: crate::compliance::local_scope(dir),
                        sbom,
                        read_at,
                    }),
                    Err(why) => problems.push(Problem {
                        location,
                        line: 1,
                        message: format!(
                            "SBOM not read: {why}; what it listed when last read is kept"
                        ),
                    }),
                }
            }
        }
    }
    (found, problems)
}

/// The directory a local entity's file is in: the scope of the SBOMs beside it.
pub fn scope_of(location: &str) -> String {
    Path::new(location)
        .parent()
        .map(display)
        .unwrap_or_default()
}

/// Reads at most one byte more than the limit, so a huge file costs no more than that.
pub(crate) fn read_limited(path: &Path, limit: usize) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    // Sized from the file's length, so a large file is not read into a buffer that doubles.
    let size = file.metadata().map_or(0, |m| m.len() as usize);
    let mut buf = Vec::with_capacity(size.min(limit) + 1);
    file.take(limit as u64 + 1).read_to_end(&mut buf)?;
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

/// How a path is shown and compared: relative parts (`.`, `..`) resolved.
pub fn display(p: &Path) -> String {
    clean(p).to_string_lossy().into_owned()
}
