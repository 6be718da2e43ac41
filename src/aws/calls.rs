//! Each AWS call as one log line under the `infra::aws` target (shown by
//! `-v` or `INFRA_LOG=infra::aws=debug`): service, operation, duration, HTTP
//! status and outcome. Request and response contents are never logged, so
//! neither are credentials. Infra's own retries log under the same target.

use std::time::Instant;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

/// The interceptor every client gets.
#[derive(Debug, Clone, Copy)]
pub struct CallLog;

#[derive(Debug, Clone)]
struct Started(Instant);

impl Storable for Started {
    type Storer = StoreReplace<Self>;
}

impl Intercept for CallLog {
    fn name(&self) -> &'static str {
        "infra::CallLog"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().store_put(Started(Instant::now()));
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if !tracing::enabled!(target: "infra::aws", tracing::Level::DEBUG) {
            return Ok(());
        }
        let ms = cfg
            .load::<Started>()
            .map(|s| s.0.elapsed().as_millis() as u64)
            .unwrap_or_default();
        let (service, operation) = cfg
            .load::<Metadata>()
            .map(|m| (m.service().to_string(), m.name().to_string()))
            .unwrap_or_default();
        let status = context.response().map(|r| r.status().as_u16());
        match context.output_or_error() {
            Some(Ok(_)) => {
                tracing::debug!(target: "infra::aws", service, operation, ms, status, "aws call ok")
            }
            Some(Err(e)) => {
                // The kind of failure only (service error, dispatch failure,
                // timeout…): its text can quote the request.
                let kind = format!("{e:?}")
                    .split(['(', ' ', '{'])
                    .next()
                    .unwrap_or_default()
                    .to_string();
                tracing::debug!(target: "infra::aws", service, operation, ms, status, error = kind, "aws call failed")
            }
            None => {
                tracing::debug!(target: "infra::aws", service, operation, ms, status, "aws call ended")
            }
        }
        Ok(())
    }
}
