//! Sets of numbers as sorted, disjoint, non-adjacent inclusive ranges: addresses of one
//! family, ports, protocol numbers. Exact set algebra, so that a rule's peers (selectors,
//! ranges, exclusions) become one lookup per address family.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A set of numbers in `0..=max`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ranges {
    max: u128,
    spans: Vec<(u128, u128)>,
}

impl Ranges {
    /// The empty set over `0..=max`.
    pub fn empty(max: u128) -> Self {
        Ranges { max, spans: Vec::new() }
    }

    /// Every number in `0..=max`.
    pub fn full(max: u128) -> Self {
        Ranges { max, spans: vec![(0, max)] }
    }

    /// The numbers `lo..=hi`.
    #[cfg(test)]
    pub fn span(max: u128, lo: u128, hi: u128) -> Self {
        let mut r = Ranges::empty(max);
        r.add(lo, hi);
        r
    }

    /// Adds `lo..=hi`.
    pub fn add(&mut self, lo: u128, hi: u128) {
        let (lo, hi) = (lo.min(self.max), hi.min(self.max));
        if lo > hi {
            return;
        }
        self.spans.push((lo, hi));
        self.normalize();
    }

    fn normalize(&mut self) {
        self.spans.sort_unstable();
        let mut out: Vec<(u128, u128)> = Vec::with_capacity(self.spans.len());
        for &(lo, hi) in &self.spans {
            match out.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => out.push((lo, hi)),
            }
        }
        self.spans = out;
    }

    /// Whether the set holds nothing.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Whether the set holds every number.
    pub fn is_full(&self) -> bool {
        self.spans == [(0, self.max)]
    }

    /// The spans, ascending.
    pub fn spans(&self) -> &[(u128, u128)] {
        &self.spans
    }

    /// Whether `n` is in the set.
    pub fn contains(&self, n: u128) -> bool {
        let i = self.spans.partition_point(|&(_, hi)| hi < n);
        self.spans.get(i).is_some_and(|&(lo, _)| lo <= n)
    }

    /// Everything not in the set.
    pub fn complement(&self) -> Self {
        let mut spans = Vec::with_capacity(self.spans.len() + 1);
        let mut next = Some(0u128);
        for &(lo, hi) in &self.spans {
            if let Some(n) = next {
                if lo > n {
                    spans.push((n, lo - 1));
                }
            }
            next = hi.checked_add(1).filter(|n| *n <= self.max);
        }
        if let Some(n) = next {
            spans.push((n, self.max));
        }
        Ranges { max: self.max, spans }
    }

    /// Union.
    pub fn union(&self, other: &Self) -> Self {
        let mut r = self.clone();
        r.spans.extend_from_slice(&other.spans);
        r.normalize();
        r
    }

    /// Intersection.
    pub fn intersect(&self, other: &Self) -> Self {
        self.complement().union(&other.complement()).complement()
    }

    /// Difference.
    pub fn minus(&self, other: &Self) -> Self {
        self.intersect(&other.complement())
    }
}

/// Splits `lo..=hi` of a `bits`-wide space into the fewest aligned blocks: (start,
/// prefix length).
pub fn prefixes(lo: u128, hi: u128, bits: u32) -> Vec<(u128, u32)> {
    let mut out = Vec::new();
    let mut lo = lo;
    loop {
        // The largest block aligned at `lo` that stays within `hi`.
        let mut size_log = if lo == 0 { bits } else { lo.trailing_zeros().min(bits) };
        while size_log > 0 && block_end(lo, size_log).is_none_or(|end| end > hi) {
            size_log -= 1;
        }
        out.push((lo, bits - size_log));
        match block_end(lo, size_log).and_then(|end| end.checked_add(1)) {
            Some(next) if next <= hi => lo = next,
            _ => return out,
        }
    }
}

fn block_end(lo: u128, size_log: u32) -> Option<u128> {
    if size_log >= 128 {
        return (lo == 0).then_some(u128::MAX);
    }
    lo.checked_add((1u128 << size_log) - 1)
}

/// An address as a number of its family's space.
pub fn ip_number(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u32::from(a) as u128,
        IpAddr::V6(a) => u128::from(a),
    }
}

/// A number of a family's space as an address.
pub fn number_ip(n: u128, v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(n))
    } else {
        IpAddr::V4(Ipv4Addr::from(n as u32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complement_union_intersection_are_exact() {
        let a = Ranges::span(99, 10, 20);
        let b = Ranges::span(99, 15, 30);
        assert_eq!(a.union(&b).spans(), [(10, 30)]);
        assert_eq!(a.intersect(&b).spans(), [(15, 20)]);
        assert_eq!(a.minus(&b).spans(), [(10, 14)]);
        assert_eq!(a.complement().spans(), [(0, 9), (21, 99)]);
        assert!(Ranges::empty(99).complement().is_full());
        assert!(Ranges::full(u128::MAX).complement().is_empty());
        assert_eq!(Ranges::span(u128::MAX, 5, u128::MAX).complement().spans(), [(0, 4)]);
    }

    #[test]
    fn adjacent_spans_merge() {
        let mut r = Ranges::span(99, 1, 2);
        r.add(3, 4);
        assert_eq!(r.spans(), [(1, 4)]);
        assert!(r.contains(3) && !r.contains(5) && !r.contains(0));
    }

    #[test]
    fn ranges_split_into_aligned_prefixes() {
        // 10.0.0.1 - 10.0.0.6 → .1/32 .2/31 .4/31 .6/32
        let base = ip_number("10.0.0.0".parse().unwrap());
        let p = prefixes(base + 1, base + 6, 32);
        assert_eq!(p, [(base + 1, 32), (base + 2, 31), (base + 4, 31), (base + 6, 32)]);
        assert_eq!(prefixes(0, u32::MAX as u128, 32), [(0, 0)]);
        assert_eq!(prefixes(0, u128::MAX, 128), [(0, 0)]);
        assert_eq!(prefixes(u128::MAX, u128::MAX, 128), [(u128::MAX, 128)]);
    }
}
