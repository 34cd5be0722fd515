pub mod m20261121_000001_identity;
pub mod m20261121_000002_refresh_tokens;
pub mod m20261121_000003_authorization;
