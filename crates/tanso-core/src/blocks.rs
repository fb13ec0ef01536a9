//! The serial blocks of one registry state, in two orders over one store of block records:
//! by (issuing registry, first serial) for lookups by serial, and per owner by
//! (attributes, labels, first serial) for selection, which takes an account's blocks of one set
//! in ascending serial order. Both orders hold the record's slot, so a block whose owner
//! changes (the common case of a transfer) has its slot's owner rewritten and is re-indexed
//! under its owners, without a search of the serial order; only a new first serial (a split)
//! or a removed one (a merge) changes that order. A slot's owner is kept apart from the rest
//! of its record (`owners` and `slab`): a transfer of whole blocks writes only the owners, one
//! random eight-byte write per block in an array a quarter the records' size (measured on the
//! `blocks` workload: writer 5.2 µs per transfer against 6.0 with the owner in the record).
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
use std::collections::BTreeMap;
use std::ops::{Bound, RangeBounds};

/// A block's key in the serial order: (issuing registry, first serial).
pub(crate) type Key = (RegistryId, u64);

/// The serial order: for each issuing registry (a state holds units of a few), first serial
/// → slot, in one map of integer keys. Iterated, it is ordered by [`Key`]: registry, then
/// serial. A map per registry keeps keys to eight bytes, so a search reads fewer cache lines
/// per node than one map keyed on the pair.
#[derive(Clone, Default)]
struct Serials(Vec<(RegistryId, BTreeMap<u64, u32>)>);

impl Serials {
    /// Where registry `r`'s map is (`Ok`), or would go (`Err`), in the registries' order.
    fn find(&self, r: RegistryId) -> Result<usize, usize> {
        self.0.binary_search_by_key(&r, |(x, _)| *x)
    }

    fn of(&self, r: RegistryId) -> Option<&BTreeMap<u64, u32>> {
        self.find(r).ok().map(|i| &self.0[i].1)
    }

    fn of_mut(&mut self, r: RegistryId) -> &mut BTreeMap<u64, u32> {
        let i = self.find(r).unwrap_or_else(|i| {
            self.0.insert(i, (r, BTreeMap::new()));
            i
        });
        &mut self.0[i].1
    }

    fn len(&self) -> usize {
        self.0.iter().map(|(_, m)| m.len()).sum()
    }

    fn get(&self, (r, s): Key) -> Option<u32> {
        self.of(r)?.get(&s).copied()
    }

    fn insert(&mut self, (r, s): Key, slot: u32) -> Option<u32> {
        self.of_mut(r).insert(s, slot)
    }

    fn remove(&mut self, (r, s): Key) -> Option<u32> {
        let i = self.find(r).ok()?;
        self.0[i].1.remove(&s)
    }

    /// The last key of registry `r` below serial `s`.
    fn before(&self, (r, s): Key) -> Option<(u64, u32)> {
        let (&k, &slot) = self.of(r)?.range(..s).next_back()?;
        Some((k, slot))
    }

    /// The keys within `bounds`, in order.
    fn range(
        &self,
        lo: Bound<Key>,
        hi: Bound<Key>,
    ) -> impl DoubleEndedIterator<Item = (Key, u32)> + '_ {
        let reg = |b: &Bound<Key>| match b {
            Bound::Included((r, _)) | Bound::Excluded((r, _)) => Some(*r),
            Bound::Unbounded => None,
        };
        let (from, to) = (reg(&lo), reg(&hi));
        // An empty range, rather than the panic of `BTreeMap::range`, when the bounds cross.
        let crossed = match (lo, hi) {
            (Bound::Included(a), Bound::Included(b)) => a > b,
            (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => {
                a >= b
            }
            _ => false,
        };
        // Within registry `r`, the part of a bound that is about `r`'s serials.
        let serial = move |b: Bound<Key>, r: RegistryId| match b {
            Bound::Included((x, s)) if x == r => Bound::Included(s),
            Bound::Excluded((x, s)) if x == r => Bound::Excluded(s),
            _ => Bound::Unbounded,
        };
        self.0
            .iter()
            .filter(move |(r, _)| {
                !crossed && from.is_none_or(|f| *r >= f) && to.is_none_or(|t| *r <= t)
            })
            .flat_map(move |(r, m)| {
                let r = *r;
                m.range((serial(lo, r), serial(hi, r)))
                    .map(move |(&s, &slot)| ((r, s), slot))
            })
    }
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
    by_serial: Serials,
    /// Each slot's record without its owner, and (`owners`) its owner: a transfer of a whole
    /// block writes only its owner, eight bytes in an array a quarter the records' size.
    slab: Slab<Rec>,
    owners: Slab<AccountId>,
    free: Vec<u32>,
    by_owner: IdMap<AccountId, AccountBlocks>,
    /// Reused by `hand_over`: the entries handed to the recipient, and their positions.
    scratch: Vec<(Owned, usize)>,
}

impl Blocks {
    pub(crate) fn len(&self) -> usize {
        self.by_serial.len()
    }

    pub(crate) fn get(&self, key: &Key) -> Option<Block> {
        self.by_serial.get(*key).map(|i| self.at(i))
    }

    /// Blocks whose keys fall in `r`, in serial order.
    pub(crate) fn range<R: RangeBounds<Key>>(
        &self,
        r: R,
    ) -> impl DoubleEndedIterator<Item = (Key, Block)> + '_ {
        self.by_serial
            .range(r.start_bound().cloned(), r.end_bound().cloned())
            .map(|(k, i)| (k, self.at(i)))
    }

    /// Every block, in serial order.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = (Key, Block)> + '_ {
        self.range(..)
    }

    /// The owner of the block in slot `slot`.
    pub(crate) fn owner_at(&self, slot: u32) -> AccountId {
        self.owners[slot]
    }

    /// The block in slot `slot`.
    pub(crate) fn at(&self, slot: u32) -> Block {
        self.slab[slot].with(self.owners[slot])
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
            Some(b) => match self.by_serial.get(key) {
                Some(slot) => Some(self.set_at(key, slot, b)),
                None => {
                    let slot = alloc(&mut self.slab, &mut self.owners, &mut self.free, b);
                    self.by_serial.insert(key, slot);
                    self.index(&b, key.1, slot);
                    None
                }
            },
            None => {
                let slot = self.by_serial.remove(key)?;
                let old = self.at(slot);
                self.unindex(&old, key.1);
                self.free.push(slot);
                Some(old)
            }
        }
    }

    /// Rewrites the block at `key`, known to be in `slot`, without a search of the serial
    /// order; returns the old block.
    pub(crate) fn set_at(&mut self, key: Key, slot: u32, new: Block) -> Block {
        debug_assert_eq!(self.by_serial.get(key), Some(slot));
        let old = self.at(slot);
        self.slab[slot] = Rec::of(&new);
        self.owners[slot] = new.owner;
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
            debug_assert_eq!(self.slab[t.slot].with(self.owners[t.slot]), old);
            debug_assert_eq!((o.key.2, o.slot, o.end), (t.start, t.slot, t.range.end()));
            log((issuing, t.start), Some(old));
            let cut = t.range.start();
            if cut == t.start {
                self.owners[t.slot] = to;
                whole += 1;
                incoming.push((Owned { free: true, ..o }, 0));
            } else {
                self.slab[t.slot].end = cut - 1;
                sender.0[t.pos].end = cut - 1;
                let block = Block {
                    owner: to,
                    unit_start: old.unit_start + (cut - t.start),
                    ..old
                };
                let slot = alloc(&mut self.slab, &mut self.owners, &mut self.free, block);
                let fresh = self.by_serial.insert((issuing, cut), slot);
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
        let Some(rslot) = self.by_serial.get((issuing, x)) else {
            return;
        };
        let Some((ls, lslot)) = self.by_serial.before((issuing, x)) else {
            return;
        };
        let (l, r) = (self.at(lslot), self.at(rslot));
        if l.end.checked_add(1) != Some(x) || !RegistryState::mergeable(&l, ls, &r) {
            return;
        }
        log((issuing, x), Some(r));
        self.put((issuing, x), None);
        log((issuing, ls), Some(l));
        self.set_at((issuing, ls), lslot, Block { end: r.end, ..l });
    }
}

/// Stores `b` in a free slot, or a new one.
fn alloc(slab: &mut Slab<Rec>, owners: &mut Slab<AccountId>, free: &mut Vec<u32>, b: Block) -> u32 {
    match free.pop() {
        Some(s) => {
            slab[s] = Rec::of(&b);
            owners[s] = b.owner;
            s
        }
        None => {
            let s = slab.push(Rec::of(&b));
            let o = owners.push(b.owner);
            debug_assert_eq!(s, o);
            s
        }
    }
}

/// A block record as the slab keeps it: a [`Block`] without its owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rec {
    end: u64,
    unit_start: u64,
    attrs: u32,
    labels: u32,
    hold: u32,
    freezes: u32,
}

impl Rec {
    fn of(b: &Block) -> Rec {
        Rec {
            end: b.end,
            unit_start: b.unit_start,
            attrs: b.attrs,
            labels: b.labels,
            hold: b.hold,
            freezes: b.freezes,
        }
    }

    fn with(self, owner: AccountId) -> Block {
        Block {
            end: self.end,
            unit_start: self.unit_start,
            attrs: self.attrs,
            labels: self.labels,
            owner,
            hold: self.hold,
            freezes: self.freezes,
        }
    }
}

/// Slots in a chunk of the slab: 16,384 records.
const SLAB_CHUNK_BITS: u32 = 14;

/// Per-slot values (the block records, their owners), in chunks of a fixed size: growing never moves the records already
/// stored, where a `Vec` doubling would copy all of them into fresh memory whose every page the
/// kernel zeroes first (the writer's largest growth cost at millions of blocks).
#[derive(Clone)]
struct Slab<T> {
    chunks: Vec<Vec<T>>,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab { chunks: Vec::new() }
    }
}

impl<T> Slab<T> {
    /// Stores `b` in the next slot and returns it.
    fn push(&mut self, b: T) -> u32 {
        let full = self
            .chunks
            .last()
            .is_none_or(|c| c.len() == 1 << SLAB_CHUNK_BITS);
        if full {
            self.chunks.push(Vec::with_capacity(1 << SLAB_CHUNK_BITS));
        }
        let n = self.chunks.len() - 1;
        let chunk = &mut self.chunks[n];
        chunk.push(b);
        ((n << SLAB_CHUNK_BITS) + chunk.len() - 1) as u32
    }
}

/// A slot's chunk and its place in the chunk.
fn chunk_of(slot: u32) -> (usize, usize) {
    (
        (slot >> SLAB_CHUNK_BITS) as usize,
        (slot & ((1 << SLAB_CHUNK_BITS) - 1)) as usize,
    )
}

impl<T> std::ops::Index<u32> for Slab<T> {
    type Output = T;
    fn index(&self, slot: u32) -> &T {
        let (c, i) = chunk_of(slot);
        &self.chunks[c][i]
    }
}

impl<T> std::ops::IndexMut<u32> for Slab<T> {
    fn index_mut(&mut self, slot: u32) -> &mut T {
        let (c, i) = chunk_of(slot);
        &mut self.chunks[c][i]
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

    fn bound() -> impl Strategy<Value = Bound<Key>> {
        prop_oneof![
            key().prop_map(Bound::Included),
            key().prop_map(Bound::Excluded),
            Just(Bound::Unbounded),
        ]
    }

    proptest! {
        /// The serial order, one map per registry, finds, inserts, removes and ranges exactly
        /// as one map keyed on (registry, serial) does; crossed bounds give nothing.
        #[test]
        fn serials_order_as_one_map_of_pairs(
            ops in prop::collection::vec((key(), any::<bool>()), 1..200),
            ranges in prop::collection::vec((bound(), bound()), 1..20),
        ) {
            let mut serials = Serials::default();
            let mut model: BTreeMap<Key, u32> = BTreeMap::new();
            let mut removed = 0;
            for (slot, (k, keep)) in ops.iter().enumerate() {
                let slot = slot as u32;
                prop_assert_eq!(serials.insert(*k, slot), model.insert(*k, slot));
                if !keep {
                    prop_assert_eq!(serials.remove(*k), model.remove(k));
                    removed += 1;
                }
                prop_assert_eq!(serials.get(*k), model.get(k).copied());
                prop_assert_eq!(serials.len(), model.len());
                let below = model.range(..*k).next_back().filter(|(p, _)| p.0 == k.0);
                prop_assert_eq!(serials.before(*k), below.map(|(p, &s)| (p.1, s)));
            }
            prop_assert!(removed < ops.len() || model.is_empty());
            let all: Vec<_> = serials.range(Bound::Unbounded, Bound::Unbounded).collect();
            prop_assert_eq!(all, model.iter().map(|(k, s)| (*k, *s)).collect::<Vec<_>>());
            for (lo, hi) in ranges {
                let crossed = match (lo, hi) {
                    (Bound::Included(a), Bound::Included(b)) => a > b,
                    (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => a >= b,
                    _ => false,
                };
                let want: Vec<_> = if crossed {
                    Vec::new()
                } else {
                    model.range((lo, hi)).map(|(k, s)| (*k, *s)).collect()
                };
                let got: Vec<_> = serials.range(lo, hi).collect();
                prop_assert_eq!(&got, &want);
                let back: Vec<_> = serials.range(lo, hi).rev().collect();
                prop_assert_eq!(back, want.into_iter().rev().collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn serials_order_registries_before_serials() {
        let (ind, jpn) = (
            RegistryId::parse("IND01").unwrap(),
            RegistryId::parse("JPN01").unwrap(),
        );
        let mut serials = Serials::default();
        serials.insert((jpn, 0), 1);
        serials.insert((ind, u64::MAX), 2);
        serials.insert((ind, 1), 3);
        let order: Vec<_> = serials
            .range(Bound::Unbounded, Bound::Unbounded)
            .map(|(k, _)| k)
            .collect();
        assert_eq!(order, vec![(ind, 1), (ind, u64::MAX), (jpn, 0)]);
        let from_ind_max: Vec<_> = serials
            .range(Bound::Excluded((ind, 1)), Bound::Included((jpn, 0)))
            .map(|(_, slot)| slot)
            .collect();
        assert_eq!(from_ind_max, vec![2, 1]);
        assert_eq!(serials.before((jpn, 5)), Some((0, 1)));
        assert_eq!(serials.before((jpn, 0)), None);
    }
}
