//! The shipped example cluster served as an API server would serve it gives the same
//! objects, and the same verdicts, as its files.
mod support;

use std::sync::Arc;
use std::time::Duration;

use podwall_cluster::{Settings, Target};
use podwall_ir::Protocol;
use podwall_load::{Input, Object, Options};
use serde_json::Value;
use support::examples;

/// What an object is, apart from where it was read: apiVersion, kind, namespace, name,
/// the typed object (as debug text) and its kept document.
type Essence = (String, String, Option<String>, String, String, Option<Value>);

fn essence(o: &Object) -> Essence {
    let raw = o.raw.as_ref().map(|r| serde_json::from_str::<Value>(r.0.get()).expect("json"));
    (o.api_version.clone(), o.kind.clone(), o.namespace.clone(), o.name.clone(), format!("{:?}", o.resource), raw)
}

fn essences(input: &Input) -> Vec<Essence> {
    let mut all: Vec<_> = input.objects.iter().map(essence).collect();
    all.sort_by(|a, b| (&a.1, &a.2, &a.3, &a.0).cmp(&(&b.1, &b.2, &b.3, &b.0)));
    all
}

fn options() -> Options<'static> {
    Options { raw: &|_| true, ..Options::default() }
}

fn from_cluster() -> Input {
    let server = support::serve_examples();
    let dir = support::scratch("examples");
    let target = Target::Kubeconfig { path: Some(support::kubeconfig(&dir, &server.url())), context: None };
    let settings = Settings { page_size: 3, timeout: Duration::from_secs(10) };
    let input = podwall_cluster::load(&target, &settings, options()).expect("reads the served examples");
    std::fs::remove_dir_all(&dir).ok();
    input
}

#[test]
fn the_served_examples_are_the_objects_of_the_example_files() {
    let files = podwall_load::load_paths_with(&[examples()], options()).expect("examples load");
    let live = from_cluster();
    assert_eq!(essences(&live), essences(&files));
    assert!(live.gaps.iter().all(|g| g.reason == podwall_load::GapReason::NotServed), "{:?}", live.gaps);
}

#[test]
fn the_served_examples_give_the_verdicts_of_the_example_files() {
    let files = podwall_load::load_paths(&[examples()]).expect("examples load");
    let a = Arc::new(podwall_dialects::compile(&files).expect("compiles"));
    let b = Arc::new(podwall_dialects::compile(&from_cluster()).expect("compiles"));
    let names = |c: &podwall_ir::Cluster| c.endpoints.iter().map(|e| e.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&a), names(&b));
    let (ia, ib) = (podwall_engine::Index::build(a.clone()), podwall_engine::Index::build(b.clone()));
    let n = a.endpoints.len();
    let mut allowed = 0;
    for (protocol, port) in [(Protocol::TCP, 8080), (Protocol::TCP, 5432), (Protocol::UDP, 53), (Protocol::TCP, 9090)] {
        for s in 0..n {
            for d in 0..n {
                let v = ia.query(s, d, protocol, Some(port));
                assert_eq!(
                    v,
                    ib.query(s, d, protocol, Some(port)),
                    "{} -> {} {port}",
                    a.endpoints[s].name,
                    a.endpoints[d].name
                );
                allowed += usize::from(v);
            }
        }
    }
    assert!(allowed > 0 && allowed < 4 * n * n, "the comparison is not trivial: {allowed}");
}
