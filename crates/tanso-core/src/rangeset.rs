//! A set of disjoint serial ranges keyed by issuing registry, kept maximally merged.
//! Used by holds to remember exactly which serials they cover.

use crate::ids::RegistryId;
use crate::model::IssuedRange;
use crate::units::SerialRange;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RangeSet {
    /// (issuing, start) → end, disjoint and non-adjacent.
    map: BTreeMap<(RegistryId, u64), u64>,
}

impl RangeSet {
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn total(&self) -> u64 {
        self.map.iter().map(|(&(_, s), &e)| e - s + 1).sum()
    }

    pub fn ranges(&self) -> Vec<IssuedRange> {
        self.map
            .iter()
            .filter_map(|(&(issuing, s), &e)| {
                SerialRange::new(s, e)
                    .ok()
                    .map(|range| IssuedRange { issuing, range })
            })
            .collect()
    }

    /// Whether every serial of `r` is in the set.
    pub fn covers(&self, r: &IssuedRange) -> bool {
        self.map
            .range(..=(r.issuing, r.range.start()))
            .next_back()
            .is_some_and(|(&(i, s), &e)| {
                i == r.issuing && s <= r.range.start() && r.range.end() <= e
            })
    }

    /// Whether any serial of `r` is in the set.
    pub fn overlaps(&self, r: &IssuedRange) -> bool {
        let before = self
            .map
            .range(..=(r.issuing, r.range.start()))
            .next_back()
            .is_some_and(|(&(i, _), &e)| i == r.issuing && e >= r.range.start());
        before
            || self
                .map
                .range((r.issuing, r.range.start())..=(r.issuing, r.range.end()))
                .next()
                .is_some()
    }

    /// Adds `r`, which must not overlap the set. Returns false (and changes nothing) if it does.
    pub fn insert(&mut self, r: &IssuedRange) -> bool {
        if self.overlaps(r) {
            return false;
        }
        let (mut s, mut e) = (r.range.start(), r.range.end());
        if let Some((&(i, ps), &pe)) = self.map.range(..(r.issuing, s)).next_back() {
            if i == r.issuing && pe.checked_add(1) == Some(s) {
                self.map.remove(&(i, ps));
                s = ps;
            }
        }
        if let Some(n) = e.checked_add(1) {
            if let Some(ne) = self.map.remove(&(r.issuing, n)) {
                e = ne;
            }
        }
        self.map.insert((r.issuing, s), e);
        true
    }

    /// Removes `r`, which must be covered. Returns false (and changes nothing) if it is not.
    pub fn remove(&mut self, r: &IssuedRange) -> bool {
        if !self.covers(r) {
            return false;
        }
        let Some((&(i, s), &e)) = self.map.range(..=(r.issuing, r.range.start())).next_back()
        else {
            return false;
        };
        self.map.remove(&(i, s));
        if s < r.range.start() {
            self.map.insert((i, s), r.range.start() - 1);
        }
        if r.range.end() < e {
            self.map.insert((i, r.range.end() + 1), e);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ir(s: u64, e: u64) -> IssuedRange {
        IssuedRange {
            issuing: RegistryId::parse("IND01").unwrap(),
            range: SerialRange::new(s, e).unwrap(),
        }
    }

    #[test]
    fn insert_merges_and_remove_splits() {
        let mut s = RangeSet::default();
        assert!(s.insert(&ir(1, 10)));
        assert!(s.insert(&ir(11, 20)));
        assert_eq!(s.ranges(), vec![ir(1, 20)]);
        assert!(!s.insert(&ir(5, 5)));
        assert!(s.remove(&ir(5, 6)));
        assert_eq!(s.ranges(), vec![ir(1, 4), ir(7, 20)]);
        assert!(!s.remove(&ir(4, 7)));
        assert_eq!(s.total(), 18);
        assert!(s.covers(&ir(7, 20)));
        assert!(!s.covers(&ir(6, 8)));
    }
}
