//! Plan review: what the env costs a month now and after the plan, and the
//! guardrails' findings on the desired resources. Both are computed from the
//! plan file and state alone, before anything is applied.

use std::collections::HashMap;

use crate::config::{InvalidPlan, LoadedPlan};
use crate::cost::{self, CostChange, Date, Priced};
use crate::model::Desired;
use crate::policy::{self, Finding};
use crate::state::StateResource;

/// Every check on the desired resources, with the plan's `[policy]`.
pub fn policy_findings(loaded: &LoadedPlan, resources: &[Desired]) -> Vec<Finding> {
    let today = Date::today();
    let settings = loaded.file.policy_settings();
    let has_budget = loaded.file.cost_settings().budget_monthly_usd.is_some();
    policy::evaluate(resources, &loaded.env, &settings, has_budget, today)
}

/// Denied findings are invalid input: each names its check, the resource,
/// the field, the line of the plan it comes from, and how to waive it.
pub fn enforce(loaded: &LoadedPlan, findings: &[Finding]) -> Result<(), InvalidPlan> {
    let errors: Vec<_> = findings
        .iter()
        .filter(|f| f.blocks())
        .map(|f| {
            let ids = [f.checkov, f.trivy].into_iter().flatten().collect::<Vec<_>>().join(" / ");
            let expired = f.expired_waiver.as_ref().map(|d| format!(" (its waiver expired on {d})")).unwrap_or_default();
            let span = f.span.clone().or_else(|| loaded.file.cost.as_ref().filter(|_| f.address == "env").map(|c| c.span()));
            loaded.error(
                format!(
                    "policy {} ({ids}) denies {}.{}: {}{expired}; fix it, or waive it with a reason: [[policy.waiver]] id = \"{}\", resource = \"{}\", reason = \"…\", expires = \"YYYY-MM-DD\"",
                    f.check, f.address, f.field, f.message, f.check, f.address
                ),
                span,
            )
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(loaded.invalid(errors))
    }
}

/// The env's monthly cost as last applied (state) and as the plan wants it.
/// `today` picks the EKS support rate (a version past standard support costs more).
pub fn cost_change<'a>(
    loaded: &LoadedPlan,
    desired: impl IntoIterator<Item = &'a Desired>,
    rows: &HashMap<String, StateResource>,
    today: Date,
) -> CostChange {
    let settings = loaded.file.cost_settings();
    let region = loaded.file.region.get_ref();
    let mut applied: Vec<&StateResource> = rows.values().collect();
    applied.sort_by(|a, b| a.address.cmp(&b.address));
    let before = cost::estimate(
        applied.iter().map(|r| Priced {
            address: &r.address,
            kind: &r.kind,
            props: &r.props,
        }),
        region,
        &settings,
        today,
    );
    let after = cost::estimate(
        desired.into_iter().map(|d| Priced {
            address: &d.address,
            kind: &d.kind,
            props: &d.props,
        }),
        region,
        &settings,
        today,
    );
    cost::compare(&before, &after, settings.budget_monthly_usd)
}
