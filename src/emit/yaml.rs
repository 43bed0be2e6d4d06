//! The YAML writer of every YAML file pgtopo emits: Kubernetes manifests and kustomizations
//! (JSON values, keys sorted), Helm values and Prometheus/Grafana files (serde_yaml values, keys in
//! insertion order) and Compose files (their typed values, through serde_yaml values), all
//! through [`write`]. serde_yaml writes YAML 1.2, where `yes`, `on` or `no` are plain
//! strings, but the programs that read these files read YAML 1.1, where they are booleans:
//! `kubectl apply` would reject `PGPOOL_ENABLE_LOAD_BALANCING: yes` as an env value, Helm turns
//! `synchronous_commit: on` into `true` (helm/helm#5497), and the Compose file reference warns
//! that a port mapping such as `2222:22` may be read as a base-60 number. This writer quotes every
//! string that either version could read as something else, and writes multi-line strings as
//! literal blocks so that scripts stay readable.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde_json::Value;

// Everything writes into one output buffer: a manifest is thousands of small scalars, and a
// temporary String per key, scalar and indent was most of this writer's time.

/// A tree the writer can walk: JSON values (the Kubernetes manifests, keys sorted) and serde_yaml
/// values (Helm's values files, keys in the order the emitter inserted them). Generic rather than
/// converted, so that neither pays for a copy and both get the same quoting.
pub(crate) trait Tree: Sized {
    /// The entries of a mapping with at least one entry.
    fn entries(&self) -> Option<impl Iterator<Item = (Cow<'_, str>, &Self)>>;
    /// The items of a sequence with at least one item.
    fn items(&self) -> Option<&[Self]>;
    /// Writes anything else: a scalar, or `{}` / `[]` for an empty collection.
    fn scalar(&self, indent: usize, out: &mut String);
}

impl Tree for Value {
    fn entries(&self) -> Option<impl Iterator<Item = (Cow<'_, str>, &Self)>> {
        match self {
            Value::Object(m) if !m.is_empty() => {
                Some(m.iter().map(|(k, v)| (Cow::Borrowed(k.as_str()), v)))
            }
            _ => None,
        }
    }

    fn items(&self) -> Option<&[Self]> {
        match self {
            Value::Array(a) if !a.is_empty() => Some(a),
            _ => None,
        }
    }

    fn scalar(&self, indent: usize, out: &mut String) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => {
                let _ = write!(out, "{n}");
            }
            Value::String(s) => string(s, indent, out),
            Value::Array(_) => out.push_str("[]"),
            Value::Object(_) => out.push_str("{}"),
        }
    }
}

impl Tree for serde_yaml::Value {
    fn entries(&self) -> Option<impl Iterator<Item = (Cow<'_, str>, &Self)>> {
        match self {
            serde_yaml::Value::Mapping(m) if !m.is_empty() => Some(m.iter().map(|(k, v)| {
                let key = match k {
                    serde_yaml::Value::String(s) => Cow::Borrowed(s.as_str()),
                    // Helm's values only have string keys; anything else is written as its text
                    // (and quoted by `key` if it needs to be).
                    other => Cow::Owned(to_string(other).trim_end().to_owned()),
                };
                (key, v)
            })),
            _ => None,
        }
    }

    fn items(&self) -> Option<&[Self]> {
        match self {
            serde_yaml::Value::Sequence(a) if !a.is_empty() => Some(a),
            _ => None,
        }
    }

    fn scalar(&self, indent: usize, out: &mut String) {
        use serde_yaml::Value as Y;
        match self {
            Y::Null => out.push_str("null"),
            Y::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Y::Number(n) => {
                let _ = write!(out, "{n}");
            }
            Y::String(s) => string(s, indent, out),
            Y::Sequence(_) => out.push_str("[]"),
            Y::Mapping(_) => out.push_str("{}"),
            // No emitter builds tagged values; should one appear, its tag is kept before the value.
            Y::Tagged(t) => {
                let _ = write!(out, "{} ", t.tag);
                t.value.scalar(indent, out);
            }
        }
    }
}

pub fn to_string<T: Tree>(v: &T) -> String {
    let mut out = String::new();
    write(v, &mut out);
    out
}

/// Appends the YAML document for `v` to `out`.
pub fn write<T: Tree>(v: &T, out: &mut String) {
    if let Some(m) = v.entries() {
        object(m, 0, out);
    } else if let Some(a) = v.items() {
        array(a, 0, out);
    } else {
        v.scalar(0, out);
        out.push('\n');
    }
}

fn pad(n: usize, out: &mut String) {
    const SPACES: &str = "                                                                ";
    let mut n = n;
    while n > 0 {
        let k = n.min(SPACES.len());
        out.push_str(&SPACES[..k]);
        n -= k;
    }
}

fn object<'a, T: Tree + 'a>(
    entries: impl Iterator<Item = (Cow<'a, str>, &'a T)>,
    indent: usize,
    out: &mut String,
) {
    let mut first = true;
    for (k, v) in entries {
        if !first || !out.ends_with("- ") {
            pad(indent, out);
        }
        first = false;
        key(&k, out);
        out.push(':');
        value(v, indent, out);
    }
}

fn array<T: Tree>(a: &[T], indent: usize, out: &mut String) {
    for v in a {
        pad(indent, out);
        out.push_str("- ");
        if let Some(m) = v.entries() {
            object(m, indent + 2, out);
        } else if let Some(x) = v.items() {
            out.push('\n');
            array(x, indent + 2, out);
        } else {
            v.scalar(indent + 2, out);
            out.push('\n');
        }
    }
}

/// Writes the value after `key:`.
fn value<T: Tree>(v: &T, indent: usize, out: &mut String) {
    if let Some(m) = v.entries() {
        out.push('\n');
        object(m, indent + 2, out);
    } else if let Some(a) = v.items() {
        // Sequences under a key are not indented further, as kustomize writes them.
        out.push('\n');
        array(a, indent, out);
    } else {
        out.push(' ');
        v.scalar(indent + 2, out);
        out.push('\n');
    }
}

fn key(k: &str, out: &mut String) {
    if plain_ok(k) {
        out.push_str(k);
    } else {
        quoted(k, out);
    }
}

fn string(s: &str, indent: usize, out: &mut String) {
    // Most strings are plain, and `plain_ok` refuses every string with a line break, so it is
    // asked first: that saves a search for a line break in each plain one.
    if plain_ok(s) {
        out.push_str(s);
    } else if !(s.contains('\n') && literal_block(s, indent, out)) {
        quoted(s, out);
    }
}

/// `|` (one trailing newline) or `|-` (none); anything else, or text a block cannot hold
/// exactly, is double-quoted instead (and this returns false, having written nothing).
fn literal_block(s: &str, indent: usize, out: &mut String) -> bool {
    let (body, chomp) = if let Some(b) = s.strip_suffix('\n') {
        if b.ends_with('\n') {
            return false;
        }
        (b, "|")
    } else {
        (s, "|-")
    };
    if body.starts_with(' ') || body.starts_with('\t') || body.contains('\r') {
        return false;
    }
    if body.lines().any(|l| l.ends_with(' ') || l.ends_with('\t')) {
        return false;
    }
    out.push_str(chomp);
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            pad(indent, out);
            out.push_str(line);
        }
    }
    true
}

/// A double-quoted scalar, escaped as JSON (YAML reads JSON strings as they are). Most strings
/// that need quotes only hold a `: ` or start like a number, and have nothing to escape: those
/// are copied as they are, without serde_json's new String (Compose's `${VAR:?…}` values, several
/// per service, went through it).
fn quoted(s: &str, out: &mut String) {
    if s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.push_str(&serde_json::to_string(s).expect("strings serialize"));
    } else {
        out.reserve(s.len() + 2);
        out.push('"');
        out.push_str(s);
        out.push('"');
    }
}

/// Whether `s` can be written unquoted and read back as the same string by YAML 1.1 and 1.2.
fn plain_ok(s: &str) -> bool {
    let Some(&first) = s.as_bytes().first() else {
        return false;
    };
    // The words YAML 1.1 reads as booleans or null. The first byte and the length rule out most
    // strings before any comparison (this runs for every key and string of every manifest).
    if s.len() <= 5
        && matches!(
            first,
            b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~'
        )
        && matches!(
            s,
            "y" | "Y"
                | "yes"
                | "Yes"
                | "YES"
                | "n"
                | "N"
                | "no"
                | "No"
                | "NO"
                | "true"
                | "True"
                | "TRUE"
                | "false"
                | "False"
                | "FALSE"
                | "on"
                | "On"
                | "ON"
                | "off"
                | "Off"
                | "OFF"
                | "null"
                | "Null"
                | "NULL"
                | "~"
        )
    {
        return false;
    }
    if is_quantity(s) {
        return true;
    }
    let b = s.as_bytes();
    // Anything that starts like a number (or a sign, dot or digit) is quoted: YAML 1.1 reads
    // forms such as 1_000, 0x1f, 1:20 or .5 as numbers.
    // A leading digit is harmless when a letter that no number, hex/octal/binary literal or
    // timestamp can contain follows (g–n, p–s, u–w, y), as in `10-init.sh`.
    let digit_word = first.is_ascii_digit()
        && b.iter().any(
            |c| matches!(c.to_ascii_lowercase(), b'g'..=b'n' | b'p'..=b's' | b'u'..=b'w' | b'y'),
        );
    // A cron schedule (`0 1 * * 1-6`): digits, spaces, `,-*/` with a space and no `:` are no
    // number or timestamp of YAML 1.1 or 1.2 (a timestamp with a space has a `:`), and kustomize
    // writes them plain.
    let cron_like = first.is_ascii_digit()
        && b.contains(&b' ')
        && b.iter()
            .all(|c| c.is_ascii_digit() || matches!(c, b' ' | b',' | b'-' | b'*' | b'/'));
    let second = b.get(1).copied();
    let option_or_path = match first {
        // `-c`, `--flag`: a dash before a letter or a dash is no number and no sequence entry.
        b'-' => second.is_some_and(|c| c.is_ascii_alphabetic() || c == b'-'),
        // `../base`, `./x`.
        b'.' => second.is_some_and(|c| c == b'.' || c == b'/'),
        _ => digit_word || cron_like,
    };
    if !option_or_path && (first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return false;
    }
    // `$` is no indicator in either YAML version (Kubernetes' `$(VAR)` references start with it).
    if !(option_or_path
        || first.is_ascii_alphabetic()
        || first == b'_'
        || first == b'/'
        || first == b'$')
    {
        return false;
    }
    if s.ends_with(' ') || s.ends_with(':') {
        return false;
    }
    // Only safe characters, and no `: ` (a mapping to YAML; ` #`, a comment, cannot occur, as `#`
    // is not safe). Eight bytes at a time, without a branch between them, noting spaces on the
    // way, which beat a loop that stopped at the first unsafe byte followed by a search for a
    // space. Most strings hold no space, and then the table alone decides.
    let scan = |bytes: &[u8]| {
        bytes.iter().fold((true, false), |(ok, space), &c| {
            (ok & SAFE[usize::from(c)], space | (c == b' '))
        })
    };
    let mut chunks = b.chunks_exact(8);
    let mut space = false;
    for chunk in chunks.by_ref() {
        let (ok, s) = scan(chunk);
        if !ok {
            return false;
        }
        space |= s;
    }
    let (ok, s) = scan(chunks.remainder());
    ok && !((space || s) && b.windows(2).any(|w| w == b": "))
}

/// The bytes a plain scalar may hold: ASCII letters, digits and ` _-./:=@,()*$<>!%?`, as a table
/// of every byte value (so no bounds check): the test runs on every character of every key and
/// string of every manifest.
static SAFE: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 128 {
        t[c] = (c as u8).is_ascii_alphanumeric();
        c += 1;
    }
    let punctuation = b" _-./:=@,()*$<>!%?";
    let mut i = 0;
    while i < punctuation.len() {
        t[punctuation[i] as usize] = true;
        i += 1;
    }
    t
};

/// Kubernetes quantities such as `500m` or `10Gi`: digits and a unit suffix, which neither YAML
/// version reads as a number (the exa suffix `E` is left out: `1E` is too close to an exponent).
fn is_quantity(s: &str) -> bool {
    let digits = s.chars().take_while(|c| c.is_ascii_digit()).count();
    digits > 0
        && matches!(
            &s[digits..],
            "m" | "k" | "M" | "G" | "T" | "P" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei"
        )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn ambiguous_strings_are_quoted() {
        let v = json!({"a": "yes", "b": "10Gi", "c": "1000m", "d": "on", "e": "x y", "f": "2", "g": "", "h": "-c", "i": "-1", "j": ".5", "k": "0x1f", "l": "10-init.sh", "m": "2001-12-14t21:59:43.10-05:00"});
        assert_eq!(
            super::to_string(&v),
            "a: \"yes\"\nb: 10Gi\nc: 1000m\nd: \"on\"\ne: x y\nf: \"2\"\ng: \"\"\nh: -c\ni: \"-1\"\nj: \".5\"\nk: \"0x1f\"\nl: 10-init.sh\nm: \"2001-12-14t21:59:43.10-05:00\"\n"
        );
    }

    /// The copy-as-is path of `quoted` writes what serde_json writes, escapes or not.
    #[test]
    fn quoted_strings_are_json_strings() {
        for s in [
            "",
            "x: y",
            "${A:?A is not set: copy .env.example to .env}",
            "tab\there",
            "quote \" and \\ backslash",
            "\u{7f} and é",
            "line\nbreak",
        ] {
            let mut out = String::new();
            super::quoted(s, &mut out);
            assert_eq!(out, serde_json::to_string(s).unwrap());
        }
    }

    /// serde_yaml trees (Helm's values) keep their key order and get the same quoting.
    #[test]
    fn yaml_trees_keep_their_order() {
        let v: serde_yaml::Value =
            serde_yaml::from_str("z: 'on'\na:\n  - 'yes'\n  - {}\nm: 5\n").unwrap();
        let text = super::to_string(&v);
        assert_eq!(text, "z: \"on\"\na:\n- \"yes\"\n- {}\nm: 5\n");
        assert_eq!(serde_yaml::from_str::<serde_yaml::Value>(&text).unwrap(), v);
    }

    /// `plain_ok` looks at eight bytes at a time: a `: ` across two chunks, or in the remainder,
    /// is found as well as anywhere else.
    #[test]
    fn a_colon_and_space_is_quoted_wherever_it_is() {
        for (s, plain) in [
            ("abcdefg: x", false),
            ("abcdefgh: x", false),
            ("a: b", false),
            ("abcdefghijklmnopq: r", false),
            ("a:b", true),
            ("http://x.example/abcdefgh", true),
            ("x y z w v u t s", true),
            ("x #y", false),
            ("abcdefghijklmno\u{e9}", false),
        ] {
            assert_eq!(super::plain_ok(s), plain, "{s:?}");
        }
    }

    #[test]
    fn nesting_and_blocks() {
        let v = json!({"l": [{"a": 1, "b": [1, 2]}, "s"], "t": "x\ny\n", "e": {}});
        let text = super::to_string(&v);
        assert_eq!(
            text,
            "e: {}\nl:\n- a: 1\n  b:\n  - 1\n  - 2\n- s\nt: |\n  x\n  y\n"
        );
        let back: serde_json::Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(back, v);
    }
}
