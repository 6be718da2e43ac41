//! `infra output` and `infra cost`: read from state, no cloud.

use super::*;

/// `infra output`: the named outputs recorded in state when a run ended.
/// State alone: no plan file, no cloud (with the S3 backend, the plan file
/// says where state lives and the state object is read). A state written by
/// an older infra (no outputs recorded) is read through the plan file when
/// it is there.
pub fn outputs(opts: &EnvOptions) -> Result<crate::outputs::NamedOutputs, Error> {
    let (state, path) = match remote_plan(opts)? {
        Some(loaded) => {
            let url = s3_location(opts, &loaded)?
                .map(|l| l.url(&l.state_key()))
                .unwrap_or_default();
            let (state, existed) = read_state_blocking(opts, &loaded)?;
            if !existed {
                return Err(Error::NeverApplied {
                    env: opts.env.clone(),
                    path: url.into(),
                    why: "no such object".into(),
                });
            }
            (state, PathBuf::from(url))
        }
        None => {
            let path = opts.state_path();
            if !path.exists() {
                return Err(Error::NeverApplied {
                    env: opts.env.clone(),
                    path,
                    why: "no such file".into(),
                });
            }
            (StateStore::open_existing(&path)?, path)
        }
    };
    let never = |why: &str| Error::NeverApplied {
        env: opts.env.clone(),
        path: path.clone(),
        why: why.into(),
    };
    // No plan file here, so the env (from the command) is what can be checked.
    if let Some(owner) = state.owner()?
        && owner.env != opts.env
    {
        return Err(StateError::WrongOwner {
            path: path.clone(),
            field: "env",
            recorded: owner.env,
            given: opts.env.clone(),
        }
        .into());
    }
    let rows = state_map(&state)?;
    if rows.is_empty() {
        return Err(never("it holds no resources"));
    }
    if let Some(recorded) = state.named_outputs()? {
        return Ok(recorded);
    }
    let prepared = prepare(opts).map_err(|_| Error::OutputsNotRecorded {
        env: opts.env.clone(),
        path: path.clone(),
    })?;
    let lookup = |r: &crate::model::Ref| {
        rows.get(&r.address)
            .and_then(|s| s.outputs.get(&r.output).cloned())
    };
    Ok(crate::outputs::resolve_named(
        &prepared.expanded.outputs,
        &lookup,
    ))
}

/// `infra cost`: the monthly estimate from state (now) and the plan file (after).
pub fn cost(
    opts: &EnvOptions,
    prepared: &Prepared,
    on: crate::cost::Date,
) -> Result<crate::cost::CostChange, Error> {
    let rows = match read_state_blocking(opts, &prepared.loaded)? {
        (state, true) => state_map(&state)?,
        (_, false) => HashMap::new(),
    };
    Ok(crate::review::cost_change(
        &prepared.loaded,
        prepared.graph.resources(),
        &rows,
        on,
    ))
}
