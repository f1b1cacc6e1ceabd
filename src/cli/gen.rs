//! `isoscope gen`: write a history from a simulated database.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use super::EXIT_VALID;
use crate::sim;

#[derive(Args, Debug)]
pub struct GenArgs {
    /// Output file (JSON Lines).
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    /// list-append or rw-register.
    #[arg(long, default_value = "list-append")]
    pub workload: String,
    /// The simulated database: serializable, snapshot-isolation, read-committed, lost-update.
    #[arg(long, default_value = "serializable")]
    pub isolation: String,
    /// Completed transactions to generate.
    #[arg(long, default_value_t = 1000)]
    pub txns: u64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 10)]
    pub clients: u32,
    /// Active keys at a time.
    #[arg(long, default_value_t = 10)]
    pub keys: u32,
    /// Most micro-ops per transaction.
    #[arg(long, default_value_t = 4)]
    pub max_txn_len: u32,
    /// Writes to a key before it is retired.
    #[arg(long, default_value_t = 256)]
    pub max_writes_per_key: u32,
    /// Fraction of transactions that abort on their own.
    #[arg(long, default_value_t = 0.0)]
    pub fail_fraction: f64,
    /// Fraction of transactions whose outcome is unknown.
    #[arg(long, default_value_t = 0.0)]
    pub info_fraction: f64,
    /// Random seed; the same seed gives the same history.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

pub fn run(args: GenArgs) -> Result<i32> {
    let workload = sim::SimWorkload::parse(&args.workload).with_context(|| {
        format!(
            "unknown workload {:?}; use list-append or rw-register",
            args.workload
        )
    })?;
    let isolation = sim::Isolation::parse(&args.isolation).with_context(|| {
        format!(
            "unknown isolation {:?}; use serializable, snapshot-isolation, read-committed or lost-update",
            args.isolation
        )
    })?;
    let params = sim::SimParams {
        workload,
        isolation,
        txns: args.txns,
        clients: args.clients.max(1),
        keys: args.keys.max(1),
        max_txn_len: args.max_txn_len.max(1),
        max_writes_per_key: args.max_writes_per_key.max(1),
        fail_fraction: args.fail_fraction,
        info_fraction: args.info_fraction,
        seed: args.seed,
        ..sim::SimParams::default()
    };
    let n = sim::write(&params, &args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!(
        "isoscope: wrote {n} ops ({} {} transactions, {} simulation) to {}",
        params.txns,
        workload.name(),
        isolation.name(),
        args.out.display()
    );
    Ok(EXIT_VALID)
}
