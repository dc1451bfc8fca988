//! Z85 (ZeroMQ RFC 32) encoding, and CURVE key pairs in that encoding.
//!
//! Z85 turns every 4 bytes into 5 printable characters, so a 32-byte CURVE key becomes 40
//! characters that can live in text files, command lines and configuration.
//!
//! ```
//! let text = zmsg::z85::encode(&[0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B])?;
//! assert_eq!(text, "HelloWorld");
//! assert_eq!(zmsg::z85::decode("HelloWorld")?, [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B]);
//! assert!(zmsg::z85::decode("Hello").is_ok());
//! assert!(zmsg::z85::decode("Hell~").is_err()); // '~' is not a Z85 character
//! assert!(zmsg::z85::decode("Hell").is_err()); // length not a multiple of 5
//!
//! let (public, secret) = zmsg::z85::curve_keypair()?;
//! assert_eq!(zmsg::z85::curve_public(&secret)?, public);
//! # Ok::<(), zmsg::Error>(())
//! ```

use std::ffi::{c_char, CStr};

use crate::error::{check, Error, Result};

/// The 85 characters of Z85, in value order.
const ALPHABET: &[u8; 85] =
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

/// Value of each ASCII character in Z85, or 0xFF for characters outside the alphabet.
const DECODER: [u8; 128] = {
    let mut table = [0xFFu8; 128];
    let mut i = 0;
    while i < 85 {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// Encodes `data` as Z85. Its length must be a multiple of 4 ([`Error::InvalidArgument`]
/// otherwise).
pub fn encode(data: &[u8]) -> Result<String> {
    if !data.chunks_exact(4).remainder().is_empty() {
        return Err(Error::InvalidArgument(format!(
            "Z85 encodes whole 4-byte groups; {} bytes is not a multiple of 4",
            data.len()
        )));
    }
    let mut text = String::with_capacity(data.len() / 4 * 5);
    for chunk in data.chunks_exact(4) {
        let mut value = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        let mut group = [0u8; 5];
        for slot in group.iter_mut().rev() {
            *slot = ALPHABET[(value % 85) as usize];
            value /= 85;
        }
        // Every byte comes from ALPHABET, which is ASCII.
        text.extend(group.iter().map(|&b| b as char));
    }
    Ok(text)
}

/// Decodes Z85 text. The length must be a multiple of 5 and every character in the Z85 alphabet;
/// otherwise [`Error::Decode`] says what is wrong and where.
pub fn decode(text: &str) -> Result<Vec<u8>> {
    let bytes = text.as_bytes();
    if !bytes.chunks_exact(5).remainder().is_empty() {
        return Err(decode_error(format!(
            "Z85 text comes in 5-character groups; {} characters is not a multiple of 5",
            bytes.len()
        )));
    }
    let mut data = Vec::with_capacity(bytes.len() / 5 * 4);
    for (group_index, group) in bytes.chunks_exact(5).enumerate() {
        let mut value: u64 = 0;
        for (i, &byte) in group.iter().enumerate() {
            let digit = DECODER.get(byte as usize).copied().unwrap_or(0xFF);
            if digit == 0xFF {
                return Err(decode_error(format!(
                    "byte 0x{byte:02x} at offset {} is not a Z85 character",
                    group_index * 5 + i
                )));
            }
            value = value * 85 + u64::from(digit);
        }
        let value = u32::try_from(value).map_err(|_| {
            decode_error(format!(
                "the group at offset {} is larger than 32 bits",
                group_index * 5
            ))
        })?;
        data.extend_from_slice(&value.to_be_bytes());
    }
    Ok(data)
}

/// Decodes a 40-character Z85 CURVE key into its 32 bytes.
pub fn decode_key(text: &str) -> Result<[u8; 32]> {
    if text.len() != 40 {
        return Err(decode_error(format!(
            "a CURVE key is 40 Z85 characters, not {}",
            text.len()
        )));
    }
    let bytes = decode(text)?;
    let mut key = [0u8; 32];
    key.copy_from_slice(&bytes);
    Ok(key)
}

fn decode_error(reason: String) -> Error {
    Error::Decode {
        expected: "Z85 text",
        reason,
    }
}

/// A new CURVE key pair `(public, secret)`, each as 40 Z85 characters (`zmq_curve_keypair`).
pub fn curve_keypair() -> Result<(String, String)> {
    let mut public = [0 as c_char; 41];
    let mut secret = [0 as c_char; 41];
    // SAFETY: both buffers hold 41 bytes, the size zmq_curve_keypair writes (40 + NUL).
    check(unsafe { zmsg_sys::zmq_curve_keypair(public.as_mut_ptr(), secret.as_mut_ptr()) })?;
    Ok((c_text(&public), c_text(&secret)))
}

/// The CURVE public key (Z85) that belongs to a secret key given as 40 Z85 characters or 32 raw
/// bytes (`zmq_curve_public`).
pub fn curve_public(secret: impl AsRef<[u8]>) -> Result<String> {
    let secret = secret.as_ref();
    let secret_text = match secret.len() {
        32 => encode(secret)?,
        40 => {
            let text = std::str::from_utf8(secret)
                .map_err(|_| decode_error("the secret key is not Z85 text".into()))?;
            decode_key(text)?;
            text.to_string()
        }
        n => {
            return Err(Error::InvalidArgument(format!(
                "a CURVE secret key is 32 bytes or 40 Z85 characters, not {n}"
            )))
        }
    };
    let mut secret_c = [0 as c_char; 41];
    for (dst, src) in secret_c.iter_mut().zip(secret_text.bytes()) {
        *dst = src as c_char;
    }
    let mut public = [0 as c_char; 41];
    // SAFETY: secret_c is a NUL-terminated 40-character Z85 key; public has room for 40 + NUL.
    check(unsafe { zmsg_sys::zmq_curve_public(public.as_mut_ptr(), secret_c.as_ptr()) })?;
    Ok(c_text(&public))
}

/// Copies a NUL-terminated buffer filled by libzmq into a String.
fn c_text(buffer: &[c_char; 41]) -> String {
    // SAFETY: the buffer is NUL-terminated: libzmq wrote 40 characters and a NUL, and the last
    // element was zero-initialised in any case.
    unsafe { CStr::from_ptr(buffer.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc32_test_vector() {
        let data = [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B];
        assert_eq!(encode(&data).unwrap(), "HelloWorld");
        assert_eq!(decode("HelloWorld").unwrap(), data);
    }

    #[test]
    fn round_trips_every_byte_value() {
        let data: Vec<u8> = (0..=255u8).collect();
        let text = encode(&data).unwrap();
        assert_eq!(text.len(), 320);
        assert_eq!(decode(&text).unwrap(), data);
        assert_eq!(encode(&[0xFF; 4]).unwrap(), "%nSc0");
        assert_eq!(encode(&[0; 32]).unwrap(), "0".repeat(40));
    }

    #[test]
    fn matches_libzmq() {
        let (public, secret) = curve_keypair().unwrap();
        assert_eq!(public.len(), 40);
        let raw = decode_key(&public).unwrap();
        assert_eq!(encode(&raw).unwrap(), public);
        assert_eq!(curve_public(&secret).unwrap(), public);
        assert_eq!(curve_public(decode_key(&secret).unwrap()).unwrap(), public);
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        assert!(matches!(encode(&[1, 2, 3]), Err(Error::InvalidArgument(_))));
        assert!(matches!(decode("abcd"), Err(Error::Decode { .. })));
        assert!(matches!(decode("abc d"), Err(Error::Decode { .. })));
        assert!(matches!(decode("abcdé"), Err(Error::Decode { .. })));
        // Five '#' (value 84 each) overflow 32 bits.
        assert!(matches!(decode("#####"), Err(Error::Decode { .. })));
        assert!(decode_key("HelloWorld").is_err());
        assert!(curve_public([0u8; 7]).is_err());
        assert!(curve_public("x".repeat(40)).is_ok());
        assert!(curve_public("~".repeat(40)).is_err());
    }
}
