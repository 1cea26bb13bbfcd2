//! CIS 1.2.29: the API server only makes use of strong cryptographic ciphers. The
//! suites are judged against the list of CIS v1.12 (as kube-bench's cis-1.12 checks
//! it); a name kube-apiserver does not know, or an unknown TLS version, is refused.
use podwall_apiserver::checks::{run, Report};
use podwall_apiserver::flags::from_text;

fn judge(line: &str) -> Result<Report, String> {
    let flags = from_text("flags", line).map_err(|e| e.to_string())?;
    run(&flags).map_err(|e| e.to_string())
}

const STRONG: &str = "TLS_AES_128_GCM_SHA256,TLS_AES_256_GCM_SHA384,TLS_CHACHA20_POLY1305_SHA256,TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305,TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305,TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256";

#[test]
fn the_suites_cis_lists_pass_1_2_29() {
    let r = judge(&format!("--tls-cipher-suites={STRONG}")).expect("judges");
    assert!(r.failed("AP034").is_none());
}

#[test]
fn a_weak_suite_among_strong_ones_fails_1_2_29() {
    let r = judge("--tls-cipher-suites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA")
        .expect("judges");
    let f = r.failed("AP034").expect("a CBC suite");
    assert_eq!(f.message, "CIS 1.2.29: --tls-cipher-suites includes TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, which CIS does not list as strong");
}

#[test]
fn an_insecure_suite_the_server_accepts_is_weak_not_bad_input() {
    let r = judge("--tls-cipher-suites=TLS_RSA_WITH_RC4_128_SHA").expect("kube-apiserver accepts Go's insecure suites");
    assert!(r.failed("AP034").is_some());
}

#[test]
fn an_unknown_cipher_suite_is_bad_input() {
    let e = judge("--tls-cipher-suites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA384")
        .expect_err("no such suite");
    assert!(
        e.contains("cipher suite \"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA384\" is not supported or does not exist"),
        "{e}"
    );
    let e = judge("--tls-cipher-suites=ECDHE-RSA-AES128-GCM-SHA256").expect_err("an OpenSSL name is not a Go name");
    assert!(e.contains("not supported"), "{e}");
}

#[test]
fn suites_left_out_fail_1_2_29_unless_only_tls_1_3_is_served() {
    let f = judge("--anonymous-auth=false").expect("judges").failed("AP034").cloned().expect("Go's defaults");
    assert!(f.message.contains("--tls-cipher-suites is not set"), "{}", f.message);
    assert!(judge("--tls-cipher-suites=").expect("judges").failed("AP034").is_some(), "an empty list is the default");
    assert!(judge("--tls-min-version=VersionTLS12").expect("judges").failed("AP034").is_some());
    assert!(judge("--tls-min-version=VersionTLS13").expect("judges").failed("AP034").is_none());
}

#[test]
fn an_unknown_tls_min_version_is_bad_input() {
    let e = judge("--tls-min-version=TLS1.2").expect_err("not a version name");
    assert!(e.contains("--tls-min-version=\"TLS1.2\" is an unknown TLS version"), "{e}");
}
