//! A KMS alias (`alias/<name>`), read from the account's alias list.

use async_trait::async_trait;
use serde_json::json;

use super::{Kind, Live, ReadScope, Target, id_outputs, str_prop};
use crate::aws::GoneIsDone;
use crate::aws::{AwsError, Cx, SdkResultExt};
use crate::model::{KindInfo, NaturalKey, Resend, Tagging, Tier};

pub struct KmsAlias;

pub(super) const INFO: KindInfo = KindInfo {
    name: "KmsAlias",
    tier: Tier::Kms,
    replace_fields: &["name"],
    natural_key: NaturalKey::Fields(&["name"]),
    tagging: Tagging::None,
    // Resent safely: the alias name.
    resend: Resend::Unique,
    ..KindInfo::BASE
};

#[async_trait]
impl Kind for KmsAlias {
    async fn create(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        let name = str_prop(t.props, "name")?;
        cx.clients
            .kms
            .create_alias()
            .alias_name(name)
            .target_key_id(str_prop(t.props, "target_key_id")?)
            .send()
            .await
            .aws("CreateAlias")?;
        Ok(t.made_with(name.to_string(), id_outputs(name)))
    }

    async fn read(&self, cx: &Cx, _scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        let aliases = cx
            .all("ListAliases", || {
                cx.clients
                    .kms
                    .list_aliases()
                    .limit(100)
                    .into_paginator()
                    .items()
                    .send()
            })
            .await?;
        Ok(aliases
            .into_iter()
            .filter_map(|a| {
                let name = a.alias_name()?.to_string();
                let key = a.target_key_id()?.to_string();
                let props = json!({ "name": name, "target_key_id": key });
                Some(Live::found(name.clone(), None, props, id_outputs(&name)))
            })
            .collect())
    }

    async fn update(
        &self,
        cx: &Cx,
        live: &Live,
        t: &Target<'_>,
        _changed: &[String],
    ) -> Result<Live, AwsError> {
        let key = str_prop(t.props, "target_key_id")?;
        cx.call("UpdateAlias", || {
            cx.clients
                .kms
                .update_alias()
                .alias_name(&live.id)
                .target_key_id(key)
                .send()
        })
        .await?;
        Ok(live.with_props(t.props.clone()))
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        cx.call("DeleteAlias", || {
            cx.clients.kms.delete_alias().alias_name(&live.id).send()
        })
        .await
        .gone_is_done()
    }
}
