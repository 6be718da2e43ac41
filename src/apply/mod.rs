//! The executor.
//!
//! # Design
//!
//! The order lives in [`schedule`] (pure, unit-tested): steps, their
//! edges, what a finish releases and a failure skips. A semaphore bounds how
//! many calls are in flight (`--parallelism`).
//!
//! One task, the loop below, owns the state store. Before it starts a
//! mutating step it commits a journal row (the write-ahead intent); when the
//! step's task returns, it commits the result and the resource row in one
//! transaction. Nothing is batched to the end, so a run killed at any point
//! has every finished action recorded, and at most the in-flight ones open in
//! the journal for recovery to resolve by tag.
//!
//! A failed step marks only its transitive dependents as skipped; every
//! independent step still runs. Nothing `?`s out of the loop: a state write
//! error is recorded against its step, new steps stop, and in-flight steps
//! are drained and saved. An interrupt (Ctrl-C) does the same: no new step
//! starts, running ones finish and are saved.

mod create;
pub mod schedule;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::aws::kinds::{Live, Registry, Target};
use crate::aws::{AwsError, Cx};
use crate::diff::Plan;
use crate::model::{Outputs, Props, resolve};
use crate::report::Event;
use crate::state::{RowChange, StateResource, StateStore};

use schedule::{Phase, Schedule};

pub struct ApplyOptions {
    pub parallelism: usize,
    pub run_id: String,
    /// Becomes `true` on Ctrl-C.
    pub interrupt: watch::Receiver<bool>,
    /// The remote state's lease (S3 backend): checked before every step;
    /// once it is lost or ran out, no new step starts.
    pub lease: Option<Arc<crate::state::s3::Lease>>,
}

#[derive(Debug, Default)]
pub struct ApplyReport {
    pub done: usize,
    /// Every action that finished, in order: (address, `create`/`update`/`delete`).
    pub finished: Vec<(String, String)>,
    pub failed: Vec<(String, String)>,
    pub skipped: Vec<(String, String)>,
    pub not_started: Vec<String>,
    pub interrupted: bool,
    /// Why the run stopped early: its state lease was lost.
    pub lease_lost: Option<String>,
}

impl ApplyReport {
    /// Every action finished. An interrupt that came while the last ones
    /// were running left nothing undone: that run is complete too.
    pub fn ok(&self) -> bool {
        self.failed.is_empty() && self.skipped.is_empty() && self.not_started.is_empty()
    }
}

enum StepResult {
    Built(Live),
    Deleted,
}

struct Finished {
    step: usize,
    journal: Option<i64>,
    result: Result<StepResult, AwsError>,
    elapsed: Duration,
}

/// Runs the plan. Returns what happened to every action; never stops early
/// on a failure of one action.
pub async fn apply(
    plan: &Plan,
    registry: Arc<Registry>,
    cx: Cx,
    state: &mut StateStore,
    known_outputs: HashMap<String, Outputs>,
    mut opts: ApplyOptions,
) -> ApplyReport {
    let mut schedule = Schedule::new(plan);
    let mut outputs = known_outputs;
    let mut report = ApplyReport::default();
    let semaphore = Arc::new(Semaphore::new(opts.parallelism.max(1)));
    let mut running: JoinSet<Finished> = JoinSet::new();
    if *opts.interrupt.borrow() {
        schedule.stop();
    }
    let mut interrupt_open = true;

    loop {
        while let Some(s) = schedule.peek() {
            if let Some(why) = opts.lease.as_ref().and_then(|l| l.check().err()) {
                schedule.stop();
                report.interrupted = true;
                cx.reporter.report(Event::Warning {
                    message: format!("lost the state lease ({why}): no new action starts"),
                });
                report.lease_lost = Some(why);
                break;
            }
            let Ok(permit) = semaphore.clone().try_acquire_owned() else {
                break;
            };
            let action = &plan.actions[schedule.action(s)];
            let phase = schedule.phase(s);
            let kind = registry.get(&action.kind).map(|_| action.kind.clone());
            let Some(kind_name) = kind else {
                fail(
                    &mut schedule,
                    s,
                    plan,
                    &mut report,
                    &cx,
                    format!("unknown kind {}", action.kind),
                );
                continue;
            };
            // Resolve references now: the outputs they name exist by now.
            let resolved = match phase {
                Phase::Delete => Ok(Props::new()),
                _ => {
                    let lookup = |r: &crate::model::Ref| {
                        outputs
                            .get(&r.address)
                            .and_then(|o| o.get(&r.output).cloned())
                    };
                    resolve(
                        action.props.as_ref().expect("build steps carry props"),
                        &lookup,
                        false,
                    )
                    .map_err(|r| format!("reference ${{{}.{}}} has no value", r.address, r.output))
                }
            };
            let resolved = match resolved {
                Ok(p) => p,
                Err(message) => {
                    fail(&mut schedule, s, plan, &mut report, &cx, message);
                    continue;
                }
            };
            let token = uuid::Uuid::new_v4().to_string();
            let journal_props = if phase == Phase::Delete {
                action
                    .current
                    .as_ref()
                    .map(|c| c.props.clone())
                    .unwrap_or_default()
            } else {
                resolved.clone()
            };
            let journal = if action.current.is_none() && phase == Phase::Delete {
                None // nothing in the cloud: only the state row goes
            } else {
                match state.journal_begin(
                    &opts.run_id,
                    &action.address,
                    &kind_name,
                    phase.verb(),
                    &token,
                    &journal_props,
                    &action.deps,
                ) {
                    Ok(id) => Some(id),
                    Err(e) => {
                        fail(
                            &mut schedule,
                            s,
                            plan,
                            &mut report,
                            &cx,
                            format!("could not write the journal: {e}"),
                        );
                        schedule.stop();
                        continue;
                    }
                }
            };
            schedule.start(s);
            cx.reporter.report(Event::Started {
                address: action.address.clone(),
                action: phase.verb().into(),
            });
            let registry = registry.clone();
            let cx2 = cx.clone();
            let address = action.address.clone();
            let current = action.current.clone();
            let changed: Vec<String> = action.changes.iter().map(|c| c.field.clone()).collect();
            running.spawn(async move {
                let _permit = permit;
                let started = Instant::now();
                let kind = registry.get(&kind_name).expect("checked above");
                let target = Target {
                    address: &address,
                    props: &resolved,
                    token: &token,
                };
                let result = match (phase, current) {
                    (Phase::Delete, None) => Ok(StepResult::Deleted),
                    (Phase::Delete, Some(live)) => {
                        kind.delete(&cx2, &live).await.map(|_| StepResult::Deleted)
                    }
                    (Phase::Update, Some(live)) => kind
                        .update(&cx2, &live, &target, &changed)
                        .await
                        .map(StepResult::Built),
                    (Phase::Update, None) => Err(AwsError::local("update", "nothing to update")),
                    (Phase::Create, _) => create::create(kind, &cx2, &target)
                        .await
                        .map(StepResult::Built),
                };
                Finished {
                    step: s,
                    journal,
                    result,
                    elapsed: started.elapsed(),
                }
            });
        }
        if running.is_empty() {
            break;
        }
        tokio::select! {
            joined = running.join_next() => {
                let Some(joined) = joined else { continue };
                let finished = match joined {
                    Ok(f) => f,
                    Err(e) => {
                        // A panicking step must not take the others down.
                        report.failed.push(("<task>".into(), e.to_string()));
                        continue;
                    }
                };
                let s = finished.step;
                let action = &plan.actions[schedule.action(s)];
                let phase = schedule.phase(s);
                match finished.result {
                    Ok(result) => {
                        let change = match result {
                            StepResult::Deleted => RowChange::Remove(action.address.clone()),
                            StepResult::Built(live) => {
                                outputs.insert(action.address.clone(), live.outputs.clone());
                                RowChange::Upsert(StateResource {
                                    address: action.address.clone(),
                                    kind: action.kind.clone(),
                                    id: live.id.clone(),
                                    props: live.props.clone(),
                                    outputs: live.outputs.clone(),
                                    deps: action.deps.clone(),
                                    protect: action.protect,
                                })
                            }
                        };
                        let saved = match finished.journal {
                            Some(j) => state.journal_finish(j, "done", &change),
                            None => match &change {
                                RowChange::Remove(a) => state.remove_resource(a),
                                _ => Ok(()),
                            },
                        };
                        match saved {
                            Ok(()) => {
                                report.done += 1;
                                report.finished.push((action.address.clone(), phase.verb().to_string()));
                                cx.reporter.report(Event::Finished {
                                    address: action.address.clone(),
                                    action: phase.verb().into(),
                                    elapsed: finished.elapsed,
                                });
                                schedule.finish(s);
                            }
                            Err(e) => {
                                fail(&mut schedule, s, plan, &mut report, &cx, format!("done in the cloud but not saved to state: {e}"));
                                schedule.stop();
                            }
                        }
                    }
                    Err(error) => {
                        if let Some(j) = finished.journal {
                            let _ = state.journal_finish(j, &format!("failed: {error}"), &RowChange::Keep);
                        }
                        fail(&mut schedule, s, plan, &mut report, &cx, error.to_string());
                    }
                }
            }
            changed = opts.interrupt.changed(), if interrupt_open && !schedule.stopped() => {
                if changed.is_err() {
                    interrupt_open = false;
                } else if *opts.interrupt.borrow() {
                    schedule.stop();
                    report.interrupted = true;
                    cx.reporter.report(Event::Interrupted);
                }
            }
        }
    }
    for step in schedule.not_started() {
        let address = &plan.actions[schedule.action(step)].address;
        if !report.not_started.contains(address)
            && !report.skipped.iter().any(|(a, _)| a == address)
        {
            report.not_started.push(address.clone());
        }
    }
    report
}

/// Marks a step failed and every step that depends on it, transitively, skipped.
fn fail(
    schedule: &mut Schedule,
    s: usize,
    plan: &Plan,
    report: &mut ApplyReport,
    cx: &Cx,
    error: String,
) {
    let action = &plan.actions[schedule.action(s)];
    cx.reporter.report(Event::Failed {
        address: action.address.clone(),
        action: schedule.phase(s).verb().into(),
        error: error.clone(),
    });
    report.failed.push((action.address.clone(), error));
    let because = format!("{} failed", action.address);
    for d in schedule.fail(s) {
        let skipped = &plan.actions[schedule.action(d)].address;
        cx.reporter.report(Event::Skipped {
            address: skipped.clone(),
            because: because.clone(),
        });
        report.skipped.push((skipped.clone(), because.clone()));
    }
}
