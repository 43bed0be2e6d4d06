//! Phase 5: the ordered set of output files (relative path → text). Emitters fill a bundle; the CLI
//! prints it, writes it to a directory, or diffs it. A `BTreeMap` keeps paths sorted, so output
//! order never depends on hashing or on the order emitters ran in.

use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bundle {
    files: BTreeMap<String, String>,
}

impl Bundle {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a file. Paths are relative, `/`-separated, and unique: a second file at the same path
    /// is a bug in an emitter, so it panics in tests rather than silently replacing the first.
    pub fn add(&mut self, path: impl Into<String>, contents: impl Into<String>) {
        let path = path.into();
        debug_assert!(
            !path.starts_with('/') && !path.contains(".."),
            "bad bundle path {path}"
        );
        let previous = self.files.insert(path.clone(), contents.into());
        debug_assert!(previous.is_none(), "two files at {path}");
    }

    /// Adds every file of `other` under `prefix/`.
    pub fn nest(&mut self, prefix: &str, other: Bundle) {
        for (p, c) in other.files {
            self.add(format!("{prefix}/{p}"), c);
        }
    }

    /// The files of `other` under `prefix/`.
    pub fn from_nested(prefix: &str, other: Bundle) -> Self {
        let mut b = Bundle::new();
        b.nest(prefix, other);
        b
    }

    /// Adds every file of `other` (paths unchanged).
    pub fn extend(&mut self, other: Bundle) {
        for (p, c) in other.files {
            self.add(p, c);
        }
    }

    /// Keeps only the files whose paths `keep` accepts.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.files.retain(|p, _| keep(p));
    }

    pub fn get(&self, path: &str) -> Option<&str> {
        self.files.get(path).map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.files.iter().map(|(p, c)| (p.as_str(), c.as_str()))
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}
