//! Integration tests: the real `infra` binary against the emulator, checked
//! by asking the emulator with SDK describe calls. Each test has its own env
//! name, plan folder, state file and CIDR, so they run in parallel.

mod access;
mod adopt;
mod aurora;
mod bad_input;
mod cluster;
mod crash;
mod data;
mod destroy;
mod drift;
mod finish;
mod formats;
mod locks;
mod lost_state;
mod network;
mod operator;
mod plan_output;
mod plan_view;
mod preflight;
mod recovery;
mod reference;
mod review;
mod s3state;
mod safety;
mod saved_plans;
mod support;
mod takeover;
#[path = "../fixtures/terraform/generator.rs"]
mod tf_generator;
mod vanished;
