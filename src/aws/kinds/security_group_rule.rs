//! One standalone security group rule, tagged at create and read in one
//! `DescribeSecurityGroupRules` call per env. Ports, peer and description
//! change in place (`ModifySecurityGroupRules`); the group is never replaced.

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    IpPermission, IpRange, ResourceType, SecurityGroupRuleRequest, SecurityGroupRuleUpdate,
    UserIdGroupPair,
};
use serde_json::{Value, json};

use super::ec2_tags::{delete_call, env_filter, read_tags, tag_spec, update_tags};
use super::{Kind, Live, ReadScope, Target, id_outputs, opt_str, str_prop};
use crate::aws::{AwsError, Cx, SdkResultExt};
use crate::model::Props;
use crate::model::{KindInfo, Resend, Tagging, Tier};

pub struct SecurityGroupRule;

fn port(props: &Props, key: &str) -> i32 {
    props.get(key).and_then(|v| v.as_i64()).unwrap_or(-1) as i32
}

fn permission(props: &Props) -> IpPermission {
    let description = opt_str(props, "description").map(String::from);
    let mut p = IpPermission::builder()
        .ip_protocol(opt_str(props, "protocol").unwrap_or("-1"))
        .from_port(port(props, "from_port"))
        .to_port(port(props, "to_port"));
    if let Some(cidr) = opt_str(props, "cidr") {
        p = p.ip_ranges(
            IpRange::builder()
                .cidr_ip(cidr)
                .set_description(description)
                .build(),
        );
    } else if let Some(group) = opt_str(props, "source_group_id") {
        p = p.user_id_group_pairs(
            UserIdGroupPair::builder()
                .group_id(group)
                .set_description(description)
                .build(),
        );
    }
    p.build()
}

/// A rule as infra compares it.
fn live_rule(
    r: &aws_sdk_ec2::types::SecurityGroupRule,
    address: Option<String>,
    tags: Value,
) -> Option<Live> {
    let id = r.security_group_rule_id()?.to_string();
    let mut props = json!({
        "group_id": r.group_id().unwrap_or_default(),
        "direction": if r.is_egress() == Some(true) { "egress" } else { "ingress" },
        "protocol": r.ip_protocol().unwrap_or("-1"),
        "from_port": r.from_port().unwrap_or(-1),
        "to_port": r.to_port().unwrap_or(-1),
        "description": r.description().unwrap_or_default(),
        "tags": tags,
    });
    if let Some(c) = r.cidr_ipv4() {
        props["cidr"] = Value::String(c.to_string());
    }
    if let Some(g) = r.referenced_group_info().and_then(|g| g.group_id()) {
        props["source_group_id"] = Value::String(g.to_string());
    }
    Some(Live::found(id.clone(), address, props, id_outputs(&id)))
}

fn is_egress(props: &Props) -> bool {
    opt_str(props, "direction") == Some("egress")
}

pub(super) const INFO: KindInfo = KindInfo {
    name: "SecurityGroupRule",
    tier: Tier::Network,
    tagging: Tagging::Ec2,
    replace_fields: &["group_id", "direction"],
    // Resent safely: a duplicate rule is refused.
    resend: Resend::Unique,
    ..KindInfo::BASE
};

#[async_trait]
impl Kind for SecurityGroupRule {
    async fn create(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        match self.authorize(cx, t).await {
            // The same rule exists untagged: a run killed between creating a
            // group and revoking its default egress, or a rule added by hand.
            // Adopt it by its natural key (group + rule fields) and tag it.
            Err(e) if e.code == "InvalidPermission.Duplicate" => {
                match self.find_untagged(cx, t).await? {
                    Some(id) => {
                        cx.call("CreateTags", || {
                            cx.clients
                                .ec2
                                .create_tags()
                                .resources(&id)
                                .set_tags(Some(super::ec2_tags::create_tags(cx, t)))
                                .send()
                        })
                        .await?;
                        // Its description (empty on a default rule) is set to the plan's.
                        let live = t.made(id);
                        self.modify(cx, &live, t, &["description".to_string()])
                            .await
                    }
                    None => Err(e),
                }
            }
            other => other,
        }
    }

    async fn read(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        self.read_env(cx, scope).await
    }

    async fn read_untagged(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        let groups = super::security_group::env_groups(cx, scope.owner).await?;
        let ids: Vec<String> = groups
            .iter()
            .filter(|g| read_tags(g.tags(), scope.owner).is_some())
            .filter_map(|g| g.group_id().map(String::from))
            .collect();
        let mut out = Vec::new();
        // EC2 takes at most 200 values per filter.
        for chunk in ids.chunks(200) {
            let filter = aws_sdk_ec2::types::Filter::builder()
                .name("group-id")
                .set_values(Some(chunk.to_vec()))
                .build();
            let rules = cx
                .all("DescribeSecurityGroupRules", || {
                    cx.clients
                        .ec2
                        .describe_security_group_rules()
                        .filters(filter.clone())
                        .max_results(1000)
                        .into_paginator()
                        .items()
                        .send()
                })
                .await?;
            out.extend(
                rules
                    .iter()
                    .filter(|r| {
                        !r.tags()
                            .iter()
                            .any(|t| t.key() == Some(crate::model::TAG_ENV))
                    })
                    .filter_map(|r| live_rule(r, None, json!({}))),
            );
        }
        Ok(out)
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        t: &Target<'_>,
        changed: &[String],
    ) -> Result<Live, AwsError> {
        self.modify(cx, live, t, changed).await
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        self.revoke(cx, live).await
    }
}

impl SecurityGroupRule {
    /// An untagged rule of the group with the same direction, protocol, ports and peer.
    async fn find_untagged(&self, cx: &Cx, t: &Target<'_>) -> Result<Option<String>, AwsError> {
        let group = str_prop(t.props, "group_id")?;
        let filter = aws_sdk_ec2::types::Filter::builder()
            .name("group-id")
            .values(group)
            .build();
        let rules = cx
            .call("DescribeSecurityGroupRules", || {
                cx.clients
                    .ec2
                    .describe_security_group_rules()
                    .filters(filter.clone())
                    .send()
            })
            .await?;
        Ok(rules
            .security_group_rules()
            .iter()
            .filter(|r| {
                !r.tags()
                    .iter()
                    .any(|t| t.key() == Some(crate::model::TAG_ADDRESS))
            })
            .find(|r| {
                r.is_egress() == Some(is_egress(t.props))
                    && r.ip_protocol() == Some(opt_str(t.props, "protocol").unwrap_or("-1"))
                    && r.from_port().unwrap_or(-1) == port(t.props, "from_port")
                    && r.to_port().unwrap_or(-1) == port(t.props, "to_port")
                    && r.cidr_ipv4() == opt_str(t.props, "cidr")
                    && r.referenced_group_info().and_then(|g| g.group_id())
                        == opt_str(t.props, "source_group_id")
            })
            .and_then(|r| r.security_group_rule_id().map(String::from)))
    }

    async fn authorize(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        let group = str_prop(t.props, "group_id")?;
        let spec = tag_spec(ResourceType::SecurityGroupRule, cx, t);
        let rules = if is_egress(t.props) {
            cx.clients
                .ec2
                .authorize_security_group_egress()
                .group_id(group)
                .ip_permissions(permission(t.props))
                .tag_specifications(spec)
                .send()
                .await
                .aws("AuthorizeSecurityGroupEgress")?
                .security_group_rules
        } else {
            cx.clients
                .ec2
                .authorize_security_group_ingress()
                .group_id(group)
                .ip_permissions(permission(t.props))
                .tag_specifications(spec)
                .send()
                .await
                .aws("AuthorizeSecurityGroupIngress")?
                .security_group_rules
        };
        let id = rules
            .unwrap_or_default()
            .first()
            .and_then(|r| r.security_group_rule_id().map(String::from))
            .ok_or_else(|| AwsError::local("AuthorizeSecurityGroup", "no rule id returned"))?;
        Ok(t.made(id))
    }

    async fn read_env(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        let rules = cx
            .all("DescribeSecurityGroupRules", || {
                let call = cx.clients.ec2.describe_security_group_rules();
                let call = call.filters(env_filter(scope.owner)).max_results(1000);
                call.into_paginator().items().send()
            })
            .await?;
        Ok(rules
            .iter()
            .filter_map(|r| {
                let (address, tags) = read_tags(r.tags(), scope.owner)?;
                live_rule(r, address, tags)
            })
            .collect())
    }

    async fn modify(
        &self,
        cx: &Cx,
        live: &Live,
        t: &Target<'_>,
        changed: &[String],
    ) -> Result<Live, AwsError> {
        if changed.iter().any(|c| c != "tags") {
            let request = SecurityGroupRuleRequest::builder()
                .ip_protocol(opt_str(t.props, "protocol").unwrap_or("-1"))
                .from_port(port(t.props, "from_port"))
                .to_port(port(t.props, "to_port"))
                .set_cidr_ipv4(opt_str(t.props, "cidr").map(String::from))
                .set_referenced_group_id(opt_str(t.props, "source_group_id").map(String::from))
                .set_description(opt_str(t.props, "description").map(String::from))
                .build();
            let update = SecurityGroupRuleUpdate::builder()
                .security_group_rule_id(&live.id)
                .security_group_rule(request)
                .build();
            cx.retry(|| async {
                cx.clients
                    .ec2
                    .modify_security_group_rules()
                    .group_id(str_prop(t.props, "group_id")?)
                    .security_group_rules(update.clone())
                    .send()
                    .await
                    .aws("ModifySecurityGroupRules")
            })
            .await?;
        }
        update_tags(cx, live, t).await
    }

    async fn revoke(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let group = str_prop(&live.props, "group_id")?;
        let address = live.address.as_deref().unwrap_or(&live.id);
        let result = if is_egress(&live.props) {
            delete_call(cx, address, "RevokeSecurityGroupEgress", || {
                cx.clients
                    .ec2
                    .revoke_security_group_egress()
                    .group_id(group)
                    .security_group_rule_ids(&live.id)
                    .send()
            })
            .await
        } else {
            delete_call(cx, address, "RevokeSecurityGroupIngress", || {
                cx.clients
                    .ec2
                    .revoke_security_group_ingress()
                    .group_id(group)
                    .security_group_rule_ids(&live.id)
                    .send()
            })
            .await
        };
        // A rule whose group is gone is gone too.
        match result {
            Err(e)
                if e.code.starts_with("InvalidGroup")
                    || e.code.starts_with("InvalidPermission") =>
            {
                Ok(())
            }
            other => other,
        }
    }
}
