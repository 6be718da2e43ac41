//! What a DB instance and an Aurora cluster share: reads by identifier,
//! waits for a status, the modify of changed fields, and the tails of
//! creates, updates and deletes.

use async_trait::async_trait;
use aws_sdk_rds::types::{DbCluster, DbInstance, MasterUserSecret, VpcSecurityGroupMembership};

use super::{Live, ReadScope, Target, flag, int, opt_str, str_prop, strings};
use crate::aws::{AwsError, Cx, ErrorClass, GoneIsDone, OrMissing};
use crate::model::{Owner, Props};

use super::rds_common::update_tags;

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
    fn arn(&self) -> Option<&str>;
    /// The one by identifier; `None` once it is gone.
    async fn describe(cx: &Cx, id: &str) -> Result<Option<Self>, AwsError>;
}

/// The ARN the takeover tags by, from one describe; one already gone is a
/// not-found error, as the takeover expects of every kind.
pub async fn arn_of<D: Database>(cx: &Cx, id: &str) -> Result<Option<String>, AwsError> {
    let Some(found) = D::describe(cx, id).await? else {
        let message = format!("{} {id} not found", D::NOUN);
        return Err(AwsError::new(
            "Describe",
            "NotFound",
            message,
            ErrorClass::NotFound,
        ));
    };
    Ok(found.arn().map(String::from))
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

    fn arn(&self) -> Option<&str> {
        self.db_instance_arn()
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

    fn arn(&self) -> Option<&str> {
        self.db_cluster_arn()
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
        !super::tagged::only_tags(self.changed)
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
