//! Events the core emits while it works. The CLI decides how to show them
//! (progress bars on a terminal, plain lines in CI); the core never prints.

use std::time::Duration;

#[derive(Debug, Clone)]
pub enum Event {
    /// A batched read of one kind finished.
    Refreshed {
        kind: String,
        found: usize,
        elapsed: Duration,
    },
    /// An action started: `create`, `update`, `delete`.
    Started {
        address: String,
        action: String,
    },
    /// A long call is still going (a waiter, a retried dependency).
    Progress {
        address: String,
        message: String,
        elapsed: Duration,
    },
    Finished {
        address: String,
        action: String,
        elapsed: Duration,
    },
    Failed {
        address: String,
        action: String,
        error: String,
    },
    Skipped {
        address: String,
        because: String,
    },
    /// An interrupted action from an earlier run was resolved.
    Recovered {
        address: String,
        outcome: String,
    },
    /// Ctrl-C: no new action starts; running ones finish.
    Interrupted,
    Warning {
        message: String,
    },
    /// A call is sent again: what failed, which retry, of how many (for
    /// calls that got no answer; throttling and 5xx retry within a time
    /// budget), and the pause before it. Always shown.
    Retrying {
        operation: String,
        error: String,
        attempt: u32,
        max: Option<u32>,
        wait: Duration,
    },
}

pub trait Reporter: Send + Sync {
    fn report(&self, event: Event);
}

/// A reporter that drops everything, for library callers and tests.
pub struct Silent;

impl Reporter for Silent {
    fn report(&self, _event: Event) {}
}
