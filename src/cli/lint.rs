//! `pgtopo lint [FILES…]`.

use std::path::PathBuf;

use clap::ValueEnum;

use pgtopo::diag::{codes, to_json, Severity};

use pgtopo::driver::Envs;

use super::{load_for, render, write_stdout, Ctx, Exit, Input};

#[derive(clap::Args)]
pub struct Args {
    /// Topology files to check (default: the topology file, see --file).
    files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Exit 1 on warnings too.
    #[arg(long)]
    deny_warnings: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// Source excerpts with labels and help, like a compiler.
    Human,
    /// One JSON array of records (code, severity, message, file, line, column, end_line,
    /// end_column, label, help, env).
    Json,
    /// SARIF 2.1.0, for GitHub code scanning and other SARIF readers.
    Sarif,
    /// GitHub Actions workflow commands (`::error file=…,line=…::…`), shown as annotations.
    Github,
}

pub fn run(ctx: &Ctx, args: &Args) -> Exit {
    let files = if args.files.is_empty() {
        vec![ctx.topology_path()]
    } else {
        args.files.iter().cloned().map(Input::argument).collect()
    };
    let mut io_error = false;
    let (mut errors, mut warnings) = (0usize, 0usize);
    let mut human = String::new();
    let mut json: Vec<serde_json::Value> = Vec::new();
    for input in &files {
        let loaded = match load_for(ctx, input, Envs::CheckOnly) {
            Ok(l) => l,
            Err(_) => {
                io_error = true;
                continue;
            }
        };
        let diags = &loaded.compilation.diagnostics;
        errors += diags
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        warnings += diags
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count();
        match args.format {
            Format::Human => human.push_str(&render(ctx, &loaded, diags)),
            Format::Json | Format::Sarif | Format::Github => {
                for d in diags {
                    json.push(
                        serde_json::to_value(to_json(d, &loaded.display, &loaded.source))
                            .expect("plain data serializes"),
                    );
                }
            }
        }
    }
    let text = match args.format {
        Format::Human => {
            if errors + warnings > 0 {
                human.push_str(&format!(
                    "{errors} error(s), {warnings} warning(s) in {} file(s)\n",
                    files.len()
                ));
            }
            human
        }
        Format::Json => serde_json::to_string_pretty(&json).expect("plain data serializes") + "\n",
        Format::Sarif => {
            serde_json::to_string_pretty(&sarif(&json)).expect("plain data serializes") + "\n"
        }
        Format::Github => json.iter().map(github).collect(),
    };
    // A reader that closed the pipe (`| head`) still gets lint's verdict in the exit code.
    if let Err(exit @ Exit::Io) = write_stdout(ctx, &text) {
        return exit;
    }
    if io_error {
        Exit::Io
    } else if errors > 0 || (args.deny_warnings && warnings > 0) {
        Exit::Findings
    } else {
        Exit::Success
    }
}

/// A SARIF 2.1.0 log with one run: every code pgtopo can report as a rule, every finding as a
/// result with its region (1-based lines and columns, as SARIF wants).
fn sarif(records: &[serde_json::Value]) -> serde_json::Value {
    use serde_json::json;
    let rules: Vec<serde_json::Value> = codes::ALL
        .iter()
        .map(|c| {
            json!({"id": c.as_str(), "name": c.name(), "shortDescription": {"text": c.summary()},
                   "help": {"text": "see docs/language.md, section \"Lint codes\""}})
        })
        .collect();
    let results: Vec<serde_json::Value> = records
        .iter()
        .map(|r| {
            let mut message = r["message"].as_str().unwrap_or_default().to_owned();
            if let Some(env) = r["env"].as_str() {
                message.push_str(&format!(" (in env \"{env}\")"));
            }
            if let Some(help) = r["help"].as_str() {
                message.push_str(&format!("\nhelp: {help}"));
            }
            let mut location =
                json!({"physicalLocation": {"artifactLocation": {"uri": r["file"]}}});
            if r["line"].as_u64().unwrap_or(0) > 0 {
                location["physicalLocation"]["region"] = json!({
                    "startLine": r["line"], "startColumn": r["column"],
                    "endLine": r["end_line"], "endColumn": r["end_column"],
                });
            }
            json!({
                "ruleId": r["code"],
                "level": if r["severity"] == "error" { "error" } else { "warning" },
                "message": {"text": message},
                "locations": [location],
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "pgtopo",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }],
    })
}

/// One GitHub Actions annotation. Property values escape `%`, CR, LF, `:` and `,`; the message
/// escapes `%`, CR and LF, as the workflow-command format requires.
fn github(r: &serde_json::Value) -> String {
    let data = |s: &str| {
        s.replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    };
    let prop = |s: &str| data(s).replace(':', "%3A").replace(',', "%2C");
    let level = if r["severity"] == "error" {
        "error"
    } else {
        "warning"
    };
    let mut props = format!("file={}", prop(r["file"].as_str().unwrap_or_default()));
    if r["line"].as_u64().unwrap_or(0) > 0 {
        props.push_str(&format!(
            ",line={},col={},endLine={},endColumn={}",
            r["line"], r["column"], r["end_line"], r["end_column"]
        ));
    }
    props.push_str(&format!(
        ",title={}",
        prop(r["code"].as_str().unwrap_or_default())
    ));
    let mut msg = r["message"].as_str().unwrap_or_default().to_owned();
    if let Some(env) = r["env"].as_str() {
        msg.push_str(&format!(" (in env \"{env}\")"));
    }
    if let Some(help) = r["help"].as_str() {
        msg.push_str(&format!("\nhelp: {help}"));
    }
    format!("::{level} {props}::{}\n", data(&msg))
}
