//! Properties over simulated databases: what each simulation guarantees, the checker must agree.

use isoscope::checker::Workload;
use isoscope::checker::{check, Anomaly, CheckOptions, Model, Validity};
use isoscope::sim::{generate, Behaviour, SimParams};
use proptest::prelude::*;

fn params(
    workload: Workload,
    isolation: Behaviour,
    seed: u64,
    keys: u32,
    fail: f64,
    info: f64,
) -> SimParams {
    SimParams {
        workload,
        behaviour: isolation,
        txns: 300,
        clients: 6,
        keys,
        max_writes_per_key: 32,
        fail_fraction: fail,
        info_fraction: info,
        seed,
        ..SimParams::default()
    }
}

fn run(p: &SimParams, model: Model) -> isoscope::checker::CheckResult {
    let h = generate(p);
    let opts = CheckOptions {
        models: vec![model],
        ..CheckOptions::default()
    };
    check(&h, &opts).expect("simulated histories are well-formed")
}

fn workload() -> impl Strategy<Value = Workload> {
    prop_oneof![Just(Workload::ListAppend), Just(Workload::RwRegister)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn serializable_simulation_is_strict_serializable(
        w in workload(), seed in any::<u64>(), keys in 1u32..6, fail in 0.0f64..0.2, info in 0.0f64..0.2,
    ) {
        let r = run(&params(w, Behaviour::Serializable, seed, keys, fail, info), Model::StrictSerializable);
        prop_assert_eq!(r.valid, Validity::Valid, "{:?}", r.anomaly_types);
    }

    #[test]
    fn snapshot_isolation_simulation_shows_nothing_si_forbids(
        w in workload(), seed in any::<u64>(), keys in 1u32..6, fail in 0.0f64..0.2, info in 0.0f64..0.2,
    ) {
        let r = run(&params(w, Behaviour::SnapshotIsolation, seed, keys, fail, info), Model::SnapshotIsolation);
        prop_assert_eq!(r.valid, Validity::Valid, "{:?}", r.anomaly_types);
        for a in &r.anomaly_types {
            prop_assert!(!Model::SnapshotIsolation.forbids(*a), "{a}");
        }
    }

    #[test]
    fn lost_update_simulation_always_shows_lost_update(
        w in workload(), seed in any::<u64>(), keys in 1u32..4,
    ) {
        let mut p = params(w, Behaviour::LostUpdate, seed, keys, 0.0, 0.0);
        p.clients = 10;
        p.txns = 500;
        let r = run(&p, Model::RepeatableRead);
        prop_assert!(r.anomaly_types.contains(&Anomaly::LostUpdate), "{:?}", r.anomaly_types);
        prop_assert_eq!(r.valid, Validity::Invalid);
    }
}
