//! The summaries pictures are drawn from: `Index::port_ranges` cuts the port space where
//! matrices change and nowhere a matrix could differ inside a range, and
//! `Matrix::between` counts exactly the allowed pairs of distinct endpoints.
use std::collections::HashMap;

use podwall_engine::{Index, PORT_PROTOCOLS};
use podwall_ir::Cluster;

fn compile(values: Vec<serde_json::Value>) -> Cluster {
    let input = podwall_load::load_values("generated", values).unwrap_or_else(|e| panic!("load: {e}"));
    podwall_dialects::compile(&input).unwrap_or_else(|e| panic!("compile: {e}"))
}

fn clusters() -> impl Iterator<Item = (String, Cluster)> {
    let small = (0..60).map(|s| (format!("generate_small({s})"), compile(podwall_synth::generate_small(s))));
    let mixed =
        (0..30).map(|s| (format!("generate_small_mixed({s})"), compile(podwall_synth::generate_small_mixed(s))));
    small.chain(mixed)
}

#[test]
fn port_ranges_cover_every_port_once_and_every_port_of_a_range_gets_one_matrix() {
    let mut inner_ranges = 0;
    for (what, c) in clusters() {
        let index = Index::new(&c);
        let ranges = index.port_ranges();
        for p in PORT_PROTOCOLS {
            let mine: Vec<_> = ranges.iter().filter(|r| r.protocol == p).collect();
            assert_eq!(mine.first().map(|r| r.lo), Some(1), "{what}: {p} starts at 1");
            assert_eq!(mine.last().map(|r| r.hi), Some(65535), "{what}: {p} ends at 65535");
            for w in mine.windows(2) {
                assert_eq!(w[0].hi as u32 + 1, w[1].lo as u32, "{what}: {p} ranges are contiguous");
            }
        }
        let n = c.endpoints.len();
        for r in &ranges {
            if r.lo == r.hi {
                continue;
            }
            inner_ranges += 1;
            let rows = |port| {
                let m = index.matrix(r.protocol, Some(port));
                (0..n).map(|s| m.row(s)).collect::<Vec<_>>()
            };
            let first = rows(r.lo);
            let declared = c.declared_ports().into_iter().filter(|&(p, n)| p == r.protocol && r.lo <= n && n <= r.hi);
            let probes: Vec<u16> =
                [r.lo + 1, r.lo + (r.hi - r.lo) / 2, r.hi].into_iter().chain(declared.map(|(_, n)| n)).collect();
            for port in probes {
                assert!(rows(port) == first, "{what}: {}/{}-{} differs at {port}", r.protocol, r.lo, r.hi);
            }
        }
    }
    assert!(inner_ranges > 100, "too few ranges compared: {inner_ranges}");
}

#[test]
fn between_counts_the_allowed_pairs_of_distinct_endpoints_per_group_pair() {
    let mut compared = 0;
    for (what, c) in clusters() {
        let index = Index::new(&c);
        let n = c.endpoints.len();
        let mut names: Vec<&str> = c.endpoints.iter().map(|e| e.namespace.as_str()).collect();
        names.sort();
        names.dedup();
        let by_ns: Vec<Option<u32>> =
            c.endpoints.iter().map(|e| names.iter().position(|x| *x == e.namespace).map(|i| i as u32)).collect();
        // Every other endpoint on its own, the rest left out.
        let by_ep: Vec<Option<u32>> = (0..n).map(|i| (i % 2 == 0).then_some(i as u32)).collect();
        for r in index.port_ranges().into_iter().step_by(3) {
            let m = index.matrix(r.protocol, Some(r.lo));
            for (src, dst) in [(&by_ns, &by_ns), (&by_ns, &by_ep), (&by_ep, &by_ns)] {
                let mut want: HashMap<(u32, u32), u64> = HashMap::new();
                for (s, &from) in src.iter().enumerate() {
                    for d in (0..n).filter(|&d| d != s && m.allowed(s, d)) {
                        if let (Some(g), Some(h)) = (from, dst[d]) {
                            *want.entry((g, h)).or_default() += 1;
                        }
                    }
                }
                assert_eq!(m.between(src, dst), want, "{what}: {}/{}", r.protocol, r.lo);
                compared += 1;
            }
        }
    }
    assert!(compared > 200, "too few groupings compared: {compared}");
}
