pub mod m20261121_000001_identity;
