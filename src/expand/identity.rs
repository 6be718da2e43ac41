//! Workload identities: one IAM role per Kubernetes service account. The
//! role trusts the cluster's OIDC provider for exactly that service account
//! (IRSA: `sub` and `aud` both pinned) or, with `pod_identity`, the EKS Pod
//! Identity service plus an association naming the service account.
//!
//! Built-in permission sets name specific resources wherever the action
//! allows it: external-dns gets this zone only, external-secrets the RDS
//! master secret only.

use serde_json::{Value, json};

use super::{Expanded, tags};
use crate::config::{LoadedPlan, WorkloadIdentity};
use crate::model::Ref;

const MANAGED: &str = "arn:aws:iam::aws:policy/";

/// `todo-api` → `todo_api`: the name part of an address.
fn key(name: &str) -> String {
    name.replace('-', "_")
}

/// EKS Pod Identity may assume the role for this account's calls only, and
/// only for this cluster's service account (the session tags it sets).
fn trust_pod_identity(cluster: &str, namespace: &str, service_account: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": "pods.eks.amazonaws.com" },
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Condition": { "StringEquals": {
                "aws:SourceAccount": Ref::expr("eks_cluster.main", "account"),
                "aws:RequestTag/eks-cluster-name": cluster,
                "aws:RequestTag/kubernetes-namespace": namespace,
                "aws:RequestTag/kubernetes-service-account": service_account,
            } }
        }]
    })
}

fn load_balancer_controller(region: &str, cluster: &str) -> Vec<Value> {
    let elb = |what: &str| format!("arn:aws:elasticloadbalancing:{region}:*:{what}");
    // Every condition names this cluster's tag value: a key that merely
    // exists would let the controller touch another cluster's resources.
    let request_tagged =
        json!({ "StringEquals": { "aws:RequestTag/elbv2.k8s.aws/cluster": cluster } });
    let cluster_owned =
        json!({ "StringEquals": { "aws:ResourceTag/elbv2.k8s.aws/cluster": cluster } });
    let elb_create_tagged = json!({ "StringEquals": { "aws:RequestTag/elbv2.k8s.aws/cluster": cluster,
                                                      "elasticloadbalancing:CreateAction": ["CreateTargetGroup", "CreateLoadBalancer"] } });
    vec![
        json!({ "Sid": "ServiceLinkedRole", "Effect": "Allow", "Action": "iam:CreateServiceLinkedRole", "Resource": "*",
                "Condition": { "StringEquals": { "iam:AWSServiceName": "elasticloadbalancing.amazonaws.com" } } }),
        json!({ "Sid": "Describe", "Effect": "Allow", "Resource": "*",
                "Action": ["ec2:DescribeAccountAttributes", "ec2:DescribeAddresses", "ec2:DescribeAvailabilityZones", "ec2:DescribeInternetGateways",
                           "ec2:DescribeVpcs", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeInstances", "ec2:DescribeNetworkInterfaces",
                           "ec2:DescribeTags", "elasticloadbalancing:Describe*", "acm:ListCertificates", "acm:DescribeCertificate",
                           "wafv2:GetWebACLForResource", "shield:GetSubscriptionState"] }),
        json!({ "Sid": "SecurityGroupsInThisVpc", "Effect": "Allow", "Action": "ec2:CreateSecurityGroup",
                "Resource": format!("arn:aws:ec2:{region}:*:vpc/{}", Ref::expr("vpc.main", "id")) }),
        json!({ "Sid": "SecurityGroupsTaggedForThisCluster", "Effect": "Allow", "Action": "ec2:CreateSecurityGroup",
                "Resource": format!("arn:aws:ec2:{region}:*:security-group/*"), "Condition": request_tagged.clone() }),
        json!({ "Sid": "TagOnCreate", "Effect": "Allow", "Action": "ec2:CreateTags", "Resource": format!("arn:aws:ec2:{region}:*:security-group/*"),
                "Condition": { "StringEquals": { "ec2:CreateAction": "CreateSecurityGroup", "aws:RequestTag/elbv2.k8s.aws/cluster": cluster } } }),
        json!({ "Sid": "OwnSecurityGroups", "Effect": "Allow", "Resource": format!("arn:aws:ec2:{region}:*:security-group/*"),
                "Action": ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "ec2:DeleteSecurityGroup", "ec2:CreateTags", "ec2:DeleteTags"],
                "Condition": cluster_owned.clone() }),
        json!({ "Sid": "CreateTaggedForThisCluster", "Effect": "Allow", "Resource": "*",
                "Action": ["elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup"], "Condition": request_tagged }),
        json!({ "Sid": "TagOnCreateLoadBalancers", "Effect": "Allow", "Action": "elasticloadbalancing:AddTags",
                "Resource": [elb("loadbalancer/*"), elb("targetgroup/*")], "Condition": elb_create_tagged }),
        json!({ "Sid": "ListenersAndRules", "Effect": "Allow",
                "Action": ["elasticloadbalancing:CreateListener", "elasticloadbalancing:DeleteListener", "elasticloadbalancing:CreateRule", "elasticloadbalancing:DeleteRule",
                           "elasticloadbalancing:ModifyListener", "elasticloadbalancing:ModifyRule", "elasticloadbalancing:AddListenerCertificates", "elasticloadbalancing:RemoveListenerCertificates"],
                "Resource": [elb("loadbalancer/*"), elb("listener/*"), elb("listener-rule/*")] }),
        json!({ "Sid": "OwnLoadBalancers", "Effect": "Allow",
                "Action": ["elasticloadbalancing:ModifyLoadBalancerAttributes", "elasticloadbalancing:SetIpAddressType", "elasticloadbalancing:SetSecurityGroups",
                           "elasticloadbalancing:SetSubnets", "elasticloadbalancing:DeleteLoadBalancer", "elasticloadbalancing:ModifyTargetGroup",
                           "elasticloadbalancing:ModifyTargetGroupAttributes", "elasticloadbalancing:DeleteTargetGroup", "elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
                "Resource": [elb("loadbalancer/*"), elb("targetgroup/*")], "Condition": cluster_owned }),
        json!({ "Sid": "Targets", "Effect": "Allow", "Action": ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"], "Resource": elb("targetgroup/*") }),
    ]
}

fn external_dns() -> Vec<Value> {
    let zone = format!(
        "arn:aws:route53:::hostedzone/{}",
        Ref::expr("route53_zone.main", "id")
    );
    vec![
        json!({ "Sid": "ThisZoneOnly", "Effect": "Allow", "Action": ["route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets", "route53:ListTagsForResource"], "Resource": zone }),
        json!({ "Sid": "FindZones", "Effect": "Allow", "Action": ["route53:ListHostedZones", "route53:ListHostedZonesByName"], "Resource": "*" }),
    ]
}

fn external_secrets(plan: &LoadedPlan) -> Vec<Value> {
    vec![
        json!({ "Sid": "DatabaseSecretOnly", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                 "Resource": Ref::expr(super::database::database_address(plan), "master_secret_arn") }),
    ]
}

/// Whether the cluster tier already made the EBS CSI driver's role (as the add-on's IRSA role).
pub fn cluster_has_ebs_csi(plan: &LoadedPlan) -> bool {
    plan.file
        .cluster
        .as_ref()
        .is_some_and(|c| c.addons.contains_key("aws-ebs-csi-driver"))
}

pub fn expand(plan: &LoadedPlan, out: &mut Expanded) {
    let cluster = plan.file.cluster_name(&plan.env);
    let region = plan.file.region.get_ref();
    let agent = plan
        .file
        .cluster
        .as_ref()
        .is_some_and(|c| c.addons.contains_key("eks-pod-identity-agent"));
    for spanned in &plan.file.workload_identity {
        let w: &WorkloadIdentity = spanned.get_ref();
        let span = Some(spanned.span());
        if w.pod_identity && !agent {
            out.warnings.push(format!(
                "workload_identity {}: Pod Identity needs the eks-pod-identity-agent add-on on the cluster; add `eks-pod-identity-agent = {{}}` to [cluster.addons]",
                w.name
            ));
        }
        let k = key(&w.name);
        let mut managed = w.managed_policies.clone();
        let mut statements: Vec<Value> = Vec::new();
        match w.builtin.as_deref() {
            Some("aws-load-balancer-controller") => {
                statements.extend(load_balancer_controller(region, &cluster))
            }
            Some("external-dns") => statements.extend(external_dns()),
            Some("external-secrets") => statements.extend(external_secrets(plan)),
            Some("ebs-csi-driver") if cluster_has_ebs_csi(plan) => {
                out.warnings.push(format!(
                    "workload_identity {}: the cluster tier already makes the EBS CSI driver's role (add-on aws-ebs-csi-driver); this entry is skipped",
                    w.name
                ));
                continue;
            }
            Some("ebs-csi-driver") => {
                managed.push(format!("{MANAGED}service-role/AmazonEBSCSIDriverPolicy"))
            }
            _ => {}
        }
        // `${database.<output>}` names the database whichever form it takes.
        let database = format!("${{{}.", super::database::database_address(plan));
        statements.extend(w.statements.iter().map(|s| {
            let resources: Vec<String> = s
                .resources
                .iter()
                .map(|r| r.replace("${database.", &database))
                .collect();
            json!({ "Effect": "Allow", "Action": s.actions, "Resource": resources })
        }));
        let role_name = format!("{cluster}-{}", w.name);
        let trust = if w.pod_identity {
            trust_pod_identity(&cluster, &w.namespace, &w.service_account)
        } else {
            super::cluster::trust_irsa(&w.namespace, &w.service_account)
        };
        let role = format!("iam_role.wi_{k}");
        out.add(
            role.clone(),
            "IamRole",
            json!({ "name": role_name, "path": "/", "assume_role_policy": trust, "tags": tags(plan, &role_name, &[("service-account", &format!("{}/{}", w.namespace, w.service_account))]) }),
            "identity",
            span.clone(),
        );
        for (i, arn) in managed.iter().enumerate() {
            out.add(
                format!("iam_role_policy_attachment.wi_{k}_{i}"),
                "IamRolePolicyAttachment",
                json!({ "role": Ref::expr(&role, "name"), "policy_arn": arn }),
                "identity",
                span.clone(),
            );
        }
        if !statements.is_empty() {
            out.add(
                format!("iam_role_policy.wi_{k}"),
                "IamRolePolicy",
                json!({ "role": Ref::expr(&role, "name"), "name": "workload", "document": { "Version": "2012-10-17", "Statement": statements } }),
                "identity",
                span.clone(),
            );
        }
        if w.pod_identity {
            out.add(
                format!("eks_pod_identity_association.{k}"),
                "EksPodIdentityAssociation",
                json!({
                    "cluster_name": Ref::expr("eks_cluster.main", "name"),
                    "namespace": w.namespace,
                    "service_account": w.service_account,
                    "role_arn": Ref::expr(&role, "arn"),
                    "tags": tags(plan, &role_name, &[]),
                }),
                "identity",
                span.clone(),
            );
        }
        out.outputs
            .insert(format!("{k}_role_arn"), json!(Ref::expr(&role, "arn")));
    }
}
