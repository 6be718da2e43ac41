//! What the cloud has: a resource infra reads back, and what others made
//! that infra must clear away.

use serde::{Deserialize, Serialize};

use super::{Outputs, Props};

/// A resource as the cloud has it: its id, the properties infra compares (in
/// the same shape as the desired ones) and its outputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Live {
    pub id: String,
    /// The `infra:address` tag, for kinds that carry tags.
    pub address: Option<String>,
    pub props: Props,
    pub outputs: Outputs,
}

impl Live {
    /// A resource read back: `props` as JSON (an object; anything else reads
    /// as no properties).
    pub fn found(
        id: impl Into<String>,
        address: Option<String>,
        props: serde_json::Value,
        outputs: Outputs,
    ) -> Live {
        Live {
            id: id.into(),
            address,
            props: match props {
                serde_json::Value::Object(map) => map,
                _ => Props::new(),
            },
            outputs,
        }
    }

    /// The same resource with the properties an update left it with.
    pub fn with_props(&self, props: Props) -> Live {
        Live {
            props,
            ..self.clone()
        }
    }
}

/// Something a controller made in the env (a load balancer, an instance,
/// a DNS record) that blocks a delete of infra's; cleared before destroy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutOfBand {
    pub kind: String,
    pub id: String,
    pub why: String,
}
