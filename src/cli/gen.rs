//! `isoscope gen`: write a history from a simulated database.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;

use super::EXIT_VALID;
use crate::checker::Workload;
use crate::sim;

/// Arguments of `isoscope gen`.
#[derive(Args, Debug)]
pub struct GenArgs {
    /// Output file (JSON Lines).
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    /// The workload (the simulator makes these two only).
    #[arg(long, short = 'w', value_enum, default_value = "list-append")]
    pub workload: sim::SimWorkload,
    /// How the simulated database behaves (si is snapshot-isolation; lost-update is broken on
    /// purpose).
    #[arg(
        long,
        visible_alias = "behaviour",
        value_enum,
        default_value = "serializable"
    )]
    pub isolation: sim::Behaviour,
    /// Transactions to generate, counting every outcome: ok, failed (the database's own aborts
    /// and --fail-fraction) and indeterminate (--info-fraction).
    #[arg(long, default_value_t = 1000)]
    pub txns: u64,
    /// Concurrent clients (at least 1).
    #[arg(long, default_value_t = 10)]
    pub clients: u32,
    /// Active keys at a time (at least 1).
    #[arg(long, default_value_t = 10)]
    pub keys: u32,
    /// Most micro-ops per transaction (at least 1).
    #[arg(long, default_value_t = 4)]
    pub max_txn_len: u32,
    /// Writes to a key before it is retired (at least 1).
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

/// Runs `isoscope gen`.
pub fn run(args: GenArgs) -> Result<i32> {
    let workload = Workload::from(args.workload);
    for (flag, v) in [
        ("--clients", args.clients),
        ("--keys", args.keys),
        ("--max-txn-len", args.max_txn_len),
        ("--max-writes-per-key", args.max_writes_per_key),
    ] {
        if v == 0 {
            bail!("{flag} must be at least 1");
        }
    }
    for (flag, v) in [
        ("--fail-fraction", args.fail_fraction),
        ("--info-fraction", args.info_fraction),
    ] {
        if !(0.0..=1.0).contains(&v) {
            bail!("{flag} must be between 0 and 1, not {v}");
        }
    }
    let params = sim::SimParams {
        workload,
        behaviour: args.isolation,
        txns: args.txns,
        clients: args.clients,
        keys: args.keys,
        max_txn_len: args.max_txn_len,
        max_writes_per_key: args.max_writes_per_key,
        fail_fraction: args.fail_fraction,
        info_fraction: args.info_fraction,
        seed: args.seed,
        ..sim::SimParams::default()
    };
    let n = sim::write(&params, &args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!(
        "isoscope: wrote {n} ops ({} {} transactions of every outcome, {} simulation) to {}",
        params.txns,
        workload.name(),
        args.isolation.name(),
        args.out.display()
    );
    Ok(EXIT_VALID)
}
