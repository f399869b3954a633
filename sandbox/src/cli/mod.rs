//! The binary's subcommands.

pub mod serve;
pub mod simulate;
