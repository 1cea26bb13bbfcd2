//! The stored format and the prefix transformer, pinned against the RustCrypto primitives
//! used directly and against the rules of kube-apiserver's storage transformers.
use aes::cipher::{block_padding::Pkcs7, BlockEncryptMut, KeyIvInit};
use aes_gcm::aead::{Aead, AeadInPlace, KeyInit, Payload};
use podwall_encryption::cipher;
use podwall_encryption::transform::Error;
use podwall_encryption::{Config, Transformer};
use serde_json::json;

const PATH: &[u8] = b"/registry/secrets/prod/db";

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn config(providers: serde_json::Value) -> Config {
    let doc = json!({"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
        "resources": [{"resources": ["secrets"], "providers": providers}]});
    Config::from_value(&doc, &podwall_load::Source { file: "enc.yaml".into(), line: 1 }).expect("valid")
}

fn keyed(kind: &str, keys: &[(&str, &[u8])]) -> serde_json::Value {
    let keys: Vec<_> = keys.iter().map(|(n, k)| json!({"name": n, "secret": b64(k)})).collect();
    json!({kind: {"keys": keys}})
}

#[test]
fn aescbc_is_iv_then_cbc_with_pkcs7_padding() {
    for key in [&[7u8; 16][..], &[8u8; 24][..], &[9u8; 32][..]] {
        let iv = [0x42u8; 16];
        for plain in [&b""[..], b"0123456789abcdef", b"a secret value"] {
            let expected = match key.len() {
                16 => cbc::Encryptor::<aes::Aes128>::new_from_slices(key, &iv)
                    .unwrap()
                    .encrypt_padded_vec_mut::<Pkcs7>(plain),
                24 => cbc::Encryptor::<aes::Aes192>::new_from_slices(key, &iv)
                    .unwrap()
                    .encrypt_padded_vec_mut::<Pkcs7>(plain),
                _ => cbc::Encryptor::<aes::Aes256>::new_from_slices(key, &iv)
                    .unwrap()
                    .encrypt_padded_vec_mut::<Pkcs7>(plain),
            };
            let got = cipher::aescbc_seal_with(key, iv, plain).unwrap();
            assert_eq!(&got[..16], &iv);
            assert_eq!(&got[16..], &expected[..]);
            assert_eq!(got.len(), 16 + 16 * (plain.len() / 16 + 1), "a full block of padding on whole blocks");
            assert_eq!(&cipher::aescbc_open(key, &got).unwrap()[..], plain);
        }
    }
}

#[test]
fn aesgcm_is_nonce_then_ciphertext_and_tag_with_the_key_path_as_additional_data() {
    let nonce = [0x11u8; 12];
    let plain = b"a secret value";
    for key in [&[1u8; 16][..], &[2u8; 24][..], &[3u8; 32][..]] {
        let payload = Payload { msg: &plain[..], aad: PATH };
        let n = aes_gcm::Nonce::from_slice(&nonce);
        let expected = match key.len() {
            16 => aes_gcm::Aes128Gcm::new_from_slice(key).unwrap().encrypt(n, payload),
            24 => aes_gcm::AesGcm::<aes::Aes192, aes_gcm::aead::consts::U12>::new_from_slice(key)
                .unwrap()
                .encrypt(n, payload),
            _ => aes_gcm::Aes256Gcm::new_from_slice(key).unwrap().encrypt(n, payload),
        }
        .unwrap();
        let got = cipher::aesgcm_seal_with(key, nonce, plain, PATH).unwrap();
        assert_eq!(&got[..12], &nonce);
        assert_eq!(&got[12..], &expected[..]);
        assert_eq!(got.len(), 12 + plain.len() + 16);
        assert_eq!(&cipher::aesgcm_open(key, &got, PATH).unwrap()[..], plain);
        assert!(cipher::aesgcm_open(key, &got, b"/registry/secrets/prod/other").is_err(), "another key path");
    }
}

#[test]
fn secretbox_is_nonce_then_tag_then_ciphertext_without_additional_data() {
    let key = [5u8; 32];
    let nonce = [0x22u8; 24];
    let plain = b"a secret value";
    let mut body = plain.to_vec();
    let tag = crypto_secretbox::XSalsa20Poly1305::new_from_slice(&key)
        .unwrap()
        .encrypt_in_place_detached(&nonce.into(), b"", &mut body)
        .unwrap();
    let got = cipher::secretbox_seal_with(&key, nonce, plain).unwrap();
    assert_eq!(&got[..24], &nonce);
    assert_eq!(&got[24..40], &tag[..]);
    assert_eq!(&got[40..], &body[..]);
    assert_eq!(&cipher::secretbox_open(&key, &got).unwrap()[..], plain);
}

#[test]
fn the_first_key_of_the_first_provider_writes_with_its_prefix_and_every_write_differs() {
    let c = config(json!([keyed("secretbox", &[("new", &[1; 32]), ("old", &[2; 32])]), {"identity": {}}]));
    let t = Transformer::for_resource(&c, "secrets");
    let a = t.write(b"v", PATH).unwrap();
    let b = t.write(b"v", PATH).unwrap();
    assert!(a.starts_with(b"k8s:enc:secretbox:v1:new:"));
    assert_eq!(a.len(), "k8s:enc:secretbox:v1:new:".len() + 40 + 1);
    assert_ne!(a, b, "a fresh nonce on every write");
    let r = t.read(&a, PATH).unwrap();
    assert_eq!((&r.data[..], r.by.as_str(), r.stale), (&b"v"[..], "secretbox key new", false));
}

#[test]
fn rotation_reads_old_keys_by_prefix_and_marks_them_stale() {
    let old = config(json!([keyed("aescbc", &[("k1", &[9; 32])])]));
    let stored = Transformer::for_resource(&old, "secrets").write(b"plain", PATH).unwrap();
    let rotated = config(json!([keyed("aesgcm", &[("k2", &[3; 32])]), keyed("aescbc", &[("k1", &[9; 32])])]));
    let r = Transformer::for_resource(&rotated, "secrets").read(&stored, PATH).unwrap();
    assert_eq!((&r.data[..], r.by.as_str(), r.stale), (&b"plain"[..], "aescbc key k1", true));
    let removed = config(json!([keyed("aesgcm", &[("k2", &[3; 32])])]));
    assert!(matches!(Transformer::for_resource(&removed, "secrets").read(&stored, PATH), Err(Error::NoReader(_))));
}

#[test]
fn a_failing_key_does_not_stop_a_later_provider_with_the_same_prefix() {
    let writer = config(json!([keyed("aesgcm", &[("k", &[2; 32])])]));
    let stored = Transformer::for_resource(&writer, "secrets").write(b"x", PATH).unwrap();
    let both = config(json!([keyed("aesgcm", &[("k", &[1; 32])]), keyed("aesgcm", &[("k", &[2; 32])])]));
    let r = Transformer::for_resource(&both, "secrets").read(&stored, PATH).unwrap();
    assert_eq!(&r.data[..], b"x");
}

#[test]
fn unprefixed_data_is_read_only_when_identity_is_listed() {
    let with = config(json!([keyed("aesgcm", &[("k", &[2; 32])]), {"identity": {}}]));
    let r = Transformer::for_resource(&with, "secrets").read(b"plain", PATH).unwrap();
    assert_eq!((&r.data[..], r.by.as_str(), r.stale), (&b"plain"[..], "identity", true));
    let without = config(json!([keyed("aesgcm", &[("k", &[2; 32])])]));
    assert!(matches!(Transformer::for_resource(&without, "secrets").read(b"plain", PATH), Err(Error::NoReader(_))));
}

#[test]
fn identity_never_returns_encrypted_data_as_plaintext() {
    let c = config(json!([{"identity": {}}]));
    let t = Transformer::for_resource(&c, "secrets");
    assert_eq!(t.write(b"abc", PATH).unwrap(), b"abc", "identity first stores the bytes unchanged");
    assert!(t.read(b"k8s:enc:aescbc:v1:k:xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", PATH).is_err());
}

#[test]
fn an_unconfigured_resource_behaves_as_a_lone_identity() {
    let c = config(json!([keyed("secretbox", &[("k", &[1; 32])])]));
    let t = Transformer::for_resource(&c, "configmaps");
    assert_eq!(t.write(b"abc", b"/registry/configmaps/a/b").unwrap(), b"abc");
    let stored = Transformer::for_resource(&c, "secrets").write(b"abc", PATH).unwrap();
    assert!(t.read(&stored, PATH).is_err());
}

#[test]
fn tampered_data_a_wrong_key_or_a_wrong_path_fail_for_the_authenticated_providers() {
    for kind in ["aesgcm", "secretbox"] {
        let c = config(json!([keyed(kind, &[("k", &[4; 32])])]));
        let t = Transformer::for_resource(&c, "secrets");
        let stored = t.write(b"some secret", PATH).unwrap();
        for i in [0, stored.len() / 2, stored.len() - 1] {
            let mut bad = stored.clone();
            bad[i] ^= 1;
            assert!(t.read(&bad, PATH).is_err(), "{kind}: byte {i} altered");
        }
        assert!(t.read(&stored[..stored.len() - 1], PATH).is_err(), "{kind}: truncated");
        let mut longer = stored.clone();
        longer.push(0);
        assert!(t.read(&longer, PATH).is_err(), "{kind}: extended");
        let wrong = config(json!([keyed(kind, &[("k", &[5; 32])])]));
        assert!(matches!(Transformer::for_resource(&wrong, "secrets").read(&stored, PATH), Err(Error::Failed(_))));
        let other_path = t.read(&stored, b"/registry/secrets/prod/other");
        assert_eq!(other_path.is_err(), kind == "aesgcm", "{kind}: only aesgcm binds the key path");
    }
}

#[test]
fn aescbc_detects_only_length_and_padding_problems() {
    let key = [6u8; 32];
    let stored = cipher::aescbc_seal_with(&key, [0; 16], b"abc").unwrap();
    assert_eq!(cipher::aescbc_open(&key, &stored[..15]), Err(cipher::CryptoError::TooShort));
    assert_eq!(cipher::aescbc_open(&key, &stored[..16]), Err(cipher::CryptoError::BadPadLength), "empty body");
    assert_eq!(cipher::aescbc_open(&key, &stored[..20]), Err(cipher::CryptoError::NotBlocks));
    let mut iv_flipped = stored.clone();
    iv_flipped[0] ^= 1;
    assert_eq!(
        &cipher::aescbc_open(&key, &iv_flipped).unwrap()[..],
        b"`bc",
        "no integrity: the IV alters the plaintext"
    );
    // A wrong key yields garbage that usually fails the padding check, and when the
    // garbage happens to end in valid padding it is still never the plaintext.
    for wrong in (0u8..32).filter(|&w| w != 6) {
        if let Ok(p) = cipher::aescbc_open(&[wrong; 32], &stored) {
            assert_ne!(&p[..], b"abc");
        }
    }
}

#[test]
fn kms_is_recognised_and_reported_as_not_handled_offline() {
    let c = config(
        json!([{"kms": {"apiVersion": "v2", "name": "vault", "endpoint": "unix:///kms.sock"}}, {"identity": {}}]),
    );
    let t = Transformer::for_resource(&c, "secrets");
    assert!(matches!(t.write(b"x", PATH), Err(Error::KmsWrite { .. })));
    let err = t.read(b"k8s:enc:kms:v2:vault:\x01\x02", PATH).err().expect("kms data");
    assert!(err.to_string().contains("not reachable offline"), "{err}");
}

#[test]
fn wildcards_apply_after_exact_names_and_entries_append() {
    let doc = json!({"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration", "resources": [
        {"resources": ["secrets"], "providers": [keyed("aesgcm", &[("a", &[1; 16])])]},
        {"resources": ["secrets", "configmaps"], "providers": [keyed("aesgcm", &[("b", &[1; 16])])]},
        {"resources": ["*.apps"], "providers": [keyed("aesgcm", &[("c", &[1; 16])])]},
        {"resources": ["*.*"], "providers": [keyed("aesgcm", &[("d", &[1; 16])])]}]});
    let c = Config::from_value(&doc, &podwall_load::Source { file: "e.yaml".into(), line: 1 }).unwrap();
    let names = |r: &str| -> Vec<String> { c.providers_for(r).iter().map(|p| p.keys[0].name.clone()).collect() };
    assert_eq!(names("secrets"), ["a", "b"]);
    assert_eq!(names("deployments.apps"), ["c"]);
    assert_eq!(names("pods"), ["d"]);
}

proptest::proptest! {
    #[test]
    fn the_prefix_parser_never_panics(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
                                      tail in "[a-z:]{0,20}") {
        let _ = podwall_encryption::prefix::parse(&data);
        let mut with = b"k8s:enc:".to_vec();
        with.extend_from_slice(tail.as_bytes());
        with.extend_from_slice(&data);
        if let Some(p) = podwall_encryption::prefix::parse(&with) {
            proptest::prop_assert!(!p.provider.is_empty() && !p.version.is_empty());
        }
    }

    #[test]
    fn reading_arbitrary_bytes_never_panics(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..96)) {
        let c = config(json!([keyed("aescbc", &[("k", &[1; 32])]), keyed("aesgcm", &[("k", &[1; 32])]),
            keyed("secretbox", &[("k", &[1; 32])])]));
        let t = Transformer::for_resource(&c, "secrets");
        for pre in ["k8s:enc:aescbc:v1:k:", "k8s:enc:aesgcm:v1:k:", "k8s:enc:secretbox:v1:k:", ""] {
            let mut d = pre.as_bytes().to_vec();
            d.extend_from_slice(&data);
            let _ = t.read(&d, PATH);
        }
    }
}
