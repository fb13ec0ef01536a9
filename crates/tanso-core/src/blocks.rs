//! The serial blocks of one registry state, in two orders over one store of block records:
//! by (issuing registry, first serial) for lookups by serial, and per owner by
//! (attributes, labels, first serial) for selection, which takes an account's blocks of one set
//! in ascending serial order. Both orders hold the record's slot in `slab`, so a block whose
//! owner changes (the common case of a transfer) is rewritten in its slot and re-indexed under
//! its owners, without a search of the serial order; only a new first serial (a split) or a
//! removed one (a merge) changes that order.
//!
//! Slots are internal: nothing observable (state hash, views, encodings) depends on them.

use crate::ids::{AccountId, RegistryId};
use crate::registry::{Block, IdMap};
use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::ops::RangeBounds;

/// A block's key in the serial order: (issuing registry, first serial).
pub(crate) type Key = (RegistryId, u64);
/// A block's key in its owner's order: (attributes, labels, first serial).
pub(crate) type SetKey = (u32, u32, u64);
/// One account's blocks: set key → slot.
pub(crate) type AccountBlocks = BTreeMap<SetKey, u32>;

#[derive(Clone, Default)]
pub(crate) struct Blocks {
    by_serial: BTreeMap<Key, u32>,
    slab: Vec<Block>,
    free: Vec<u32>,
    by_owner: IdMap<AccountId, AccountBlocks>,
}

impl Blocks {
    pub(crate) fn len(&self) -> usize {
        self.by_serial.len()
    }

    pub(crate) fn get(&self, key: &Key) -> Option<&Block> {
        self.by_serial.get(key).map(|&i| &self.slab[i as usize])
    }

    /// Blocks whose keys fall in `r`, in serial order.
    pub(crate) fn range<R: RangeBounds<Key>>(
        &self,
        r: R,
    ) -> impl DoubleEndedIterator<Item = (&Key, &Block)> + '_ {
        self.by_serial
            .range(r)
            .map(|(k, &i)| (k, &self.slab[i as usize]))
    }

    /// Every block, in serial order.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = (&Key, &Block)> + '_ {
        self.range(..)
    }

    /// The block in slot `slot`.
    pub(crate) fn at(&self, slot: u32) -> &Block {
        &self.slab[slot as usize]
    }

    /// An account's blocks by set, if it ever held any (the map may be empty).
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
            Some(b) => match self.by_serial.entry(key) {
                Entry::Occupied(e) => {
                    let slot = *e.get();
                    Some(self.set_at(key, slot, b))
                }
                Entry::Vacant(e) => {
                    let slot = match self.free.pop() {
                        Some(s) => {
                            self.slab[s as usize] = b;
                            s
                        }
                        None => {
                            self.slab.push(b);
                            (self.slab.len() - 1) as u32
                        }
                    };
                    e.insert(slot);
                    self.index(&b, key.1, slot);
                    None
                }
            },
            None => {
                let slot = self.by_serial.remove(&key)?;
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
        debug_assert_eq!(self.by_serial.get(&key), Some(&slot));
        let old = std::mem::replace(&mut self.slab[slot as usize], new);
        if (old.owner, old.attrs, old.labels) != (new.owner, new.attrs, new.labels) {
            self.unindex(&old, key.1);
            self.index(&new, key.1, slot);
        }
        old
    }

    fn index(&mut self, b: &Block, start: u64, slot: u32) {
        self.by_owner
            .entry(b.owner)
            .or_default()
            .insert((b.attrs, b.labels, start), slot);
    }

    fn unindex(&mut self, b: &Block, start: u64) {
        if let Some(set) = self.by_owner.get_mut(&b.owner) {
            set.remove(&(b.attrs, b.labels, start));
        }
    }
}
