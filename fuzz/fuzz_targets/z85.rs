//! Z85 (`zmsg::z85`): `decode` never panics on any text; what it decodes encodes back to the
//! same text (each 5-character group stands for exactly one 32-bit value); and any data whose
//! length is a multiple of 4 encodes to text that decodes back to it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zmsg::z85;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(bytes) = z85::decode(text) {
            assert_eq!(bytes.len(), text.len() / 5 * 4);
            assert_eq!(z85::encode(&bytes).expect("whole 4-byte groups"), text);
        }
        let _ = z85::decode_key(text);
    }
    let whole = &data[..data.len() / 4 * 4];
    let text = z85::encode(whole).expect("whole 4-byte groups");
    assert_eq!(text.len(), whole.len() / 4 * 5);
    assert_eq!(z85::decode(&text).expect("encoded text decodes"), whole);
    assert_eq!(z85::encode(data).is_ok(), data.len().is_multiple_of(4));
});
