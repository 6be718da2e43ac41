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
    let mut run = Run {
        plan,
        cx,
        state,
        run_id: opts.run_id.clone(),
        schedule: Schedule::new(plan),
        outputs: known_outputs,
        report: ApplyReport::default(),
    };
    let semaphore = Arc::new(Semaphore::new(opts.parallelism.max(1)));
    let mut running: JoinSet<Finished> = JoinSet::new();
    if *opts.interrupt.borrow() {
        run.schedule.stop();
    }
    let mut interrupt_open = true;

    loop {
        while let Some(s) = run.schedule.peek() {
            if let Some(why) = opts.lease.as_ref().and_then(|l| l.check().err()) {
                run.lease_lost(why);
                break;
            }
            let Ok(permit) = semaphore.clone().try_acquire_owned() else {
                break;
            };
            let Some(step) = run.begin(s, &registry) else {
                continue;
            };
            let registry = registry.clone();
            let cx = run.cx.clone();
            running.spawn(async move {
                let _permit = permit;
                step.run(&registry, &cx).await
            });
        }
        if running.is_empty() {
            break;
        }
        tokio::select! {
            joined = running.join_next() => match joined {
                Some(Ok(finished)) => run.record(finished),
                // A panicking step must not take the others down.
                Some(Err(e)) => run.report.failed.push(("<task>".into(), e.to_string())),
                None => {}
            },
            changed = opts.interrupt.changed(), if interrupt_open && !run.schedule.stopped() => {
                if changed.is_err() {
                    interrupt_open = false;
                } else if *opts.interrupt.borrow() {
                    run.schedule.stop();
                    run.report.interrupted = true;
                    run.cx.reporter.report(Event::Interrupted);
                }
            }
        }
    }
    run.finish()
}

/// What one step needs to run on its own task, away from the state store.
struct Step {
    step: usize,
    kind: String,
    phase: Phase,
    address: String,
    current: Option<Live>,
    resolved: Props,
    token: String,
    changed: Vec<String>,
    journal: Option<i64>,
}

impl Step {
    /// The cloud calls of the step; nothing here touches the state.
    async fn run(self, registry: &Registry, cx: &Cx) -> Finished {
        let started = Instant::now();
        let kind = registry.get(&self.kind).expect("checked before start");
        let target = Target {
            address: &self.address,
            props: &self.resolved,
            token: &self.token,
        };
        let result = match (self.phase, self.current) {
            (Phase::Delete, None) => Ok(StepResult::Deleted),
            (Phase::Delete, Some(live)) => {
                kind.delete(cx, &live).await.map(|_| StepResult::Deleted)
            }
            (Phase::Update, Some(live)) => kind
                .update(cx, &live, &target, &self.changed)
                .await
                .map(StepResult::Built),
            (Phase::Update, None) => Err(AwsError::local("update", "nothing to update")),
            (Phase::Create, _) => create::create(kind, cx, &target)
                .await
                .map(StepResult::Built),
        };
        Finished {
            step: self.step,
            journal: self.journal,
            result,
            elapsed: started.elapsed(),
        }
    }
}

/// The loop's own data: the schedule, the outputs known so far, the state
/// store (only this task writes it) and the report.
struct Run<'a> {
    plan: &'a Plan,
    cx: Cx,
    state: &'a mut StateStore,
    run_id: String,
    schedule: Schedule,
    outputs: HashMap<String, Outputs>,
    report: ApplyReport,
}

impl Run<'_> {
    /// Resolves the step's references, journals its intent and marks it
    /// started; `None` when it cannot start (it is then failed).
    fn begin(&mut self, s: usize, registry: &Registry) -> Option<Step> {
        let action = &self.plan.actions[self.schedule.action(s)];
        let phase = self.schedule.phase(s);
        if registry.get(&action.kind).is_none() {
            self.fail(s, format!("unknown kind {}", action.kind));
            return None;
        }
        let resolved = match self.resolve(s) {
            Ok(p) => p,
            Err(message) => {
                self.fail(s, message);
                return None;
            }
        };
        let token = uuid::Uuid::new_v4().to_string();
        let journal = match self.journal_begin(s, &resolved, &token) {
            Ok(j) => j,
            Err(e) => {
                self.fail(s, format!("could not write the journal: {e}"));
                self.schedule.stop();
                return None;
            }
        };
        self.schedule.start(s);
        self.cx.reporter.report(Event::Started {
            address: action.address.clone(),
            action: phase.verb().into(),
        });
        Some(Step {
            step: s,
            kind: action.kind.clone(),
            phase,
            address: action.address.clone(),
            current: action.current.clone(),
            resolved,
            token,
            changed: action.changes.iter().map(|c| c.field.clone()).collect(),
            journal,
        })
    }

    /// The step's properties with references resolved: the outputs they
    /// name exist by now.
    fn resolve(&self, s: usize) -> Result<Props, String> {
        let action = &self.plan.actions[self.schedule.action(s)];
        if self.schedule.phase(s) == Phase::Delete {
            return Ok(Props::new());
        }
        let lookup = |r: &crate::model::Ref| {
            self.outputs
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

    /// The write-ahead intent of a mutating step; `None` for a delete of
    /// something the cloud never had (only the state row goes).
    fn journal_begin(
        &mut self,
        s: usize,
        resolved: &Props,
        token: &str,
    ) -> Result<Option<i64>, crate::state::StateError> {
        let action = &self.plan.actions[self.schedule.action(s)];
        let phase = self.schedule.phase(s);
        if action.current.is_none() && phase == Phase::Delete {
            return Ok(None);
        }
        let journal_props = if phase == Phase::Delete {
            action
                .current
                .as_ref()
                .map(|c| c.props.clone())
                .unwrap_or_default()
        } else {
            resolved.clone()
        };
        self.state
            .journal_begin(
                &self.run_id,
                &action.address,
                &action.kind,
                phase.verb(),
                token,
                &journal_props,
                &action.deps,
            )
            .map(Some)
    }

    /// Saves what a finished step did (its journal row and resource row in
    /// one transaction) and releases its dependents.
    fn record(&mut self, finished: Finished) {
        let s = finished.step;
        let action = &self.plan.actions[self.schedule.action(s)];
        let phase = self.schedule.phase(s);
        let result = match finished.result {
            Ok(result) => result,
            Err(error) => {
                if let Some(j) = finished.journal {
                    let _ =
                        self.state
                            .journal_finish(j, &format!("failed: {error}"), &RowChange::Keep);
                }
                self.fail(s, error.to_string());
                return;
            }
        };
        let change = match result {
            StepResult::Deleted => RowChange::Remove(action.address.clone()),
            StepResult::Built(live) => {
                self.outputs
                    .insert(action.address.clone(), live.outputs.clone());
                RowChange::Upsert(StateResource {
                    address: action.address.clone(),
                    kind: action.kind.clone(),
                    id: live.id,
                    props: live.props,
                    outputs: live.outputs,
                    deps: action.deps.clone(),
                    protect: action.protect,
                })
            }
        };
        let saved = match (finished.journal, &change) {
            (Some(j), _) => self.state.journal_finish(j, "done", &change),
            (None, RowChange::Remove(a)) => self.state.remove_resource(a),
            (None, _) => Ok(()),
        };
        match saved {
            Ok(()) => {
                self.report.done += 1;
                self.report
                    .finished
                    .push((action.address.clone(), phase.verb().to_string()));
                self.cx.reporter.report(Event::Finished {
                    address: action.address.clone(),
                    action: phase.verb().into(),
                    elapsed: finished.elapsed,
                });
                self.schedule.finish(s);
            }
            Err(e) => {
                self.fail(s, format!("done in the cloud but not saved to state: {e}"));
                self.schedule.stop();
            }
        }
    }

    /// The state lease is gone: no new step starts.
    fn lease_lost(&mut self, why: String) {
        self.schedule.stop();
        self.report.interrupted = true;
        self.cx.reporter.report(Event::Warning {
            message: format!("lost the state lease ({why}): no new action starts"),
        });
        self.report.lease_lost = Some(why);
    }

    /// Marks a step failed and every step that depends on it, transitively,
    /// skipped.
    fn fail(&mut self, s: usize, error: String) {
        let action = &self.plan.actions[self.schedule.action(s)];
        self.cx.reporter.report(Event::Failed {
            address: action.address.clone(),
            action: self.schedule.phase(s).verb().into(),
            error: error.clone(),
        });
        self.report.failed.push((action.address.clone(), error));
        let because = format!("{} failed", action.address);
        for d in self.schedule.fail(s) {
            let skipped = &self.plan.actions[self.schedule.action(d)].address;
            self.cx.reporter.report(Event::Skipped {
                address: skipped.clone(),
                because: because.clone(),
            });
            self.report.skipped.push((skipped.clone(), because.clone()));
        }
    }

    /// The report, with every step that never started.
    fn finish(mut self) -> ApplyReport {
        for step in self.schedule.not_started() {
            let address = &self.plan.actions[self.schedule.action(step)].address;
            if !self.report.not_started.contains(address)
                && !self.report.skipped.iter().any(|(a, _)| a == address)
            {
                self.report.not_started.push(address.clone());
            }
        }
        self.report
    }
}
