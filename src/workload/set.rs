//! Set: Jepsen's set workload over the rows of one table.
//!
//! An add inserts one element, a row whose primary key is the element, in a single autocommit
//! statement; a read selects every element, sorted. Elements come from one counter in the
//! shared [`super::Generator`], so each is added at most once and they increase in the order the
//! clients take them. Reads are rare or absent while the run goes (Jepsen's set reads only at
//! the end): the question is what the final read holds, which the durability check answers,
//! and the runner's final reads end every run with one.

use mysql_async::Conn;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::{ExecError, Executed, Invocation, Session, WorkloadSpec};
use crate::history::{OpFn, OpValue};

/// Drops and recreates `set_elements`, empty.
pub fn schema() -> Vec<String> {
    vec![
        "DROP TABLE IF EXISTS set_elements".into(),
        "CREATE TABLE set_elements (id BIGINT PRIMARY KEY)".into(),
    ]
}

/// An add of the next element (taken from `next`, which then moves on), or (with
/// `read_fraction`) a read of the whole set.
pub fn generate(spec: &WorkloadSpec, rng: &mut ChaCha8Rng, next: &mut i64) -> Invocation {
    if rng.random_bool(spec.read_fraction) {
        return read();
    }
    let element = *next;
    *next += 1;
    Invocation {
        f: OpFn::Add,
        value: OpValue::Int(element),
    }
}

/// A read of every element.
pub fn read() -> Invocation {
    Invocation {
        f: OpFn::Read,
        value: OpValue::Nil,
    }
}

/// The read that ends a run: the whole set, once.
pub fn final_reads() -> Vec<Invocation> {
    vec![read()]
}

/// The statement that adds `element`.
fn insert(element: i64) -> String {
    format!("INSERT INTO set_elements (id) VALUES ({element})")
}

/// The statement that reads the set, in element order.
const SELECT: &str = "SELECT id FROM set_elements ORDER BY id";

/// Runs an add (an add with an element) or a read (anything else), each one autocommit
/// statement.
pub async fn execute(conn: &mut Conn, inv: &Invocation) -> Result<Executed, ExecError> {
    let mut s = Session::new(conn);
    match (&inv.f, &inv.value) {
        (OpFn::Add, &OpValue::Int(element)) => {
            s.exec(insert(element)).await?;
            s.commit(OpValue::Int(element)).await
        }
        _ => {
            let mut ids: Vec<i64> = s.query(SELECT).await?;
            // Sorted already by ORDER BY; kept sorted whatever the server does, as the history
            // model wants.
            ids.sort_unstable();
            s.commit(OpValue::Elements(ids)).await
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;
    use crate::workload::Workload;

    #[test]
    fn elements_are_unique_and_increasing_and_reads_follow_the_fraction() {
        let mut spec = WorkloadSpec::default_for(Workload::Set);
        assert_eq!(spec.read_fraction, 0.0);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut next = 0;
        let ops: Vec<Invocation> = (0..100)
            .map(|_| generate(&spec, &mut rng, &mut next))
            .collect();
        let elements: Vec<i64> = ops
            .iter()
            .map(|i| match (&i.f, &i.value) {
                (OpFn::Add, OpValue::Int(e)) => *e,
                other => panic!("not an add: {other:?}"),
            })
            .collect();
        assert_eq!(elements, (0..100).collect::<Vec<i64>>());
        spec.read_fraction = 0.5;
        let reads = (0..1000)
            .filter(|_| generate(&spec, &mut rng, &mut next).f == OpFn::Read)
            .count();
        assert!((400..600).contains(&reads), "{reads}");
        assert_eq!(next, 100 + 1000 - reads as i64);
        assert_eq!(final_reads(), vec![read()]);
        assert_eq!(insert(7), "INSERT INTO set_elements (id) VALUES (7)");
    }
}
