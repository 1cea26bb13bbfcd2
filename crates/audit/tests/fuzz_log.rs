//! The audit event reader on arbitrary input: it never panics, every line is either an
//! event or a bad line with its number, and what it accepts keeps its attributes.
use podwall_audit::log;
use proptest::prelude::*;

fn read_all(bytes: &[u8]) -> (u64, u64, u64) {
    let (mut good, mut bad) = (0u64, 0u64);
    let lines = log::read("fuzz.log", bytes, |_| good += 1, |_| bad += 1).expect("reading memory never fails");
    (lines, good, bad)
}

fn event_strategy() -> impl Strategy<Value = String> {
    let word = "[a-z:/*.-]{0,12}";
    ("[a-z]{1,12}", word, word, word, prop::option::of(word), 0u16..600).prop_map(|(verb, user, resource, ns, sub, code)| {
        let sub = sub.map(|s| format!(r#","subresource":{s:?}"#)).unwrap_or_default();
        format!(
            r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","stage":"ResponseComplete","auditID":"x","verb":{verb:?},"requestURI":"/x?y","user":{{"username":{user:?}}},"objectRef":{{"resource":{resource:?},"namespace":{ns:?}{sub}}},"responseStatus":{{"code":{code}}}}}"#
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic_and_every_non_empty_line_is_counted(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let (lines, good, bad) = read_all(&bytes);
        let non_empty = bytes
            .split(|b| *b == b'\n')
            .filter(|l| l.iter().any(|b| !b.is_ascii_whitespace()))
            .count() as u64;
        prop_assert!(lines >= good + bad);
        prop_assert_eq!(good + bad, non_empty);
    }

    #[test]
    fn mangled_events_never_panic(event in event_strategy(), cut in 0usize..400, flip in any::<u8>()) {
        let mut bytes = event.clone().into_bytes();
        let (_, good, _) = read_all(&bytes);
        prop_assert_eq!(good, 1, "a well-formed event is read: {}", event);
        if !bytes.is_empty() {
            let i = cut % bytes.len();
            bytes[i] ^= flip;
            bytes.truncate(cut.max(1));
        }
        let _ = read_all(&bytes);
        let e = log::parse(event.as_bytes()).unwrap();
        let _ = (e.target(), e.denied(), e.is_final(), e.path());
    }
}
