//! The YAML writer of every YAML file pgtopo emits: Kubernetes manifests and kustomizations
//! (JSON values, keys sorted), Helm values (serde_yaml values, keys in insertion order) and
//! Compose and Prometheus/Grafana files (their typed values, fields in declaration order), all
//! through [`write`]. serde_yaml writes YAML 1.2, where `yes`, `on` or `no` are plain
//! strings, but the programs that read these files read YAML 1.1, where they are booleans:
//! `kubectl apply` would reject `PGPOOL_ENABLE_LOAD_BALANCING: yes` as an env value, Helm turns
//! `synchronous_commit: on` into `true` (helm/helm#5497), and the Compose file reference warns
//! that a port mapping such as `2222:22` may be read as a base-60 number. This writer quotes every
//! string that either version could read as something else, and writes multi-line strings as
//! literal blocks so that scripts stay readable.

use std::fmt::Write as _;

use serde::ser::{self, Serialize};

// Everything writes into one output buffer: a manifest is thousands of small scalars, and a
// temporary String per key, scalar and indent was most of this writer's time. The writer is a
// serde `Serializer`, so that typed documents (Compose files, Prometheus configuration) are
// written as they are serialized, without a tree of values built and dropped in between, and
// value trees (Kubernetes manifests as JSON values, keys sorted; Helm's values as serde_yaml
// values, keys in the order the emitter inserted them) go through the same code.

/// The YAML document for `v`.
pub fn to_string<T: Serialize + ?Sized>(v: &T) -> String {
    let mut out = String::new();
    write(v, &mut out);
    out
}

/// Appends the YAML document for `v` to `out`. Every emitted type is plain data (structs, maps
/// with string keys, sequences, strings, numbers, booleans, options); anything else is a bug in
/// an emitter, not in its input.
pub fn write<T: Serialize + ?Sized>(v: &T, out: &mut String) {
    let mut w = Writer {
        out,
        slot: Slot::Top,
        key: String::new(),
        checked_plain: false,
    };
    if let Err(e) = v.serialize(&mut w) {
        panic!("emitted documents are plain data: {e}");
    }
}

/// A string whose YAML form is decided once, for a string written many times: a cluster's
/// pg_hba lines go into every node's patroni.yml twice. The writer takes a plain one as it is;
/// to any other serializer it is the string.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Checked {
    text: String,
    plain: bool,
}

/// The name by which a [`Checked`] plain string tells the writer it needs no test.
const CHECKED_PLAIN: &str = "pgtopo::yaml::Checked";

impl Checked {
    pub fn new(text: String) -> Self {
        let plain = plain_ok(&text);
        Checked { text, plain }
    }
}

impl Serialize for Checked {
    fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.plain {
            s.serialize_newtype_struct(CHECKED_PLAIN, self.text.as_str())
        } else {
            s.serialize_str(&self.text)
        }
    }
}

/// Where the next value goes.
#[derive(Clone, Copy)]
enum Slot {
    /// The whole document.
    Top,
    /// After `key:`, in a mapping whose keys are at this indent.
    Value(usize),
    /// After `- `, in a sequence whose dashes are at this indent.
    Item(usize),
    /// A mapping key, whose text goes to [`Writer::key`]: a string as it is, or another scalar's
    /// text (serde_yaml mappings may have any key; Helm's values have none), quoted by `key`
    /// afterwards if it needs to be.
    Key,
}

struct Writer<'o> {
    out: &'o mut String,
    slot: Slot,
    /// The text of the current mapping key.
    key: String,
    /// Whether the next string is a [`Checked`] plain one.
    checked_plain: bool,
}

impl Writer<'_> {
    /// Writes a scalar (or `{}` / `[]`) in the current slot, with the line break after it; a key's
    /// text goes to [`Writer::key`] as it is.
    fn scalar(&mut self, f: impl FnOnce(usize, &mut String)) {
        let indent = match self.slot {
            Slot::Key => return f(0, &mut self.key),
            Slot::Top => 0,
            Slot::Value(i) => {
                self.out.push(' ');
                i + 2
            }
            Slot::Item(i) => i + 2,
        };
        f(indent, self.out);
        self.out.push('\n');
    }

    /// Starts a mapping or sequence in the current slot; nothing is written until its first
    /// entry, because an empty one is written as `{}` or `[]` in place.
    fn open(&mut self, map: bool) -> Result<Open, Unsupported> {
        let (indent, item) = match (self.slot, map) {
            (Slot::Key, _) => return unsupported("a mapping or sequence as a key"),
            (Slot::Top, _) => (0, false),
            (Slot::Value(i), true) => (i + 2, false),
            // Sequences under a key are not indented further, as kustomize writes them.
            (Slot::Value(i), false) => (i, false),
            (Slot::Item(i), _) => (i + 2, true),
        };
        Ok(Open {
            indent,
            // A mapping's first key follows the `- ` of its item on the same line.
            same_line: item && map,
            opener: match self.slot {
                Slot::Top | Slot::Key => false,
                Slot::Value(_) => true,
                Slot::Item(_) => !map,
            },
            slot: self.slot,
            count: 0,
            map,
        })
    }
}

/// A mapping or sequence being written.
struct Open {
    /// The indent of its keys or dashes.
    indent: usize,
    /// Whether its first key goes on the line of the `- ` before it.
    same_line: bool,
    /// Whether a line break goes before its first entry.
    opener: bool,
    /// The slot it was opened in, for `{}` / `[]` when it stays empty.
    slot: Slot,
    count: usize,
    map: bool,
}

/// A mapping or sequence being serialized.
struct Compound<'w, 'o> {
    w: &'w mut Writer<'o>,
    open: Open,
}

impl Compound<'_, '_> {
    /// Writes what goes before an entry: the line break of the first one, the indent, and for a
    /// sequence the dash.
    fn entry(&mut self) {
        let o = &mut self.open;
        if o.count == 0 && o.opener {
            self.w.out.push('\n');
        }
        if !(o.count == 0 && o.same_line) {
            pad(o.indent, self.w.out);
        }
        o.count += 1;
        if !o.map {
            self.w.out.push_str("- ");
            self.w.slot = Slot::Item(o.indent);
        }
    }

    fn key(&mut self, k: &str) {
        self.entry();
        key(k, self.w.out);
        self.w.out.push(':');
        self.w.slot = Slot::Value(self.open.indent);
    }

    fn close(self) {
        if self.open.count == 0 {
            self.w.slot = self.open.slot;
            let empty = if self.open.map { "{}" } else { "[]" };
            self.w.scalar(|_, out| out.push_str(empty));
        }
    }
}

/// Why a value cannot be written (see [`write`]).
#[derive(Debug)]
struct Unsupported(String);

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Unsupported(msg.to_string())
    }
}

fn unsupported<T>(what: &str) -> Result<T, Unsupported> {
    Err(Unsupported(format!("{what} cannot be written")))
}

/// A float as serde_json and serde_yaml print one (shortest round trip), or YAML's names for the
/// values JSON has none for.
fn float(v: f64, out: &mut String) {
    if v.is_nan() {
        out.push_str(".nan");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { ".inf" } else { "-.inf" });
    } else if let Some(n) = serde_json::Number::from_f64(v) {
        let _ = write!(out, "{n}");
    }
}

impl<'w, 'o> ser::Serializer for &'w mut Writer<'o> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Compound<'w, 'o>;
    type SerializeTuple = Compound<'w, 'o>;
    type SerializeTupleStruct = Compound<'w, 'o>;
    type SerializeTupleVariant = ser::Impossible<(), Unsupported>;
    type SerializeMap = Compound<'w, 'o>;
    type SerializeStruct = Compound<'w, 'o>;
    type SerializeStructVariant = ser::Impossible<(), Unsupported>;

    fn serialize_bool(self, v: bool) -> Result<(), Unsupported> {
        self.scalar(|_, out| out.push_str(if v { "true" } else { "false" }));
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), Unsupported> {
        self.serialize_i64(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<(), Unsupported> {
        self.serialize_i64(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<(), Unsupported> {
        self.serialize_i64(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<(), Unsupported> {
        self.scalar(|_, out| {
            let _ = write!(out, "{v}");
        });
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result<(), Unsupported> {
        self.serialize_u64(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<(), Unsupported> {
        self.serialize_u64(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<(), Unsupported> {
        self.serialize_u64(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<(), Unsupported> {
        self.scalar(|_, out| {
            let _ = write!(out, "{v}");
        });
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result<(), Unsupported> {
        self.serialize_f64(v.into())
    }
    fn serialize_f64(self, v: f64) -> Result<(), Unsupported> {
        self.scalar(|_, out| float(v, out));
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), Unsupported> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<(), Unsupported> {
        let checked_plain = std::mem::take(&mut self.checked_plain);
        match self.slot {
            Slot::Key => self.key.push_str(v),
            _ if checked_plain => {
                self.scalar(|_, out| out.push_str(v));
            }
            _ => self.scalar(|indent, out| string(v, indent, out)),
        }
        Ok(())
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), Unsupported> {
        unsupported("bytes")
    }
    fn serialize_none(self) -> Result<(), Unsupported> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<(), Unsupported> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Unsupported> {
        self.scalar(|_, out| out.push_str("null"));
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Unsupported> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), Unsupported> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        v: &T,
    ) -> Result<(), Unsupported> {
        // A `Checked` plain string: the string it holds comes next.
        self.checked_plain = name == CHECKED_PLAIN;
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Unsupported> {
        unsupported("an enum variant with data")
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Compound<'w, 'o>, Unsupported> {
        let open = self.open(false)?;
        Ok(Compound { w: self, open })
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'w, 'o>, Unsupported> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        len: usize,
    ) -> Result<Compound<'w, 'o>, Unsupported> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Unsupported> {
        unsupported("an enum variant with data")
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Compound<'w, 'o>, Unsupported> {
        let open = self.open(true)?;
        Ok(Compound { w: self, open })
    }
    fn serialize_struct(
        self,
        _: &'static str,
        len: usize,
    ) -> Result<Compound<'w, 'o>, Unsupported> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Unsupported> {
        unsupported("an enum variant with data")
    }
}

impl ser::SerializeSeq for Compound<'_, '_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Unsupported> {
        self.entry();
        v.serialize(&mut *self.w)
    }
    fn end(self) -> Result<(), Unsupported> {
        self.close();
        Ok(())
    }
}

impl ser::SerializeTuple for Compound<'_, '_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Unsupported> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<(), Unsupported> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Unsupported> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<(), Unsupported> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), Unsupported> {
        // One buffer for every key of the document, rather than a String per key.
        self.w.key.clear();
        self.w.slot = Slot::Key;
        k.serialize(&mut *self.w)?;
        let text = std::mem::take(&mut self.w.key);
        self.key(&text);
        self.w.key = text;
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Unsupported> {
        v.serialize(&mut *self.w)
    }
    fn end(self) -> Result<(), Unsupported> {
        self.close();
        Ok(())
    }
}

impl ser::SerializeStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        k: &'static str,
        v: &T,
    ) -> Result<(), Unsupported> {
        self.key(k);
        v.serialize(&mut *self.w)
    }
    fn end(self) -> Result<(), Unsupported> {
        self.close();
        Ok(())
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
    // is not safe). Eight bytes at a time, without a branch between them, noting a `: ` on the
    // way (with the byte before each chunk carried over): one pass over the string, where a
    // second search for `: ` cost as much again for every string holding a space, such as
    // each pg_hba line of every patroni.yml.
    let scan = |bytes: &[u8], prev: u8| {
        bytes
            .iter()
            .fold((true, false, prev), |(ok, colon_space, prev), &c| {
                (
                    ok & SAFE[usize::from(c)],
                    colon_space | ((prev == b':') & (c == b' ')),
                    c,
                )
            })
    };
    let mut chunks = b.chunks_exact(8);
    let mut prev = 0;
    for chunk in chunks.by_ref() {
        let (ok, colon_space, last) = scan(chunk, prev);
        if !ok || colon_space {
            return false;
        }
        prev = last;
    }
    let (ok, colon_space, _) = scan(chunks.remainder(), prev);
    ok && !colon_space
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

    /// A `Checked` string is written as the writer would write the string, and is the string to
    /// other serializers; a plain one used as a key does not make the next string plain.
    #[test]
    fn checked_strings_are_written_as_strings() {
        use super::Checked;
        let lines: Vec<Checked> = [
            "host all all 10.0.0.1/32 scram-sha-256",
            "yes",
            "a: b",
            "x\ny",
        ]
        .into_iter()
        .map(|s| Checked::new(s.to_owned()))
        .collect();
        let plain: Vec<&str> = lines.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(super::to_string(&lines), super::to_string(&plain));
        assert_eq!(
            serde_json::to_value(&lines).unwrap(),
            serde_json::to_value(&plain).unwrap()
        );
        let mut m = indexmap::IndexMap::new();
        m.insert(Checked::new("k".to_owned()), "on");
        assert_eq!(super::to_string(&m), "k: \"on\"\n");
    }

    /// Empty mappings and sequences are written in place wherever they are (after a key, as an
    /// item, as the document), and a sequence item that is a sequence starts on its own line.
    #[test]
    fn empty_collections_and_nested_sequences() {
        let v = json!({"a": [], "b": {}, "c": [[], {}, [1, [2]], {"x": {}, "y": []}]});
        assert_eq!(
            super::to_string(&v),
            "a: []\nb: {}\nc:\n- []\n- {}\n- \n  - 1\n  - \n    - 2\n- x: {}\n  \"y\": []\n"
        );
        assert_eq!(super::to_string(&json!({})), "{}\n");
        assert_eq!(super::to_string(&json!([])), "[]\n");
        assert_eq!(super::to_string(&json!("on")), "\"on\"\n");
    }

    /// Typed values are written as serialized: fields in declaration order, skipped fields left
    /// out, `None` as null, non-string keys as their text (quoted, as any key that YAML would read
    /// as something other than a string).
    #[test]
    fn typed_values_are_written_as_serialized() {
        #[derive(serde::Serialize)]
        struct Doc {
            z: u32,
            #[serde(skip_serializing_if = "Option::is_none")]
            skipped: Option<u32>,
            none: Option<u32>,
            a: std::collections::BTreeMap<u32, f64>,
            list: Vec<&'static str>,
        }
        let d = Doc {
            z: 1,
            skipped: None,
            none: None,
            a: [(2, 0.5), (10, 1.0)].into_iter().collect(),
            list: vec!["yes", "x\ny\n"],
        };
        let text = super::to_string(&d);
        assert_eq!(
            text,
            "z: 1\nnone: null\na:\n  \"2\": 0.5\n  \"10\": 1.0\nlist:\n- \"yes\"\n- |\n  x\n  y\n"
        );
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
