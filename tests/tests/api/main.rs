//! Integration tests: each starts the real server and speaks GraphQL over HTTP.
//! Tenant-scoped suites run on SQLite and on PostgreSQL.

mod databases;
mod helpers;
mod node;
mod proxy;
mod ws;

mod auth;
mod budgets;
mod fixtures;
mod graphiql_browser;
mod hosts;
mod housekeeping;
mod http_contract;
mod impersonation;
mod invitations;
mod isolation;
mod limits;
mod membership_cache;
mod membership_changes;
mod metrics;
mod move_jobs;
mod oidc;
mod operators;
mod permissions;
mod plans;
mod postgres_outage;
mod projects;
mod rate_limits;
mod redis_outage;
mod request_rates;
mod roles;
mod row_security;
mod schemas;
mod sessions;
mod shutdown;
mod subscriptions;
mod tasks;
mod tenant_data;
mod tenant_databases;
mod tenant_deletion;
mod tenant_lifecycle;
mod tenant_moves;
mod tenant_settings;
mod tenant_usage;
mod tokens;
mod web_example;
mod webhooks;
// generate: test-modules
