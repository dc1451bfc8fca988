//! `ZFrame`: one message part, owning a libzmq `zmq_msg_t`.
//!
//! Frames built from owned buffers (`Vec<u8>`, `Box<[u8]>`, `String`, [`bytes::Bytes`]) hand the
//! buffer to libzmq without copying it; libzmq gives it back to Rust to free when the last copy of
//! the frame is gone. Frames small enough for libzmq's inline storage are copied instead, which is
//! cheaper than a shared allocation. Cloning a large frame shares its buffer (libzmq's reference
//! counting); cloning a small one copies its few bytes.

use std::cell::UnsafeCell;
use std::ffi::{c_void, CStr, CString};
use std::fmt;
use std::mem::MaybeUninit;

use bytes::Bytes;

use crate::error::{check, Error, Result};

/// One frame of a ZeroMQ message.
///
/// ```
/// use zmsg::ZFrame;
/// let frame = ZFrame::from(vec![1u8, 2, 3]);      // zero-copy
/// assert_eq!(frame.data(), &[1, 2, 3]);
/// let copy = frame.clone();                        // shares the buffer when it is large
/// assert_eq!(copy, frame);
/// assert_eq!(ZFrame::from("hello").to_str().unwrap(), "hello");
/// ```
pub struct ZFrame {
    /// The message. An `UnsafeCell` because libzmq writes the *source* of `zmq_msg_copy` (its
    /// shared flag and reference count) through a pointer made from `&self` in [`Clone`]; the
    /// cell also makes `ZFrame` `!Sync`, so two threads can never do that to one frame at once.
    msg: UnsafeCell<zmsg_sys::zmq_msg_t>,
    more: bool,
    /// The buffer is not ours to write (a [`Bytes`] may be static or shared with other handles):
    /// [`ZFrame::data_mut`] copies it first, as it does shared frames.
    borrowed: bool,
}

// SAFETY: a zmq_msg_t is plain data plus (for large messages) an atomically reference-counted
// buffer; libzmq allows moving messages between threads. The buffers we hand to libzmq are Send.
// Not Sync (the UnsafeCell): `&ZFrame` methods may write the message (see `msg`).
unsafe impl Send for ZFrame {}

impl ZFrame {
    /// The largest frame libzmq stores inside the `zmq_msg_t` itself ("very small messages", 33
    /// bytes on 64-bit builds): such frames need no buffer allocation, so building them by copy
    /// is cheaper than sharing.
    pub const INLINE_CAPACITY: usize = 33;

    /// An empty frame (zero bytes), as used for envelope delimiters.
    pub fn new() -> Self {
        let mut msg = MaybeUninit::<zmsg_sys::zmq_msg_t>::uninit();
        // SAFETY: zmq_msg_init initialises the message and cannot fail.
        unsafe { zmsg_sys::zmq_msg_init(msg.as_mut_ptr()) };
        ZFrame {
            // SAFETY: initialised just above.
            msg: UnsafeCell::new(unsafe { msg.assume_init() }),
            more: false,
            borrowed: false,
        }
    }

    /// A frame holding a copy of `data`.
    pub fn copy_from(data: &[u8]) -> Self {
        let mut frame = Self::alloc(data.len());
        if !data.is_empty() {
            // SAFETY: the fresh message owns data.len() writable bytes that nothing else sees.
            unsafe {
                let dst = zmsg_sys::zmq_msg_data(frame.msg.get_mut()) as *mut u8;
                std::ptr::copy_nonoverlapping(data.as_ptr(), dst, data.len());
            }
        }
        frame
    }

    /// A frame of `size` zero bytes, to fill through [`ZFrame::data_mut`].
    pub fn with_size(size: usize) -> Self {
        let mut frame = Self::alloc(size);
        if size > 0 {
            // SAFETY: the fresh message owns size writable bytes that nothing else sees.
            unsafe {
                std::ptr::write_bytes(
                    zmsg_sys::zmq_msg_data(frame.msg.get_mut()) as *mut u8,
                    0,
                    size,
                )
            };
        }
        frame
    }

    /// A frame of `size` bytes left as libzmq's allocator gave them, as CZMQ's
    /// `zframe_new(NULL, size)` and `zmq_msg_init_size` do: the cheapest fresh frame to fill.
    ///
    /// # Safety
    /// The bytes are uninitialised. Do not read them from Rust ([`ZFrame::data`], comparison,
    /// printing, decoding) before writing all of them, e.g. through [`ZFrame::data_mut`] — use
    /// [`ZFrame::with_size`] unless the cost of zeroing matters. Sending the frame is allowed:
    /// libzmq only copies the bytes, as it does for a C program that sends an unfilled message.
    pub unsafe fn with_size_uninit(size: usize) -> Self {
        Self::alloc(size)
    }

    /// A frame whose `size` bytes are not yet initialised: callers must write them all.
    fn alloc(size: usize) -> Self {
        let mut msg = MaybeUninit::<zmsg_sys::zmq_msg_t>::uninit();
        // SAFETY: zmq_msg_init_size initialises the message; it fails only when out of memory.
        let rc = unsafe { zmsg_sys::zmq_msg_init_size(msg.as_mut_ptr(), size) };
        if rc != 0 {
            std::alloc::handle_alloc_error(std::alloc::Layout::array::<u8>(size.max(1)).unwrap());
        }
        ZFrame {
            // SAFETY: initialised just above.
            msg: UnsafeCell::new(unsafe { msg.assume_init() }),
            more: false,
            borrowed: false,
        }
    }

    /// A frame that takes ownership of `owner` and points libzmq at the bytes it holds, without
    /// copying them. `owner` is dropped (on whatever thread releases the last copy) when libzmq is
    /// done with the bytes.
    fn from_owner<T: AsRef<[u8]> + Send + 'static>(owner: T, borrowed: bool) -> Self {
        let len = owner.as_ref().len();
        if len <= Self::INLINE_CAPACITY {
            return Self::copy_from(owner.as_ref());
        }
        let boxed = Box::new(owner);
        let data = boxed.as_ref().as_ref().as_ptr() as *mut c_void;
        let hint = Box::into_raw(boxed) as *mut c_void;

        unsafe extern "C" fn release<T>(_data: *mut c_void, hint: *mut c_void) {
            // SAFETY: hint is the Box<T> leaked in from_owner, released exactly once by libzmq.
            drop(unsafe { Box::from_raw(hint as *mut T) });
        }

        let mut msg = MaybeUninit::<zmsg_sys::zmq_msg_t>::uninit();
        // SAFETY: data points into the boxed owner, which stays alive (and its heap bytes stay
        // put) until libzmq calls release::<T> with the hint. A failure is checked below.
        let rc = unsafe {
            zmsg_sys::zmq_msg_init_data(msg.as_mut_ptr(), data, len, Some(release::<T>), hint)
        };
        if rc != 0 {
            // SAFETY: libzmq did not take the buffer (it calls no ffn on failure): free it here.
            unsafe { release::<T>(data, hint) };
            std::alloc::handle_alloc_error(std::alloc::Layout::new::<T>());
        }
        ZFrame {
            // SAFETY: initialised just above.
            msg: UnsafeCell::new(unsafe { msg.assume_init() }),
            more: false,
            borrowed,
        }
    }

    /// A frame over `data` with no copy, no allocation and no reference counting (libzmq's
    /// "constant message"): the cheapest frame to send, for constant protocol frames and
    /// preallocated payloads. [`ZFrame::data_mut`] copies it first, as it does shared frames.
    #[inline]
    pub fn from_static(data: &'static [u8]) -> Self {
        let mut msg = MaybeUninit::<zmsg_sys::zmq_msg_t>::uninit();
        // SAFETY: data lives for the whole program and is never written through the message:
        // libzmq only reads message contents, and data_mut unshares constant messages (libzmq
        // reports them as shared) before handing out &mut. With no free function libzmq makes
        // a constant message, which allocates nothing and cannot fail.
        unsafe {
            zmsg_sys::zmq_msg_init_data(
                msg.as_mut_ptr(),
                data.as_ptr() as *mut c_void,
                data.len(),
                None,
                std::ptr::null_mut(),
            )
        };
        ZFrame {
            // SAFETY: initialised just above.
            msg: UnsafeCell::new(unsafe { msg.assume_init() }),
            more: false,
            borrowed: false,
        }
    }

    /// A copy of this frame to send while the original is kept, without the original's
    /// connection metadata. Small frames ([`ZFrame::INLINE_CAPACITY`]) are copied into a fresh
    /// message: a clone would add a reference to the received frame's metadata, an atomic write
    /// that libzmq's I/O thread also makes for every frame it receives on that connection. Larger
    /// frames share their buffer, as [`Clone`] does.
    pub fn detached_clone(&self) -> ZFrame {
        if self.len() <= Self::INLINE_CAPACITY {
            ZFrame::copy_from(self.data())
        } else {
            self.clone()
        }
    }

    /// The frame's bytes.
    pub fn data(&self) -> &[u8] {
        let size = self.len();
        if size == 0 {
            return &[];
        }
        // SAFETY: zmq_msg_data points at size readable bytes that live as long as the message;
        // zmq_msg_data takes *mut but does not modify the message.
        unsafe {
            let ptr = zmsg_sys::zmq_msg_data(self.raw_mut_ptr()) as *const u8;
            std::slice::from_raw_parts(ptr, size)
        }
    }

    /// The frame's bytes, writable. A shared (cloned) large frame, a constant one
    /// ([`ZFrame::from_static`]) or one over a [`Bytes`] buffer is copied first, so other copies
    /// and other handles of the buffer never see the change.
    pub fn data_mut(&mut self) -> &mut [u8] {
        if self.borrowed || self.is_shared() {
            let mut unshared = Self::copy_from(self.data());
            unshared.more = self.more;
            *self = unshared;
        }
        let size = self.len();
        if size == 0 {
            return &mut [];
        }
        // SAFETY: the message is not shared (checked above), so we have exclusive access to its
        // size bytes for as long as &mut self lives.
        unsafe {
            let ptr = zmsg_sys::zmq_msg_data(self.msg.get_mut()) as *mut u8;
            std::slice::from_raw_parts_mut(ptr, size)
        }
    }

    /// The frame's size in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        // SAFETY: zmq_msg_size only reads the initialised message.
        unsafe { zmsg_sys::zmq_msg_size(self.msg.get()) }
    }

    /// True when the frame holds no bytes (an envelope delimiter, for example).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when more frames of the same message followed this one (set by receive).
    #[inline]
    pub fn more(&self) -> bool {
        self.more
    }

    /// Sets the "more" flag, which the socket's multipart sends use.
    #[inline]
    pub fn set_more(&mut self, more: bool) {
        self.more = more;
    }

    /// The frame's bytes as UTF-8 text.
    pub fn to_str(&self) -> Result<&str> {
        std::str::from_utf8(self.data()).map_err(|err| Error::Decode {
            expected: "string",
            reason: err.to_string(),
        })
    }

    /// The bytes as a `Vec<u8>` (a copy).
    pub fn to_vec(&self) -> Vec<u8> {
        self.data().to_vec()
    }

    /// True when this frame's bytes equal `other`.
    pub fn eq_bytes(&self, other: &[u8]) -> bool {
        self.data() == other
    }

    /// A metadata property of the connection this frame arrived on, such as `"User-Id"` (set by
    /// ZAP authentication), `"Peer-Address"`, `"Socket-Type"`, `"Routing-Id"` or any property a
    /// ZAP handler attached. `None` when the frame has no such property or was not received.
    pub fn meta(&self, property: &str) -> Option<String> {
        let property = CString::new(property).ok()?;
        // SAFETY: the message is initialised; property is NUL-terminated. zmq_msg_gets returns a
        // pointer into the message's metadata, valid while the message lives; we copy it at once.
        let value = unsafe { zmsg_sys::zmq_msg_gets(self.msg.get(), property.as_ptr()) };
        if value.is_null() {
            return None;
        }
        // SAFETY: non-null results are NUL-terminated strings owned by the message metadata.
        Some(
            unsafe { CStr::from_ptr(value) }
                .to_string_lossy()
                .into_owned(),
        )
    }

    /// The routing id of a frame received on a SERVER socket (draft API).
    #[cfg(feature = "draft")]
    pub fn routing_id(&self) -> u32 {
        // SAFETY: reads the initialised message; zmq_msg_routing_id takes *mut but only reads.
        unsafe { zmsg_sys::zmq_msg_routing_id(self.raw_mut_ptr()) }
    }

    /// Sets the routing id a frame sent on a SERVER socket goes to (draft API).
    #[cfg(feature = "draft")]
    pub fn set_routing_id(&mut self, routing_id: u32) -> Result<()> {
        // SAFETY: the message is initialised and exclusively borrowed.
        check(unsafe { zmsg_sys::zmq_msg_set_routing_id(self.msg.get_mut(), routing_id) }).map(drop)
    }

    /// The group of a frame received on a DISH socket (draft API).
    #[cfg(feature = "draft")]
    pub fn group(&self) -> Option<String> {
        // SAFETY: reads the initialised message; the result is NUL-terminated inside it.
        let group = unsafe { zmsg_sys::zmq_msg_group(self.raw_mut_ptr()) };
        if group.is_null() {
            return None;
        }
        // SAFETY: non-null group names are NUL-terminated and live as long as the message.
        Some(
            unsafe { CStr::from_ptr(group) }
                .to_string_lossy()
                .into_owned(),
        )
    }

    /// Sets the group a frame sent on a RADIO socket goes to (draft API).
    #[cfg(feature = "draft")]
    pub fn set_group(&mut self, group: &str) -> Result<()> {
        let group =
            CString::new(group).map_err(|_| Error::InvalidArgument("group has NUL".into()))?;
        // SAFETY: the message is initialised and exclusively borrowed; group is NUL-terminated.
        check(unsafe { zmsg_sys::zmq_msg_set_group(self.msg.get_mut(), group.as_ptr()) }).map(drop)
    }

    /// True when libzmq shares this frame's buffer with other copies.
    fn is_shared(&self) -> bool {
        // SAFETY: zmq_msg_get only reads the initialised message.
        unsafe { zmsg_sys::zmq_msg_get(self.msg.get(), zmsg_sys::ZMQ_SHARED) == 1 }
    }

    /// A raw pointer to the message for libzmq calls through `&self`: reads, and the writes of
    /// `zmq_msg_copy` to its source, which the `UnsafeCell` allows (one thread: `!Sync`).
    fn raw_mut_ptr(&self) -> *mut zmsg_sys::zmq_msg_t {
        self.msg.get()
    }

    /// The underlying `zmq_msg_t`, for socket calls inside the crate.
    #[inline]
    pub(crate) fn raw_mut(&mut self) -> &mut zmsg_sys::zmq_msg_t {
        self.msg.get_mut()
    }

    /// Copies `other` into this frame, sharing large buffers.
    fn copy_of(other: &ZFrame) -> Result<Self> {
        let mut frame = ZFrame::new();
        // SAFETY: both messages are initialised; zmq_msg_copy shares or copies the content and
        // writes the source's shared flag and reference count, which lives in an UnsafeCell that
        // no other thread can reach (ZFrame is !Sync).
        check(unsafe { zmsg_sys::zmq_msg_copy(frame.msg.get_mut(), other.raw_mut_ptr()) })?;
        frame.more = other.more;
        // A shared copy of a borrowed buffer is still not ours to write once the original is gone.
        frame.borrowed = other.borrowed;
        Ok(frame)
    }
}

impl Default for ZFrame {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for ZFrame {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the message was initialised at construction and is closed exactly once, here.
        unsafe { zmsg_sys::zmq_msg_close(self.msg.get_mut()) };
    }
}

impl Clone for ZFrame {
    fn clone(&self) -> Self {
        // zmq_msg_copy fails only with EFAULT on an invalid message, which a ZFrame never is.
        Self::copy_of(self).unwrap_or_else(|_| Self::copy_from(self.data()))
    }
}

impl PartialEq for ZFrame {
    fn eq(&self, other: &Self) -> bool {
        self.data() == other.data()
    }
}

impl Eq for ZFrame {}

impl std::hash::Hash for ZFrame {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.data().hash(state);
    }
}

impl AsRef<[u8]> for ZFrame {
    fn as_ref(&self) -> &[u8] {
        self.data()
    }
}

impl std::ops::Deref for ZFrame {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.data()
    }
}

impl fmt::Debug for ZFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ZFrame({self})")
    }
}

/// Prints the frame as CZMQ's `zframe_print` does: text when every byte is printable, hex
/// otherwise, cut after 70 bytes.
impl fmt::Display for ZFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let data = self.data();
        let shown = &data[..data.len().min(70)];
        write!(f, "[{:03}] ", data.len())?;
        if shown.iter().all(|b| (0x20..0x7f).contains(b)) {
            f.write_str(&String::from_utf8_lossy(shown))?;
        } else {
            for byte in shown {
                write!(f, "{byte:02X}")?;
            }
        }
        if shown.len() < data.len() {
            f.write_str("...")?;
        }
        Ok(())
    }
}

impl From<Vec<u8>> for ZFrame {
    fn from(data: Vec<u8>) -> Self {
        Self::from_owner(data, false)
    }
}

impl From<Box<[u8]>> for ZFrame {
    fn from(data: Box<[u8]>) -> Self {
        Self::from_owner(data, false)
    }
}

impl From<String> for ZFrame {
    fn from(text: String) -> Self {
        Self::from_owner(text.into_bytes(), false)
    }
}

impl From<Bytes> for ZFrame {
    /// Wraps the buffer without a copy; the frame never writes it ([`ZFrame::data_mut`] copies).
    fn from(data: Bytes) -> Self {
        Self::from_owner(data, true)
    }
}

impl From<&[u8]> for ZFrame {
    fn from(data: &[u8]) -> Self {
        Self::copy_from(data)
    }
}

impl<const N: usize> From<&[u8; N]> for ZFrame {
    fn from(data: &[u8; N]) -> Self {
        Self::copy_from(data)
    }
}

impl From<&str> for ZFrame {
    fn from(text: &str) -> Self {
        Self::copy_from(text.as_bytes())
    }
}

impl From<&String> for ZFrame {
    fn from(text: &String) -> Self {
        Self::copy_from(text.as_bytes())
    }
}

impl From<&ZFrame> for ZFrame {
    fn from(frame: &ZFrame) -> Self {
        frame.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn empty_and_sized() {
        let empty = ZFrame::new();
        assert!(empty.is_empty());
        assert_eq!(empty.data(), b"");
        let mut sized = ZFrame::with_size(4);
        sized.data_mut().copy_from_slice(b"abcd");
        assert_eq!(sized.to_str().unwrap(), "abcd");
    }

    #[test]
    fn vec_is_not_copied() {
        let data = vec![7u8; 4096];
        let ptr = data.as_ptr();
        let frame = ZFrame::from(data);
        assert_eq!(
            frame.data().as_ptr(),
            ptr,
            "large Vec must be handed over, not copied"
        );
        let clone = frame.clone();
        assert_eq!(clone.data().as_ptr(), ptr, "clone must share the buffer");
        assert_eq!(clone, frame);
    }

    #[test]
    fn bytes_is_not_copied() {
        let data = Bytes::from(vec![9u8; 1000]);
        let ptr = data.as_ptr();
        let frame = ZFrame::from(data.clone());
        assert_eq!(frame.data().as_ptr(), ptr);
        assert_eq!(frame.len(), 1000);
    }

    /// An owner that counts its drops, to see the buffer released exactly once.
    struct Counted(Vec<u8>, Arc<AtomicUsize>);
    impl AsRef<[u8]> for Counted {
        fn as_ref(&self) -> &[u8] {
            &self.0
        }
    }
    impl Drop for Counted {
        fn drop(&mut self) {
            self.1.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn buffer_released_once_after_last_clone() {
        let drops = Arc::new(AtomicUsize::new(0));
        let frame = ZFrame::from_owner(Counted(vec![1; 100], drops.clone()), false);
        let clone = frame.clone();
        drop(frame);
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        drop(clone);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn writing_a_shared_frame_unshares_it() {
        let frame = ZFrame::from(vec![1u8; 64]);
        let mut copy = frame.clone();
        copy.data_mut()[0] = 2;
        assert_eq!(frame.data()[0], 1);
        assert_eq!(copy.data()[0], 2);
    }

    #[test]
    fn writing_a_frame_over_bytes_never_writes_the_bytes() {
        // A static buffer (read-only memory: writing it in place would crash).
        static DATA: [u8; 100] = [7; 100];
        let mut frame = ZFrame::from(Bytes::from_static(&DATA));
        frame.data_mut()[0] = 1;
        assert_eq!(frame.data()[0], 1);
        assert_eq!(DATA[0], 7);
        // A buffer another `Bytes` handle still reads.
        let shared = Bytes::from(vec![9u8; 100]);
        let mut frame = ZFrame::from(shared.clone());
        frame.data_mut()[0] = 1;
        assert_eq!(shared[0], 9);
        // A clone of such a frame stays borrowed once the original is gone.
        let original = ZFrame::from(shared.clone());
        let mut clone = original.clone();
        drop(original);
        clone.data_mut()[1] = 1;
        assert_eq!(shared[1], 9);
    }

    #[test]
    fn large_frames_clone_safely_on_many_threads() {
        // Each thread owns its frames (ZFrame is Send, not Sync) and clones and drops them while
        // the others do the same to copies that share the same buffer: libzmq's reference count
        // is atomic. Run under ThreadSanitizer by scripts/sanitize.
        let drops = Arc::new(AtomicUsize::new(0));
        let original = ZFrame::from_owner(Counted(vec![5; 4096], drops.clone()), false);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let mine = original.clone();
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        let copy = mine.clone();
                        assert_eq!(copy.len(), 4096);
                        drop(copy);
                    }
                    mine
                })
            })
            .collect();
        let copies: Vec<ZFrame> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        drop(original);
        drop(copies);
        assert_eq!(
            drops.load(Ordering::SeqCst),
            1,
            "the buffer is released exactly once"
        );
    }

    #[test]
    fn static_frames_are_not_copied_and_unshare_on_write() {
        static DATA: [u8; 100] = [5; 100];
        let mut frame = ZFrame::from_static(&DATA);
        assert_eq!(frame.data().as_ptr(), DATA.as_ptr());
        assert_eq!(frame.clone().data().as_ptr(), DATA.as_ptr());
        frame.data_mut()[0] = 6;
        assert_eq!(frame.data()[0], 6);
        assert_eq!(DATA[0], 5);
        assert!(ZFrame::from_static(b"").is_empty());
    }

    #[test]
    fn display_text_and_binary() {
        assert_eq!(ZFrame::from("hi").to_string(), "[002] hi");
        assert_eq!(ZFrame::from(&[0u8, 255][..]).to_string(), "[002] 00FF");
    }

    #[test]
    fn bad_utf8_is_an_error() {
        let err = ZFrame::from(&[0xffu8, 0xfe][..]).to_str().unwrap_err();
        assert!(matches!(err, Error::Decode { .. }));
    }
}
