//! PostgreSQL's parameter catalogue, for PT113 (a parameter unknown in the declared major), PT173
//! (a value PostgreSQL would refuse) and the restart-needed risk notes of `diff`.
//!
//! The catalogue is not written by hand: `pg_catalog/pgNN.tsv` is `pg_settings` (name, context,
//! vartype, unit, min_val, max_val, enumvals) of a real PostgreSQL server of each major, with the
//! enum spellings the server accepts without listing them, as `tools/pg-catalog/generate.sh`
//! dumped it (each file's header names the server package and its checksums). The files are
//! compiled in and each is parsed the first time a topology asks about its major, so a lint that
//! only reads one major parses one file (all nine are parsed only to say where an unknown name
//! exists), which keeps `lint` as fast as it was with the hand-kept table (docs/performance.md).
//!
//! The servers the generator runs are built without lz4, zstd and liburing, so the values those
//! build options add to an enum come from `pg_catalog/build-options.tsv`, the one hand-kept file.

use std::cmp::Ordering;
use std::sync::OnceLock;

/// The oldest and newest majors the catalogue describes.
pub const FIRST_MAJOR: u32 = 10;
pub const LAST_MAJOR: u32 = 18;

const SOURCES: [&str; (LAST_MAJOR - FIRST_MAJOR + 1) as usize] = [
    include_str!("pg_catalog/pg10.tsv"),
    include_str!("pg_catalog/pg11.tsv"),
    include_str!("pg_catalog/pg12.tsv"),
    include_str!("pg_catalog/pg13.tsv"),
    include_str!("pg_catalog/pg14.tsv"),
    include_str!("pg_catalog/pg15.tsv"),
    include_str!("pg_catalog/pg16.tsv"),
    include_str!("pg_catalog/pg17.tsv"),
    include_str!("pg_catalog/pg18.tsv"),
];

const BUILD_OPTIONS: &str = include_str!("pg_catalog/build-options.tsv");

/// `pg_settings.vartype`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VarType {
    Bool,
    Integer,
    Real,
    Enum,
    String,
}

/// One row of `pg_settings`.
#[derive(Clone, Debug)]
pub struct Setting {
    /// As PostgreSQL spells it (`shared_buffers`, `DateStyle`).
    pub name: &'static str,
    /// `postmaster` (restart), `sighup` (reload), `user`, `internal` (read-only)…
    pub context: &'static str,
    pub vartype: VarType,
    /// The base unit of a number: `""`, `B`, `kB`, `8kB`, `MB`, `us`, `ms`, `s`, `min`.
    pub unit: &'static str,
    /// The range of a number, in the base unit.
    pub min: f64,
    pub max: f64,
    /// The values `pg_settings.enumvals` lists, then those a build option adds.
    pub enum_values: Vec<&'static str>,
    /// Spellings the server accepts without listing them (`synchronous_commit = true`).
    pub hidden_values: Vec<&'static str>,
}

impl Setting {
    /// Whether PostgreSQL refuses to set it at all (`block_size`, `server_version`).
    pub fn read_only(&self) -> bool {
        self.context == "internal"
    }
}

/// The settings of one major, sorted by their lower-case names.
pub struct Catalogue {
    pub major: u32,
    settings: Vec<Setting>,
}

/// PostgreSQL compares setting names without regard to case.
fn cmp_ignore_case(a: &str, b: &str) -> Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

impl Catalogue {
    /// The setting a postgresql.conf line names, in any letter case as PostgreSQL allows.
    pub fn get(&self, name: &str) -> Option<&Setting> {
        self.settings
            .binary_search_by(|s| cmp_ignore_case(s.name, name))
            .ok()
            .map(|i| &self.settings[i])
    }

    pub fn settings(&self) -> &[Setting] {
        &self.settings
    }
}

fn parse_type(t: &str) -> VarType {
    match t {
        "bool" => VarType::Bool,
        "integer" => VarType::Integer,
        "real" => VarType::Real,
        "enum" => VarType::Enum,
        _ => VarType::String,
    }
}

/// A comma-separated list of the data files, where `""` stands for the empty value
/// (`ssl_max_protocol_version = ''` means "no maximum").
fn list(field: &'static str) -> Vec<&'static str> {
    field
        .split(',')
        .filter(|v| !v.is_empty())
        .map(|v| if v == "\"\"" { "" } else { v })
        .collect()
}

fn parse(major: u32, text: &'static str) -> Catalogue {
    let mut settings: Vec<Setting> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|line| {
            let mut f = line.split('\t');
            let mut next = || f.next().unwrap_or("");
            let name = next();
            let context = next();
            let vartype = parse_type(next());
            let unit = next();
            let min = next().parse().unwrap_or(f64::NEG_INFINITY);
            let max = next().parse().unwrap_or(f64::INFINITY);
            let enum_values = list(next());
            let hidden_values = list(next());
            Setting {
                name,
                context,
                vartype,
                unit,
                min,
                max,
                enum_values,
                hidden_values,
            }
        })
        .collect();
    for line in BUILD_OPTIONS.lines().filter(|l| !l.starts_with('#')) {
        let mut f = line.split('\t');
        if let (Some(name), Some(value)) = (f.next(), f.next()) {
            if let Some(s) = settings.iter_mut().find(|s| s.name == name) {
                if s.vartype == VarType::Enum && !s.enum_values.contains(&value) {
                    s.enum_values.push(value);
                }
            }
        }
    }
    settings.sort_by(|a, b| cmp_ignore_case(a.name, b.name));
    Catalogue { major, settings }
}

/// The catalogue of one major, or `None` outside `FIRST_MAJOR..=LAST_MAJOR`.
pub fn catalogue(major: u32) -> Option<&'static Catalogue> {
    static CATALOGUES: [OnceLock<Catalogue>; SOURCES.len()] =
        [const { OnceLock::new() }; SOURCES.len()];
    let i = major.checked_sub(FIRST_MAJOR)? as usize;
    let text = SOURCES.get(i)?;
    Some(CATALOGUES[i].get_or_init(|| parse(major, text)))
}

fn catalogues() -> impl Iterator<Item = &'static Catalogue> {
    (FIRST_MAJOR..=LAST_MAJOR).filter_map(catalogue)
}

/// Why a parameter is not available in a major version, if it is not.
#[derive(Debug, PartialEq, Eq)]
pub enum Availability {
    Available,
    /// Known, but PostgreSQL does not let it be set (`internal` context).
    ReadOnly,
    /// Known in another letter case than PostgreSQL's own or all lower case (`Max_Connections`):
    /// PostgreSQL would read it, but pgtopo's own checks compare names exactly.
    Spelling(&'static str),
    /// Known, but only in these majors of the catalogue (first, last).
    OtherVersions(u32, u32),
    Unknown,
    /// The catalogue does not describe this major.
    NoCatalogue,
}

pub fn availability(name: &str, major: u32) -> Availability {
    // Custom (extension) settings are spelled `extension.name`; PostgreSQL accepts any of them.
    if name.contains('.') {
        return Availability::Available;
    }
    let Some(cat) = catalogue(major) else {
        return Availability::NoCatalogue;
    };
    match cat.get(name) {
        Some(s) if s.read_only() => return Availability::ReadOnly,
        Some(s) if s.name != name && !s.name.to_ascii_lowercase().eq(name) => {
            return Availability::Spelling(s.name)
        }
        Some(_) => return Availability::Available,
        None => {}
    }
    let mut have = catalogues()
        .filter(|c| c.get(name).is_some_and(|s| !s.read_only()))
        .map(|c| c.major);
    match have.next() {
        Some(first) => Availability::OtherVersions(first, have.last().unwrap_or(first)),
        None => Availability::Unknown,
    }
}

/// Whether changing the parameter needs a server restart (`postmaster` context) in this major;
/// a major the catalogue does not describe is read as the nearest one it does.
pub fn needs_restart(name: &str, major: u32) -> bool {
    catalogue(major.clamp(FIRST_MAJOR, LAST_MAJOR))
        .and_then(|c| c.get(name))
        .is_some_and(|s| s.context == "postmaster")
}

/// Every settable name of every major, for "did you mean".
pub fn all_names() -> impl Iterator<Item = &'static str> {
    static NAMES: OnceLock<Vec<&'static str>> = OnceLock::new();
    NAMES
        .get_or_init(|| {
            let mut v: Vec<&'static str> = catalogues()
                .flat_map(|c| c.settings.iter())
                .filter(|s| !s.read_only())
                .map(|s| s.name)
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        })
        .iter()
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_major_parses_and_is_sorted() {
        for c in catalogues() {
            assert!(c.settings.len() > 250, "PostgreSQL {}", c.major);
            assert!(c
                .settings
                .windows(2)
                .all(|w| cmp_ignore_case(w[0].name, w[1].name) == Ordering::Less));
        }
    }

    #[test]
    fn names_are_found_in_any_case() {
        let c = catalogue(17).unwrap();
        assert_eq!(c.get("datestyle").unwrap().name, "DateStyle");
        assert_eq!(c.get("shared_buffers").unwrap().unit, "8kB");
        assert!(c.get("wal_keep_segments").is_none());
    }

    #[test]
    fn availability_follows_the_majors() {
        assert_eq!(availability("wal_keep_size", 15), Availability::Available);
        assert_eq!(
            availability("wal_keep_segments", 15),
            Availability::OtherVersions(10, 12)
        );
        assert_eq!(
            availability("wal_keep_size", 12),
            Availability::OtherVersions(13, LAST_MAJOR)
        );
        assert_eq!(availability("block_size", 15), Availability::ReadOnly);
        assert_eq!(availability("timezone", 15), Availability::Available);
        assert_eq!(availability("TimeZone", 15), Availability::Available);
        assert_eq!(
            availability("Max_Connections", 15),
            Availability::Spelling("max_connections")
        );
        assert_eq!(availability("shared_bufers", 15), Availability::Unknown);
        assert_eq!(
            availability("pg_stat_statements.max", 15),
            Availability::Available
        );
        assert_eq!(availability("shared_buffers", 9), Availability::NoCatalogue);
    }

    #[test]
    fn restart_follows_the_context_of_the_major() {
        assert!(needs_restart("shared_buffers", 15));
        assert!(!needs_restart("work_mem", 15));
        // A major newer than the catalogue is read as the newest one.
        assert!(needs_restart("max_connections", 99));
    }

    #[test]
    fn build_options_add_enum_values() {
        let c = catalogue(16).unwrap();
        let wc = c.get("wal_compression").unwrap();
        assert!(wc.enum_values.contains(&"lz4") && wc.enum_values.contains(&"zstd"));
        // 14's wal_compression is a bool: an enum value would mean nothing there.
        assert_eq!(
            catalogue(14)
                .unwrap()
                .get("wal_compression")
                .unwrap()
                .vartype,
            VarType::Bool
        );
    }
}
