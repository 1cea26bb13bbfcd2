//! The review decoder never panics, whatever the API server (or anyone else) sends, and
//! the plugin never panics on what it decodes.
use podwall_webhook::bench::sample_reviews;
use podwall_webhook::review::decode;
use podwall_webhook::{Admission, Namespaces};
use proptest::prelude::*;

fn admission() -> Admission {
    let text = podwall_webhook::bench::SAMPLE_NAMESPACES;
    let input = podwall_load::load_str("namespaces.yaml", text).expect("namespaces");
    let pairs: Vec<(String, std::collections::BTreeMap<String, String>)> = input
        .objects
        .iter()
        .filter_map(|o| match &o.resource {
            podwall_load::Resource::Namespace(ns) => {
                Some((o.name.clone(), ns.metadata.labels.clone().unwrap_or_default()))
            }
            _ => None,
        })
        .collect();
    let defaults = Default::default();
    Admission::new(Default::default(), Namespaces::from_labels(pairs.iter().map(|(n, l)| (n.as_str(), l)), defaults))
}

/// JSON-ish text: braces, quotes, keys of the review and values of every type.
fn jsonish() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        ":",
        ",",
        "\"",
        "null",
        "true",
        "1e999",
        "-0",
        "\"uid\"",
        "\"request\"",
        "\"kind\"",
        "\"apiVersion\"",
        "\"admission.k8s.io/v1\"",
        "\"AdmissionReview\"",
        "\"object\"",
        "\"spec\"",
        "\"containers\"",
        "\"resource\"",
        "\"pods\"",
        "\"operation\"",
        "\"UPDATE\"",
        "\\u0000",
        "\\ud800",
        "\u{feff}",
        " ",
    ]);
    prop::collection::vec(atoms, 0..60).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode(&body);
    }

    #[test]
    fn json_like_text_never_panics_the_decoder_or_the_plugin(text in jsonish()) {
        if let Ok(request) = decode(text.as_bytes()) {
            let _ = admission().review(&request);
        }
    }

    #[test]
    fn damaged_real_reviews_never_panic_and_are_refused_or_answered(
        which in 0usize..3, cut in any::<prop::sample::Index>(), flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4)
    ) {
        let mut body = sample_reviews()[which].clone();
        for (at, byte) in flips {
            let i = at.index(body.len());
            body[i] = byte;
        }
        body.truncate(cut.index(body.len() + 1));
        let a = admission();
        if let Ok(request) = decode(&body) {
            let response = a.review(&request);
            prop_assert_eq!(response.uid, request.uid);
        }
    }

    #[test]
    fn any_value_in_a_field_of_a_real_review_never_panics(
        which in 0usize..3,
        path in prop::sample::select(vec![
            "/request/object/spec", "/request/object/spec/containers", "/request/object/spec/containers/0/securityContext",
            "/request/object/metadata", "/request/object/spec/template", "/request/object", "/request/oldObject",
            "/request/kind", "/request/resource/resource", "/request/operation", "/request/userInfo", "/request/subResource",
        ]),
        value in prop_oneof![
            Just(serde_json::Value::Null), any::<bool>().prop_map(serde_json::Value::from), any::<i64>().prop_map(serde_json::Value::from),
            ".*".prop_map(serde_json::Value::from), Just(serde_json::json!([])), Just(serde_json::json!({})),
            Just(serde_json::json!([{"name": 1}])), Just(serde_json::json!({"privileged": "yes"})),
        ],
    ) {
        let mut review: serde_json::Value = serde_json::from_slice(&sample_reviews()[which]).expect("a sample review");
        if let Some(slot) = review.pointer_mut(path) {
            *slot = value;
        }
        let body = serde_json::to_vec(&review).expect("json");
        if let Ok(request) = decode(&body) {
            let _ = admission().review(&request);
        }
    }
}

#[test]
fn the_sample_reviews_decode() {
    for body in sample_reviews() {
        decode(&body).expect("a sample review decodes");
    }
}
