//! infra: a provisioner for an EKS platform on AWS.
//!
//! The flow is one way: plan file → [`config`] → [`expand`] → [`graph`] →
//! refresh + [`state`] → [`diff`] → render, or [`apply`]. See README.md.

pub mod adopt;
pub mod apply;
pub mod aws;
pub mod by_hand;
pub mod cli;
pub mod config;
pub mod cost;
pub mod data_loss;
pub mod diff;
pub mod drift;
pub mod exit;
pub mod expand;
pub mod graph;
pub mod model;
pub mod ops;
pub mod outputs;
pub mod picture;
pub mod policy;
pub mod refresh;
pub mod report;
pub mod review;
pub mod state;
pub mod state_transfer;
pub mod sweep;
pub mod takeover;
