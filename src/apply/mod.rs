//! The executor.
//!
//! # Design
//!
//! A plan's actions become *steps*: a create, update or delete each make one
//! step; a replace makes a delete step followed by a create step. Steps form
//! a DAG: a create or update waits for the creates and updates of what it
//! refers to; a delete waits for the deletes of everything that referred to
//! it when it was applied (reverse order), and for updates that move a
//! referrer away from it.
//!
//! The scheduler keeps, per step, the number of unfinished dependencies.
//! A step whose count reaches zero starts at once — not when its "level" is
//! done — so a slow NAT gateway never holds back a route table that does not
//! need it. A semaphore bounds how many calls are in flight (`--parallelism`).
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

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::aws::kinds::{Live, Registry, Target};
use crate::aws::{AwsError, Cx};
use crate::diff::{Action, Op, Plan};
use crate::model::{Outputs, Props, resolve};
use crate::report::Event;
use crate::state::{RowChange, StateResource, StateStore};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Delete,
    Create,
    Update,
}

impl Phase {
    fn verb(self) -> &'static str {
        match self {
            Phase::Delete => "delete",
            Phase::Create => "create",
            Phase::Update => "update",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Waiting,
    Running,
    Done,
    Failed,
    Skipped,
}

struct Step {
    action: usize,
    phase: Phase,
    dependents: Vec<usize>,
    waiting_on: usize,
    status: Status,
}

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

fn build_steps(plan: &Plan) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut delete_of: HashMap<&str, usize> = HashMap::new();
    let mut build_of: HashMap<&str, usize> = HashMap::new();
    for (i, a) in plan.actions.iter().enumerate() {
        let phases: &[Phase] = match a.op {
            Op::Create => &[Phase::Create],
            Op::Update => &[Phase::Update],
            Op::Delete => &[Phase::Delete],
            Op::Replace => &[Phase::Delete, Phase::Create],
        };
        for &phase in phases {
            let index = steps.len();
            steps.push(Step {
                action: i,
                phase,
                dependents: Vec::new(),
                waiting_on: 0,
                status: Status::Waiting,
            });
            match phase {
                Phase::Delete => delete_of.insert(&a.address, index),
                _ => build_of.insert(&a.address, index),
            };
        }
    }
    let mut edges: Vec<(usize, usize)> = Vec::new();
    for (i, a) in plan.actions.iter().enumerate() {
        if let (Some(&d), Some(&c)) = (
            delete_of.get(a.address.as_str()),
            build_of.get(a.address.as_str()),
        ) {
            edges.push((d, c));
        }
        if let Some(&build) = build_of.get(a.address.as_str()) {
            for dep in &a.deps {
                if let Some(&before) = build_of.get(dep.as_str()) {
                    edges.push((before, build));
                }
            }
        }
        for dep in &a.state_deps {
            let Some(&dep_delete) = delete_of.get(dep.as_str()) else {
                continue;
            };
            if let Some(&own_delete) = delete_of.get(a.address.as_str()) {
                edges.push((own_delete, dep_delete));
            } else if a.op == Op::Update
                && plan
                    .actions
                    .iter()
                    .any(|x| &x.address == dep && x.op == Op::Delete)
            {
                // Move the referrer away before its old target goes.
                edges.push((build_of[a.address.as_str()], dep_delete));
            }
        }
        let _ = i;
    }
    edges.sort_unstable();
    edges.dedup();
    for (from, to) in edges {
        steps[from].dependents.push(to);
        steps[to].waiting_on += 1;
    }
    steps
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
    let mut steps = build_steps(plan);
    let mut outputs = known_outputs;
    let mut report = ApplyReport::default();
    let semaphore = Arc::new(Semaphore::new(opts.parallelism.max(1)));
    let mut ready: VecDeque<usize> = (0..steps.len())
        .filter(|&s| steps[s].waiting_on == 0)
        .collect();
    let mut running: JoinSet<Finished> = JoinSet::new();
    let mut stopping = *opts.interrupt.borrow();
    let mut interrupt_open = true;

    loop {
        while !stopping {
            let Some(&s) = ready.front() else { break };
            if let Some(why) = opts.lease.as_ref().and_then(|l| l.check().err()) {
                stopping = true;
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
            ready.pop_front();
            let action = &plan.actions[steps[s].action];
            let phase = steps[s].phase;
            let kind = registry.get(&action.kind).map(|_| action.kind.clone());
            let Some(kind_name) = kind else {
                fail(
                    &mut steps,
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
                    fail(&mut steps, s, plan, &mut report, &cx, message);
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
                            &mut steps,
                            s,
                            plan,
                            &mut report,
                            &cx,
                            format!("could not write the journal: {e}"),
                        );
                        stopping = true;
                        continue;
                    }
                }
            };
            steps[s].status = Status::Running;
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
                let action = &plan.actions[steps[s].action];
                let phase = steps[s].phase;
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
                                steps[s].status = Status::Done;
                                report.done += 1;
                                report.finished.push((action.address.clone(), phase.verb().to_string()));
                                cx.reporter.report(Event::Finished {
                                    address: action.address.clone(),
                                    action: phase.verb().into(),
                                    elapsed: finished.elapsed,
                                });
                                for d in steps[s].dependents.clone() {
                                    steps[d].waiting_on -= 1;
                                    if steps[d].waiting_on == 0 && steps[d].status == Status::Waiting {
                                        ready.push_back(d);
                                    }
                                }
                            }
                            Err(e) => {
                                fail(&mut steps, s, plan, &mut report, &cx, format!("done in the cloud but not saved to state: {e}"));
                                stopping = true;
                            }
                        }
                    }
                    Err(error) => {
                        if let Some(j) = finished.journal {
                            let _ = state.journal_finish(j, &format!("failed: {error}"), &RowChange::Keep);
                        }
                        fail(&mut steps, s, plan, &mut report, &cx, error.to_string());
                    }
                }
            }
            changed = opts.interrupt.changed(), if interrupt_open && !stopping => {
                if changed.is_err() {
                    interrupt_open = false;
                } else if *opts.interrupt.borrow() {
                    stopping = true;
                    report.interrupted = true;
                    cx.reporter.report(Event::Interrupted);
                }
            }
        }
    }
    for step in &steps {
        if step.status == Status::Waiting {
            let address = &plan.actions[step.action].address;
            if !report.not_started.contains(address)
                && !report.skipped.iter().any(|(a, _)| a == address)
            {
                report.not_started.push(address.clone());
            }
        }
    }
    report
}

/// Marks a step failed and every step that depends on it, transitively, skipped.
fn fail(
    steps: &mut [Step],
    s: usize,
    plan: &Plan,
    report: &mut ApplyReport,
    cx: &Cx,
    error: String,
) {
    let action: &Action = &plan.actions[steps[s].action];
    steps[s].status = Status::Failed;
    cx.reporter.report(Event::Failed {
        address: action.address.clone(),
        action: steps[s].phase.verb().into(),
        error: error.clone(),
    });
    report.failed.push((action.address.clone(), error));
    let mut stack = steps[s].dependents.clone();
    while let Some(d) = stack.pop() {
        if steps[d].status != Status::Waiting {
            continue;
        }
        steps[d].status = Status::Skipped;
        let skipped = &plan.actions[steps[d].action].address;
        let because = format!("{} failed", action.address);
        cx.reporter.report(Event::Skipped {
            address: skipped.clone(),
            because: because.clone(),
        });
        report.skipped.push((skipped.clone(), because));
        stack.extend(steps[d].dependents.iter().copied());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(address: &str, op: Op, deps: &[&str], state_deps: &[&str]) -> Action {
        Action {
            address: address.into(),
            kind: "Thing".into(),
            op,
            changes: vec![],
            reason: None,
            props: Some(Props::new()),
            current: None,
            deps: deps.iter().map(|s| s.to_string()).collect(),
            state_deps: state_deps.iter().map(|s| s.to_string()).collect(),
            protect: false,
        }
    }

    #[test]
    fn creates_wait_for_their_dependencies_and_deletes_run_in_reverse() {
        let plan = Plan {
            actions: vec![
                action("vpc.a", Op::Create, &[], &[]),
                action("subnet.a", Op::Create, &["vpc.a"], &[]),
                action("vpc.old", Op::Delete, &[], &[]),
                action("subnet.old", Op::Delete, &[], &["vpc.old"]),
            ],
            ..Plan::default()
        };
        let steps = build_steps(&plan);
        assert_eq!(steps[0].dependents, vec![1]);
        assert_eq!(steps[1].waiting_on, 1);
        // subnet.old's delete comes before vpc.old's.
        assert_eq!(steps[3].dependents, vec![2]);
        assert_eq!(steps[2].waiting_on, 1);
    }

    #[test]
    fn a_replace_deletes_dependents_first_and_recreates_after() {
        let plan = Plan {
            actions: vec![
                action("subnet.a", Op::Replace, &[], &[]),
                action("assoc.a", Op::Replace, &["subnet.a"], &["subnet.a"]),
            ],
            ..Plan::default()
        };
        let steps = build_steps(&plan);
        // steps: 0 subnet delete, 1 subnet create, 2 assoc delete, 3 assoc create
        assert!(steps[0].dependents.contains(&1));
        assert!(
            steps[2].dependents.contains(&0),
            "assoc delete before subnet delete"
        );
        assert!(
            steps[1].dependents.contains(&3),
            "subnet create before assoc create"
        );
        assert!(steps[2].dependents.contains(&3));
    }
}
