//! Tag handling shared by the EC2 kinds: tags go on in the create call
//! itself, reads filter by `infra:env`, and updates touch only managed keys.

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use serde_json::Value;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::tagged::TagDelta;
use super::{Live, Target};
use crate::aws::{AwsError, Cx, SdkResultExt};
use crate::model::{Owner, Props, TAG_ENV, split_tags};

/// The plan's tags plus the identity tags, for a create call.
pub fn create_tags(cx: &Cx, target: &Target<'_>) -> Vec<Tag> {
    super::tagged::create_tags(cx, target.address, target.props)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

pub fn tag_spec(kind: ResourceType, cx: &Cx, target: &Target<'_>) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(kind)
        .set_tags(Some(create_tags(cx, target)))
        .build()
}

/// `tag:infra:env = <env>`: every batched read uses it. The project is
/// checked on our side ([`read_tags`]): resources made before projects were
/// tagged have none, and must still be found to gain it.
pub fn env_filter(owner: Owner<'_>) -> Filter {
    Filter::builder()
        .name(format!("tag:{TAG_ENV}"))
        .values(owner.env)
        .build()
}

/// Splits tags read back into the `infra:address` and the comparable tags.
/// `None` when the resource belongs to another env: the server-side tag
/// filter is trusted, but checked, so a filter an API ignores can never make
/// one env adopt another's resources.
pub fn read_tags(tags: &[Tag], owner: Owner<'_>) -> Option<(Option<String>, Value)> {
    split_tags(
        tags.iter().filter_map(|t| Some((t.key()?, t.value()?))),
        owner,
    )
}

/// Brings managed tags from `old` to `new`: sets changed keys, removes keys
/// that were managed and are no longer wanted. Tags others added are kept.
pub async fn sync(cx: &Cx, id: &str, old: &Props, new: &Props) -> Result<(), AwsError> {
    apply_tags(cx, id, super::tagged::tag_delta(old, new)).await
}

/// Sets and removes tags on an EC2 resource, by id: its update and the
/// takeover's identity tags.
pub async fn apply_tags(cx: &Cx, id: &str, delta: TagDelta) -> Result<(), AwsError> {
    let ec2 = &cx.clients.ec2;
    let tag = |k: String, v: Option<String>| Tag::builder().key(k).set_value(v).build();
    super::tagged::apply_delta(
        delta,
        |set| {
            let set: Vec<Tag> = set.into_iter().map(|(k, v)| tag(k, Some(v))).collect();
            let send = move || {
                ec2.create_tags()
                    .resources(id)
                    .set_tags(Some(set.clone()))
                    .send()
            };
            cx.call("CreateTags", send)
        },
        |remove| {
            let remove: Vec<Tag> = remove.into_iter().map(|k| tag(k, None)).collect();
            let send = move || {
                ec2.delete_tags()
                    .resources(id)
                    .set_tags(Some(remove.clone()))
                    .send()
            };
            cx.call("DeleteTags", send)
        },
    )
    .await
}

/// Runs a delete call, treating "not found" as done and waiting out
/// `DependencyViolation` for the bounded dependency timeout.
pub async fn delete_call<T, E, F, Fut>(
    cx: &Cx,
    address: &str,
    operation: &str,
    send: F,
) -> Result<(), AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    cx.delete_in_use(address, "still in use", operation, send)
        .await
}

/// Deletes an EC2 resource by its id with [`delete_call`], named in
/// progress lines by its address.
pub async fn delete<T, E, F, Fut>(
    cx: &Cx,
    live: &Live,
    operation: &str,
    send: F,
) -> Result<(), AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    delete_call(
        cx,
        live.address.as_deref().unwrap_or(&live.id),
        operation,
        send,
    )
    .await
}

/// A resource read back by a describe: `None` without an id or when its
/// tags say another env; `props` gains the comparable tags, the outputs
/// its id.
pub fn found(id: Option<&str>, tags: &[Tag], owner: Owner<'_>, mut props: Value) -> Option<Live> {
    let id = id?;
    let (address, tags) = read_tags(tags, owner)?;
    props["tags"] = tags;
    Some(Live::found(id, address, props, super::id_outputs(id)))
}

/// An update of tags alone: managed tags brought to the plan's.
pub async fn update_tags(cx: &Cx, live: &Live, t: &Target<'_>) -> Result<Live, AwsError> {
    sync(cx, &live.id, &live.props, t.props).await?;
    Ok(live.with_props(t.props.clone()))
}

/// Like [`delete_call`], and when `DependencyViolation` outlasts the wait,
/// the error names what still uses the resource: the network interfaces
/// found by `filter` (`vpc-id`, `subnet-id`, `group-id`), with what made them.
pub async fn delete_naming_blockers<T, E, F, Fut>(
    cx: &Cx,
    live: &Live,
    filter: &str,
    operation: &str,
    send: F,
) -> Result<(), AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match delete(cx, live, operation, send).await {
        Err(e) if e.class == crate::aws::ErrorClass::Dependency => {
            let f = Filter::builder().name(filter).values(&live.id).build();
            let enis = cx
                .clients
                .ec2
                .describe_network_interfaces()
                .filters(f)
                .send()
                .await
                .aws("DescribeNetworkInterfaces");
            let names: Vec<String> = enis
                .map(|o| {
                    o.network_interfaces()
                        .iter()
                        .map(|n| {
                            format!(
                                "{} ({})",
                                n.network_interface_id().unwrap_or_default(),
                                n.description().unwrap_or("no description")
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let blockers = if names.is_empty() {
                "no network interface found; check load balancers and endpoints".to_string()
            } else {
                names.join(", ")
            };
            Err(AwsError {
                message: format!("{}; blocked by: {blockers}", e.message),
                ..e
            })
        }
        other => other,
    }
}
