//! The state lease's fence on cloud calls (S3 backend): once the run's lease
//! is lost or has run out unrenewed, every mutating AWS call is refused
//! before it is sent — not only new actions, but the next call of an action
//! already running (a suspended laptop that wakes up makes no further change).

use std::sync::{Arc, RwLock};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// What the fence asks before each mutating call: the state lease (held
/// by the state store, which the cloud layer does not know).
pub trait Guard: Send + Sync {
    /// `Err(why)` once no mutating call may be sent.
    fn check(&self) -> Result<(), String>;
}

static LEASE: RwLock<Option<Arc<dyn Guard>>> = RwLock::new(None);

/// Fences this process's cloud calls with `lease` (until [`clear`]).
pub fn install(lease: Arc<dyn Guard>) {
    *LEASE.write().expect("fence") = Some(lease);
}

pub fn clear() {
    *LEASE.write().expect("fence") = None;
}

/// Reads (Describe/List/Get) always pass: they change nothing.
fn is_read(operation: &str) -> bool {
    ["Describe", "List", "Get", "Head", "Lookup"]
        .iter()
        .any(|p| operation.starts_with(p))
}

#[derive(Debug, thiserror::Error)]
#[error("not sent: this run lost its state lease ({0})")]
pub struct Fenced(pub String);

/// The fence's refusal, when it is what failed `err`.
pub fn refusal<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a Fenced> {
    std::iter::successors(Some(err), |e| e.source()).find_map(|e| e.downcast_ref::<Fenced>())
}

#[derive(Debug, Default)]
pub struct Fence;

impl Intercept for Fence {
    fn name(&self) -> &'static str {
        "infra-lease-fence"
    }

    // Just before the request goes out (the smallest window between the
    // check and the send). Not `read_before_execution`: client interceptors
    // run that hook before the operation's configuration is applied, so the
    // operation's name is not known there yet (every call went through).
    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(lease) = LEASE.read().expect("fence").clone() else {
            return Ok(());
        };
        // An operation that cannot be named is let through: the fence must
        // never stop a read.
        let Some(operation) = cfg.load::<Metadata>().map(|m| m.name().to_string()) else {
            return Ok(());
        };
        if is_read(&operation) {
            return Ok(());
        }
        match lease.check() {
            Ok(()) => Ok(()),
            Err(why) => {
                tracing::debug!(target: "infra::aws", operation, "not sent: the state lease is lost or ran out");
                Err(Box::new(Fenced(why)))
            }
        }
    }
}
