//! Resource kinds: one file per kind, each behind the [`Kind`] trait, and the
//! registry that lists them.

mod acm_certificate;
mod acm_certificate_validation;
mod db_cluster_parameter_group;
mod db_instance;
mod db_parameter_group;
mod db_subnet_group;
mod ec2_tags;
pub mod eks_access_entry;
pub mod eks_access_policy;
mod eks_addon;
mod eks_cluster;
mod eks_common;
mod eks_nodegroup;
mod eks_pod_identity_association;
mod elastic_ip;
mod event_rule;
mod iam_details;
mod iam_instance_profile;
mod iam_oidc_provider;
mod iam_role;
mod iam_role_policy;
mod iam_role_policy_attachment;
mod internet_gateway;
mod kms_alias;
mod kms_key;
mod nat_gateway;
mod rds_cluster;
mod rds_cluster_instance;
mod rds_common;
#[cfg(test)]
mod read_mapping_tests;
mod route;
pub mod route53_record;
mod route53_zone;
mod route_table;
mod route_table_association;
pub mod security_group;
mod security_group_rule;
mod sqs_queue;
mod sqs_queue_policy;
mod subnet;
pub(crate) mod tagged;
mod vpc;

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::{AwsError, Cx};
use crate::graph::KindCatalog;
use crate::model::StateResource;
use crate::model::{Outputs, Props};

/// A resource as the cloud has it: its id, the properties infra compares (in
/// the same shape as the desired ones) and its outputs.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Live {
    pub id: String,
    /// The `infra:address` tag, for kinds that carry tags.
    pub address: Option<String>,
    pub props: Props,
    pub outputs: Outputs,
}

impl Live {
    /// The same resource with the properties an update left it with.
    pub fn with_props(&self, props: Props) -> Live {
        Live {
            props,
            ..self.clone()
        }
    }
}

/// What a create or update is asked to make, references already resolved.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    pub address: &'a str,
    pub props: &'a Props,
    /// The idempotency token recorded in the journal for this action.
    pub token: &'a str,
}

/// How a create sent again after its answer was lost (a 5xx, a dropped
/// connection) is kept from making a second resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resend {
    /// The API takes an idempotency token (the journal's token for the
    /// action): the resend answers the resource the first call made.
    Token,
    /// The name is unique (or the call is an upsert): a resend fails with
    /// `AlreadyExists` or changes nothing.
    Unique,
    /// Neither: the first call's resource is looked up, with backoff for up
    /// to `Timeouts::lost_create_lookup`, before the call is sent again
    /// (EC2 and KMS list a new resource only after a while).
    LookUp,
}

/// What a batched read is about: the env, and the resources of this kind in
/// state (kinds without tags use them to find their parents).
pub struct ReadScope<'a> {
    pub owner: crate::model::Owner<'a>,
    pub known: Vec<&'a StateResource>,
}

#[async_trait]
pub trait Kind: Send + Sync {
    /// The kind as AWS names it (`Subnet`).
    fn name(&self) -> &'static str;
    /// The outputs other resources may refer to; `id` always.
    fn outputs(&self) -> &'static [&'static str];
    /// Properties whose change needs a new resource.
    fn replace_fields(&self) -> &'static [&'static str];
    /// Replace fields a create sets with a later call (an internet gateway's
    /// VPC, set by attaching it). Still empty on the live resource, they mean
    /// the create was cut short between its calls: `update` sets them in
    /// place and nothing is replaced.
    fn set_after_create(&self) -> &'static [&'static str] {
        &[]
    }
    /// For kinds without tags: the key that identifies a resource among those
    /// read (a route: table + destination). `None` for tagged kinds, which are
    /// found by their `infra:address` tag.
    fn natural_key(&self, props: &Props) -> Option<String>;
    /// How a create is sent again safely after a lost answer; see [`Resend`].
    fn resend(&self) -> Resend {
        Resend::LookUp
    }
    async fn create(&self, cx: &Cx, target: &Target<'_>) -> Result<Live, AwsError>;
    /// Every resource of this kind in the env, in as few calls as the API allows.
    async fn read(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError>;
    /// Finds one resource the plan declares and state does not know, from its
    /// resolved properties: for kinds whose batched read covers only what
    /// state knows (one call per resource), or that cannot see a resource an
    /// interrupted create left incomplete (an instance profile before its
    /// role is added). Recovery calls it with the properties the interrupted
    /// create was sent with. `None` when it is not there; the default says
    /// the batched read already saw everything.
    async fn lookup(&self, _cx: &Cx, _resolved: &Props) -> Result<Option<Live>, AwsError> {
        Ok(None)
    }
    /// Resources of this kind on infra's own resources that carry none of
    /// infra's tags, which `read` (filtered by the env tag) never sees: a
    /// rule added by hand to one of its security groups. Empty for most kinds.
    async fn read_untagged(&self, _cx: &Cx, _scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        Ok(Vec::new())
    }
    /// A create whose answer was lost, then found and adopted: finishes what
    /// `create` does after its call (a new group's default egress goes).
    async fn adopted(&self, _cx: &Cx, _live: &Live) -> Result<(), AwsError> {
        Ok(())
    }
    /// Changes `changed` fields in place; never called for replace fields.
    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        target: &Target<'_>,
        changed: &[String],
    ) -> Result<Live, AwsError>;
    /// Deletes and waits until the cloud confirms; a missing resource is success.
    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError>;
}

/// Whether `live` is what a create of `address` with `props` made: the same
/// natural key, or (a tagged kind) its address and this project, which a
/// create always tags.
pub fn made_for(kind: &dyn Kind, project: &str, address: &str, props: &Props, live: &Live) -> bool {
    match kind.natural_key(props) {
        Some(k) => kind.natural_key(&live.props).as_ref() == Some(&k),
        None => {
            live.address.as_deref() == Some(address)
                && crate::model::project_of(&live.props) == Some(project)
        }
    }
}

/// Every kind infra knows, by name.
pub struct Registry {
    kinds: BTreeMap<&'static str, Box<dyn Kind>>,
}

impl Registry {
    pub fn new() -> Self {
        let all: Vec<Box<dyn Kind>> = vec![
            Box::new(vpc::Vpc),
            Box::new(subnet::Subnet),
            Box::new(internet_gateway::InternetGateway),
            Box::new(elastic_ip::ElasticIp),
            Box::new(nat_gateway::NatGateway),
            Box::new(route_table::RouteTable),
            Box::new(route::Route),
            Box::new(route_table_association::RouteTableAssociation),
            Box::new(security_group::SecurityGroup),
            Box::new(security_group_rule::SecurityGroupRule),
            Box::new(iam_role::IamRole),
            Box::new(iam_role_policy_attachment::IamRolePolicyAttachment),
            Box::new(iam_role_policy::IamRolePolicy),
            Box::new(iam_instance_profile::IamInstanceProfile),
            Box::new(iam_oidc_provider::IamOidcProvider),
            Box::new(eks_cluster::EksCluster),
            Box::new(eks_nodegroup::EksNodegroup),
            Box::new(eks_addon::EksAddon),
            Box::new(sqs_queue::SqsQueue),
            Box::new(sqs_queue_policy::SqsQueuePolicy),
            Box::new(event_rule::EventRule),
            Box::new(kms_key::KmsKey),
            Box::new(kms_alias::KmsAlias),
            Box::new(db_subnet_group::DbSubnetGroup),
            Box::new(db_parameter_group::DbParameterGroup),
            Box::new(db_instance::DbInstance),
            Box::new(db_cluster_parameter_group::DbClusterParameterGroup),
            Box::new(rds_cluster::RdsCluster),
            Box::new(rds_cluster_instance::RdsClusterInstance),
            Box::new(eks_access_entry::EksAccessEntry),
            Box::new(eks_access_policy::EksAccessPolicyAssociation),
            Box::new(eks_pod_identity_association::EksPodIdentityAssociation),
            Box::new(route53_zone::Route53Zone),
            Box::new(route53_record::Route53Record),
            Box::new(acm_certificate::AcmCertificate),
            Box::new(acm_certificate_validation::AcmCertificateValidation),
        ];
        Registry {
            kinds: all.into_iter().map(|k| (k.name(), k)).collect(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&dyn Kind> {
        self.kinds.get(name).map(|k| k.as_ref())
    }

    pub fn all(&self) -> impl Iterator<Item = &dyn Kind> {
        self.kinds.values().map(|k| k.as_ref())
    }
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl KindCatalog for Registry {
    fn outputs(&self, kind: &str) -> Option<&'static [&'static str]> {
        self.get(kind).map(|k| k.outputs())
    }

    fn names(&self) -> Vec<&'static str> {
        self.kinds.keys().copied().collect()
    }
}

/// Reads a string property a kind requires.
pub(crate) fn str_prop<'a>(props: &'a Props, key: &str) -> Result<&'a str, AwsError> {
    props
        .get(key)
        .and_then(|v| v.as_str())
        .ok_or_else(|| AwsError::local("validate", format!("missing string property `{key}`")))
}

pub(crate) fn opt_str<'a>(props: &'a Props, key: &str) -> Option<&'a str> {
    props
        .get(key)
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
}

pub(crate) fn id_outputs(id: &str) -> Outputs {
    [("id".to_string(), id.to_string())].into()
}
