//! Streams: poll-based reads and writes over the shared engine, owned
//! metadata, and what dropping a stream does.

use crate::error::Error;
use crate::shared::{Core, Shared, Tracked};
use braid::{ErrorCode, Metadata, MetadataWriter, ReadError, StreamError, StreamId, StreamInfo, WriteError};
use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

/// A stream's open metadata, owned: a stream type and headers (muxado's
/// typed streams, spec.md §5.4).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamMetadata {
    /// The stream type (application-defined).
    pub stream_type: u32,
    /// The headers, in order, as `(name, value)` pairs.
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
}

impl StreamMetadata {
    /// Metadata with `stream_type` and no headers.
    #[must_use]
    pub fn new(stream_type: u32) -> Self {
        StreamMetadata { stream_type, headers: Vec::new() }
    }

    /// The same metadata with one more header.
    #[must_use]
    pub fn with_header(mut self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Self {
        self.headers.push((name.as_ref().to_vec(), value.as_ref().to_vec()));
        self
    }

    /// The value of the first header named `name`.
    #[must_use]
    pub fn header(&self, name: impl AsRef<[u8]>) -> Option<&[u8]> {
        let name = name.as_ref();
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_slice())
    }

    /// Parse a wire block (as [`braid::Session::metadata`] gives it).
    ///
    /// # Errors
    /// [`Error::MetadataMalformed`] when it is not a well-formed block.
    pub fn parse(block: &[u8]) -> Result<Self, Error> {
        let m = Metadata::parse(block)?;
        Ok(StreamMetadata {
            stream_type: m.stream_type,
            headers: m.headers().map(|(n, v)| (n.to_vec(), v.to_vec())).collect(),
        })
    }

    /// Encode as a wire block with [`braid::MetadataWriter`].
    ///
    /// # Errors
    /// [`Error::MetadataMalformed`] for an empty name, a name over 255 bytes,
    /// a value over 65535 bytes or a block over 65535 bytes.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        encode(self.stream_type, self.headers.iter().map(|(n, v)| (n.as_slice(), v.as_slice())))
    }
}

/// Encode a metadata block from a type and headers.
pub(crate) fn encode<N: AsRef<[u8]>, V: AsRef<[u8]>>(
    stream_type: u32,
    headers: impl IntoIterator<Item = (N, V)> + Clone,
) -> Result<Vec<u8>, Error> {
    let size =
        4 + headers.clone().into_iter().map(|(n, v)| 3 + n.as_ref().len() + v.as_ref().len()).sum::<usize>();
    let mut buf = vec![0u8; size];
    let mut w = MetadataWriter::new(&mut buf, stream_type)?;
    for (n, v) in headers {
        w = w.header(n.as_ref(), v.as_ref())?;
    }
    let len = w.finish().len();
    buf.truncate(len);
    Ok(buf)
}

/// A write at least this large is framed by the writing task at once (see
/// `Core::pump_bulk`); smaller ones are left for the driver to gather.
const BULK_WRITE: usize = 16 * 1024;

/// Handle state bits; changed only while the session is locked.
mod flag {
    /// A read returned the end of the stream.
    pub const READ_EOF: u32 = 1 << 0;
    /// The write side was shut down (FIN queued).
    pub const WRITE_SHUT: u32 = 1 << 1;
    /// The stream was reset (code in `code`).
    pub const RESET: u32 = 1 << 2;
    /// … by the peer.
    pub const RESET_REMOTE: u32 = 1 << 3;
    /// … by this handle's `reset`.
    pub const OWN_RESET: u32 = 1 << 4;
    /// No reply metadata is left to look for.
    pub const META_DONE: u32 = 1 << 5;
}

/// What the stream handles (whole or halves) share.
pub(crate) struct StreamInner {
    shared: Arc<Shared>,
    id: StreamId,
    local: bool,
    flags: AtomicU32,
    code: AtomicU32,
    metadata: OnceLock<StreamMetadata>,
}

impl StreamInner {
    pub(crate) fn new(shared: Arc<Shared>, id: StreamId, local: bool, meta: Option<StreamMetadata>) -> Self {
        let metadata = OnceLock::new();
        let mut flags = 0;
        if let Some(m) = meta {
            let _ = metadata.set(m);
        }
        if !local {
            flags |= flag::META_DONE;
        }
        StreamInner { shared, id, local, flags: AtomicU32::new(flags), code: AtomicU32::new(0), metadata }
    }

    fn flags(&self) -> u32 {
        self.flags.load(Ordering::Acquire)
    }

    fn set(&self, bits: u32) {
        self.flags.fetch_or(bits, Ordering::AcqRel);
    }

    fn set_reset(&self, code: ErrorCode, remote: bool) {
        self.code.store(code.0, Ordering::Release);
        self.set(flag::RESET | if remote { flag::RESET_REMOTE } else { 0 });
    }

    fn reset_error(&self) -> Error {
        let f = self.flags();
        Error::Reset {
            code: ErrorCode(self.code.load(Ordering::Acquire)),
            remote: f & flag::RESET_REMOTE != 0,
        }
    }

    /// The engine reset the stream on this side (this handle did, or the
    /// peer broke a stream rule): the error, with the code it used.
    fn local_reset(&self, core: &Core) -> Error {
        if self.flags() & flag::OWN_RESET == 0 {
            match core.session.stream_info(self.id).and_then(|i| i.reset) {
                Some(code) => self.set_reset(code, false),
                None => return self.unknown(core),
            }
        }
        self.reset_error()
    }

    /// The engine no longer knows the stream: a reset seen as an event, the
    /// session's end, or gone for good.
    fn unknown(&self, core: &Core) -> Error {
        if self.flags() & flag::RESET != 0 {
            return self.reset_error();
        }
        if let Some(Tracked::Handle { reset: Some((code, remote)), .. }) = core.tracked.get(&self.id) {
            self.set_reset(*code, *remote);
            return self.reset_error();
        }
        if core.is_ended() {
            return Error::SessionClosed(core.session.close_reason());
        }
        Error::UnknownStream
    }

    /// Copy the peer's reply metadata out of the engine before a read can
    /// skip it (streams this side opened).
    fn capture_metadata(&self, core: &Core) {
        if self.metadata.get().is_some() {
            self.set(flag::META_DONE);
            return;
        }
        let mut small = [0u8; 256];
        let block = match core.session.metadata(self.id, &mut small) {
            Ok(Some(n)) => small[..n].to_vec(),
            Err(StreamError::BufferTooSmall(n)) => {
                let mut big = vec![0u8; n];
                match core.session.metadata(self.id, &mut big) {
                    Ok(Some(n)) => {
                        big.truncate(n);
                        big
                    }
                    _ => return,
                }
            }
            _ => return,
        };
        if let Ok(m) = StreamMetadata::parse(&block) {
            let _ = self.metadata.set(m);
        }
        self.set(flag::META_DONE);
    }

    fn metadata(&self) -> Option<&StreamMetadata> {
        if let Some(m) = self.metadata.get() {
            return Some(m);
        }
        if self.flags() & flag::META_DONE == 0 {
            let core = self.shared.lock();
            self.capture_metadata(&core);
        }
        self.metadata.get()
    }

    fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let f = self.flags();
        if f & flag::READ_EOF != 0 {
            return Poll::Ready(Ok(0));
        }
        if f & flag::RESET != 0 {
            return Poll::Ready(Err(self.reset_error().into()));
        }
        let mut core = self.shared.lock();
        if f & flag::META_DONE == 0 {
            self.capture_metadata(&core);
        }
        let err = match core.session.read(self.id, buf) {
            Ok(n) => {
                if n > 0 {
                    self.set(flag::META_DONE);
                } else if !buf.is_empty() {
                    self.set(flag::READ_EOF | flag::META_DONE);
                }
                let now = self.shared.now();
                core.pump(now, false);
                return Poll::Ready(Ok(n));
            }
            Err(ReadError::WouldBlock) => {
                let _ = core.session.register_read_waker(self.id, cx.waker());
                return Poll::Pending;
            }
            Err(ReadError::Reset(code)) => {
                self.set_reset(code, true);
                self.reset_error()
            }
            Err(ReadError::LocallyReset) => self.local_reset(&core),
            Err(ReadError::SessionClosed | ReadError::UnknownStream) => {
                if matches!(core.tracked.get(&self.id), Some(Tracked::Handle { fin: true, reset: None, .. }))
                {
                    // The FIN arrived and everything before it was read.
                    self.set(flag::READ_EOF | flag::META_DONE);
                    return Poll::Ready(Ok(0));
                }
                self.unknown(&core)
            }
        };
        Poll::Ready(Err(err.into()))
    }

    fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let f = self.flags();
        if f & flag::RESET != 0 {
            return Poll::Ready(Err(self.reset_error().into_write_io()));
        }
        if f & flag::WRITE_SHUT != 0 {
            return Poll::Ready(Err(Error::Finished.into_write_io()));
        }
        let mut core = self.shared.lock();
        let err = match core.session.write(self.id, buf) {
            Ok(n) => {
                let now = self.shared.now();
                if n >= BULK_WRITE {
                    core.pump_bulk(now);
                } else {
                    core.pump(now, false);
                }
                return Poll::Ready(Ok(n));
            }
            Err(WriteError::WouldBlock) => {
                let _ = core.session.register_write_waker(self.id, cx.waker());
                return Poll::Pending;
            }
            Err(WriteError::Finished) => Error::Finished,
            Err(WriteError::Reset(code)) => {
                self.set_reset(code, true);
                self.reset_error()
            }
            Err(WriteError::LocallyReset) => self.local_reset(&core),
            Err(WriteError::SessionClosed | WriteError::UnknownStream) => self.unknown(&core),
        };
        Poll::Ready(Err(err.into_write_io()))
    }

    fn poll_flush(&self) -> Poll<io::Result<()>> {
        if self.flags() & flag::RESET != 0 {
            return Poll::Ready(Err(self.reset_error().into_write_io()));
        }
        Poll::Ready(Ok(()))
    }

    fn finish(&self) -> Result<(), Error> {
        let f = self.flags();
        if f & flag::WRITE_SHUT != 0 {
            return Ok(());
        }
        if f & flag::RESET != 0 {
            return Err(self.reset_error());
        }
        let mut core = self.shared.lock();
        match core.session.finish(self.id) {
            Ok(()) => {
                self.set(flag::WRITE_SHUT);
                let now = self.shared.now();
                core.pump(now, false);
                Ok(())
            }
            // `finish` does not say who reset the stream; an empty read does
            // (it checks resets before anything else).
            Err(StreamError::Reset) => match core.session.read(self.id, &mut []) {
                Err(ReadError::Reset(code)) => {
                    self.set_reset(code, true);
                    Err(self.reset_error())
                }
                _ => Err(self.local_reset(&core)),
            },
            Err(_) => Err(self.unknown(&core)),
        }
    }

    fn reset(&self, code: ErrorCode) -> Result<(), Error> {
        if self.flags() & flag::RESET != 0 {
            return Ok(());
        }
        let mut core = self.shared.lock();
        match core.session.reset(self.id, code) {
            Ok(()) => {
                self.code.store(code.0, Ordering::Release);
                self.set(flag::RESET | flag::OWN_RESET);
                let now = self.shared.now();
                core.pump(now, false);
                Ok(())
            }
            Err(StreamError::ReservedCode) => Err(Error::ReservedCode),
            Err(StreamError::SessionClosed) => Err(Error::SessionClosed(core.session.close_reason())),
            Err(_) => {
                let f = self.flags();
                if f & flag::READ_EOF != 0 && f & flag::WRITE_SHUT != 0 {
                    return Ok(()); // both directions ended cleanly: nothing to reset
                }
                Err(self.unknown(&core))
            }
        }
    }

    fn reset_code(&self) -> Option<ErrorCode> {
        let f = self.flags();
        if f & flag::OWN_RESET != 0 {
            return None;
        }
        if f & flag::RESET != 0 {
            return Some(ErrorCode(self.code.load(Ordering::Acquire)));
        }
        let core = self.shared.lock();
        if let Some(Tracked::Handle { reset: Some((code, _)), .. }) = core.tracked.get(&self.id) {
            return Some(*code);
        }
        core.session.stream_info(self.id).and_then(|i| i.reset)
    }

    fn info(&self) -> Option<StreamInfo> {
        self.shared.lock().session.stream_info(self.id)
    }
}

impl Drop for StreamInner {
    /// See "Dropping a stream" on [`Stream`].
    fn drop(&mut self) {
        let f = self.flags();
        let mut core = self.shared.lock();
        core.tracked.remove(&self.id);
        if f & flag::RESET != 0 || core.is_ended() {
            return;
        }
        if f & flag::WRITE_SHUT == 0 {
            let _ = core.session.reset(self.id, ErrorCode::CANCEL);
        } else if f & flag::READ_EOF == 0 {
            core.tracked.insert(self.id, Tracked::Lingering { discarded: 0 });
            core.discard(self.id);
        } else {
            return;
        }
        let now = self.shared.now();
        core.pump(now, false);
    }
}

/// One braid stream: a full-duplex, flow-controlled byte stream inside a
/// session, with poll-based I/O for runtime adapters to wrap.
///
/// # Reads and writes
///
/// `poll_read` and `poll_write` copy between the caller's buffer and the
/// stream's buffers in the engine; when there is nothing to read or no room
/// to write they register the task with the engine and return `Pending`.
/// Both are cancellation-safe: a read either returns bytes or consumes
/// none, a write either takes `n` bytes (and reports `n`) or takes none.
/// Written data is handed to the session at once and sent by the driver, so
/// `poll_flush` has nothing to wait for. `poll_shutdown` (also
/// [`finish`](Self::finish)) queues a FIN after the data: a half-close,
/// reads go on.
///
/// # Errors
///
/// I/O errors carry an [`Error`] (get it with [`Error::from_io`]): a reset
/// is `ConnectionReset` (`ConnectionRefused` for `REFUSED`, a stream the
/// peer never processed), a write after shutdown or on an ended session is
/// `BrokenPipe`, a read on an ended session is `NotConnected`. Data that
/// arrived before the session ended stays readable.
///
/// # Dropping a stream
///
/// When the stream (or the last of its halves) is dropped:
/// - if it was reset, or the session ended: nothing more happens;
/// - if its write side was not shut down: it is **reset with CANCEL**:
///   unsent data is dropped and the peer's reads and writes fail with
///   `ConnectionReset`, so the peer never mistakes an abandoned stream for
///   a complete one. Shut the write side down first (tokio's
///   `shutdown().await`, futures-io's `close().await`, or
///   [`finish`](Stream::finish)) to end a stream gracefully;
/// - if its write side was shut down and its read side reached the end:
///   nothing; queued data and the FIN still go out, and the session then
///   forgets the stream;
/// - if its write side was shut down but the peer is still sending: the
///   data and FIN still go out, and the session reads and discards what
///   the peer sends until its FIN (a lingering close); past 1 MiB of
///   discarded data it resets the stream with CANCEL.
///
/// Either way the stream's slot is freed: dropped streams never leak.
pub struct Stream {
    inner: Arc<StreamInner>,
}

impl Stream {
    pub(crate) fn new(inner: StreamInner) -> Self {
        Stream { inner: Arc::new(inner) }
    }

    /// The stream's id.
    #[must_use]
    pub fn id(&self) -> StreamId {
        self.inner.id
    }

    /// Whether this side opened the stream.
    #[must_use]
    pub fn is_local(&self) -> bool {
        self.inner.local
    }

    /// The peer's metadata: the opener's for an accepted stream, the
    /// acceptor's reply for one this side opened (once it arrived; `None`
    /// if the peer sent none).
    #[must_use]
    pub fn metadata(&self) -> Option<&StreamMetadata> {
        self.inner.metadata()
    }

    /// Read into `buf`; `Ok(0)` with a non-empty `buf` is the end of the
    /// stream (the peer's FIN), and stays so.
    ///
    /// # Errors
    /// See "Errors" on [`Stream`].
    pub fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.inner.poll_read(cx, buf)
    }

    /// Write from `buf`; returns how many bytes were taken.
    ///
    /// # Errors
    /// See "Errors" on [`Stream`].
    pub fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.inner.poll_write(cx, buf)
    }

    /// Always ready: written data is already with the session.
    ///
    /// # Errors
    /// The reset error if the stream was reset.
    pub fn poll_flush(&self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.poll_flush()
    }

    /// Shut the write side down: a FIN follows the data written (see
    /// [`finish`](Self::finish)). Ready at once.
    ///
    /// # Errors
    /// As [`finish`](Self::finish), as an [`io::Error`].
    pub fn poll_shutdown(&self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.inner.finish().map_err(Error::into_write_io))
    }

    /// Shut the write side down (half-close): a FIN follows the data
    /// already written. Reads go on. Finishing twice is fine.
    ///
    /// # Errors
    /// [`Error::Reset`] if the stream was reset, [`Error::SessionClosed`].
    pub fn finish(&self) -> Result<(), Error> {
        self.inner.finish()
    }

    /// Reset the stream with `code`: both directions end at once, buffered
    /// data is dropped, and the peer's operations fail with the code.
    /// Resetting twice, or a stream already over, is fine.
    ///
    /// # Errors
    /// [`Error::ReservedCode`] for a code in the reserved range,
    /// [`Error::SessionClosed`].
    pub fn reset(&self, code: ErrorCode) -> Result<(), Error> {
        self.inner.reset(code)
    }

    /// The code the stream was reset with, unless this handle reset it: the
    /// peer's RST code, `REFUSED` when the peer's GOAWAY refused it, or
    /// `STREAM_CLOSED` when this side's engine reset it because the peer
    /// broke a stream rule.
    #[must_use]
    pub fn reset_code(&self) -> Option<ErrorCode> {
        self.inner.reset_code()
    }

    /// The stream's windows and buffered bytes, while the session knows it.
    #[must_use]
    pub fn info(&self) -> Option<StreamInfo> {
        self.inner.info()
    }

    /// Split into a read half and a write half, usable from different tasks.
    /// The stream is dropped (see "Dropping a stream") when both are.
    #[must_use]
    pub fn split(self) -> (ReadHalf, WriteHalf) {
        (ReadHalf { inner: self.inner.clone() }, WriteHalf { inner: self.inner })
    }
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream").field("id", &self.inner.id).field("local", &self.inner.local).finish()
    }
}

/// The read half of a [`Stream`] (from [`Stream::split`]).
pub struct ReadHalf {
    inner: Arc<StreamInner>,
}

impl ReadHalf {
    /// The stream's id.
    #[must_use]
    pub fn id(&self) -> StreamId {
        self.inner.id
    }

    /// The peer's metadata (see [`Stream::metadata`]).
    #[must_use]
    pub fn metadata(&self) -> Option<&StreamMetadata> {
        self.inner.metadata()
    }

    /// As [`Stream::poll_read`].
    ///
    /// # Errors
    /// See "Errors" on [`Stream`].
    pub fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.inner.poll_read(cx, buf)
    }

    /// Reset the whole stream (see [`Stream::reset`]).
    ///
    /// # Errors
    /// As [`Stream::reset`].
    pub fn reset(&self, code: ErrorCode) -> Result<(), Error> {
        self.inner.reset(code)
    }

    /// As [`Stream::reset_code`].
    #[must_use]
    pub fn reset_code(&self) -> Option<ErrorCode> {
        self.inner.reset_code()
    }

    /// Put the stream back together with its write half.
    ///
    /// # Errors
    /// Both halves back when they are of different streams.
    pub fn reunite(self, write: WriteHalf) -> Result<Stream, (ReadHalf, WriteHalf)> {
        if Arc::ptr_eq(&self.inner, &write.inner) {
            drop(write);
            Ok(Stream { inner: self.inner })
        } else {
            Err((self, write))
        }
    }
}

impl std::fmt::Debug for ReadHalf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadHalf").field("id", &self.inner.id).finish()
    }
}

/// The write half of a [`Stream`] (from [`Stream::split`]).
pub struct WriteHalf {
    inner: Arc<StreamInner>,
}

impl WriteHalf {
    /// The stream's id.
    #[must_use]
    pub fn id(&self) -> StreamId {
        self.inner.id
    }

    /// As [`Stream::poll_write`].
    ///
    /// # Errors
    /// See "Errors" on [`Stream`].
    pub fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.inner.poll_write(cx, buf)
    }

    /// As [`Stream::poll_flush`].
    ///
    /// # Errors
    /// The reset error if the stream was reset.
    pub fn poll_flush(&self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.poll_flush()
    }

    /// As [`Stream::poll_shutdown`].
    ///
    /// # Errors
    /// As [`Stream::finish`].
    pub fn poll_shutdown(&self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.inner.finish().map_err(Error::into_write_io))
    }

    /// As [`Stream::finish`].
    ///
    /// # Errors
    /// As [`Stream::finish`].
    pub fn finish(&self) -> Result<(), Error> {
        self.inner.finish()
    }

    /// Reset the whole stream (see [`Stream::reset`]).
    ///
    /// # Errors
    /// As [`Stream::reset`].
    pub fn reset(&self, code: ErrorCode) -> Result<(), Error> {
        self.inner.reset(code)
    }

    /// As [`Stream::reset_code`].
    #[must_use]
    pub fn reset_code(&self) -> Option<ErrorCode> {
        self.inner.reset_code()
    }
}

impl std::fmt::Debug for WriteHalf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteHalf").field("id", &self.inner.id).finish()
    }
}
