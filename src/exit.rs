//! Every exit code infra uses, in one place. CI depends on these.
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | success; with `--detailed-exitcode` or `drift`: no changes, no drift |
//! | 1 | runtime failure: a cloud call failed, state is locked or corrupt, a saved plan is stale |
//! | 2 | changes present (`plan --detailed-exitcode`) or drift found (`drift`) |
//! | 3 | invalid input: plan file, references, flags (clap's usage errors too) |
//! | 130 | `up`/`destroy` interrupted (Ctrl-C): cancelled before any change, or stopped with actions left undone |
//! | 143 | the same for SIGTERM |
//!
//! Invalid input is never 2, so a broken plan can never look like drift to CI.

pub const SUCCESS: u8 = 0;
pub const FAILURE: u8 = 1;
pub const CHANGES: u8 = 2;
pub const INVALID_INPUT: u8 = 3;
/// 128 + the signal number, as shells report a process a signal stopped.
pub const INTERRUPTED: u8 = 130;
pub const TERMINATED: u8 = 143;
