//! `state mv FROM TO`: renames a resource in state and re-tags its
//! `infra:address`, journaled like any action.

use super::{EnvOptions, Error, Prepared, with_state};
use crate::aws::Cx;
use crate::diff::Move;
use crate::state::{StateResource, StateStore};
use crate::takeover::BadInput;

/// Moves `from` to `to`: the row as it was, and the move made.
pub async fn state_mv(
    opts: &EnvOptions,
    prepared: &Prepared,
    cx: &Cx,
    (from, to): (&str, &str),
    command: &str,
    lock_timeout: std::time::Duration,
) -> Result<(StateResource, Move), Error> {
    with_state(opts, prepared, cx, command, lock_timeout, async |state| {
        rename(cx, state, &opts.env, (from, to), command).await
    })
    .await
}

async fn rename(
    cx: &Cx,
    state: &mut StateStore,
    env: &str,
    (from, to): (&str, &str),
    command: &str,
) -> Result<(StateResource, Move), Error> {
    let Some(row) = state.resource(from)? else {
        let message = format!("{from} is not in state for env {env}; nothing was moved");
        return Err(BadInput(message).into());
    };
    if state.resource(to)?.is_some() {
        let message =
            format!("{to} is already in state; nothing was moved (`infra state rm` it first)");
        return Err(BadInput(message).into());
    }
    let run_id = state.begin_run(command)?;
    let m = Move {
        from: from.to_string(),
        to: to.to_string(),
        kind: row.kind.clone(),
        id: row.id.clone(),
    };
    let result = crate::takeover::perform_move(cx, state, &run_id, &m).await;
    let status = if result.is_ok() { "ok" } else { "error" };
    state.finish_run(&run_id, status, &format!("moved {} to {}", m.from, m.to))?;
    result?;
    Ok((row, m))
}
