//! `tanso bench`: benchmark programs that print figures.
use crate::Cli;
use anyhow::Result;
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum BenchCmd {
    /// Transfers: single client, concurrent clients, hot accounts, batches, serial blocks.
    Transfers,
}

pub fn run(_cli: &Cli, _what: &BenchCmd) -> Result<i32> {
    anyhow::bail!("bench is being written")
}
