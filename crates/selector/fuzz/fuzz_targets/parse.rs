//! Feeds arbitrary UTF-8 to the selector parser. It must never panic, its
//! error positions must be character boundaries inside the input, and an
//! accepted selector must print back to text that parses to the same expression.
#![no_main]

use libfuzzer_sys::fuzz_target;
use podwall_selector::parse;

fuzz_target!(|input: &str| {
    match parse(input) {
        Ok(expr) => {
            let printed = expr.to_string();
            assert_eq!(parse(&printed), Ok(expr), "{input:?} printed as {printed:?}");
        }
        Err(err) => {
            assert!(err.position <= input.len(), "{input:?}: {err}");
            assert!(input.is_char_boundary(err.position), "{input:?}: {err}");
        }
    }
});
