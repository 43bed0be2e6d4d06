//! Writing and reading `build --out` trees.
//!
//! A tree `DIR/<topology>/` holds the emitted files plus `.pgtopo/manifest` (the files pgtopo wrote
//! there, one path per line) and `.pgtopo/topology.kdl` (the topology it was built from, so `diff`
//! can compare resolved models, not only text). pgtopo overwrites and prunes only files listed in
//! the previous manifest; any other file in the tree is carried over untouched, and a new output
//! that would overwrite such a file is refused.
//!
//! Writes are atomic: the new tree is assembled in a temporary folder beside the old one and swapped
//! in by two renames, so a failure at any point leaves the previous tree intact. A build that was
//! killed leaves only its temporary folder, which the next build removes.
//! `PGTOPO_FAULT_AFTER_FILES=N` (with `PGTOPO_FAULT_HANG=1` to hang instead) injects a failure after
//! N files; it exists for the atomicity tests.

use std::collections::{BTreeSet, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use pgtopo::bundle::Bundle;

pub const META_DIR: &str = ".pgtopo";
const MANIFEST: &str = ".pgtopo/manifest";
const SOURCE: &str = ".pgtopo/topology.kdl";
const MANIFEST_HEADER: &str =
    "# Files written by `pgtopo build --out`; pgtopo overwrites and prunes only these.";

/// Every regular file below `root`, as `/`-separated relative paths (the meta folder excluded).
fn walk(root: &Path) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for entry in std::fs::read_dir(root.join(&rel))? {
            let entry = entry?;
            let rel_child = rel.join(entry.file_name());
            let kind = entry.file_type()?;
            if kind.is_dir() {
                if rel_child != Path::new(META_DIR) {
                    stack.push(rel_child);
                }
            } else {
                out.push(rel_child.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    Ok(out)
}

fn read_manifest(tree: &Path) -> Option<BTreeSet<String>> {
    let text = std::fs::read_to_string(tree.join(MANIFEST)).ok()?;
    Some(
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(str::to_owned)
            .collect(),
    )
}

/// A tree as `diff` sees it: the files pgtopo owns there and the topology it was built from.
pub struct OldTree {
    pub files: Bundle,
    pub source: Option<String>,
}

/// Reads the files of `tree` whose paths `wanted` accepts; a missing tree reads as empty
/// (everything will show as new).
pub fn read(tree: &Path, wanted: &dyn Fn(&str) -> bool) -> io::Result<OldTree> {
    let mut files = Bundle::new();
    if !tree.exists() {
        return Ok(OldTree {
            files,
            source: None,
        });
    }
    let owned = match read_manifest(tree) {
        Some(m) => m.into_iter().collect::<Vec<_>>(),
        None => walk(tree)?,
    };
    for rel in owned.into_iter().filter(|r| wanted(r)) {
        if let Ok(text) = std::fs::read_to_string(tree.join(&rel)) {
            files.add(rel, text);
        }
    }
    let source = std::fs::read_to_string(tree.join(SOURCE)).ok();
    Ok(OldTree { files, source })
}

/// Writes the files `fill` hands to [`Staging::put`] (and the topology `source`) to `dir/name/`,
/// atomically and owning only its files. Files are written as they are produced, so the tree never
/// has to be in memory at once, and `put` may be called from several threads. Returns the number
/// of files written.
/// Whatever `fill` returns as an error aborts the build and leaves the previous tree untouched.
pub fn write_with(
    dir: &Path,
    name: &str,
    source: &str,
    fill: impl FnOnce(&Staging) -> io::Result<()>,
) -> io::Result<usize> {
    std::fs::create_dir_all(dir)?;
    let pid = std::process::id();
    let target = dir.join(name);
    remove_stale_temporaries(dir, name);
    let tmp = dir.join(format!(".{name}.pgtopo-new-{pid}"));
    let old = dir.join(format!(".{name}.pgtopo-old-{pid}"));
    let result = assemble(&target, &tmp, source, fill).and_then(|count| {
        if target.exists() {
            std::fs::rename(&target, &old)?;
            if let Err(e) = std::fs::rename(&tmp, &target) {
                // Put the previous tree back before reporting.
                let _ = std::fs::rename(&old, &target);
                return Err(e);
            }
            std::fs::remove_dir_all(&old)?;
        } else {
            std::fs::rename(&tmp, &target)?;
        }
        Ok(count)
    });
    if tmp.exists() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

/// The temporary tree being filled: refuses to overwrite the user's files, remembers what it wrote
/// (for the manifest) and which folders exist (one `mkdir` per folder, not per file). Threads
/// share it: each file is written outside the locks, which guard only the two lists.
pub struct Staging {
    tmp: PathBuf,
    target: PathBuf,
    /// Files in the old tree that pgtopo did not write.
    foreign: BTreeSet<String>,
    written: Mutex<Vec<String>>,
    /// Files begun, for the fault injection.
    begun: AtomicUsize,
    /// Folders made so far, relative like `rel` (strings, not paths: comparing `Path`s goes
    /// component by component, and it showed in the profile of large builds).
    dirs: Mutex<HashSet<String>>,
    /// Fault injection for the atomicity tests: fail (or hang, to be killed) after N files.
    fault: Option<usize>,
    hang: bool,
}

impl Staging {
    pub fn put(&self, rel: &str, contents: &str) -> io::Result<()> {
        if self.fault == Some(self.begun.fetch_add(1, Ordering::Relaxed)) {
            if self.hang {
                std::thread::sleep(std::time::Duration::from_secs(60));
            }
            return Err(io::Error::other(
                "injected fault (PGTOPO_FAULT_AFTER_FILES)",
            ));
        }
        if self.foreign.contains(rel) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "refusing to overwrite {} (not written by pgtopo: move it away or delete it)",
                    self.target.join(rel).display()
                ),
            ));
        }
        if let Some((parent, _)) = rel.rsplit_once('/') {
            if !lock(&self.dirs).contains(parent) {
                // Two threads may both make the folder; `create_dir_all` accepts one that exists.
                std::fs::create_dir_all(self.tmp.join(parent))?;
                lock(&self.dirs).insert(parent.to_owned());
            }
        }
        std::fs::write(self.tmp.join(rel), contents)?;
        lock(&self.written).push(rel.to_owned());
        Ok(())
    }
}

/// A lock that a panic on another thread did not spoil: what the CLI guards with locks is only
/// ever added to or set.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a lock guarded, once no thread holds it (spoiled or not, as for [`lock`]).
pub(super) fn into_inner<T>(m: Mutex<T>) -> T {
    m.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// Removes temporary folders of earlier builds of `name` that were killed before they could clean
/// up (their process no longer exists). They never hold the only copy of anything: the live tree is
/// only ever replaced by a rename.
fn remove_stale_temporaries(dir: &Path, name: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let file = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = file
            .strip_prefix(&format!(".{name}.pgtopo-new-"))
            .or_else(|| file.strip_prefix(&format!(".{name}.pgtopo-old-")))
        else {
            continue;
        };
        let alive = Path::new("/proc").join(pid).exists();
        if !alive && pid.chars().all(|c| c.is_ascii_digit()) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

fn assemble(
    target: &Path,
    tmp: &Path,
    source: &str,
    fill: impl FnOnce(&Staging) -> io::Result<()>,
) -> io::Result<usize> {
    if tmp.exists() {
        std::fs::remove_dir_all(tmp)?;
    }
    std::fs::create_dir_all(tmp.join(META_DIR))?;
    // Files in the old tree that pgtopo did not write are the user's: keep them, never overwrite
    // them (`Staging::put` refuses).
    let mut foreign = BTreeSet::new();
    if target.exists() {
        let owned = read_manifest(target).unwrap_or_default();
        for rel in walk(target)? {
            if owned.contains(&rel) {
                continue;
            }
            let dest = tmp.join(&rel);
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::copy(target.join(&rel), dest)?;
            foreign.insert(rel);
        }
    }
    let staging = Staging {
        tmp: tmp.to_owned(),
        target: target.to_owned(),
        foreign,
        written: Mutex::new(Vec::new()),
        begun: AtomicUsize::new(0),
        dirs: Mutex::new(HashSet::new()),
        fault: std::env::var("PGTOPO_FAULT_AFTER_FILES")
            .ok()
            .and_then(|v| v.parse::<usize>().ok()),
        hang: std::env::var_os("PGTOPO_FAULT_HANG").is_some(),
    };
    fill(&staging)?;
    std::fs::write(tmp.join(SOURCE), source)?;
    // Pieces arrive in no fixed order; the manifest lists paths sorted, as the bundle did.
    let mut written = into_inner(staging.written);
    written.sort();
    let mut manifest = String::from(MANIFEST_HEADER);
    manifest.push('\n');
    for rel in &written {
        manifest.push_str(rel);
        manifest.push('\n');
    }
    std::fs::write(tmp.join(MANIFEST), manifest)?;
    Ok(written.len())
}
