//! A map from 64-bit fingerprints to small values, for the index of every accepted command
//! (millions of entries, one insert per command): open addressing with linear probing, each
//! slot holding its fingerprint and its value side by side. Looking a fingerprint up reads the
//! slot where inserting it would write, usually one cache line, so the writer's look-ahead
//! (`Node::warm`) brings in what the insert will touch. Split into [`SHARDS`] tables by
//! fingerprint bits 40..46 (a table's own slot comes from the low bits): a table grows by
//! rehashing a sixty-fourth of the entries, not all of them at once.
//!
//! A table can also be made for a number of entries at once ([`FpTable::with_capacity`]): it
//! then takes that many without growing. Growing rehashes a table into a fresh array twice the
//! size, whose memory the system hands over page by page as it is first written; on the
//! writer, at a million commands a second, that is about a seventh of its time (see
//! `docs/BENCHMARKS.md`, fifteenth round). A node provisioned for its load makes the arrays
//! when it opens.
//!
//! Fingerprints 0 and 1 are one key (0 marks an empty slot): to the caller that is a
//! fingerprint collision, which it already resolves against the stored ids.

use std::alloc::Layout;
use std::mem::{align_of, size_of};
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

pub(crate) const SHARDS: usize = 64;
/// Slots of a table when it first takes an entry.
const FIRST_SLOTS: usize = 256;
const EMPTY: u64 = 0;

#[derive(Clone, Copy, Default)]
struct Slot<V> {
    key: u64,
    val: V,
}

/// A table's array of slots: one allocation, every slot written when it is made. On Linux an
/// array of 2 MiB or more is mapped from the system on its own, aligned to 2 MiB and advised
/// `MADV_HUGEPAGE` before it is written, so that all of it is backed by huge pages: for a
/// table read at random one TLB entry then covers 512 times as much, and a look-up or a
/// prefetch of a slot no longer walks the page tables. From the allocator, even aligned, a
/// third of the id index stayed in 4 KiB pages.
struct Slots<V> {
    ptr: NonNull<Slot<V>>,
    len: usize,
    /// Mapped on its own (unmapped on drop), not from the allocator.
    mapped: bool,
}

// SAFETY: `Slots` owns its slots as a `Vec` would, and hands them out only through `&self`
// and `&mut self`.
unsafe impl<V: Send> Send for Slots<V> {}
// SAFETY: as above.
unsafe impl<V: Sync> Sync for Slots<V> {}

const HUGE_PAGE: usize = 2 << 20;

impl<V> Slots<V> {
    const fn empty() -> Self {
        Slots {
            ptr: NonNull::dangling(),
            len: 0,
            mapped: false,
        }
    }

    /// How `len` slots (at least one) are allocated; `None` past any memory.
    fn layout(len: usize) -> Option<Layout> {
        let bytes = len.checked_mul(size_of::<Slot<V>>())?;
        Layout::from_size_align(bytes, align_of::<Slot<V>>()).ok()
    }

    /// The bytes mapped for `len` slots: whole huge pages.
    fn mapped_bytes(len: usize) -> usize {
        (len * size_of::<Slot<V>>()).next_multiple_of(HUGE_PAGE)
    }

    /// Memory for `len` slots (at least one), not yet written: mapped, or from the allocator.
    fn allocate(len: usize) -> Option<(NonNull<Slot<V>>, bool)> {
        let layout = Self::layout(len)?;
        #[cfg(target_os = "linux")]
        if layout.size() >= HUGE_PAGE {
            let bytes = layout.size().checked_next_multiple_of(HUGE_PAGE)?;
            let span = bytes.checked_add(HUGE_PAGE)?;
            // SAFETY: a fresh private anonymous mapping; nothing else refers to it.
            let at = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    span,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            if at == libc::MAP_FAILED {
                return None;
            }
            let start = at as usize;
            let aligned = start.next_multiple_of(HUGE_PAGE);
            // SAFETY: giving back the parts of the mapping before and after the aligned
            // `bytes` (page-aligned, inside it, and never handed out), and advising the rest,
            // not yet written, into huge pages (a hint: it changes how the pages are backed,
            // never their contents).
            unsafe {
                if aligned > start {
                    libc::munmap(at, aligned - start);
                }
                let tail = start + span - (aligned + bytes);
                if tail > 0 {
                    libc::munmap((aligned + bytes) as *mut libc::c_void, tail);
                }
                libc::madvise(aligned as *mut libc::c_void, bytes, libc::MADV_HUGEPAGE);
            }
            return NonNull::new(aligned as *mut Slot<V>).map(|p| (p, true));
        }
        // SAFETY: the layout's size is not zero (`len` > 0 and a slot holds a u64).
        let raw = unsafe { std::alloc::alloc(layout) };
        NonNull::new(raw.cast::<Slot<V>>()).map(|p| (p, false))
    }
}

impl<V: Copy + Default> Slots<V> {
    /// `len` empty slots; `None` if the memory cannot be had.
    fn filled(len: usize) -> Option<Self> {
        if len == 0 {
            return Some(Self::empty());
        }
        let (ptr, mapped) = Self::allocate(len)?;
        let raw = ptr.as_ptr();
        for i in 0..len {
            // SAFETY: `i` < `len`, inside the allocation; each slot is written once, here.
            unsafe { raw.add(i).write(Slot::default()) };
        }
        Some(Slots { ptr, len, mapped })
    }

    /// `len` empty slots, or the process ends as when a `Vec` cannot grow.
    fn filled_or_abort(len: usize) -> Self {
        Self::filled(len).unwrap_or_else(|| {
            std::alloc::handle_alloc_error(Self::layout(len).unwrap_or(Layout::new::<Slot<V>>()))
        })
    }
}

impl<V> Deref for Slots<V> {
    type Target = [Slot<V>];
    fn deref(&self) -> &[Slot<V>] {
        // SAFETY: `ptr` holds `len` written slots (or is dangling with `len` 0), owned here.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<V> DerefMut for Slots<V> {
    fn deref_mut(&mut self) -> &mut [Slot<V>] {
        // SAFETY: as in `deref`, and `&mut self` makes this the only reference.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl<V> Drop for Slots<V> {
    fn drop(&mut self) {
        if self.len == 0 {
            return;
        }
        let ptr = self.ptr.as_ptr();
        #[cfg(target_os = "linux")]
        if self.mapped {
            // SAFETY: mapped in `allocate` with exactly these bytes; slots need no drop.
            unsafe { libc::munmap(ptr.cast(), Self::mapped_bytes(self.len)) };
            return;
        }
        let layout = Self::layout(self.len).expect("the slots were allocated with it");
        // SAFETY: allocated in `allocate` with this layout; slots need no drop (V: Copy where
        // they are made).
        unsafe { std::alloc::dealloc(ptr.cast(), layout) };
    }
}

struct Table<V> {
    slots: Slots<V>,
    len: usize,
}

impl<V> Default for Table<V> {
    fn default() -> Self {
        Table {
            slots: Slots::empty(),
            len: 0,
        }
    }
}

impl<V: Copy + Default> Table<V> {
    /// Where `key` is (`Ok`), or the empty slot where it would go (`Err`); `None` if the table
    /// has no slots yet.
    fn find(&self, key: u64) -> Option<Result<usize, usize>> {
        let mask = self.slots.len().checked_sub(1)?;
        let mut i = key as usize & mask;
        loop {
            match self.slots[i].key {
                k if k == key => return Some(Ok(i)),
                EMPTY => return Some(Err(i)),
                _ => i = (i + 1) & mask,
            }
        }
    }

    fn insert(&mut self, key: u64, val: V) -> Option<V> {
        // At most three quarters full, so probes stay short.
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        match self.find(key) {
            Some(Ok(i)) => Some(std::mem::replace(&mut self.slots[i].val, val)),
            Some(Err(i)) => {
                self.slots[i] = Slot { key, val };
                self.len += 1;
                None
            }
            None => unreachable!("a grown table has slots"),
        }
    }

    fn grow(&mut self) {
        let n = (self.slots.len() * 2).max(FIRST_SLOTS);
        let old = std::mem::replace(&mut self.slots, Slots::filled_or_abort(n));
        let mask = n - 1;
        for &s in old.iter().filter(|s| s.key != EMPTY) {
            let mut i = s.key as usize & mask;
            while self.slots[i].key != EMPTY {
                i = (i + 1) & mask;
            }
            self.slots[i] = s;
        }
    }
}

/// A table's memory could not be had.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct NoRoom;

/// Fingerprint → value, in [`SHARDS`] open-addressing tables.
pub(crate) struct FpTable<V> {
    tables: Vec<Table<V>>,
}

impl<V: Copy + Default> FpTable<V> {
    pub(crate) fn new() -> Self {
        FpTable {
            tables: (0..SHARDS).map(|_| Table::default()).collect(),
        }
    }

    /// The slots of each shard's array in a table made for `entries` (`None` past any memory).
    fn shard_slots(entries: usize) -> Option<usize> {
        // A shard's share, with room for the fingerprints' spread, at most three quarters full.
        let share = entries.div_ceil(SHARDS).saturating_add(entries.isqrt());
        share
            .checked_mul(4)
            .map(|x| x.div_ceil(3))
            .and_then(usize::checked_next_power_of_two)
    }

    /// The bytes of a table made for `entries` (`None` past any memory).
    pub(crate) fn bytes_for(entries: usize) -> Option<usize> {
        match entries {
            0 => Some(0),
            n => Self::shard_slots(n)?
                .checked_mul(SHARDS)?
                .checked_mul(size_of::<Slot<V>>()),
        }
    }

    /// A table that takes `entries` (spread over the shards as fingerprints are) without
    /// growing: each shard's array made now, every slot written, so its memory is in hand.
    /// Refused, with nothing kept, if the memory cannot be had.
    pub(crate) fn with_capacity(entries: usize) -> Result<Self, NoRoom> {
        if entries == 0 {
            return Ok(Self::new());
        }
        let slots = Self::shard_slots(entries).ok_or(NoRoom)?;
        let mut tables = Vec::with_capacity(SHARDS);
        for _ in 0..SHARDS {
            tables.push(Table {
                slots: Slots::filled(slots).ok_or(NoRoom)?,
                len: 0,
            });
        }
        Ok(FpTable { tables })
    }

    fn key(fp: u64) -> u64 {
        fp.max(1)
    }

    /// The shard of `key`: fingerprint bits 40..46.
    fn shard(key: u64) -> usize {
        (key >> 40) as usize % SHARDS
    }

    /// Binds `fp` to `val`; returns the value it was bound to before, if any.
    pub(crate) fn insert(&mut self, fp: u64, val: V) -> Option<V> {
        let key = Self::key(fp);
        self.tables[Self::shard(key)].insert(key, val)
    }

    pub(crate) fn get(&self, fp: u64) -> Option<V> {
        let key = Self::key(fp);
        let t = &self.tables[Self::shard(key)];
        match t.find(key)? {
            Ok(i) => Some(t.slots[i].val),
            Err(_) => None,
        }
    }

    pub(crate) fn contains(&self, fp: u64) -> bool {
        self.get(fp).is_some()
    }

    /// Asks the CPU for the line of `fp`'s home slot (where a lookup or an insert of it
    /// starts) without waiting for it: a look-ahead that, unlike a lookup, does not hold the
    /// core while the line is on its way, so many can be in flight at once.
    pub(crate) fn prefetch(&self, fp: u64) {
        let key = Self::key(fp);
        let t = &self.tables[Self::shard(key)];
        let Some(mask) = t.slots.len().checked_sub(1) else {
            return;
        };
        crate::prefetch_line(&t.slots[key as usize & mask]);
    }

    #[cfg(test)]
    fn slots(&self) -> usize {
        self.tables.iter().map(|t| t.slots.len()).sum()
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.tables.iter().map(|t| t.len).sum()
    }

    /// How many entries each shard holds.
    #[cfg(test)]
    pub(crate) fn shard_lens(&self) -> Vec<usize> {
        self.tables.iter().map(|t| t.len).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    /// Fingerprints that share shards and low bits, so probes run into each other and wrap.
    fn fp() -> impl Strategy<Value = u64> {
        prop_oneof![
            any::<u64>(),
            (0u64..4, 0u64..600).prop_map(|(shard, low)| (shard << 40) | (low * 255)),
            Just(0u64),
            Just(1u64),
        ]
    }

    proptest! {
        /// The table answers as a map does: every insert returns the value it replaced, and
        /// every fingerprint inserted or not is found or not; 0 and 1 are one key.
        #[test]
        fn fp_table_answers_as_a_map(ops in prop::collection::vec((fp(), any::<u32>()), 1..3000)) {
            let mut table = FpTable::new();
            let mut model: HashMap<u64, u32> = HashMap::new();
            let mut replaced = 0;
            for &(fp, v) in &ops {
                // A look-ahead's prefetch of any fingerprint, in any table, is only a hint.
                table.prefetch(fp);
                let was = model.insert(fp.max(1), v);
                replaced += usize::from(was.is_some());
                prop_assert_eq!(table.insert(fp, v), was);
            }
            prop_assert_eq!(table.len(), model.len());
            prop_assert_eq!(table.len() + replaced, ops.len());
            for &(fp, _) in &ops {
                prop_assert_eq!(table.get(fp), model.get(&fp.max(1)).copied());
                prop_assert_eq!(table.get(fp ^ 0x5555), model.get(&(fp ^ 0x5555).max(1)).copied());
                prop_assert!(table.contains(fp));
            }
        }
    }

    proptest! {
        /// A table made for n entries takes n random fingerprints without growing (none of its
        /// shards rehashes), and answers as a map does.
        #[test]
        fn a_table_made_for_n_takes_n_without_growing(
            n in 1usize..6000,
            fps in prop::collection::vec(any::<u64>(), 6000),
        ) {
            let mut table = FpTable::with_capacity(n).expect("a small table fits");
            let made = table.slots();
            prop_assert!(made >= n * 4 / 3, "{made} slots for {n}");
            let mut model: HashMap<u64, usize> = HashMap::new();
            for (i, &fp) in fps[..n].iter().enumerate() {
                table.prefetch(fp);
                prop_assert_eq!(table.insert(fp, i), model.insert(fp.max(1), i));
            }
            prop_assert_eq!(table.slots(), made);
            prop_assert_eq!(table.len(), model.len());
            for &fp in &fps {
                prop_assert_eq!(table.get(fp), model.get(&fp.max(1)).copied());
            }
        }
    }

    /// A table made for millions has arrays of 2 MiB or more: on Linux each is mapped on its
    /// own at a 2 MiB boundary, and the table answers as with any other memory.
    #[test]
    fn a_large_table_has_its_arrays_mapped_at_huge_page_boundaries() {
        let mut table = FpTable::with_capacity(6_500_000).expect("128 MB fit");
        for t in &table.tables {
            assert!(t.slots.len() * size_of::<Slot<u64>>() >= HUGE_PAGE);
            if cfg!(target_os = "linux") {
                assert!(t.slots.mapped);
                assert_eq!(t.slots.ptr.as_ptr() as usize % HUGE_PAGE, 0);
            }
        }
        let mut model = HashMap::new();
        for i in 0..20_000u64 {
            let fp = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            assert_eq!(table.insert(fp, i), model.insert(fp.max(1), i));
        }
        for i in 0..40_000u64 {
            let fp = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            assert_eq!(table.get(fp), model.get(&fp.max(1)).copied());
        }
        // Dropped here: each mapping is given back whole.
    }

    #[test]
    fn a_table_past_its_capacity_grows() {
        let mut table = FpTable::with_capacity(100).expect("a small table fits");
        let made = table.slots();
        for fp in 0..10_000u64 {
            table.insert(fp.wrapping_mul(0x9e37_79b9_7f4a_7c15), fp);
        }
        assert!(table.slots() > made);
        assert_eq!(table.len(), 10_000);
        assert_eq!(
            table.get(77u64.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            Some(77)
        );
    }

    #[test]
    fn a_table_too_large_for_memory_is_refused() {
        assert!(FpTable::<u32>::with_capacity(usize::MAX).is_err());
        assert!(FpTable::<u32>::with_capacity(usize::MAX / 8).is_err());
        let empty = FpTable::<u32>::with_capacity(0).expect("no memory needed");
        assert_eq!(empty.slots(), 0);
        assert_eq!(FpTable::<u32>::bytes_for(usize::MAX / 8), None);
        assert_eq!(FpTable::<u32>::bytes_for(0), Some(0));
        let made = FpTable::<u32>::with_capacity(3000).expect("a small table fits");
        assert_eq!(
            FpTable::<u32>::bytes_for(3000),
            Some(made.slots() * std::mem::size_of::<Slot<u32>>())
        );
    }

    #[test]
    fn an_empty_table_finds_nothing() {
        let table: FpTable<u32> = FpTable::new();
        table.prefetch(7);
        assert_eq!(table.get(7), None);
        assert!(!table.contains(0));
        assert_eq!(table.len(), 0);
    }

    #[test]
    fn zero_and_one_are_one_key() {
        let mut table = FpTable::new();
        assert_eq!(table.insert(0, 5u32), None);
        assert_eq!(table.insert(1, 6), Some(5));
        assert_eq!(table.get(0), Some(6));
        assert_eq!(table.len(), 1);
    }
}
