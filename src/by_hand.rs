//! What was added by hand to infra's own resources: an ingress or egress
//! rule on one of its security groups, a managed policy attached to (or an
//! inline policy put on) one of its roles, that the plan does not declare.
//! For what infra made, the plan is the whole truth (as in Terraform):
//! `drift` reports these, `plan` shows their removal and `up` removes them.
//! Rules and policies of groups and roles infra does not own (not in state)
//! are none of its business and are never looked at. Rules controllers add
//! to the nodes' group (the AWS Load Balancer Controller's, described
//! `elbv2.k8s.aws/targetGroupBinding=shared`; the legacy cloud provider's,
//! `kubernetes.io/rule/...`) are theirs, like the tags they add: never shown.

use std::collections::HashMap;

use serde_json::Value;

use crate::aws::kinds::{Live, Registry};
use crate::diff::{Action, Op};
use crate::graph::ResourceGraph;
use crate::model::{Outputs, Ref, resolve};
use crate::refresh::Observed;
use crate::state::StateResource;

/// One thing added by hand.
#[derive(Debug, Clone, PartialEq)]
pub struct ByHand {
    pub kind: String,
    /// The infra resource it was added to (`security_group.nodes`).
    pub parent: String,
    pub live: Live,
    /// What it is, for people: `ingress tcp/22 from 0.0.0.0/0`.
    pub what: String,
    /// AWS's own allow-all egress (no description), on a group whose create
    /// was cut short before infra revoked it, or put back by hand: `up`
    /// revokes it and `drift` reports it (the group lets out more than the
    /// plan allows), named for what it is.
    pub default_egress: bool,
}

const RULE_FIELDS: &[&str] = &[
    "group_id",
    "direction",
    "protocol",
    "from_port",
    "to_port",
    "cidr",
    "source_group_id",
];

/// Kinds whose hand-made siblings are looked for, with the parent kind and
/// the field naming the parent's id.
fn parent_of(kind: &str) -> Option<(&'static str, &'static str)> {
    match kind {
        "SecurityGroupRule" => Some(("SecurityGroup", "group_id")),
        "IamRolePolicyAttachment" | "IamRolePolicy" => Some(("IamRole", "role")),
        _ => None,
    }
}

pub fn find(
    graph: &ResourceGraph,
    rows: &HashMap<String, StateResource>,
    observed: &Observed,
    registry: &Registry,
) -> Vec<ByHand> {
    let outputs: HashMap<&str, &Outputs> = rows
        .iter()
        .map(|(a, r)| {
            (
                a.as_str(),
                observed
                    .live
                    .get(a)
                    .map(|l| &l.outputs)
                    .unwrap_or(&r.outputs),
            )
        })
        .collect();
    let lookup = |r: &Ref| {
        outputs
            .get(r.address.as_str())
            .and_then(|o| o.get(&r.output).cloned())
    };
    // What the plan declares, resolved as far as state allows.
    let declared: Vec<(&str, crate::model::Props)> = graph
        .resources()
        .iter()
        .filter(|d| parent_of(&d.kind).is_some())
        .filter_map(|d| Some((d.kind.as_str(), resolve(&d.props, &lookup, true).ok()?)))
        .collect();
    let candidates = observed
        .attached
        .iter()
        .map(|(k, l)| (k.as_str(), l))
        .chain(observed.by_key.iter().map(|((k, _), l)| (k.as_str(), l)));
    let mut found = Vec::new();
    for (kind, live) in candidates {
        let Some((parent_kind, field)) = parent_of(kind) else {
            continue;
        };
        let Some(parent_id) = live.props.get(field).and_then(Value::as_str) else {
            continue;
        };
        let Some(parent) = rows
            .values()
            .find(|r| r.kind == parent_kind && r.id == parent_id)
        else {
            continue;
        };
        if rows.values().any(|r| r.kind == kind && r.id == live.id) {
            continue;
        }
        let is_declared = declared.iter().any(|(k, want)| {
            *k == kind
                && match kind {
                    "SecurityGroupRule" => RULE_FIELDS
                        .iter()
                        .all(|f| want.get(*f) == live.props.get(*f)),
                    _ => registry
                        .get(kind)
                        .and_then(|k| k.natural_key(want))
                        .is_some_and(|key| {
                            Some(key) == registry.get(kind).and_then(|k| k.natural_key(&live.props))
                        }),
                }
        });
        if is_declared || (kind == "SecurityGroupRule" && made_by_a_controller(live)) {
            continue;
        }
        let default_egress = kind == "SecurityGroupRule" && is_default_egress(live);
        found.push(ByHand {
            kind: kind.to_string(),
            parent: parent.address.clone(),
            what: describe(kind, live, rows),
            live: live.clone(),
            default_egress,
        });
    }
    found.sort_by(|a, b| (&a.parent, &a.live.id).cmp(&(&b.parent, &b.live.id)));
    found
}

/// Descriptions controllers put on the rules they open to their load balancers.
const CONTROLLER_RULES: &[&str] = &["elbv2.k8s.aws/", "kubernetes.io/"];

fn made_by_a_controller(live: &Live) -> bool {
    let description = live
        .props
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or_default();
    CONTROLLER_RULES.iter().any(|p| description.starts_with(p))
}

fn is_default_egress(live: &Live) -> bool {
    let p = &live.props;
    let s = |k: &str| p.get(k).and_then(Value::as_str);
    s("direction") == Some("egress")
        && s("protocol") == Some("-1")
        && s("cidr") == Some("0.0.0.0/0")
        && s("description").unwrap_or_default().is_empty()
}

fn describe(kind: &str, live: &Live, rows: &HashMap<String, StateResource>) -> String {
    let p = &live.props;
    let s = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or_default();
    match kind {
        "SecurityGroupRule" => {
            let protocol = match s("protocol") {
                "-1" => "all".to_string(),
                other => other.to_string(),
            };
            let (from, to) = (
                p.get("from_port").and_then(Value::as_i64).unwrap_or(-1),
                p.get("to_port").and_then(Value::as_i64).unwrap_or(-1),
            );
            let ports = match (from, to) {
                (-1, _) | (_, -1) => String::new(),
                (a, b) if a == b => format!("/{a}"),
                (a, b) => format!("/{a}-{b}"),
            };
            let peer = if !s("cidr").is_empty() {
                s("cidr").to_string()
            } else {
                let group = s("source_group_id");
                rows.values()
                    .find(|r| r.kind == "SecurityGroup" && r.id == group)
                    .map(|r| r.address.clone())
                    .unwrap_or_else(|| group.to_string())
            };
            let direction = s("direction");
            let way = if direction == "egress" { "to" } else { "from" };
            format!("{direction} {protocol}{ports} {way} {peer}")
        }
        "IamRolePolicyAttachment" => format!("managed policy {}", s("policy_arn")),
        _ => format!("inline policy {}", s("name")),
    }
}

/// The deletes that take them away, each after nothing and before its
/// parent's own delete (when the plan deletes the parent too).
pub fn removals(found: &[ByHand]) -> Vec<Action> {
    found
        .iter()
        .map(|b| Action {
            address: format!("by_hand.{}", b.live.id),
            kind: b.kind.clone(),
            op: Op::Delete,
            changes: Vec::new(),
            reason: Some(if b.default_egress {
                format!("AWS's default {} on {}, never revoked (its create was cut short, or it was put back by hand); the plan declares no such rule", b.what, b.parent)
            } else {
                format!("{} added outside infra to {}; the plan does not declare it", b.what, b.parent)
            }),
            props: None,
            current: Some(b.live.clone()),
            deps: Vec::new(),
            state_deps: vec![b.parent.clone()],
            protect: false,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Desired;
    use serde_json::json;

    fn row(address: &str, kind: &str, id: &str) -> StateResource {
        StateResource {
            address: address.into(),
            kind: kind.into(),
            id: id.into(),
            props: Default::default(),
            outputs: [
                ("id".to_string(), id.to_string()),
                ("name".to_string(), id.to_string()),
            ]
            .into(),
            deps: vec![],
            protect: false,
        }
    }

    fn live(id: &str, props: Value) -> Live {
        Live {
            id: id.into(),
            address: None,
            props: props.as_object().unwrap().clone(),
            outputs: Default::default(),
        }
    }

    fn rule(
        group: &str,
        direction: &str,
        protocol: &str,
        port: i64,
        cidr: &str,
        description: &str,
    ) -> Value {
        json!({ "group_id": group, "direction": direction, "protocol": protocol, "from_port": port, "to_port": port, "cidr": cidr, "description": description, "tags": {} })
    }

    #[test]
    fn finds_rules_and_policies_added_to_infra_resources_only() {
        let registry = Registry::new();
        let plain = |address: &str, kind: &str| Desired {
            address: address.into(),
            kind: kind.into(),
            props: Default::default(),
            protect: false,
            origin: String::new(),
            span: None,
        };
        let desired = vec![
            plain("security_group.nodes", "SecurityGroup"),
            plain("iam_role.node", "IamRole"),
            Desired {
                address: "security_group_rule.nodes_https".into(),
                kind: "SecurityGroupRule".into(),
                props: rule("${security_group.nodes.id}", "ingress", "tcp", 443, "10.0.0.0/16", "https").as_object().unwrap().clone(),
                protect: false,
                origin: String::new(),
                span: None,
            },
            Desired {
                address: "iam_role_policy_attachment.node_worker".into(),
                kind: "IamRolePolicyAttachment".into(),
                props: json!({ "role": "${iam_role.node.name}", "policy_arn": "arn:aws:iam::aws:policy/Worker" }).as_object().unwrap().clone(),
                protect: false,
                origin: String::new(),
                span: None,
            },
        ];
        let graph = ResourceGraph::new(desired).seal(&registry).unwrap();
        let rows: HashMap<String, StateResource> = [
            row("security_group.nodes", "SecurityGroup", "sg-1"),
            row("iam_role.node", "IamRole", "node-role"),
        ]
        .into_iter()
        .map(|r| (r.address.clone(), r))
        .collect();
        let mut observed = Observed {
            attached: vec![
                (
                    "SecurityGroupRule".into(),
                    live(
                        "sgr-ssh",
                        rule("sg-1", "ingress", "tcp", 22, "0.0.0.0/0", ""),
                    ),
                ),
                // Declared (untagged, e.g. re-added by hand): the plan's create adopts it.
                (
                    "SecurityGroupRule".into(),
                    live(
                        "sgr-https",
                        rule("sg-1", "ingress", "tcp", 443, "10.0.0.0/16", "https"),
                    ),
                ),
                (
                    "SecurityGroupRule".into(),
                    live(
                        "sgr-egress",
                        rule("sg-1", "egress", "-1", -1, "0.0.0.0/0", ""),
                    ),
                ),
                // Not infra's group.
                (
                    "SecurityGroupRule".into(),
                    live(
                        "sgr-other",
                        rule("sg-9", "ingress", "tcp", 22, "0.0.0.0/0", ""),
                    ),
                ),
                // The load balancer controller's, to its backend group.
                (
                    "SecurityGroupRule".into(),
                    live(
                        "sgr-lbc",
                        rule(
                            "sg-1",
                            "ingress",
                            "tcp",
                            8080,
                            "10.0.0.0/16",
                            "elbv2.k8s.aws/targetGroupBinding=shared",
                        ),
                    ),
                ),
            ],
            ..Default::default()
        };
        let attach = |role: &str, arn: &str| {
            live(
                &format!("{role}|{arn}"),
                json!({ "role": role, "policy_arn": arn }),
            )
        };
        for l in [
            attach("node-role", "arn:aws:iam::aws:policy/AdministratorAccess"),
            attach("node-role", "arn:aws:iam::aws:policy/Worker"),
            attach(
                "someone-elses",
                "arn:aws:iam::aws:policy/AdministratorAccess",
            ),
        ] {
            observed
                .by_key
                .insert(("IamRolePolicyAttachment".into(), l.id.clone()), l);
        }
        let found = find(&graph, &rows, &observed, &registry);
        let got: Vec<(&str, &str, &str, bool)> = found
            .iter()
            .map(|b| {
                (
                    b.parent.as_str(),
                    b.live.id.as_str(),
                    b.what.as_str(),
                    b.default_egress,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "iam_role.node",
                    "node-role|arn:aws:iam::aws:policy/AdministratorAccess",
                    "managed policy arn:aws:iam::aws:policy/AdministratorAccess",
                    false
                ),
                (
                    "security_group.nodes",
                    "sgr-egress",
                    "egress all to 0.0.0.0/0",
                    true
                ),
                (
                    "security_group.nodes",
                    "sgr-ssh",
                    "ingress tcp/22 from 0.0.0.0/0",
                    false
                ),
            ]
        );
        let actions = removals(&found);
        assert!(
            actions
                .iter()
                .all(|a| a.op == Op::Delete && a.current.is_some())
        );
        assert_eq!(
            actions[2].state_deps,
            vec!["security_group.nodes".to_string()]
        );
        assert!(
            actions[2]
                .reason
                .as_deref()
                .unwrap()
                .contains("added outside infra to security_group.nodes")
        );
        assert!(
            actions[1]
                .reason
                .as_deref()
                .unwrap()
                .starts_with("AWS's default egress all to 0.0.0.0/0")
        );
    }
}
