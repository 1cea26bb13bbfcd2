//! Property tests for the Calico selector parser: it never panics, and what
//! `Display` prints reads back into an equivalent expression.
use std::collections::{BTreeMap, BTreeSet};

use podwall_selector::{parse, Expr, Label, Labels};
use proptest::prelude::*;

/// Label keys, including the operator words (which are valid label names too).
fn key() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a", "b", "app", "k8s.io/x-y_z", "9", "in", "not", "contains", "has", "all", "global"])
        .prop_map(str::to_string)
}

/// Values, including quotes of either kind (never both: Calico strings have no escapes).
fn value() -> impl Strategy<Value = String> {
    "[ab'\" é&|(){},!]{0,3}".prop_filter("no value holds both quote kinds", |v| !(v.contains('\'') && v.contains('"')))
}

fn values() -> impl Strategy<Value = BTreeSet<String>> {
    prop::collection::btree_set(value(), 0..4)
}

fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        Just(Expr::All),
        Just(Expr::Global),
        key().prop_map(|k| Expr::Has(Label::calico(&k))),
        (key(), value()).prop_map(|(k, v)| Expr::Eq(Label::calico(&k), v)),
        (key(), value()).prop_map(|(k, v)| Expr::Ne(Label::calico(&k), v)),
        (key(), values()).prop_map(|(k, s)| Expr::In(Label::calico(&k), s)),
        (key(), values()).prop_map(|(k, s)| Expr::NotIn(Label::calico(&k), s)),
        (key(), value()).prop_map(|(k, v)| Expr::Contains(Label::calico(&k), v)),
        (key(), value()).prop_map(|(k, v)| Expr::StartsWith(Label::calico(&k), v)),
        (key(), value()).prop_map(|(k, v)| Expr::EndsWith(Label::calico(&k), v)),
    ]
}

/// Arbitrary expressions over Calico labels, not necessarily in the parser's
/// compact form: nested and empty `And`/`Or`, double negations, and so on.
fn expr() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(5, 48, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| Expr::Not(Box::new(e))),
            prop::collection::vec(inner.clone(), 0..4).prop_map(Expr::And),
            prop::collection::vec(inner, 0..4).prop_map(Expr::Or),
        ]
    })
}

fn label_map() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map(key(), value(), 0..6)
}

/// Text that looks enough like a selector to reach deep into the parser.
fn selectorish() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "a", "app", "k8s-app", " ", "\t", "\n", "==", "!=", "=", "!", "&&", "||", "&", "|", "(", ")", "{", "}", ",",
        "'x'", "\"y\"", "'", "\"", "in", "not", "notin", "contains", "starts", "with", "ends", "endswith", "has(",
        "all(", "global(", "é", ":",
    ]);
    prop::collection::vec(pieces, 0..24).prop_map(|v| v.concat())
}

/// A printed expression with a few spans replaced by selector fragments, so that
/// most inputs are nearly valid and errors come from deep inside the grammar.
fn mutated_selector() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "", " ", "\n", "a", "=", "==", "!", "&", "&&", "||", "(", ")", "{", "}", ",", "'", "\"", "'x'", "in", "not",
        "with", "has(", "all()", "é", ":",
    ]);
    (expr(), prop::collection::vec((any::<usize>(), 0usize..4, piece), 1..4)).prop_map(|(e, edits)| {
        let mut s = e.to_string();
        for (at, len, piece) in edits {
            let mut start = at % (s.len() + 1);
            while !s.is_char_boundary(start) {
                start -= 1;
            }
            let mut end = (start + len).min(s.len());
            while !s.is_char_boundary(end) {
                end += 1;
            }
            s.replace_range(start..end, piece);
        }
        s
    })
}

fn check_no_panic_and_idempotent(s: &str) -> Result<(), TestCaseError> {
    match parse(s) {
        Ok(e) => {
            let printed = e.to_string();
            let again = parse(&printed);
            prop_assert_eq!(again, Ok(e), "{:?} printed as {:?}", s, printed);
        }
        Err(err) => {
            prop_assert!(err.position <= s.len(), "{:?}: position past the end: {}", s, err);
            prop_assert!(s.is_char_boundary(err.position), "{:?}: position inside a character: {}", s, err);
            prop_assert!(!err.message.is_empty());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_never_panic(s in any::<String>()) {
        check_no_panic_and_idempotent(&s)?;
    }

    #[test]
    fn selector_like_strings_never_panic_and_reprint_to_themselves(s in selectorish()) {
        check_no_panic_and_idempotent(&s)?;
    }

    #[test]
    fn mutated_selectors_never_panic_and_reprint_to_themselves(s in mutated_selector()) {
        check_no_panic_and_idempotent(&s)?;
    }

    #[test]
    fn printed_expressions_reparse_to_the_same_evaluation(
        e in expr(),
        maps in prop::collection::vec(label_map(), 1..8),
    ) {
        let printed = e.to_string();
        let parsed = parse(&printed);
        prop_assert!(parsed.is_ok(), "{:?} printed as {:?}: {:?}", e, printed, parsed);
        let parsed = parsed.unwrap();
        for m in &maps {
            prop_assert_eq!(
                parsed.matches(&Labels(m)),
                e.matches(&Labels(m)),
                "{} on {:?}", printed, m
            );
        }
    }
}
