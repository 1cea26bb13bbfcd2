//! Generates a synthetic cluster and reports how long it took.
//!
//! `cargo run --release -p podwall-synth --example synth -- PODS NAMESPACES POLICIES SEED [DIR]`
//!
//! Without DIR the objects are only generated; with it they are written there,
//! one `kind: List` file per namespace.

use std::path::Path;
use std::time::Instant;

use podwall_synth::{generate, write, Params};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, default: u64| -> u64 {
        args.get(i).map(|s| s.parse().expect("arguments are numbers")).unwrap_or(default)
    };
    let p = Params {
        pods: num(0, 100_000) as usize,
        namespaces: num(1, 5_000) as usize,
        policies: num(2, 10_000) as usize,
        seed: num(3, 1),
        ..Params::default()
    };
    let t = Instant::now();
    match args.get(4) {
        Some(dir) => {
            let paths = write(&p, Path::new(dir)).expect("write the cluster");
            eprintln!("{p:?}: wrote {} files in {:?}", paths.len(), t.elapsed());
        }
        None => {
            let objects = generate(&p);
            eprintln!("{p:?}: generated {} objects in {:?}", objects.len(), t.elapsed());
        }
    }
}
