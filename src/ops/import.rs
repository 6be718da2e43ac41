//! `import ADDRESS ID`: tags the resource with the address's identity, finds
//! it as that address (by tag or natural key), and writes its state row.

use super::{EnvOptions, Error, Prepared, state_map, with_state};
use crate::aws::{Cx, identity};
use crate::state::{RowChange, StateResource, StateStore};

/// `import`: tags the resource with `address`'s identity, finds it as that
/// address (by tag or natural key), and writes its state row.
pub async fn import(
    opts: &EnvOptions,
    prepared: &Prepared,
    cx: &Cx,
    address: &str,
    id: &str,
    command: &str,
    lock_timeout: std::time::Duration,
) -> Result<StateResource, Error> {
    let d = prepared
        .graph
        .get(address)
        .ok_or_else(|| Error::Incomplete(format!("unreachable: {address} checked")))?;
    let kind = d.kind.clone();
    with_state(opts, prepared, cx, command, lock_timeout, async |state| {
        import_locked(prepared, cx, state, address, id, &kind, command).await
    })
    .await
}

async fn import_locked(
    prepared: &Prepared,
    cx: &Cx,
    state: &mut StateStore,
    address: &str,
    id: &str,
    kind: &str,
    command: &str,
) -> Result<StateResource, Error> {
    let d = prepared
        .graph
        .get(address)
        .ok_or_else(|| Error::Incomplete(format!("unreachable: {address} checked")))?;
    let kind = kind.to_string();
    let run_id = state.begin_run(command)?;
    let token = uuid::Uuid::new_v4().to_string();
    let j = state.journal_begin(
        &run_id,
        address,
        &kind,
        "import",
        &token,
        &d.props,
        &prepared.graph.dependencies(address),
    )?;
    let tagged = identity::tag(cx, &kind, id, &Default::default(), address).await;
    if let Err(e) = tagged {
        state.journal_finish(j, &format!("failed: {e}"), &RowChange::Keep)?;
        state.finish_run(&run_id, "error", &e.to_string())?;
        return Err(e.into());
    }
    let rows = state_map(state)?;
    let (_, adopted) = super::observe(cx, prepared, state, &rows, true).await?;
    let found = adopted
        .into_iter()
        .find(|a| a.address == address && (a.id == id || identity::untagged(&kind)));
    let Some(row) = found else {
        state.journal_finish(j, "failed: not found as the address", &RowChange::Keep)?;
        state.finish_run(&run_id, "error", "not found")?;
        return Err(Error::Incomplete(format!(
            "{kind} {id} was not found as {address}: check the id (a {kind}) and, for a kind found by its natural key, that its dependencies are in state"
        )));
    };
    state.journal_finish(j, "imported", &RowChange::Upsert(row.clone()))?;
    state.finish_run(&run_id, "ok", &format!("imported {address}"))?;
    Ok(row)
}
