//! Turns a plan file into the desired resources, one module per tier. Each
//! tier only names resources and wires references; it calls no cloud API.

mod access;
mod cluster;
mod custom;
mod database;
mod dns;
mod identity;
mod kms;
mod network;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::config::LoadedPlan;
use crate::model::{Desired, Props};

/// Everything a plan file asks for.
#[derive(Debug, Default)]
pub struct Expanded {
    pub resources: Vec<Desired>,
    /// Named values users and later tiers read (`infra output`).
    pub outputs: BTreeMap<String, Value>,
    /// Things worth a warning in the plan output (a public endpoint open to the world).
    pub warnings: Vec<String>,
}

impl Expanded {
    fn add(
        &mut self,
        address: String,
        kind: &str,
        props: Value,
        origin: &str,
        span: Option<std::ops::Range<usize>>,
    ) {
        let props: Props = match props {
            Value::Object(m) => m,
            other => panic!("expanders build objects, got {other}"),
        };
        self.resources.push(Desired {
            address,
            kind: kind.to_string(),
            props,
            protect: false,
            origin: origin.to_string(),
            span,
        });
    }
}

pub fn expand(plan: &LoadedPlan) -> Expanded {
    let mut out = Expanded::default();
    if let Some(k) = &plan.file.kms {
        kms::expand(plan, k, &mut out);
    }
    if let Some(net) = &plan.file.network {
        network::expand(plan, net, &mut out);
    }
    if let Some(c) = &plan.file.cluster {
        cluster::expand(plan, c, &mut out);
    }
    if plan.file.cluster.is_some() {
        access::expand(plan, std::time::SystemTime::now(), &mut out);
    }
    if let Some(d) = &plan.file.database {
        database::expand(plan, d, &mut out);
    }
    if let Some(d) = &plan.file.dns {
        dns::expand(plan, d, &mut out);
    }
    identity::expand(plan, &mut out);
    custom::expand(plan, &mut out);
    out
}

/// `Name` plus the plan's common tags plus the resource's own.
fn tags(plan: &LoadedPlan, name: &str, extra: &[(&str, &str)]) -> Value {
    let mut t = serde_json::Map::new();
    for (k, v) in &plan.file.tags {
        t.insert(k.clone(), Value::String(v.clone()));
    }
    for (k, v) in extra {
        t.insert(k.to_string(), Value::String(v.to_string()));
    }
    t.insert("Name".into(), Value::String(name.to_string()));
    // Part of the identity, and compared: a resource made before projects
    // were tagged gains it in place.
    t.insert(
        crate::model::TAG_PROJECT.into(),
        Value::String(plan.file.project.clone()),
    );
    Value::Object(t)
}
