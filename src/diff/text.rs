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

/// Hides the secret values on a line, and nothing else: the value of a setting whose name says it
/// holds a secret (`password = x`, `auth_pass x`, `POSTGRES_PASSWORD: "x"`, `api_key=x`), the
/// password of a libpq connection string (`… password=x …`) and the password part of a URI
/// (`postgresql://app:x@db:5432/app`). pgtopo never emits secrets, but a hand-edited or older tree
/// might hold one, and diffs end up in CI logs. What is not a secret stays as it is, so that a
/// reviewer reads the lines that are in the files: settings that only mention passwords
/// (`password_encryption`, `password_file`), references (`${POSTGRES_PASSWORD:?…}`,
/// `"$PGPASSWORD"`, paths), key names (`key: postgres-password`), comments (`# Passwords …`),
/// quotes, and a URI's user, host, port and database.
pub fn mask_secrets(line: &str) -> String {
    let mut hidden: Vec<(usize, usize)> = Vec::new();
    uri_passwords(line, &mut hidden);
    conninfo_passwords(line, &mut hidden);
    if !is_comment(line) {
        if let Some(range) = setting_value(line) {
            hidden.push(range);
        }
    }
    if hidden.is_empty() {
        return line.to_owned();
    }
    hidden.sort_unstable();
    let mut out = String::with_capacity(line.len());
    let mut at = 0;
    for (start, end) in hidden {
        // Ranges that overlap one already hidden (a URI inside a password setting) add nothing.
        if start < at {
            continue;
        }
        out.push_str(&line[at..start]);
        out.push_str("****");
        at = end;
    }
    out.push_str(&line[at..]);
    out
}

/// A line that is a comment in the files pgtopo writes (`#` in configs, YAML and scripts, `//`,
/// `;` in ini files): it may talk about passwords, and only a URI's password in it is hidden.
fn is_comment(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with('#') || t.starts_with("//") || t.starts_with(';')
}

/// Whether a setting's name says that its value is a secret: its last word (words split at `_`,
/// `-`, `.` and lower-to-upper case changes) is a password or a token, or its last two are a key
/// or keepalived's `auth_pass`. `password_encryption` ends in "encryption", `secretKeyRef` in
/// "ref", `existingSecret` names a Secret object: none is a secret.
fn is_secret_name(name: &str) -> bool {
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if matches!(c, '_' | '-' | '.') {
            words.push(std::mem::take(&mut word));
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower {
            words.push(std::mem::take(&mut word));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        word.push(c.to_ascii_lowercase());
    }
    words.push(word);
    words.retain(|w| !w.is_empty());
    let last = words.last().map_or("", String::as_str);
    let pair = match words.as_slice() {
        [.., a, b] => format!("{a}_{b}"),
        _ => String::new(),
    };
    // `PGPASSWORD`, `pgpassword`: one word that ends in a password.
    ["password", "passwd", "passphrase", "token", "apikey"]
        .iter()
        .any(|w| last.ends_with(w))
        || last == "pwd"
        || matches!(
            pair.as_str(),
            "auth_pass" | "api_key" | "private_key" | "secret_key" | "access_key" | "client_secret"
        )
}

/// A value that names where a secret is rather than holding it: empty, an interpolation or
/// variable (`${X}`, `$X`, `$(…)`, `{{ … }}`), a path, or a printf placeholder; or one that cannot
/// be a secret, a boolean or null (`automountServiceAccountToken: false`).
fn is_reference(value: &str) -> bool {
    let v = value.trim();
    v.is_empty()
        || matches!(v, "true" | "false" | "null" | "~")
        || v.starts_with("${")
        || v.starts_with("$(")
        || v.starts_with("{{")
        || v.starts_with('/')
        || v.starts_with('%')
        || v.strip_prefix('$')
            .and_then(|r| r.chars().next())
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
}

/// The byte range of a secret setting's value on `line`, inside its quotes: `NAME = value`,
/// `NAME: value`, `NAME=value` (also after `export ` or a YAML `- `, the name possibly quoted), or
/// `NAME value` when the value is one word (keepalived's `auth_pass`).
fn setting_value(line: &str) -> Option<(usize, usize)> {
    let b = line.as_bytes();
    let mut i = line.len() - line.trim_start().len();
    let skip = |i: &mut usize, prefix: &str| {
        if line[*i..].starts_with(prefix) {
            *i += prefix.len();
            true
        } else {
            false
        }
    };
    skip(&mut i, "- ");
    skip(&mut i, "export ");
    let quote = b.get(i).copied().filter(|c| *c == b'"' || *c == b'\'');
    if quote.is_some() {
        i += 1;
    }
    let name_start = i;
    while i < b.len() && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'_' | b'-' | b'.')) {
        i += 1;
    }
    let name = &line[name_start..i];
    if name.is_empty() || !is_secret_name(name) {
        return None;
    }
    if let Some(q) = quote {
        if b.get(i) != Some(&q) {
            return None;
        }
        i += 1;
    }
    let spaced = b.get(i) == Some(&b' ') || b.get(i) == Some(&b'\t');
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    let explicit = match b.get(i) {
        Some(b'=') => true,
        // A YAML key is followed by a space (or the line's end: a mapping, nothing to hide).
        Some(b':') => b.get(i + 1).is_none_or(|c| *c == b' ' || *c == b'\t'),
        _ => false,
    };
    if explicit {
        i += 1;
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
    } else if !spaced {
        return None;
    }
    let (start, end) = value_range(line, i)?;
    let after = line[end..].trim_start_matches(['"', '\'']).trim();
    if !explicit && (!after.is_empty() || line[start..end].contains(char::is_whitespace)) {
        // `NAME value` is a setting only when the value is one word and ends the line: a
        // sentence that starts with "Password" is not one.
        return None;
    }
    (!is_reference(&line[start..end])).then_some((start, end))
}

/// The value starting at byte `i`: inside its quotes when quoted, else up to the end of the line
/// or an inline ` #` comment, without trailing blanks. `None` when there is no value.
fn value_range(line: &str, i: usize) -> Option<(usize, usize)> {
    let b = line.as_bytes();
    match b.get(i)? {
        q @ (b'"' | b'\'') => {
            let mut j = i + 1;
            while j < b.len() && b[j] != *q {
                j += if b[j] == b'\\' && *q == b'"' { 2 } else { 1 };
            }
            Some((i + 1, j.min(b.len())))
        }
        _ => {
            let rest = &line[i..];
            let end = rest.find(" #").unwrap_or(rest.len());
            let value = rest[..end].trim_end();
            (!value.is_empty()).then_some((i, i + value.len()))
        }
    }
}

/// The password of every URI with user information (`scheme://user:PASSWORD@host…`): only the
/// password, not the user, host, port, path or the quotes around the URI.
fn uri_passwords(line: &str, out: &mut Vec<(usize, usize)>) {
    let mut from = 0;
    while let Some(at) = line[from..].find("://") {
        let start = from + at + 3;
        let authority_len = line[start..]
            .find(|c: char| c.is_whitespace() || "/?#\"'`<>".contains(c))
            .unwrap_or(line.len() - start);
        let authority = &line[start..start + authority_len];
        if let Some(userinfo) = authority.rfind('@').map(|e| &authority[..e]) {
            if let Some(colon) = userinfo.find(':') {
                let (s, e) = (start + colon + 1, start + userinfo.len());
                if !is_reference(&line[s..e]) {
                    out.push((s, e));
                }
            }
        }
        from = start + authority_len;
    }
}

/// The value of every `password=` of a libpq connection string (`primary_conninfo = 'host=a
/// password=x'`), quoted or not.
fn conninfo_passwords(line: &str, out: &mut Vec<(usize, usize)>) {
    let lower = line.to_ascii_lowercase();
    let mut from = 0;
    while let Some(at) = lower[from..].find("password=") {
        let key = from + at;
        from = key + "password=".len();
        // A whole word: `password=` after a blank or a quote, not `PGPASSWORD=` or
        // `appuser_password=` (a setting's name, which `setting_value` reads).
        let before = line[..key].chars().next_back();
        if !before.is_some_and(|c| c == ' ' || c == '\'' || c == '"') {
            continue;
        }
        let value_end = match line.as_bytes().get(from) {
            // Quoted: `'x y'`, or `''x y''` inside a single-quoted postgresql.conf string,
            // which doubles the connection string's quotes.
            Some(b'\'') => {
                let quote = if line[from..].starts_with("''") {
                    "''"
                } else {
                    "'"
                };
                let open = from + quote.len();
                let close = line[open..].find(quote).map_or(line.len(), |e| open + e);
                out.push((open, close));
                continue;
            }
            _ => line[from..]
                .find(|c: char| c.is_whitespace() || c == '\'' || c == '"')
                .map_or(line.len(), |e| from + e),
        };
        if !is_reference(&line[from..value_end]) {
            out.push((from, value_end));
        }
    }
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

    /// Every cut falls on a character boundary, whatever the line (golden/diff/secret_masking.snap
    /// holds what is hidden).
    #[test]
    fn masking_never_panics() {
        let pieces = [
            "password",
            "PGPASSWORD",
            "auth_pass",
            ": ",
            "=",
            " ",
            "\"",
            "'",
            "''",
            "\\",
            "é",
            "☃",
            "://",
            "a:b@",
            "@",
            "#",
            "${X}",
            "\t",
            "password=",
        ];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    for d in pieces {
                        let line = format!("{a}{b}{c}{d}");
                        let _ = mask_secrets(&line);
                        let _ = mask_secrets(&format!("  {line} é"));
                    }
                }
            }
        }
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
