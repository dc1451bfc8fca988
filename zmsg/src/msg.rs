//! `ZMsg`: a multipart message as a stack of frames, as in CZMQ and PascalZMQ.
//!
//! `push*` adds at the front, `append*` at the back, `pop*` takes from the front and `peek*`
//! reads the front without taking it. Typed values use [`FrameValue`] (big-endian integers,
//! IEEE floats, UTF-8 strings, raw bytes, enums; see [`crate::value`]).
//!
//! ```
//! use zmsg::ZMsg;
//! let mut msg = ZMsg::new();
//! msg.append("hello");
//! msg.append(42u32);
//! msg.append(2.5f64);
//! msg.push_envelope("client-7");                 // address + empty delimiter in front
//! assert_eq!(msg.len(), 5);
//! assert_eq!(msg.pop_envelope()?.to_str()?, "client-7");
//! assert_eq!(msg.pop::<String>()?, "hello");
//! assert_eq!(msg.peek::<u32>()?, 42);
//! assert_eq!(msg.pop::<u32>()?, 42);
//! assert!(msg.pop::<u32>().is_err());   // an f64 frame is not a u32: a typed error
//! # Ok::<(), zmsg::Error>(())
//! ```

use std::collections::VecDeque;
use std::fmt;

use crate::error::{Error, Result};
use crate::frame::ZFrame;
use crate::value::FrameValue;

/// A multipart message.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ZMsg {
    frames: VecDeque<ZFrame>,
}

impl ZMsg {
    /// An empty message.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty message with room for `frames` frames.
    pub fn with_capacity(frames: usize) -> Self {
        ZMsg {
            frames: VecDeque::with_capacity(frames),
        }
    }

    /// The number of frames.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// True when the message has no frames.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// The total size of all frames in bytes.
    pub fn content_size(&self) -> usize {
        self.frames.iter().map(ZFrame::len).sum()
    }

    /// Removes every frame.
    pub fn clear(&mut self) {
        self.frames.clear();
    }

    /// Makes room for at least `additional` more frames.
    pub fn reserve(&mut self, additional: usize) {
        self.frames.reserve(additional);
    }

    /// Adds a frame at the front.
    pub fn push_frame(&mut self, frame: ZFrame) {
        self.frames.push_front(frame);
    }

    /// Adds a frame at the back.
    pub fn append_frame(&mut self, frame: ZFrame) {
        self.frames.push_back(frame);
    }

    /// Takes the first frame, if any.
    pub fn pop_frame(&mut self) -> Option<ZFrame> {
        self.frames.pop_front()
    }

    /// Takes the last frame, if any.
    pub fn pop_back_frame(&mut self) -> Option<ZFrame> {
        self.frames.pop_back()
    }

    /// Adds a typed value (or anything convertible to a frame) at the front.
    pub fn push<T: IntoFrame>(&mut self, value: T) {
        self.push_frame(value.into_frame());
    }

    /// Adds a typed value (or anything convertible to a frame) at the back.
    pub fn append<T: IntoFrame>(&mut self, value: T) {
        self.append_frame(value.into_frame());
    }

    /// Takes the first frame and decodes it as `T`. On a decoding error the frame stays in the
    /// message, so nothing is lost.
    pub fn pop<T: FrameValue>(&mut self) -> Result<T> {
        let value = self.peek::<T>()?;
        self.frames.pop_front();
        Ok(value)
    }

    /// Decodes the first frame as `T` without removing it.
    pub fn peek<T: FrameValue>(&self) -> Result<T> {
        T::from_frame(self.frames.front().ok_or(Error::EmptyMessage)?)
    }

    /// Takes the first frame as UTF-8 text.
    pub fn pop_str(&mut self) -> Result<String> {
        self.pop::<String>()
    }

    /// Takes the first frame's bytes.
    pub fn pop_bytes(&mut self) -> Result<Vec<u8>> {
        self.pop::<Vec<u8>>()
    }

    /// The first frame.
    pub fn first(&self) -> Option<&ZFrame> {
        self.frames.front()
    }

    /// The first frame, writable.
    pub fn first_mut(&mut self) -> Option<&mut ZFrame> {
        self.frames.front_mut()
    }

    /// The last frame.
    pub fn last(&self) -> Option<&ZFrame> {
        self.frames.back()
    }

    /// The frame at `index`.
    pub fn get(&self, index: usize) -> Option<&ZFrame> {
        self.frames.get(index)
    }

    /// The frame at `index`, writable.
    pub fn get_mut(&mut self, index: usize) -> Option<&mut ZFrame> {
        self.frames.get_mut(index)
    }

    /// Removes and returns the frame at `index`.
    pub fn remove(&mut self, index: usize) -> Option<ZFrame> {
        self.frames.remove(index)
    }

    /// Inserts a frame at `index` (frames after it move back).
    pub fn insert(&mut self, index: usize, frame: ZFrame) {
        self.frames.insert(index, frame);
    }

    /// Iterates over the frames.
    pub fn iter(&self) -> std::collections::vec_deque::Iter<'_, ZFrame> {
        self.frames.iter()
    }

    /// Pushes `address` and an empty delimiter frame in front, as a ROUTER envelope
    /// (CZMQ's `zmsg_wrap`).
    pub fn push_envelope<T: IntoFrame>(&mut self, address: T) {
        self.frames.push_front(ZFrame::new());
        self.frames.push_front(address.into_frame());
    }

    /// Pops the address frame and, if it follows, the empty delimiter (CZMQ's `zmsg_unwrap`).
    pub fn pop_envelope(&mut self) -> Result<ZFrame> {
        let address = self.frames.pop_front().ok_or(Error::EmptyMessage)?;
        if self.frames.front().is_some_and(ZFrame::is_empty) {
            self.frames.pop_front();
        }
        Ok(address)
    }

    /// Pushes a protobuf message encoded with `prost` as one frame at the front.
    #[cfg(feature = "protobuf")]
    pub fn push_proto<M: prost::Message>(&mut self, message: &M) {
        self.push_frame(ZFrame::from(message.encode_to_vec()));
    }

    /// Appends a protobuf message encoded with `prost` as one frame at the back.
    #[cfg(feature = "protobuf")]
    pub fn append_proto<M: prost::Message>(&mut self, message: &M) {
        self.append_frame(ZFrame::from(message.encode_to_vec()));
    }

    /// Decodes the first frame as a protobuf message without removing it.
    #[cfg(feature = "protobuf")]
    pub fn peek_proto<M: prost::Message + Default>(&self) -> Result<M> {
        let frame = self.frames.front().ok_or(Error::EmptyMessage)?;
        M::decode(frame.data()).map_err(|err| Error::Decode {
            expected: std::any::type_name::<M>(),
            reason: err.to_string(),
        })
    }

    /// Takes the first frame as a protobuf message; on a decoding error it stays in the message.
    #[cfg(feature = "protobuf")]
    pub fn pop_proto<M: prost::Message + Default>(&mut self) -> Result<M> {
        let message = self.peek_proto()?;
        self.frames.pop_front();
        Ok(message)
    }
}

/// Anything that can become one frame: typed values ([`FrameValue`], including
/// [`frame_enum!`](crate::frame_enum) enums) and owned or borrowed buffers. Owned buffers (`Vec<u8>`, `String`, `Bytes`, `ZFrame`) move in without a copy.
pub trait IntoFrame {
    /// Converts into a frame.
    fn into_frame(self) -> ZFrame;
}

macro_rules! into_frame_by_value {
    ($($ty:ty),*) => {
        $( impl IntoFrame for $ty {
            fn into_frame(self) -> ZFrame { FrameValue::to_frame(&self) }
        } )*
    };
}

into_frame_by_value!(u8, i8, u16, i16, u32, i32, u64, i64, u128, i128, f32, f64, bool, char);

macro_rules! into_frame_by_from {
    ($($ty:ty),*) => {
        $( impl IntoFrame for $ty {
            fn into_frame(self) -> ZFrame { ZFrame::from(self) }
        } )*
    };
}

into_frame_by_from!(
    ZFrame,
    Vec<u8>,
    String,
    bytes::Bytes,
    &str,
    &String,
    &[u8],
    &ZFrame
);

impl<const N: usize> IntoFrame for &[u8; N] {
    fn into_frame(self) -> ZFrame {
        ZFrame::copy_from(self)
    }
}

impl IntoIterator for ZMsg {
    type Item = ZFrame;
    type IntoIter = std::collections::vec_deque::IntoIter<ZFrame>;
    fn into_iter(self) -> Self::IntoIter {
        self.frames.into_iter()
    }
}

impl<'a> IntoIterator for &'a ZMsg {
    type Item = &'a ZFrame;
    type IntoIter = std::collections::vec_deque::Iter<'a, ZFrame>;
    fn into_iter(self) -> Self::IntoIter {
        self.frames.iter()
    }
}

impl<F: IntoFrame> FromIterator<F> for ZMsg {
    fn from_iter<I: IntoIterator<Item = F>>(iter: I) -> Self {
        ZMsg {
            frames: iter.into_iter().map(IntoFrame::into_frame).collect(),
        }
    }
}

impl std::ops::Index<usize> for ZMsg {
    type Output = ZFrame;
    fn index(&self, index: usize) -> &ZFrame {
        &self.frames[index]
    }
}

impl fmt::Debug for ZMsg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.frames.iter()).finish()
    }
}

/// Prints one frame per line, as CZMQ's `zmsg_print`.
impl fmt::Display for ZMsg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for frame in &self.frames {
            writeln!(f, "{frame}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::frame_enum! {
        #[derive(Debug, Clone, Copy, PartialEq)]
        enum Command: u16 { Ready = 1, Request = 2 }
    }

    #[test]
    fn stack_order() {
        let mut msg = ZMsg::new();
        msg.append("b");
        msg.push("a");
        msg.append("c");
        let texts: Vec<_> = msg
            .iter()
            .map(|f| f.to_str().unwrap().to_string())
            .collect();
        assert_eq!(texts, ["a", "b", "c"]);
        assert_eq!(msg.content_size(), 3);
    }

    #[test]
    fn typed_push_pop_every_kind() {
        let mut msg = ZMsg::new();
        msg.append(1u8);
        msg.append(-1i8);
        msg.append(2u16);
        msg.append(-2i16);
        msg.append(3u32);
        msg.append(-3i32);
        msg.append(4u64);
        msg.append(-4i64);
        msg.append(1.5f32);
        msg.append(2.25f64);
        msg.append(Command::Request);
        msg.append("text");
        msg.append(vec![0u8, 255]);
        assert_eq!(msg.pop::<u8>().unwrap(), 1);
        assert_eq!(msg.pop::<i8>().unwrap(), -1);
        assert_eq!(msg.pop::<u16>().unwrap(), 2);
        assert_eq!(msg.pop::<i16>().unwrap(), -2);
        assert_eq!(msg.pop::<u32>().unwrap(), 3);
        assert_eq!(msg.pop::<i32>().unwrap(), -3);
        assert_eq!(msg.pop::<u64>().unwrap(), 4);
        assert_eq!(msg.pop::<i64>().unwrap(), -4);
        assert_eq!(msg.pop::<f32>().unwrap(), 1.5);
        assert_eq!(msg.pop::<f64>().unwrap(), 2.25);
        assert_eq!(msg.pop::<Command>().unwrap(), Command::Request);
        assert_eq!(msg.pop_str().unwrap(), "text");
        assert_eq!(msg.pop_bytes().unwrap(), vec![0, 255]);
        assert!(matches!(msg.pop::<u8>(), Err(Error::EmptyMessage)));
    }

    #[test]
    fn wrong_type_keeps_the_frame() {
        let mut msg = ZMsg::new();
        msg.append(7u16);
        assert!(matches!(msg.pop::<u32>(), Err(Error::FrameType { .. })));
        assert_eq!(msg.len(), 1);
        msg.push(9u16);
        assert!(matches!(msg.pop::<Command>(), Err(Error::Decode { .. })));
        assert_eq!(msg.pop::<u16>().unwrap(), 9);
    }

    #[test]
    fn wrap_and_unwrap() {
        let mut msg = ZMsg::new();
        msg.append("body");
        msg.push_envelope("addr");
        assert_eq!(msg.len(), 3);
        assert!(msg[1].is_empty());
        assert_eq!(msg.pop_envelope().unwrap().to_str().unwrap(), "addr");
        assert_eq!(msg.len(), 1);
        // Without a delimiter only the address is taken.
        msg.push("addr2");
        assert_eq!(msg.pop_envelope().unwrap().to_str().unwrap(), "addr2");
        assert_eq!(msg.pop_str().unwrap(), "body");
        assert!(matches!(msg.pop_envelope(), Err(Error::EmptyMessage)));
    }

    #[test]
    fn owned_buffers_move_without_copy() {
        let data = vec![5u8; 256];
        let ptr = data.as_ptr();
        let mut msg = ZMsg::new();
        msg.append(data);
        assert_eq!(msg[0].data().as_ptr(), ptr);
    }
}
