//! infra: a provisioner for an EKS platform on AWS.
//!
//! The flow is one way: plan file → [`config`] → [`expand`] → [`graph`] →
//! refresh + [`state`] → [`diff`] → render, or [`apply`]. See README.md.

pub mod aws;
pub mod config;
pub mod expand;
pub mod graph;
pub mod model;
pub mod report;
pub mod state;
pub mod apply;
pub mod diff;
pub mod data_loss;
pub mod review;
pub mod refresh;
pub mod adopt;
pub mod ops;
pub mod outputs;
pub mod by_hand;
pub mod cli;
pub mod exit;
pub mod drift;
pub mod sweep;
pub mod picture;
pub mod cost;
pub mod policy;
