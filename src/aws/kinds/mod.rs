//! Resource kinds: one file per kind, each behind the [`Kind`] trait, and the
//! registry that lists them.

// Helpers several kinds share; the kinds themselves are listed once, in
// `kinds!` below.
pub(crate) mod ec2_tags;
mod eks_common;
pub(crate) mod iam_details;
pub(crate) mod rds_common;
mod rds_database;
mod rds_parameter_group;
#[cfg(test)]
mod read_mapping_tests;
pub(crate) mod tagged;

use std::collections::BTreeMap;
use std::sync::LazyLock;

use async_trait::async_trait;

use super::{AwsError, Cx};
pub use crate::model::Live;
pub use crate::model::Resend;
use crate::model::StateResource;
use crate::model::{KindCatalog, KindInfo};
use crate::model::{Outputs, Props};

/// What a create or update is asked to make, references already resolved.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    pub address: &'a str,
    pub props: &'a Props,
    /// The idempotency token recorded in the journal for this action.
    pub token: &'a str,
}

impl Target<'_> {
    /// What a create of this target made: the resource `id`, tagged with its
    /// address, with the properties it was sent and only an `id` output.
    pub fn made(&self, id: impl Into<String>) -> Live {
        let id = id.into();
        self.made_with(id.clone(), id_outputs(&id))
    }

    /// [`Target::made`] with the kind's own outputs.
    pub fn made_with(&self, id: impl Into<String>, outputs: crate::model::Outputs) -> Live {
        Live {
            id: id.into(),
            address: Some(self.address.to_string()),
            props: self.props.clone(),
            outputs,
        }
    }
}

/// What a batched read is about: the env, and the resources of this kind in
/// state (kinds without tags use them to find their parents).
pub struct ReadScope<'a> {
    pub owner: crate::model::Owner<'a>,
    pub known: Vec<&'a StateResource>,
}

#[async_trait]
pub trait Kind: Described + Send + Sync {
    /// What the kind is, as data: see [`KindInfo`].
    fn info(&self) -> &'static KindInfo {
        self.description()
    }
    fn name(&self) -> &'static str {
        self.info().name
    }
    fn outputs(&self) -> &'static [&'static str] {
        self.info().outputs
    }
    fn replace_fields(&self) -> &'static [&'static str] {
        self.info().replace_fields
    }
    fn set_after_create(&self) -> &'static [&'static str] {
        self.info().set_after_create
    }
    /// For kinds without tags, the key that identifies a resource among those
    /// read; `None` for tagged kinds, found by their `infra:address` tag.
    fn natural_key(&self, props: &Props) -> Option<String> {
        self.info().natural_key.of(props)
    }
    fn resend(&self) -> Resend {
        self.info().resend
    }
    /// The ARN of the resource `id`, from one describe (a missing resource
    /// is a not-found error), for the kinds tagged by ARN: the takeover tags
    /// by it when the outputs lack it. `None`: the kind cannot find one.
    async fn arn(&self, _cx: &Cx, _id: &str) -> Result<Option<String>, AwsError> {
        Ok(None)
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

/// A kind's description: its module's `INFO`, tied to its type by `kinds!`
/// so that no kind writes the accessor itself.
pub trait Described {
    fn description(&self) -> &'static KindInfo;
}

/// Every kind, once: its module, and the type that implements [`Kind`].
/// The registry, the kind table and each kind's [`Described`] come from
/// this list.
macro_rules! kinds {
    ($($module:ident :: $kind:ident),* $(,)?) => {
        $(pub(crate) mod $module;)*

        $(impl Described for $module::$kind {
            fn description(&self) -> &'static KindInfo {
                &$module::INFO
            }
        })*

        fn all() -> Vec<Box<dyn Kind>> {
            vec![$(Box::new($module::$kind)),*]
        }
    };
}

kinds! {
    vpc::Vpc,
    subnet::Subnet,
    internet_gateway::InternetGateway,
    elastic_ip::ElasticIp,
    nat_gateway::NatGateway,
    route_table::RouteTable,
    route::Route,
    route_table_association::RouteTableAssociation,
    security_group::SecurityGroup,
    security_group_rule::SecurityGroupRule,
    iam_role::IamRole,
    iam_role_policy_attachment::IamRolePolicyAttachment,
    iam_role_policy::IamRolePolicy,
    iam_instance_profile::IamInstanceProfile,
    iam_oidc_provider::IamOidcProvider,
    eks_cluster::EksCluster,
    eks_nodegroup::EksNodegroup,
    eks_addon::EksAddon,
    sqs_queue::SqsQueue,
    sqs_queue_policy::SqsQueuePolicy,
    event_rule::EventRule,
    kms_key::KmsKey,
    kms_alias::KmsAlias,
    db_subnet_group::DbSubnetGroup,
    db_parameter_group::DbParameterGroup,
    db_instance::DbInstance,
    db_cluster_parameter_group::DbClusterParameterGroup,
    rds_cluster::RdsCluster,
    rds_cluster_instance::RdsClusterInstance,
    eks_access_entry::EksAccessEntry,
    eks_access_policy::EksAccessPolicyAssociation,
    eks_pod_identity_association::EksPodIdentityAssociation,
    route53_zone::Route53Zone,
    route53_record::Route53Record,
    acm_certificate::AcmCertificate,
    acm_certificate_validation::AcmCertificateValidation,
}

/// Every kind infra knows, by name.
pub struct Registry {
    kinds: BTreeMap<&'static str, Box<dyn Kind>>,
}

impl Registry {
    pub fn new() -> Self {
        Registry {
            kinds: all().into_iter().map(|k| (k.name(), k)).collect(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&dyn Kind> {
        self.kinds.get(name).map(|k| k.as_ref())
    }

    pub fn all(&self) -> impl Iterator<Item = &dyn Kind> {
        self.kinds.values().map(|k| k.as_ref())
    }
}

/// The kind of a name, from one registry for the process; `None` for a
/// name no kind has.
pub fn kind(name: &str) -> Option<&'static dyn Kind> {
    static ALL: LazyLock<Registry> = LazyLock::new(Registry::new);
    ALL.get(name)
}

/// The description of a kind by its name; `None` for a name no kind has.
pub fn info(name: &str) -> Option<&'static KindInfo> {
    kind(name).map(|k| k.info())
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl KindCatalog for Registry {
    fn info(&self, kind: &str) -> Option<&'static KindInfo> {
        self.get(kind).map(|k| k.info())
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

/// A JSON-valued property (a policy document, an event pattern) as the
/// text AWS takes.
pub(crate) fn json_text(props: &Props, key: &str) -> Result<String, AwsError> {
    props
        .get(key)
        .map(|v| v.to_string())
        .ok_or_else(|| AwsError::local("validate", format!("missing property `{key}`")))
}

pub(crate) fn opt_str<'a>(props: &'a Props, key: &str) -> Option<&'a str> {
    props
        .get(key)
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
}

pub(crate) fn id_outputs(id: &str) -> Outputs {
    outputs([("id", id)])
}

/// The id a create call returned; its absence is an error naming the call.
pub(crate) fn returned(operation: &str, id: Option<&str>) -> Result<String, AwsError> {
    id.map(String::from)
        .ok_or_else(|| AwsError::local(operation, "no id returned"))
}

/// A boolean property; absent reads as `false`.
pub(crate) fn flag(props: &Props, key: &str) -> bool {
    props.get(key).and_then(|v| v.as_bool()).unwrap_or(false)
}

/// A whole-number property as the SDKs take it.
pub(crate) fn int(props: &Props, key: &str) -> Option<i32> {
    props.get(key).and_then(|v| v.as_i64()).map(|v| v as i32)
}

/// A list-of-strings property; absent reads as empty.
pub(crate) fn strings(props: &Props, key: &str) -> Vec<String> {
    props
        .get(key)
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(String::from))
        .collect()
}

/// The major version of an engine version: `16` of `16.4`.
pub(crate) fn major(version: &str) -> String {
    version.split('.').next().unwrap_or_default().to_string()
}

/// Outputs from `(name, value)` pairs; a missing value reads as empty, as
/// every output does before the resource has it.
pub(crate) fn outputs<const N: usize>(pairs: [(&str, &str); N]) -> Outputs {
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
