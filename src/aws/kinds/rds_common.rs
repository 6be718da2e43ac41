//! What the RDS kinds share: tags for create calls and reads (RDS returns
//! `TagList` on describes), reads of instances and clusters by identifier,
//! the modify of changed fields, the tail of updates and deletes, and the
//! named groups (subnet groups and the two kinds of parameter groups).

use async_trait::async_trait;
use aws_sdk_rds::types::{
    ApplyMethod, DbCluster, DbInstance, MasterUserSecret, Parameter, Tag,
    VpcSecurityGroupMembership,
};
use serde_json::{Value, json};

use super::{Kind, Live, ReadScope, Target, flag, id_outputs, int, opt_str, str_prop, strings};
use crate::aws::{AwsError, Cx, ErrorClass, GoneIsDone, OrMissing};
use crate::model::{KindInfo, Outputs, Owner, Props};
use crate::model::{TAG_ADDRESS, TAG_ENV, TAG_PROJECT, is_foreign_tag, readable};

pub fn create_tags(cx: &Cx, address: &str, props: &Props) -> Vec<Tag> {
    let mut tags: Vec<Tag> = props
        .get("tags")
        .and_then(|t| t.as_object())
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v.as_str().unwrap_or_default())
                .build()
        })
        .collect();
    tags.retain(|t| t.key() != Some(TAG_PROJECT));
    tags.push(Tag::builder().key(TAG_ENV).value(&cx.env).build());
    tags.push(Tag::builder().key(TAG_PROJECT).value(&cx.project).build());
    tags.push(Tag::builder().key(TAG_ADDRESS).value(address).build());
    tags
}

/// `(address, comparable tags)` when the tags say this env.
pub fn read_tags(tags: &[Tag], owner: Owner<'_>) -> Option<(Option<String>, Value)> {
    let ours = readable(
        tags.iter().filter_map(|t| Some((t.key()?, t.value()?))),
        owner,
    );
    let mut address = None;
    let mut out = serde_json::Map::new();
    for t in tags {
        let (Some(k), Some(v)) = (t.key(), t.value()) else {
            continue;
        };
        if k == TAG_ADDRESS {
            address = Some(v.to_string());
        }
        if !is_foreign_tag(k) {
            out.insert(k.to_string(), Value::String(v.to_string()));
        }
    }
    ours.then_some((address, Value::Object(out)))
}

/// Tags of one RDS resource by ARN (group describes carry none).
pub async fn tags_of(cx: &Cx, arn: &str) -> Result<Vec<Tag>, AwsError> {
    let out = cx
        .call("ListTagsForResource", || {
            cx.clients
                .rds
                .list_tags_for_resource()
                .resource_name(arn)
                .send()
        })
        .await?;
    Ok(out.tag_list().to_vec())
}

/// Brings an RDS resource's tags to the plan's: every desired tag (identity
/// tags included) is re-sent, tags the plan dropped are removed.
pub async fn update_tags(
    cx: &Cx,
    arn: &str,
    address: &str,
    old: &Props,
    new: &Props,
) -> Result<(), AwsError> {
    let tags = create_tags(cx, address, new);
    cx.call("AddTagsToResource", || {
        cx.clients
            .rds
            .add_tags_to_resource()
            .resource_name(arn)
            .set_tags(Some(tags.clone()))
            .send()
    })
    .await?;
    let (_, removed) = super::tagged::tag_delta(old, new);
    if !removed.is_empty() {
        cx.call("RemoveTagsFromResource", || {
            cx.clients
                .rds
                .remove_tags_from_resource()
                .resource_name(arn)
                .set_tag_keys(Some(removed.clone()))
                .send()
        })
        .await?;
    }
    Ok(())
}

/// What a DB instance or an Aurora cluster cannot change in place: a new
/// engine major version, encryption or subnet group is a new one.
pub const DATABASE_REPLACE_FIELDS: &[&str] = &[
    "identifier",
    "engine",
    "engine_major",
    "storage_encrypted",
    "kms_key_id",
    "db_subnet_group_name",
];

/// Every DB instance of the account as `to_live` reads it (it says which
/// are the kind's and ours).
pub async fn read_instances(
    cx: &Cx,
    scope: &ReadScope<'_>,
    to_live: ToLive<DbInstance>,
) -> Result<Vec<Live>, AwsError> {
    let all = cx
        .all("DescribeDBInstances", || {
            cx.clients
                .rds
                .describe_db_instances()
                .max_records(100)
                .into_paginator()
                .items()
                .send()
        })
        .await?;
    Ok(all
        .iter()
        .filter_map(|db| to_live(db, scope.owner))
        .collect())
}

/// A DB instance or an Aurora cluster, as reads by identifier and waits see
/// it.
#[async_trait]
pub trait Database: Sized + Send {
    /// What waits and their errors call it: `DB instance`.
    const NOUN: &'static str;
    /// The create whose failure a wait reports.
    const CREATE: &'static str;
    /// The statuses RDS cannot recover from: a wait fails at once.
    const FAILED: &'static [&'static str];
    fn status(&self) -> Option<&str>;
    /// The one by identifier; `None` once it is gone.
    async fn describe(cx: &Cx, id: &str) -> Result<Option<Self>, AwsError>;
}

#[async_trait]
impl Database for DbInstance {
    const NOUN: &'static str = "DB instance";
    const CREATE: &'static str = "CreateDBInstance";
    const FAILED: &'static [&'static str] =
        &["failed", "incompatible-parameters", "incompatible-network"];

    fn status(&self) -> Option<&str> {
        self.db_instance_status()
    }

    async fn describe(cx: &Cx, id: &str) -> Result<Option<Self>, AwsError> {
        let found = cx
            .call("DescribeDBInstances", || {
                cx.clients
                    .rds
                    .describe_db_instances()
                    .db_instance_identifier(id)
                    .send()
            })
            .await
            .or_missing()?;
        Ok(found.and_then(|o| o.db_instances().first().cloned()))
    }
}

#[async_trait]
impl Database for DbCluster {
    const NOUN: &'static str = "Aurora cluster";
    const CREATE: &'static str = "CreateDBCluster";
    const FAILED: &'static [&'static str] = &[
        "failed",
        "inaccessible-encryption-credentials",
        "incompatible-parameters",
    ];

    fn status(&self) -> Option<&str> {
        DbCluster::status(self)
    }

    async fn describe(cx: &Cx, id: &str) -> Result<Option<Self>, AwsError> {
        let found = cx
            .call("DescribeDBClusters", || {
                cx.clients
                    .rds
                    .describe_db_clusters()
                    .db_cluster_identifier(id)
                    .send()
            })
            .await
            .or_missing()?;
        Ok(found.and_then(|o| o.db_clusters().first().cloned()))
    }
}

/// How a kind reads a DB instance or a cluster: `None` when it is not the
/// kind's or not ours.
pub type ToLive<D> = fn(&D, Owner<'_>) -> Option<Live>;

/// One by identifier as `to_live` reads it; `None` when it is gone, not the
/// kind's or not ours.
pub async fn read_one<D: Database>(
    cx: &Cx,
    id: &str,
    to_live: ToLive<D>,
) -> Result<Option<Live>, AwsError> {
    Ok(D::describe(cx, id)
        .await?
        .and_then(|d| to_live(&d, cx.owner())))
}

/// `Some` once it is gone: what a delete waits for.
pub async fn gone<D: Database>(cx: &Cx, id: &str) -> Result<Option<()>, AwsError> {
    Ok(D::describe(cx, id).await?.is_none().then_some(()))
}

/// Waits until it is available and returns it through `to_live`; a status
/// RDS cannot recover from fails at once.
pub async fn wait_available<D: Database>(
    cx: &Cx,
    address: &str,
    id: &str,
    to_live: ToLive<D>,
) -> Result<Live, AwsError> {
    let what = format!("{} to become available", D::NOUN);
    cx.wait_for(address, &what, cx.timeouts.database, || async {
        let Some(d) = D::describe(cx, id).await? else {
            return Ok(None);
        };
        match d.status() {
            Some("available") => Ok(to_live(&d, cx.owner())),
            Some(s) if D::FAILED.contains(&s) => Err(AwsError::local(
                D::CREATE,
                format!("{} {id} is {s}", D::NOUN),
            )),
            _ => Ok(None),
        }
    })
    .await
}

/// The final snapshot's identifier when the plan asks for one
/// (`final_snapshot`, write-only, taken from the plan file at destroy).
pub fn final_snapshot_id(live: &Live) -> Option<String> {
    flag(&live.props, "_final_snapshot")
        .then(|| format!("{}-final-{}", live.id, crate::model::now()))
}

/// After a delete call: one already gone is done; then waits until it is
/// (`what` says for what).
pub async fn finish_delete<D: Database>(
    cx: &Cx,
    live: &Live,
    what: &str,
    sent: Result<impl Sized, AwsError>,
) -> Result<(), AwsError> {
    sent.gone_is_done()?;
    let address = live.address.as_deref().unwrap_or(&live.id);
    cx.wait_for(address, what, cx.timeouts.database, || {
        gone::<D>(cx, &live.id)
    })
    .await
}

/// A create's end: waits until the new one is available; it has the plan's
/// props.
pub async fn finish_create<D: Database>(
    cx: &Cx,
    t: &Target<'_>,
    id: &str,
    to_live: ToLive<D>,
) -> Result<Live, AwsError> {
    let live = wait_available(cx, t.address, id, to_live).await?;
    Ok(live.with_props(t.props.clone()))
}

/// A create that failed with `code` (the resource already exists) is
/// adopted when `lookup` finds it ours: a run killed after the call finds
/// its resource by name. Any other failure stands.
pub async fn adopt_if_exists<T, L>(
    created: Result<T, AwsError>,
    code: &str,
    lookup: L,
) -> Result<(), AwsError>
where
    L: std::future::Future<Output = Result<Option<Live>, AwsError>>,
{
    if let Err(e) = created
        && (e.code != code || lookup.await?.is_none())
    {
        return Err(e);
    }
    Ok(())
}

/// The VPC security group ids of an instance or a cluster, sorted (RDS
/// keeps no order).
pub fn security_group_ids(groups: &[VpcSecurityGroupMembership]) -> Vec<String> {
    let mut ids: Vec<String> = groups
        .iter()
        .filter_map(|g| g.vpc_security_group_id().map(String::from))
        .collect();
    ids.sort();
    ids
}

/// The ARN of the Secrets Manager secret RDS keeps the master password in.
pub fn secret_arn(secret: Option<&MasterUserSecret>) -> &str {
    secret.and_then(|s| s.secret_arn()).unwrap_or_default()
}

/// Whether a modify applies now rather than in the maintenance window
/// (`apply_immediately` from the plan).
pub fn apply_immediately(props: &Props) -> bool {
    flag(props, "_apply_immediately")
}

/// The fields an update changes, with the plan's values for them: a modify's
/// `set_*` setters take `None` for a field that stays as it is.
pub struct Changes<'a> {
    changed: &'a [String],
    props: &'a Props,
}

impl<'a> Changes<'a> {
    pub fn new(changed: &'a [String], props: &'a Props) -> Self {
        Changes { changed, props }
    }

    pub fn has(&self, field: &str) -> bool {
        self.changed.iter().any(|c| c == field)
    }

    /// More than the tags changed: a modify call is due.
    pub fn beyond_tags(&self) -> bool {
        self.changed.iter().any(|c| c != "tags")
    }

    /// `value` of the plan's props when `field` changed.
    pub fn when<T>(&self, field: &str, value: impl FnOnce(&'a Props) -> T) -> Option<T> {
        self.has(field).then(|| value(self.props))
    }

    /// A required string property, when it changed.
    pub fn string(&self, field: &str) -> Result<Option<String>, AwsError> {
        self.when(field, |p| str_prop(p, field).map(String::from))
            .transpose()
    }

    /// An optional string property, when it changed and is set.
    pub fn opt_string(&self, field: &str) -> Option<String> {
        self.when(field, |p| opt_str(p, field).map(String::from))
            .flatten()
    }

    pub fn flag(&self, field: &str) -> Option<bool> {
        self.when(field, |p| flag(p, field))
    }

    /// A whole number, `default` when the plan has none, when it changed.
    pub fn int_or(&self, field: &str, default: i32) -> Option<i32> {
        self.when(field, |p| int(p, field).unwrap_or(default))
    }

    pub fn strings(&self, field: &str) -> Option<Vec<String>> {
        self.when(field, |p| strings(p, field))
    }
}

/// Brings the tags to the plan's when they changed; `arn` (only awaited
/// then) names the resource.
pub async fn retag<A>(
    cx: &Cx,
    live: &Live,
    t: &Target<'_>,
    changes: &Changes<'_>,
    arn: A,
) -> Result<(), AwsError>
where
    A: std::future::Future<Output = Result<String, AwsError>>,
{
    if changes.has("tags") {
        update_tags(cx, &arn.await?, t.address, &live.props, t.props).await?;
    }
    Ok(())
}

/// The `arn` output a create recorded.
pub async fn arn_output(live: &Live) -> Result<String, AwsError> {
    Ok(live.outputs.get("arn").cloned().unwrap_or_default())
}

/// An instance's or a cluster's update: `modify` (the call of the changed
/// fields, sent only when more than the tags changed) and the wait until
/// available, the tags, then the resource read anew (the old one when it
/// cannot be) with the plan's props.
pub async fn finish_update<D, M, T>(
    cx: &Cx,
    live: &Live,
    t: &Target<'_>,
    changes: &Changes<'_>,
    modify: M,
    to_live: ToLive<D>,
) -> Result<Live, AwsError>
where
    D: Database,
    M: std::future::Future<Output = Result<T, AwsError>>,
{
    if changes.beyond_tags() {
        modify.await?;
        wait_available(cx, t.address, &live.id, to_live).await?;
    }
    retag(cx, live, t, changes, arn_output(live)).await?;
    let again = read_one(cx, &live.id, to_live).await?;
    Ok(again
        .unwrap_or_else(|| live.clone())
        .with_props(t.props.clone()))
}

/// The tags of a named group by its ARN (group describes carry none), when
/// they say this env.
pub async fn group_tags(cx: &Cx, arn: &str, owner: Owner<'_>) -> Result<Option<Value>, AwsError> {
    Ok(read_tags(&tags_of(cx, arn).await?, owner).map(|(_, tags)| tags))
}

/// The `id` and `name` outputs of a group known by its name.
pub fn name_outputs(name: &str) -> Outputs {
    let mut outputs = id_outputs(name);
    outputs.insert("name".into(), name.into());
    outputs
}

/// A named group's update: `modify` when more than the tags changed, then
/// the tags (`arn` awaited only then); the group takes the plan's props.
pub async fn update_group<M, T, A>(
    cx: &Cx,
    live: &Live,
    t: &Target<'_>,
    changed: &[String],
    modify: M,
    arn: A,
) -> Result<Live, AwsError>
where
    M: std::future::Future<Output = Result<T, AwsError>>,
    A: std::future::Future<Output = Result<String, AwsError>>,
{
    let changes = Changes::new(changed, t.props);
    if changes.beyond_tags() {
        modify.await?;
    }
    retag(cx, live, t, &changes, arn).await?;
    Ok(live.with_props(t.props.clone()))
}

/// Deletes a named group with `delete`, retried while something still uses
/// it (`in_use` says what); a group already gone is done.
pub async fn delete_group<T, F, Fut>(
    cx: &Cx,
    live: &Live,
    in_use: &str,
    delete: F,
) -> Result<(), AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, AwsError>>,
{
    cx.retry_while(
        &live.id,
        in_use,
        cx.timeouts.dependency,
        ErrorClass::Dependency,
        delete,
    )
    .await
    .gone_is_done()
}

/// The plan's parameters as RDS takes them (applied at the next reboot).
pub fn parameters(props: &Props) -> Vec<Parameter> {
    props
        .get("parameters")
        .and_then(|p| p.as_object())
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            Parameter::builder()
                .parameter_name(k)
                .parameter_value(
                    v.as_str()
                        .map(String::from)
                        .unwrap_or_else(|| v.to_string()),
                )
                .apply_method(ApplyMethod::PendingReboot)
                .build()
        })
        .collect()
}

/// The values of the parameters the plan sets, as read back (a group holds
/// many more; only the plan's are compared).
pub fn planned_values(props: &Props, read: &[Parameter]) -> serde_json::Map<String, Value> {
    let wanted: Vec<&String> = props
        .get("parameters")
        .and_then(|p| p.as_object())
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    read.iter()
        .filter_map(|p| {
            Some((
                p.parameter_name()?.to_string(),
                Value::String(p.parameter_value()?.to_string()),
            ))
        })
        .filter(|(k, _)| wanted.contains(&k))
        .collect()
}

/// A parameter group as described.
pub struct GroupFacts {
    pub family: Option<String>,
    pub description: Option<String>,
    pub arn: String,
}

/// One of RDS's two parameter-group APIs: DB parameter groups (for
/// instances) and DB cluster parameter groups (for Aurora). The groups are
/// alike but for these calls, so one [`Kind`] serves both.
#[async_trait]
pub trait ParameterGroupApi: Send + Sync {
    const INFO: &'static KindInfo;
    /// What a delete waits for while the group is in use.
    const IN_USE: &'static str;
    /// Creates the group `name` the target describes; its ARN.
    async fn create(&self, cx: &Cx, t: &Target<'_>, name: &str) -> Result<String, AwsError>;
    /// The group by name (`Ok(None)` when the answer lists none).
    async fn describe(&self, cx: &Cx, name: &str) -> Result<Option<GroupFacts>, AwsError>;
    /// The parameters set on the group (`source = user`).
    async fn user_parameters(&self, cx: &Cx, name: &str) -> Result<Vec<Parameter>, AwsError>;
    async fn modify(&self, cx: &Cx, name: &str, params: Vec<Parameter>) -> Result<(), AwsError>;
    async fn delete(&self, cx: &Cx, name: &str) -> Result<(), AwsError>;
}

/// Whether the kind keeps its ARN among its outputs (the cluster groups);
/// the others describe the group when they need it.
fn keeps_arn<A: ParameterGroupApi>() -> bool {
    A::INFO.outputs.contains(&"arn")
}

fn group_outputs<A: ParameterGroupApi>(name: &str, arn: &str) -> Outputs {
    let mut outputs = name_outputs(name);
    if keeps_arn::<A>() {
        outputs.insert("arn".into(), arn.into());
    }
    outputs
}

/// Sets the plan's parameters on the group, if it has any.
async fn set_parameters<A: ParameterGroupApi>(
    api: &A,
    cx: &Cx,
    name: &str,
    props: &Props,
) -> Result<(), AwsError> {
    let params = parameters(props);
    if params.is_empty() {
        return Ok(());
    }
    api.modify(cx, name, params).await
}

/// The ARN of a group a create found already there, for the kinds that
/// keep it.
async fn adopted_arn<A: ParameterGroupApi>(
    api: &A,
    cx: &Cx,
    name: &str,
) -> Result<String, AwsError> {
    if !keeps_arn::<A>() {
        return Ok(String::new());
    }
    let found = api.describe(cx, name).await.or_missing()?.flatten();
    Ok(found.map(|g| g.arn).unwrap_or_default())
}

/// The ARN an update re-tags: the output, or the group described.
async fn arn_to_retag<A: ParameterGroupApi>(
    api: &A,
    cx: &Cx,
    live: &Live,
) -> Result<String, AwsError> {
    if keeps_arn::<A>() {
        return arn_output(live).await;
    }
    let found = api.describe(cx, &live.id).await?;
    Ok(found.map(|g| g.arn).unwrap_or_default())
}

/// One group by name, with the parameters `props` sets; `None` when it is not there.
async fn read_parameter_group<A: ParameterGroupApi>(
    api: &A,
    cx: &Cx,
    name: &str,
    props: &Props,
    owner: Owner<'_>,
) -> Result<Option<Live>, AwsError> {
    let Some(g) = api.describe(cx, name).await.or_missing()?.flatten() else {
        return Ok(None);
    };
    let params = api.user_parameters(cx, name).await?;
    let mut read = json!({
        "name": name,
        "family": g.family,
        "description": g.description,
        "parameters": planned_values(props, &params),
    });
    if let Some(tags) = group_tags(cx, &g.arn, owner).await? {
        read["tags"] = tags;
    }
    let outputs = group_outputs::<A>(name, &g.arn);
    Ok(Some(Live::found(name.to_string(), None, read, outputs)))
}

#[async_trait]
impl<A: ParameterGroupApi> Kind for A {
    fn info(&self) -> &'static KindInfo {
        A::INFO
    }

    async fn create(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        let name = str_prop(t.props, "name")?;
        let arn = match ParameterGroupApi::create(self, cx, t, name).await {
            Ok(arn) => arn,
            // Named, so a run killed after this call finds it here: same name, adopt.
            Err(e) if e.code.contains("AlreadyExists") => adopted_arn(self, cx, name).await?,
            Err(e) => return Err(e),
        };
        set_parameters(self, cx, name, t.props).await?;
        Ok(t.made_with(name.to_string(), group_outputs::<A>(name, &arn)))
    }

    async fn read(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        let mut out = Vec::new();
        // Only the groups state knows: parameters need one call per group.
        for known in &scope.known {
            let read = read_parameter_group(self, cx, &known.id, &known.props, scope.owner);
            out.extend(read.await?);
        }
        Ok(out)
    }

    async fn lookup(&self, cx: &Cx, resolved: &Props) -> Result<Option<Live>, AwsError> {
        let Some(name) = opt_str(resolved, "name") else {
            return Ok(None);
        };
        read_parameter_group(self, cx, name, resolved, cx.owner()).await
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        t: &Target<'_>,
        changed: &[String],
    ) -> Result<Live, AwsError> {
        let arn = arn_to_retag(self, cx, live);
        let modify = set_parameters(self, cx, &live.id, t.props);
        update_group(cx, live, t, changed, modify, arn).await
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        delete_group(cx, live, A::IN_USE, || {
            ParameterGroupApi::delete(self, cx, &live.id)
        })
        .await
    }
}
