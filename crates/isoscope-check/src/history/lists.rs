//! Compact storage for list-append reads.
//!
//! Why: in a list-append history every read returns the whole list, so a million reads of lists
//! a hundred long would be a hundred million elements. But in a sane history all reads of a key
//! are prefixes of one another. So each key keeps a few *chains* (normally one): a read that is a
//! prefix of a chain is stored as (chain, length), and a read that extends a chain extends it in
//! place. A read that agrees with no chain starts a new one: that is an incompatible order, which
//! the list-append checker reports.
//!
//! Invariant: the chains of one key are pairwise incompatible (neither is a prefix of the other),
//! because a chain is only created for a read that matches none, and chains only grow at the end.

use rustc_hash::FxHashMap;

use super::Atom;

/// A stored list read: the first `len` elements of chain `chain`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ListRef {
    /// Which chain.
    pub chain: u32,
    /// How many of its elements the read returned.
    pub len: u32,
}

/// One chain: a key and the longest list read for it along this line of history.
#[derive(Debug, Default)]
pub struct Chain {
    /// The key all reads of this chain are of.
    pub key: Atom,
    /// The elements, in order.
    pub elems: Vec<Atom>,
}

impl Default for Atom {
    fn default() -> Self {
        Atom::Int(0)
    }
}

/// All chains of a history, and an index of them by key.
#[derive(Debug, Default)]
pub struct ListStore {
    chains: Vec<Chain>,
    by_key: FxHashMap<Atom, Vec<u32>>,
}

impl ListStore {
    /// Stores a read of `key` that returned `elems`, sharing storage with earlier reads.
    pub fn intern(&mut self, key: &Atom, elems: &[Atom]) -> ListRef {
        self.intern_with(key, elems, |a, b| a == b, Atom::clone)
    }

    /// Like [`ListStore::intern`] for a read of integers, without building atoms first.
    pub fn intern_ints(&mut self, key: &Atom, ints: &[i64]) -> ListRef {
        self.intern_with(key, ints, |a, b| *a == Atom::Int(*b), |&i| Atom::Int(i))
    }

    /// The one interning routine: finds a chain that `elems` is a prefix of (or extends), or
    /// starts a new one. `same` compares a stored atom with an element; `atom` converts one.
    fn intern_with<T>(
        &mut self,
        key: &Atom,
        elems: &[T],
        same: impl Fn(&Atom, &T) -> bool,
        atom: impl Fn(&T) -> Atom,
    ) -> ListRef {
        let len = elems.len() as u32;
        let prefix = |a: &[Atom], b: &[T]| a.iter().zip(b).all(|(x, y)| same(x, y));
        if let Some(ids) = self.by_key.get(key) {
            for &id in ids {
                let chain = &mut self.chains[id as usize].elems;
                if elems.len() <= chain.len() {
                    if prefix(&chain[..elems.len()], elems) {
                        return ListRef { chain: id, len };
                    }
                } else if prefix(chain, &elems[..chain.len()]) {
                    chain.extend(elems[chain.len()..].iter().map(&atom));
                    return ListRef { chain: id, len };
                }
            }
        }
        let id = self.chains.len() as u32;
        self.chains.push(Chain {
            key: key.clone(),
            elems: elems.iter().map(&atom).collect(),
        });
        self.by_key.entry(key.clone()).or_default().push(id);
        ListRef { chain: id, len }
    }

    /// The elements of a stored read.
    pub fn get(&self, r: ListRef) -> &[Atom] {
        &self.chains[r.chain as usize].elems[..r.len as usize]
    }

    /// All chains, indexed by chain id.
    pub fn chains(&self) -> &[Chain] {
        &self.chains
    }

    /// The chain ids of each key that was read, in no particular order.
    pub fn keys(&self) -> impl Iterator<Item = (&Atom, &[u32])> {
        self.by_key.iter().map(|(k, v)| (k, v.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(v: &[i64]) -> Vec<Atom> {
        v.iter().map(|&i| Atom::Int(i)).collect()
    }

    #[test]
    fn prefixes_share_one_chain_and_divergent_reads_start_another() {
        let mut s = ListStore::default();
        let k = Atom::Int(1);
        let a = s.intern(&k, &ints(&[1, 2]));
        let b = s.intern(&k, &ints(&[1, 2, 3]));
        let c = s.intern(&k, &ints(&[1]));
        let d = s.intern(&k, &ints(&[1, 5]));
        assert_eq!(a.chain, b.chain);
        assert_eq!(a.chain, c.chain);
        assert_ne!(a.chain, d.chain);
        assert_eq!(s.get(a), &ints(&[1, 2])[..]);
        assert_eq!(s.get(b), &ints(&[1, 2, 3])[..]);
        assert_eq!(s.get(d), &ints(&[1, 5])[..]);
        let other = s.intern(&Atom::Int(2), &ints(&[1, 2]));
        assert_ne!(other.chain, a.chain, "chains are per key");
    }
}
