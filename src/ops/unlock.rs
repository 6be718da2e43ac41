//! `infra force-unlock`: who holds the lock or lease, and breaking it.

use super::*;

/// `infra force-unlock`, first half: who holds the lock `lock_id` names,
/// and whether they still run.
pub fn lock_status(
    opts: &EnvOptions,
    lock_id: &str,
) -> Result<(crate::state::LockHolder, bool), Error> {
    if let Some(loaded) = remote_plan(opts)? {
        let remote = remote_of(opts, &loaded)?;
        return Ok(block_on(remote.lease_status(lock_id))?);
    }
    let mut state = StateStore::open_existing(&opts.state_path())?;
    let Some(holder) = state.holder()? else {
        return Err(StateError::NotLocked.into());
    };
    if holder.lock_id != lock_id {
        return Err(StateError::WrongLockId {
            given: lock_id.into(),
            held: holder.lock_id,
        }
        .into());
    }
    let alive = state.holder_alive(&holder)?;
    Ok((holder, alive))
}

/// `infra force-unlock`.
pub fn force_unlock(opts: &EnvOptions, lock_id: &str) -> Result<String, Error> {
    if let Some(loaded) = remote_plan(opts)? {
        // With the S3 backend the lease is the lock: break it by its id.
        let remote = remote_of(opts, &loaded)?;
        return Ok(block_on(remote.force_unlock(lock_id))?);
    }
    let mut state = StateStore::open_existing(&opts.state_path())?;
    Ok(state.force_unlock(lock_id)?.to_string())
}
