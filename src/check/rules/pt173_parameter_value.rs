//! PT173 parameter-value
//!
//! What: every value under `parameters` is one PostgreSQL accepts for that setting in the
//! cluster's `postgres version`, read the way the server reads postgresql.conf: a boolean
//! (on/off, true/false, yes/no, 1/0 and their unique prefixes), an integer or real number with an
//! optional unit of the setting's kind (B, kB, MB, GB, TB for memory; us, ms, s, min, h, d for
//! time, case-sensitive), scaled to the setting's base unit and inside its range, or one of an
//! enum's values (any case). The types, units, ranges and enum values come from the catalogue
//! generated from real servers (src/check/pg_params.rs). KDL's `#nan`, `#inf` and `#-inf` are
//! refused for every parameter, extension settings included: postgresql.conf has no way to write
//! them. Extension settings (`name.with.dot`) are otherwise not checked, and neither are strings.
//! Why: PostgreSQL refuses to start on a value it cannot read (`shared_buffers = '8XB'`) and
//! ignores a changed one on reload, so the mistake shows up on a server, after the deploy;
//! `checkpoint_completion_target #nan` was written out as `NaN`.
//! Example: `checkpoint_timeout "1GB"` (a size for a time), `wal_level "archive2"`.

use crate::check::pg_params::{catalogue, Setting, VarType};
use crate::check::pg_value::{check, human, other_kind, unit_kind, unit_names, Problem, UnitKind};
use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};
use crate::model::ParamValue;
use crate::plan::params::plain_value;

pub const RULE: Rule = Rule {
    code: codes::PT173,
    run,
};

/// The value as the topology wrote it, for the message.
fn written(v: &ParamValue) -> String {
    match v {
        ParamValue::String(s) => format!("{s:?}"),
        ParamValue::Bool(b) => if *b { "#true" } else { "#false" }.to_owned(),
        _ => plain_value(v),
    }
}

/// The base unit in words: "8kB blocks", "seconds".
fn unit_words(unit: &str) -> &str {
    match unit {
        "B" => "bytes",
        "kB" => "kilobytes",
        "8kB" => "8kB blocks",
        "MB" => "megabytes",
        "us" => "microseconds",
        "ms" => "milliseconds",
        "s" => "seconds",
        "min" => "minutes",
        other => other,
    }
}

/// What a number of this setting is, for help lines: "`work_mem` is a memory size: …".
fn describe(s: &Setting, major: u32) -> String {
    let range = if s.min.is_finite() && s.max.is_finite() {
        format!(
            "; from {} to {}",
            human(s.min, s, major),
            human(s.max, s, major)
        )
    } else {
        String::new()
    };
    let what = if s.vartype == VarType::Integer {
        "a whole number"
    } else {
        "a number"
    };
    match unit_kind(s) {
        Some(kind) => {
            let kind_name = match kind {
                UnitKind::Memory => "a memory size",
                UnitKind::Time => "a time",
            };
            format!(
                "`{}` is {kind_name}: {what} of {}, or a number with one of the units {} (case matters){range}",
                s.name,
                unit_words(s.unit),
                unit_names(kind, major)
            )
        }
        None => format!("`{}` is {what} without a unit{range}", s.name),
    }
}

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    for c in &cx.topo.clusters {
        let major = c.postgres.version.value;
        for (name, p) in &c.parameters {
            if let ParamValue::Float(f) = p.value {
                if !f.is_finite() {
                    let kdl = if f.is_nan() {
                        "#nan"
                    } else if f > 0.0 {
                        "#inf"
                    } else {
                        "#-inf"
                    };
                    out.push(
                        Diagnostic::error(
                            codes::PT173,
                            format!("`{name}` cannot be {kdl}: PostgreSQL has no such value"),
                        )
                        .with_span(p.span, "not a finite number")
                        .with_help("write a finite number (postgresql.conf cannot spell NaN or infinity), or a string if text is meant"),
                    );
                    continue;
                }
            }
            // Extension settings belong to their extension, and an unknown name is PT113's.
            if name.contains('.') {
                continue;
            }
            let Some(setting) = catalogue(major).and_then(|cat| cat.get(name)) else {
                continue;
            };
            if setting.read_only() {
                continue;
            }
            let raw = plain_value(&p.value);
            let Err(problem) = check(setting, major, &raw) else {
                continue;
            };
            let shown = written(&p.value);
            let sname = setting.name;
            let (msg, label, help) = match problem {
                Problem::NotBool => (
                    format!("`{sname}` is a boolean; {shown} is not one"),
                    "not a boolean".to_owned(),
                    "write #true or #false (PostgreSQL also reads on/off, yes/no, 1/0)".to_owned(),
                ),
                Problem::NotEnum => {
                    let values: Vec<&str> = setting
                        .enum_values
                        .iter()
                        .map(|v| if v.is_empty() { "\"\"" } else { v })
                        .collect();
                    let values = values.join(", ");
                    (
                        format!("{shown} is not a value of `{sname}`"),
                        "not one of its values".to_owned(),
                        format!("PostgreSQL {major} accepts one of: {values} (in any case)"),
                    )
                }
                Problem::NotNumber => (
                    format!("`{sname}` is a number; {shown} is not one"),
                    "not a number".to_owned(),
                    describe(setting, major),
                ),
                Problem::UnitNotAllowed => (
                    format!("`{sname}` takes no unit; {shown} has one"),
                    "a plain number expected".to_owned(),
                    describe(setting, major),
                ),
                Problem::BadUnit { unit } => {
                    let kind = unit_kind(setting);
                    let msg = match kind {
                        Some(k) if other_kind(&unit, k) => {
                            let (is, given) = match k {
                                UnitKind::Time => ("a time", "a memory size"),
                                UnitKind::Memory => ("a memory size", "a time"),
                            };
                            format!("`{sname}` is {is}, but {shown} is {given}")
                        }
                        _ => format!(
                            "{shown}: `{unit}` is not a unit PostgreSQL knows for `{sname}`"
                        ),
                    };
                    (
                        msg,
                        format!("`{unit}` is not a unit of this setting"),
                        describe(setting, major),
                    )
                }
                Problem::IntegerRange => (
                    format!("{shown} does not fit `{sname}`, a 32-bit integer"),
                    "too large".to_owned(),
                    describe(setting, major),
                ),
                Problem::OutOfRange { value } => (
                    format!("{shown} is outside the range of `{sname}` in PostgreSQL {major}"),
                    format!("{} is out of range", human(value, setting, major)),
                    describe(setting, major),
                ),
            };
            // The message names the major where the answer depends on it (ranges, enums).
            out.push(
                Diagnostic::error(codes::PT173, msg)
                    .with_span(p.span, label)
                    .with_help(help),
            );
        }
    }
}
