//! The EKS control plane. Version bumps, public endpoint CIDRs, logging and
//! the authentication mode change in place; placement and encryption force a
//! new cluster. Reads are one DescribeCluster per cluster (EKS has no batch).

use async_trait::async_trait;
use aws_sdk_eks::types::{
    AuthenticationMode, ClusterStatus, CreateAccessConfigRequest, EncryptionConfig, LogSetup,
    LogType, Logging, Provider, UpdateAccessConfigRequest, VpcConfigRequest,
};
use serde_json::json;

use super::eks_common::{
    delete_and_wait, describe_cluster, env_clusters, gone_is_empty, iam_propagation, read_tags,
    sorted, strings, update_tags, wait_until,
};
use super::flag;
use super::outputs;
use super::{Kind, Live, ReadScope, Target, opt_str, str_prop};
use crate::aws::{AwsError, Cx, SdkResultExt};
use crate::model::Props;
use crate::model::{KindInfo, Resend, Tagging, Tier};

/// EKS tags are set the same way for every EKS kind; the takeover reaches
/// them here (`eks_common` is private to the kinds).
pub(crate) use super::eks_common::apply_tags;

pub struct EksCluster;

fn logging(props: &Props) -> Logging {
    let enabled: Vec<LogType> = strings(props, "log_types")
        .iter()
        .map(|t| LogType::from(t.as_str()))
        .collect();
    let all = [
        "api",
        "audit",
        "authenticator",
        "controllerManager",
        "scheduler",
    ];
    let disabled: Vec<LogType> = all
        .iter()
        .filter(|t| !enabled.iter().any(|e| e.as_str() == **t))
        .map(|t| LogType::from(*t))
        .collect();
    let mut setups = vec![
        LogSetup::builder()
            .set_types(Some(enabled))
            .enabled(true)
            .build(),
    ];
    if !disabled.is_empty() {
        setups.push(
            LogSetup::builder()
                .set_types(Some(disabled))
                .enabled(false)
                .build(),
        );
    }
    Logging::builder().set_cluster_logging(Some(setups)).build()
}

fn to_live(c: &aws_sdk_eks::types::Cluster, owner: crate::model::Owner<'_>) -> Option<Live> {
    let (address, tags) = read_tags(c.tags(), owner)?;
    let name = c.name()?.to_string();
    let vpc = c.resources_vpc_config();
    let log_types: Vec<String> = c
        .logging()
        .map(|l| l.cluster_logging())
        .unwrap_or_default()
        .iter()
        .filter(|s| s.enabled() == Some(true))
        .flat_map(|s| s.types().iter().map(|t| t.as_str().to_string()))
        .collect();
    let key = c
        .encryption_config()
        .iter()
        .find_map(|e| e.provider().and_then(|p| p.key_arn()))
        .unwrap_or_default();
    let mut props = json!({
        "name": name,
        "version": c.version().unwrap_or_default(),
        "role_arn": c.role_arn().unwrap_or_default(),
        "subnet_ids": sorted(vpc.map(|v| v.subnet_ids().to_vec()).unwrap_or_default()),
        "security_group_ids": sorted(vpc.map(|v| v.security_group_ids().to_vec()).unwrap_or_default()),
        "endpoint_private_access": vpc.map(|v| v.endpoint_private_access()).unwrap_or(false),
        "endpoint_public_access": vpc.map(|v| v.endpoint_public_access()).unwrap_or(false),
        "public_access_cidrs": sorted(vpc.map(|v| v.public_access_cidrs().to_vec()).unwrap_or_default()),
        "log_types": sorted(log_types),
        "tags": tags,
    });
    if let Some(mode) = c.access_config().and_then(|a| a.authentication_mode()) {
        props["authentication_mode"] = json!(mode.as_str());
    }
    if let Some(bootstrap) = c
        .access_config()
        .and_then(|a| a.bootstrap_cluster_creator_admin_permissions())
    {
        props["bootstrap_cluster_creator_admin"] = json!(bootstrap);
    }
    if !key.is_empty() {
        props["encryption_key_arn"] = json!(key);
    }
    let issuer = c
        .identity()
        .and_then(|i| i.oidc())
        .and_then(|o| o.issuer())
        .unwrap_or_default()
        .to_string();
    let arn = c.arn().unwrap_or_default();
    let ca_data = c.certificate_authority().and_then(|a| a.data());
    let security_group = vpc.and_then(|v| v.cluster_security_group_id());
    let outputs = outputs([
        ("id", &name),
        ("name", &name),
        ("arn", arn),
        // For trust policies that name the account (`aws:SourceAccount`).
        ("account", &crate::model::account_of_arn(arn)),
        ("endpoint", c.endpoint().unwrap_or_default()),
        ("ca_data", ca_data.unwrap_or_default()),
        ("oidc_issuer", &issuer),
        ("oidc_issuer_host", issuer.trim_start_matches("https://")),
        (
            "cluster_security_group_id",
            security_group.unwrap_or_default(),
        ),
    ]);
    Some(Live::found(name, address, props, outputs))
}

async fn wait_active(cx: &Cx, address: &str, name: &str) -> Result<Live, AwsError> {
    wait_until(
        cx,
        address,
        "cluster to become ACTIVE",
        cx.timeouts.cluster,
        || describe_cluster(cx, name),
        |c| match c.status() {
            Some(ClusterStatus::Active) => Ok(to_live(&c, cx.owner())),
            Some(ClusterStatus::Failed) => Err(AwsError::local(
                "CreateCluster",
                format!("cluster {name} FAILED"),
            )),
            _ => Ok(None),
        },
    )
    .await
}

pub(super) const INFO: KindInfo = KindInfo {
    name: "EksCluster",
    tier: Tier::Cluster,
    tagging: Tagging::Eks,
    outputs: &[
        "id",
        "name",
        "arn",
        "account",
        "endpoint",
        "ca_data",
        "oidc_issuer",
        "oidc_issuer_host",
        "cluster_security_group_id",
    ],
    replace_fields: &[
        "name",
        "role_arn",
        "subnet_ids",
        "security_group_ids",
        "encryption_key_arn",
        "bootstrap_cluster_creator_admin",
    ],
    // Resent safely: clientRequestToken (the journal's token).
    resend: Resend::Token,
    ..KindInfo::BASE
};

#[async_trait]
impl Kind for EksCluster {
    async fn arn(&self, cx: &Cx, name: &str) -> Result<Option<String>, AwsError> {
        let cluster = describe_cluster(cx, name).await?;
        Ok(cluster.and_then(|c| c.arn().map(String::from)))
    }

    async fn create(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        let name = str_prop(t.props, "name")?;
        let vpc = VpcConfigRequest::builder()
            .set_subnet_ids(Some(strings(t.props, "subnet_ids")))
            .set_security_group_ids(Some(strings(t.props, "security_group_ids")))
            .endpoint_private_access(flag(t.props, "endpoint_private_access"))
            .endpoint_public_access(flag(t.props, "endpoint_public_access"))
            .set_public_access_cidrs(
                Some(strings(t.props, "public_access_cidrs")).filter(|c| !c.is_empty()),
            )
            .build();
        let encryption = opt_str(t.props, "encryption_key_arn").map(|arn| {
            EncryptionConfig::builder()
                .provider(Provider::builder().key_arn(arn).build())
                .build()
        });
        cx.clients
            .eks
            .create_cluster()
            .name(name)
            .version(str_prop(t.props, "version")?)
            .role_arn(str_prop(t.props, "role_arn")?)
            .resources_vpc_config(vpc)
            .logging(logging(t.props))
            .set_access_config(opt_str(t.props, "authentication_mode").map(|m| {
                CreateAccessConfigRequest::builder()
                    .authentication_mode(AuthenticationMode::from(m))
                    .set_bootstrap_cluster_creator_admin_permissions(
                        t.props
                            .get("bootstrap_cluster_creator_admin")
                            .and_then(|v| v.as_bool()),
                    )
                    .build()
            }))
            .set_encryption_config(encryption.map(|e| vec![e]))
            .set_tags(Some(super::tagged::create_tags(cx, t.address, t.props)))
            .client_request_token(t.token)
            .send()
            .await
            .aws("CreateCluster")
            .map_err(iam_propagation)?;
        let live = wait_active(cx, t.address, name).await?;
        Ok(Live {
            props: t.props.clone(),
            ..live
        })
    }

    async fn read(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        Ok(env_clusters(cx, scope.owner)
            .await?
            .iter()
            .filter_map(|c| to_live(c, scope.owner))
            .collect())
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        t: &Target<'_>,
        changed: &[String],
    ) -> Result<Live, AwsError> {
        let has = |f: &str| changed.iter().any(|c| c == f);
        let name = live.id.as_str();
        if has("version") {
            cx.retry(|| async {
                cx.clients
                    .eks
                    .update_cluster_version()
                    .name(name)
                    .version(str_prop(t.props, "version")?)
                    .send()
                    .await
                    .aws("UpdateClusterVersion")
            })
            .await?;
            wait_active(cx, t.address, name).await?;
        }
        if has("endpoint_public_access")
            || has("public_access_cidrs")
            || has("endpoint_private_access")
        {
            // Sent whole: the emulator replaced the config when only a part was sent.
            let vpc = VpcConfigRequest::builder()
                .endpoint_private_access(flag(t.props, "endpoint_private_access"))
                .endpoint_public_access(flag(t.props, "endpoint_public_access"))
                .set_public_access_cidrs(
                    Some(strings(t.props, "public_access_cidrs")).filter(|c| !c.is_empty()),
                )
                .build();
            cx.call("UpdateClusterConfig", || {
                cx.clients
                    .eks
                    .update_cluster_config()
                    .name(name)
                    .resources_vpc_config(vpc.clone())
                    .send()
            })
            .await?;
            wait_active(cx, t.address, name).await?;
        }
        if has("log_types") {
            cx.call("UpdateClusterConfig", || {
                cx.clients
                    .eks
                    .update_cluster_config()
                    .name(name)
                    .logging(logging(t.props))
                    .send()
            })
            .await?;
            wait_active(cx, t.address, name).await?;
        }
        if has("authentication_mode") {
            let mode = AuthenticationMode::from(str_prop(t.props, "authentication_mode")?);
            cx.call("UpdateClusterConfig", || {
                cx.clients
                    .eks
                    .update_cluster_config()
                    .name(name)
                    .access_config(
                        UpdateAccessConfigRequest::builder()
                            .authentication_mode(mode.clone())
                            .build(),
                    )
                    .send()
            })
            .await?;
            wait_active(cx, t.address, name).await?;
        }
        update_tags(cx, live, t.props, changed).await?;
        let refreshed =
            gone_is_empty(describe_cluster(cx, name).await)?.and_then(|c| to_live(&c, cx.owner()));
        let outputs = refreshed
            .map(|l| l.outputs)
            .unwrap_or_else(|| live.outputs.clone());
        Ok(Live {
            props: t.props.clone(),
            outputs,
            ..live.clone()
        })
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let address = live.address.as_deref().unwrap_or(&live.id);
        let in_use = "node groups or add-ons still deleting";
        let delete = cx.delete_in_use(address, in_use, "DeleteCluster", || {
            cx.clients.eks.delete_cluster().name(&live.id).send()
        });
        delete_and_wait(
            cx,
            address,
            "cluster to be deleted",
            cx.timeouts.cluster,
            delete,
            || describe_cluster(cx, &live.id),
        )
        .await
    }
}
