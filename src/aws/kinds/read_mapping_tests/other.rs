//! The JSON services listed then tagged one by one (SQS awsJson 1.0,
//! EventBridge, KMS and ACM awsJson 1.1), and Route53 (REST XML).

use serde_json::{Value, json};

use super::*;

/// An awsJson answer to `op` (the `X-Amz-Target` operation).
fn json_answer(service: &'static str, op: &str, body: Value) -> Answer {
    answer(service, op, body.to_string())
}

/// An awsJson error answer.
fn json_error(service: &'static str, op: &str, code: &str) -> Answer {
    json_answer(
        service,
        op,
        json!({ "__type": code, "message": "recorded error" }),
    )
    .status(400)
}

/// `"key":"value"` as a JSON request body has it.
fn field(key: &str, value: &str) -> String {
    format!(r#""{key}":"{value}""#)
}

const QUEUES: &str = "https://sqs.us-east-1.amazonaws.com/123456789012";

fn queue_policy() -> Value {
    json!({
        "Version": "2012-10-17",
        "Id": "EC2InterruptionPolicy",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": ["events.amazonaws.com", "sqs.amazonaws.com"] },
            "Action": "sqs:SendMessage",
            "Resource": "arn:aws:sqs:us-east-1:123456789012:todo-dev-karpenter",
        }],
    })
}

/// The account's queues: the env's Karpenter queue (with a policy), its
/// dead-letter queue (none), another env's and another project's queue, a
/// queue without tags, and a queue deleted between the list and its tags.
fn queues() -> Vec<Answer> {
    let url = |name: &str| format!("{QUEUES}/{name}");
    let tags_of = |name: &str, tags: &[(String, String)]| {
        json_answer("sqs", "ListQueueTags", json!({ "Tags": json_map(tags) }))
            .when(&field("QueueUrl", &url(name)))
    };
    vec![
        json_answer(
            "sqs",
            "ListQueues",
            json!({ "QueueUrls": [
                url("todo-dev-karpenter"),
                url("todo-dev-karpenter-dlq"),
                url("todo-qa-karpenter"),
                url("other-dev-karpenter"),
                url("hand-made"),
                url("just-deleted"),
            ] }),
        ),
        tags_of("todo-dev-karpenter", &our_tags("sqs_queue.karpenter")),
        tags_of("todo-dev-karpenter-dlq", &our_tags("sqs_queue.dlq")),
        tags_of("todo-qa-karpenter", &other_env_tags("sqs_queue.karpenter")),
        tags_of(
            "other-dev-karpenter",
            &other_project_tags("sqs_queue.karpenter"),
        ),
        json_answer("sqs", "ListQueueTags", json!({})).when(&field("QueueUrl", &url("hand-made"))),
        json_error(
            "sqs",
            "ListQueueTags",
            "AWS.SimpleQueueService.NonExistentQueue",
        )
        .when(&field("QueueUrl", &url("just-deleted"))),
        json_answer(
            "sqs",
            "GetQueueAttributes",
            json!({ "Attributes": {
                "QueueArn": "arn:aws:sqs:us-east-1:123456789012:todo-dev-karpenter",
                "SqsManagedSseEnabled": "true",
                "MessageRetentionPeriod": "300",
                "VisibilityTimeout": "30",
                "Policy": queue_policy().to_string(),
            } }),
        )
        .when(&field("QueueUrl", &url("todo-dev-karpenter"))),
        json_answer(
            "sqs",
            "GetQueueAttributes",
            json!({ "Attributes": {
                "QueueArn": "arn:aws:sqs:us-east-1:123456789012:todo-dev-karpenter-dlq",
                "SqsManagedSseEnabled": "false",
                "MessageRetentionPeriod": "1209600",
            } }),
        )
        .when(&field("QueueUrl", &url("todo-dev-karpenter-dlq"))),
    ]
}

#[tokio::test]
async fn reads_sqs_queue_with_its_attributes() {
    let r = recorded(queues());
    let lives = read(&r, "SqsQueue", &[]).await;
    let karpenter = format!("{QUEUES}/todo-dev-karpenter");
    let dlq = format!("{QUEUES}/todo-dev-karpenter-dlq");
    assert_eq!(ids(&lives), [karpenter.as_str(), dlq.as_str()]);
    let live = &lives[0];
    assert_eq!(live.address.as_deref(), Some("sqs_queue.karpenter"));
    assert_eq!(
        props(live),
        json!({
            "name": "todo-dev-karpenter",
            "sse": true,
            "message_retention_seconds": 300,
            "tags": { "infra:project": "todo", "Team": "platform" },
        })
    );
    assert_eq!(
        live.outputs,
        outputs(&[
            ("id", karpenter.as_str()),
            ("url", karpenter.as_str()),
            (
                "arn",
                "arn:aws:sqs:us-east-1:123456789012:todo-dev-karpenter"
            ),
            ("name", "todo-dev-karpenter"),
            ("account", "123456789012"),
        ])
    );
    assert_eq!(lives[1].address.as_deref(), Some("sqs_queue.dlq"));
    assert_eq!(props(&lives[1])["sse"], json!(false));
    assert_eq!(
        props(&lives[1])["message_retention_seconds"],
        json!(1209600)
    );
    // Attributes only for the env's queues.
    assert_eq!(r.count("GetQueueAttributes"), 2);
}

#[tokio::test]
async fn reads_sqs_queue_policy_parsed_for_queues_that_have_one() {
    let r = recorded(queues());
    let lives = read(&r, "SqsQueuePolicy", &[]).await;
    let karpenter = format!("{QUEUES}/todo-dev-karpenter");
    assert_eq!(ids(&lives), [karpenter.as_str()]);
    assert_eq!(lives[0].address, None);
    assert_eq!(
        props(&lives[0]),
        json!({ "queue_url": karpenter, "policy": queue_policy() })
    );
    assert_eq!(lives[0].outputs, outputs(&[("id", karpenter.as_str())]));
}

#[tokio::test]
async fn reads_event_rule_from_every_page_with_its_target() {
    const ARN: &str = "arn:aws:events:us-east-1:123456789012:rule";
    let pattern =
        json!({ "source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"] });
    let rule = |name: &str, description: Option<&str>| {
        // Disabled by hand: read as it is, so the plan shows it as drift.
        let state = if name == "todo-dev-rebalance" {
            "DISABLED"
        } else {
            "ENABLED"
        };
        let mut r = json!({
            "Name": name,
            "Arn": format!("{ARN}/{name}"),
            "EventPattern": pattern.to_string(),
            "State": state,
            "EventBusName": "default",
        });
        if let Some(d) = description {
            r["Description"] = json!(d);
        }
        r
    };
    let tags_of = |name: &str, tags: &[(String, String)]| {
        json_answer(
            "events",
            "ListTagsForResource",
            json!({ "Tags": json_list("Key", "Value", tags) }),
        )
        .when(&field("ResourceARN", &format!("{ARN}/{name}")))
    };
    let r = recorded(vec![
        json_answer(
            "events",
            "ListRules",
            json!({ "Rules": [rule("todo-dev-rebalance", None), rule("todo-qa-spot", None)] }),
        )
        .when(&field("NextToken", "page-2")),
        json_answer(
            "events",
            "ListRules",
            json!({ "Rules": [rule("todo-dev-spot", Some("Spot interruptions")), rule("other-dev-spot", None)], "NextToken": "page-2" }),
        ),
        tags_of("todo-dev-spot", &our_tags("event_rule.spot")),
        tags_of("todo-dev-rebalance", &our_tags("event_rule.rebalance")),
        tags_of("todo-qa-spot", &other_env_tags("event_rule.spot")),
        tags_of("other-dev-spot", &other_project_tags("event_rule.spot")),
        json_answer(
            "events",
            "ListTargetsByRule",
            json!({ "Targets": [
                { "Id": "by-hand", "Arn": "arn:aws:sqs:us-east-1:123456789012:elsewhere" },
                { "Id": "karpenter", "Arn": "arn:aws:sqs:us-east-1:123456789012:todo-dev-karpenter" },
            ] }),
        )
        .when(&field("Rule", "todo-dev-spot")),
        json_answer("events", "ListTargetsByRule", json!({ "Targets": [] }))
            .when(&field("Rule", "todo-dev-rebalance")),
    ]);
    // State knows the spot rule's target: the other one was added by hand.
    let spot = known(
        "EventRule",
        "event_rule.spot",
        "todo-dev-spot",
        json!({ "target_id": "karpenter" }),
    );
    let lives = read(&r, "EventRule", &[spot]).await;
    assert_eq!(ids(&lives), ["todo-dev-spot", "todo-dev-rebalance"]);
    let live = &lives[0];
    assert_eq!(live.address.as_deref(), Some("event_rule.spot"));
    assert_eq!(
        props(live),
        json!({
            "name": "todo-dev-spot",
            "event_pattern": pattern,
            "target_id": "karpenter",
            "target_arn": "arn:aws:sqs:us-east-1:123456789012:todo-dev-karpenter",
            "other_targets": ["by-hand"],
            "state": "ENABLED",
            "description": "Spot interruptions",
            "tags": { "infra:project": "todo", "Team": "platform" },
        })
    );
    assert_eq!(
        live.outputs,
        outputs(&[
            ("id", "todo-dev-spot"),
            ("arn", &format!("{ARN}/todo-dev-spot"))
        ])
    );
    // No target yet (a create cut short before PutTargets), no description.
    assert_eq!(
        props(&lives[1]),
        json!({
            "name": "todo-dev-rebalance",
            "event_pattern": pattern,
            "target_id": "",
            "target_arn": "",
            "other_targets": [],
            "state": "DISABLED",
            "tags": { "infra:project": "todo", "Team": "platform" },
        })
    );
}

#[tokio::test]
async fn reads_kms_key_with_rotation_and_the_granted_services() {
    const KEYS: &str = "arn:aws:kms:us-east-1:123456789012:key";
    let key_field = |id: &str| field("KeyId", id);
    let entry = |id: &str| json!({ "KeyId": id, "KeyArn": format!("{KEYS}/{id}") });
    let metadata = |id: &str, state: &str| {
        json_answer(
            "kms",
            "DescribeKey",
            json!({ "KeyMetadata": {
                "AWSAccountId": "123456789012",
                "KeyId": id,
                "Arn": format!("{KEYS}/{id}"),
                "CreationDate": 1714557600.0,
                "Enabled": state == "Enabled",
                "Description": "todo dev EKS secrets",
                "KeyUsage": "ENCRYPT_DECRYPT",
                "KeyState": state,
                "Origin": "AWS_KMS",
                "KeyManager": "CUSTOMER",
                "KeySpec": "SYMMETRIC_DEFAULT",
            } }),
        )
        .when(&key_field(id))
    };
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [
            { "Sid": "AccountAdministers", "Effect": "Allow", "Principal": { "AWS": "arn:aws:iam::123456789012:root" }, "Action": "kms:*", "Resource": "*" },
            { "Sid": "ServicesEncrypt", "Effect": "Allow",
              "Principal": { "Service": ["logs.us-east-1.amazonaws.com", "eks.amazonaws.com"] },
              "Action": ["kms:Encrypt*", "kms:Decrypt*"], "Resource": "*" },
        ],
    });
    let tags_of = |id: &str, tags: &[(String, String)]| {
        json_answer(
            "kms",
            "ListResourceTags",
            json!({ "Tags": json_list("TagKey", "TagValue", tags), "Truncated": false }),
        )
        .when(&key_field(id))
    };
    let r = recorded(vec![
        json_answer(
            "kms",
            "ListKeys",
            json!({ "Keys": [entry("k-eks"), entry("k-old"), entry("k-qa"), entry("k-other"), entry("k-aws")], "Truncated": false }),
        ),
        tags_of("k-eks", &our_tags("kms_key.eks")),
        tags_of("k-old", &our_tags("kms_key.old")),
        tags_of("k-qa", &other_env_tags("kms_key.eks")),
        tags_of("k-other", &other_project_tags("kms_key.eks")),
        // AWS managed keys refuse tag reads.
        json_error("kms", "ListResourceTags", "AccessDeniedException").when(&key_field("k-aws")),
        metadata("k-eks", "Enabled"),
        metadata("k-old", "PendingDeletion"),
        json_answer(
            "kms",
            "GetKeyRotationStatus",
            json!({ "KeyRotationEnabled": true, "KeyId": "k-eks", "RotationPeriodInDays": 365 }),
        )
        .when(&key_field("k-eks")),
        json_answer(
            "kms",
            "GetKeyPolicy",
            json!({ "Policy": policy.to_string(), "PolicyName": "default" }),
        )
        .when(&key_field("k-eks")),
    ]);
    let lives = read(&r, "KmsKey", &[]).await;
    assert_eq!(ids(&lives), ["k-eks"]);
    let live = &lives[0];
    assert_eq!(live.address.as_deref(), Some("kms_key.eks"));
    assert_eq!(
        props(live),
        json!({
            "description": "todo dev EKS secrets",
            "enable_rotation": true,
            "grant_services": ["eks.amazonaws.com", "logs.us-east-1.amazonaws.com"],
            "tags": { "infra:project": "todo", "Team": "platform" },
        })
    );
    assert_eq!(
        live.outputs,
        outputs(&[("id", "k-eks"), ("arn", &format!("{KEYS}/k-eks"))])
    );
    // The key pending deletion was described, nothing more.
    assert_eq!(r.count("DescribeKey"), 2);
    assert_eq!(r.count("GetKeyPolicy"), 1);
}

#[tokio::test]
async fn reads_kms_alias_with_a_target_key() {
    const ALIASES: &str = "arn:aws:kms:us-east-1:123456789012:alias";
    let r = recorded(vec![
        json_answer(
            "kms",
            "ListAliases",
            json!({ "Aliases": [
                { "AliasName": "alias/aws/rds", "AliasArn": format!("{ALIASES}/aws/rds") },
                { "AliasName": "alias/todo-dev-eks", "AliasArn": format!("{ALIASES}/todo-dev-eks"), "TargetKeyId": "k-eks" },
                { "AliasName": "alias/aws/ebs", "AliasArn": format!("{ALIASES}/aws/ebs"), "TargetKeyId": "k-aws" },
            ], "Truncated": false }),
        )
        .when(r#""Limit":100"#),
    ]);
    let lives = read(&r, "KmsAlias", &[]).await;
    // Untagged, known by name: every alias with a key, AWS's included; the
    // one AWS has not made a key for yet is left out.
    assert_eq!(ids(&lives), ["alias/todo-dev-eks", "alias/aws/ebs"]);
    assert_eq!(lives[0].address, None);
    assert_eq!(
        props(&lives[0]),
        json!({ "name": "alias/todo-dev-eks", "target_key_id": "k-eks" })
    );
    assert_eq!(lives[0].outputs, outputs(&[("id", "alias/todo-dev-eks")]));
}

/// A Route53 response.
fn r53(op: &str, inner: &str) -> String {
    format!(
        r#"<?xml version="1.0"?>
<{op}Response xmlns="https://route53.amazonaws.com/doc/2013-04-01/">{inner}</{op}Response>"#
    )
}

const API: &str = "/2013-04-01";

#[tokio::test]
async fn reads_route53_zone_tagged_or_named_by_its_caller_reference() {
    let zone = |id: &str, name: &str, reference: &str, private: bool| {
        format!(
            "<HostedZone><Id>/hostedzone/{id}</Id><Name>{name}</Name><CallerReference>{reference}</CallerReference>\
             <Config><Comment>todo dev</Comment><PrivateZone>{private}</PrivateZone></Config>\
             <ResourceRecordSetCount>4</ResourceRecordSetCount></HostedZone>"
        )
    };
    let zones = [
        zone("Z0OURS", "dev.todo.example.com.", "console-1", false),
        // Created, then killed before its tags were set.
        zone(
            "Z0NEW",
            "api.todo.example.com.",
            "infra/todo/dev/route53_zone.api/0b9f",
            false,
        ),
        zone("Z0QA", "qa.todo.example.com.", "x", false),
        zone("Z0OTHER", "dev.other.example.com.", "y", false),
        // Untagged, and its reference names another project.
        zone(
            "Z0THEIRS",
            "x.other.example.com.",
            "infra/other/dev/route53_zone.api/1c2d",
            false,
        ),
        zone("Z0PRIV", "internal.todo.example.com.", "z", true),
    ]
    .concat();
    let tag_set = |id: &str, tags: &[(String, String)]| {
        format!(
            "<ResourceTagSet><ResourceType>hostedzone</ResourceType><ResourceId>{id}</ResourceId>{}</ResourceTagSet>",
            xml_tags("Tags", "Tag", "Key", "Value", tags)
        )
    };
    let sets = [
        tag_set("Z0OURS", &our_tags("route53_zone.main")),
        tag_set("Z0NEW", &[]),
        tag_set("Z0QA", &other_env_tags("route53_zone.main")),
        tag_set("Z0OTHER", &other_project_tags("route53_zone.main")),
        tag_set("Z0THEIRS", &[]),
    ]
    .concat();
    let r = recorded(vec![
        answer(
            "route53",
            &format!("GET {API}/hostedzone"),
            r53(
                "ListHostedZones",
                &format!(
                    "<HostedZones>{zones}</HostedZones><IsTruncated>false</IsTruncated><MaxItems>100</MaxItems>"
                ),
            ),
        ),
        answer(
            "route53",
            &format!("POST {API}/tags/hostedzone"),
            r53(
                "ListTagsForResources",
                &format!("<ResourceTagSets>{sets}</ResourceTagSets>"),
            ),
        ),
        answer(
            "route53",
            &format!("GET {API}/hostedzone/Z0NEW"),
            r53(
                "GetHostedZone",
                &format!(
                    "{}<DelegationSet><NameServers><NameServer>ns-1.awsdns-01.org</NameServer>\
                     <NameServer>ns-2.awsdns-02.com</NameServer></NameServers></DelegationSet>",
                    zone(
                        "Z0NEW",
                        "api.todo.example.com.",
                        "infra/todo/dev/route53_zone.api/0b9f",
                        false
                    )
                ),
            ),
        ),
    ]);
    // State knows the main zone's name servers: not read again.
    let mut main = known(
        "Route53Zone",
        "route53_zone.main",
        "Z0OURS",
        json!({ "name": "dev.todo.example.com" }),
    );
    main.outputs
        .insert("name_servers".into(), "ns-9.awsdns-09.net".into());
    let lives = read(&r, "Route53Zone", &[main]).await;
    assert_eq!(ids(&lives), ["Z0OURS", "Z0NEW"]);
    let ours = &lives[0];
    assert_eq!(ours.address.as_deref(), Some("route53_zone.main"));
    assert_eq!(
        props(ours),
        json!({
            "name": "dev.todo.example.com",
            "comment": "todo dev",
            "tags": { "infra:project": "todo", "Team": "platform" },
        })
    );
    assert_eq!(
        ours.outputs,
        outputs(&[
            ("id", "Z0OURS"),
            ("name", "dev.todo.example.com"),
            ("name_servers", "ns-9.awsdns-09.net"),
        ])
    );
    let new = &lives[1];
    assert_eq!(new.address.as_deref(), Some("route53_zone.api"));
    assert_eq!(
        props(new),
        json!({
            "name": "api.todo.example.com",
            "comment": "todo dev",
            "tags": { "infra:project": "todo" },
        })
    );
    assert_eq!(
        new.outputs["name_servers"],
        "ns-1.awsdns-01.org,ns-2.awsdns-02.com"
    );
    // The private zone's tags were never asked for.
    let tag_calls: Vec<String> = r
        .calls()
        .into_iter()
        .filter(|c| c.contains("/tags/hostedzone"))
        .collect();
    assert_eq!(tag_calls.len(), 1);
    assert!(tag_calls[0].contains("Z0OURS") && !tag_calls[0].contains("Z0PRIV"));
}

#[tokio::test]
async fn reads_route53_record_known_to_state_from_every_page() {
    let set = |name: &str, kind: &str, ttl: u32, values: &[&str]| {
        let records: String = values
            .iter()
            .map(|v| format!("<ResourceRecord><Value>{v}</Value></ResourceRecord>"))
            .collect();
        format!(
            "<ResourceRecordSet><Name>{name}</Name><Type>{kind}</Type><TTL>{ttl}</TTL>\
             <ResourceRecords>{records}</ResourceRecords></ResourceRecordSet>"
        )
    };
    let page1 = [
        set(
            "dev.todo.example.com.",
            "NS",
            172800,
            &["ns-9.awsdns-09.net."],
        ),
        set(
            "api.dev.todo.example.com.",
            "A",
            60,
            &["203.0.113.20", "203.0.113.10"],
        ),
    ]
    .concat();
    let page2 = [
        set(
            "txt.dev.todo.example.com.",
            "TXT",
            300,
            &["\"v=spf1 -all\""],
        ),
        set("hand.dev.todo.example.com.", "A", 300, &["198.51.100.1"]),
    ]
    .concat();
    let list = format!("GET {API}/hostedzone/Z0OURS/rrset");
    let r = recorded(vec![
        answer(
            "route53",
            &list,
            r53(
                "ListResourceRecordSets",
                &format!(
                    "<ResourceRecordSets>{page2}</ResourceRecordSets><IsTruncated>false</IsTruncated><MaxItems>300</MaxItems>"
                ),
            ),
        )
        .when("name=txt.dev.todo.example.com.&type=TXT"),
        answer(
            "route53",
            &list,
            r53(
                "ListResourceRecordSets",
                &format!(
                    "<ResourceRecordSets>{page1}</ResourceRecordSets><IsTruncated>true</IsTruncated>\
                     <NextRecordName>txt.dev.todo.example.com.</NextRecordName><NextRecordType>TXT</NextRecordType><MaxItems>300</MaxItems>"
                ),
            ),
        ),
    ]);
    let record = |address: &str, id: &str| {
        known("Route53Record", address, id, json!({ "zone_id": "Z0OURS" }))
    };
    let state = [
        record("route53_record.api", "Z0OURS|api.dev.todo.example.com.|A"),
        record("route53_record.spf", "Z0OURS|txt.dev.todo.example.com.|TXT"),
    ];
    let lives = read(&r, "Route53Record", &state).await;
    assert_eq!(
        ids(&lives),
        [
            "Z0OURS|api.dev.todo.example.com.|A",
            "Z0OURS|txt.dev.todo.example.com.|TXT"
        ]
    );
    let api = &lives[0];
    assert_eq!(api.address, None);
    assert_eq!(
        props(api),
        json!({
            "zone_id": "Z0OURS",
            "name": "api.dev.todo.example.com.",
            "type": "A",
            "ttl": 60,
            "records": ["203.0.113.10", "203.0.113.20"],
        })
    );
    assert_eq!(
        api.outputs,
        outputs(&[
            ("id", "Z0OURS|api.dev.todo.example.com.|A"),
            ("fqdn", "api.dev.todo.example.com."),
        ])
    );
    assert_eq!(props(&lives[1])["records"], json!(["\"v=spf1 -all\""]));
}

const CERTS: &str = "arn:aws:acm:us-east-1:123456789012:certificate";

fn certificate(id: &str, status: &str) -> Answer {
    json_answer(
        "acm",
        "DescribeCertificate",
        json!({ "Certificate": {
            "CertificateArn": format!("{CERTS}/{id}"),
            "DomainName": "dev.todo.example.com",
            "SubjectAlternativeNames": ["dev.todo.example.com", "www.dev.todo.example.com", "*.dev.todo.example.com"],
            "DomainValidationOptions": [{
                "DomainName": "dev.todo.example.com",
                "ValidationDomain": "dev.todo.example.com",
                "ValidationStatus": "SUCCESS",
                "ResourceRecord": { "Name": "_3f.dev.todo.example.com.", "Type": "CNAME", "Value": "_9a.xlfgrmvvlj.acm-validations.aws." },
                "ValidationMethod": "DNS",
            }],
            "Status": status,
            "Type": "AMAZON_ISSUED",
            "KeyAlgorithm": "RSA-2048",
        } }),
    )
    .when(&field("CertificateArn", &format!("{CERTS}/{id}")))
}

#[tokio::test]
async fn reads_acm_certificate_with_its_validation_record() {
    let summary = |id: &str| json!({ "CertificateArn": format!("{CERTS}/{id}"), "DomainName": "dev.todo.example.com" });
    let tags_of = |id: &str, tags: &[(String, String)]| {
        json_answer(
            "acm",
            "ListTagsForCertificate",
            json!({ "Tags": json_list("Key", "Value", tags) }),
        )
        .when(&field("CertificateArn", &format!("{CERTS}/{id}")))
    };
    let r = recorded(vec![
        json_answer(
            "acm",
            "ListCertificates",
            json!({ "CertificateSummaryList": [summary("c-ours"), summary("c-qa"), summary("c-other"), summary("c-hand")] }),
        )
        // Every status: the default list leaves some out.
        .when("VALIDATION_TIMED_OUT"),
        tags_of("c-ours", &our_tags("acm_certificate.main")),
        tags_of("c-qa", &other_env_tags("acm_certificate.main")),
        tags_of("c-other", &other_project_tags("acm_certificate.main")),
        tags_of("c-hand", &[]),
        certificate("c-ours", "ISSUED"),
    ]);
    let lives = read(&r, "AcmCertificate", &[]).await;
    let arn = format!("{CERTS}/c-ours");
    assert_eq!(ids(&lives), [arn.as_str()]);
    let live = &lives[0];
    assert_eq!(live.address.as_deref(), Some("acm_certificate.main"));
    assert_eq!(
        props(live),
        json!({
            "domain_name": "dev.todo.example.com",
            "subject_alternative_names": ["*.dev.todo.example.com", "www.dev.todo.example.com"],
            "validation_method": "DNS",
            "tags": { "infra:project": "todo", "Team": "platform" },
        })
    );
    assert_eq!(
        live.outputs,
        outputs(&[
            ("id", arn.as_str()),
            ("arn", arn.as_str()),
            ("status", "ISSUED"),
            ("validation_name", "_3f.dev.todo.example.com."),
            ("validation_type", "CNAME"),
            ("validation_value", "_9a.xlfgrmvvlj.acm-validations.aws."),
        ])
    );
    assert_eq!(r.count("DescribeCertificate"), 1);
}

#[tokio::test]
async fn reads_acm_certificate_validation_of_issued_certificates_only() {
    let r = recorded(vec![
        certificate("c-ours", "ISSUED"),
        certificate("c-pending", "PENDING_VALIDATION"),
        json_error("acm", "DescribeCertificate", "ResourceNotFoundException")
            .when(&field("CertificateArn", &format!("{CERTS}/c-gone"))),
    ]);
    let record = json!({ "name": "_3f.dev.todo.example.com.", "type": "CNAME" });
    let validation = |id: &str| {
        known(
            "AcmCertificateValidation",
            &format!("acm_certificate_validation.{id}"),
            &format!("{CERTS}/{id}"),
            json!({ "certificate_arn": format!("{CERTS}/{id}"), "validation_record": record }),
        )
    };
    let state = [
        validation("c-ours"),
        validation("c-pending"),
        validation("c-gone"),
    ];
    let lives = read(&r, "AcmCertificateValidation", &state).await;
    let arn = format!("{CERTS}/c-ours");
    assert_eq!(ids(&lives), [arn.as_str()]);
    assert_eq!(lives[0].address, None);
    assert_eq!(
        props(&lives[0]),
        json!({ "certificate_arn": arn, "validation_record": record })
    );
    assert_eq!(
        lives[0].outputs,
        outputs(&[("id", arn.as_str()), ("certificate_arn", arn.as_str())])
    );
}
