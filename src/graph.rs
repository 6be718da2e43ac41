//! The resource graph: built from the references between desired resources,
//! validated as a whole (every error at once), then sealed. Only a sealed
//! graph reaches diffing and execution.

use std::collections::{BTreeSet, HashMap};
use std::marker::PhantomData;

use petgraph::Direction;
use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};

use crate::model::{Desired, refs_of};

/// Type-state markers: a graph is `Building` until `seal` validates it.
#[derive(Debug)]
pub struct Building;
#[derive(Debug)]
pub struct Sealed;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    #[error("{origin}: address `{address}` is declared twice; give each resource its own name")]
    Duplicate { address: String, origin: String },
    #[error("{origin}: `{address}` has unknown kind `{kind}`; known kinds: {known}")]
    UnknownKind {
        address: String,
        kind: String,
        origin: String,
        known: String,
    },
    #[error("{origin}: `{address}` refers to `{target}`, which this plan does not declare")]
    Dangling {
        address: String,
        target: String,
        origin: String,
    },
    #[error(
        "{origin}: `{address}` refers to `{target}.{output}`, but a {kind} has no output `{output}` (it has: {known})"
    )]
    UnknownOutput {
        address: String,
        target: String,
        output: String,
        kind: String,
        origin: String,
        known: String,
    },
    #[error("dependency cycle: {}; break it by removing one of these references", path.join(" -> "))]
    Cycle { path: Vec<String> },
}

impl GraphError {
    /// The resource the error is about, for pointing at its line.
    pub fn address(&self) -> Option<&str> {
        match self {
            GraphError::Duplicate { address, .. }
            | GraphError::UnknownKind { address, .. }
            | GraphError::Dangling { address, .. }
            | GraphError::UnknownOutput { address, .. } => Some(address),
            GraphError::Cycle { path } => path.first().map(String::as_str),
        }
    }
}

pub use crate::model::KindCatalog;

#[derive(Debug)]
pub struct ResourceGraph<S = Sealed> {
    /// Edges run from a dependency to its dependent.
    graph: DiGraph<usize, ()>,
    resources: Vec<Desired>,
    index: HashMap<String, NodeIndex>,
    order: Vec<usize>,
    _state: PhantomData<S>,
}

impl ResourceGraph<Building> {
    pub fn new(resources: Vec<Desired>) -> Self {
        ResourceGraph {
            graph: DiGraph::new(),
            resources,
            index: HashMap::new(),
            order: Vec::new(),
            _state: PhantomData,
        }
    }

    /// Validates everything and returns every problem found.
    pub fn seal(
        mut self,
        kinds: &dyn KindCatalog,
    ) -> Result<ResourceGraph<Sealed>, Vec<GraphError>> {
        let mut errors = Vec::new();
        for (i, r) in self.resources.iter().enumerate() {
            let node = self.graph.add_node(i);
            if self.index.insert(r.address.clone(), node).is_some() {
                errors.push(GraphError::Duplicate {
                    address: r.address.clone(),
                    origin: r.origin.clone(),
                });
            }
            if kinds.outputs(&r.kind).is_none() {
                errors.push(GraphError::UnknownKind {
                    address: r.address.clone(),
                    kind: r.kind.clone(),
                    origin: r.origin.clone(),
                    known: kinds.names().join(", "),
                });
            }
        }
        let mut edges = BTreeSet::new();
        for (i, r) in self.resources.iter().enumerate() {
            for reference in refs_of(&r.props) {
                let Some(&target) = self.index.get(&reference.address) else {
                    errors.push(GraphError::Dangling {
                        address: r.address.clone(),
                        target: reference.address.clone(),
                        origin: r.origin.clone(),
                    });
                    continue;
                };
                let target_kind = &self.resources[self.graph[target]].kind;
                if let Some(outputs) = kinds.outputs(target_kind)
                    && !outputs.contains(&reference.output.as_str())
                {
                    errors.push(GraphError::UnknownOutput {
                        address: r.address.clone(),
                        target: reference.address.clone(),
                        output: reference.output.clone(),
                        kind: target_kind.clone(),
                        origin: r.origin.clone(),
                        known: outputs.join(", "),
                    });
                }
                edges.insert((target, NodeIndex::new(i)));
            }
        }
        for (a, b) in edges {
            self.graph.add_edge(a, b, ());
        }
        for scc in tarjan_scc(&self.graph) {
            let self_loop = scc.len() == 1 && self.graph.contains_edge(scc[0], scc[0]);
            if scc.len() > 1 || self_loop {
                errors.push(GraphError::Cycle {
                    path: self.cycle_path(&scc),
                });
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let order = toposort(&self.graph, None)
            .expect("cycles were rejected")
            .into_iter()
            .map(|n| self.graph[n])
            .collect();
        Ok(ResourceGraph {
            graph: self.graph,
            resources: self.resources,
            index: self.index,
            order,
            _state: PhantomData,
        })
    }

    /// Walks one cycle inside a strongly connected component, for the message,
    /// in "refers to" order (against the edges, which run dependency first).
    fn cycle_path(&self, scc: &[NodeIndex]) -> Vec<String> {
        let members: BTreeSet<NodeIndex> = scc.iter().copied().collect();
        let start = *members.iter().next().expect("non-empty");
        let mut path = vec![start];
        let mut current = start;
        loop {
            let next = self
                .graph
                .neighbors_directed(current, Direction::Incoming)
                .filter(|n| members.contains(n))
                .min()
                .expect("a strongly connected node has a successor inside its component");
            if let Some(pos) = path.iter().position(|&p| p == next) {
                let mut cycle: Vec<String> = path[pos..]
                    .iter()
                    .map(|&n| self.resources[self.graph[n]].address.clone())
                    .collect();
                cycle.push(self.resources[self.graph[next]].address.clone());
                return cycle;
            }
            path.push(next);
            current = next;
        }
    }
}

impl ResourceGraph<Sealed> {
    pub fn resources(&self) -> &[Desired] {
        &self.resources
    }

    pub fn get(&self, address: &str) -> Option<&Desired> {
        self.index
            .get(address)
            .map(|&n| &self.resources[self.graph[n]])
    }

    /// Resources in dependency order: every resource after what it refers to.
    pub fn in_order(&self) -> impl Iterator<Item = &Desired> {
        self.order.iter().map(|&i| &self.resources[i])
    }

    /// The addresses this resource refers to.
    pub fn dependencies(&self, address: &str) -> Vec<String> {
        let Some(&node) = self.index.get(address) else {
            return Vec::new();
        };
        let mut deps: Vec<String> = self
            .graph
            .neighbors_directed(node, Direction::Incoming)
            .map(|n| self.resources[self.graph[n]].address.clone())
            .collect();
        deps.sort();
        deps
    }

    pub fn len(&self) -> usize {
        self.resources.len()
    }

    pub fn is_empty(&self) -> bool {
        self.resources.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Kinds;
    const THING: crate::model::KindInfo = crate::model::KindInfo {
        name: "Thing",
        ..crate::model::KindInfo::BASE
    };
    impl KindCatalog for Kinds {
        fn info(&self, kind: &str) -> Option<&'static crate::model::KindInfo> {
            (kind == "Thing").then_some(&THING)
        }
        fn names(&self) -> Vec<&'static str> {
            vec!["Thing"]
        }
    }

    fn thing(address: &str, refs: &[&str]) -> Desired {
        let refs: Vec<String> = refs.iter().map(|r| format!("${{{r}.id}}")).collect();
        Desired {
            address: address.into(),
            kind: "Thing".into(),
            props: json!({ "refs": refs }).as_object().unwrap().clone(),
            protect: false,
            origin: format!("resources.\"{address}\""),
            span: None,
        }
    }

    #[test]
    fn orders_dependencies_first() {
        let g = ResourceGraph::new(vec![
            thing("t.c", &["t.b"]),
            thing("t.b", &["t.a"]),
            thing("t.a", &[]),
        ])
        .seal(&Kinds)
        .unwrap();
        let order: Vec<_> = g.in_order().map(|d| d.address.as_str()).collect();
        assert_eq!(order, ["t.a", "t.b", "t.c"]);
        assert_eq!(g.dependencies("t.c"), ["t.b"]);
    }

    #[test]
    fn reports_every_error_at_once() {
        let mut bad = thing("t.x", &[]);
        bad.kind = "Nope".into();
        let errors = ResourceGraph::new(vec![
            thing("t.a", &["t.b"]),
            thing("t.b", &["t.c"]),
            thing("t.c", &["t.a"]),
            thing("t.d", &["t.missing"]),
            thing("t.d", &[]),
            bad,
        ])
        .seal(&Kinds)
        .unwrap_err();
        assert!(errors.contains(&GraphError::Cycle {
            path: vec!["t.a".into(), "t.b".into(), "t.c".into(), "t.a".into()]
        }));
        assert!(
            errors
                .iter()
                .any(|e| matches!(e, GraphError::Dangling { target, .. } if target == "t.missing"))
        );
        assert!(
            errors
                .iter()
                .any(|e| matches!(e, GraphError::Duplicate { address, .. } if address == "t.d"))
        );
        assert!(
            errors
                .iter()
                .any(|e| matches!(e, GraphError::UnknownKind { kind, .. } if kind == "Nope"))
        );
        assert_eq!(errors.len(), 4);
    }

    #[test]
    fn rejects_unknown_outputs_and_self_loops() {
        let mut d = thing("t.a", &[]);
        d.props.insert("x".into(), json!("${t.a.arn}"));
        let errors = ResourceGraph::new(vec![d]).seal(&Kinds).unwrap_err();
        assert!(
            errors
                .iter()
                .any(|e| matches!(e, GraphError::UnknownOutput { output, .. } if output == "arn"))
        );
        assert!(errors.iter().any(|e| matches!(e, GraphError::Cycle { .. })));
    }
}
