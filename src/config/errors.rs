use std::ops::Range;
use std::path::Path;

use miette::{Diagnostic, NamedSource, SourceSpan};

/// One problem in a plan file, shown at its line when the span is known.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{message}")]
pub struct PlanError {
    pub message: String,
    #[source_code]
    source_code: Option<NamedSource<String>>,
    #[label("here")]
    span: Option<SourceSpan>,
}

impl PlanError {
    pub fn new(
        path: &Path,
        source: &str,
        message: impl Into<String>,
        span: Option<Range<usize>>,
    ) -> Self {
        let name = path.display().to_string();
        let mut message = format!("{name}: {}", message.into());
        // A snippet of a very long line (a minified file) is no help, and the
        // renderer cannot draw past column 65,535: name the line instead.
        if let Some(r) = span.as_ref().filter(|r| r.start <= source.len()) {
            let line_start = source[..r.start].rfind('\n').map(|i| i + 1).unwrap_or(0);
            // The snippet shows a line of context either side.
            let before = source[..line_start.saturating_sub(1)]
                .rfind('\n')
                .map(|i| i + 1)
                .unwrap_or(0);
            let end = r.end.clamp(r.start, source.len());
            let after = source[end..]
                .match_indices('\n')
                .nth(1)
                .map(|(i, _)| end + i)
                .unwrap_or(source.len());
            if source[before..after].split('\n').any(|l| l.len() > 4096) {
                let line = source[..r.start].matches('\n').count() + 1;
                message.push_str(&format!(
                    " (line {line}, column {})",
                    r.start - line_start + 1
                ));
                return PlanError {
                    message,
                    source_code: None,
                    span: None,
                };
            }
        }
        PlanError {
            message,
            source_code: span
                .as_ref()
                .map(|_| NamedSource::new(name, source.to_string())),
            span: span.map(|r| SourceSpan::from(r.start..r.end.max(r.start))),
        }
    }

    /// What makes two errors the same one (said once).
    pub fn key(&self) -> (String, Option<(usize, usize)>) {
        (
            self.message.clone(),
            self.span.map(|s| (s.offset(), s.len())),
        )
    }

    pub fn plain(message: impl Into<String>) -> Self {
        PlanError {
            message: message.into(),
            source_code: None,
            span: None,
        }
    }
}

/// Every problem found in one plan file. Nothing is created and nothing is
/// written to state when this is returned.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{file}: the plan is invalid ({} problem(s)); nothing was created and state was not touched", errors.len())]
pub struct InvalidPlan {
    pub file: String,
    #[related]
    pub errors: Vec<PlanError>,
}
