//! The order of an apply, with no AWS and no state in it: which steps may
//! start now, what a finished step releases, what a failed one skips.
//!
//! A plan's actions become *steps*: a create, update or delete each make one
//! step; a replace makes a delete step followed by a create step. Steps form
//! a DAG: a create or update waits for the creates and updates of what it
//! refers to; a delete waits for the deletes of everything that referred to
//! it when it was applied (reverse order), and for updates that move a
//! referrer away from it.
//!
//! Each step keeps the number of its unfinished dependencies. A step whose
//! count reaches zero is ready at once — not when its "level" is done — so a
//! slow NAT gateway never holds back a route table that does not need it.
//! A failed step skips only its transitive dependents. After [`Schedule::stop`]
//! no step becomes startable, but running steps still finish (the drain).

use std::collections::{HashMap, VecDeque};

use crate::diff::{Op, Plan};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Delete,
    Create,
    Update,
}

impl Phase {
    pub fn verb(self) -> &'static str {
        match self {
            Phase::Delete => "delete",
            Phase::Create => "create",
            Phase::Update => "update",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Waiting,
    Running,
    Done,
    Failed,
    Skipped,
}

#[derive(Debug)]
struct Step {
    action: usize,
    phase: Phase,
    dependents: Vec<usize>,
    waiting_on: usize,
    status: Status,
}

/// The steps of one plan and where each stands.
#[derive(Debug)]
pub struct Schedule {
    steps: Vec<Step>,
    ready: VecDeque<usize>,
    stopped: bool,
}

impl Schedule {
    pub fn new(plan: &Plan) -> Schedule {
        let steps = build_steps(plan);
        let ready = (0..steps.len())
            .filter(|&s| steps[s].waiting_on == 0)
            .collect();
        Schedule {
            steps,
            ready,
            stopped: false,
        }
    }

    /// The index of the plan action step `s` belongs to.
    pub fn action(&self, s: usize) -> usize {
        self.steps[s].action
    }

    pub fn phase(&self, s: usize) -> Phase {
        self.steps[s].phase
    }

    pub fn status(&self, s: usize) -> Status {
        self.steps[s].status
    }

    /// The next step that may start, if any (left in the queue until
    /// [`Schedule::start`] or [`Schedule::fail`] takes it).
    pub fn peek(&self) -> Option<usize> {
        if self.stopped {
            None
        } else {
            self.ready.front().copied()
        }
    }

    /// Takes step `s` out of the queue as running.
    pub fn start(&mut self, s: usize) {
        self.ready.retain(|&r| r != s);
        self.steps[s].status = Status::Running;
    }

    /// Step `s` finished: its dependents whose last dependency it was become ready.
    pub fn finish(&mut self, s: usize) {
        self.steps[s].status = Status::Done;
        for d in self.steps[s].dependents.clone() {
            self.steps[d].waiting_on -= 1;
            if self.steps[d].waiting_on == 0 && self.steps[d].status == Status::Waiting {
                self.ready.push_back(d);
            }
        }
    }

    /// Step `s` failed (running, or refused before it started): every step
    /// that depends on it, transitively, is skipped. Returns the skipped ones.
    pub fn fail(&mut self, s: usize) -> Vec<usize> {
        self.ready.retain(|&r| r != s);
        self.steps[s].status = Status::Failed;
        let mut skipped = Vec::new();
        let mut stack = self.steps[s].dependents.clone();
        while let Some(d) = stack.pop() {
            if self.steps[d].status != Status::Waiting {
                continue;
            }
            self.steps[d].status = Status::Skipped;
            self.ready.retain(|&r| r != d);
            skipped.push(d);
            stack.extend(self.steps[d].dependents.iter().copied());
        }
        skipped
    }

    /// No step starts from now on; running ones may still finish.
    pub fn stop(&mut self) {
        self.stopped = true;
    }

    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// Steps that never started (and were not skipped), in step order.
    pub fn not_started(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.steps.len()).filter(|&s| self.steps[s].status == Status::Waiting)
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
    for a in &plan.actions {
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
    }
    edges.sort_unstable();
    edges.dedup();
    for (from, to) in edges {
        steps[from].dependents.push(to);
        steps[to].waiting_on += 1;
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::Action;
    use crate::model::Props;

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

    fn plan(actions: Vec<Action>) -> Plan {
        Plan {
            actions,
            ..Plan::default()
        }
    }

    /// The address and verb of step `s`.
    fn name(p: &Plan, sc: &Schedule, s: usize) -> String {
        format!("{} {}", sc.phase(s).verb(), p.actions[sc.action(s)].address)
    }

    /// Every step the schedule lets start right now, started.
    fn start_all(sc: &mut Schedule) -> Vec<usize> {
        let mut started = Vec::new();
        while let Some(s) = sc.peek() {
            sc.start(s);
            started.push(s);
        }
        started
    }

    /// A platform-shaped plan: two independent branches under one VPC, a
    /// replaced subnet with an association, and deletes of an old pair.
    fn sample() -> Plan {
        plan(vec![
            action("vpc.main", Op::Create, &[], &[]),
            action("subnet.a", Op::Create, &["vpc.main"], &[]),
            action("subnet.b", Op::Create, &["vpc.main"], &[]),
            action("nat.a", Op::Create, &["subnet.a"], &[]),
            action("route.b", Op::Create, &["subnet.b"], &[]),
            action("subnet.r", Op::Replace, &["vpc.main"], &[]),
            action("assoc.r", Op::Replace, &["subnet.r"], &["subnet.r"]),
            action("vpc.old", Op::Delete, &[], &[]),
            action("subnet.old", Op::Delete, &[], &["vpc.old"]),
        ])
    }

    /// Every (before, after) pair of step names the plan's edges demand.
    fn edges(p: &Plan, sc: &Schedule) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (s, step) in sc.steps.iter().enumerate() {
            for &d in &step.dependents {
                out.push((name(p, sc, s), name(p, sc, d)));
            }
        }
        out.sort();
        out
    }

    #[test]
    fn the_steps_carry_every_edge_a_platform_needs() {
        let p = sample();
        let sc = Schedule::new(&p);
        let e = edges(&p, &sc);
        for (before, after) in [
            ("create vpc.main", "create subnet.a"),
            ("create subnet.a", "create nat.a"),
            ("create subnet.b", "create route.b"),
            ("delete subnet.r", "create subnet.r"),
            ("delete assoc.r", "delete subnet.r"),
            ("create subnet.r", "create assoc.r"),
            ("delete subnet.old", "delete vpc.old"),
        ] {
            assert!(
                e.contains(&(before.to_string(), after.to_string())),
                "{before} -> {after} missing from {e:?}"
            );
        }
    }

    #[test]
    fn every_order_of_completion_respects_every_edge() {
        let p = sample();
        for seed in 0..200u64 {
            let mut rng = fastrand::Rng::with_seed(seed);
            let mut sc = Schedule::new(&p);
            let mut done_at: HashMap<usize, usize> = HashMap::new();
            let mut started_at: HashMap<usize, usize> = HashMap::new();
            let mut running: Vec<usize> = Vec::new();
            let mut clock = 0;
            loop {
                for s in start_all(&mut sc) {
                    started_at.insert(s, clock);
                    running.push(s);
                }
                if running.is_empty() {
                    break;
                }
                // Any running step may finish next.
                let s = running.swap_remove(rng.usize(..running.len()));
                clock += 1;
                sc.finish(s);
                done_at.insert(s, clock);
            }
            assert_eq!(done_at.len(), sc.steps.len(), "seed {seed}: all ran");
            for (s, step) in sc.steps.iter().enumerate() {
                for &d in &step.dependents {
                    assert!(
                        done_at[&s] <= started_at[&d],
                        "seed {seed}: {} started before {} finished",
                        name(&p, &sc, d),
                        name(&p, &sc, s)
                    );
                }
            }
        }
    }

    #[test]
    fn a_failure_skips_only_its_dependents_and_independent_branches_run_on() {
        let p = sample();
        let mut sc = Schedule::new(&p);
        let first = start_all(&mut sc);
        let by_name =
            |sc: &Schedule, n: &str| (0..sc.steps.len()).find(|&s| name(&p, sc, s) == n).unwrap();
        let vpc = by_name(&sc, "create vpc.main");
        assert!(first.contains(&vpc));
        for s in first {
            sc.finish(s);
        }
        let second = start_all(&mut sc);
        let a = by_name(&sc, "create subnet.a");
        assert!(second.contains(&a) && second.contains(&by_name(&sc, "create subnet.b")));
        let skipped: Vec<String> = sc.fail(a).iter().map(|&s| name(&p, &sc, s)).collect();
        assert_eq!(skipped, vec!["create nat.a".to_string()]);
        for s in second.into_iter().filter(|&s| s != a) {
            sc.finish(s);
        }
        // The other branch goes on to the end.
        loop {
            let started = start_all(&mut sc);
            if started.is_empty() {
                break;
            }
            for s in started {
                sc.finish(s);
            }
        }
        for n in ["create route.b", "create assoc.r", "delete vpc.old"] {
            assert_eq!(sc.status(by_name(&sc, n)), Status::Done, "{n}");
        }
        assert_eq!(sc.status(by_name(&sc, "create nat.a")), Status::Skipped);
        assert_eq!(sc.not_started().count(), 0);
    }

    #[test]
    fn a_step_refused_before_it_starts_skips_its_dependents_too() {
        let p = plan(vec![
            action("a", Op::Create, &[], &[]),
            action("b", Op::Create, &["a"], &[]),
            action("c", Op::Create, &["b"], &[]),
        ]);
        let mut sc = Schedule::new(&p);
        let a = sc.peek().unwrap();
        assert_eq!(sc.fail(a).len(), 2);
        assert_eq!(sc.peek(), None);
        assert_eq!(sc.not_started().count(), 0);
    }

    #[test]
    fn after_a_stop_nothing_starts_but_running_steps_drain() {
        let p = sample();
        let mut sc = Schedule::new(&p);
        let running = start_all(&mut sc);
        assert!(running.len() >= 2);
        sc.stop();
        assert_eq!(sc.peek(), None);
        for &s in &running {
            sc.finish(s);
        }
        // Their dependents became ready, yet none may start.
        assert_eq!(sc.peek(), None);
        for &s in &running {
            assert_eq!(sc.status(s), Status::Done);
        }
        let left: Vec<usize> = sc.not_started().collect();
        assert_eq!(left.len(), sc.steps.len() - running.len());
    }
}
