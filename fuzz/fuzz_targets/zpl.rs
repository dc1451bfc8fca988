//! Certificate (ZPL) parsing, `ZCert::from_zpl`, on arbitrary text: it never panics, and a
//! certificate it accepts is written by `to_zpl(true)` as text that parses to the same keys
//! and metadata (every value it reads, it can write).
#![no_main]

use libfuzzer_sys::fuzz_target;
use zmsg::ZCert;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(cert) = ZCert::from_zpl(text, "fuzz") else {
        return;
    };
    let written = cert
        .to_zpl(true)
        .unwrap_or_else(|err| panic!("{err}: {:?}", cert.metadata()));
    let again =
        ZCert::from_zpl(&written, "written").unwrap_or_else(|err| panic!("{err}\n{written}"));
    assert_eq!(again.public_key(), cert.public_key());
    assert_eq!(again.secret_key(), cert.secret_key());
    assert_eq!(again.metadata(), cert.metadata(), "{written}");
});
