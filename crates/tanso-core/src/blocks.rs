//! The serial blocks of one registry state, in two orders over one store of block records:
//! by (issuing registry, first serial) for lookups by serial, and per owner by
//! (attributes, labels, first serial) for selection, which takes an account's blocks of one set
//! in ascending serial order. Both orders hold the record's slot in `slab`, so a block whose
//! owner changes (the common case of a transfer) is rewritten in its slot and re-indexed under
//! its owners, without a search of the serial order; only a new first serial (a split) or a
//! removed one (a merge) changes that order.
//!
//! An owner's index is one sorted vector of [`Owned`] entries, which also carry where each
//! block ends and whether it is free of holds and freezes: selection walks it front to back
//! without visiting the slots, and a transfer hands its blocks over in bulk
//! ([`Blocks::hand_over`]): one compaction of the sender's vector and one merge into the
//! recipient's, instead of a search, removal and insertion per block. The sender's taken blocks
//! are at the front of its set, and the merge into the recipient's vector moves only the
//! entries after the first one inserted.
//!
//! Slots are internal: nothing observable (state hash, views, encodings) depends on them.

use crate::ids::{AccountId, RegistryId};
use crate::registry::{Block, IdMap, RegistryState};
use crate::units::SerialRange;
use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::ops::RangeBounds;

/// A block's key in the serial order: (issuing registry, first serial).
pub(crate) type Key = (RegistryId, u64);

/// A [`Key`] packed into one integer of the same order: the registry's five bytes, big-endian,
/// above the serial. The serial order compares integers instead of byte arrays.
fn pack((r, s): Key) -> u128 {
    let [a, b, c, d, e] = r.bytes();
    (u128::from(u64::from_be_bytes([0, 0, 0, a, b, c, d, e])) << 64) | u128::from(s)
}

fn unpack(p: u128) -> Key {
    let [_, _, _, a, b, c, d, e] = ((p >> 64) as u64).to_be_bytes();
    (RegistryId::from_checked([a, b, c, d, e]), p as u64)
}
/// A block's key in its owner's order: (attributes, labels, first serial).
pub(crate) type SetKey = (u32, u32, u64);

/// One block in its owner's index: what selection and merging read, copied from the block
/// record and kept equal to it (`RegistryState::check_invariants` checks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Owned {
    pub(crate) key: SetKey,
    pub(crate) end: u64,
    pub(crate) unit_start: u64,
    pub(crate) slot: u32,
    /// Free of holds and freezes.
    pub(crate) free: bool,
}

/// One account's blocks, sorted by set key, highest first: selection takes an account's
/// lowest serials first (TV-2), so the low end is where blocks leave and, as they circulate,
/// where they arrive; kept at the vector's end, a transfer truncates or moves only the few
/// entries below the ones it adds.
#[derive(Clone, Debug, Default)]
pub(crate) struct AccountBlocks(Vec<Owned>);

impl AccountBlocks {
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every entry, highest key first (positions as in `Take::pos`).
    pub(crate) fn descending(&self) -> &[Owned] {
        &self.0
    }

    /// Every entry, ascending by set key.
    pub(crate) fn ascending(&self) -> impl Iterator<Item = &Owned> + '_ {
        self.0.iter().rev()
    }

    /// The lowest and highest entries.
    pub(crate) fn extremes(&self) -> Option<(&Owned, &Owned)> {
        Some((self.0.last()?, self.0.first()?))
    }

    /// Positions `lo..hi` of the entries of set (attributes, labels); the set's lowest serial
    /// is at `hi - 1`.
    pub(crate) fn span(&self, set: (u32, u32)) -> std::ops::Range<usize> {
        let lo = self.0.partition_point(|o| (o.key.0, o.key.1) > set);
        let hi = lo + self.0[lo..].partition_point(|o| (o.key.0, o.key.1) == set);
        lo..hi
    }

    fn find(&self, k: &SetKey) -> Result<usize, usize> {
        self.0.binary_search_by(|o| k.cmp(&o.key))
    }
}

/// One block a quantity takes from its sender, from the sender's index: the block's position
/// there, its first serial and slot, and the range taken (all of it, or its high end).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Take {
    pub(crate) pos: usize,
    pub(crate) start: u64,
    pub(crate) slot: u32,
    pub(crate) range: SerialRange,
}

#[derive(Clone, Default)]
pub(crate) struct Blocks {
    by_serial: BTreeMap<u128, u32>,
    slab: Vec<Block>,
    free: Vec<u32>,
    by_owner: IdMap<AccountId, AccountBlocks>,
    /// Reused by `hand_over`: the entries handed to the recipient, and their positions.
    scratch: Vec<(Owned, usize)>,
}

impl Blocks {
    pub(crate) fn len(&self) -> usize {
        self.by_serial.len()
    }

    pub(crate) fn get(&self, key: &Key) -> Option<&Block> {
        self.by_serial
            .get(&pack(*key))
            .map(|&i| &self.slab[i as usize])
    }

    /// Blocks whose keys fall in `r`, in serial order.
    pub(crate) fn range<R: RangeBounds<Key>>(
        &self,
        r: R,
    ) -> impl DoubleEndedIterator<Item = (Key, &Block)> + '_ {
        let r = (
            r.start_bound().map(|&k| pack(k)),
            r.end_bound().map(|&k| pack(k)),
        );
        self.by_serial
            .range(r)
            .map(|(&k, &i)| (unpack(k), &self.slab[i as usize]))
    }

    /// Every block, in serial order.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = (Key, &Block)> + '_ {
        self.range(..)
    }

    /// The block in slot `slot`.
    pub(crate) fn at(&self, slot: u32) -> &Block {
        &self.slab[slot as usize]
    }

    /// An account's blocks by set, if it ever held any (the index may be empty).
    pub(crate) fn of(&self, account: AccountId) -> Option<&AccountBlocks> {
        self.by_owner.get(&account)
    }

    /// Every account that ever held a block, with its blocks (possibly none now).
    pub(crate) fn owners(&self) -> impl Iterator<Item = (&AccountId, &AccountBlocks)> + '_ {
        self.by_owner.iter()
    }

    /// Sets or removes the block at `key`; returns what was there.
    pub(crate) fn put(&mut self, key: Key, new: Option<Block>) -> Option<Block> {
        match new {
            Some(b) => match self.by_serial.entry(pack(key)) {
                Entry::Occupied(e) => {
                    let slot = *e.get();
                    Some(self.set_at(key, slot, b))
                }
                Entry::Vacant(e) => {
                    let slot = alloc(&mut self.slab, &mut self.free, b);
                    e.insert(slot);
                    self.index(&b, key.1, slot);
                    None
                }
            },
            None => {
                let slot = self.by_serial.remove(&pack(key))?;
                let old = self.slab[slot as usize];
                self.unindex(&old, key.1);
                self.free.push(slot);
                Some(old)
            }
        }
    }

    /// Rewrites the block at `key`, known to be in `slot`, without a search of the serial
    /// order; returns the old block.
    pub(crate) fn set_at(&mut self, key: Key, slot: u32, new: Block) -> Block {
        debug_assert_eq!(self.by_serial.get(&pack(key)), Some(&slot));
        let old = std::mem::replace(&mut self.slab[slot as usize], new);
        if (old.owner, old.attrs, old.labels) != (new.owner, new.attrs, new.labels) {
            self.unindex(&old, key.1);
            self.index(&new, key.1, slot);
        } else if (old.end, old.unit_start, old.is_free())
            != (new.end, new.unit_start, new.is_free())
        {
            if let Some(set) = self.by_owner.get_mut(&new.owner) {
                if let Ok(i) = set.find(&(new.attrs, new.labels, key.1)) {
                    set.0[i].end = new.end;
                    set.0[i].unit_start = new.unit_start;
                    set.0[i].free = new.is_free();
                }
            }
        }
        old
    }

    fn index(&mut self, b: &Block, start: u64, slot: u32) {
        let set = self.by_owner.entry(b.owner).or_default();
        let key = (b.attrs, b.labels, start);
        let at = set.find(&key).unwrap_or_else(|i| i);
        set.0.insert(
            at,
            Owned {
                key,
                end: b.end,
                unit_start: b.unit_start,
                slot,
                free: b.is_free(),
            },
        );
    }

    fn unindex(&mut self, b: &Block, start: u64) {
        if let Some(set) = self.by_owner.get_mut(&b.owner) {
            if let Ok(i) = set.find(&(b.attrs, b.labels, start)) {
                set.0.remove(i);
            }
        }
    }

    /// Hands the blocks a quantity takes from `from` (`takes`, from `from`'s index, ascending
    /// within one set, every block free; only the last may be taken in part) to `to`, then
    /// merges equal neighbours the recipient now holds. A block taken whole changes owner in
    /// its slot; one taken in part keeps its low end with the sender and its high end becomes
    /// a new block. `log` gets each key's block before its change, in order, so that putting
    /// them back in reverse undoes it all.
    pub(crate) fn hand_over(
        &mut self,
        issuing: RegistryId,
        from: AccountId,
        to: AccountId,
        takes: &[Take],
        mut log: impl FnMut(Key, Option<Block>),
    ) {
        debug_assert_ne!(from, to);
        let Some(first) = takes.first() else {
            return;
        };
        let Some(sender) = self.by_owner.get_mut(&from) else {
            return;
        };
        let mut incoming = std::mem::take(&mut self.scratch);
        incoming.clear();
        // The sender's side: owners rewritten in place, a split's low end shortened.
        let mut whole = 0usize;
        for t in takes {
            // The block as the sender's index has it (free, so no hold or freeze): the slot
            // is only written, never read, so its cache miss does not hold the writer up.
            let o = sender.0[t.pos];
            let old = Block {
                end: o.end,
                unit_start: o.unit_start,
                attrs: o.key.0,
                labels: o.key.1,
                owner: from,
                hold: 0,
                freezes: 0,
            };
            debug_assert_eq!(self.slab[t.slot as usize], old);
            debug_assert_eq!((o.key.2, o.slot, o.end), (t.start, t.slot, t.range.end()));
            log((issuing, t.start), Some(old));
            let cut = t.range.start();
            if cut == t.start {
                self.slab[t.slot as usize].owner = to;
                whole += 1;
                incoming.push((Owned { free: true, ..o }, 0));
            } else {
                self.slab[t.slot as usize].end = cut - 1;
                sender.0[t.pos].end = cut - 1;
                let block = Block {
                    owner: to,
                    unit_start: old.unit_start + (cut - t.start),
                    ..old
                };
                let slot = alloc(&mut self.slab, &mut self.free, block);
                let fresh = self.by_serial.insert(pack((issuing, cut)), slot);
                debug_assert!(fresh.is_none());
                log((issuing, cut), None);
                incoming.push((
                    Owned {
                        key: (o.key.0, o.key.1, cut),
                        unit_start: block.unit_start,
                        slot,
                        free: true,
                        ..o
                    },
                    0,
                ));
            }
        }
        // The sender's index loses the blocks taken whole (all but a split last one, so
        // `takes[..whole]`, at descending positions): one drain when they are contiguous,
        // else one compaction.
        if whole > 0 {
            let v = &mut sender.0;
            let (top, low) = (first.pos, takes[whole - 1].pos);
            if top + 1 - low == whole {
                v.drain(low..=top);
            } else {
                let mut gone = takes[..whole].iter().rev().map(|t| t.pos).peekable();
                let mut w = low;
                for r in low..v.len() {
                    if gone.peek() == Some(&r) {
                        gone.next();
                        continue;
                    }
                    v[w] = v[r];
                    w += 1;
                }
                v.truncate(w);
            }
        }
        // The recipient's index gains them: one merge from the low end, which moves only the
        // entries below the highest one inserted.
        let set = &mut self.by_owner.entry(to).or_default().0;
        let (n, m) = (set.len(), incoming.len());
        set.resize(n + m, incoming[0].0);
        let mut i = n;
        for j in 0..m {
            let o = incoming[j].0;
            while i > 0 && set[i - 1].key < o.key {
                set[i - 1 + (m - j)] = set[i - 1];
                i -= 1;
            }
            let k = i + (m - j) - 1;
            set[k] = o;
            incoming[j].1 = k;
        }
        // Only a handed-over block can now merge, with a neighbour of the same set that is
        // free and ends or starts right next to it: the index says which, and the records
        // decide (continuous unit ids). Merged from the highest boundary down, so that a
        // chain of merges folds into its first block.
        let mut bounds: Vec<u64> = Vec::new();
        for &(o, p) in &incoming {
            let (a, l, s) = o.key;
            if let Some(prev) = set.get(p + 1) {
                if (prev.key.0, prev.key.1) == (a, l)
                    && prev.free
                    && prev.end.checked_add(1) == Some(s)
                {
                    bounds.push(s);
                }
            }
            if let (Some(next), Some(after)) =
                (p.checked_sub(1).map(|q| set[q]), o.end.checked_add(1))
            {
                if (next.key.0, next.key.1) == (a, l) && next.free && next.key.2 == after {
                    bounds.push(after);
                }
            }
        }
        self.scratch = incoming;
        bounds.sort_unstable();
        bounds.dedup();
        for &x in bounds.iter().rev() {
            self.merge_at(issuing, x, &mut log);
        }
    }

    /// Merges the block starting at `x` into the one ending just before it, if they are
    /// mergeable.
    fn merge_at(&mut self, issuing: RegistryId, x: u64, log: &mut impl FnMut(Key, Option<Block>)) {
        let at = pack((issuing, x));
        let Some(&rslot) = self.by_serial.get(&at) else {
            return;
        };
        let Some((&l, &lslot)) = self.by_serial.range(..at).next_back() else {
            return;
        };
        let (li, ls) = unpack(l);
        let (l, r) = (self.slab[lslot as usize], self.slab[rslot as usize]);
        if li != issuing || l.end.checked_add(1) != Some(x) || !RegistryState::mergeable(&l, ls, &r)
        {
            return;
        }
        log((issuing, x), Some(r));
        self.put((issuing, x), None);
        log((issuing, ls), Some(l));
        self.set_at((issuing, ls), lslot, Block { end: r.end, ..l });
    }
}

/// Stores `b` in a free slot, or a new one.
fn alloc(slab: &mut Vec<Block>, free: &mut Vec<u32>, b: Block) -> u32 {
    match free.pop() {
        Some(s) => {
            slab[s as usize] = b;
            s
        }
        None => {
            slab.push(b);
            (slab.len() - 1) as u32
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key() -> impl Strategy<Value = Key> {
        ("[A-Z][AB]{2}[0-9][01]", any::<u64>())
            .prop_map(|(r, s)| (RegistryId::parse(&r).expect("a valid registry id"), s))
    }

    proptest! {
        /// The packed serial-order key round-trips and orders exactly as the key it packs.
        #[test]
        fn packed_keys_keep_the_serial_order(a in key(), b in key()) {
            prop_assert_eq!(unpack(pack(a)), a);
            prop_assert_eq!(pack(a).cmp(&pack(b)), a.cmp(&b));
        }
    }

    #[test]
    fn packed_keys_order_registries_before_serials() {
        let (ind, jpn) = (
            RegistryId::parse("IND01").unwrap(),
            RegistryId::parse("JPN01").unwrap(),
        );
        assert!(pack((ind, u64::MAX)) < pack((jpn, 0)));
        assert!(pack((ind, 1)) < pack((ind, 2)));
        assert_eq!(unpack(pack((jpn, u64::MAX))), (jpn, u64::MAX));
    }
}
