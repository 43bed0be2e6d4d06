//! Diagnostics shared by every phase: a stable code, a severity, the source span, a label and a
//! help line. Rendering (miette's graphical report, or JSON) lives here too, so that the CLI and the
//! golden tests print exactly the same text.

use std::sync::Arc;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};
use serde::Serialize;

pub mod codes;

pub use codes::Code;

/// A byte range in the topology file.
pub type Span = SourceSpan;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    /// Stable code such as `PT101` (see [`codes`] and docs/language.md).
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    /// Where the problem is; `None` only for whole-file problems such as an empty file.
    pub span: Option<Span>,
    pub label: String,
    pub help: Option<String>,
    /// Further spans that explain the problem ("first declared here").
    pub related: Vec<(Span, String)>,
    /// The environment in which the problem appears, when it appears only there.
    pub env: Option<String>,
}

impl Diagnostic {
    pub fn error(code: Code, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Error, message)
    }

    pub fn warning(code: Code, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Warning, message)
    }

    fn new(code: Code, severity: Severity, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity,
            message: message.into(),
            span: None,
            label: String::new(),
            help: None,
            related: Vec::new(),
            env: None,
        }
    }

    pub fn with_span(mut self, span: Span, label: impl Into<String>) -> Self {
        self.span = Some(span);
        self.label = label.into();
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_related(mut self, span: Span, label: impl Into<String>) -> Self {
        self.related.push((span, label.into()));
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// A diagnostic joined with the text it points into, which is what miette needs to draw it.
#[derive(Debug)]
struct Report<'a> {
    diag: &'a Diagnostic,
    source: NamedSource<Indexed>,
}

/// The topology text with the start of every line, so that drawing a snippet costs a binary search
/// instead of a scan from the top of the file. miette's own `SourceCode` for strings counts lines
/// from the first byte for every span it draws, which made printing a few hundred warnings of a
/// large topology slower than finding them.
#[derive(Clone, Debug)]
struct Indexed {
    text: Arc<String>,
    /// Offsets where a line starts, as miette counts lines: after `\n`, after `\r\n`, and after a
    /// lone `\r`. The first entry is 0.
    starts: Arc<Vec<usize>>,
}

impl Indexed {
    fn new(text: Arc<String>) -> Self {
        let b = text.as_bytes();
        let mut starts = vec![0];
        for (i, &c) in b.iter().enumerate() {
            if c == b'\n' || (c == b'\r' && b.get(i + 1) != Some(&b'\n')) {
                starts.push(i + 1);
            }
        }
        Indexed {
            text,
            starts: Arc::new(starts),
        }
    }
}

/// Lines longer than this are not drawn: a snippet of a line of thousands of characters helps no
/// one, and miette cannot draw a label beyond column 65,535 (it panics).
const MAX_DRAWN_LINE: usize = 1000;

impl Indexed {
    /// Whether every line a diagnostic's snippet would show (its spans' lines and the context
    /// line on each side) is short enough to draw.
    fn drawable(&self, d: &Diagnostic) -> bool {
        let line_of = |offset: usize| self.starts.partition_point(|&s| s <= offset) - 1;
        let last_line = self.starts.len() - 1;
        d.span
            .iter()
            .chain(d.related.iter().map(|(s, _)| s))
            .all(|span| {
                let first = line_of(span.offset()).saturating_sub(1);
                let last = (line_of(span.offset() + span.len()) + 1).min(last_line);
                (first..=last).all(|l| {
                    let end = self.starts.get(l + 1).copied().unwrap_or(self.text.len());
                    end - self.starts[l] <= MAX_DRAWN_LINE
                })
            })
    }
}

/// `d` without its snippet, its place written out in the help instead.
fn without_snippet(d: &Diagnostic, span: Span, file: &str, source: &str) -> Diagnostic {
    let (line, column) = line_col(source, span.offset());
    let place = format!(
        "{file}:{line}:{column}: {} (the line is too long to show)",
        d.label
    );
    let mut plain = d.clone();
    plain.span = None;
    plain.related.clear();
    plain.help = Some(match &d.help {
        Some(help) => format!("{place}\n{help}"),
        None => place,
    });
    plain
}

impl miette::SourceCode for Indexed {
    /// miette's reading of the text from a line a little before the span, with the window's
    /// offsets and line numbers shifted back: the same contents, found without the scan.
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let line = self.starts.partition_point(|&s| s <= span.offset()) - 1;
        // Two lines more than the context miette asks for, so the window holds everything its
        // reading looks at before the span.
        let first = line.saturating_sub(context_lines_before + 2);
        let shift = self.starts[first];
        let window = &self.text.as_bytes()[shift..];
        let inner = (span.offset() - shift, span.len()).into();
        let c = window.read_span(&inner, context_lines_before, context_lines_after)?;
        Ok(Box::new(miette::MietteSpanContents::new(
            c.data(),
            (c.span().offset() + shift, c.span().len()).into(),
            c.line() + first,
            c.column(),
            c.line_count() + first,
        )))
    }
}

impl std::fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.diag.env {
            Some(env) => write!(f, "{} (in env \"{env}\")", self.diag.message),
            None => f.write_str(&self.diag.message),
        }
    }
}

impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new(self.diag.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diag.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.diag
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.diag
            .span
            .map(|_| &self.source as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.diag.span?;
        let primary = LabeledSpan::new_primary_with_span(Some(self.diag.label.clone()), span);
        let related = self
            .diag
            .related
            .iter()
            .map(|(s, l)| LabeledSpan::new_with_span(Some(l.clone()), *s));
        Some(Box::new(std::iter::once(primary).chain(related)))
    }
}

/// Renders diagnostics the way `pgtopo lint` prints them to a terminal.
pub fn render_human(diags: &[Diagnostic], file: &str, source: &Arc<String>, color: bool) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(100);
    let indexed = Indexed::new(source.clone());
    let mut out = String::new();
    for d in diags {
        let undrawn;
        let d = match d.span.filter(|_| !indexed.drawable(d)) {
            Some(span) => {
                undrawn = without_snippet(d, span, file, source);
                &undrawn
            }
            None => d,
        };
        let report = Report {
            diag: d,
            source: NamedSource::new(file, indexed.clone()),
        };
        // Writing into a String cannot fail.
        let _ = handler.render_report(&mut out, &report);
        out.push('\n');
    }
    out
}

/// One diagnostic as the stable JSON record of `pgtopo lint --format json`.
#[derive(Serialize)]
pub struct JsonDiagnostic<'a> {
    pub code: &'a str,
    pub severity: Severity,
    pub message: &'a str,
    pub file: &'a str,
    /// 1-based line, or 0 when the problem concerns the whole file.
    pub line: usize,
    /// 1-based column in characters.
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub label: &'a str,
    pub help: Option<&'a str>,
    pub env: Option<&'a str>,
}

/// Converts a byte offset into a 1-based (line, column) pair; columns count characters.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = &source[..floor_char_boundary(source, offset)];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

pub fn to_json<'a>(d: &'a Diagnostic, file: &'a str, source: &str) -> JsonDiagnostic<'a> {
    let (line, column, end_line, end_column) = match d.span {
        Some(s) => {
            let (l, c) = line_col(source, s.offset());
            let (el, ec) = line_col(source, s.offset() + s.len());
            (l, c, el, ec)
        }
        None => (0, 0, 0, 0),
    };
    JsonDiagnostic {
        code: d.code.as_str(),
        severity: d.severity,
        message: &d.message,
        file,
        line,
        column,
        end_line,
        end_column,
        label: &d.label,
        help: d.help.as_deref(),
        env: d.env.as_deref(),
    }
}

/// Levenshtein distance, for "did you mean" suggestions on unknown names.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest candidate to `word`, if it is close enough to be a plausible typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use miette::SourceCode;

    /// The indexed source must read every span exactly as miette's own reading of the whole text:
    /// same contents, offsets, line, column and line count, for every context size.
    #[test]
    fn indexed_source_reads_like_miette() {
        let text = "a 1\nbb {\r\n    c \"x\"\r  d\n\n}\nlast line\nend";
        let indexed = super::Indexed::new(Arc::new(text.to_owned()));
        for offset in 0..=text.len() {
            for len in 0..=(text.len() - offset).min(12) {
                for before in 0..4 {
                    for after in 0..4 {
                        let span = (offset, len).into();
                        let want = text.as_bytes().read_span(&span, before, after);
                        let got = indexed.read_span(&span, before, after);
                        match (want, got) {
                            (Ok(w), Ok(g)) => {
                                let at = format!("span {offset}+{len}, context {before}/{after}");
                                assert_eq!(w.data(), g.data(), "{at}");
                                assert_eq!(w.span(), g.span(), "{at}");
                                assert_eq!(w.line(), g.line(), "{at}");
                                assert_eq!(w.column(), g.column(), "{at}");
                                assert_eq!(w.line_count(), g.line_count(), "{at}");
                            }
                            (Err(_), Err(_)) => {}
                            (w, g) => panic!(
                                "span {offset}+{len}: miette {:?}, indexed {:?}",
                                w.is_ok(),
                                g.is_ok()
                            ),
                        }
                    }
                }
            }
        }
    }
}
