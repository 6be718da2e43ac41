//! `[resources."<address>"]`: resources of any kind with explicit references.

use super::Expanded;
use crate::config::LoadedPlan;

pub fn expand(plan: &LoadedPlan, out: &mut Expanded) {
    for (address, res) in &plan.file.resources {
        let r = res.get_ref();
        let props = serde_json::to_value(&r.props).unwrap_or_default();
        out.add(
            address.clone(),
            &r.kind,
            props,
            &format!("resources.\"{address}\""),
            Some(res.span()),
        );
        if let Some(last) = out.resources.last_mut() {
            last.protect = r.protect;
        }
    }
}
