//! `infra up`: plan, confirm, apply; interrupted actions recovered first.

use super::*;

/// Records adoptions and closes the journal rows an interrupted run left open.
pub(crate) fn recover(
    state: &mut StateStore,
    run_id: &str,
    observed: &Observed,
    adopted: &[StateResource],
    reporter: &dyn Reporter,
) -> Result<Vec<String>, Error> {
    if !adopted.is_empty() {
        state.put_resources(adopted)?;
    }
    let mut notes = Vec::new();
    if !adopted.is_empty() {
        // The CLI shows them as one block; the run log keeps the count.
        state.note_run(
            run_id,
            &format!(
                "adopted {} resource(s) the plan declares and state did not know",
                adopted.len()
            ),
        )?;
    }
    for j in state.unfinished_journal()? {
        let exists = observed.live.contains_key(&j.address)
            || adopted.iter().any(|a| a.address == j.address);
        let outcome = match (j.action.as_str(), exists) {
            ("create", true) => {
                notes.push(format!("adopted {}", j.address));
                "recovered: found by its identity and adopted".to_string()
            }
            ("create", false) => {
                notes.push(format!("{} was never created", j.address));
                "recovered: not found; the plan creates it".to_string()
            }
            ("delete", false) => {
                if state.resource(&j.address)?.is_some() {
                    state.remove_resource(&j.address)?;
                }
                notes.push(format!("confirmed {} deleted", j.address));
                "recovered: confirmed deleted".to_string()
            }
            ("delete", true) => {
                notes.push(format!("{} still exists", j.address));
                "recovered: still exists; the plan decides".to_string()
            }
            _ => {
                notes.push(format!("refreshed {}", j.address));
                "recovered: refreshed; the plan decides".to_string()
            }
        };
        state.journal_finish(j.id, &outcome, &crate::state::RowChange::Keep)?;
    }
    if !notes.is_empty() {
        let line = format!(
            "recovered {} interrupted action(s): {}",
            notes.len(),
            notes.join(", ")
        );
        state.note_run(run_id, &line)?;
        reporter.report(Event::Recovered {
            address: String::new(),
            outcome: line,
        });
    }
    Ok(notes)
}

pub(crate) fn check_saved(
    path: &PathBuf,
    opts: &EnvOptions,
    prepared: &Prepared,
    state: &StateStore,
    existed: bool,
    read_etag: Option<&str>,
) -> Result<Plan, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::BadSavedPlan {
        path: path.clone(),
        why: e.to_string(),
    })?;
    let saved: SavedPlan = serde_json::from_str(&text).map_err(|e| Error::BadSavedPlan {
        path: path.clone(),
        why: e.to_string(),
    })?;
    let stale = |why: String| {
        Err(Error::StalePlan {
            path: path.clone(),
            why,
        })
    };
    if saved.env != opts.env {
        return stale(format!(
            "it was made for env `{}`, not `{}`",
            saved.env, opts.env
        ));
    }
    if saved.plan_digest != prepared.loaded.digest() {
        return stale("the plan file changed since".into());
    }
    if !saved.state_existed && existed {
        return stale("it was made with no state, and state has been created since".into());
    }
    if let (Some(then), Some(now)) = (saved.state_etag.as_deref(), read_etag)
        && then != now
    {
        return stale(format!(
            "the remote state moved since (version {} then, ETag {then} then, {now} now)",
            saved.state_version.as_deref().unwrap_or("-")
        ));
    }
    let lineage = state.owner()?.map(|o| o.lineage);
    if saved.lineage.is_some() && saved.lineage != lineage {
        return stale(format!(
            "it was made on another state (lineage {}, this state's is {})",
            saved.lineage.as_deref().unwrap_or("none"),
            lineage.as_deref().unwrap_or("none")
        ));
    }
    let serial = state.serial()?;
    if saved.state_serial != serial {
        return stale(format!(
            "state changed since (serial {} then, {serial} now)",
            saved.state_serial
        ));
    }
    Ok(saved.plan)
}

/// `infra up`: plan, confirm, apply. `confirm` sees the plan before anything changes.
pub async fn up(
    opts: &EnvOptions,
    prepared: &Prepared,
    cx: &Cx,
    run: RunOptions,
    confirm: &mut dyn FnMut(&Plan) -> bool,
) -> Result<RunOutcome, Error> {
    let mut writer = open_for_write(
        opts,
        &prepared.loaded,
        &run.command,
        cx.reporter.as_ref(),
        run.lock_timeout,
    )
    .await?;
    let existed = writer.existed;
    let read_etag = writer.read_etag.clone();
    let lease = writer.lease();
    let state = &mut writer.state;
    let run_id = state.begin_run(&run.command)?;
    let result = up_locked(
        opts,
        prepared,
        cx,
        run,
        confirm,
        state,
        &run_id,
        existed,
        read_etag.as_deref(),
        lease,
    )
    .await;
    let (status, summary) = match &result {
        Ok(o) => match &o.report {
            Some(r) if r.ok() => ("ok", format!("{} actions done", r.done)),
            Some(r) if r.interrupted && r.failed.is_empty() => (
                "interrupted",
                format!(
                    "{} done, {} not started",
                    r.done,
                    r.not_started.len() + r.skipped.len()
                ),
            ),
            Some(r) => (
                "failed",
                format!(
                    "{} done, {} failed, {} skipped",
                    r.done,
                    r.failed.len(),
                    r.skipped.len()
                ),
            ),
            None => ("no-op", "nothing applied".to_string()),
        },
        Err(e) => ("error", e.to_string()),
    };
    state.finish_run(&run_id, status, &summary)?;
    writer.finish(result).await
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn up_locked(
    opts: &EnvOptions,
    prepared: &Prepared,
    cx: &Cx,
    run: RunOptions,
    confirm: &mut dyn FnMut(&Plan) -> bool,
    state: &mut StateStore,
    run_id: &str,
    existed: bool,
    read_etag: Option<&str>,
    lease: Option<Arc<crate::state::s3::Lease>>,
) -> Result<RunOutcome, Error> {
    let saved = match &run.saved_plan {
        Some(path) => Some(check_saved(
            path, opts, prepared, state, existed, read_etag,
        )?),
        None => None,
    };
    let rows = state_map(state)?;
    let (observed, mut adopted) = observe(
        cx,
        prepared,
        state,
        &rows,
        run.do_refresh && saved.is_none(),
    )
    .await?;
    // A saved plan adopts exactly what it said it would.
    if let Some(p) = &saved {
        let new: Vec<StateResource> = p
            .adopted
            .iter()
            .filter(|a| {
                !rows.contains_key(&a.address) && !adopted.iter().any(|b| b.address == a.address)
            })
            .cloned()
            .collect();
        adopted.extend(new);
    }
    let recovered = recover(state, run_id, &observed, &adopted, cx.reporter.as_ref())?;
    let mut rows = state_map(state)?;
    let mut observed = observed;
    let moves = crate::takeover::pending_moves(prepared, &rows)?;
    crate::takeover::rename_in_memory(&moves.0, &mut rows, &mut observed);
    let plan = match saved {
        Some(mut p) => {
            p.data_loss = crate::data_loss::find(&p);
            p.cost = Some(crate::review::cost_change(
                &prepared.loaded,
                prepared.graph.resources(),
                &rows,
                crate::cost::Date::today(),
            ));
            p
        }
        None => make_plan(
            prepared,
            &rows,
            &observed,
            adopted,
            run.prune_orphans,
            &run.selection,
            moves,
        ),
    };
    let left = if run.prune_orphans {
        Vec::new()
    } else {
        plan.orphans.clone()
    };
    let protected = crate::diff::protected_deletes(&plan);
    if !protected.is_empty() {
        return Err(Error::ProtectedChange(protected));
    }
    if plan.is_empty() {
        record_outputs(state, prepared, &observed, &plan)?;
    }
    if plan.is_empty() || !confirm(&plan) {
        return Ok(RunOutcome {
            plan,
            report: None,
            recovered,
            orphans: left,
        });
    }
    for m in &plan.moves {
        crate::takeover::perform_move(cx, state, run_id, m).await?;
    }
    let known: HashMap<String, Outputs> = rows
        .iter()
        .map(|(a, r)| {
            (
                a.clone(),
                observed
                    .live
                    .get(a)
                    .map(|l| l.outputs.clone())
                    .unwrap_or_else(|| r.outputs.clone()),
            )
        })
        .collect();
    let report = apply(
        &plan,
        prepared.registry.clone(),
        cx.clone(),
        state,
        known,
        ApplyOptions {
            parallelism: run.parallelism,
            run_id: run_id.to_string(),
            interrupt: run.interrupt,
            lease,
        },
    )
    .await;
    record_outputs(state, prepared, &observed, &plan)?;
    Ok(RunOutcome {
        plan,
        report: Some(report),
        recovered,
        orphans: left,
    })
}

/// Records the plan's named outputs as they stand now, for `infra output`:
/// from state, where the run just wrote what it made, and from the refreshed
/// view for what it did not touch. Nothing in state: nothing to show.
pub(crate) fn record_outputs(
    state: &mut StateStore,
    prepared: &Prepared,
    observed: &Observed,
    plan: &Plan,
) -> Result<(), Error> {
    let rows = state_map(state)?;
    if rows.is_empty() {
        state.set_named_outputs(None)?;
        return Ok(());
    }
    let acted: BTreeSet<&str> = plan.actions.iter().map(|a| a.address.as_str()).collect();
    let lookup = |r: &crate::model::Ref| {
        let row = rows.get(&r.address)?;
        let outputs = match observed.live.get(&r.address) {
            Some(live) if !acted.contains(r.address.as_str()) => &live.outputs,
            _ => &row.outputs,
        };
        outputs.get(&r.output).cloned()
    };
    let named = crate::outputs::resolve_named(&prepared.expanded.outputs, &lookup);
    state.set_named_outputs(Some(&named))?;
    Ok(())
}
