pub mod m20261121_000001_identity;
pub mod m20261121_000002_refresh_tokens;
pub mod m20261121_000003_authorization;
pub mod m20261121_000004_tenant_placement;
pub mod m20261202_000001_tenant_rates;
pub mod m20261202_000004_housekeeping;
