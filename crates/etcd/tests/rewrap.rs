//! `rewrap` against a real etcd: values written under an old key and unencrypted end
//! under the current write key, a concurrent writer's value is never lost, a dry run
//! changes nothing, a run resumes at a key, TLS with client certificates.
mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use podwall_encryption::{Config, Transformer};
use podwall_etcd::http::{self, Client};
use podwall_etcd::rewrap::{self, Counts, Options, Outcome, Target};
use podwall_etcd::Etcd;
use support::Server;

fn key(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn config(providers: serde_json::Value) -> Config {
    let doc = serde_json::json!({"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
        "resources": [{"resources": ["secrets"], "providers": providers}]});
    Config::from_value(&doc, &podwall_load::Source { file: "enc.yaml".into(), line: 1 }).unwrap()
}

/// Before rotation: the old aescbc key writes.
fn old() -> Config {
    config(serde_json::json!([
        {"aescbc": {"keys": [{"name": "old", "secret": key(b"0123456789abcdef0123456789abcdef")}]}},
        {"identity": {}}]))
}

/// After rotation: a new aesgcm key writes; the old key and identity still read.
fn new() -> Config {
    config(serde_json::json!([
        {"aesgcm": {"keys": [{"name": "new", "secret": key(b"fedcba9876543210fedcba9876543210")}]}},
        {"aescbc": {"keys": [{"name": "old", "secret": key(b"0123456789abcdef0123456789abcdef")}]}},
        {"identity": {}}]))
}

const NEW_PREFIX: &[u8] = b"k8s:enc:aesgcm:v1:new:";

fn secret(i: usize) -> Vec<u8> {
    format!("/registry/secrets/ns{}/s{i:05}", i % 7).into_bytes()
}

fn plain(i: usize, round: usize) -> Vec<u8> {
    format!("k8s\0protobuf of secret {i} round {round}").into_bytes()
}

fn targets(c: &Config) -> Vec<Target> {
    rewrap::targets(c, &[], "/registry").unwrap()
}

fn run(server: &Server, c: &Config, options: &Options) -> Result<Counts, Box<rewrap::Stopped>> {
    let connect = || server.etcd();
    rewrap::run(&connect, c, &targets(c), options, |_| {})
}

/// Writes `n` secrets: the even ones under the old key, the odd ones unencrypted.
fn seed(etcd: &mut Etcd, n: usize) {
    let old = old();
    let t = Transformer::for_resource(&old, "secrets");
    for i in 0..n {
        let stored = if i % 2 == 0 { t.write(&plain(i, 0), &secret(i)).unwrap() } else { plain(i, 0) };
        etcd.put(&secret(i), &stored).unwrap();
    }
}

fn all(etcd: &mut Etcd, prefix: &[u8]) -> Vec<(Vec<u8>, Vec<u8>, i64)> {
    let page = etcd.range(prefix, &podwall_etcd::kv::prefix_end(prefix), 100_000).unwrap();
    page.kvs.into_iter().map(|kv| (kv.key, kv.value.to_vec(), kv.mod_revision)).collect()
}

#[test]
fn old_key_and_identity_values_end_under_the_current_write_key() {
    let Some(server) = Server::start("rewrap_current") else { return };
    let mut etcd = server.etcd().unwrap();
    seed(&mut etcd, 120);
    etcd.put(b"/registry/configmaps/ns/c", b"not configured, not touched").unwrap();
    let options = Options { page: 16, workers: 3, ..Options::default() };
    let counts = run(&server, &new(), &options).unwrap();
    assert_eq!((counts.visited, counts.rewritten, counts.skipped, counts.failed), (120, 120, 0, 0));
    let new = new();
    let t = Transformer::for_resource(&new, "secrets");
    let stored = all(&mut etcd, b"/registry/secrets/");
    assert_eq!(stored.len(), 120);
    for (k, v, _) in &stored {
        assert!(v.starts_with(NEW_PREFIX), "{} not under the new key", String::from_utf8_lossy(k));
        let i: usize = String::from_utf8_lossy(k).rsplit('s').next().unwrap().parse().unwrap();
        let read = t.read(v, k).unwrap();
        assert!(!read.stale);
        assert_eq!(&read.data[..], &plain(i, 0)[..]);
    }
    assert_eq!(
        etcd.get(b"/registry/configmaps/ns/c").unwrap().unwrap().value.as_slice(),
        b"not configured, not touched"
    );
    // A second run finds everything current and writes nothing.
    let before = all(&mut etcd, b"/registry/secrets/");
    let again = run(&server, &new, &options).unwrap();
    assert_eq!((again.rewritten, again.skipped), (0, 120));
    assert_eq!(all(&mut etcd, b"/registry/secrets/"), before);
}

#[test]
fn dry_run_changes_nothing() {
    let Some(server) = Server::start("rewrap_dry") else { return };
    let mut etcd = server.etcd().unwrap();
    seed(&mut etcd, 40);
    let before = all(&mut etcd, b"/registry/secrets/");
    let counts = run(&server, &new(), &Options { dry_run: true, ..Options::default() }).unwrap();
    assert_eq!((counts.rewritten, counts.skipped, counts.failed), (40, 0, 0));
    assert_eq!(all(&mut etcd, b"/registry/secrets/"), before, "values or revisions moved");
}

#[test]
fn a_value_no_provider_reads_fails_alone_and_is_left_as_it_is() {
    let Some(server) = Server::start("rewrap_failed") else { return };
    let mut etcd = server.etcd().unwrap();
    seed(&mut etcd, 10);
    etcd.put(b"/registry/secrets/ns/foreign", b"k8s:enc:aescbc:v1:gone:0123456789abcdef0123456789abcdef").unwrap();
    let counts = run(&server, &new(), &Options::default()).unwrap();
    assert_eq!((counts.rewritten, counts.failed), (10, 1));
    let v = etcd.get(b"/registry/secrets/ns/foreign").unwrap().unwrap();
    assert_eq!(v.value.as_slice(), b"k8s:enc:aescbc:v1:gone:0123456789abcdef0123456789abcdef");
}

#[test]
fn a_run_resumes_at_the_key_given() {
    let Some(server) = Server::start("rewrap_resume") else { return };
    let mut etcd = server.etcd().unwrap();
    seed(&mut etcd, 30);
    let mut keys: Vec<Vec<u8>> = (0..30).map(secret).collect();
    keys.sort();
    let from = keys[20].clone();
    let options = Options { from_key: Some(from.clone()), ..Options::default() };
    let counts = run(&server, &new(), &options).unwrap();
    assert_eq!(counts.visited, 10);
    for (k, v, _) in all(&mut etcd, b"/registry/secrets/") {
        assert_eq!(v.starts_with(NEW_PREFIX), k >= from, "{}", String::from_utf8_lossy(&k));
    }
    // A key after every target's prefix: nothing to do.
    let past = Options { from_key: Some(b"/registry/zzz".to_vec()), ..Options::default() };
    assert_eq!(run(&server, &new(), &past).unwrap().visited, 0);
}

/// The race made deterministic: the key is read, then written by someone else, then
/// swapped. The swap must lose, and the value now there must be the one judged.
#[test]
fn a_write_between_read_and_swap_is_kept_and_judged_again() {
    let Some(server) = Server::start("rewrap_race") else { return };
    let mut etcd = server.etcd().unwrap();
    let (old, new) = (old(), new());
    let (to, tn) = (Transformer::for_resource(&old, "secrets"), Transformer::for_resource(&new, "secrets"));
    let k = secret(1);
    etcd.put(&k, &to.write(b"first", &k).unwrap()).unwrap();
    let read = etcd.get(&k).unwrap().unwrap();

    // Someone (an API server still on the old configuration) writes in between.
    etcd.put(&k, &to.write(b"second", &k).unwrap()).unwrap();
    let mut counts = Counts::default();
    let outcome = rewrap::rewrap_one(&mut etcd, &tn, read.clone(), &Options::default(), &mut counts).unwrap();
    assert_eq!((outcome, counts.conflicts), (Outcome::Rewritten, 1));
    let now = etcd.get(&k).unwrap().unwrap();
    assert!(now.value.starts_with(NEW_PREFIX));
    assert_eq!(&tn.read(&now.value, &k).unwrap().data[..], b"second");

    // An API server on the new configuration writes in between: its bytes stay as they are.
    let read = etcd.get(&k).unwrap().unwrap();
    let theirs = tn.write(b"third", &k).unwrap();
    etcd.put(&k, &theirs).unwrap();
    let stale = podwall_etcd::kv::Kv { value: to.write(b"second", &k).unwrap().into(), ..read };
    let outcome = rewrap::rewrap_one(&mut etcd, &tn, stale, &Options::default(), &mut counts).unwrap();
    assert_eq!(outcome, Outcome::Current);
    assert_eq!(etcd.get(&k).unwrap().unwrap().value.as_slice(), &theirs[..]);

    // Deleted in between: gone, not recreated.
    let read = etcd.get(&k).unwrap().unwrap();
    let stale = podwall_etcd::kv::Kv { value: to.write(b"x", &k).unwrap().into(), ..read };
    etcd.delete(&k).unwrap();
    let outcome = rewrap::rewrap_one(&mut etcd, &tn, stale, &Options::default(), &mut counts).unwrap();
    assert_eq!(outcome, Outcome::Gone);
    assert!(etcd.get(&k).unwrap().is_none());
}

/// The real race: writers keep rewriting some keys under the old key while the rewrap
/// runs. Read back through etcd's history, no write of the rewrap ever changed a key's
/// plaintext (so it never replaced a value it had not read), and every key ends holding
/// its writer's last value.
#[test]
fn a_concurrent_writer_never_loses_its_value() {
    let Some(server) = Server::start("rewrap_concurrent") else { return };
    let mut etcd = server.etcd().unwrap();
    seed(&mut etcd, 400);
    let stop = Arc::new(AtomicBool::new(false));
    let hot: Vec<usize> = (0..400).step_by(10).collect();
    let writers: Vec<_> = hot
        .chunks(10)
        .map(|keys| {
            let (stop, keys, mut etcd) = (stop.clone(), keys.to_vec(), server.etcd().unwrap());
            std::thread::spawn(move || {
                let old = old();
                let t = Transformer::for_resource(&old, "secrets");
                let mut last = Vec::new();
                for round in 1.. {
                    for &i in &keys {
                        etcd.put(&secret(i), &t.write(&plain(i, round), &secret(i)).unwrap()).unwrap();
                    }
                    if stop.load(Ordering::SeqCst) {
                        last.extend(keys.iter().map(|&i| (i, round)));
                        break;
                    }
                }
                last
            })
        })
        .collect();
    let options = Options { page: 32, workers: 2, ..Options::default() };
    let counts = run(&server, &new(), &options).unwrap();
    stop.store(true, Ordering::SeqCst);
    let last: Vec<(usize, usize)> = writers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    assert_eq!(counts.failed, 0, "{counts:?}");
    assert!(counts.conflicts > 0, "the writers never raced the rewrap: {counts:?}");
    let new = new();
    let t = Transformer::for_resource(&new, "secrets");
    for (i, round) in last {
        let k = secret(i);
        let mut now = etcd.get(&k).unwrap().unwrap();
        assert_eq!(&t.read(&now.value, &k).unwrap().data[..], &plain(i, round)[..], "secret {i}");
        // Walk the key's history back to its first version.
        while let Some(before) = etcd.get_at(&k, now.mod_revision - 1).unwrap() {
            if now.value.starts_with(NEW_PREFIX) {
                let (a, b) = (t.read(&before.value, &k).unwrap(), t.read(&now.value, &k).unwrap());
                assert_eq!(
                    &a.data[..],
                    &b.data[..],
                    "secret {i}: the rewrap at {} replaced a value it had not read",
                    now.mod_revision
                );
            }
            now = before;
        }
    }
    for i in (0..400).filter(|i| i % 10 != 0) {
        let v = etcd.get(&secret(i)).unwrap().unwrap();
        assert!(v.value.starts_with(NEW_PREFIX), "secret {i}");
        assert_eq!(&t.read(&v.value, &secret(i)).unwrap().data[..], &plain(i, 0)[..]);
    }
}

#[test]
fn tls_with_a_client_certificate() {
    let Some(server) = Server::start_tls("rewrap_tls") else { return };
    let mut etcd = server.etcd().unwrap();
    seed(&mut etcd, 6);
    let counts = run(&server, &new(), &Options::default()).unwrap();
    assert_eq!(counts.rewritten, 6);
    // Without the client certificate, etcd refuses the handshake.
    let no_cert = http::Tls { cert: None, key: None, ..server.tls.clone() };
    let mut refused = Etcd::new(Client::new(&server.endpoint, &no_cert, Duration::from_secs(5)).unwrap());
    assert!(refused.count(b"\0", b"\0").is_err());
}
