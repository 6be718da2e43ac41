//! `infra destroy`: everything state holds, protected resources refused.

use super::*;

/// AWS itself would refuse the delete (RDS, EKS deletion protection): say so
/// before anything is touched rather than fail halfway through.
pub(crate) fn deletion_protected(props: &crate::model::Props) -> bool {
    props
        .get("deletion_protection")
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

/// `infra destroy`: everything in state, in reverse dependency order.
pub async fn destroy(
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
    let result = destroy_locked(opts, prepared, cx, run, confirm, &mut writer).await;
    writer.finish(result).await
}

pub(crate) async fn destroy_locked(
    opts: &EnvOptions,
    prepared: &Prepared,
    cx: &Cx,
    run: RunOptions,
    confirm: &mut dyn FnMut(&Plan) -> bool,
    writer: &mut Writer,
) -> Result<RunOutcome, Error> {
    let lease = writer.lease();
    let state = &mut writer.state;
    let rows = state_map(state)?;
    let protected = protected(prepared, &rows, run.selection.destroy_scope(&rows));
    if !protected.is_empty() {
        return Err(Error::Protected(protected));
    }
    let run_id = state.begin_run(&run.command)?;
    let (observed, adopted) = observe(cx, prepared, state, &rows, run.do_refresh).await?;
    let recovered = recover(state, &run_id, &observed, &adopted, cx.reporter.as_ref())?;
    let rows = state_map(state)?;
    let current = Current {
        state: &rows,
        live: &observed.live,
        refreshed_kinds: &observed.kinds,
    };
    let mut plan = destroy_plan(&current);
    // A policy attached by hand would keep its role from being deleted.
    plan.actions
        .extend(crate::by_hand::removals(&crate::by_hand::find(
            &prepared.graph,
            &rows,
            &observed,
            &prepared.registry,
        )));
    run.selection.apply_to_destroy(&mut plan, &rows);
    deletes_as_the_plan_file_says(&mut plan, prepared);
    if !run.keep_out_of_band && !rows.is_empty() && run.selection.targets.is_empty() {
        plan.out_of_band = left_by_controllers(cx, opts, prepared, &rows, &observed).await?;
    }
    plan.data_loss = crate::data_loss::find(&plan);
    plan.cost = Some(crate::review::cost_change(
        &prepared.loaded,
        [],
        &rows,
        crate::cost::Date::today(),
    ));
    if plan.is_empty() || !confirm(&plan) {
        state.finish_run(&run_id, "no-op", "nothing destroyed")?;
        return Ok(RunOutcome {
            plan,
            report: None,
            recovered,
            orphans: Vec::new(),
        });
    }
    let swept = crate::sweep::remove(cx, &plan.out_of_band).await;
    let report = apply(
        &plan,
        prepared.registry.clone(),
        cx.clone(),
        state,
        HashMap::new(),
        ApplyOptions {
            parallelism: run.parallelism,
            run_id: run_id.clone(),
            interrupt: run.interrupt,
            lease,
        },
    )
    .await;
    let mut report = report;
    report.failed.extend(
        swept
            .into_iter()
            .map(|(id, e)| (id, format!("out-of-band sweep: {e}"))),
    );
    let status = if report.ok() { "ok" } else { "failed" };
    state.finish_run(
        &run_id,
        status,
        &format!("{} deleted, {} failed", report.done, report.failed.len()),
    )?;
    record_outputs(state, prepared, &observed, &plan)?;
    Ok(RunOutcome {
        plan,
        report: Some(report),
        recovered,
        orphans: Vec::new(),
    })
}

/// The resources in scope that may not be deleted, sorted. The plan file
/// decides; a resource it no longer has keeps its last word.
fn protected(
    prepared: &Prepared,
    rows: &HashMap<String, StateResource>,
    scope: Option<std::collections::BTreeSet<String>>,
) -> Vec<String> {
    let mut protected: Vec<String> = rows
        .values()
        .filter(|r| scope.as_ref().is_none_or(|s| s.contains(&r.address)))
        .filter(|r| match prepared.graph.get(&r.address) {
            Some(d) => d.protect || deletion_protected(&d.props),
            None => r.protect || deletion_protected(&r.props),
        })
        .map(|r| r.address.clone())
        .collect();
    protected.sort();
    protected
}

/// The plan file's word on how to delete (final snapshot, key deletion
/// window) wins over what was applied last.
fn deletes_as_the_plan_file_says(plan: &mut Plan, prepared: &Prepared) {
    for action in &mut plan.actions {
        let (Some(live), Some(d)) = (action.current.as_mut(), prepared.graph.get(&action.address))
        else {
            continue;
        };
        for (k, v) in d
            .props
            .iter()
            .filter(|(k, v)| crate::diff::is_write_only(k) && !v.to_string().contains("${"))
        {
            live.props.insert(k.clone(), v.clone());
        }
    }
}

/// What the cluster's controllers left in the env's VPC, subnets and zone,
/// swept before the destroy. Only what still exists: a VPC or zone deleted
/// outside infra is already gone.
async fn left_by_controllers(
    cx: &Cx,
    opts: &EnvOptions,
    prepared: &Prepared,
    rows: &HashMap<String, StateResource>,
    observed: &Observed,
) -> Result<Vec<crate::model::OutOfBand>, Error> {
    let exists = |r: &StateResource| {
        !observed.kinds.contains(&r.kind) || observed.live.contains_key(&r.address)
    };
    let live = |kind: &str| -> Vec<String> {
        rows.values()
            .filter(|r| r.kind == kind && exists(r))
            .map(|r| r.id.clone())
            .collect()
    };
    let subnets = live("Subnet");
    let vpc = live("Vpc").into_iter().next();
    let cluster = prepared.loaded.file.cluster_name(&opts.env);
    let zone = live("Route53Zone").into_iter().next();
    let scope = crate::sweep::Scope {
        cluster: &cluster,
        vpc_id: vpc.as_deref(),
        subnet_ids: &subnets,
        zone_id: zone.as_deref(),
    };
    Ok(crate::sweep::find(cx, &scope).await?)
}
