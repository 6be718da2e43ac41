//! IAM (query XML): roles, their policies and instance profiles, all read
//! from `GetAccountAuthorizationDetails`, and the OIDC provider.

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::json;

use super::*;

/// An IAM response: `<{op}Response><{op}Result>inner</…>`.
fn iam(op: &str, inner: &str) -> String {
    format!(
        r#"<{op}Response xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><{op}Result>{inner}</{op}Result><ResponseMetadata><RequestId>7a62</RequestId></ResponseMetadata></{op}Response>"#
    )
}

fn iam_tags(tags: &[(String, String)]) -> String {
    xml_tags("Tags", "member", "Key", "Value", tags)
}

/// IAM sends policy documents URL-encoded.
fn encoded(doc: &serde_json::Value) -> String {
    utf8_percent_encode(&doc.to_string(), NON_ALPHANUMERIC).to_string()
}

fn trust() -> serde_json::Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": "ec2.amazonaws.com" },
            "Action": "sts:AssumeRole",
            "Condition": { "StringEquals": { "aws:SourceAccount": "123456789012" } },
        }],
    })
}

fn karpenter_policy() -> serde_json::Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{ "Effect": "Allow", "Action": ["ec2:RunInstances", "ec2:CreateFleet"], "Resource": "*" }],
    })
}

const WORKER: &str = "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy";
const ECR: &str = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly";

fn profile(name: &str, role: &str, tags: &[(String, String)]) -> String {
    format!(
        "<member><Path>/</Path><InstanceProfileName>{name}</InstanceProfileName>\
         <InstanceProfileId>AIPA{name}</InstanceProfileId>\
         <Arn>arn:aws:iam::123456789012:instance-profile/{name}</Arn>\
         <CreateDate>2025-05-01T10:00:00Z</CreateDate>\
         <Roles><member><Path>/</Path><RoleName>{role}</RoleName><RoleId>AROA{role}</RoleId>\
         <Arn>arn:aws:iam::123456789012:role/{role}</Arn><CreateDate>2025-05-01T10:00:00Z</CreateDate></member></Roles>\
         {}</member>",
        iam_tags(tags)
    )
}

/// One role as `GetAccountAuthorizationDetails` lists it.
fn role(name: &str, path: &str, tags: &[(String, String)], extra: &str) -> String {
    format!(
        "<member><Path>{path}</Path><RoleName>{name}</RoleName><RoleId>AROA{name}</RoleId>\
         <Arn>arn:aws:iam::123456789012:role{path}{name}</Arn><CreateDate>2025-05-01T10:00:00Z</CreateDate>\
         <AssumeRolePolicyDocument>{}</AssumeRolePolicyDocument>{extra}{}</member>",
        encoded(&trust()),
        iam_tags(tags)
    )
}

/// Everything a node role carries: two managed policies, an inline policy
/// and an instance profile (tagged `profile_tags`).
fn node_role_parts(name: &str, profile_tags: &[(String, String)]) -> String {
    format!(
        "<InstanceProfileList>{}</InstanceProfileList>\
         <RolePolicyList><member><PolicyName>karpenter</PolicyName><PolicyDocument>{}</PolicyDocument></member></RolePolicyList>\
         <AttachedManagedPolicies><member><PolicyName>AmazonEKSWorkerNodePolicy</PolicyName><PolicyArn>{WORKER}</PolicyArn></member>\
         <member><PolicyName>AmazonEC2ContainerRegistryReadOnly</PolicyName><PolicyArn>{ECR}</PolicyArn></member></AttachedManagedPolicies>",
        profile(&format!("{name}-profile"), name, profile_tags),
        encoded(&karpenter_policy()),
    )
}

/// Two pages of role details: the env's node role and cluster role (under
/// `/eks/`), a role made before projects were tagged, and another env's and
/// another project's node roles, each with policies and a profile.
fn account_details() -> Vec<Answer> {
    let page1 = [
        role(
            "todo-dev-nodes",
            "/",
            &our_tags("iam_role.nodes"),
            &node_role_parts("todo-dev-nodes", &our_tags("iam_instance_profile.nodes")),
        ),
        role(
            "todo-qa-nodes",
            "/",
            &other_env_tags("iam_role.nodes"),
            &node_role_parts(
                "todo-qa-nodes",
                &other_env_tags("iam_instance_profile.nodes"),
            ),
        ),
    ]
    .concat();
    let page2 = [
        role(
            "todo-dev-cluster",
            "/eks/",
            &our_tags("iam_role.cluster"),
            "<InstanceProfileList/><RolePolicyList/><AttachedManagedPolicies/>",
        ),
        role(
            "other-dev-nodes",
            "/",
            &other_project_tags("iam_role.nodes"),
            &node_role_parts(
                "other-dev-nodes",
                &other_project_tags("iam_instance_profile.nodes"),
            ),
        ),
        role(
            "todo-dev-legacy",
            "/",
            &tags(&[("infra:env", ENV), ("infra:address", "iam_role.legacy")]),
            "",
        ),
    ]
    .concat();
    vec![
        answer(
            "iam",
            "GetAccountAuthorizationDetails",
            iam(
                "GetAccountAuthorizationDetails",
                &format!("<RoleDetailList>{page2}</RoleDetailList><IsTruncated>false</IsTruncated>"),
            ),
        )
        .when("Marker=page-2"),
        answer(
            "iam",
            "GetAccountAuthorizationDetails",
            iam(
                "GetAccountAuthorizationDetails",
                &format!(
                    "<RoleDetailList>{page1}</RoleDetailList><IsTruncated>true</IsTruncated><Marker>page-2</Marker>"
                ),
            ),
        )
        .when("Filter.member.1=Role"),
    ]
}

#[tokio::test]
async fn reads_iam_role_from_every_page_with_its_decoded_trust_policy() {
    let r = recorded(account_details());
    let lives = read(&r, "IamRole", &[]).await;
    assert_eq!(
        ids(&lives),
        ["todo-dev-nodes", "todo-dev-cluster", "todo-dev-legacy"]
    );
    assert_eq!(r.count("GetAccountAuthorizationDetails"), 2);
    let nodes = &lives[0];
    assert_eq!(nodes.address.as_deref(), Some("iam_role.nodes"));
    assert_eq!(
        props(nodes),
        json!({
            "name": "todo-dev-nodes",
            "path": "/",
            "assume_role_policy": trust(),
            "tags": { "infra:project": "todo", "Team": "platform" },
        })
    );
    assert_eq!(
        nodes.outputs,
        outputs(&[
            ("id", "todo-dev-nodes"),
            ("name", "todo-dev-nodes"),
            ("arn", "arn:aws:iam::123456789012:role/todo-dev-nodes"),
        ])
    );
    let cluster = &lives[1];
    assert_eq!(props(cluster)["path"], json!("/eks/"));
    assert_eq!(
        cluster.outputs["arn"],
        "arn:aws:iam::123456789012:role/eks/todo-dev-cluster"
    );
    // Made before projects were tagged: read, without the project tag, so
    // `up` adds it.
    let legacy = &lives[2];
    assert_eq!(legacy.address.as_deref(), Some("iam_role.legacy"));
    assert_eq!(props(legacy)["tags"], json!({}));
}

#[tokio::test]
async fn reads_iam_role_policy_attachment_per_role_and_policy() {
    let r = recorded(account_details());
    let lives = read(&r, "IamRolePolicyAttachment", &[]).await;
    let worker = format!("todo-dev-nodes|{WORKER}");
    let ecr = format!("todo-dev-nodes|{ECR}");
    assert_eq!(ids(&lives), [worker.as_str(), ecr.as_str()]);
    assert_eq!(lives[0].address, None);
    assert_eq!(
        props(&lives[0]),
        json!({ "role": "todo-dev-nodes", "policy_arn": WORKER })
    );
    assert_eq!(lives[0].outputs, outputs(&[("id", worker.as_str())]));
    assert_eq!(props(&lives[1])["policy_arn"], json!(ECR));
}

#[tokio::test]
async fn reads_iam_role_policy_with_its_decoded_document() {
    let r = recorded(account_details());
    let lives = read(&r, "IamRolePolicy", &[]).await;
    assert_eq!(ids(&lives), ["todo-dev-nodes|karpenter"]);
    assert_eq!(lives[0].address, None);
    assert_eq!(
        props(&lives[0]),
        json!({ "role": "todo-dev-nodes", "name": "karpenter", "document": karpenter_policy() })
    );
    assert_eq!(
        lives[0].outputs,
        outputs(&[("id", "todo-dev-nodes|karpenter")])
    );
}

#[tokio::test]
async fn reads_iam_instance_profile_of_the_env_roles() {
    let r = recorded(account_details());
    let lives = read(&r, "IamInstanceProfile", &[]).await;
    assert_eq!(ids(&lives), ["todo-dev-nodes-profile"]);
    let live = &lives[0];
    assert_eq!(live.address.as_deref(), Some("iam_instance_profile.nodes"));
    assert_eq!(
        props(live),
        json!({
            "name": "todo-dev-nodes-profile",
            "role": "todo-dev-nodes",
            "tags": { "infra:project": "todo", "Team": "platform" },
        })
    );
    assert_eq!(
        live.outputs,
        outputs(&[
            ("id", "todo-dev-nodes-profile"),
            ("name", "todo-dev-nodes-profile"),
            (
                "arn",
                "arn:aws:iam::123456789012:instance-profile/todo-dev-nodes-profile"
            ),
        ])
    );
}

#[tokio::test]
async fn one_account_details_read_serves_every_role_kind_in_a_refresh() {
    let mut r = recorded(account_details());
    r.cx = r.cx.with_read_cache();
    for (kind, found) in [
        ("IamRole", 3),
        ("IamRolePolicyAttachment", 2),
        ("IamRolePolicy", 1),
        ("IamInstanceProfile", 1),
    ] {
        assert_eq!(read(&r, kind, &[]).await.len(), found, "{kind}");
    }
    // Its two pages, once.
    assert_eq!(r.count("GetAccountAuthorizationDetails"), 2);
}

#[tokio::test]
async fn reads_iam_oidc_provider_with_an_https_url() {
    const OURS: &str =
        "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/5E6F";
    const QA: &str =
        "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/9A8B";
    const OTHER: &str =
        "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/C0D1";
    let provider = |id: &str, tags: &[(String, String)]| {
        iam(
            "GetOpenIDConnectProvider",
            &format!(
                // IAM gives the URL without its scheme.
                "<Url>oidc.eks.us-east-1.amazonaws.com/id/{id}</Url>\
                 <ClientIDList><member>sts.amazonaws.com</member></ClientIDList>\
                 <ThumbprintList><member>9e99a48a9960b14926bb7f3b02e22da2b0ab7280</member></ThumbprintList>\
                 <CreateDate>2025-05-01T10:00:00Z</CreateDate>{}",
                iam_tags(tags)
            ),
        )
    };
    let list: String = [OURS, QA, OTHER]
        .iter()
        .map(|a| format!("<member><Arn>{a}</Arn></member>"))
        .collect();
    let r = recorded(vec![
        answer(
            "iam",
            "ListOpenIDConnectProviders",
            iam(
                "ListOpenIDConnectProviders",
                &format!("<OpenIDConnectProviderList>{list}</OpenIDConnectProviderList>"),
            ),
        ),
        answer(
            "iam",
            "GetOpenIDConnectProvider",
            provider("5E6F", &our_tags("iam_oidc_provider.eks")),
        )
        .when(OURS),
        answer(
            "iam",
            "GetOpenIDConnectProvider",
            provider("9A8B", &other_env_tags("iam_oidc_provider.eks")),
        )
        .when(QA),
        answer(
            "iam",
            "GetOpenIDConnectProvider",
            provider("C0D1", &other_project_tags("iam_oidc_provider.eks")),
        )
        .when(OTHER),
    ]);
    let lives = read(&r, "IamOidcProvider", &[]).await;
    assert_eq!(ids(&lives), [OURS]);
    let live = &lives[0];
    assert_eq!(live.address.as_deref(), Some("iam_oidc_provider.eks"));
    assert_eq!(
        props(live),
        json!({
            "url": "https://oidc.eks.us-east-1.amazonaws.com/id/5E6F",
            "client_ids": ["sts.amazonaws.com"],
            "tags": { "infra:project": "todo", "Team": "platform" },
        })
    );
    assert_eq!(live.outputs, outputs(&[("id", OURS), ("arn", OURS)]));
    assert_eq!(r.count("GetOpenIDConnectProvider"), 3);
}
