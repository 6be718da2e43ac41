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
        let message = format!("{name}: {}", message.into());
        PlanError {
            message,
            source_code: span
                .as_ref()
                .map(|_| NamedSource::new(name, source.to_string())),
            span: span.map(|r| SourceSpan::from(r.start..r.end.max(r.start))),
        }
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
