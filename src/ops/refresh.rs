//! `infra refresh`: state rewritten from what the cloud holds.

use super::*;

/// `infra refresh`: writes what is live into state (properties and outputs
/// of the resources found). Resources gone from the cloud keep their rows,
/// so the next `up` recreates them and says why.
pub async fn refresh_state(
    opts: &EnvOptions,
    prepared: &Prepared,
    cx: &Cx,
    command: &str,
    lock_timeout: std::time::Duration,
) -> Result<(usize, usize), Error> {
    with_state(opts, prepared, cx, command, lock_timeout, async |state| {
        refresh_locked(prepared, cx, command, state).await
    })
    .await
}

pub(crate) async fn refresh_locked(
    prepared: &Prepared,
    cx: &Cx,
    command: &str,
    state: &mut StateStore,
) -> Result<(usize, usize), Error> {
    let run_id = state.begin_run(command)?;
    let rows = state_map(state)?;
    let kinds: BTreeSet<String> = rows.values().map(|r| r.kind.clone()).collect();
    let observed = refresh(cx, &prepared.registry, kinds, &rows).await?;
    let mut updated = Vec::new();
    let mut missing = 0;
    for row in rows.values() {
        match observed.live.get(&row.address) {
            Some(live) => {
                // Only the fields infra applied: what else AWS reports stays out
                // (an unowned node-group size must never become "applied").
                // Write-only fields are never read back: keep what was sent.
                let seen = crate::diff::comparable(&live.props, &row.props, None);
                let props = row
                    .props
                    .iter()
                    .map(|(k, v)| match seen.get(k) {
                        Some(live_value) if !crate::diff::is_write_only(k) => {
                            (k.clone(), live_value.clone())
                        }
                        _ => (k.clone(), v.clone()),
                    })
                    .collect();
                updated.push(StateResource {
                    id: live.id.clone(),
                    props,
                    outputs: live.outputs.clone(),
                    ..row.clone()
                });
            }
            None => missing += 1,
        }
    }
    state.put_resources(&updated)?;
    state.finish_run(
        &run_id,
        "ok",
        &format!("refreshed {}, {missing} missing", updated.len()),
    )?;
    record_outputs(state, prepared, &observed, &Plan::default())?;
    Ok((updated.len(), missing))
}
