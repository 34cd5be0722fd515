pub mod m20261121_000001_work_items;
pub mod m20261121_000002_invitations;
pub mod m20261121_000003_row_level_security;
pub mod m20261121_000004_outbox_and_webhooks;
// generate: migrations
