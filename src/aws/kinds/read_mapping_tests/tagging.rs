//! The takeover's identity tags (`aws::identity`): each kind's `Tagging`
//! sends one call of its service's tag API, to the resource's id or ARN,
//! carrying the address; kinds AWS cannot tag send nothing.

use crate::aws::identity;
use crate::model::{NaturalKey, Tagging};

use super::*;

const ADDRESS: &str = "taken.over";

fn ok_xml(op: &str) -> String {
    format!(
        "<{op}Response><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></{op}Response>"
    )
}

/// A successful answer to every tag call the families make.
fn tag_answers() -> Vec<Answer> {
    let mut answers = vec![
        answer(
            "ec2",
            "CreateTags",
            "<CreateTagsResponse><requestId>r</requestId><return>true</return></CreateTagsResponse>",
        ),
        answer("rds", "AddTagsToResource", ok_xml("AddTagsToResource")),
        answer("sqs", "TagQueue", "{}"),
        answer("events", "TagResource", "{}"),
        answer("kms", "TagResource", "{}"),
        answer("acm", "AddTagsToCertificate", "{}"),
        answer(
            "route53",
            "POST /2013-04-01/tags/hostedzone/Z0TAKEN",
            "<ChangeTagsForResourceResponse/>",
        ),
    ];
    for op in ["TagRole", "TagInstanceProfile", "TagOpenIDConnectProvider"] {
        answers.push(answer("iam", op, ok_xml(op)));
    }
    for arn in EKS_ARNS {
        answers.push(answer("eks", &format!("POST /tags/{arn}"), "{}"));
    }
    answers
}

const EKS_ARNS: [&str; 5] = [
    "arn:aws:eks:us-east-1:123456789012:cluster/c",
    "arn:aws:eks:us-east-1:123456789012:nodegroup/c/ng/1",
    "arn:aws:eks:us-east-1:123456789012:addon/c/vpc-cni/1",
    "arn:aws:eks:us-east-1:123456789012:access-entry/c/role/1",
    "arn:aws:eks:us-east-1:123456789012:podidentityassociation/c/a-1",
];

/// Per tagged kind: its id, the ARN its outputs hold (the kinds tagged by
/// ARN), and the call expected, as `service op`.
fn cases() -> Vec<(&'static str, &'static str, Option<&'static str>, String)> {
    let ec2 = "ec2 CreateTags".to_string();
    let rds = "rds AddTagsToResource".to_string();
    let rds_arn = Some("arn:aws:rds:us-east-1:123456789012:db:taken");
    let eks = |i: usize| (Some(EKS_ARNS[i]), format!("eks POST /tags/{}", EKS_ARNS[i]));
    vec![
        ("Vpc", "vpc-1", None, ec2.clone()),
        ("Subnet", "subnet-1", None, ec2.clone()),
        ("InternetGateway", "igw-1", None, ec2.clone()),
        ("ElasticIp", "eipalloc-1", None, ec2.clone()),
        ("NatGateway", "nat-1", None, ec2.clone()),
        ("RouteTable", "rtb-1", None, ec2.clone()),
        ("SecurityGroup", "sg-1", None, ec2.clone()),
        ("SecurityGroupRule", "sgr-1", None, ec2),
        ("IamRole", "taken-role", None, "iam TagRole".into()),
        (
            "IamInstanceProfile",
            "taken-profile",
            None,
            "iam TagInstanceProfile".into(),
        ),
        (
            "IamOidcProvider",
            "arn:aws:iam::123456789012:oidc-provider/oidc.example/id/1",
            None,
            "iam TagOpenIDConnectProvider".into(),
        ),
        ("EksCluster", "c", eks(0).0, eks(0).1),
        ("EksNodegroup", "c|ng", eks(1).0, eks(1).1),
        ("EksAddon", "c|vpc-cni", eks(2).0, eks(2).1),
        ("EksAccessEntry", "c|role", eks(3).0, eks(3).1),
        ("EksPodIdentityAssociation", "c|a-1", eks(4).0, eks(4).1),
        ("DbInstance", "taken", rds_arn, rds.clone()),
        ("RdsCluster", "taken", rds_arn, rds.clone()),
        ("RdsClusterInstance", "taken", rds_arn, rds.clone()),
        ("DbSubnetGroup", "taken", rds_arn, rds.clone()),
        ("DbParameterGroup", "taken", rds_arn, rds.clone()),
        ("DbClusterParameterGroup", "taken", rds_arn, rds),
        (
            "SqsQueue",
            "https://sqs.us-east-1.amazonaws.com/123456789012/taken",
            None,
            "sqs TagQueue".into(),
        ),
        (
            "EventRule",
            "taken",
            Some("arn:aws:events:us-east-1:123456789012:rule/taken"),
            "events TagResource".into(),
        ),
        ("KmsKey", "key-1", None, "kms TagResource".into()),
        (
            "Route53Zone",
            "/hostedzone/Z0TAKEN",
            None,
            "route53 POST /2013-04-01/tags/hostedzone/Z0TAKEN".into(),
        ),
        (
            "AcmCertificate",
            "arn:aws:acm:us-east-1:123456789012:certificate/1",
            None,
            "acm AddTagsToCertificate".into(),
        ),
    ]
}

#[tokio::test]
async fn every_tagged_kind_takes_the_identity_tags_by_one_call_of_its_service() {
    let registry = Registry::new();
    let cases = cases();
    for kind in registry.all() {
        let name = kind.info().name;
        let tagged = kind.info().tagging != Tagging::None;
        let case = cases.iter().find(|c| c.0 == name);
        assert_eq!(
            case.is_some(),
            tagged,
            "{name}: a case here iff it is tagged"
        );
        let r = recorded(tag_answers());
        let Some((_, id, arn, call)) = case else {
            let got = identity::tag(&r.cx, name, "some-id", &Outputs::new(), ADDRESS).await;
            assert_eq!(got.ok(), Some(false), "{name} takes no tags");
            assert!(r.calls().is_empty(), "{name}: {:?}", r.calls());
            continue;
        };
        let outputs = super::outputs(&arn.map(|a| vec![("arn", a)]).unwrap_or_default());
        let got = identity::tag(&r.cx, name, id, &outputs, ADDRESS).await;
        assert_eq!(got.ok(), Some(true), "{name}: {:?}", r.calls());
        let calls = r.calls();
        assert_eq!(calls.len(), 1, "{name}: one call, got {calls:?}");
        assert!(
            calls[0].starts_with(call.as_str()),
            "{name}: {} is not {call}",
            calls[0]
        );
        let target = arn.unwrap_or(id).trim_start_matches("/hostedzone/");
        assert!(
            calls[0].contains(target),
            "{name}: {} names not {target}",
            calls[0]
        );
        assert!(
            calls[0].contains(ADDRESS),
            "{name}: no address in {}",
            calls[0]
        );
    }
}

#[tokio::test]
async fn a_kind_tagged_by_arn_asks_for_its_arn_when_its_outputs_lack_it() {
    let arn = "arn:aws:rds:us-east-1:123456789012:cluster:taken";
    let described = format!(
        "<DescribeDBClustersResponse><DescribeDBClustersResult><DBClusters><DBCluster>\
         <DBClusterIdentifier>taken</DBClusterIdentifier><DBClusterArn>{arn}</DBClusterArn>\
         </DBCluster></DBClusters></DescribeDBClustersResult></DescribeDBClustersResponse>"
    );
    let mut answers = tag_answers();
    answers.push(answer("rds", "DescribeDBClusters", described));
    let r = recorded(answers);
    let got = identity::tag(&r.cx, "RdsCluster", "taken", &Outputs::new(), ADDRESS).await;
    assert_eq!(got.ok(), Some(true), "{:?}", r.calls());
    assert_eq!(r.count("DescribeDBClusters"), 1);
    let tagged = r
        .calls()
        .into_iter()
        .find(|c| c.contains("AddTagsToResource"));
    assert!(tagged.is_some_and(|c| c.contains(arn)), "{:?}", r.calls());
}

#[test]
fn a_kind_found_by_its_tags_carries_tags() {
    for kind in Registry::new().all() {
        let info = kind.info();
        if matches!(info.natural_key, NaturalKey::Tags) {
            assert_ne!(
                info.tagging,
                Tagging::None,
                "{} is found by tags it cannot carry",
                info.name
            );
        }
    }
}
