//! How every kind's `read` maps what AWS answers into a [`Live`]: the real
//! SDK clients are fed recorded wire responses (EC2, IAM and RDS query XML,
//! Route53 REST XML, EKS REST JSON, and the awsJson bodies of SQS, ACM, KMS
//! and EventBridge), and each test asserts the id, the address, the compared
//! properties (with their normalisation), the outputs, and that resources of
//! another env or project are skipped.
//!
//! A request no recorded answer matches fails the test, naming it.

mod eks;
mod iam;
mod network;
mod other;
mod rds;
mod tagging;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, SharedHttpConnector, http_client_fn,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_types::body::SdkBody;
use serde_json::Value;

use super::{Live, ReadScope, Registry};
use crate::aws::{Clients, Cx, Timeouts};
use crate::model::{Outputs, Owner, StateResource};

/// The env every test reads.
pub const PROJECT: &str = "todo";
pub const ENV: &str = "dev";

pub fn owner() -> Owner<'static> {
    Owner {
        project: PROJECT,
        env: ENV,
    }
}

/// One recorded answer: the service (the endpoint's first label: `ec2`,
/// `iam`, `eks`, `route53`…), the operation (`Action=` of the query
/// protocols, the `X-Amz-Target` operation of the JSON ones, `GET /path` of
/// the REST ones), and, to tell calls of one operation apart, a text the
/// request (its decoded path, query and body) must contain.
pub struct Answer {
    service: &'static str,
    op: String,
    when: Option<String>,
    status: u16,
    body: String,
}

/// `service` answers `op` with `body` (HTTP 200).
pub fn answer(service: &'static str, op: &str, body: impl Into<String>) -> Answer {
    Answer {
        service,
        op: op.to_string(),
        when: None,
        status: 200,
        body: body.into(),
    }
}

impl Answer {
    /// Only for requests containing `text` (decoded).
    pub fn when(mut self, text: &str) -> Answer {
        self.when = Some(text.to_string());
        self
    }

    /// An error answer (`body` in the service's error format).
    pub fn status(mut self, status: u16) -> Answer {
        self.status = status;
        self
    }
}

/// The HTTP side of every client: answers from the table, records each call.
#[derive(Clone, Debug)]
struct Canned {
    answers: Arc<Vec<Answer>>,
    calls: Arc<Mutex<Vec<String>>>,
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.service, self.op)
    }
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

impl HttpConnector for Canned {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let uri = request.uri().to_string();
        let rest = uri.split_once("://").map(|(_, r)| r).unwrap_or(&uri);
        let (host, path_query) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let service = host.split('.').next().unwrap_or_default().to_string();
        let body = std::str::from_utf8(request.body().bytes().unwrap_or_default())
            .unwrap_or_default()
            .to_string();
        let path = path_query.split('?').next().unwrap_or_default();
        let op = if let Some(action) = body.split('&').find_map(|p| p.strip_prefix("Action=")) {
            action.to_string()
        } else if let Some(target) = request.headers().get("x-amz-target") {
            target.rsplit('.').next().unwrap_or_default().to_string()
        } else {
            format!("{} {}", request.method(), decode(path))
        };
        let text = format!("{}\n{}", decode(path_query), decode(&body));
        self.calls
            .lock()
            .expect("calls")
            .push(format!("{service} {op} {}", text.replace('\n', " ")));
        let Some(a) = self.answers.iter().find(|a| {
            a.service == service && a.op == op && a.when.as_deref().is_none_or(|w| text.contains(w))
        }) else {
            panic!("no recorded answer for {service} {op}:\n{text}");
        };
        let mut response = HttpResponse::new(
            a.status.try_into().expect("status"),
            SdkBody::from(a.body.clone()),
        );
        let content_type = if a.body.trim_start().starts_with('<') {
            "text/xml"
        } else if service == "sqs" {
            "application/x-amz-json-1.0"
        } else if service == "eks" {
            "application/json"
        } else {
            "application/x-amz-json-1.1"
        };
        response
            .headers_mut()
            .insert("content-type", content_type.to_string());
        response
            .headers_mut()
            .insert("x-amzn-requestid", "recorded".to_string());
        HttpConnectorFuture::ready(Ok(response))
    }
}

/// A context whose clients answer from `answers`, and the calls it saw.
pub struct Recorded {
    pub cx: Cx,
    calls: Arc<Mutex<Vec<String>>>,
}

impl Recorded {
    /// Every call made so far, as `service op decoded-request`.
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().expect("calls").clone()
    }

    /// How many calls named `op`.
    pub fn count(&self, op: &str) -> usize {
        self.calls()
            .iter()
            .filter(|c| c.split(' ').nth(1) == Some(op))
            .count()
    }
}

pub fn recorded(answers: Vec<Answer>) -> Recorded {
    let canned = Canned {
        answers: Arc::new(answers),
        calls: Arc::default(),
    };
    let calls = canned.calls.clone();
    let http = canned.clone();
    let conf = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new("AKIDTEST", "secret", None, None, "test"),
            ),
        )
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .http_client(http_client_fn(move |_, _| {
            SharedHttpConnector::new(http.clone())
        }))
        .build();
    let clients = Clients {
        ec2: aws_sdk_ec2::Client::new(&conf),
        iam: aws_sdk_iam::Client::new(&conf),
        eks: aws_sdk_eks::Client::new(&conf),
        rds: aws_sdk_rds::Client::new(&conf),
        route53: aws_sdk_route53::Client::new(&conf),
        acm: aws_sdk_acm::Client::new(&conf),
        sqs: aws_sdk_sqs::Client::new(&conf),
        events: aws_sdk_eventbridge::Client::new(&conf),
        kms: aws_sdk_kms::Client::new(&conf),
        elbv2: aws_sdk_elasticloadbalancingv2::Client::new(&conf),
        sts: aws_sdk_sts::Client::new(&conf),
    };
    let cx = Cx {
        clients,
        env: ENV.into(),
        project: PROJECT.into(),
        // No retry: a recorded answer is final.
        timeouts: Timeouts {
            retry_budget: Duration::ZERO,
            transport_retries: 0,
            ..Timeouts::default()
        },
        reporter: Arc::new(crate::report::Silent),
        cache: None,
    };
    Recorded { cx, calls }
}

/// A resource state holds, for kinds whose read starts from state.
pub fn known(kind: &str, address: &str, id: &str, props: Value) -> StateResource {
    StateResource {
        address: address.into(),
        kind: kind.into(),
        id: id.into(),
        props: props.as_object().cloned().unwrap_or_default(),
        outputs: Outputs::new(),
        deps: Vec::new(),
        protect: false,
    }
}

/// `kind`'s read of the test env, with `state` as what state knows.
pub async fn read(r: &Recorded, kind: &str, state: &[StateResource]) -> Vec<Live> {
    let registry = Registry::new();
    let k = registry
        .get(kind)
        .unwrap_or_else(|| panic!("no kind {kind}"));
    let scope = ReadScope {
        owner: owner(),
        known: state.iter().collect(),
    };
    k.read(&r.cx, &scope)
        .await
        .unwrap_or_else(|e| panic!("{kind} read failed: {e}\ncalls: {:#?}", r.calls()))
}

pub fn ids(lives: &[Live]) -> Vec<&str> {
    lives.iter().map(|l| l.id.as_str()).collect()
}

pub fn props(live: &Live) -> Value {
    Value::Object(live.props.clone())
}

pub fn outputs(pairs: &[(&str, &str)]) -> Outputs {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The identity tags infra puts on a resource of the test env, plus `Team`.
pub fn our_tags(address: &str) -> Vec<(String, String)> {
    tags(&[
        ("infra:env", ENV),
        ("infra:project", PROJECT),
        ("infra:address", address),
        ("Team", "platform"),
    ])
}

/// The same tags of another env (`qa`) and another project (`other`).
pub fn other_env_tags(address: &str) -> Vec<(String, String)> {
    tags(&[
        ("infra:env", "qa"),
        ("infra:project", PROJECT),
        ("infra:address", address),
    ])
}

pub fn other_project_tags(address: &str) -> Vec<(String, String)> {
    tags(&[
        ("infra:env", ENV),
        ("infra:project", "other"),
        ("infra:address", address),
    ])
}

pub fn tags(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `tags` as XML members: `<wrap><item><key>k</key><value>v</value></item>…</wrap>`.
pub fn xml_tags(
    wrap: &str,
    item: &str,
    key: &str,
    value: &str,
    tags: &[(String, String)],
) -> String {
    let members: String = tags
        .iter()
        .map(|(k, v)| format!("<{item}><{key}>{k}</{key}><{value}>{v}</{value}></{item}>"))
        .collect();
    format!("<{wrap}>{members}</{wrap}>")
}

/// `tags` as a JSON map.
pub fn json_map(tags: &[(String, String)]) -> Value {
    Value::Object(
        tags.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

/// `tags` as a JSON list of `{key_name: k, value_name: v}`.
pub fn json_list(key: &str, value: &str, tags: &[(String, String)]) -> Value {
    Value::Array(
        tags.iter()
            .map(|(k, v)| serde_json::json!({ key: k, value: v }))
            .collect(),
    )
}

/// The kinds each test module reads; checked against the registry so a new
/// kind without a read-mapping test fails here.
const COVERED: &[&str] = &[
    // network.rs
    "Vpc",
    "Subnet",
    "InternetGateway",
    "ElasticIp",
    "NatGateway",
    "RouteTable",
    "Route",
    "RouteTableAssociation",
    "SecurityGroup",
    "SecurityGroupRule",
    // iam.rs
    "IamRole",
    "IamRolePolicyAttachment",
    "IamRolePolicy",
    "IamInstanceProfile",
    "IamOidcProvider",
    // eks.rs
    "EksCluster",
    "EksNodegroup",
    "EksAddon",
    "EksAccessEntry",
    "EksAccessPolicyAssociation",
    "EksPodIdentityAssociation",
    // rds.rs
    "DbSubnetGroup",
    "DbParameterGroup",
    "DbClusterParameterGroup",
    "DbInstance",
    "RdsCluster",
    "RdsClusterInstance",
    // other.rs
    "SqsQueue",
    "SqsQueuePolicy",
    "EventRule",
    "KmsKey",
    "KmsAlias",
    "Route53Zone",
    "Route53Record",
    "AcmCertificate",
    "AcmCertificateValidation",
];

#[test]
fn every_registered_kind_has_a_read_mapping_test() {
    let registry = Registry::new();
    let mut missing: Vec<&str> = registry
        .all()
        .map(|k| k.name())
        .filter(|n| !COVERED.contains(n))
        .collect();
    missing.sort();
    assert!(missing.is_empty(), "no read-mapping test for {missing:?}");
    for name in COVERED {
        assert!(registry.get(name).is_some(), "{name} is not registered");
    }
}
