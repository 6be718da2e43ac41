//! `state rm ADDRESS`: forgets a resource without deleting it; its identity
//! tags come off so infra neither adopts it again nor calls it an orphan.

use super::{EnvOptions, Error, Prepared, with_state};
use crate::aws::Cx;
use crate::state::{StateResource, StateStore};
use crate::takeover::BadInput;

/// Forgets `address`: its row and what it was, and whether tags came off (a
/// kind without tags is found again by its natural key).
pub async fn state_rm(
    opts: &EnvOptions,
    prepared: &Prepared,
    cx: &Cx,
    address: &str,
    command: &str,
    lock_timeout: std::time::Duration,
) -> Result<(StateResource, bool), Error> {
    with_state(opts, prepared, cx, command, lock_timeout, async |state| {
        forget(cx, state, &opts.env, address, command).await
    })
    .await
}

async fn forget(
    cx: &Cx,
    state: &mut StateStore,
    env: &str,
    address: &str,
    command: &str,
) -> Result<(StateResource, bool), Error> {
    if state.resource(address)?.is_none() {
        let message = format!("{address} is not in state for env {env}; nothing was removed");
        return Err(BadInput(message).into());
    }
    let run_id = state.begin_run(command)?;
    let result = crate::takeover::forget(cx, state, &run_id, address).await;
    let status = if result.is_ok() { "ok" } else { "error" };
    state.finish_run(&run_id, status, &format!("forgot {address}"))?;
    result
}
