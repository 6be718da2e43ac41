//! Terraform's state file, format version 4 (what Terraform 0.12 and later
//! and OpenTofu write): read only, never written.

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, Deserialize)]
pub struct TfState {
    pub version: u64,
    pub terraform_version: String,
    #[serde(default)]
    pub serial: u64,
    #[serde(default)]
    pub lineage: String,
    #[serde(default)]
    pub resources: Vec<TfResource>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TfResource {
    #[serde(default)]
    pub module: Option<String>,
    pub mode: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    #[serde(default)]
    pub provider: String,
    #[serde(default)]
    pub instances: Vec<TfInstance>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TfInstance {
    #[serde(default)]
    pub index_key: Option<Value>,
    #[serde(default)]
    pub attributes: Value,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub deposed: Option<String>,
}

/// One resource instance, flattened, with its Terraform address.
#[derive(Debug, Clone)]
pub struct Instance {
    pub address: String,
    pub mode: String,
    pub kind: String,
    pub attributes: Value,
    pub tainted: bool,
    pub deposed: bool,
}

impl Instance {
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).and_then(|v| v.as_str())
    }

    pub fn id(&self) -> &str {
        self.attr("id").unwrap_or_default()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TfError {
    #[error("{path}: cannot read: {why}")]
    Read { path: String, why: String },
    #[error(
        "{path}: not a Terraform state ({why}); give the JSON state file (`terraform state pull > FILE.tfstate`)"
    )]
    NotState { path: String, why: String },
    #[error(
        "{path}: key `version` is {found}; only Terraform state version 4 (Terraform 0.12+ and OpenTofu) can be adopted"
    )]
    Version { path: String, found: u64 },
}

pub fn parse(path: &str, text: &str) -> Result<TfState, TfError> {
    let value: Value = serde_json::from_str(text).map_err(|e| TfError::NotState {
        path: path.into(),
        why: format!("not JSON: {e}"),
    })?;
    let Some(obj) = value.as_object() else {
        return Err(TfError::NotState {
            path: path.into(),
            why: "the top level is not an object".into(),
        });
    };
    for key in ["version", "terraform_version"] {
        if !obj.contains_key(key) {
            return Err(TfError::NotState {
                path: path.into(),
                why: format!("key `{key}` is missing"),
            });
        }
    }
    let version = obj["version"].as_u64().ok_or_else(|| TfError::NotState {
        path: path.into(),
        why: "key `version` is not a number".into(),
    })?;
    if version != 4 {
        return Err(TfError::Version {
            path: path.into(),
            found: version,
        });
    }
    serde_json::from_value(value).map_err(|e| TfError::NotState {
        path: path.into(),
        why: format!("key `resources`: {e}"),
    })
}

impl TfState {
    /// Every instance, current and deposed, with its address.
    pub fn instances(&self) -> Vec<Instance> {
        let mut out = Vec::new();
        for r in &self.resources {
            let prefix = match &r.module {
                Some(m) if !m.is_empty() => format!("{m}."),
                _ => String::new(),
            };
            let data = if r.mode == "data" { "data." } else { "" };
            for i in &r.instances {
                let index = match &i.index_key {
                    Some(Value::String(s)) => format!("[\"{s}\"]"),
                    Some(Value::Number(n)) => format!("[{n}]"),
                    _ => String::new(),
                };
                // As Terraform names it: `ADDR (deposed object KEY)`.
                let deposed = i
                    .deposed
                    .as_ref()
                    .map(|k| format!(" (deposed object {k})"))
                    .unwrap_or_default();
                out.push(Instance {
                    address: format!("{prefix}{data}{}.{}{index}{deposed}", r.kind, r.name),
                    mode: r.mode.clone(),
                    kind: r.kind.clone(),
                    attributes: i.attributes.clone(),
                    tainted: i.status.as_deref() == Some("tainted"),
                    deposed: i.deposed.is_some(),
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_other_versions_and_other_files() {
        assert!(matches!(
            parse("a", r#"{"version": 3, "terraform_version": "0.11.14"}"#),
            Err(TfError::Version { found: 3, .. })
        ));
        assert!(matches!(
            parse("a", r#"{"format_version": 1}"#),
            Err(TfError::NotState { .. })
        ));
        assert!(matches!(
            parse("a", "project = 'x'"),
            Err(TfError::NotState { .. })
        ));
    }

    #[test]
    fn addresses_name_modules_and_index_keys() {
        let s = parse(
            "a",
            r#"{"version": 4, "terraform_version": "1.9.8", "serial": 3, "lineage": "l", "resources": [
              {"module": "module.eks.module.eks_managed_node_group[\"system\"]", "mode": "managed", "type": "aws_eks_node_group", "name": "this",
               "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]", "instances": [{"index_key": 0, "attributes": {"id": "c:system"}}]},
              {"mode": "data", "type": "aws_caller_identity", "name": "current", "instances": [{"attributes": {"id": "1"}}]},
              {"mode": "managed", "type": "aws_subnet", "name": "private", "instances": [{"index_key": 1, "status": "tainted", "attributes": {"id": "s"}}]}
            ]}"#,
        )
        .unwrap();
        let all = s.instances();
        assert_eq!(
            all[0].address,
            "module.eks.module.eks_managed_node_group[\"system\"].aws_eks_node_group.this[0]"
        );
        assert_eq!(all[1].address, "data.aws_caller_identity.current");
        assert!(all[2].tainted);
    }
}
