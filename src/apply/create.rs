//! A create that cannot duplicate. Throttled calls are sent again; a call
//! whose outcome is unknown (5xx, lost response) is first looked up by its
//! tags or natural key, and adopted when it turns out to have happened. A
//! kind with no idempotency token and no unique name (a VPC, a KMS key) is
//! looked up with backoff for a bounded time before it is sent again: EC2
//! and KMS list a new resource only after a while (see [`Resend`]).

use std::time::{Duration, Instant};

use crate::aws::kinds::{Kind, Live, ReadScope, Resend, Target, made_for};
use crate::aws::{AwsError, Budget, Cx, ErrorClass, backoff};
use crate::diff::field_changes;
use crate::report::Event;

pub async fn create(kind: &dyn Kind, cx: &Cx, target: &Target<'_>) -> Result<Live, AwsError> {
    let budget = Budget::new(cx.timeouts.retry_budget);
    let started = std::time::Instant::now();
    let mut attempt = 0;
    let mut unanswered = 0;
    loop {
        let error = match kind.create(cx, target).await {
            Ok(live) => return Ok(live),
            Err(e) => e,
        };
        if budget.expired()
            || !(error.is_retryable() || error.class == ErrorClass::NotYetConsistent)
        {
            return Err(error);
        }
        if error.class == ErrorClass::Transport {
            unanswered += 1;
        }
        attempt += 1;
        if error.maybe_applied() {
            let found = match kind.resend() {
                Resend::LookUp => {
                    find_until(kind, cx, target, cx.timeouts.lost_create_lookup).await?
                }
                Resend::Token | Resend::Unique => find(kind, cx, target).await?,
            };
            if let Some(found) = found {
                cx.reporter.report(Event::Progress {
                    address: target.address.to_string(),
                    message: format!("{} left the outcome unknown; found the resource by its identity and adopted it", error.code),
                    elapsed: std::time::Duration::ZERO,
                });
                kind.adopted(cx, &found).await?;
                return converge(kind, cx, target, found).await;
            }
        }
        if unanswered > cx.timeouts.transport_retries {
            return Err(AwsError {
                message: format!("{} (no answer after {unanswered} tries)", error.message),
                ..error
            });
        }
        let wait = backoff(attempt);
        match error.class {
            ErrorClass::NotYetConsistent => cx.reporter.report(Event::Progress {
                address: target.address.to_string(),
                message: format!(
                    "{}: {}; waiting up to {}",
                    error.code,
                    error.message,
                    crate::aws::human(cx.timeouts.retry_budget)
                ),
                elapsed: started.elapsed(),
            }),
            ErrorClass::Throttled if attempt < 3 => {}
            _ => cx.reporter.report(Event::Retrying {
                operation: error.operation.clone(),
                error: format!(
                    "{}: {}",
                    error.code,
                    error
                        .message
                        .rsplit(": ")
                        .next()
                        .unwrap_or_default()
                        .chars()
                        .take(160)
                        .collect::<String>()
                ),
                attempt: if error.class == ErrorClass::Transport {
                    unanswered
                } else {
                    attempt
                },
                max: (error.class == ErrorClass::Transport)
                    .then_some(cx.timeouts.transport_retries),
                wait,
            }),
        }
        tokio::time::sleep(wait).await;
    }
}

/// Looks for the resource a create may have made: the kind's own lookup
/// from the create's properties (kinds whose read covers only what state
/// knows, or misses a half-made resource), then its batched read.
pub async fn find(kind: &dyn Kind, cx: &Cx, target: &Target<'_>) -> Result<Option<Live>, AwsError> {
    if let Some(live) = cx.retry(|| kind.lookup(cx, target.props)).await?
        && made_for(kind, &cx.project, target.address, target.props, &live)
    {
        return Ok(Some(live));
    }
    let scope = ReadScope {
        owner: cx.owner(),
        known: Vec::new(),
    };
    let found = cx.retry(|| kind.read(cx, &scope)).await?;
    Ok(found
        .into_iter()
        .find(|l| made_for(kind, &cx.project, target.address, target.props, l)))
}

/// [`find`] again and again, with backoff, until it finds the resource or
/// `limit` has passed: a just-made VPC or KMS key may not be listed yet, and
/// sending the create again would make a second one.
async fn find_until(
    kind: &dyn Kind,
    cx: &Cx,
    target: &Target<'_>,
    limit: Duration,
) -> Result<Option<Live>, AwsError> {
    let started = Instant::now();
    let mut wait = Duration::from_millis(500);
    loop {
        if let Some(found) = find(kind, cx, target).await? {
            return Ok(Some(found));
        }
        let left = limit.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Ok(None);
        }
        let wait_now = wait.min(left);
        cx.reporter.report(Event::Progress {
            address: target.address.to_string(),
            message: format!(
                "not listed yet after a lost answer; looking again in {:.1}s (up to {} before sending the create again)",
                wait_now.as_secs_f64(),
                crate::aws::human(limit)
            ),
            elapsed: started.elapsed(),
        });
        tokio::time::sleep(wait_now).await;
        wait = (wait * 2).min(Duration::from_secs(8));
    }
}

/// Brings an adopted resource to the target with an in-place update when
/// a create's later calls (attributes, attachments) did not all happen.
async fn converge(
    kind: &dyn Kind,
    cx: &Cx,
    target: &Target<'_>,
    found: Live,
) -> Result<Live, AwsError> {
    let seen = crate::diff::comparable(&found.props, target.props, None);
    let changes: Vec<String> = field_changes(&seen, target.props, kind.replace_fields())
        .into_iter()
        .filter(|c| !c.forces_replacement)
        .map(|c| c.field)
        .collect();
    if changes.is_empty() {
        return Ok(Live {
            props: target.props.clone(),
            ..found
        });
    }
    kind.update(
        cx,
        &Live {
            props: seen,
            ..found
        },
        target,
        &changes,
    )
    .await
}
