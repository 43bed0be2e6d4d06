//! The textual part of `pgtopo diff`: which files were added, removed or changed between two
//! bundles, unified diffs with context (the `similar` crate), and a `--stat` summary.

use similar::{ChangeTag, TextDiff};

use crate::bundle::Bundle;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileChange<'a> {
    Added {
        path: &'a str,
        new: &'a str,
    },
    Removed {
        path: &'a str,
        old: &'a str,
    },
    Modified {
        path: &'a str,
        old: &'a str,
        new: &'a str,
    },
}

impl FileChange<'_> {
    pub fn path(&self) -> &str {
        match self {
            FileChange::Added { path, .. }
            | FileChange::Removed { path, .. }
            | FileChange::Modified { path, .. } => path,
        }
    }
}

/// Files that differ, in path order.
pub fn compare<'a>(old: &'a Bundle, new: &'a Bundle) -> Vec<FileChange<'a>> {
    let mut out = Vec::new();
    for (path, n) in new.iter() {
        match old.get(path) {
            None => out.push(FileChange::Added { path, new: n }),
            Some(o) if o != n => out.push(FileChange::Modified {
                path,
                old: o,
                new: n,
            }),
            Some(_) => {}
        }
    }
    for (path, o) in old.iter() {
        if new.get(path).is_none() {
            out.push(FileChange::Removed { path, old: o });
        }
    }
    out.sort_by(|a, b| a.path().cmp(b.path()));
    out
}

const KEYWORDS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "auth_pass",
    "api_key",
    "apikey",
];

/// Hides the value on a line that looks like it assigns a secret (`password = x`, `token: x`,
/// `auth_pass x`). pgtopo never emits secrets, but a hand-edited or older tree might hold one, and
/// diffs end up in CI logs.
pub fn mask_secrets(line: &str) -> String {
    let lower = line.to_ascii_lowercase();
    let Some(pos) = KEYWORDS
        .iter()
        .filter_map(|k| lower.find(k).map(|i| i + k.len()))
        .min()
    else {
        return line.to_owned();
    };
    let rest = &line[pos..];
    // The value starts after the separator that follows the keyword (`=`, `:` or whitespace).
    let Some(sep) = rest.find(['=', ':', ' ']) else {
        return line.to_owned();
    };
    let after = &rest[sep + 1..];
    let value = after.trim_start_matches([' ', '=', ':']).trim_end();
    // References stay visible: interpolations, file paths and key names are not secrets.
    let is_reference = value.is_empty()
        || value.starts_with("${")
        || value.starts_with('/')
        || value.starts_with("secretKeyRef")
        || value.ends_with(':')
        || value.starts_with('{');
    if is_reference {
        return line.to_owned();
    }
    let start = line.len() - after.trim_start_matches([' ', '=', ':']).len();
    let end = start + value.len();
    format!("{}****{}", &line[..start], &line[end..])
}

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const CYAN: &str = "\x1b[36m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// A unified diff of one file with three lines of context (`--- a/…`, `+++ b/…`).
pub fn unified(change: &FileChange, color: bool) -> String {
    let (path, old, new) = match change {
        FileChange::Added { path, new } => (*path, "", *new),
        FileChange::Removed { path, old } => (*path, *old, ""),
        FileChange::Modified { path, old, new } => (*path, *old, *new),
    };
    let (a, b) = match change {
        FileChange::Added { .. } => ("/dev/null".to_owned(), format!("b/{path}")),
        FileChange::Removed { .. } => (format!("a/{path}"), "/dev/null".to_owned()),
        FileChange::Modified { .. } => (format!("a/{path}"), format!("b/{path}")),
    };
    let diff = TextDiff::from_lines(old, new);
    let mut out = String::new();
    let paint = |s: &str, c: &str| {
        if color {
            format!("{c}{s}{RESET}")
        } else {
            s.to_owned()
        }
    };
    out.push_str(&paint(&format!("--- {a}\n+++ {b}\n"), BOLD));
    for group in diff.grouped_ops(3) {
        let (first, last) = (&group[0], &group[group.len() - 1]);
        let (os, oe) = (first.old_range().start, last.old_range().end);
        let (ns, ne) = (first.new_range().start, last.new_range().end);
        out.push_str(&paint(
            &format!("@@ -{},{} +{},{} @@\n", os + 1, oe - os, ns + 1, ne - ns),
            CYAN,
        ));
        for op in &group {
            for c in diff.iter_changes(op) {
                let line = mask_secrets(c.value().trim_end_matches('\n'));
                let (sign, col) = match c.tag() {
                    ChangeTag::Delete => ("-", RED),
                    ChangeTag::Insert => ("+", GREEN),
                    ChangeTag::Equal => (" ", ""),
                };
                let text = format!("{sign}{line}");
                out.push_str(&if col.is_empty() {
                    text
                } else {
                    paint(&text, col)
                });
                out.push('\n');
                if c.missing_newline() {
                    out.push_str("\\ No newline at end of file\n");
                }
            }
        }
    }
    out
}

/// `--stat`: one line per file with its added/removed line counts, then a total.
pub fn stat(changes: &[FileChange]) -> String {
    let counts: Vec<(String, usize, usize)> = changes
        .iter()
        .map(|c| {
            let (old, new) = match c {
                FileChange::Added { new, .. } => ("", *new),
                FileChange::Removed { old, .. } => (*old, ""),
                FileChange::Modified { old, new, .. } => (*old, *new),
            };
            let d = TextDiff::from_lines(old, new);
            let (mut add, mut del) = (0, 0);
            for ch in d.iter_all_changes() {
                match ch.tag() {
                    ChangeTag::Insert => add += 1,
                    ChangeTag::Delete => del += 1,
                    ChangeTag::Equal => {}
                }
            }
            let tag = match c {
                FileChange::Added { .. } => " (new)",
                FileChange::Removed { .. } => " (removed)",
                FileChange::Modified { .. } => "",
            };
            (format!("{}{tag}", c.path()), add, del)
        })
        .collect();
    let width = counts.iter().map(|(p, _, _)| p.len()).max().unwrap_or(0);
    let mut out = String::new();
    let (mut ta, mut td) = (0, 0);
    for (p, a, d) in &counts {
        out.push_str(&format!(" {p:width$} | +{a} -{d}\n"));
        ta += a;
        td += d;
    }
    out.push_str(&format!(
        " {} file(s) changed, {ta} insertion(s)(+), {td} deletion(s)(-)\n",
        counts.len()
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_values_but_not_references() {
        assert_eq!(mask_secrets("password = hunter2"), "password = ****");
        assert_eq!(mask_secrets("  auth_pass s3cret"), "  auth_pass ****");
        assert_eq!(
            mask_secrets("POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:?set it}"),
            "POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:?set it}"
        );
        assert_eq!(
            mask_secrets("auth_file = /etc/pgbouncer/userlist.txt"),
            "auth_file = /etc/pgbouncer/userlist.txt"
        );
        assert_eq!(
            mask_secrets("        secretKeyRef:"),
            "        secretKeyRef:"
        );
        assert_eq!(
            mask_secrets("max_connections = 100"),
            "max_connections = 100"
        );
    }

    #[test]
    fn unified_diff_has_headers_and_hunks() {
        let mut a = Bundle::new();
        a.add("x.conf", "a\nb\nc\n");
        let mut b = Bundle::new();
        b.add("x.conf", "a\nB\nc\n");
        b.add("y.conf", "new\n");
        let ch = compare(&a, &b);
        assert_eq!(ch.len(), 2);
        let text = unified(&ch[0], false);
        assert!(
            text.starts_with("--- a/x.conf\n+++ b/x.conf\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"),
            "{text}"
        );
        assert!(stat(&ch).contains("2 file(s) changed, 2 insertion(s)(+), 1 deletion(s)(-)"));
    }
}
