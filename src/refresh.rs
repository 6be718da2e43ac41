//! Reads the cloud: one batched read per kind, all kinds at once, then
//! matches what was found to addresses (by the `infra:address` tag, or by a
//! kind's natural key for the few kinds AWS cannot tag).

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use crate::aws::kinds::{Live, ReadScope, Registry};
use crate::aws::{AwsError, Cx};
use crate::model::Props;
use crate::report::Event;
use crate::state::StateResource;

/// What the cloud holds for this env.
#[derive(Debug, Default)]
pub struct Observed {
    pub kinds: BTreeSet<String>,
    /// Found resources by address.
    pub live: HashMap<String, Live>,
    /// Tagged with this env but matching no address in state: orphans, or
    /// resources an interrupted run created (adopted when the plan wants them).
    pub untracked: Vec<(String, Live)>,
    /// Untagged kinds' resources that matched nothing, by kind and natural key.
    pub by_key: HashMap<(String, String), Live>,
    /// Untagged resources of tagged kinds on the env's own resources (rules
    /// added by hand to its security groups); see [`crate::by_hand`].
    pub attached: Vec<(String, Live)>,
}

impl Observed {
    /// Finds a resource the plan wants that state does not know: by tag, or
    /// by its natural key computed from resolved properties.
    pub fn find_unrecorded(
        &self,
        registry: &Registry,
        kind: &str,
        address: &str,
        resolved: &Props,
    ) -> Option<Live> {
        if let Some((_, live)) = self
            .untracked
            .iter()
            .find(|(k, l)| k == kind && l.address.as_deref() == Some(address))
        {
            return Some(live.clone());
        }
        let key = registry.get(kind)?.natural_key(resolved)?;
        self.by_key.get(&(kind.to_string(), key)).cloned()
    }
}

pub async fn refresh(
    cx: &Cx,
    registry: &Registry,
    kinds: BTreeSet<String>,
    state: &HashMap<String, StateResource>,
) -> Result<Observed, AwsError> {
    let cx = &cx.with_read_cache();
    let reads = kinds
        .iter()
        .filter_map(|name| registry.get(name))
        .map(|kind| async move {
            let known: Vec<&StateResource> =
                state.values().filter(|s| s.kind == kind.name()).collect();
            let started = Instant::now();
            let scope = ReadScope {
                owner: cx.owner(),
                known,
            };
            let (found, untagged) =
                futures::join!(kind.read(cx, &scope), kind.read_untagged(cx, &scope));
            let found = found.and_then(|f| Ok((f, untagged?)));
            if let Ok((found, _)) = &found {
                cx.reporter.report(Event::Refreshed {
                    kind: kind.name().to_string(),
                    found: found.len(),
                    elapsed: started.elapsed(),
                });
            }
            found.map(|f| (kind, f))
        });
    // The first read that fails ends the refresh: the others are dropped
    // rather than waited for (an endpoint gone away fails once, not per kind).
    let results = futures::future::try_join_all(reads).await?;
    let mut observed = Observed {
        kinds,
        ..Default::default()
    };
    for (kind, (found, untagged)) in results {
        observed
            .attached
            .extend(untagged.into_iter().map(|l| (kind.name().to_string(), l)));
        let mut keyed: HashMap<String, &StateResource> = HashMap::new();
        for s in state.values().filter(|s| s.kind == kind.name()) {
            if let Some(k) = kind.natural_key(&s.props) {
                keyed.insert(k, s);
            }
        }
        for live in found {
            let key = kind.natural_key(&live.props);
            if key.is_none() && crate::model::project_of(&live.props).is_none() {
                // Made before projects were tagged: ours only if state holds
                // this very resource (then the diff adds the tag). Never
                // adopted or pruned by its address alone: another project's
                // env of the same name may have made it.
                if let Some(address) = live.address.clone().filter(|a| {
                    state
                        .get(a)
                        .is_some_and(|s| s.kind == kind.name() && s.id == live.id)
                }) {
                    observed.live.entry(address).or_insert(live);
                }
                continue;
            }
            if key.is_none() {
                // A tagged kind: matched by its address tag. Carrying the env
                // tag without an address, or an address state does not know,
                // makes it untracked (an orphan, or a create to adopt).
                let known = live
                    .address
                    .as_ref()
                    .is_some_and(|a| state.get(a).is_some_and(|s| s.kind == kind.name()));
                match live.address.clone() {
                    Some(address) if known && !observed.live.contains_key(&address) => {
                        observed.live.insert(address, live);
                    }
                    _ => observed.untracked.push((kind.name().to_string(), live)),
                }
            } else if let Some(key) = key {
                match keyed.get(&key) {
                    Some(s) => {
                        let live = Live {
                            address: Some(s.address.clone()),
                            ..live
                        };
                        observed.live.insert(s.address.clone(), live);
                    }
                    None => {
                        observed.by_key.insert((kind.name().to_string(), key), live);
                    }
                }
            }
        }
    }
    Ok(observed)
}
