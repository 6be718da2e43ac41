//! Ctrl-C and SIGTERM for `up` and `destroy`.
//!
//! Before anything changes (lock wait, refresh, plan, the confirmation
//! prompt) the first signal cancels at once: nothing was done, exit 130
//! (143 for SIGTERM). Once actions run, the first signal drains: no new
//! action starts, running ones finish and are saved, and the summary says
//! what finished and what did not. A second signal abandons the calls in
//! flight and exits; their journal rows stay open and the next run
//! recovers them.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use crate::exit;
use crate::report::{Event, Reporter};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Planning,
    Prompt,
    Applying,
    Draining,
    Cancelled,
}

struct Inner {
    phase: Phase,
    /// The signal that cancelled or drained the run.
    signal: Option<i32>,
}

struct Shared {
    inner: Mutex<Inner>,
    /// Actions started and not yet finished: address → verb.
    in_flight: Mutex<BTreeMap<String, String>>,
    cancel: watch::Sender<bool>,
    drain: watch::Sender<bool>,
}

/// The answer at the confirmation prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Yes,
    No,
    Cancelled,
}

pub struct Interrupts {
    shared: Arc<Shared>,
}

const SIGINT: i32 = 2;
const SIGTERM: i32 = 15;

fn signal_name(signo: Option<i32>) -> &'static str {
    match signo {
        Some(SIGTERM) => "SIGTERM",
        _ => "interrupt (Ctrl-C)",
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn on_signal(&self, signo: i32) {
        let mut inner = self.lock();
        match inner.phase {
            Phase::Planning | Phase::Prompt => {
                inner.phase = Phase::Cancelled;
                inner.signal = Some(signo);
                self.cancel.send_replace(true);
            }
            Phase::Applying => {
                inner.phase = Phase::Draining;
                inner.signal = Some(signo);
                self.drain.send_replace(true);
            }
            Phase::Draining | Phase::Cancelled => {
                let flying = self
                    .in_flight
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone();
                let list: Vec<String> = flying
                    .iter()
                    .map(|(a, verb)| format!("{a} ({verb})"))
                    .collect();
                let mut err = std::io::stderr();
                if list.is_empty() {
                    let _ = writeln!(
                        err,
                        "\nsecond {}: exiting now; no call was in flight",
                        signal_name(Some(signo))
                    );
                } else {
                    let _ = writeln!(
                        err,
                        "\nsecond {}: abandoning {} call(s) in flight: {}. Whether they took effect is unknown here; \
                         each is recorded in the state's journal, and the next `infra up` (or `destroy`) finds it and recovers it.",
                        signal_name(Some(signo)),
                        list.len(),
                        list.join(", ")
                    );
                }
                std::process::exit(i32::from(if signo == SIGTERM {
                    exit::TERMINATED
                } else {
                    exit::INTERRUPTED
                }));
            }
        }
    }
}

impl Interrupts {
    /// Takes over SIGINT and SIGTERM; call inside the runtime.
    pub fn install() -> Interrupts {
        let (cancel, _) = watch::channel(false);
        let (drain, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                phase: Phase::Planning,
                signal: None,
            }),
            in_flight: Mutex::new(BTreeMap::new()),
            cancel,
            drain,
        });
        listen(shared.clone());
        Interrupts { shared }
    }

    /// Becomes `true` on the first signal once actions run: the executor drains.
    pub fn drain_receiver(&self) -> watch::Receiver<bool> {
        self.shared.drain.subscribe()
    }

    /// Wraps a reporter so a second signal can name the calls in flight.
    pub fn tracking(&self, inner: Arc<dyn Reporter>) -> Arc<dyn Reporter> {
        Arc::new(Tracking {
            inner,
            shared: self.shared.clone(),
        })
    }

    /// Resolves when a signal cancels the run before any change.
    pub async fn cancelled(&self) {
        let mut rx = self.shared.cancel.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }

    pub fn was_cancelled(&self) -> bool {
        self.shared.lock().phase == Phase::Cancelled
    }

    /// Called once the user (or `--yes`) confirmed: from here on a signal
    /// drains instead of cancelling. `false` when a signal came first.
    pub fn start_applying(&self) -> bool {
        let mut inner = self.shared.lock();
        if inner.phase == Phase::Cancelled {
            return false;
        }
        inner.phase = Phase::Applying;
        true
    }

    /// The exit code for a run a signal stopped: 130, or 143 for SIGTERM.
    pub fn exit_code(&self) -> u8 {
        match self.shared.lock().signal {
            Some(SIGTERM) => exit::TERMINATED,
            _ => exit::INTERRUPTED,
        }
    }

    pub fn signal_name(&self) -> &'static str {
        signal_name(self.shared.lock().signal)
    }

    /// Asks on the terminal; a signal while waiting cancels at once.
    pub fn ask(&self, question: &str) -> Answer {
        {
            let mut inner = self.shared.lock();
            if inner.phase == Phase::Cancelled {
                return Answer::Cancelled;
            }
            inner.phase = Phase::Prompt;
        }
        print!("{question}\n  Only 'yes' will be accepted: ");
        let _ = std::io::stdout().flush();
        let (tx, rx) = std::sync::mpsc::channel();
        // A blocked read cannot be woken by a signal: read on a thread and
        // wait for either the line or the cancellation.
        std::thread::spawn(move || {
            let mut line = String::new();
            let got = std::io::stdin().read_line(&mut line).map(|n| (n, line));
            let _ = tx.send(got);
        });
        let cancel = self.shared.cancel.subscribe();
        loop {
            if *cancel.borrow() {
                println!();
                return Answer::Cancelled;
            }
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(Ok((n, line))) if n > 0 => {
                    return if line.trim() == "yes" {
                        Answer::Yes
                    } else {
                        Answer::No
                    };
                }
                Ok(_) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Answer::No,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            }
        }
    }
}

#[cfg(unix)]
fn listen(shared: Arc<Shared>) {
    use tokio::signal::unix::{SignalKind, signal};
    // Registered here, before returning, so no signal slips through with
    // its default action (an abrupt exit) once the command has started.
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    tokio::spawn(async move {
        loop {
            let signo = tokio::select! {
                s = int.recv() => { if s.is_none() { return } SIGINT }
                s = term.recv() => { if s.is_none() { return } SIGTERM }
            };
            shared.on_signal(signo);
        }
    });
}

#[cfg(not(unix))]
fn listen(shared: Arc<Shared>) {
    tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            shared.on_signal(SIGINT);
        }
    });
}

/// Keeps the set of actions in flight, then passes the event on.
struct Tracking {
    inner: Arc<dyn Reporter>,
    shared: Arc<Shared>,
}

impl Reporter for Tracking {
    fn report(&self, event: Event) {
        {
            let mut flying = self
                .shared
                .in_flight
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            match &event {
                Event::Started { address, action } => {
                    flying.insert(address.clone(), action.clone());
                }
                Event::Finished { address, .. } | Event::Failed { address, .. } => {
                    flying.remove(address);
                }
                _ => {}
            }
        }
        let event = match event {
            Event::Interrupted => {
                let n = self
                    .shared
                    .in_flight
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .len();
                let name = signal_name(self.shared.lock().signal);
                Event::Warning {
                    message: format!(
                        "{name}: no new action starts; waiting for the {n} running one(s) to finish and be saved \
                         (a second {name} abandons them; the next run recovers them)"
                    ),
                }
            }
            other => other,
        };
        self.inner.report(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared() -> Arc<Shared> {
        let (cancel, _) = watch::channel(false);
        let (drain, _) = watch::channel(false);
        Arc::new(Shared {
            inner: Mutex::new(Inner {
                phase: Phase::Planning,
                signal: None,
            }),
            in_flight: Mutex::new(BTreeMap::new()),
            cancel,
            drain,
        })
    }

    #[test]
    fn a_signal_before_applying_cancels_and_one_after_drains() {
        let s = shared();
        let i = Interrupts { shared: s.clone() };
        s.on_signal(SIGTERM);
        assert!(i.was_cancelled());
        assert!(!i.start_applying(), "a cancelled run never starts applying");
        assert_eq!(i.exit_code(), exit::TERMINATED);

        let s = shared();
        let i = Interrupts { shared: s.clone() };
        assert!(i.start_applying());
        let drain = i.drain_receiver();
        s.on_signal(SIGINT);
        assert!(!i.was_cancelled());
        assert!(*drain.borrow());
        assert_eq!(i.exit_code(), exit::INTERRUPTED);
    }
}
