//! DB parameter groups (for instances) and DB cluster parameter groups (for
//! Aurora): alike but for their calls, so one `Kind` serves both.

use async_trait::async_trait;
use aws_sdk_rds::types::{ApplyMethod, Parameter};
use serde_json::{Value, json};

use super::{Described, Kind, Live, ReadScope, Target, opt_str, str_prop};
use crate::aws::{AwsError, Cx, OrMissing};
use crate::model::{Outputs, Owner, Props};

use super::rds_common::{Claim, group_claim, name_outputs, taken_by, update_group};
use super::rds_database::arn_output;

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
pub trait ParameterGroupApi: Described + Send + Sync {
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
fn keeps_arn<A: ParameterGroupApi>(api: &A) -> bool {
    api.description().outputs.contains(&"arn")
}

fn group_outputs<A: ParameterGroupApi>(api: &A, name: &str, arn: &str) -> Outputs {
    let mut outputs = name_outputs(name);
    if keeps_arn(api) {
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

/// The ARN of a group a create found already there (`taken`: the create's
/// error), for the kinds that keep it; a group tagged for another project
/// or env is refused.
async fn adopted_arn<A: ParameterGroupApi>(
    api: &A,
    cx: &Cx,
    name: &str,
    taken: AwsError,
) -> Result<String, AwsError> {
    let Some(found) = api.describe(cx, name).await.or_missing()?.flatten() else {
        return Err(taken);
    };
    if let Claim::Elsewhere(other) = group_claim(cx, &found.arn, cx.owner()).await? {
        return Err(taken_by(taken, "parameter group", name, &other));
    }
    Ok(if keeps_arn(api) {
        found.arn
    } else {
        String::new()
    })
}

/// The ARN an update re-tags: the output, or the group described.
async fn arn_to_retag<A: ParameterGroupApi>(
    api: &A,
    cx: &Cx,
    live: &Live,
) -> Result<String, AwsError> {
    if keeps_arn(api) {
        return arn_output(live).await;
    }
    let found = api.describe(cx, &live.id).await?;
    Ok(found.map(|g| g.arn).unwrap_or_default())
}

/// One group by name, with the parameters `props` sets; `None` when it is
/// not there, or (`known` false: state does not know it) when its tags say
/// another project's or env's.
async fn read_parameter_group<A: ParameterGroupApi>(
    api: &A,
    cx: &Cx,
    name: &str,
    props: &Props,
    (owner, known): (Owner<'_>, bool),
) -> Result<Option<Live>, AwsError> {
    let Some(g) = api.describe(cx, name).await.or_missing()?.flatten() else {
        return Ok(None);
    };
    let claim = group_claim(cx, &g.arn, owner).await?;
    if !known && matches!(claim, Claim::Elsewhere(_)) {
        return Ok(None);
    }
    let params = api.user_parameters(cx, name).await?;
    let mut read = json!({
        "name": name,
        "family": g.family,
        "description": g.description,
        "parameters": planned_values(props, &params),
    });
    if let Claim::Ours(tags) = claim {
        read["tags"] = tags;
    }
    let outputs = group_outputs(api, name, &g.arn);
    Ok(Some(Live::found(name.to_string(), None, read, outputs)))
}

#[async_trait]
impl<A: ParameterGroupApi> Kind for A {
    async fn arn(&self, cx: &Cx, name: &str) -> Result<Option<String>, AwsError> {
        let group = ParameterGroupApi::describe(self, cx, name).await?;
        Ok(group.map(|g| g.arn).filter(|a| !a.is_empty()))
    }

    async fn create(&self, cx: &Cx, t: &Target<'_>) -> Result<Live, AwsError> {
        let name = str_prop(t.props, "name")?;
        let arn = match ParameterGroupApi::create(self, cx, t, name).await {
            Ok(arn) => arn,
            // Named, so a run killed after this call finds it here: same name,
            // adopted, unless another project or env claims it.
            Err(e) if e.code.contains("AlreadyExists") => adopted_arn(self, cx, name, e).await?,
            Err(e) => return Err(e),
        };
        set_parameters(self, cx, name, t.props).await?;
        Ok(t.made_with(name.to_string(), group_outputs(self, name, &arn)))
    }

    async fn read(&self, cx: &Cx, scope: &ReadScope<'_>) -> Result<Vec<Live>, AwsError> {
        let mut out = Vec::new();
        // Only the groups state knows: parameters need one call per group.
        for known in &scope.known {
            let read = read_parameter_group(self, cx, &known.id, &known.props, (scope.owner, true));
            out.extend(read.await?);
        }
        Ok(out)
    }

    async fn lookup(&self, cx: &Cx, resolved: &Props) -> Result<Option<Live>, AwsError> {
        let Some(name) = opt_str(resolved, "name") else {
            return Ok(None);
        };
        read_parameter_group(self, cx, name, resolved, (cx.owner(), false)).await
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
        cx.delete_in_use_with(&live.id, A::IN_USE, || {
            ParameterGroupApi::delete(self, cx, &live.id)
        })
        .await
    }
}
