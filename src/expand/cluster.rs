//! The cluster tier: IAM roles (each policy attachment its own resource),
//! the EKS cluster in the app subnets, its OIDC provider for IRSA, managed
//! node groups, add-ons with their IRSA roles, and Karpenter's controller
//! role, node role and instance profile, interruption queue and rules.

use serde_json::{Value, json};

use super::{Expanded, tags};
use crate::config::{Cluster, LoadedPlan, parse_taint};
use crate::model::Ref;

const MANAGED: &str = "arn:aws:iam::aws:policy/";

fn trust_service(service: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{ "Effect": "Allow", "Principal": { "Service": service }, "Action": "sts:AssumeRole" }]
    })
}

/// Trusts the cluster's OIDC provider for exactly one service account, with
/// both the `sub` and the `aud` conditions.
/// Karpenter's interruption rules: address key, event source, detail type.
const INTERRUPTION_RULES: [(&str, &str, &str); 4] = [
    (
        "spot_interruption",
        "aws.ec2",
        "EC2 Spot Instance Interruption Warning",
    ),
    (
        "rebalance",
        "aws.ec2",
        "EC2 Instance Rebalance Recommendation",
    ),
    (
        "instance_state_change",
        "aws.ec2",
        "EC2 Instance State-change Notification",
    ),
    ("scheduled_change", "aws.health", "AWS Health Event"),
];

pub fn trust_irsa(namespace: &str, service_account: &str) -> Value {
    let issuer = Ref::expr("eks_cluster.main", "oidc_issuer_host");
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Federated": Ref::expr("iam_oidc_provider.cluster", "arn") },
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": { "StringEquals": {
                format!("{issuer}:sub"): format!("system:serviceaccount:{namespace}:{service_account}"),
                format!("{issuer}:aud"): "sts.amazonaws.com",
            }}
        }]
    })
}

/// What the tier's resources share: the plan, the cluster's name, where in
/// the plan file they come from, and the app subnets they run in.
struct Tier<'a> {
    plan: &'a LoadedPlan,
    name: String,
    span: Option<std::ops::Range<usize>>,
    app_subnets: Vec<String>,
}

const ORIGIN: &str = "cluster";

impl Tier<'_> {
    fn role(&self, out: &mut Expanded, key: &str, role_name: String, trust: Value) {
        out.add(
            format!("iam_role.{key}"),
            "IamRole",
            json!({ "name": role_name.clone(), "path": "/", "assume_role_policy": trust, "tags": tags(self.plan, &role_name, &[]) }),
            ORIGIN,
            self.span.clone(),
        );
    }

    /// A managed policy on the role `role_key`; the attachment's id, for
    /// what must wait for it.
    fn attach(&self, out: &mut Expanded, key: &str, role_key: &str, policy: &str) -> String {
        let address = format!("iam_role_policy_attachment.{key}");
        out.add(
            address.clone(),
            "IamRolePolicyAttachment",
            json!({ "role": Ref::expr(&format!("iam_role.{role_key}"), "name"), "policy_arn": format!("{MANAGED}{policy}") }),
            ORIGIN,
            self.span.clone(),
        );
        Ref::expr(&address, "id")
    }

    /// An IRSA role for `ns/sa` with one managed policy; its ARN.
    fn irsa(&self, out: &mut Expanded, key: &str, (ns, sa): (&str, &str), policy: &str) -> String {
        let role_name = format!("{}-{}", self.name, key.replace('_', "-"));
        self.role(out, key, role_name, trust_irsa(ns, sa));
        self.attach(out, key, key, policy);
        Ref::expr(&format!("iam_role.{key}"), "arn")
    }
}

pub fn expand(plan: &LoadedPlan, c: &Cluster, out: &mut Expanded) {
    let tier = Tier {
        plan,
        name: plan.file.cluster_name(&plan.env),
        span: Some(c.version.span()),
        app_subnets: super::network::subnet_refs(plan, "app"),
    };
    let node_policies = control_plane(&tier, c, out);
    let nodegroups = node_groups(&tier, c, node_policies, out);
    addons(&tier, c, nodegroups, out);
    if c.karpenter {
        karpenter(plan, &tier.name, out, tier.span.clone());
    }
    for (output, address, attr) in [
        ("cluster_name", "eks_cluster.main", "name"),
        ("cluster_endpoint", "eks_cluster.main", "endpoint"),
        ("cluster_ca_data", "eks_cluster.main", "ca_data"),
        ("oidc_issuer", "eks_cluster.main", "oidc_issuer"),
        ("oidc_provider_arn", "iam_oidc_provider.cluster", "arn"),
        ("node_role_arn", "iam_role.node", "arn"),
    ] {
        out.outputs
            .insert(output.into(), json!(Ref::expr(address, attr)));
    }
}

/// The control plane and node roles, the cluster and its OIDC provider;
/// the node policies' attachment ids, which node groups wait for.
fn control_plane(tier: &Tier<'_>, c: &Cluster, out: &mut Expanded) -> Vec<String> {
    let (plan, name) = (tier.plan, &tier.name);
    let trust = trust_service("eks.amazonaws.com");
    tier.role(out, "cluster", format!("{name}-cluster"), trust);
    let cluster_policy = tier.attach(out, "cluster_eks", "cluster", "AmazonEKSClusterPolicy");
    tier.role(
        out,
        "node",
        format!("{name}-node"),
        trust_service("ec2.amazonaws.com"),
    );
    // The CNI policy goes to the vpc-cni add-on through IRSA, not to nodes.
    let node_policies: Vec<String> = [
        ("node_worker", "AmazonEKSWorkerNodePolicy"),
        ("node_ecr", "AmazonEC2ContainerRegistryReadOnly"),
        ("node_ssm", "AmazonSSMManagedInstanceCore"),
    ]
    .iter()
    .map(|(key, policy)| tier.attach(out, key, "node", policy))
    .collect();

    let mut cluster = json!({
        "name": name,
        "version": c.version.get_ref(),
        "role_arn": Ref::expr("iam_role.cluster", "arn"),
        "subnet_ids": tier.app_subnets,
        "security_group_ids": [Ref::expr("security_group.nodes", "id")],
        "endpoint_private_access": true,
        "endpoint_public_access": c.endpoint_public_access,
        "public_access_cidrs": if c.endpoint_public_access { c.public_cidrs().to_vec() } else { Vec::new() },
        "log_types": c.log_types,
        "authentication_mode": c.authentication_mode,
        "bootstrap_cluster_creator_admin": c.bootstrap_cluster_creator_admin,
        "tags": tags(plan, name, &[]),
        "_after": [cluster_policy],
    });
    if plan
        .file
        .network
        .as_ref()
        .is_some_and(|n| !n.security_groups.contains_key("nodes"))
    {
        cluster["security_group_ids"] = json!([]);
    }
    if let Some(arn) = super::kms::key_arn(plan, "eks") {
        cluster["encryption_key_arn"] = json!(arn);
    }
    // An endpoint open to 0.0.0.0/0 is guardrail INFRA-EKS-001 (src/policy): said once, there.
    out.add(
        "eks_cluster.main".into(),
        "EksCluster",
        cluster,
        ORIGIN,
        tier.span.clone(),
    );
    if let Some(last) = out.resources.last_mut() {
        last.protect = c.protect;
    }
    out.add(
        "iam_oidc_provider.cluster".into(),
        "IamOidcProvider",
        json!({
            "url": Ref::expr("eks_cluster.main", "oidc_issuer"),
            "client_ids": ["sts.amazonaws.com"],
            "tags": tags(plan, &format!("{name}-oidc"), &[]),
        }),
        ORIGIN,
        tier.span.clone(),
    );
    node_policies
}

/// The managed node groups, after the node role's policies; their ids, for
/// the add-ons whose pods need nodes.
fn node_groups(
    tier: &Tier<'_>,
    c: &Cluster,
    node_policies: Vec<String>,
    out: &mut Expanded,
) -> Vec<String> {
    let mut nodegroups = Vec::new();
    for (ng_name, ng) in &c.node_groups {
        let g = ng.get_ref();
        let mut taints: Vec<Value> = g
            .taints
            .iter()
            .filter_map(|t| parse_taint(t))
            .map(|(key, value, effect)| json!({ "key": key, "value": value, "effect": effect }))
            .collect();
        crate::model::compare::sort_taints(&mut taints);
        let mut props = json!({
            "cluster_name": Ref::expr("eks_cluster.main", "name"),
            "name": ng_name,
            "node_role_arn": Ref::expr("iam_role.node", "arn"),
            "subnet_ids": tier.app_subnets,
            "instance_types": g.instance_types,
            "ami_type": g.ami_type,
            "capacity_type": g.capacity_type,
            "min_size": g.min_size,
            "max_size": g.max_size,
            "labels": g.labels,
            "taints": taints,
            "tags": tags(tier.plan, &format!("{}-{ng_name}", tier.name), &[]),
            "_after": node_policies,
        });
        if g.own_desired_size {
            props["desired_size"] = json!(g.desired_size);
        } else {
            // Sent at create only; an autoscaler owns it afterwards.
            props["_desired_size"] = json!(g.desired_size);
        }
        let address = format!("eks_nodegroup.{ng_name}");
        out.add(
            address.clone(),
            "EksNodegroup",
            props,
            &format!("cluster.node_groups.{ng_name}"),
            Some(ng.span()),
        );
        nodegroups.push(Ref::expr(&address, "id"));
    }
    nodegroups
}

/// The add-ons; vpc-cni and the EBS CSI driver get their own IRSA roles.
fn addons(tier: &Tier<'_>, c: &Cluster, nodegroups: Vec<String>, out: &mut Expanded) {
    let name = &tier.name;
    for (addon, spec) in &c.addons {
        let key = addon.replace('-', "_");
        let mut props = json!({
            "cluster_name": Ref::expr("eks_cluster.main", "name"),
            "name": addon,
            "tags": tags(tier.plan, &format!("{name}-{addon}"), &[]),
            "_resolve_conflicts": c.addon_conflicts,
        });
        if let Some(v) = &spec.version {
            props["version"] = json!(v);
        }
        let role = match addon.as_str() {
            "vpc-cni" => Some((
                "vpc_cni",
                ("kube-system", "aws-node"),
                "AmazonEKS_CNI_Policy",
            )),
            "aws-ebs-csi-driver" => Some((
                "ebs_csi",
                ("kube-system", "ebs-csi-controller-sa"),
                "service-role/AmazonEBSCSIDriverPolicy",
            )),
            _ => None,
        };
        if let Some((key, account, policy)) = role {
            props["service_account_role_arn"] = json!(tier.irsa(out, key, account, policy));
        }
        // Pods of these need nodes to run on.
        if addon != "vpc-cni" && addon != "kube-proxy" {
            props["_after"] = json!(nodegroups);
        }
        out.add(
            format!("eks_addon.{key}"),
            "EksAddon",
            props,
            "cluster.addons",
            tier.span.clone(),
        );
    }
}

/// Karpenter's AWS side: the interruption queue and the rules that feed it,
/// the node role and its instance profile, and the controller's IRSA role.
fn karpenter(
    plan: &LoadedPlan,
    name: &str,
    out: &mut Expanded,
    span: Option<std::ops::Range<usize>>,
) {
    karpenter_interruption(plan, name, out, span.clone());
    karpenter_node(plan, name, out, span.clone());
    karpenter_controller(plan, name, out, span);
    out.outputs.insert(
        "karpenter_queue_name".into(),
        json!(Ref::expr("sqs_queue.karpenter_interruption", "name")),
    );
    out.outputs.insert(
        "karpenter_controller_role_arn".into(),
        json!(Ref::expr("iam_role.karpenter_controller", "arn")),
    );
    out.outputs.insert(
        "karpenter_node_instance_profile".into(),
        json!(Ref::expr("iam_instance_profile.karpenter_node", "name")),
    );
}

/// The queue Karpenter reads interruptions from, its policy, and the
/// EventBridge rules that send to it.
fn karpenter_interruption(
    plan: &LoadedPlan,
    name: &str,
    out: &mut Expanded,
    span: Option<std::ops::Range<usize>>,
) {
    let origin = "cluster.karpenter";
    let queue = format!("{name}-karpenter");
    out.add(
        "sqs_queue.karpenter_interruption".into(),
        "SqsQueue",
        json!({ "name": queue, "sse": true, "message_retention_seconds": 300, "tags": tags(plan, &queue, &[]) }),
        origin,
        span.clone(),
    );
    out.add(
        "sqs_queue_policy.karpenter_interruption".into(),
        "SqsQueuePolicy",
        json!({
            "queue_url": Ref::expr("sqs_queue.karpenter_interruption", "url"),
            // Only this cluster's four rules, in this account, may send:
            // another account's rule could otherwise feed Karpenter fake
            // interruptions. Nothing reaches the queue without TLS.
            "policy": {
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "ThisClustersRulesSend",
                    "Effect": "Allow",
                    "Principal": { "Service": "events.amazonaws.com" },
                    "Action": "sqs:SendMessage",
                    "Resource": Ref::expr("sqs_queue.karpenter_interruption", "arn"),
                    "Condition": {
                        "StringEquals": { "aws:SourceAccount": Ref::expr("sqs_queue.karpenter_interruption", "account") },
                        "ArnEquals": { "aws:SourceArn": INTERRUPTION_RULES.iter().map(|(key, _, _)| Ref::expr(&format!("event_rule.karpenter_{key}"), "arn")).collect::<Vec<_>>() },
                    },
                }, {
                    "Sid": "DenyWithoutTls",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "sqs:*",
                    "Resource": Ref::expr("sqs_queue.karpenter_interruption", "arn"),
                    "Condition": { "Bool": { "aws:SecureTransport": "false" } },
                }]
            }
        }),
        origin,
        span.clone(),
    );
    for (key, source, detail) in INTERRUPTION_RULES {
        let rule = format!("{name}-karpenter-{}", key.replace('_', "-"));
        out.add(
            format!("event_rule.karpenter_{key}"),
            "EventRule",
            json!({
                "name": rule,
                "event_pattern": { "source": [source], "detail-type": [detail] },
                "description": format!("Karpenter interruption handling for {name}"),
                "target_id": "karpenter-interruption-queue",
                "target_arn": Ref::expr("sqs_queue.karpenter_interruption", "arn"),
                "other_targets": [],
                "state": "ENABLED",
                "tags": tags(plan, &rule, &[]),
            }),
            origin,
            span.clone(),
        );
    }
}

/// The role Karpenter's nodes run as, its managed policies and its
/// instance profile.
fn karpenter_node(
    plan: &LoadedPlan,
    name: &str,
    out: &mut Expanded,
    span: Option<std::ops::Range<usize>>,
) {
    let origin = "cluster.karpenter";
    let node_role = format!("{name}-karpenter-node");
    out.add(
        "iam_role.karpenter_node".into(),
        "IamRole",
        json!({ "name": node_role, "path": "/", "assume_role_policy": trust_service("ec2.amazonaws.com"), "tags": tags(plan, &node_role, &[]) }),
        origin,
        span.clone(),
    );
    for (key, policy) in [
        ("karpenter_node_worker", "AmazonEKSWorkerNodePolicy"),
        ("karpenter_node_ecr", "AmazonEC2ContainerRegistryReadOnly"),
        ("karpenter_node_ssm", "AmazonSSMManagedInstanceCore"),
    ] {
        out.add(
            format!("iam_role_policy_attachment.{key}"),
            "IamRolePolicyAttachment",
            json!({ "role": Ref::expr("iam_role.karpenter_node", "name"), "policy_arn": format!("{MANAGED}{policy}") }),
            origin,
            span.clone(),
        );
    }
    out.add(
        "iam_instance_profile.karpenter_node".into(),
        "IamInstanceProfile",
        json!({ "name": node_role, "role": Ref::expr("iam_role.karpenter_node", "name"), "tags": tags(plan, &node_role, &[]) }),
        origin,
        span.clone(),
    );
}

/// The controller's IRSA role and its inline policy.
fn karpenter_controller(
    plan: &LoadedPlan,
    name: &str,
    out: &mut Expanded,
    span: Option<std::ops::Range<usize>>,
) {
    let origin = "cluster.karpenter";
    let controller = format!("{name}-karpenter-controller");
    out.add(
        "iam_role.karpenter_controller".into(),
        "IamRole",
        json!({ "name": controller, "path": "/", "assume_role_policy": trust_irsa("karpenter", "karpenter"), "tags": tags(plan, &controller, &[]) }),
        origin,
        span.clone(),
    );
    let region = plan.file.region.get_ref().as_str();
    out.add(
        "iam_role_policy.karpenter_controller".into(),
        "IamRolePolicy",
        json!({
            "role": Ref::expr("iam_role.karpenter_controller", "name"),
            "name": "karpenter-controller",
            "document": controller_policy(name, region),
        }),
        origin,
        span.clone(),
    );
}

/// What Karpenter's controller may do: launch and end only nodes tagged for
/// this cluster, pass only the node role, manage only its own instance
/// profiles, read the interruption queue (Karpenter's own policy, scoped).
fn controller_policy(name: &str, region: &str) -> serde_json::Value {
    let owned = format!("aws:RequestTag/kubernetes.io/cluster/{name}");
    let resource_owned = format!("aws:ResourceTag/kubernetes.io/cluster/{name}");
    json!({
        "Version": "2012-10-17",
        "Statement": [
            { "Sid": "LaunchTaggedForThisCluster", "Effect": "Allow",
              "Action": ["ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate"],
              "Resource": ["arn:aws:ec2:*:*:instance/*", "arn:aws:ec2:*:*:fleet/*", "arn:aws:ec2:*:*:launch-template/*", "arn:aws:ec2:*:*:volume/*", "arn:aws:ec2:*:*:network-interface/*", "arn:aws:ec2:*:*:spot-instances-request/*"],
              "Condition": { "StringEquals": { owned.clone(): "owned" } } },
            { "Sid": "LaunchFromDiscoveredNetwork", "Effect": "Allow",
              "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
              "Resource": ["arn:aws:ec2:*:*:subnet/*", "arn:aws:ec2:*:*:security-group/*", "arn:aws:ec2:*::image/*", "arn:aws:ec2:*:*:launch-template/*"] },
            { "Sid": "TagOnLaunch", "Effect": "Allow", "Action": "ec2:CreateTags",
              "Resource": ["arn:aws:ec2:*:*:instance/*", "arn:aws:ec2:*:*:volume/*", "arn:aws:ec2:*:*:launch-template/*", "arn:aws:ec2:*:*:fleet/*", "arn:aws:ec2:*:*:spot-instances-request/*", "arn:aws:ec2:*:*:network-interface/*"],
              "Condition": { "StringEquals": { owned: "owned", "ec2:CreateAction": ["RunInstances", "CreateFleet", "CreateLaunchTemplate"] } } },
            { "Sid": "TerminateOwnNodes", "Effect": "Allow",
              "Action": ["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"],
              "Resource": ["arn:aws:ec2:*:*:instance/*", "arn:aws:ec2:*:*:launch-template/*"],
              "Condition": { "StringEquals": { resource_owned: "owned" }, "StringLike": { "aws:ResourceTag/karpenter.sh/nodepool": "*" } } },
            { "Sid": "ReadOnlyDiscovery", "Effect": "Allow",
              "Action": ["ec2:DescribeAvailabilityZones", "ec2:DescribeImages", "ec2:DescribeInstances", "ec2:DescribeInstanceTypeOfferings", "ec2:DescribeInstanceTypes", "ec2:DescribeLaunchTemplates", "ec2:DescribeSecurityGroups", "ec2:DescribeSpotPriceHistory", "ec2:DescribeSubnets", "pricing:GetProducts"],
              "Resource": "*" },
            { "Sid": "PassOnlyTheNodeRole", "Effect": "Allow", "Action": "iam:PassRole",
              "Resource": Ref::expr("iam_role.karpenter_node", "arn"),
              "Condition": { "StringEquals": { "iam:PassedToService": "ec2.amazonaws.com" } } },
            // A profile being created has no tags yet: create is
            // allowed on the tags the request puts on it, the rest on
            // the tags the profile carries (Karpenter's own policy).
            { "Sid": "CreateInstanceProfilesTaggedForThisCluster", "Effect": "Allow", "Action": "iam:CreateInstanceProfile",
              "Resource": "arn:aws:iam::*:instance-profile/*",
              "Condition": { "StringEquals": { format!("aws:RequestTag/kubernetes.io/cluster/{name}"): "owned", "aws:RequestTag/topology.kubernetes.io/region": region },
                             "StringLike": { "aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*" } } },
            { "Sid": "TagOwnInstanceProfiles", "Effect": "Allow", "Action": "iam:TagInstanceProfile",
              "Resource": "arn:aws:iam::*:instance-profile/*",
              "Condition": { "StringEquals": { format!("aws:ResourceTag/kubernetes.io/cluster/{name}"): "owned", "aws:ResourceTag/topology.kubernetes.io/region": region,
                                               format!("aws:RequestTag/kubernetes.io/cluster/{name}"): "owned", "aws:RequestTag/topology.kubernetes.io/region": region },
                             "StringLike": { "aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*", "aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*" } } },
            { "Sid": "OwnInstanceProfiles", "Effect": "Allow",
              "Action": ["iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile", "iam:DeleteInstanceProfile"],
              "Resource": "arn:aws:iam::*:instance-profile/*",
              "Condition": { "StringEquals": { format!("aws:ResourceTag/kubernetes.io/cluster/{name}"): "owned", "aws:ResourceTag/topology.kubernetes.io/region": region },
                             "StringLike": { "aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*" } } },
            { "Sid": "ReadInstanceProfiles", "Effect": "Allow", "Action": "iam:GetInstanceProfile",
              "Resource": "arn:aws:iam::*:instance-profile/*" },
            { "Sid": "InterruptionQueue", "Effect": "Allow",
              "Action": ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"],
              "Resource": Ref::expr("sqs_queue.karpenter_interruption", "arn") },
            { "Sid": "ThisCluster", "Effect": "Allow", "Action": "eks:DescribeCluster",
              "Resource": Ref::expr("eks_cluster.main", "arn") },
            { "Sid": "AmiParameters", "Effect": "Allow", "Action": "ssm:GetParameter",
              "Resource": "arn:aws:ssm:*::parameter/aws/service/*" }
        ]
    })
}
