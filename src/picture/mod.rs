//! Pictures of an environment's resource graph, for `infra graph`.
//!
//! A [`Picture`] is the resources (with their tier and, for `--plan`, the
//! action the plan takes on each) and the dependencies between them. It is
//! drawn as SVG (laid out here, no external program), as Graphviz DOT, or as a
//! Mermaid flowchart. Every format groups the resources by tier in one fixed
//! order: network, cluster, database, identity, dns, kms, other (tiers with no
//! resource are left out; a tier outside that list comes before `other`).
//!
//! The input is cleaned the same way for every format: a repeated address
//! keeps its first node, an empty tier counts as `other`, and an edge is kept
//! once, and only when both ends are nodes and they differ.

use std::collections::{BTreeSet, HashMap};

mod dot;
mod layout;
mod mermaid;
mod svg;

#[cfg(test)]
mod tests;

pub use dot::dot;
pub use mermaid::mermaid;
pub use svg::svg;

/// One resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// `subnet.app_a`.
    pub address: String,
    /// `Subnet`.
    pub kind: String,
    /// `network`, `cluster`, `database`, `identity`, `dns`, `kms` or `other`.
    pub tier: String,
    /// What the plan does to it; `None` outside `--plan`.
    pub action: Option<Action>,
}

/// What a plan does to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Create,
    Update,
    Replace,
    Delete,
    NoChange,
}

impl Action {
    /// In the legend's order.
    pub const ALL: [Action; 5] = [
        Action::Create,
        Action::Update,
        Action::Replace,
        Action::Delete,
        Action::NoChange,
    ];

    /// `create`, `update`, `replace`, `delete`, `no change`.
    pub fn label(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
            Action::NoChange => "no change",
        }
    }

    /// An identifier-safe name (CSS class, Mermaid `classDef`).
    fn class(self) -> &'static str {
        match self {
            Action::NoChange => "nochange",
            a => a.label(),
        }
    }

    /// Terraform's sign for the action, as `plan` prints it.
    fn sign(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
            Action::NoChange => "=",
        }
    }

    fn fill(self) -> &'static str {
        match self {
            Action::Create => "#c6efce",
            Action::Update => "#fff2a8",
            Action::Replace => "#ffc896",
            Action::Delete => "#f8b4b4",
            Action::NoChange => "#eeeeee",
        }
    }

    fn stroke(self) -> &'static str {
        match self {
            Action::Create => "#2e7d32",
            Action::Update => "#a68a00",
            Action::Replace => "#d35400",
            Action::Delete => "#c62828",
            Action::NoChange => "#9e9e9e",
        }
    }
}

/// Fill and stroke of a node drawn without an action.
const PLAIN_FILL: &str = "#ffffff";
const PLAIN_STROKE: &str = "#5f6b7a";

/// The resources and their dependencies.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Picture {
    pub nodes: Vec<Node>,
    /// `(dependent, dependency)`, by address.
    pub edges: Vec<(String, String)>,
}

/// Tiers in the order they are drawn.
pub const TIER_ORDER: [&str; 7] = [
    "network", "cluster", "database", "identity", "dns", "kms", "other",
];

/// A tier's heading.
fn tier_title(tier: &str) -> &str {
    match tier {
        "network" => "Network",
        "cluster" => "Cluster",
        "database" => "Data",
        "identity" => "Identity",
        "dns" => "DNS",
        "kms" => "KMS keys",
        "other" => "Other",
        t => t,
    }
}

/// Where a tier sorts: the fixed ones in order, unknown ones just before `other`.
fn tier_rank(tier: &str) -> usize {
    match TIER_ORDER.iter().position(|t| *t == tier) {
        Some(i) if tier != "other" => i,
        Some(_) => TIER_ORDER.len(),
        None => TIER_ORDER.len() - 1,
    }
}

/// The second line of a node's label: its kind, and the action when there is one
/// that changes something (so the picture reads without colours too).
fn kind_line(node: &Node) -> String {
    match node.action {
        Some(a) if a != Action::NoChange => format!("{} ({} {})", node.kind, a.sign(), a.label()),
        _ => node.kind.clone(),
    }
}

/// A picture cleaned up and grouped, shared by the three formats.
struct Grouped<'a> {
    /// Sorted by tier (in [`TIER_ORDER`]), then address.
    nodes: Vec<&'a Node>,
    /// Each tier present, with its nodes' range in `nodes`.
    tiers: Vec<(&'a str, std::ops::Range<usize>)>,
    /// `(dependent, dependency)` as indices into `nodes`, sorted, unique.
    edges: Vec<(usize, usize)>,
    /// True when some node carries an action: draw colours and a legend.
    planned: bool,
}

fn tier_of(node: &Node) -> &str {
    if node.tier.is_empty() {
        "other"
    } else {
        &node.tier
    }
}

fn group(p: &Picture) -> Grouped<'_> {
    let mut seen = BTreeSet::new();
    let mut nodes: Vec<&Node> = p
        .nodes
        .iter()
        .filter(|n| seen.insert(n.address.as_str()))
        .collect();
    nodes.sort_by(|a, b| {
        let (ta, tb) = (tier_of(a), tier_of(b));
        (tier_rank(ta), ta, &a.address).cmp(&(tier_rank(tb), tb, &b.address))
    });
    let mut tiers: Vec<(&str, std::ops::Range<usize>)> = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        match tiers.last_mut() {
            Some((t, range)) if *t == tier_of(n) => range.end = i + 1,
            _ => tiers.push((tier_of(n), i..i + 1)),
        }
    }
    let index: HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.address.as_str(), i))
        .collect();
    let edges: BTreeSet<(usize, usize)> = p
        .edges
        .iter()
        .filter_map(|(from, to)| Some((*index.get(from.as_str())?, *index.get(to.as_str())?)))
        .filter(|(a, b)| a != b)
        .collect();
    let planned = nodes.iter().any(|n| n.action.is_some());
    Grouped {
        nodes,
        tiers,
        edges: edges.into_iter().collect(),
        planned,
    }
}

/// How many nodes carry each action, in the legend's order.
fn action_counts(g: &Grouped) -> Vec<(Action, usize)> {
    Action::ALL
        .iter()
        .map(|a| (*a, g.nodes.iter().filter(|n| n.action == Some(*a)).count()))
        .collect()
}

/// Escapes text for XML content and attribute values.
fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters are not allowed in XML 1.0.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}
