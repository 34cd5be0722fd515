pub mod m20261121_000001_work_items;
pub mod m20261121_000002_invitations;
