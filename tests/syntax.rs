//! The parser against KDL itself: the official KDL 2 test suite, the fast path against the `kdl`
//! crate on the suite and on documents generated near every limit, the input limits against
//! every way of hiding nesting from a scan that is not KDL's own, and `fmt` over the suite.

mod common;

use std::path::PathBuf;
use std::process::Command;

use pgtopo::syntax::{self, fast, fmt::format};

/// Suite inputs where the `kdl` crate (6.7.1), which stays the authority, disagrees with the
/// suite, with the upstream reference for each. The test fails when one of them stops
/// diverging, so the list stays true.
const CRATE_DIVERGES: &[(&str, &str)] = &[
    (
        "multiline_raw_string_single_line_err_fail.kdl",
        "kdl-org/kdl#423: the crate reads `#\"\"\"one line\"\"\"#` as a single-line raw string (`\"\"` is its opening quote and a quote), as the issue argues the grammar allows",
    ),
    (
        "unicode_delete_fail.kdl",
        "the crate's list of disallowed code points (`is_disallowed_unicode` in kdl 6.7.1 src/v2_parser.rs) leaves out U+007F DELETE, which the spec lists",
    ),
    (
        "zero_space_before_slashdash_arg.kdl",
        "kdl-org/kdl#499 (2025-01-28) made a slashdash right after a value valid, after the 2.0.0 release that kdl 6.7.1 implements",
    ),
    (
        "zero_space_before_slashdash_children.kdl",
        "kdl-org/kdl#499, as zero_space_before_slashdash_arg.kdl",
    ),
    (
        "zero_space_before_slashdash_prop.kdl",
        "kdl-org/kdl#499, as zero_space_before_slashdash_arg.kdl",
    ),
];

fn suite_dir() -> PathBuf {
    common::reference("kdl-suite")
}

/// Every suite input: (file name, text or `None` when it is not UTF-8, expected canonical text
/// when the input is valid).
fn suite() -> Vec<(String, Option<String>, Option<String>)> {
    let dir = suite_dir();
    let mut names: Vec<String> = std::fs::read_dir(dir.join("input"))
        .unwrap_or_else(|e| panic!("the KDL suite is not at {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".kdl"))
        .collect();
    names.sort();
    assert!(
        names.len() > 300,
        "the KDL suite has {} inputs",
        names.len()
    );
    names
        .into_iter()
        .map(|n| {
            let bytes = std::fs::read(dir.join("input").join(&n)).unwrap();
            let expected = std::fs::read_to_string(dir.join("expected_kdl").join(&n)).ok();
            (n, String::from_utf8(bytes).ok(), expected)
        })
        .collect()
}

fn codes(e: &[pgtopo::diag::Diagnostic]) -> Vec<&'static str> {
    e.iter().map(|d| d.code.as_str()).collect()
}

#[test]
fn the_kdl_suite_is_accepted_and_rejected_as_kdl_says() {
    let mut wrong = Vec::new();
    let mut diverging = Vec::new();
    for (name, text, expected) in suite() {
        let outcome = match &text {
            Some(t) => syntax::parse(t),
            None => Err(Vec::new()),
        };
        let problem = match (&expected, &outcome) {
            (Some(want), Ok(doc)) => {
                // The expected file is the suite's canonical form of the same document.
                let want = syntax::parse_with_kdl(want)
                    .unwrap_or_else(|e| panic!("expected_kdl/{name} does not parse: {e:?}"));
                (!doc.same_meaning(&want))
                    .then(|| format!("parses to {doc:?}, the suite says {want:?}"))
            }
            (Some(_), Err(e)) => Some(format!("rejected: {:?}", e.first().map(|d| &d.message))),
            (None, Ok(doc)) => Some(format!("accepted as {doc:?}")),
            (None, Err(e)) if text.is_some() && codes(e).iter().any(|c| *c != "PT000") => {
                Some(format!("rejected with {:?}, not PT000", codes(e)))
            }
            (None, Err(_)) => None,
        };
        let listed = CRATE_DIVERGES.iter().any(|(n, _)| *n == name);
        match (problem, listed) {
            (Some(p), false) => wrong.push(format!("{name}: {p}")),
            (None, true) => diverging.push(name),
            _ => {}
        }
    }
    assert!(
        wrong.is_empty(),
        "suite inputs read differently from the suite:\n{}",
        wrong.join("\n")
    );
    assert!(
        diverging.is_empty(),
        "listed as diverging but now read as the suite says (take them off CRATE_DIVERGES): {diverging:?}"
    );
}

/// Whenever the fast path accepts a text, the crate builds the identical tree (spans included).
fn agree(text: &str) -> bool {
    let Some(doc) = fast::parse(text) else {
        return false;
    };
    match syntax::parse_with_kdl(text) {
        Ok(slow) => assert_eq!(
            doc, slow,
            "the fast path builds a different tree for:\n{text}"
        ),
        Err(e) => panic!(
            "the fast path accepts text the kdl crate rejects ({:?}):\n{text}",
            e.first().map(|d| &d.message)
        ),
    }
    true
}

#[test]
fn the_fast_path_agrees_with_the_crate_on_the_suite() {
    let mut taken = 0;
    for (_, text, _) in suite() {
        if let Some(t) = text {
            taken += usize::from(agree(&t));
        }
    }
    // About a third of the suite is in the fast path's part of KDL; this guards the test against
    // a fast path that steps aside from everything.
    assert!(taken > 50, "the fast path took only {taken} suite inputs");
}

/// Numbers, strings and nesting at and around the limits of both parsers.
fn near_limit_documents() -> Vec<String> {
    let mut docs = Vec::new();
    let max = i128::MAX.to_string();
    let min = i128::MIN.to_string();
    let above = "170141183460469231731687303715884105728"; // 2^127
    let mut numbers: Vec<String> = vec![
        max.clone(),
        format!("-{max}"),
        format!("+{max}"),
        min.clone(),
        above.to_owned(),
        format!("-{above}"),
        format!("{max}0"),
        "0".repeat(60),
        format!("{}1", "0".repeat(60)),
        format!("-{}1", "0".repeat(60)),
        "1e309".to_owned(),
        "-0".to_owned(),
        "-0.0".to_owned(),
        "+0.5".to_owned(),
        "00.00".to_owned(),
    ];
    for digits in [37, 38, 39, 40, 60, 400] {
        let nines = "9".repeat(digits);
        let ones = "1".repeat(digits);
        numbers.extend([
            nines.clone(),
            format!("-{nines}"),
            format!("{ones}.5"),
            format!("{nines}.5"),
            format!("-{nines}.5"),
            format!("1.{ones}"),
            format!("1.{nines}"),
            format!("0.{}1", "0".repeat(digits)),
            format!("{max}.{nines}"),
        ]);
    }
    numbers.push(format!("{max}.{max}"));
    numbers.push(format!("{max}.{above}"));
    numbers.push(format!("{above}.0"));
    for n in &numbers {
        docs.push(format!("a {n}\n"));
        docs.push(format!("a k={n}\n"));
        docs.push(format!("a {{ b {n}; }}\n"));
    }
    for s in [
        String::new(),
        "x".repeat(70_000),
        "é".repeat(5_000),
        "\\\"".repeat(1_000),
        "\\\\".repeat(1_000),
        "\\n\\t\\r\\s\\b\\f".to_owned(),
        "\\u{10FFFF}".to_owned(),
        "\\u{0}".to_owned(),
        "tab\tinside".to_owned(),
        "\u{2028}".to_owned(),
        "\u{85}".to_owned(),
        "{".repeat(300),
        "}".repeat(300),
        "/*".to_owned(),
        "//".to_owned(),
        "\\\n    continued".to_owned(),
        "\\\r\n    continued".to_owned(),
    ] {
        docs.push(format!("a \"{s}\"\n"));
        docs.push(format!("\"{s}\" \"{s}\"=\"{s}\"\n"));
    }
    for depth in [1, 2, 64, 127, 128, 129, 200] {
        docs.push(format!("{}{}", "a {".repeat(depth), "}".repeat(depth)));
        docs.push(format!("{}{}", "a{".repeat(depth), "}".repeat(depth)));
        docs.push(format!("{}{}", "a {\n".repeat(depth), "}\n".repeat(depth)));
        docs.push(format!(
            "{}x 1{}",
            "a \"{\" {".repeat(depth),
            "}".repeat(depth)
        ));
        docs.push(format!(
            "{}{}",
            "a /* { */ {".repeat(depth),
            "}".repeat(depth)
        ));
    }
    docs
}

#[test]
fn the_fast_path_agrees_with_the_crate_near_every_limit() {
    let docs = near_limit_documents();
    let taken = docs.iter().filter(|d| agree(d)).count();
    assert!(
        taken > 100,
        "the fast path took only {taken} of {} generated documents",
        docs.len()
    );
    // The two numbers the fast path used to take and the crate rejects.
    for bad in [
        format!("a {}\n", i128::MIN),
        format!("a 1.{}\n", "9".repeat(39)),
        format!("a {}.5\n", "9".repeat(39)),
    ] {
        assert!(fast::parse(&bad).is_none(), "{bad}");
        let e = syntax::parse(&bad).expect_err(&bad);
        assert!(codes(&e).iter().all(|c| *c == "PT000"), "{bad}: {e:?}");
    }
}

/// The depth at which the documents below nest: well past the limit and past what the default
/// 8 MiB stack takes, so that a bypassed limit is a crash, not a pass.
const DEEP: usize = 100_000;

/// Texts that hide deep nesting, or recursion of another kind, from a scan that does not follow
/// KDL's lexical rules, with the class each one stands for.
fn deep_inputs() -> Vec<(&'static str, String)> {
    let nest = |prefix: &str| format!("{prefix}{}", "a{".repeat(DEEP));
    let mut v = vec![
        ("comment ended by CR", nest("// c\r")),
        ("comment ended by U+2028", nest("// c\u{2028}")),
        ("comment ended by U+2029", nest("// c\u{2029}")),
        ("comment ended by NEL", nest("// c\u{85}")),
        ("comment ended by VT", nest("// c\u{0b}")),
        ("comment ended by FF", nest("// c\u{0c}")),
        ("raw string containing \\\"", nest("a #\"\\\"# ")),
        ("raw string with two hashes", nest("a ##\"\"#\"## ")),
        ("block comment containing a quote", nest("/* \" */ ")),
        ("nested block comment with a quote", nest("/* /* \" */ */ ")),
        (
            "multi-line string with an escaped quote",
            nest("a \"\"\"\n\\\"\n\"\"\" "),
        ),
        (
            "multi-line raw string with a quote",
            nest("a #\"\"\"\n\"\n\"\"\"# "),
        ),
        ("string continued over a line", nest("a \"x\\\n y\" ")),
        ("plain nesting", nest("")),
        ("nesting without names", "{".repeat(DEEP)),
        ("unterminated string before nesting", nest("a \"x\n")),
        (
            "invalid escape before braces",
            format!("a \"\\q{}", "{".repeat(DEEP)),
        ),
        ("a run of stray closing braces", "}".repeat(DEEP)),
        ("a run of stray equals signs", "=".repeat(DEEP)),
        (
            "a block comment of stars",
            format!("/*{}*/ a #inf", "*".repeat(DEEP)),
        ),
        (
            "a block comment of slashes",
            format!("/*{}*/ a #inf", "a/".repeat(DEEP)),
        ),
        (
            "block comments nested deep",
            format!("{}{} a #inf", "/*".repeat(DEEP), "*/".repeat(DEEP)),
        ),
        (
            "slashdashed blocks nested",
            format!("{}{}", "a /-{".repeat(40), "}".repeat(40)),
        ),
    ];
    v.push(("many short lines of junk", "= \n".repeat(DEEP)));
    v
}

#[test]
fn hidden_nesting_is_a_diagnostic_not_a_crash() {
    let dir = common::temp_dir("syntax-deep");
    for (class, text) in deep_inputs() {
        let path = dir.join("deep.kdl");
        std::fs::write(&path, &text).unwrap();
        for args in [
            &["lint"][..],
            &["build"],
            &["fmt", "--check"],
            &["explain"],
            &["graph"],
        ] {
            let out = Command::new(env!("CARGO_BIN_EXE_pgtopo"))
                .env("NO_COLOR", "1")
                .arg("-f")
                .arg(&path)
                .args(args)
                .output()
                .unwrap();
            // `lint` prints its findings on stdout, the other commands on stderr.
            let stderr = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                out.status.code(),
                Some(1),
                "{class}: `pgtopo {args:?}` must exit 1 with a diagnostic:\n{}",
                stderr.chars().take(2000).collect::<String>()
            );
            // Some of these texts are valid KDL (a comment of stars) and fail for want of a
            // cluster; the others fail as KDL. `fmt` says the file is not valid KDL, or not a
            // topology, in its own words.
            if args[0] != "fmt" {
                assert!(
                    stderr.contains("× "),
                    "{class}: `pgtopo {args:?}` printed no diagnostic:\n{}",
                    stderr.chars().take(2000).collect::<String>()
                );
            }
        }
    }
}

#[test]
fn nesting_at_the_limit_parses_and_one_more_level_does_not() {
    let at = |n: usize| format!("{}{}", "a {".repeat(n), "}".repeat(n));
    assert!(syntax::parse(&at(syntax::MAX_DEPTH)).is_ok());
    let e = syntax::parse(&at(syntax::MAX_DEPTH + 1)).unwrap_err();
    assert!(e[0].message.contains("nested more than 128"), "{e:?}");
    // Behind a raw string the crate reads (the fast path steps aside), same limit.
    let raw = |n: usize| format!("x #\"\\\"#\n{}", at(n));
    assert!(syntax::parse(&raw(syntax::MAX_DEPTH)).is_ok());
    assert!(syntax::parse(&raw(syntax::MAX_DEPTH + 1)).is_err());
}
/// `fmt` keeps the meaning of every valid suite input, and formatting twice is formatting once.
#[test]
fn fmt_keeps_every_suite_document_and_is_idempotent() {
    let mut wrong = Vec::new();
    for (name, text, expected) in suite() {
        let (Some(text), Some(_)) = (text, expected) else {
            continue;
        };
        let Ok(before) = syntax::parse(&text) else {
            continue; // Reported by the suite test.
        };
        let once = format(&text);
        match syntax::parse(&once) {
            Ok(after) if after.same_meaning(&before) => {}
            Ok(after) => wrong.push(format!("{name}: fmt changes {before:?} into {after:?}")),
            Err(e) => wrong.push(format!(
                "{name}: fmt output does not parse ({:?}):\n{once}",
                e[0].message
            )),
        }
        let twice = format(&once);
        if twice != once {
            wrong.push(format!("{name}: not idempotent:\n{once:?}\n{twice:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
