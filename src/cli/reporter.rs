//! Shows core events: a spinner per running action on a terminal, plain
//! lines elsewhere (CI logs), nothing on stdout so JSON stays clean.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::report::{Event, Reporter};

pub struct TerminalReporter {
    bars: Option<MultiProgress>,
    running: Mutex<HashMap<String, ProgressBar>>,
    /// Warnings already shown: each is said once per run.
    warned: Mutex<std::collections::HashSet<String>>,
    quiet: bool,
}

impl TerminalReporter {
    pub fn new(quiet: bool) -> Self {
        let tty = std::io::stderr().is_terminal();
        TerminalReporter {
            bars: tty.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
            running: Mutex::new(HashMap::new()),
            warned: Mutex::new(std::collections::HashSet::new()),
            quiet,
        }
    }

    /// Removes every bar before normal output is printed.
    pub fn clear(&self) {
        if let Some(mp) = &self.bars {
            let _ = mp.clear();
        }
    }

    fn line(&self, text: String) {
        if self.quiet {
            return;
        }
        match &self.bars {
            Some(mp) => mp.suspend(|| eprintln!("{text}")),
            None => eprintln!("{text}"),
        }
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

impl Reporter for TerminalReporter {
    fn report(&self, event: Event) {
        match event {
            Event::Refreshed {
                kind,
                found,
                elapsed,
            } => {
                tracing::debug!(kind, found, elapsed = ?elapsed, "refreshed");
            }
            Event::Started { address, action } => {
                if let Some(mp) = &self.bars {
                    let bar = mp.add(ProgressBar::new_spinner());
                    bar.set_style(
                        ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                            .expect("valid template"),
                    );
                    bar.set_message(format!("{address}: {action}"));
                    bar.enable_steady_tick(Duration::from_millis(120));
                    self.running.lock().expect("lock").insert(address, bar);
                } else {
                    self.line(format!("{address}: {action} started"));
                }
            }
            Event::Progress {
                address,
                message,
                elapsed,
            } => match self.running.lock().expect("lock").get(&address) {
                Some(bar) => bar.set_message(format!("{address}: {message}")),
                None => self.line(format!("{address}: {message} ({} elapsed)", secs(elapsed))),
            },
            Event::Finished {
                address,
                action,
                elapsed,
            } => {
                if let Some(bar) = self.running.lock().expect("lock").remove(&address) {
                    bar.finish_and_clear();
                }
                self.line(format!("{address}: {action} done ({})", secs(elapsed)));
            }
            Event::Failed {
                address,
                action,
                error,
            } => {
                if let Some(bar) = self.running.lock().expect("lock").remove(&address) {
                    bar.finish_and_clear();
                }
                self.line(format!("{address}: {action} FAILED: {error}"));
            }
            Event::Skipped { address, because } => {
                self.line(format!("{address}: skipped ({because})"))
            }
            Event::Recovered { outcome, .. } => self.line(outcome),
            Event::Interrupted => self.line("interrupted: finishing running actions".into()),
            Event::Warning { message } => {
                if self.warned.lock().expect("warned").insert(message.clone()) {
                    self.line(format!("warning: {message}"));
                }
            }
            Event::Retrying {
                operation,
                error,
                attempt,
                max,
                wait,
            } => {
                let of = max.map(|m| format!(" of {m}")).unwrap_or_default();
                // Shown even when quiet (JSON on stdout): a silent wait is what this replaces.
                let text = format!(
                    "retrying {operation} (retry {attempt}{of}) in {}: {error}",
                    secs(wait)
                );
                match &self.bars {
                    Some(mp) => mp.suspend(|| eprintln!("{text}")),
                    None => eprintln!("{text}"),
                }
            }
        }
    }
}
