//! A fixed-size bitset.

/// A set of indices below a fixed length.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Bits {
    words: Vec<u64>,
    len: usize,
}

impl Bits {
    /// The empty set over `len` indices.
    pub fn empty(len: usize) -> Self {
        Bits { words: vec![0; len.div_ceil(64)], len }
    }

    /// The full set over `len` indices.
    pub fn full(len: usize) -> Self {
        let mut b = Bits { words: vec![u64::MAX; len.div_ceil(64)], len };
        b.trim();
        b
    }

    fn trim(&mut self) {
        let rem = self.len % 64;
        if rem != 0 {
            if let Some(last) = self.words.last_mut() {
                *last &= (1u64 << rem) - 1;
            }
        }
    }

    /// The number of indices the set ranges over.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the set ranges over no index at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds `i`.
    pub fn insert(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
    }

    /// Empties the set.
    pub fn clear(&mut self) {
        self.words.iter_mut().for_each(|w| *w = 0);
    }

    /// Makes this set equal to `other` (of the same length), reusing its memory.
    pub fn copy_from(&mut self, other: &Bits) {
        self.words.copy_from_slice(&other.words);
    }

    /// Removes `i`.
    pub fn remove(&mut self, i: usize) {
        self.words[i / 64] &= !(1 << (i % 64));
    }

    /// Adds or removes `i`.
    pub fn set(&mut self, i: usize, on: bool) {
        if on {
            self.insert(i);
        } else {
            self.remove(i);
        }
    }

    /// Extends the range to `len` indices (not below the current one); the new ones are
    /// outside the set.
    pub fn grow(&mut self, len: usize) {
        debug_assert!(len >= self.len);
        self.words.resize(len.div_ceil(64), 0);
        self.len = len;
    }

    /// `self ⊕= other` (symmetric difference).
    pub fn xor_with(&mut self, other: &Bits) {
        self.words.iter_mut().zip(&other.words).for_each(|(a, b)| *a ^= b);
    }

    /// Whether `i` is in the set.
    pub fn contains(&self, i: usize) -> bool {
        self.words[i / 64] >> (i % 64) & 1 == 1
    }

    /// Whether no index is in the set.
    pub fn none(&self) -> bool {
        self.words.iter().all(|w| *w == 0)
    }

    /// How many indices are in the set.
    pub fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// `self ∩= other`.
    pub fn and_with(&mut self, other: &Bits) {
        self.words.iter_mut().zip(&other.words).for_each(|(a, b)| *a &= b);
    }

    /// `self ∪= other`.
    pub fn or_with(&mut self, other: &Bits) {
        self.words.iter_mut().zip(&other.words).for_each(|(a, b)| *a |= b);
    }

    /// `self ∖= other`.
    pub fn and_not_with(&mut self, other: &Bits) {
        self.words.iter_mut().zip(&other.words).for_each(|(a, b)| *a &= !b);
    }

    /// The complement.
    pub fn not(&self) -> Bits {
        let mut b = Bits { words: self.words.iter().map(|w| !w).collect(), len: self.len };
        b.trim();
        b
    }

    /// The indices in the set, ascending.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(wi, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let t = w.trailing_zeros() as usize;
                w &= w - 1;
                Some(wi * 64 + t)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complement_stays_within_length() {
        let b = Bits::empty(70).not();
        assert_eq!(b.count(), 70);
        assert_eq!(b.iter().last(), Some(69));
    }

    #[test]
    fn growing_keeps_members_and_adds_none() {
        let mut b = Bits::full(63);
        b.grow(130);
        assert_eq!(b.len(), 130);
        assert_eq!(b.count(), 63);
        assert!(!b.contains(63) && !b.contains(129));
        b.set(129, true);
        b.set(0, false);
        assert_eq!(b.count(), 63);
        assert!(b.contains(129) && !b.contains(0));
        assert_eq!(b.not().count(), 67);
    }

    #[test]
    fn set_operations() {
        let mut a = Bits::empty(130);
        a.insert(1);
        a.insert(128);
        let mut b = Bits::empty(130);
        b.insert(128);
        b.insert(5);
        let mut i = a.clone();
        i.and_with(&b);
        assert_eq!(i.iter().collect::<Vec<_>>(), [128]);
        let mut u = a.clone();
        u.or_with(&b);
        assert_eq!(u.iter().collect::<Vec<_>>(), [1, 5, 128]);
        a.and_not_with(&b);
        assert_eq!(a.iter().collect::<Vec<_>>(), [1]);
    }
}
