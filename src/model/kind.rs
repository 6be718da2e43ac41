//! What a resource kind is, as data: its name, tier, outputs, the fields
//! whose change needs a new resource, how one is told apart from the others
//! and how a lost create is sent again. A kind declares one [`KindInfo`]
//! constant; the graph, the diff, drift and the renderers read it through
//! [`KindCatalog`], never the cloud layer.

use super::Props;

/// The layer of the platform a kind belongs to, in the order a platform is
/// built; plans, drift reports, costs and pictures are grouped by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tier {
    Network,
    Kms,
    Identity,
    Cluster,
    Database,
    Dns,
}

impl Tier {
    pub const ALL: [Tier; 6] = [
        Tier::Network,
        Tier::Kms,
        Tier::Identity,
        Tier::Cluster,
        Tier::Database,
        Tier::Dns,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Network => "network",
            Tier::Kms => "kms",
            Tier::Identity => "identity",
            Tier::Cluster => "cluster",
            Tier::Database => "database",
            Tier::Dns => "dns",
        }
    }
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

/// How a resource of a kind is found among those read, beside its id.
#[derive(Clone, Copy)]
pub enum NaturalKey {
    /// By its `infra:address` and `infra:project` tags, which a create sets.
    Tags,
    /// By these properties together (a route: its table and destination),
    /// for kinds that carry no tags.
    Fields(&'static [&'static str]),
    /// By a key the kind computes (a DNS name compared fully qualified).
    Computed(fn(&Props) -> Option<String>),
}

impl NaturalKey {
    /// The key of a resource with these properties; `None` for tagged kinds
    /// or when a field is missing.
    pub fn of(&self, props: &Props) -> Option<String> {
        match self {
            NaturalKey::Tags => None,
            NaturalKey::Fields(fields) => {
                let parts: Option<Vec<&str>> =
                    fields.iter().map(|f| props.get(*f)?.as_str()).collect();
                Some(parts?.join("|"))
            }
            NaturalKey::Computed(key) => key(props),
        }
    }
}

/// Everything about a kind that is not a call to AWS.
pub struct KindInfo {
    /// The kind as AWS names it (`Subnet`).
    pub name: &'static str,
    pub tier: Tier,
    /// The outputs other resources may refer to; `id` always.
    pub outputs: &'static [&'static str],
    /// Properties whose change needs a new resource.
    pub replace_fields: &'static [&'static str],
    /// Replace fields a create sets with a later call (an internet gateway's
    /// VPC, set by attaching it). Still empty on the live resource, they mean
    /// the create was cut short between its calls: the update sets them in
    /// place and nothing is replaced.
    pub set_after_create: &'static [&'static str],
    pub natural_key: NaturalKey,
    /// How AWS tags the kind: the calls infra's identity tags go on by
    /// when a resource is taken over (`adopt`, `import`, `state mv`) and come
    /// off by on `state rm`.
    pub tagging: Tagging,
    pub resend: Resend,
}

/// The tag calls of a kind's service, and what they take: each family has
/// one `apply_tags` in `aws::kinds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tagging {
    /// AWS takes no tags (a route, an inline policy): the kind is found by its
    /// natural key alone, and taking one over or letting it go touches no tags.
    None,
    /// EC2's CreateTags and DeleteTags, by id.
    Ec2,
    /// IAM's calls per resource: roles and instance profiles by name, OIDC
    /// providers by ARN.
    IamRole,
    IamInstanceProfile,
    IamOidcProvider,
    /// By ARN: EKS, RDS and EventBridge.
    Eks,
    Rds,
    EventBridge,
    /// By the resource's id: a queue URL, a key id, a zone id, a certificate ARN.
    Sqs,
    Kms,
    Route53,
    Acm,
}

impl KindInfo {
    /// A kind found by its tags, with only an `id` output, nothing
    /// replaced, nothing set after create, looked up before a resend: the
    /// base every kind's constant starts from (`..KindInfo::BASE`). Each
    /// kind names its own [`Tagging`].
    pub const BASE: KindInfo = KindInfo {
        name: "",
        tier: Tier::Network,
        outputs: &["id"],
        replace_fields: &[],
        set_after_create: &[],
        natural_key: NaturalKey::Tags,
        tagging: Tagging::None,
        resend: Resend::LookUp,
    };
}

/// What the graph, the diff and the renderers need to know about kinds.
pub trait KindCatalog {
    /// The kind's description, or `None` when the kind is unknown.
    fn info(&self, kind: &str) -> Option<&'static KindInfo>;
    fn names(&self) -> Vec<&'static str>;

    /// The outputs a kind exposes, or `None` when the kind is unknown.
    fn outputs(&self, kind: &str) -> Option<&'static [&'static str]> {
        self.info(kind).map(|i| i.outputs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_key_needs_every_field() {
        let key = NaturalKey::Fields(&["table", "destination"]);
        let props = |v: serde_json::Value| v.as_object().cloned().unwrap();
        assert_eq!(
            key.of(&props(
                serde_json::json!({"table": "rtb-1", "destination": "0.0.0.0/0"})
            )),
            Some("rtb-1|0.0.0.0/0".to_string())
        );
        assert_eq!(key.of(&props(serde_json::json!({"table": "rtb-1"}))), None);
        assert_eq!(
            NaturalKey::Tags.of(&props(serde_json::json!({"table": "rtb-1"}))),
            None
        );
    }
}
