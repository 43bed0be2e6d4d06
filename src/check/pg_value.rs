//! PostgreSQL's reading of a setting's value (guc.c: `parse_bool`, `parse_int`, `parse_real`,
//! `convert_to_base_unit`, the enum lookup and the range check), for PT173.
//!
//! The functions follow the C code step by step, including the C library calls it leans on
//! (`strtol` with base 0, so `0x10` and `010` are numbers; `strtod`, so `1e3`, `.5` and `inf`
//! are), because a value pgtopo accepts must start PostgreSQL and a value it refuses must not.
//! tests/pg_values.rs holds them to the answers of real servers (tests/fixtures/pg_probes/).
//! PostgreSQL 12 changed integer parsing (fractions such as `1.5GB`, rounding, the `us` unit)
//! and PostgreSQL 11 added the `B` unit; the older rules are kept for the majors that have them.

use super::pg_params::{Setting, VarType};

/// A value PostgreSQL accepts, in the setting's base unit.
#[derive(Clone, Debug, PartialEq)]
pub enum Parsed {
    Bool(bool),
    Number(f64),
    /// An enum value (listed or hidden) or any string.
    Text,
}

/// Why PostgreSQL refuses a value.
#[derive(Clone, Debug, PartialEq)]
pub enum Problem {
    /// Not one of PostgreSQL's boolean spellings.
    NotBool,
    /// Not a number at all (integer or real settings).
    NotNumber,
    /// A unit on a setting that has none.
    UnitNotAllowed,
    /// A unit that is not one of the setting's kind (`XB`, or `GB` for a time).
    BadUnit {
        unit: String,
    },
    /// The value does not fit PostgreSQL's 32-bit integers.
    IntegerRange,
    /// The value, in the base unit, is outside `min_val..=max_val`.
    OutOfRange {
        value: f64,
    },
    NotEnum,
}

/// What a setting's unit measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnitKind {
    Memory,
    Time,
}

/// The base units of `pg_settings.unit`: their kind and their size in bytes or microseconds.
fn base_unit(unit: &str) -> Option<(UnitKind, f64)> {
    Some(match unit {
        "B" => (UnitKind::Memory, 1.0),
        "kB" => (UnitKind::Memory, 1024.0),
        "8kB" => (UnitKind::Memory, 8192.0),
        "MB" => (UnitKind::Memory, 1024.0 * 1024.0),
        "us" => (UnitKind::Time, 1.0),
        "ms" => (UnitKind::Time, 1000.0),
        "s" => (UnitKind::Time, 1_000_000.0),
        "min" => (UnitKind::Time, 60_000_000.0),
        _ => return None,
    })
}

pub fn unit_kind(setting: &Setting) -> Option<UnitKind> {
    base_unit(setting.unit).map(|(k, _)| k)
}

/// The units a value may carry, largest first, with their size in bytes or microseconds.
fn units(kind: UnitKind, major: u32) -> &'static [(&'static str, f64)] {
    const MEMORY: &[(&str, f64)] = &[
        ("TB", 1024.0 * 1024.0 * 1024.0 * 1024.0),
        ("GB", 1024.0 * 1024.0 * 1024.0),
        ("MB", 1024.0 * 1024.0),
        ("kB", 1024.0),
        ("B", 1.0),
    ];
    const TIME: &[(&str, f64)] = &[
        ("d", 86_400_000_000.0),
        ("h", 3_600_000_000.0),
        ("min", 60_000_000.0),
        ("s", 1_000_000.0),
        ("ms", 1000.0),
        ("us", 1.0),
    ];
    match kind {
        // `B` arrived in PostgreSQL 11, `us` in 12.
        UnitKind::Memory if major < 11 => &MEMORY[..4],
        UnitKind::Memory => MEMORY,
        UnitKind::Time if major < 12 => &TIME[..5],
        UnitKind::Time => TIME,
    }
}

/// The unit names of a kind, for help lines: "B, kB, MB, GB, TB".
pub fn unit_names(kind: UnitKind, major: u32) -> String {
    let mut v: Vec<&str> = units(kind, major).iter().map(|(n, _)| *n).collect();
    v.reverse();
    v.join(", ")
}

/// Whether `unit` is a unit of the other kind (`GB` for a time setting): worth saying so.
pub fn other_kind(unit: &str, kind: UnitKind) -> bool {
    let other = match kind {
        UnitKind::Memory => UnitKind::Time,
        UnitKind::Time => UnitKind::Memory,
    };
    units(other, u32::MAX).iter().any(|(n, _)| *n == unit)
}

/// C's `isspace` in the "C" locale.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn skip_space(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && is_space(s[i]) {
        i += 1;
    }
    i
}

/// C's `strtol(s, &end, 0)` on a 64-bit `long`: (value, end, overflowed). `end` is 0 when
/// nothing was converted.
fn strtol(s: &[u8]) -> (i64, usize, bool) {
    let mut i = skip_space(s, 0);
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let (radix, start) = if s.get(i) == Some(&b'0')
        && matches!(s.get(i + 1), Some(b'x' | b'X'))
        && s.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
    {
        (16, i + 2)
    } else if s.get(i) == Some(&b'0') {
        (8, i)
    } else {
        (10, i)
    };
    let mut j = start;
    let mut acc: i128 = 0;
    let mut overflow = false;
    while let Some(d) = s.get(j).and_then(|c| (*c as char).to_digit(radix)) {
        acc = acc * i128::from(radix) + i128::from(d);
        if acc > i128::from(i64::MAX) + 1 {
            overflow = true;
            acc = i128::from(i64::MAX) + 1;
        }
        j += 1;
    }
    if j == start {
        return (0, 0, false);
    }
    let v = if neg { -acc } else { acc };
    match i64::try_from(v) {
        Ok(v) if !overflow => (v, j, false),
        _ => (if neg { i64::MIN } else { i64::MAX }, j, true),
    }
}

/// C's `strtod`: (value, end, ERANGE). `end` is 0 when nothing was converted.
fn strtod(s: &[u8]) -> (f64, usize, bool) {
    let mut i = skip_space(s, 0);
    let start = i;
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let sign = if neg { -1.0 } else { 1.0 };
    let rest = &s[i..];
    let starts = |word: &str| {
        rest.len() >= word.len() && rest[..word.len()].eq_ignore_ascii_case(word.as_bytes())
    };
    if starts("infinity") {
        return (sign * f64::INFINITY, i + 8, false);
    }
    if starts("inf") {
        return (sign * f64::INFINITY, i + 3, false);
    }
    if starts("nan") {
        let mut j = i + 3;
        // `nan(n-char-sequence)`
        if s.get(j) == Some(&b'(') {
            let mut k = j + 1;
            while s
                .get(k)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
            {
                k += 1;
            }
            if s.get(k) == Some(&b')') {
                j = k + 1;
            }
        }
        return (f64::NAN, j, false);
    }
    if rest.len() > 2 && rest[0] == b'0' && matches!(rest[1], b'x' | b'X') {
        if let Some(r) = hex_float(s, i + 2) {
            return (sign * r.0, r.1, r.2);
        }
    }
    // Decimal: digits, an optional fraction, an optional exponent with at least one digit.
    let mut j = i;
    let digits = |j: &mut usize| {
        let from = *j;
        while s.get(*j).is_some_and(u8::is_ascii_digit) {
            *j += 1;
        }
        *j - from
    };
    let mut n = digits(&mut j);
    if s.get(j) == Some(&b'.') {
        let mut k = j + 1;
        let frac = digits(&mut k);
        if n + frac > 0 {
            j = k;
            n += frac;
        }
    }
    if n == 0 {
        return (0.0, 0, false);
    }
    if matches!(s.get(j), Some(b'e' | b'E')) {
        let mut k = j + 1;
        if matches!(s.get(k), Some(b'+' | b'-')) {
            k += 1;
        }
        if digits(&mut k) > 0 {
            j = k;
        }
    }
    let text = std::str::from_utf8(&s[start..j]).unwrap_or("0");
    let v: f64 = text.parse().unwrap_or(0.0);
    let mantissa_nonzero = s[i..j]
        .iter()
        .take_while(|c| !matches!(c, b'e' | b'E'))
        .any(|c| matches!(c, b'1'..=b'9'));
    // glibc reports ERANGE on overflow and on underflow to zero or to a subnormal.
    let erange = v.is_infinite() || (mantissa_nonzero && v.abs() < f64::MIN_POSITIVE);
    (v, j, erange)
}

/// The hexadecimal form of `strtod` (`0x1.8p3`), from just after `0x`.
fn hex_float(s: &[u8], mut j: usize) -> Option<(f64, usize, bool)> {
    let mut mant = 0.0f64;
    let mut exp: i32 = 0;
    let mut n = 0;
    while let Some(d) = s.get(j).and_then(|c| (*c as char).to_digit(16)) {
        mant = mant * 16.0 + f64::from(d);
        j += 1;
        n += 1;
    }
    if s.get(j) == Some(&b'.') {
        let mut k = j + 1;
        let mut frac = 0;
        while let Some(d) = s.get(k).and_then(|c| (*c as char).to_digit(16)) {
            mant = mant * 16.0 + f64::from(d);
            exp = exp.saturating_sub(4);
            k += 1;
            frac += 1;
        }
        if n + frac > 0 {
            j = k;
            n += frac;
        }
    }
    if n == 0 {
        return None;
    }
    if matches!(s.get(j), Some(b'p' | b'P')) {
        let mut k = j + 1;
        let neg = match s.get(k) {
            Some(b'-') => {
                k += 1;
                true
            }
            Some(b'+') => {
                k += 1;
                false
            }
            _ => false,
        };
        let from = k;
        let mut e: i32 = 0;
        while let Some(d) = s.get(k).filter(|c| c.is_ascii_digit()) {
            e = e.saturating_mul(10).saturating_add(i32::from(d - b'0'));
            k += 1;
        }
        if k > from {
            exp = exp.saturating_add(if neg { -e } else { e });
            j = k;
        }
    }
    let v = mant * 2f64.powi(exp);
    Some((v, j, v.is_infinite()))
}

/// `convert_to_base_unit` of PostgreSQL 12 and later: the unit text after the number (spaces
/// allowed around it, at most three letters), then the value in the base unit, rounded to a
/// whole number of the next smaller unit when there is one.
fn convert(value: f64, rest: &[u8], kind: UnitKind, base: f64, major: u32) -> Option<f64> {
    let mut end = 0;
    while end < rest.len() && end < 3 && !is_space(rest[end]) {
        end += 1;
    }
    let unit = std::str::from_utf8(&rest[..end]).ok()?;
    if skip_space(rest, end) != rest.len() {
        return None;
    }
    let table = units(kind, major);
    let i = table.iter().position(|(n, _)| *n == unit)?;
    // The multiplier of a unit smaller than the base is a fraction, as in guc.c.
    let mult = |size: f64| {
        if size >= base {
            size / base
        } else {
            1.0 / (base / size)
        }
    };
    let size = table[i].1;
    let mut v = value * mult(size);
    if let Some((_, next)) = table.get(i + 1) {
        let m = mult(*next);
        v = (v / m).round_ties_even() * m;
    }
    Some(v)
}

/// `parse_int` of PostgreSQL 12 and later.
fn parse_int(s: &[u8], unit: Option<(UnitKind, f64)>, major: u32) -> Result<f64, Problem> {
    let (lv, mut end, overflow) = strtol(s);
    let mut val = lv as f64;
    if matches!(s.get(end), Some(b'.' | b'e' | b'E')) || overflow {
        let (dv, e, erange) = strtod(s);
        if erange {
            return Err(Problem::NotNumber);
        }
        val = dv;
        end = e;
    }
    if end == 0 || val.is_nan() {
        return Err(Problem::NotNumber);
    }
    let end = skip_space(s, end);
    if end < s.len() {
        let Some((kind, base)) = unit else {
            return Err(Problem::UnitNotAllowed);
        };
        val = convert(val, &s[end..], kind, base, major).ok_or_else(|| bad_unit(&s[end..]))?;
    }
    let val = val.round_ties_even();
    if val > f64::from(i32::MAX) || val < f64::from(i32::MIN) {
        return Err(Problem::IntegerRange);
    }
    Ok(val)
}

/// `parse_int` of PostgreSQL 10 and 11: whole numbers only, converted with integer arithmetic.
fn parse_int_old(s: &[u8], unit: Option<(UnitKind, f64)>, major: u32) -> Result<f64, Problem> {
    let (v, end, overflow) = strtol(s);
    if end == 0 {
        return Err(Problem::NotNumber);
    }
    if overflow || i32::try_from(v).is_err() {
        return Err(Problem::IntegerRange);
    }
    // A fraction or an exponent is not a unit: 10 and 11 take whole numbers only.
    if matches!(s.get(end), Some(b'.' | b'e' | b'E')) && unit.is_none() {
        return Err(Problem::NotNumber);
    }
    let mut end = skip_space(s, end);
    let mut v = v;
    if end < s.len() {
        let Some((kind, base)) = unit else {
            return Err(Problem::UnitNotAllowed);
        };
        let rest = &s[end..];
        let mut len = 0;
        while len < rest.len() && len < 3 && !is_space(rest[len]) {
            len += 1;
        }
        let unit_text = std::str::from_utf8(&rest[..len]).unwrap_or("");
        end = skip_space(s, end + len);
        let size = units(kind, major)
            .iter()
            .find(|(n, _)| *n == unit_text)
            .map(|(_, size)| *size)
            .filter(|_| end == s.len())
            .ok_or_else(|| bad_unit(rest))?;
        // Sizes are whole numbers of bytes and microseconds, so these casts are exact.
        v = if size >= base {
            v * (size / base) as i64
        } else {
            v / (base / size) as i64
        };
        if i32::try_from(v).is_err() {
            return Err(Problem::IntegerRange);
        }
    }
    Ok(v as f64)
}

fn bad_unit(rest: &[u8]) -> Problem {
    let text = String::from_utf8_lossy(rest);
    Problem::BadUnit {
        unit: text
            .trim_matches(|c: char| c.is_ascii() && is_space(c as u8))
            .to_owned(),
    }
}

/// `parse_real`.
fn parse_real(s: &[u8], unit: Option<(UnitKind, f64)>, major: u32) -> Result<f64, Problem> {
    let (mut val, end, erange) = strtod(s);
    if end == 0 || erange {
        return Err(Problem::NotNumber);
    }
    if val.is_nan() {
        return Err(Problem::NotNumber);
    }
    let end = skip_space(s, end);
    if end < s.len() {
        // Reals took units in PostgreSQL 12 (vacuum_cost_delay became one).
        let Some((kind, base)) = unit.filter(|_| major >= 12) else {
            return Err(Problem::UnitNotAllowed);
        };
        val = convert(val, &s[end..], kind, base, major).ok_or_else(|| bad_unit(&s[end..]))?;
    }
    Ok(val)
}

/// `parse_bool`: on/off, true/false, yes/no, 1/0, and any unambiguous prefix, in any case.
pub fn parse_bool(s: &str) -> Option<bool> {
    let lower = s.to_ascii_lowercase();
    let prefix = |word: &str, min: usize| lower.len() >= min && word.starts_with(&lower);
    match lower.as_bytes().first()? {
        b't' if prefix("true", 1) => Some(true),
        b'f' if prefix("false", 1) => Some(false),
        b'y' if prefix("yes", 1) => Some(true),
        b'n' if prefix("no", 1) => Some(false),
        b'o' if prefix("on", 2) => Some(true),
        b'o' if prefix("off", 2) => Some(false),
        b'1' if lower.len() == 1 => Some(true),
        b'0' if lower.len() == 1 => Some(false),
        _ => None,
    }
}

/// PostgreSQL's verdict on `value` for `setting` in `major`, as postgresql.conf would give it.
pub fn check(setting: &Setting, major: u32, value: &str) -> Result<Parsed, Problem> {
    let unit = base_unit(setting.unit);
    let s = value.as_bytes();
    match setting.vartype {
        VarType::Bool => parse_bool(value).map(Parsed::Bool).ok_or(Problem::NotBool),
        VarType::String => Ok(Parsed::Text),
        VarType::Enum => setting
            .enum_values
            .iter()
            .chain(&setting.hidden_values)
            .any(|v| v.eq_ignore_ascii_case(value))
            .then_some(Parsed::Text)
            .ok_or(Problem::NotEnum),
        VarType::Integer | VarType::Real => {
            let v = match setting.vartype {
                VarType::Integer if major >= 12 => parse_int(s, unit, major)?,
                VarType::Integer => parse_int_old(s, unit, major)?,
                _ => parse_real(s, unit, major)?,
            };
            if v < setting.min || v > setting.max {
                return Err(Problem::OutOfRange { value: v });
            }
            Ok(Parsed::Number(v))
        }
    }
}

/// A number of the setting's base unit, in the largest unit that states it exactly: `16` of
/// `8kB` is `128kB`, `86400` of `s` is `1d`. Without a unit, the number alone.
pub fn human(value: f64, setting: &Setting, major: u32) -> String {
    let Some((kind, base)) = base_unit(setting.unit) else {
        return format_number(value);
    };
    if value.fract() == 0.0 && value != 0.0 && value.abs() < 1e15 {
        let atoms = value * base;
        for (name, size) in units(kind, major) {
            if atoms % size == 0.0 {
                return format!("{}{name}", format_number(atoms / size));
            }
        }
    }
    format!("{}{}", format_number(value), setting.unit)
}

fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::pg_params::catalogue;

    fn check17(name: &str, value: &str) -> Result<Parsed, Problem> {
        check(catalogue(17).unwrap().get(name).unwrap(), 17, value)
    }

    #[test]
    fn booleans_take_every_spelling_and_unique_prefixes() {
        for (s, b) in [
            ("on", true),
            ("OFF", false),
            ("t", true),
            ("fal", false),
            ("Yes", true),
            ("n", false),
            ("1", true),
            ("0", false),
        ] {
            assert_eq!(parse_bool(s), Some(b), "{s}");
        }
        for s in ["o", "", "2", "onn", " on", "truex", "00"] {
            assert_eq!(parse_bool(s), None, "{s:?}");
        }
    }

    #[test]
    fn memory_units_scale_to_the_base_unit() {
        // shared_buffers counts 8kB blocks.
        assert_eq!(
            check17("shared_buffers", "8GB"),
            Ok(Parsed::Number(1048576.0))
        );
        assert_eq!(
            check17("shared_buffers", "8 GB "),
            Ok(Parsed::Number(1048576.0))
        );
        assert_eq!(
            check17("shared_buffers", "1.5GB"),
            Ok(Parsed::Number(196608.0))
        );
        assert_eq!(check17("work_mem", "4MB"), Ok(Parsed::Number(4096.0)));
        assert_eq!(
            check17("shared_buffers", "8XB"),
            Err(Problem::BadUnit { unit: "XB".into() })
        );
        // Units are case-sensitive, as in PostgreSQL.
        assert!(check17("shared_buffers", "8gb").is_err());
        assert_eq!(
            check17("shared_buffers", "15"),
            Err(Problem::OutOfRange { value: 15.0 })
        );
    }

    #[test]
    fn time_units_scale_and_memory_units_do_not_fit_a_time() {
        assert_eq!(
            check17("checkpoint_timeout", "5min"),
            Ok(Parsed::Number(300.0))
        );
        assert_eq!(
            check17("checkpoint_timeout", "1.5min"),
            Ok(Parsed::Number(90.0))
        );
        assert_eq!(
            check17("checkpoint_timeout", "1GB"),
            Err(Problem::BadUnit { unit: "GB".into() })
        );
        assert!(other_kind("GB", UnitKind::Time));
        assert_eq!(
            check17("checkpoint_timeout", "2d"),
            Err(Problem::OutOfRange { value: 172800.0 })
        );
        assert_eq!(
            check17("log_min_duration_statement", "250us"),
            Ok(Parsed::Number(0.0))
        );
    }

    #[test]
    fn integers_read_as_strtol_and_strtod_do() {
        assert_eq!(check17("max_connections", "0x10"), Ok(Parsed::Number(16.0)));
        assert_eq!(check17("max_connections", "010"), Ok(Parsed::Number(8.0)));
        assert_eq!(check17("max_connections", "1e2"), Ok(Parsed::Number(100.0)));
        assert_eq!(check17("max_connections", "1.5"), Ok(Parsed::Number(2.0)));
        assert_eq!(
            check17("max_connections", "100kB"),
            Err(Problem::UnitNotAllowed)
        );
        assert_eq!(check17("max_connections", "abc"), Err(Problem::NotNumber));
        assert_eq!(
            check17("max_connections", "9999999999999"),
            Err(Problem::IntegerRange)
        );
    }

    #[test]
    fn reals_refuse_nan_and_infinity() {
        assert_eq!(
            check17("checkpoint_completion_target", "0.9"),
            Ok(Parsed::Number(0.9))
        );
        assert_eq!(
            check17("checkpoint_completion_target", "NaN"),
            Err(Problem::NotNumber)
        );
        assert!(matches!(
            check17("checkpoint_completion_target", "inf"),
            Err(Problem::OutOfRange { .. })
        ));
        assert_eq!(
            check17("vacuum_cost_delay", "0.5ms"),
            Ok(Parsed::Number(0.5))
        );
    }

    #[test]
    fn enums_ignore_case_and_take_hidden_spellings() {
        assert_eq!(check17("wal_level", "REPLICA"), Ok(Parsed::Text));
        assert_eq!(check17("wal_level", "hot_standby"), Ok(Parsed::Text));
        assert_eq!(check17("synchronous_commit", "true"), Ok(Parsed::Text));
        assert_eq!(check17("wal_compression", "lz4"), Ok(Parsed::Text));
        assert_eq!(check17("wal_level", "bogus"), Err(Problem::NotEnum));
    }

    #[test]
    fn older_majors_keep_their_rules() {
        let c = catalogue(11).unwrap();
        let mc = c.get("max_connections").unwrap();
        assert_eq!(check(mc, 11, "1.5"), Err(Problem::NotNumber));
        let sb = c.get("shared_buffers").unwrap();
        assert_eq!(check(sb, 11, "1GB"), Ok(Parsed::Number(131072.0)));
    }

    #[test]
    fn human_picks_the_largest_exact_unit() {
        let c = catalogue(17).unwrap();
        assert_eq!(human(16.0, c.get("shared_buffers").unwrap(), 17), "128kB");
        assert_eq!(
            human(86400.0, c.get("checkpoint_timeout").unwrap(), 17),
            "1d"
        );
        assert_eq!(human(100.0, c.get("max_connections").unwrap(), 17), "100");
    }
}
