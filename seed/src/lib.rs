//! Fixture builders and demo data, written against the domain's ports so they
//! work on every adapter and strategy.

pub mod demo;
pub mod fixtures;
mod generate;
pub mod scale;
