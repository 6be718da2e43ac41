//! EKS (REST JSON): the cluster and what hangs off it. Every kind reads the
//! env's clusters first; the other env's and project's clusters are
//! described but never listed further (a call on them has no answer here,
//! and would fail the test).

use serde_json::{Value, json};

use super::*;

const ACCOUNT: &str = "123456789012";
const NODE_ROLE: &str = "arn:aws:iam::123456789012:role/todo-dev-nodes";
const ADMIN: &str =
    "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0f1e";
const DEV: &str = "arn:aws:iam::123456789012:role/todo-dev-developers";

fn get(path: &str, body: Value) -> Answer {
    answer("eks", &format!("GET {path}"), body.to_string())
}

fn cluster(name: &str, tags: &[(String, String)]) -> Value {
    json!({
        "name": name,
        "arn": format!("arn:aws:eks:us-east-1:{ACCOUNT}:cluster/{name}"),
        "createdAt": 1714557600.0,
        "version": "1.31",
        "endpoint": "https://5E6F.gr7.us-east-1.eks.amazonaws.com",
        "roleArn": "arn:aws:iam::123456789012:role/eks/todo-dev-cluster",
        "resourcesVpcConfig": {
            // Unsorted, as EKS may return them.
            "subnetIds": ["subnet-0c", "subnet-0a", "subnet-0b"],
            "securityGroupIds": ["sg-0z", "sg-0controlplane"],
            "clusterSecurityGroupId": "sg-0eksmanaged",
            "vpcId": "vpc-0a1",
            "endpointPublicAccess": true,
            "endpointPrivateAccess": true,
            "publicAccessCidrs": ["203.0.113.0/24", "198.51.100.7/32"],
        },
        "kubernetesNetworkConfig": { "serviceIpv4Cidr": "172.20.0.0/16", "ipFamily": "ipv4" },
        "logging": { "clusterLogging": [
            { "types": ["controllerManager", "scheduler"], "enabled": false },
            { "types": ["audit", "api", "authenticator"], "enabled": true },
        ] },
        "identity": { "oidc": { "issuer": "https://oidc.eks.us-east-1.amazonaws.com/id/5E6F" } },
        "status": "ACTIVE",
        "certificateAuthority": { "data": "LS0tLS1CRUdJTi1DRVJU" },
        "platformVersion": "eks.12",
        "tags": json_map(tags),
        "encryptionConfig": [{
            "resources": ["secrets"],
            "provider": { "keyArn": "arn:aws:kms:us-east-1:123456789012:key/1a2b" },
        }],
        "accessConfig": { "bootstrapClusterCreatorAdminPermissions": false, "authenticationMode": "API_AND_CONFIG_MAP" },
    })
}

/// The account's clusters: the env's, another env's, another project's.
fn clusters() -> Vec<Answer> {
    vec![
        get(
            "/clusters",
            json!({ "clusters": ["todo-dev", "todo-qa", "other-dev"] }),
        ),
        get(
            "/clusters/todo-dev",
            json!({ "cluster": cluster("todo-dev", &our_tags("eks_cluster.main")) }),
        ),
        get(
            "/clusters/todo-qa",
            json!({ "cluster": cluster("todo-qa", &other_env_tags("eks_cluster.main")) }),
        ),
        get(
            "/clusters/other-dev",
            json!({ "cluster": cluster("other-dev", &other_project_tags("eks_cluster.main")) }),
        ),
    ]
}

fn with(mut answers: Vec<Answer>, more: Vec<Answer>) -> Vec<Answer> {
    answers.extend(more);
    answers
}

#[tokio::test]
async fn reads_eks_cluster_with_sorted_lists_and_enabled_logs() {
    let r = recorded(clusters());
    let lives = read(&r, "EksCluster", &[]).await;
    assert_eq!(ids(&lives), ["todo-dev"]);
    let live = &lives[0];
    assert_eq!(live.address.as_deref(), Some("eks_cluster.main"));
    assert_eq!(
        props(live),
        json!({
            "name": "todo-dev",
            "version": "1.31",
            "role_arn": "arn:aws:iam::123456789012:role/eks/todo-dev-cluster",
            "subnet_ids": ["subnet-0a", "subnet-0b", "subnet-0c"],
            "security_group_ids": ["sg-0controlplane", "sg-0z"],
            "endpoint_private_access": true,
            "endpoint_public_access": true,
            "public_access_cidrs": ["198.51.100.7/32", "203.0.113.0/24"],
            "log_types": ["api", "audit", "authenticator"],
            "authentication_mode": "API_AND_CONFIG_MAP",
            "bootstrap_cluster_creator_admin": false,
            "encryption_key_arn": "arn:aws:kms:us-east-1:123456789012:key/1a2b",
            "tags": { "infra:project": "todo", "Team": "platform" },
        })
    );
    assert_eq!(
        live.outputs,
        outputs(&[
            ("id", "todo-dev"),
            ("name", "todo-dev"),
            ("arn", "arn:aws:eks:us-east-1:123456789012:cluster/todo-dev"),
            ("account", ACCOUNT),
            ("endpoint", "https://5E6F.gr7.us-east-1.eks.amazonaws.com"),
            ("ca_data", "LS0tLS1CRUdJTi1DRVJU"),
            (
                "oidc_issuer",
                "https://oidc.eks.us-east-1.amazonaws.com/id/5E6F"
            ),
            (
                "oidc_issuer_host",
                "oidc.eks.us-east-1.amazonaws.com/id/5E6F"
            ),
            ("cluster_security_group_id", "sg-0eksmanaged"),
        ])
    );
}

fn nodegroup(name: &str, tags: &[(String, String)]) -> Value {
    json!({ "nodegroup": {
        "nodegroupName": name,
        "nodegroupArn": format!("arn:aws:eks:us-east-1:{ACCOUNT}:nodegroup/todo-dev/{name}/8ec8"),
        "clusterName": "todo-dev",
        "version": "1.31",
        "releaseVersion": "1.31.3-20250101",
        "status": "ACTIVE",
        "capacityType": "ON_DEMAND",
        "scalingConfig": { "minSize": 2, "maxSize": 5, "desiredSize": 3 },
        "instanceTypes": ["m6i.large", "m5.large"],
        "subnets": ["subnet-0b", "subnet-0a"],
        "amiType": "AL2023_x86_64_STANDARD",
        "nodeRole": NODE_ROLE,
        "labels": { "role": "system" },
        "taints": [
            { "key": "spot", "effect": "PREFER_NO_SCHEDULE" },
            { "key": "dedicated", "value": "system", "effect": "NO_SCHEDULE" },
        ],
        "diskSize": 20,
        "tags": json_map(tags),
    } })
}

#[tokio::test]
async fn reads_eks_nodegroup_with_sorted_subnets_and_taints() {
    let r = recorded(with(
        clusters(),
        vec![
            get(
                "/clusters/todo-dev/node-groups",
                json!({ "nodegroups": ["system", "stray"] }),
            ),
            get(
                "/clusters/todo-dev/node-groups/system",
                nodegroup("system", &our_tags("eks_nodegroup.system")),
            ),
            // Another env's node group in our cluster: not ours to compare.
            get(
                "/clusters/todo-dev/node-groups/stray",
                nodegroup("stray", &other_env_tags("eks_nodegroup.system")),
            ),
        ],
    ));
    let lives = read(&r, "EksNodegroup", &[]).await;
    assert_eq!(ids(&lives), ["todo-dev:system"]);
    let live = &lives[0];
    assert_eq!(live.address.as_deref(), Some("eks_nodegroup.system"));
    assert_eq!(
        props(live),
        json!({
            "cluster_name": "todo-dev",
            "name": "system",
            "node_role_arn": NODE_ROLE,
            "subnet_ids": ["subnet-0a", "subnet-0b"],
            // In the order given: the first type is preferred.
            "instance_types": ["m6i.large", "m5.large"],
            "ami_type": "AL2023_x86_64_STANDARD",
            "capacity_type": "ON_DEMAND",
            "min_size": 2,
            "max_size": 5,
            "desired_size": 3,
            "labels": { "role": "system" },
            "taints": [
                // Sorted (by their JSON text: key first, or effect first
                // without serde_json's `preserve_order`; the same here).
                { "key": "dedicated", "value": "system", "effect": "NO_SCHEDULE" },
                { "key": "spot", "value": "", "effect": "PREFER_NO_SCHEDULE" },
            ],
            "tags": { "infra:project": "todo", "Team": "platform" },
        })
    );
    assert_eq!(
        live.outputs,
        outputs(&[
            ("id", "todo-dev:system"),
            ("name", "system"),
            (
                "arn",
                "arn:aws:eks:us-east-1:123456789012:nodegroup/todo-dev/system/8ec8"
            ),
        ])
    );
}

fn addon(name: &str, version: &str, role: Option<&str>, tags: &[(String, String)]) -> Value {
    let mut a = json!({
        "addonName": name,
        "clusterName": "todo-dev",
        "status": "ACTIVE",
        "addonVersion": version,
        "addonArn": format!("arn:aws:eks:us-east-1:{ACCOUNT}:addon/todo-dev/{name}/1c2d"),
        "tags": json_map(tags),
    });
    if let Some(role) = role {
        a["serviceAccountRoleArn"] = json!(role);
    }
    json!({ "addon": a })
}

#[tokio::test]
async fn reads_eks_addon_with_its_version_only_when_pinned() {
    const CNI_ROLE: &str = "arn:aws:iam::123456789012:role/todo-dev-vpc-cni";
    let r = recorded(with(
        clusters(),
        vec![
            get(
                "/clusters/todo-dev/addons",
                json!({ "addons": ["coredns", "vpc-cni", "kube-proxy"] }),
            ),
            get(
                "/clusters/todo-dev/addons/coredns",
                addon(
                    "coredns",
                    "v1.11.3-eksbuild.2",
                    None,
                    &our_tags("eks_addon.coredns"),
                ),
            ),
            get(
                "/clusters/todo-dev/addons/vpc-cni",
                addon(
                    "vpc-cni",
                    "v1.19.0-eksbuild.1",
                    Some(CNI_ROLE),
                    &our_tags("eks_addon.vpc_cni"),
                ),
            ),
            get(
                "/clusters/todo-dev/addons/kube-proxy",
                addon(
                    "kube-proxy",
                    "v1.31.2-eksbuild.3",
                    None,
                    &other_project_tags("eks_addon.kube_proxy"),
                ),
            ),
        ],
    ));
    // State pins vpc-cni's version; coredns follows the newest.
    let state = [
        known(
            "EksAddon",
            "eks_addon.vpc_cni",
            "todo-dev:vpc-cni",
            json!({ "cluster_name": "todo-dev", "name": "vpc-cni", "version": "v1.19.0-eksbuild.1" }),
        ),
        known(
            "EksAddon",
            "eks_addon.coredns",
            "todo-dev:coredns",
            json!({ "cluster_name": "todo-dev", "name": "coredns" }),
        ),
    ];
    let lives = read(&r, "EksAddon", &state).await;
    assert_eq!(ids(&lives), ["todo-dev:coredns", "todo-dev:vpc-cni"]);
    let coredns = &lives[0];
    assert_eq!(coredns.address.as_deref(), Some("eks_addon.coredns"));
    assert_eq!(
        props(coredns),
        json!({
            "cluster_name": "todo-dev",
            "name": "coredns",
            "tags": { "infra:project": "todo", "Team": "platform" },
        })
    );
    assert_eq!(
        coredns.outputs,
        outputs(&[
            ("id", "todo-dev:coredns"),
            (
                "arn",
                "arn:aws:eks:us-east-1:123456789012:addon/todo-dev/coredns/1c2d"
            ),
            ("version", "v1.11.3-eksbuild.2"),
        ])
    );
    let cni = &lives[1];
    assert_eq!(cni.address.as_deref(), Some("eks_addon.vpc_cni"));
    assert_eq!(
        props(cni),
        json!({
            "cluster_name": "todo-dev",
            "name": "vpc-cni",
            "service_account_role_arn": CNI_ROLE,
            "version": "v1.19.0-eksbuild.1",
            "tags": { "infra:project": "todo", "Team": "platform" },
        })
    );
}

fn entry(principal: &str, groups: &[&str], tags: &[(String, String)]) -> Value {
    json!({ "accessEntry": {
        "clusterName": "todo-dev",
        "principalArn": principal,
        "kubernetesGroups": groups,
        "accessEntryArn": format!("arn:aws:eks:us-east-1:{ACCOUNT}:access-entry/todo-dev/role/{ACCOUNT}/x/1a"),
        "createdAt": 1714557600.0,
        "modifiedAt": 1714557600.0,
        "tags": json_map(tags),
        "username": "admin",
        "type": "STANDARD",
    } })
}

/// The env cluster's access entries: the admins' (infra's), the
/// developers' (another project's tags), and the node role's, made by EKS
/// itself without tags.
fn entries() -> Vec<Answer> {
    let path = |p: &str| format!("/clusters/todo-dev/access-entries/{p}");
    with(
        clusters(),
        vec![
            get(
                "/clusters/todo-dev/access-entries",
                json!({ "accessEntries": [ADMIN, DEV, NODE_ROLE] }),
            ),
            get(
                &path(ADMIN),
                entry(
                    ADMIN,
                    &["viewers", "admins"],
                    &our_tags("eks_access_entry.admins"),
                ),
            ),
            get(
                &path(DEV),
                entry(DEV, &[], &other_project_tags("eks_access_entry.devs")),
            ),
            get(
                &path(NODE_ROLE),
                json!({ "accessEntry": {
                    "clusterName": "todo-dev",
                    "principalArn": NODE_ROLE,
                    "kubernetesGroups": ["system:nodes"],
                    "accessEntryArn": "arn:aws:eks:us-east-1:123456789012:access-entry/todo-dev/role/nodes/2b",
                    "tags": {},
                    "type": "EC2_LINUX",
                } }),
            ),
        ],
    )
}

#[tokio::test]
async fn reads_eks_access_entry_with_sorted_groups() {
    let r = recorded(entries());
    let lives = read(&r, "EksAccessEntry", &[]).await;
    let id = format!("todo-dev#{ADMIN}");
    assert_eq!(ids(&lives), [id.as_str()]);
    let live = &lives[0];
    assert_eq!(live.address.as_deref(), Some("eks_access_entry.admins"));
    assert_eq!(
        props(live),
        json!({
            "cluster_name": "todo-dev",
            "principal_arn": ADMIN,
            "kubernetes_groups": ["admins", "viewers"],
            "type": "STANDARD",
            "tags": { "infra:project": "todo", "Team": "platform" },
        })
    );
    assert_eq!(
        live.outputs,
        outputs(&[
            ("id", id.as_str()),
            (
                "arn",
                "arn:aws:eks:us-east-1:123456789012:access-entry/todo-dev/role/123456789012/x/1a"
            ),
            ("principal_arn", ADMIN),
        ])
    );
}

#[tokio::test]
async fn reads_eks_access_policy_associations_of_infra_entries_only() {
    const VIEW: &str = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy";
    const ADMIN_POLICY: &str = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy";
    let r = recorded(with(
        entries(),
        vec![get(
            &format!("/clusters/todo-dev/access-entries/{ADMIN}/access-policies"),
            json!({
                "clusterName": "todo-dev",
                "principalArn": ADMIN,
                "associatedAccessPolicies": [
                    {
                        "policyArn": VIEW,
                        "accessScope": { "type": "namespace", "namespaces": ["web", "api"] },
                        "associatedAt": 1714557600.0,
                        "modifiedAt": 1714557600.0,
                    },
                    {
                        "policyArn": ADMIN_POLICY,
                        "accessScope": { "type": "cluster" },
                        "associatedAt": 1714557600.0,
                        "modifiedAt": 1714557600.0,
                    },
                ],
            }),
        )],
    ));
    let lives = read(&r, "EksAccessPolicyAssociation", &[]).await;
    let view = format!("todo-dev#{ADMIN}#{VIEW}");
    let admin = format!("todo-dev#{ADMIN}#{ADMIN_POLICY}");
    assert_eq!(ids(&lives), [view.as_str(), admin.as_str()]);
    assert_eq!(lives[0].address, None);
    assert_eq!(
        props(&lives[0]),
        json!({
            "cluster_name": "todo-dev",
            "principal_arn": ADMIN,
            "policy_arn": VIEW,
            "access_scope": { "type": "namespace", "namespaces": ["api", "web"] },
        })
    );
    assert_eq!(lives[0].outputs, outputs(&[("id", view.as_str())]));
    assert_eq!(
        props(&lives[1])["access_scope"],
        json!({ "type": "cluster", "namespaces": [] })
    );
    // Neither the developers' entry (another project's) nor the node role's
    // (untagged) had its policies listed.
    let listed: Vec<String> = r
        .calls()
        .into_iter()
        .filter(|c| c.contains("/access-policies"))
        .collect();
    assert_eq!(listed.len(), 1, "{listed:?}");
}

fn association(id: &str, sa: &str, tags: &[(String, String)]) -> Value {
    json!({ "association": {
        "clusterName": "todo-dev",
        "namespace": "kube-system",
        "serviceAccount": sa,
        "roleArn": format!("arn:aws:iam::{ACCOUNT}:role/todo-dev-{sa}"),
        "associationArn": format!("arn:aws:eks:us-east-1:{ACCOUNT}:podidentityassociation/todo-dev/{id}"),
        "associationId": id,
        "tags": json_map(tags),
        "createdAt": 1714557600.0,
        "modifiedAt": 1714557600.0,
    } })
}

#[tokio::test]
async fn reads_eks_pod_identity_association() {
    let summary = |id: &str, sa: &str| {
        json!({
            "clusterName": "todo-dev",
            "namespace": "kube-system",
            "serviceAccount": sa,
            "associationArn": format!("arn:aws:eks:us-east-1:{ACCOUNT}:podidentityassociation/todo-dev/{id}"),
            "associationId": id,
        })
    };
    let r = recorded(with(
        clusters(),
        vec![
            get(
                "/clusters/todo-dev/pod-identity-associations",
                json!({ "associations": [
                    summary("a-0karpenter", "karpenter"),
                    summary("a-0qa", "external-dns"),
                ] }),
            ),
            get(
                "/clusters/todo-dev/pod-identity-associations/a-0karpenter",
                association(
                    "a-0karpenter",
                    "karpenter",
                    &our_tags("eks_pod_identity_association.karpenter"),
                ),
            ),
            get(
                "/clusters/todo-dev/pod-identity-associations/a-0qa",
                association(
                    "a-0qa",
                    "external-dns",
                    &other_env_tags("eks_pod_identity_association.dns"),
                ),
            ),
        ],
    ));
    let lives = read(&r, "EksPodIdentityAssociation", &[]).await;
    assert_eq!(ids(&lives), ["a-0karpenter"]);
    let live = &lives[0];
    assert_eq!(
        live.address.as_deref(),
        Some("eks_pod_identity_association.karpenter")
    );
    assert_eq!(
        props(live),
        json!({
            "cluster_name": "todo-dev",
            "namespace": "kube-system",
            "service_account": "karpenter",
            "role_arn": "arn:aws:iam::123456789012:role/todo-dev-karpenter",
            "tags": { "infra:project": "todo", "Team": "platform" },
        })
    );
    assert_eq!(
        live.outputs,
        outputs(&[
            ("id", "a-0karpenter"),
            (
                "arn",
                "arn:aws:eks:us-east-1:123456789012:podidentityassociation/todo-dev/a-0karpenter"
            ),
        ])
    );
}
