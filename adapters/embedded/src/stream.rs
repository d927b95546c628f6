//! [`Stream`]: a socket-like handle on one braid stream.

use crate::stack::{Engine, Stack};
use braid::{ErrorCode, ReadError, StreamError, StreamId, StreamInfo, WriteError};
use core::fmt;
use core::future::poll_fn;
use core::task::Poll;

/// One stream of the session, borrowed from a [`Stack`].
///
/// `try_*` methods never wait and report "would block" as an error
/// variant; the `async` ones wait on the engine's per-stream wakers. Every
/// method reports `SessionClosed` once the session it belongs to has ended
/// and been replaced (data received before the end stays readable until
/// then).
///
/// **Dropping** a stream: if this side finished it ([`finish`](Self::finish))
/// the runner keeps reading and discarding what the peer still sends until
/// the peer's end, so the data and FIN this side sent still arrive; a
/// stream not finished is reset with `CANCEL`. Either way its slot is
/// freed.
///
/// It also implements `embedded_io_async::{Read, Write}` (`Ok(0)` from
/// `read` is the end of the stream), so it can go wherever an
/// embedded-io pipe goes.
pub struct Stream<'a, const N: usize, const RX: usize, const TX: usize> {
    stack: Stack<'a, N, RX, TX>,
    id: StreamId,
    generation: u32,
}

impl<'a, const N: usize, const RX: usize, const TX: usize> Stream<'a, N, RX, TX> {
    pub(crate) fn new(stack: Stack<'a, N, RX, TX>, id: StreamId, generation: u32) -> Self {
        Stream { stack, id, generation }
    }

    /// Run `f` on this stream's session, if it is still the current one;
    /// the runner is woken afterwards.
    fn with<R>(&self, closed: R, f: impl FnOnce(&mut Engine<N, RX, TX>) -> R) -> R {
        self.stack.with(|st| {
            let r = match st.session_of(self.generation) {
                Some(s) => f(s),
                None => closed,
            };
            st.kick();
            r
        })
    }

    /// The stream's id.
    #[must_use]
    pub fn id(&self) -> StreamId {
        self.id
    }

    /// The number of the session it belongs to ([`Stack::generation`]).
    #[must_use]
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// Its windows, buffers and half-close state; `None` once it is over
    /// (or its session was replaced).
    #[must_use]
    pub fn info(&self) -> Option<StreamInfo> {
        self.stack.with(|st| st.session_of(self.generation).and_then(|s| s.stream_info(self.id)))
    }

    /// Copy the peer's metadata (the opener's for an accepted stream, the
    /// acceptor's reply for an opened one) into `buf`; `Ok(None)` when
    /// there is none or it was read past.
    ///
    /// # Errors
    /// [`StreamError`]: `BufferTooSmall(n)`, `UnknownStream`, `SessionClosed`.
    pub fn metadata(&self, buf: &mut [u8]) -> Result<Option<usize>, StreamError> {
        self.stack.with(|st| match st.session_of(self.generation) {
            Some(s) => s.metadata(self.id, buf),
            None => Err(StreamError::SessionClosed),
        })
    }

    /// Read what arrived into `buf`; `Ok(0)` (with a non-empty `buf`) is
    /// the end of the stream.
    ///
    /// # Errors
    /// [`ReadError`]; `WouldBlock` when nothing arrived yet.
    pub fn try_read(&mut self, buf: &mut [u8]) -> Result<usize, ReadError> {
        self.with(Err(ReadError::SessionClosed), |s| s.read(self.id, buf))
    }

    /// Read what arrived into `buf`, waiting for something; `Ok(0)` (with a
    /// non-empty `buf`) is the end of the stream.
    ///
    /// # Errors
    /// [`ReadError`] other than `WouldBlock`.
    pub async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ReadError> {
        let (id, generation) = (self.id, self.generation);
        poll_fn(|cx| {
            self.stack.with(|st| {
                let Some(s) = st.session_of(generation) else {
                    return Poll::Ready(Err(ReadError::SessionClosed));
                };
                match s.read(id, buf) {
                    Err(ReadError::WouldBlock) => {
                        let _ = s.register_read_waker(id, cx.waker());
                        Poll::Pending
                    }
                    r => {
                        st.kick();
                        Poll::Ready(r)
                    }
                }
            })
        })
        .await
    }

    /// Queue `data`; returns how much the send buffer took.
    ///
    /// # Errors
    /// [`WriteError`]; `WouldBlock` when the send buffer is full.
    pub fn try_write(&mut self, data: &[u8]) -> Result<usize, WriteError> {
        self.with(Err(WriteError::SessionClosed), |s| s.write(self.id, data))
    }

    /// Queue `data`, waiting for room; returns how much was taken (at least
    /// one byte unless `data` is empty).
    ///
    /// # Errors
    /// [`WriteError`] other than `WouldBlock`.
    pub async fn write(&mut self, data: &[u8]) -> Result<usize, WriteError> {
        let (id, generation) = (self.id, self.generation);
        poll_fn(|cx| {
            self.stack.with(|st| {
                let Some(s) = st.session_of(generation) else {
                    return Poll::Ready(Err(WriteError::SessionClosed));
                };
                match s.write(id, data) {
                    Err(WriteError::WouldBlock) => {
                        let _ = s.register_write_waker(id, cx.waker());
                        Poll::Pending
                    }
                    r => {
                        st.kick();
                        Poll::Ready(r)
                    }
                }
            })
        })
        .await
    }

    /// Queue all of `data`, waiting for room as needed.
    ///
    /// # Errors
    /// [`WriteError`] other than `WouldBlock`.
    pub async fn write_all(&mut self, mut data: &[u8]) -> Result<(), WriteError> {
        while !data.is_empty() {
            let n = self.write(data).await?;
            data = &data[n..];
        }
        Ok(())
    }

    /// Wait until everything written so far has been handed to the runner
    /// for sending (it left the stream's send buffer), or the stream ended.
    ///
    /// # Errors
    /// `SessionClosed` when the session ended with data unsent.
    pub async fn flush(&mut self) -> Result<(), WriteError> {
        let (id, generation) = (self.id, self.generation);
        poll_fn(|cx| {
            self.stack.with(|st| {
                let Some(s) = st.session_of(generation) else {
                    return Poll::Ready(Err(WriteError::SessionClosed));
                };
                match s.stream_info(id) {
                    Some(info) if info.reset.is_some() => Poll::Ready(Ok(())),
                    Some(info) if info.unsent > 0 => {
                        if s.close_reason().is_some() {
                            return Poll::Ready(Err(WriteError::SessionClosed));
                        }
                        st.flush.register(cx.waker());
                        Poll::Pending
                    }
                    _ => Poll::Ready(Ok(())),
                }
            })
        })
        .await
    }

    /// Finish writing (half-close): a FIN follows the data written.
    ///
    /// # Errors
    /// [`StreamError`]: `Reset`, `UnknownStream`, `SessionClosed`.
    pub fn finish(&mut self) -> Result<(), StreamError> {
        self.with(Err(StreamError::SessionClosed), |s| s.finish(self.id))
    }

    /// Reset the stream with `code` (an application code,
    /// [`ErrorCode::application`], or `CANCEL`): both directions end and
    /// buffered data is dropped.
    ///
    /// # Errors
    /// [`StreamError`]: `ReservedCode`, `UnknownStream`, `SessionClosed`.
    pub fn reset(&mut self, code: ErrorCode) -> Result<(), StreamError> {
        self.with(Err(StreamError::SessionClosed), |s| s.reset(self.id, code))
    }
}

impl<const N: usize, const RX: usize, const TX: usize> Drop for Stream<'_, N, RX, TX> {
    fn drop(&mut self) {
        let id = self.id;
        self.stack.with(|st| {
            let Some(s) = st.session_of(self.generation) else {
                return;
            };
            match s.stream_info(id) {
                None => return,
                Some(info) if info.reset.is_some() => {
                    // Learn of the peer's reset, so the slot can go.
                    let _ = s.read(id, &mut []);
                }
                Some(info) if info.finished_locally => st.detach(id),
                Some(_) => {
                    let _ = s.reset(id, ErrorCode::CANCEL);
                }
            }
            st.kick();
        });
    }
}

impl<const N: usize, const RX: usize, const TX: usize> fmt::Debug for Stream<'_, N, RX, TX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stream").field("id", &self.id).field("generation", &self.generation).finish()
    }
}

/// A stream operation's error, as `embedded_io` sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum StreamIoError {
    /// A read failed.
    Read(ReadError),
    /// A write (or flush) failed.
    Write(WriteError),
}

impl fmt::Display for StreamIoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamIoError::Read(e) => fmt::Display::fmt(e, f),
            StreamIoError::Write(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl core::error::Error for StreamIoError {}

impl embedded_io::Error for StreamIoError {
    fn kind(&self) -> embedded_io::ErrorKind {
        use embedded_io::ErrorKind;
        match self {
            StreamIoError::Read(ReadError::Reset(_)) | StreamIoError::Write(WriteError::Reset(_)) => {
                ErrorKind::ConnectionReset
            }
            StreamIoError::Read(ReadError::LocallyReset) | StreamIoError::Write(WriteError::LocallyReset) => {
                ErrorKind::ConnectionAborted
            }
            StreamIoError::Read(ReadError::SessionClosed)
            | StreamIoError::Write(WriteError::SessionClosed) => ErrorKind::NotConnected,
            StreamIoError::Write(WriteError::Finished) => ErrorKind::BrokenPipe,
            _ => ErrorKind::Other,
        }
    }
}

impl<const N: usize, const RX: usize, const TX: usize> embedded_io_async::ErrorType
    for Stream<'_, N, RX, TX>
{
    type Error = StreamIoError;
}

impl<const N: usize, const RX: usize, const TX: usize> embedded_io_async::Read for Stream<'_, N, RX, TX> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, StreamIoError> {
        Stream::read(self, buf).await.map_err(StreamIoError::Read)
    }
}

impl<const N: usize, const RX: usize, const TX: usize> embedded_io_async::Write for Stream<'_, N, RX, TX> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, StreamIoError> {
        Stream::write(self, buf).await.map_err(StreamIoError::Write)
    }

    async fn flush(&mut self) -> Result<(), StreamIoError> {
        Stream::flush(self).await.map_err(StreamIoError::Write)
    }
}
