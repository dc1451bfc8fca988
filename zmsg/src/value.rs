//! `FrameValue`: how typed values become frames and back.
//!
//! The encoding is portable and documented, so that programs on other platforms and in other
//! languages can read what zmsg writes:
//!
//! | Rust type | frame content |
//! |---|---|
//! | `u8`, `i8`, `bool` | 1 byte (`bool`: 0 or 1) |
//! | `u16`/`i16`, `u32`/`i32`, `u64`/`i64`, `u128`/`i128` | 2, 4, 8, 16 bytes, **big-endian** (network order), two's complement |
//! | `f32`, `f64` | 4, 8 bytes, IEEE 754, big-endian |
//! | `String`, `&str`, `char` | UTF-8 bytes, no terminator |
//! | `Vec<u8>`, `Bytes`, `&[u8]` | the bytes as they are |
//! | enums declared with [`frame_enum!`](crate::frame_enum) | their integer representation |
//!
//! A frame whose size does not match the type, or whose bytes are not valid for it, is an
//! [`Error::FrameType`] or [`Error::Decode`], never a panic.

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::frame::ZFrame;

/// A value that can be stored in one frame and read back from it.
pub trait FrameValue: Sized {
    /// Encodes the value as a frame.
    fn to_frame(&self) -> ZFrame;
    /// Decodes a value from a frame's bytes.
    fn from_frame(frame: &ZFrame) -> Result<Self>;
}

fn fixed<const N: usize>(frame: &ZFrame, expected: &'static str) -> Result<[u8; N]> {
    frame.data().try_into().map_err(|_| Error::FrameType {
        expected,
        len: frame.len(),
    })
}

macro_rules! numeric_values {
    ($($ty:ty),*) => {
        $(
            impl FrameValue for $ty {
                fn to_frame(&self) -> ZFrame {
                    ZFrame::copy_from(&self.to_be_bytes())
                }
                fn from_frame(frame: &ZFrame) -> Result<Self> {
                    Ok(<$ty>::from_be_bytes(fixed(frame, stringify!($ty))?))
                }
            }
        )*
    };
}

numeric_values!(u8, i8, u16, i16, u32, i32, u64, i64, u128, i128, f32, f64);

impl FrameValue for bool {
    fn to_frame(&self) -> ZFrame {
        ZFrame::copy_from(&[*self as u8])
    }
    fn from_frame(frame: &ZFrame) -> Result<Self> {
        match fixed::<1>(frame, "bool")? {
            [0] => Ok(false),
            [1] => Ok(true),
            [other] => Err(Error::Decode {
                expected: "bool",
                reason: format!("byte {other} is neither 0 nor 1"),
            }),
        }
    }
}

impl FrameValue for String {
    fn to_frame(&self) -> ZFrame {
        ZFrame::copy_from(self.as_bytes())
    }
    fn from_frame(frame: &ZFrame) -> Result<Self> {
        frame.to_str().map(str::to_owned)
    }
}

impl FrameValue for char {
    fn to_frame(&self) -> ZFrame {
        let mut buffer = [0u8; 4];
        ZFrame::copy_from(self.encode_utf8(&mut buffer).as_bytes())
    }
    fn from_frame(frame: &ZFrame) -> Result<Self> {
        let text = frame.to_str()?;
        let mut chars = text.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => Ok(c),
            _ => Err(Error::FrameType {
                expected: "char",
                len: frame.len(),
            }),
        }
    }
}

impl FrameValue for Vec<u8> {
    fn to_frame(&self) -> ZFrame {
        ZFrame::copy_from(self)
    }
    fn from_frame(frame: &ZFrame) -> Result<Self> {
        Ok(frame.to_vec())
    }
}

impl FrameValue for Bytes {
    fn to_frame(&self) -> ZFrame {
        ZFrame::from(self.clone())
    }
    fn from_frame(frame: &ZFrame) -> Result<Self> {
        Ok(Bytes::copy_from_slice(frame.data()))
    }
}

impl FrameValue for ZFrame {
    fn to_frame(&self) -> ZFrame {
        self.clone()
    }
    fn from_frame(frame: &ZFrame) -> Result<Self> {
        Ok(frame.clone())
    }
}

/// Declares a field-less enum with an integer representation that can be pushed to and popped
/// from messages. Unknown values decode to [`Error::Decode`].
///
/// ```
/// zmsg::frame_enum! {
///     /// A traffic light.
///     #[derive(Debug, Clone, Copy, PartialEq)]
///     pub enum Light: u8 { Red = 1, Amber = 2, Green = 3 }
/// }
/// let mut msg = zmsg::ZMsg::new();
/// msg.push(Light::Amber);
/// assert_eq!(msg.first().unwrap().data(), &[2]);
/// assert_eq!(msg.pop::<Light>()?, Light::Amber);
/// # Ok::<(), zmsg::Error>(())
/// ```
#[macro_export]
macro_rules! frame_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident : $repr:ty {
            $( $(#[$vmeta:meta])* $variant:ident = $value:expr ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[repr($repr)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant = $value ),+
        }

        impl ::core::convert::TryFrom<$repr> for $name {
            type Error = $crate::Error;
            fn try_from(raw: $repr) -> ::core::result::Result<Self, $crate::Error> {
                $( if raw == $value { return Ok($name::$variant); } )+
                Err($crate::Error::Decode {
                    expected: stringify!($name),
                    reason: format!("{} is not a known value", raw),
                })
            }
        }

        impl $crate::FrameValue for $name {
            fn to_frame(&self) -> $crate::ZFrame {
                <$repr as $crate::FrameValue>::to_frame(&(*self as $repr))
            }
            fn from_frame(frame: &$crate::ZFrame) -> $crate::Result<Self> {
                let raw = <$repr as $crate::FrameValue>::from_frame(frame)?;
                <$name as ::core::convert::TryFrom<$repr>>::try_from(raw)
            }
        }

        impl $crate::IntoFrame for $name {
            fn into_frame(self) -> $crate::ZFrame {
                <$name as $crate::FrameValue>::to_frame(&self)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: FrameValue + PartialEq + std::fmt::Debug>(value: T, bytes: &[u8]) {
        let frame = value.to_frame();
        assert_eq!(frame.data(), bytes, "encoding of {value:?}");
        assert_eq!(T::from_frame(&frame).unwrap(), value);
    }

    #[test]
    fn integers_are_big_endian() {
        round_trip(0x12u8, &[0x12]);
        round_trip(-2i8, &[0xfe]);
        round_trip(0x1234u16, &[0x12, 0x34]);
        round_trip(-2i16, &[0xff, 0xfe]);
        round_trip(0x1234_5678u32, &[0x12, 0x34, 0x56, 0x78]);
        round_trip(-1i32, &[0xff; 4]);
        round_trip(1u64, &[0, 0, 0, 0, 0, 0, 0, 1]);
        round_trip(i64::MIN, &[0x80, 0, 0, 0, 0, 0, 0, 0]);
        round_trip(
            1u128 << 120,
            &[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        );
    }

    #[test]
    fn floats_are_ieee_big_endian() {
        round_trip(1.0f32, &[0x3f, 0x80, 0, 0]);
        round_trip(-2.5f64, &(-2.5f64).to_be_bytes());
    }

    #[test]
    fn text_and_bytes() {
        round_trip("héllo".to_string(), "héllo".as_bytes());
        round_trip('é', "é".as_bytes());
        round_trip(vec![0u8, 1, 2], &[0, 1, 2]);
        round_trip(true, &[1]);
    }

    #[test]
    fn wrong_sizes_are_typed_errors() {
        let frame = ZFrame::from(&[1u8, 2, 3][..]);
        assert!(matches!(
            u32::from_frame(&frame),
            Err(Error::FrameType {
                expected: "u32",
                len: 3
            })
        ));
        assert!(matches!(
            bool::from_frame(&ZFrame::from(&[7u8][..])),
            Err(Error::Decode { .. })
        ));
        assert!(char::from_frame(&ZFrame::from("ab")).is_err());
    }
}
