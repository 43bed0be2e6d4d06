//! No input panics: a mutation fuzzer over bytes → parse → resolve → check → every emitter.
//!
//! Inputs are the example topologies and lint fixtures, mutated by a seeded generator (byte flips,
//! deletions, duplicated spans, spliced tokens from a KDL/pgtopo dictionary, lines swapped between
//! files). The default run is short and deterministic; `PGTOPO_FUZZ_SECONDS=600 cargo test
//! --release --test fuzz` runs longer and prints executions and time. Every crash it found became a
//! fixture in tests/fixtures/fuzz/, replayed here first.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use pgtopo::driver::compile_bytes;
use pgtopo::emit;

/// xorshift64*: tiny, seedable, and good enough to drive mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const DICTIONARY: &[&str] = &[
    "{",
    "}",
    "\"",
    "=",
    ";",
    "#true",
    "#false",
    "#null",
    "-1",
    "0",
    "99999999999999999999",
    "1e3",
    "\"\"",
    "node \"x\" role=\"primary\"",
    "role=\"sync\"",
    "role=\"async\"",
    "env \"e\" {",
    "cluster \"c\" {",
    "nodes \"x\"",
    "replica-of=\"c\"",
    "upstream=\"x\"",
    "synchronous method=\"first\" count=3",
    "slots #true",
    "pooler \"p\" kind=\"pgpool\" target=\"local\"",
    "balancer \"haproxy\" {",
    "vip \"1.2.3.4/33\" router-id=0",
    "listen \"l\" port=0 target=\"sync\"",
    "port=65536",
    "storage size=\"-1Gi\"",
    "parameters { max_connections \"x\" }",
    "failover \"patroni\" { dcs \"etcd\" { endpoint \"\" } }",
    "targets \"compose\" \"haproxy\" \"keepalived\" \"helm\" \"kubernetes\" \"hosts\"",
    "monitoring { exporter port=1 }",
    "helm chart=\"cnpg\"",
    "workload \"w\" cluster=\"c\" { load rows=0 }",
    "\u{feff}",
    "é",
    "\u{0}",
    "/*",
    "*/",
    "//",
    "/-",
    "r#\"",
    "\"\"\"",
    "\\",
    "(u8)",
    "labels yes=\"no\" a=\"~\"",
    "namespace \"\"",
];

fn mutate(rng: &mut Rng, input: &[u8], others: &[Vec<u8>]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(6) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 if !v.is_empty() => {
                let end = (at + rng.below(40)).min(v.len());
                v.drain(at..end);
            }
            2 if !v.is_empty() => {
                let start = rng.below(v.len());
                let end = (start + rng.below(80)).min(v.len());
                let chunk = v[start..end].to_vec();
                v.splice(at..at, chunk);
            }
            3 => {
                let word = DICTIONARY[rng.below(DICTIONARY.len())].as_bytes();
                v.splice(at..at, word.iter().copied());
            }
            4 if !others.is_empty() => {
                let o = &others[rng.below(others.len())];
                if !o.is_empty() {
                    let start = rng.below(o.len());
                    let end = (start + rng.below(200)).min(o.len());
                    v.splice(at..at, o[start..end].iter().copied());
                }
            }
            _ => {
                let word = DICTIONARY[rng.below(DICTIONARY.len())].as_bytes();
                let end = (at + word.len()).min(v.len());
                v.splice(at..end, word.iter().copied());
            }
        }
    }
    v
}

/// Runs one input through every phase; returns a description if anything panicked.
fn exercise(bytes: &[u8]) -> Result<(), String> {
    let r = catch_unwind(AssertUnwindSafe(|| {
        let (_, mut c) = compile_bytes(bytes);
        if let Some(p) = c.program("fuzz") {
            for t in pgtopo::model::Target::ALL {
                let _ = emit::files(*t, &p);
                for env in std::iter::once(None).chain(p.envs.iter().map(|e| e.env.as_deref())) {
                    let _ = emit::stdout(*t, &p, env, &emit::Options::default());
                }
            }
            let _ = pgtopo::views::graph::mermaid(&p.base);
            let _ = pgtopo::views::graph::dot(&p.base);
        }
        let _ = pgtopo::syntax::fmt::format(&String::from_utf8_lossy(bytes));
    }));
    r.map_err(|e| {
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

fn corpus() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = common::topologies()
        .into_iter()
        .map(|(_, p)| std::fs::read(p).unwrap())
        .collect();
    for dir in ["tests/fixtures/lint", "tests/fixtures/fuzz"] {
        if let Ok(rd) = std::fs::read_dir(common::repo().join(dir)) {
            let mut files: Vec<_> = rd.map(|e| e.unwrap().path()).collect();
            files.sort();
            v.extend(files.into_iter().map(|p| std::fs::read(p).unwrap()));
        }
    }
    v
}

#[test]
fn crash_fixtures_stay_fixed() {
    let dir = common::repo().join("tests/fixtures/fuzz");
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return;
    };
    for f in rd {
        let p = f.unwrap().path();
        exercise(&std::fs::read(&p).unwrap())
            .unwrap_or_else(|e| panic!("{} panics again: {e}", p.display()));
    }
}

#[test]
fn mutated_topologies_never_panic() {
    let seconds: u64 = std::env::var("PGTOPO_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let corpus = corpus();
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let start = Instant::now();
    let budget = Duration::from_secs(seconds);
    let mut execs = 0u64;
    let mut crashes = Vec::new();
    // The default run is a fixed number of executions, so it is the same on every machine.
    while if seconds == 0 {
        execs < 3000
    } else {
        start.elapsed() < budget
    } {
        let base = &corpus[rng.below(corpus.len())];
        let input = mutate(&mut rng, base, &corpus);
        execs += 1;
        if let Err(msg) = exercise(&input) {
            let out = std::env::temp_dir().join(format!("pgtopo-crash-{execs}.kdl"));
            let _ = std::fs::write(&out, &input);
            crashes.push(format!("{}: {msg}", out.display()));
            if crashes.len() > 5 {
                break;
            }
        }
    }
    eprintln!(
        "fuzz: {execs} executions in {:.1}s, {} crash(es)",
        start.elapsed().as_secs_f64(),
        crashes.len()
    );
    assert!(
        crashes.is_empty(),
        "inputs that panic (saved for tests/fixtures/fuzz/):\n{}",
        crashes.join("\n")
    );
}

/// Whenever the parser's fast path accepts a text, the `kdl` crate must accept it too and build
/// the identical tree (values, spans, property order); otherwise the fast path would change what
/// a topology means. Runs over the corpus and the same kind of mutations as the crash hunt.
#[test]
fn fast_parser_agrees_with_the_kdl_crate() {
    let corpus = corpus();
    let mut rng = Rng(0x0fa5_7da7_a5ee_d001);
    let (mut fast, mut total) = (0usize, 0usize);
    let mut check = |input: &[u8]| {
        let Ok(text) = std::str::from_utf8(input) else {
            return;
        };
        total += 1;
        if let Some(doc) = pgtopo::syntax::fast::parse(text) {
            fast += 1;
            match pgtopo::syntax::parse_with_kdl(text) {
                Ok(slow) => assert_eq!(
                    doc, slow,
                    "the fast path builds a different tree for:\n{text}"
                ),
                Err(e) => {
                    panic!("the fast path accepts text the kdl crate rejects ({e:?}):\n{text}")
                }
            }
        }
    };
    for input in &corpus {
        check(input);
    }
    // Corners of the grammar near the fast path's edges, whichever way each one goes.
    for text in [
        "a 1 \"b\" c=#true d=#null e=-2 f=+3 g=0.25 h=1.0 i=x-y.z:w;k; l",
        "a{b;c}\nd { }  /* x */ ;",
        "a \"x\"{ b }",
        "a \"q\\\"\\\\\\n\\t\\r\\s\"",
        "a \"tab\tinside\"",
        "a /* nested /* block */ comment */ 1 // tail\r\nb 2\r\n",
        "a /* spans\nlines */ 1",
        "a 1.5e3 0x1f 1_000 .5 1. #inf #-inf #nan",
        "a true; b null",
        "a x = 1",
        "\"quoted name\" \"k\"=\"v\" k=1 k=2",
        "a { b { c { d 1 } } } e",
        "a \"\" \"\"\"\nmulti\n\"\"\"",
        "a #\"raw\"#",
        "/- a 1\nb",
        "a \\\n  1",
        "(t)a (u)1",
        "a 99999999999999999999999999999999999999999",
        "a 1}",
        "}",
        "a {",
        "a { b } c",
        "a { b } { c }",
        "a\rb",
        "a \"données\" b=\"é\" // ünïcode × comment\n/* ☃ */ c \"節点\"",
        "a \"x\u{2028}y\"",
        "a\u{a0}1",
        "é 1",
        "\u{feff}a 1",
        "a \"\u{202e}\"",
        "a \"\u{7f}\"",
    ] {
        check(text.as_bytes());
    }
    for _ in 0..20_000 {
        let base = &corpus[rng.below(corpus.len())];
        check(&mutate(&mut rng, base, &corpus));
    }
    eprintln!("fast path took {fast} of {total} inputs");
    // The fast path exists for the files people write: every example topology must take it.
    for (name, path) in common::topologies() {
        let text = std::fs::read_to_string(path).unwrap();
        assert!(
            pgtopo::syntax::fast::parse(&text).is_some(),
            "{name} falls back to the slow parser"
        );
    }
    // Most mutations break the syntax on purpose; this only guards against a vacuous test.
    assert!(
        fast > 1_000,
        "the fast path took only {fast} of {total} inputs"
    );
}
