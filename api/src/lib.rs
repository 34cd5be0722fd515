//! Tenantry's composition root: configuration, the GraphQL schema, the HTTP
//! server and the CLI. Nothing in production depends on this crate.

pub mod app;
pub mod cli;
pub mod config;
pub mod graphql;
pub mod http;
pub mod jobs;
pub mod metering;
pub mod moves;
pub mod operators;
pub mod plans;
pub mod services;
pub mod telemetry;
pub mod tenants;
