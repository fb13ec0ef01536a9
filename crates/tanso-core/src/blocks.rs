//! The serial blocks of one registry state, in two orders over one store of block records: by
//! (issuing registry, first serial) for lookups by serial, and per owner by (set, first serial) for
//! selection, which takes an account's blocks of one set (attributes, labels; numbered on first
//! use) in ascending serial order. Both orders hold the record's slot, so a block whose owner
//! changes (the common case of a transfer) has its slot's owner rewritten and is re-indexed under
//! its owners, without a search of the serial order; only a new first serial (a split) or a removed
//! one (a merge) changes that order. A slot's owner is kept apart from the rest of its record
//! (`owners` and `slab`): a transfer of whole blocks writes only the owners, one random write per
//! block in an array a sixth the records' size (measured on the `blocks` workload: writer 5.2 µs
//! per transfer against 6.0 with the owner in the record), and since an owner is kept there as a
//! four-byte number (kept with the account's index; `ids` maps it back), a twelfth.
//! The hand-over does not even make those writes itself: it knows every block's new owner
//! from the indexes, keeps the changes pending in order, and `settle` writes them in one loop
//! of independent stores, before anything else reads or writes owners (reads in between are
//! still correct: they look at the pending changes), at a batch's end, or once a few thousand
//! are kept. So a transfer never waits on an owner's cache miss, and the look-ahead need not
//! load them. A caller with a second thread can even have the writes made there: it lends the
//! owners' array out with the pending changes (`lend_owners`, [`OwnerStores`]) and gives it
//! back later; quantity transfers go on meanwhile, keeping their changes pending, and anything
//! that needs owners while the array is out finds them in the owners' indexes, or rebuilds it
//! from them (measured on the `blocks` workload: writer 4.3–4.7 µs per transfer against
//! 5.4–5.6 with the writes on the writer).
//!
//! The serial order is a list per issuing registry through the records (`Rec::next`), with a
//! sparse map of anchors (`Anchors`: first serial → slot, always including the lowest block).
//! A lookup by serial starts at the last anchor below it and walks the list. A split
//! knows its block's slot, so its high end is linked right after it without a search, and is
//! an anchor once in [`ANCHOR_EVERY`] splits; a merge knows both slots from the owner's index.
//! Blocks put by the general paths (issuance, carving, replay) are all anchors, and a walk of
//! more than [`LONG_WALK`] steps in a command that changes the blocks anchors where it stopped.
//! Measured against one B-tree of every first serial: the split's insert into it was a sixth
//! of the writer in `batch8000` and `blocks`.
//!
//! An owner's index is one sorted vector of [`Owned`] entries (16 bytes: first serial, length,
//! slot and hold flag; the set numbers kept apart as runs along the vector), which also carry
//! where each block ends and whether it is free of holds and freezes: selection walks it front
//! to back without visiting the slots, and a transfer hands its blocks over in bulk
//! ([`Blocks::hand_over`]): one compaction of the sender's vector and one merge into the
//! recipient's, instead of a search, removal and insertion per block. The sender's taken blocks
//! are at the front of its set, and the merge into the recipient's vector moves only the
//! entries after the first one inserted.
//!
//! Slots and set numbers are internal: nothing observable (state hash, views, encodings)
//! depends on them.

use crate::ids::{AccountId, RegistryId};
use crate::registry::{Block, IdMap, Interner, RegistryState};
use crate::units::SerialRange;
use std::collections::BTreeMap;

/// A block's key in the serial order: (issuing registry, first serial).
pub(crate) type Key = (RegistryId, u64);

/// No next block.
const NIL: u32 = u32::MAX;

/// The most owner changes `hand_over` keeps pending before it writes them all: few enough
/// that a read of one owner while they are pending (a scan of them) stays cheap.
const PENDING_MAX: usize = 4096;

/// A split's new block is an anchor once in this many splits. Fewer anchors make a lookup by
/// serial walk more records from the last anchor below it (on the general paths only, and a
/// walk past [`LONG_WALK`] in a command that changes the blocks leaves an anchor); more make
/// the hand-over insert into the anchors' map, whose nodes are seldom in cache, more often (at
/// one in eight that was 8% of `hand_over`'s samples on the `blocks` workload; one in 32 gave
/// the writer 4–8% less time per transfer there: docs/BENCHMARKS.md, nineteenth round).
const ANCHOR_EVERY: u32 = 32;

/// A walk of more steps than this from an anchor, in a command that changes the blocks,
/// makes the block it stopped at an anchor.
const LONG_WALK: usize = 64;

/// The anchors of the serial order: for each issuing registry (a state holds units of a few),
/// first serial → slot of some of its blocks, always including the lowest. The serial order
/// itself is a list through the records (`Rec::next`), per registry, ascending; a lookup
/// starts at the last anchor below the serial and walks the list from there.
#[derive(Clone, Default)]
struct Anchors(Vec<(RegistryId, BTreeMap<u64, u32>)>);

impl Anchors {
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
}

/// A block's key in its owner's order: (set number, first serial). A set, (attributes,
/// labels), is numbered on first use (`Blocks::sets`), so an account's sets are grouped in the
/// order of their numbers; views that list them in the pairs' order sort them.
pub(crate) type SetKey = (u32, u64);

/// The top bit of `Owned::slot_held`: the block is held or frozen. Slots stay below it.
const HELD: u32 = 1 << 31;

/// `Owned::len` of a block longer than a `u32` can say: its end is read from its record.
const LONG: u32 = u32::MAX;

/// One block in its owner's index: what selection and merging read, copied from the block
/// record and kept equal to it (`RegistryState::check_invariants` checks). 16 bytes: the set
/// number is not in the entry but in its index's runs ([`AccountBlocks`]), and the end is a
/// length from the start (a block of 2^32 units or more reads its end from its record). The
/// merge into a recipient's index and the warm's reads of a sender's move a third fewer
/// bytes than with 24-byte entries (measured on the `blocks` workload: writer 2.36–2.40 µs
/// per transfer against 2.66–2.69, peak memory 15% lower).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Owned {
    pub(crate) start: u64,
    /// `end - start`, or [`LONG`].
    len: u32,
    /// The block's slot, with [`HELD`] set if it is held or frozen.
    slot_held: u32,
}

const _: () = assert!(std::mem::size_of::<Owned>() == 16);

impl Owned {
    fn new(start: u64, end: u64, slot: u32, free: bool) -> Owned {
        debug_assert_eq!(slot & HELD, 0);
        Owned {
            start,
            len: Owned::len_of(start, end),
            slot_held: if free { slot } else { slot | HELD },
        }
    }

    fn len_of(start: u64, end: u64) -> u32 {
        u32::try_from(end - start).unwrap_or(LONG)
    }

    /// The block's last serial, unless it is too long for the entry to say (`None`: read it
    /// from the record, [`Blocks::end_of`]).
    fn short_end(&self) -> Option<u64> {
        (self.len != LONG).then(|| self.start + u64::from(self.len))
    }

    fn set_end(&mut self, end: u64) {
        self.len = Owned::len_of(self.start, end);
    }

    pub(crate) fn slot(&self) -> u32 {
        self.slot_held & !HELD
    }

    /// Free of holds and freezes.
    pub(crate) fn free(&self) -> bool {
        self.slot_held & HELD == 0
    }

    fn set_free(&mut self, free: bool) {
        self.slot_held = if free {
            self.slot()
        } else {
            self.slot() | HELD
        };
    }
}

/// `o`'s last serial: from the entry, or from its record if the block is too long for it.
fn end_in(slab: &Slab<Rec>, o: &Owned) -> u64 {
    o.short_end().unwrap_or_else(|| slab[o.slot()].end)
}

/// One account's blocks, sorted by set key, highest first: selection takes an account's
/// lowest serials first (TV-2), so the low end is where blocks leave and, as they circulate,
/// where they arrive; kept at the vector's end, a transfer truncates or moves only the few
/// entries below the ones it adds. The entries' set numbers are kept as runs: (set number,
/// entries), in the vector's order, none empty (an account usually holds one set). With the
/// account's number in `Blocks::owners`.
#[derive(Clone, Debug)]
pub(crate) struct AccountBlocks {
    v: Vec<Owned>,
    runs: Runs,
    number: u32,
}

const _: () = assert!(std::mem::size_of::<AccountBlocks>() == 48);

/// The runs of an index's set numbers, (set number, entries): the first kept inline, so that
/// an account holding one set (the usual case) finds it without another cache miss.
#[derive(Clone, Debug, Default)]
struct Runs {
    /// The first run; no run at all if its count is 0 (then `rest` is empty).
    head: (u32, u32),
    /// The others, if any: boxed, so that an index is as small in the accounts' map as it
    /// can be (the map's slot is read for every transfer; measured on the `blocks` workload,
    /// a `Vec` here, 16 bytes more, lost what the 16-byte entries gained).
    #[allow(clippy::box_collection)]
    rest: Option<Box<Vec<(u32, u32)>>>,
}

impl Runs {
    fn iter(&self) -> impl Iterator<Item = &(u32, u32)> + '_ {
        std::iter::once(&self.head)
            .filter(|h| h.1 > 0)
            .chain(self.rest.iter().flat_map(|r| r.iter()))
    }

    fn count_mut(&mut self, i: usize) -> &mut u32 {
        match i {
            0 => &mut self.head.1,
            _ => &mut self.rest.as_mut().expect("a run past the first")[i - 1].1,
        }
    }

    fn insert(&mut self, i: usize, run: (u32, u32)) {
        debug_assert!(run.1 > 0);
        match i {
            0 if self.head.1 == 0 => self.head = run,
            _ => {
                let rest = self.rest.get_or_insert_default();
                match i {
                    0 => rest.insert(0, std::mem::replace(&mut self.head, run)),
                    _ => rest.insert(i - 1, run),
                }
            }
        }
    }

    fn remove(&mut self, i: usize) {
        let Some(rest) = self.rest.as_mut() else {
            self.head = (0, 0);
            return;
        };
        match i {
            0 => self.head = rest.remove(0),
            _ => {
                rest.remove(i - 1);
            }
        }
        if rest.is_empty() {
            self.rest = None;
        }
    }
}

impl AccountBlocks {
    pub(crate) fn len(&self) -> usize {
        self.v.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.v.is_empty()
    }

    /// Every entry, highest key first (positions as in `Take::pos`).
    pub(crate) fn descending(&self) -> &[Owned] {
        &self.v
    }

    /// Each set the account holds, highest number first, with its entries' positions.
    pub(crate) fn sets(&self) -> impl Iterator<Item = (u32, std::ops::Range<usize>)> + '_ {
        self.runs.iter().scan(0usize, |at, &(set, n)| {
            let lo = *at;
            *at += n as usize;
            Some((set, lo..*at))
        })
    }

    /// Every entry with its set number, ascending by set key.
    pub(crate) fn ascending(&self) -> impl Iterator<Item = (u32, &Owned)> + '_ {
        let sets: Vec<_> = self.sets().collect();
        sets.into_iter()
            .rev()
            .flat_map(move |(set, r)| self.v[r].iter().rev().map(move |o| (set, o)))
    }

    /// The run of set `set`: its index in `runs`, its first position, and its entries (0 if
    /// the account holds none of the set: then where its run would go).
    fn locate(&self, set: u32) -> (usize, usize, u32) {
        // One run at most, the usual case: no walk.
        if self.runs.rest.is_none() {
            let (s, n) = self.runs.head;
            return match s.cmp(&set) {
                _ if n == 0 => (0, 0, 0),
                std::cmp::Ordering::Greater => (1, n as usize, 0),
                std::cmp::Ordering::Equal => (0, 0, n),
                std::cmp::Ordering::Less => (0, 0, 0),
            };
        }
        let (mut at, mut last) = (0usize, 0usize);
        for (i, &(s, n)) in self.runs.iter().enumerate() {
            if s <= set {
                return (i, at, if s == set { n } else { 0 });
            }
            at += n as usize;
            last = i + 1;
        }
        (last, at, 0)
    }

    /// Positions `lo..hi` of the entries of set number `set` (empty where they would go);
    /// the set's lowest serial is at `hi - 1`.
    fn span(&self, set: u32) -> std::ops::Range<usize> {
        let (_, lo, n) = self.locate(set);
        lo..lo + n as usize
    }

    /// The set number of the entry at position `pos`.
    fn set_at(&self, pos: usize) -> u32 {
        if self.runs.rest.is_none() {
            return self.runs.head.0;
        }
        self.sets()
            .find(|(_, r)| r.contains(&pos))
            .map_or(u32::MAX, |(s, _)| s)
    }

    fn find(&self, &(set, start): &SetKey) -> Result<usize, usize> {
        let span = self.span(set);
        let lo = span.start;
        self.v[span]
            .binary_search_by(|o| start.cmp(&o.start))
            .map(|i| lo + i)
            .map_err(|i| lo + i)
    }

    /// Inserts `o`, of set `set`, at position `at` (from `find`).
    fn insert(&mut self, set: u32, at: usize, o: Owned) {
        let (i, _, n) = self.locate(set);
        if n > 0 {
            *self.runs.count_mut(i) += 1;
        } else {
            self.runs.insert(i, (set, 1));
        }
        self.v.insert(at, o);
    }

    /// Takes `n` entries out of set `set`'s run (the caller removes them from `v`).
    fn shrink_run(&mut self, set: u32, n: usize) {
        let (i, _, held) = self.locate(set);
        debug_assert!(held as usize >= n);
        let left = self.runs.count_mut(i);
        *left -= n as u32;
        if *left == 0 {
            self.runs.remove(i);
        }
    }

    /// Removes the entry at position `at`, of set `set`.
    fn remove(&mut self, set: u32, at: usize) {
        self.v.remove(at);
        self.shrink_run(set, 1);
    }

    /// Whether the runs cover the entries exactly, sets strictly descending and none empty,
    /// and each set's entries strictly descending by first serial.
    pub(crate) fn well_ordered(&self) -> bool {
        let total: usize = self.runs.iter().map(|&(_, n)| n as usize).sum();
        total == self.v.len()
            && self.runs.iter().all(|&(_, n)| n > 0)
            && self
                .runs
                .iter()
                .zip(self.runs.iter().skip(1))
                .all(|(a, b)| a.0 > b.0)
            && self
                .sets()
                .all(|(_, r)| self.v[r].windows(2).all(|w| w[0].start > w[1].start))
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
    /// The anchors of the serial order, whose lists run through the records.
    anchors: Anchors,
    /// Blocks in the serial order.
    count: usize,
    /// Splits made by `hand_over`, which anchors one in [`ANCHOR_EVERY`].
    splits: u32,
    /// Each slot's record without its owner, and (`owners`) its owner's number: a transfer of
    /// a whole block writes only that, four bytes in an array a twelfth the records' size.
    slab: Slab<Rec>,
    owners: Slab<u32>,
    /// Owners by number in `owners`: four bytes a slot instead of eight, so that the array
    /// the hand-over writes at random is half the size. An account's number is kept with its
    /// index (`AccountBlocks`, so the hand-over finds it where it looks anyway); numbers are
    /// given in order of first use and never reused; `ids` maps them back.
    ids: Vec<AccountId>,
    /// Owner changes made by `hand_over` and not yet written to `owners`, in the order made
    /// (a slot may appear more than once; the last is its owner). A transfer of whole blocks
    /// knows every block's new owner from the indexes, so it does not wait on a random store
    /// per block: the changes are written together by `settle`, a loop of independent stores,
    /// before anything that reads or writes `owners` otherwise, or once [`PENDING_MAX`]
    /// are kept. Reading an owner with changes pending is correct but scans them.
    pending: Vec<(u32, u32)>,
    /// `owners` is lent out (`lend_owners`): it is empty here until given back, `alloc`
    /// leaves it alone, and the changes made meanwhile stay pending. Anything else that
    /// needs it first brings it home (`home`), rebuilding it from the indexes if the loan is
    /// still out.
    away: bool,
    /// The current loan's number: a loan given back after `home` rebuilt the array is stale.
    loan: u64,
    /// An emptied change list from the last loan given back, for the next loan's pending.
    spare: Vec<(u32, u32)>,
    free: Vec<u32>,
    by_owner: IdMap<AccountId, AccountBlocks>,
    /// The sets (attributes, labels) of the owners' indexes by number: given on first use,
    /// never reused.
    sets: Interner<(u32, u32)>,
    /// Reused by `hand_over`: the entries handed to the recipient, and their positions; and
    /// the boundaries where they may merge.
    scratch: Vec<(Owned, usize)>,
    bounds: Vec<(u64, u32, u32)>,
    /// Tests only: if not 0, `put` anchors a new block only once in this many (besides the
    /// lowest), so that the general paths meet long walks too.
    #[cfg(test)]
    sparse: usize,
}

impl Blocks {
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    pub(crate) fn get(&self, key: &Key) -> Option<Block> {
        self.slot_of(*key).map(|i| self.at(i))
    }

    /// The slot of the block starting at `key`.
    fn slot_of(&self, (r, s): Key) -> Option<u32> {
        let (_, cur, _) = self.seek(r, s);
        cur.filter(|&c| self.slab[c].start == s)
    }

    /// In registry `r`'s list: the last slot whose block starts below `s`, the first at or
    /// above it, and how many steps the walk from the anchor took.
    fn seek(&self, r: RegistryId, s: u64) -> (Option<u32>, Option<u32>, usize) {
        let Some(map) = self.anchors.of(r) else {
            return (None, None, 0);
        };
        let mut prev = match map.range(..s).next_back() {
            Some((_, &slot)) => slot,
            // The lowest block is always an anchor: none below `s` means none in the list.
            None => return (None, map.values().next().copied(), 0),
        };
        let mut steps = 0;
        loop {
            let next = self.slab[prev].next;
            if next == NIL {
                return (Some(prev), None, steps);
            }
            if self.slab[next].start >= s {
                return (Some(prev), Some(next), steps);
            }
            prev = next;
            steps += 1;
        }
    }

    /// `seek`, for a command that changes the blocks: a long walk anchors where it stopped.
    fn seek_mut(&mut self, r: RegistryId, s: u64) -> (Option<u32>, Option<u32>) {
        let (prev, cur, steps) = self.seek(r, s);
        if let Some(p) = prev.filter(|_| steps > LONG_WALK) {
            self.anchor(r, p);
        }
        (prev, cur)
    }

    fn anchor(&mut self, r: RegistryId, slot: u32) {
        let rec = &mut self.slab[slot];
        if !rec.anchored {
            rec.anchored = true;
            self.anchors.of_mut(r).insert(rec.start, slot);
        }
    }

    fn unanchor(&mut self, r: RegistryId, slot: u32) {
        let rec = &mut self.slab[slot];
        if rec.anchored {
            rec.anchored = false;
            let start = rec.start;
            self.anchors.of_mut(r).remove(&start);
        }
    }

    /// The slots of registry `r`'s list from `from` on, in serial order.
    fn walk(&self, from: Option<u32>) -> impl Iterator<Item = u32> + '_ {
        std::iter::successors(from, |&c| Some(self.slab[c].next).filter(|&n| n != NIL))
    }

    /// The last block of registry `key.0` starting below `key.1`.
    pub(crate) fn before(&self, (r, s): Key) -> Option<(Key, Block)> {
        let (prev, _, _) = self.seek(r, s);
        prev.map(|p| ((r, self.slab[p].start), self.at(p)))
    }

    /// The last block of registry `key.0` starting at or below `key.1`.
    pub(crate) fn at_or_before(&self, (r, s): Key) -> Option<(Key, Block)> {
        let (prev, cur, _) = self.seek(r, s);
        let hit = cur.filter(|&c| self.slab[c].start == s).or(prev)?;
        Some(((r, self.slab[hit].start), self.at(hit)))
    }

    /// The block of registry `key.0` that holds serial `key.1`, with its key.
    pub(crate) fn containing(&self, (r, s): Key) -> Option<(Key, Block)> {
        self.at_or_before((r, s)).filter(|(_, b)| b.end >= s)
    }

    /// The blocks of registry `r` starting in `lo..=hi`, in serial order.
    pub(crate) fn range(
        &self,
        r: RegistryId,
        lo: u64,
        hi: u64,
    ) -> impl Iterator<Item = (u64, Block)> + '_ {
        let (_, cur, _) = self.seek(r, lo);
        self.walk(cur)
            .map(|c| (self.slab[c].start, c))
            .take_while(move |&(s, _)| s <= hi)
            .map(|(s, c)| (s, self.at(c)))
    }

    /// Every block, in serial order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Key, Block)> + '_ {
        // Owners not in `owners`, found once: with owner changes pending, their last value
        // per slot; with the owners lent out, every block's, from the indexes.
        let known: IdMap<u32, u32> = if self.away {
            self.by_owner
                .values()
                .flat_map(|b| b.v.iter().map(move |o| (o.slot(), b.number)))
                .collect()
        } else {
            self.pending.iter().copied().collect()
        };
        self.anchors.0.iter().flat_map(move |(r, map)| {
            let r = *r;
            let known = known.clone();
            self.walk(map.values().next().copied()).map(move |c| {
                let owner = match known.get(&c) {
                    Some(&o) => o,
                    None if self.away => self.indexed_owner(c),
                    None => self.owners[c],
                };
                (
                    (r, self.slab[c].start),
                    self.slab[c].with(self.ids[owner as usize]),
                )
            })
        })
    }

    /// The first unit id of the block in slot `slot` (read ahead by the warm).
    pub(crate) fn unit_start_at(&self, slot: u32) -> u64 {
        self.slab[slot].unit_start
    }

    /// The owner of the block in slot `slot`.
    fn owner(&self, slot: u32) -> AccountId {
        let n = self
            .pending
            .iter()
            .rev()
            .find(|&&(s, _)| s == slot)
            .map_or_else(
                || match self.away {
                    false => self.owners[slot],
                    true => self.indexed_owner(slot),
                },
                |&(_, o)| o,
            );
        self.ids[n as usize]
    }

    /// The number of the owner of the block in slot `slot`, found in the owners' indexes: for
    /// reads while `owners` is lent out, which a caller that lends it avoids (a search of
    /// every account that ever held a block).
    fn indexed_owner(&self, slot: u32) -> u32 {
        let rec = &self.slab[slot];
        let Some(set) = self.sets.find(&(rec.attrs, rec.labels)) else {
            return 0;
        };
        self.by_owner
            .values()
            .find(|b| {
                b.find(&(set, rec.start))
                    .is_ok_and(|i| b.v[i].slot() == slot)
            })
            .map_or(0, |b| b.number)
    }

    /// Lends out the owners' array with the owner changes kept pending, for another thread
    /// to write them ([`OwnerStores::apply`]) while this state decides more quantity
    /// transfers, which neither read nor write owners (their changes stay pending meanwhile).
    /// `None` if it is lent already, or nothing is pending. Anything else that needs owners
    /// while it is out rebuilds them from the indexes (correct, but a pass over every block),
    /// so a caller gives it back ([`Blocks::return_owners`]) before such a command.
    pub(crate) fn lend_owners(&mut self) -> Option<OwnerStores> {
        if self.away || self.pending.is_empty() {
            return None;
        }
        self.away = true;
        self.loan += 1;
        let spare = std::mem::take(&mut self.spare);
        Some(OwnerStores {
            owners: std::mem::take(&mut self.owners),
            changes: std::mem::replace(&mut self.pending, spare),
            loan: self.loan,
        })
    }

    /// Takes the owners' array back, its lent changes written (here, if the borrower did
    /// not). A loan outlived by `home` (which rebuilt the array) is dropped.
    pub(crate) fn return_owners(&mut self, mut stores: OwnerStores) {
        if !self.away || stores.loan != self.loan {
            return;
        }
        stores.apply();
        self.owners = stores.owners;
        // Slots made while it was out (their owners pending) get a place.
        self.owners.fill_to(self.slab.len(), 0);
        self.spare = stores.changes;
        self.away = false;
    }

    /// Whether the owners' array is lent out.
    pub(crate) fn owners_away(&self) -> bool {
        self.away
    }

    /// Brings the owners' array home: if it is lent out, rebuilds it from the indexes (every
    /// block is in its owner's), which also makes every pending change moot.
    fn home(&mut self) {
        if !self.away {
            return;
        }
        let mut owners = Slab::default();
        owners.fill_to(self.slab.len(), 0);
        for b in self.by_owner.values() {
            for o in &b.v {
                owners[o.slot()] = b.number;
            }
        }
        self.owners = owners;
        self.pending.clear();
        self.away = false;
        // A loan still out is stale now.
        self.loan += 1;
    }

    /// The number of account `a` in `owners`, given now if it has none.
    fn number(&mut self, a: AccountId) -> u32 {
        index_of(&mut self.by_owner, &mut self.ids, a).number
    }

    /// The (attributes, labels) of set number `set`.
    pub(crate) fn pair(&self, set: u32) -> (u32, u32) {
        *self.sets.get(set)
    }

    /// Writes the owner changes `hand_over` has kept pending. Everything that reads or writes
    /// owners otherwise calls it first; a caller deciding a batch calls it at the batch's end.
    pub(crate) fn settle(&mut self) {
        self.home();
        for &(s, o) in &self.pending {
            self.owners[s] = o;
        }
        self.pending.clear();
    }

    /// Owner changes pending.
    pub(crate) fn pending(&self) -> usize {
        self.pending.len()
    }

    /// The block in slot `slot`.
    pub(crate) fn at(&self, slot: u32) -> Block {
        self.slab[slot].with(self.owner(slot))
    }

    /// The block in slot `slot`, known to be owned by `owner` (from `owner`'s index).
    pub(crate) fn at_of(&self, slot: u32, owner: AccountId) -> Block {
        self.slab[slot].with(owner)
    }

    /// The last serial of the block of index entry `o`.
    pub(crate) fn end_of(&self, o: &Owned) -> u64 {
        end_in(&self.slab, o)
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
    pub(crate) fn put(&mut self, (r, s): Key, new: Option<Block>) -> Option<Block> {
        self.settle();
        let (prev, cur) = self.seek_mut(r, s);
        let here = cur.filter(|&c| self.slab[c].start == s);
        match (new, here) {
            (Some(b), Some(slot)) => Some(self.set_at((r, s), slot, b)),
            (Some(b), None) => {
                // A new block, linked between `prev` and `cur`; the lowest is always an anchor.
                let n = self.number(b.owner);
                let slot = alloc(
                    &mut self.slab,
                    Some(&mut self.owners),
                    &mut self.free,
                    s,
                    b,
                    n,
                );
                self.slab[slot].next = cur.unwrap_or(NIL);
                match prev {
                    Some(p) => self.slab[p].next = slot,
                    None => self.anchor(r, slot),
                }
                if self.dense() {
                    self.anchor(r, slot);
                }
                self.count += 1;
                self.index(&b, s, slot);
                None
            }
            (None, Some(slot)) => {
                let old = self.at(slot);
                self.remove_at(r, prev, slot, &old);
                Some(old)
            }
            (None, None) => None,
        }
    }

    /// Takes the block in `slot` (`old`) out of registry `r`'s serial order (`prev` is the
    /// slot before it, if any), out of its owner's index, and frees the slot.
    fn remove_at(&mut self, r: RegistryId, prev: Option<u32>, slot: u32, old: &Block) {
        let (start, next) = (self.slab[slot].start, self.slab[slot].next);
        self.unanchor(r, slot);
        match prev {
            Some(p) => self.slab[p].next = next,
            // The new lowest block becomes an anchor.
            None if next != NIL => self.anchor(r, next),
            None => {}
        }
        self.count -= 1;
        self.unindex(old, start);
        self.free.push(slot);
    }

    /// Whether `put` anchors every new block: always, but in tests that ask for sparse
    /// anchors.
    fn dense(&self) -> bool {
        #[cfg(test)]
        if self.sparse > 0 {
            return self.count.is_multiple_of(self.sparse);
        }
        true
    }

    /// Rewrites the block at `key`, known to be in `slot`, without a search of the serial
    /// order; returns the old block.
    pub(crate) fn set_at(&mut self, key: Key, slot: u32, new: Block) -> Block {
        self.settle();
        let old = self.at(slot);
        self.replace(key, slot, &old, new);
        old
    }

    /// `set_at` with the old block known (`old`). A new owner is written at once, so the
    /// caller has settled first; the same owner is not written (it is in `owners` already, or
    /// in a pending change).
    fn replace(&mut self, key: Key, slot: u32, old: &Block, new: Block) {
        debug_assert_eq!(self.slab[slot].start, key.1);
        self.slab[slot].set(&new);
        if new.owner != old.owner {
            debug_assert!(self.pending.is_empty());
            self.owners[slot] = self.number(new.owner);
        }
        if (old.owner, old.attrs, old.labels) != (new.owner, new.attrs, new.labels) {
            self.unindex(old, key.1);
            self.index(&new, key.1, slot);
        } else if (old.end, old.is_free()) != (new.end, new.is_free()) {
            let n = self.sets.find(&(new.attrs, new.labels));
            if let (Some(n), Some(set)) = (n, self.by_owner.get_mut(&new.owner)) {
                if let Ok(i) = set.find(&(n, key.1)) {
                    set.v[i].set_end(new.end);
                    set.v[i].set_free(new.is_free());
                }
            }
        }
    }

    /// Checks the serial order: each registry's list strictly ascending from its lowest
    /// block, which is an anchor; the anchors exactly the list's anchored blocks; as many
    /// blocks on the lists as counted.
    pub(crate) fn check_order(&self) -> Result<(), String> {
        let mut total = 0usize;
        for (r, map) in &self.anchors.0 {
            let mut last: Option<u64> = None;
            let mut anchored = 0usize;
            for c in self.walk(map.values().next().copied()) {
                let rec = &self.slab[c];
                if last.is_some_and(|l| l >= rec.start) {
                    return Err(format!(
                        "serial order of {r} not ascending at {}",
                        rec.start
                    ));
                }
                if last.is_none() && !rec.anchored {
                    return Err(format!("lowest block of {r} is not an anchor"));
                }
                if rec.anchored {
                    anchored += 1;
                    if map.get(&rec.start) != Some(&c) {
                        return Err(format!("anchor of {r} {} names another slot", rec.start));
                    }
                }
                last = Some(rec.start);
                total += 1;
            }
            if anchored != map.len() {
                return Err(format!("anchors of {r} off the serial order"));
            }
        }
        if total != self.count {
            return Err(format!(
                "serial order holds {total} blocks, counted {}",
                self.count
            ));
        }
        Ok(())
    }

    fn index(&mut self, b: &Block, start: u64, slot: u32) {
        let n = self.sets.intern(&(b.attrs, b.labels));
        let set = index_of(&mut self.by_owner, &mut self.ids, b.owner);
        let at = set.find(&(n, start)).unwrap_or_else(|i| i);
        set.insert(n, at, Owned::new(start, b.end, slot, b.is_free()));
    }

    fn unindex(&mut self, b: &Block, start: u64) {
        let n = self.sets.find(&(b.attrs, b.labels));
        if let (Some(n), Some(set)) = (n, self.by_owner.get_mut(&b.owner)) {
            if let Ok(i) = set.find(&(n, start)) {
                set.remove(n, i);
            }
        }
    }

    /// Hands the blocks a quantity takes from `from` (`takes`, from `from`'s index, ascending
    /// within one set, every block free; only the last may be taken in part) to `to`, then
    /// merges equal neighbours the recipient now holds. A block taken whole changes owner in
    /// its slot; one taken in part keeps its low end with the sender and its high end becomes
    /// a new block. `log`, if any, gets each key's block before its change, in order, so that
    /// putting them back in reverse undoes it all (without it, the records of blocks taken
    /// whole are only written, never read).
    pub(crate) fn hand_over(
        &mut self,
        issuing: RegistryId,
        from: AccountId,
        to: AccountId,
        takes: &[Take],
        mut log: Option<&mut dyn FnMut(Key, Option<Block>)>,
    ) {
        debug_assert_ne!(from, to);
        let Some(first) = takes.first() else {
            return;
        };
        let to_n = self.number(to);
        let Some(sender) = self.by_owner.get_mut(&from) else {
            return;
        };
        // Every block a quantity takes is of one set, the sender's run at the first take.
        let set_no = sender.set_at(first.pos);
        let mut incoming = std::mem::take(&mut self.scratch);
        incoming.clear();
        // The sender's side: owner changes kept pending, a split's low end shortened.
        let mut whole = 0usize;
        for t in takes {
            // The block as the sender's index has it (free, so no hold or freeze): unless
            // logged, a block taken whole has its record and owner neither read nor written
            // here (its owner change is kept pending), so no cache miss holds the writer up.
            // It ends where the range taken ends.
            let o = sender.v[t.pos];
            let end = t.range.end();
            debug_assert_eq!(
                (o.start, o.slot(), end_in(&self.slab, &o)),
                (t.start, t.slot, end)
            );
            if let Some(log) = log.as_mut() {
                log((issuing, t.start), Some(self.slab[t.slot].with(from)));
            }
            let cut = t.range.start();
            if cut == t.start {
                self.pending.push((t.slot, to_n));
                whole += 1;
                incoming.push((Owned::new(o.start, end, t.slot, true), 0));
            } else {
                let (attrs, labels) = *self.sets.get(set_no);
                let block = Block {
                    end,
                    unit_start: self.slab[t.slot].unit_start + (cut - t.start),
                    attrs,
                    labels,
                    owner: to,
                    hold: 0,
                    freezes: 0,
                };
                let owners = (!self.away).then_some(&mut self.owners);
                let slot = alloc(&mut self.slab, owners, &mut self.free, cut, block, to_n);
                // A reused slot may have an older owner change pending, which must not win.
                self.pending.push((slot, to_n));
                // The high end goes into the serial order right after the block it came
                // from, whose slot is known: no search, and an anchor once in a while.
                let split = &mut self.slab[t.slot];
                split.end = cut - 1;
                let next = std::mem::replace(&mut split.next, slot);
                self.slab[slot].next = next;
                self.splits = self.splits.wrapping_add(1);
                if self.splits.is_multiple_of(ANCHOR_EVERY) {
                    self.slab[slot].anchored = true;
                    self.anchors.of_mut(issuing).insert(cut, slot);
                }
                self.count += 1;
                sender.v[t.pos].set_end(cut - 1);
                if let Some(log) = log.as_mut() {
                    log((issuing, cut), None);
                }
                incoming.push((Owned::new(cut, end, slot, true), 0));
            }
        }
        // The sender's index loses the blocks taken whole (all but a split last one, so
        // `takes[..whole]`, at descending positions): one drain when they are contiguous,
        // else one compaction.
        if whole > 0 {
            let v = &mut sender.v;
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
            sender.shrink_run(set_no, whole);
        }
        // The recipient's index gains them in the set's run (made if it holds none): the
        // entries of lower sets move up as one block, then one merge from the run's low end
        // moves only the run's entries below the highest one inserted.
        let recipient = index_of(&mut self.by_owner, &mut self.ids, to);
        let (ri, lo, held) = recipient.locate(set_no);
        let hi = lo + held as usize;
        let m = incoming.len();
        if held > 0 {
            *recipient.runs.count_mut(ri) += m as u32;
        } else {
            recipient.runs.insert(ri, (set_no, m as u32));
        }
        let set = &mut recipient.v;
        let n = set.len();
        set.resize(n + m, incoming[0].0);
        if hi < n {
            set.copy_within(hi..n, hi + m);
        }
        let mut i = hi;
        for j in 0..m {
            let o = incoming[j].0;
            while i > lo && set[i - 1].start < o.start {
                set[i - 1 + (m - j)] = set[i - 1];
                i -= 1;
            }
            let k = i + (m - j) - 1;
            set[k] = o;
            incoming[j].1 = k;
        }
        // Only a handed-over block can now merge, with a neighbour of the same set (in the
        // run) that is free and ends or starts right next to it: the index says which (and
        // both slots), and the records decide (continuous unit ids). Merged from the highest
        // boundary down, so that a chain of merges folds into its first block.
        let run = lo..hi + m;
        let mut bounds = std::mem::take(&mut self.bounds);
        bounds.clear();
        for &(o, p) in &incoming {
            let s = o.start;
            if let Some(prev) = set.get(p + 1).filter(|_| run.contains(&(p + 1))) {
                if prev.free() && end_in(&self.slab, prev).checked_add(1) == Some(s) {
                    bounds.push((s, prev.slot(), o.slot()));
                }
            }
            let next = p.checked_sub(1).filter(|q| run.contains(q)).map(|q| set[q]);
            if let (Some(next), Some(after)) = (next, end_in(&self.slab, &o).checked_add(1)) {
                if next.free() && next.start == after {
                    bounds.push((after, o.slot(), next.slot()));
                }
            }
        }
        self.scratch = incoming;
        bounds.sort_unstable();
        bounds.dedup();
        for &(x, l, r) in bounds.iter().rev() {
            self.merge_at(issuing, to, x, l, r, &mut log);
        }
        self.bounds = bounds;
        // While the owners are lent out, their changes wait for the loan to come back.
        if self.pending.len() >= PENDING_MAX && !self.away {
            self.settle();
        }
    }

    /// Merges the block starting at `x` (in slot `rslot`) into the one ending just before it
    /// (in `lslot`), both owned by `owner`, if they are mergeable.
    fn merge_at(
        &mut self,
        issuing: RegistryId,
        owner: AccountId,
        x: u64,
        lslot: u32,
        rslot: u32,
        log: &mut Option<&mut dyn FnMut(Key, Option<Block>)>,
    ) {
        let (l, r) = (self.slab[lslot].with(owner), self.slab[rslot].with(owner));
        let ls = self.slab[lslot].start;
        debug_assert_eq!((self.slab[lslot].next, self.slab[rslot].start), (rslot, x));
        if l.end.checked_add(1) != Some(x) || !RegistryState::mergeable(&l, ls, &r) {
            return;
        }
        if let Some(log) = log.as_mut() {
            log((issuing, x), Some(r));
        }
        // `r` leaves the serial order: its predecessor is `l`.
        self.remove_at(issuing, Some(lslot), rslot, &r);
        if let Some(log) = log.as_mut() {
            log((issuing, ls), Some(l));
        }
        self.replace((issuing, ls), lslot, &l, Block { end: r.end, ..l });
    }
}

/// Account `a`'s index, made (and `a` numbered) if it has none.
fn index_of<'a>(
    by_owner: &'a mut IdMap<AccountId, AccountBlocks>,
    ids: &mut Vec<AccountId>,
    a: AccountId,
) -> &'a mut AccountBlocks {
    by_owner.entry(a).or_insert_with(|| {
        ids.push(a);
        AccountBlocks {
            v: Vec::new(),
            runs: Runs::default(),
            number: (ids.len() - 1) as u32,
        }
    })
}

/// Stores `b`, starting at serial `start`, in a free slot or a new one, outside the serial
/// order (its caller links it); `owner` is the number of `b.owner`, written to `owners`
/// unless they are lent out (`None`: the caller keeps the change pending).
fn alloc(
    slab: &mut Slab<Rec>,
    owners: Option<&mut Slab<u32>>,
    free: &mut Vec<u32>,
    start: u64,
    b: Block,
    owner: u32,
) -> u32 {
    let rec = Rec::of(start, &b);
    let s = match free.pop() {
        Some(s) => {
            slab[s] = rec;
            s
        }
        None => {
            let s = slab.push(rec);
            // An owner's index keeps a hold flag in a slot's top bit.
            assert!(s < HELD, "more than 2^31 blocks in one registry state");
            s
        }
    };
    if let Some(owners) = owners {
        owners.fill_to(s as usize + 1, 0);
        owners[s] = owner;
    }
    s
}

/// The owners' array of a registry state, lent out with the owner changes it had pending
/// ([`RegistryState::lend_owners`]), so that another thread writes them while the state
/// decides more quantity transfers. Given back with [`RegistryState::return_owners`].
pub struct OwnerStores {
    owners: Slab<u32>,
    changes: Vec<(u32, u32)>,
    loan: u64,
}

impl OwnerStores {
    /// Writes the lent changes, in the order they were made (the last one for a slot wins);
    /// slots made after the array was last written get their place first.
    pub fn apply(&mut self) {
        if let Some(top) = self.changes.iter().map(|c| c.0).max() {
            self.owners.fill_to(top as usize + 1, 0);
        }
        for &(s, o) in &self.changes {
            self.owners[s] = o;
        }
        self.changes.clear();
    }

    /// Owner changes not yet written.
    pub fn changes(&self) -> usize {
        self.changes.len()
    }
}

/// A block record as the slab keeps it: a [`Block`] without its owner, with its first serial
/// and its place in the serial order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rec {
    start: u64,
    end: u64,
    unit_start: u64,
    attrs: u32,
    labels: u32,
    hold: u32,
    freezes: u32,
    /// The next block of the same issuing registry in serial order, or [`NIL`].
    next: u32,
    /// In the anchors.
    anchored: bool,
}

impl Rec {
    fn of(start: u64, b: &Block) -> Rec {
        let mut r = Rec {
            start,
            end: 0,
            unit_start: 0,
            attrs: 0,
            labels: 0,
            hold: 0,
            freezes: 0,
            next: NIL,
            anchored: false,
        };
        r.set(b);
        r
    }

    /// Sets what the block says, keeping the record's place in the serial order.
    fn set(&mut self, b: &Block) {
        self.end = b.end;
        self.unit_start = b.unit_start;
        self.attrs = b.attrs;
        self.labels = b.labels;
        self.hold = b.hold;
        self.freezes = b.freezes;
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

/// Per-slot values (the block records, their owners), in chunks of a fixed size: growing never
/// moves the values already stored, where a `Vec` doubling would copy all of them into fresh
/// memory whose every page the kernel zeroes first (the writer's largest growth cost at
/// millions of blocks).
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
    /// Slots stored.
    fn len(&self) -> usize {
        self.chunks.last().map_or(0, |c| {
            ((self.chunks.len() - 1) << SLAB_CHUNK_BITS) + c.len()
        })
    }

    /// Stores `v` in new slots until there are `len`.
    fn fill_to(&mut self, len: usize, v: T)
    where
        T: Copy,
    {
        while self.len() < len {
            self.push(v);
        }
    }

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

    fn registry(i: u8) -> RegistryId {
        RegistryId::parse(["IND01", "JPN01", "KOR01"][usize::from(i % 3)]).expect("valid")
    }

    fn block(end: u64, owner: u64) -> Block {
        Block {
            end,
            unit_start: end.wrapping_mul(3),
            attrs: (owner % 2) as u32,
            labels: 0,
            owner: AccountId(owner),
            hold: 0,
            freezes: 0,
        }
    }

    proptest! {
        /// The serial order (lists through the records, from anchors) finds, inserts,
        /// removes, steps back and ranges exactly as one map keyed on (registry, serial)
        /// does, with an anchor at every block or at one in `ANCHOR_EVERY` (long walks, and the
        /// repair of walks longer than `LONG_WALK`).
        #[test]
        fn serial_order_as_one_map_of_pairs(
            sparse in prop_oneof![Just(0usize), Just(ANCHOR_EVERY as usize)],
            ops in prop::collection::vec((0u8..3, 0u64..400, any::<bool>(), 0u64..4), 1..600),
            ranges in prop::collection::vec((0u8..3, 0u64..420, 0u64..420), 1..20),
        ) {
            let mut blocks = Blocks { sparse, ..Blocks::default() };
            let mut model: BTreeMap<Key, Block> = BTreeMap::new();
            for &(r, s, keep, owner) in &ops {
                let k = (registry(r), s);
                let b = block(s + owner, owner);
                let (got, want) = if keep || s % 3 == 0 {
                    (blocks.put(k, Some(b)), model.insert(k, b))
                } else {
                    (blocks.put(k, None), model.remove(&k))
                };
                prop_assert_eq!(got, want);
                prop_assert_eq!(blocks.check_order(), Ok(()));
                prop_assert_eq!(blocks.len(), model.len());
                prop_assert_eq!(blocks.get(&k), model.get(&k).copied());
                let below = model.range(..k).next_back().filter(|(p, _)| p.0 == k.0);
                prop_assert_eq!(blocks.before(k), below.map(|(p, b)| (*p, *b)));
                let upto = model.range(..=k).next_back().filter(|(p, _)| p.0 == k.0);
                prop_assert_eq!(blocks.at_or_before(k), upto.map(|(p, b)| (*p, *b)));
            }
            let all: Vec<_> = blocks.iter().collect();
            prop_assert_eq!(all, model.iter().map(|(k, b)| (*k, *b)).collect::<Vec<_>>());
            for (r, lo, hi) in ranges {
                let r = registry(r);
                let want: Vec<_> = if lo > hi {
                    Vec::new()
                } else {
                    model.range((r, lo)..=(r, hi)).map(|(k, b)| (k.1, *b)).collect()
                };
                let got: Vec<_> = blocks.range(r, lo, hi).collect();
                prop_assert_eq!(got, want);
            }
        }
    }

    #[test]
    fn serial_order_keeps_registries_apart_and_its_lowest_block_anchored() {
        let (ind, jpn) = (registry(0), registry(1));
        let mut blocks = Blocks {
            sparse: ANCHOR_EVERY as usize,
            ..Blocks::default()
        };
        blocks.put((jpn, 0), Some(block(0, 1)));
        blocks.put((ind, u64::MAX), Some(block(u64::MAX, 2)));
        blocks.put((ind, 1), Some(block(1, 3)));
        let order: Vec<_> = blocks.iter().map(|(k, _)| k).collect();
        assert_eq!(order, vec![(ind, 1), (ind, u64::MAX), (jpn, 0)]);
        assert_eq!(blocks.before((jpn, 5)).map(|(k, _)| k), Some((jpn, 0)));
        assert_eq!(blocks.before((jpn, 0)), None);
        assert_eq!(blocks.at_or_before((ind, 0)), None);
        // Removing the lowest block makes the next one an anchor, so lookups still find it.
        blocks.put((ind, 1), None);
        assert_eq!(blocks.check_order(), Ok(()));
        assert_eq!(blocks.get(&(ind, u64::MAX)), Some(block(u64::MAX, 2)));
        assert_eq!(blocks.len(), 2);
    }

    #[test]
    fn a_long_walk_in_a_changing_command_leaves_an_anchor_where_it_stopped() {
        let r = registry(0);
        // `put` anchors nothing but the lowest block of its own accord here: each insert at
        // the end walks the list from the last anchor, and a walk of more than `LONG_WALK`
        // steps anchors where it stopped.
        let mut blocks = Blocks {
            sparse: usize::MAX,
            ..Blocks::default()
        };
        for s in 0..200u64 {
            blocks.put((r, s * 10), Some(block(s * 10 + 9, 1)));
        }
        assert_eq!(blocks.check_order(), Ok(()));
        let anchors = blocks.anchors.of(r).map_or(0, |m| m.len());
        assert_eq!(anchors, 200 / (LONG_WALK + 2) + 1);
        let longest = (0..200u64).map(|s| blocks.seek(r, s * 10).2).max();
        assert_eq!(longest, Some(LONG_WALK));
        // Reading walks as far but changes nothing.
        assert_eq!(blocks.get(&(r, 1_990)), Some(block(1_999, 1)));
        assert_eq!(blocks.anchors.of(r).map_or(0, |m| m.len()), anchors);
    }
}
