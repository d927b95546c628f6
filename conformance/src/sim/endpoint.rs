//! One end of the simulation behind a trait object, so the runner is
//! written once for every storage type a seed may choose.

use braid::frame::Settings;
use braid::trace::FrameRecord;
use braid::{
    AcceptError, ArrayStorage, CloseReason, Config, Duration, ErrorCode, Event, GoAwayError, Instant,
    OpenError, PingError, ReadError, Session, SessionState, Stats, Storage, StreamError, StreamId,
    StreamInfo, VecStorage, WriteError,
};

/// Memory a storage holds in stream buffers right now, when it varies
/// (growable storage); fixed storage says `None`.
pub(crate) trait BufferBytes {
    /// Bytes in stream buffers, if the storage grows and shrinks them.
    fn buffer_bytes_now(&self) -> Option<usize>;
}

impl<const N: usize, const RX: usize, const TX: usize> BufferBytes for ArrayStorage<N, RX, TX> {
    fn buffer_bytes_now(&self) -> Option<usize> {
        None
    }
}

impl BufferBytes for VecStorage {
    fn buffer_bytes_now(&self) -> Option<usize> {
        Some(self.buffer_bytes())
    }
}

/// The slice of [`Session`]'s API the simulator drives, object safe.
/// Every method forwards to the session method of the same name.
#[allow(missing_docs)]
pub(crate) trait Endpoint: Send {
    fn state(&self) -> SessionState;
    fn close_reason(&self) -> Option<CloseReason>;
    fn config(&self) -> Config;
    fn local_settings(&self) -> Settings;
    fn peer_settings(&self) -> Option<Settings>;
    fn stats(&self) -> Stats;
    fn stream_info(&self, id: StreamId) -> Option<StreamInfo>;
    fn streams_in_use(&self) -> usize;
    fn send_credit(&self) -> u32;
    fn session_send_window(&self) -> u32;
    fn session_recv_window(&self) -> u32;
    fn idle_timeout(&self) -> Option<Duration>;
    fn remote_debug(&self) -> Vec<u8>;
    fn remote_go_away(&self) -> Option<(StreamId, ErrorCode)>;
    fn transmit_needed(&self) -> usize;
    fn poll_transmit(&mut self, now: Instant, out: &mut [u8]) -> usize;
    fn poll_event(&mut self) -> Option<Event>;
    fn poll_trace(&mut self) -> Option<FrameRecord>;
    fn poll_timeout(&self) -> Option<Instant>;
    fn handle_input(&mut self, now: Instant, input: &[u8]) -> usize;
    fn handle_timeout(&mut self, now: Instant);
    fn handle_eof(&mut self, now: Instant);
    fn open(&mut self) -> Result<StreamId, OpenError>;
    fn open_with(&mut self, metadata: &[u8]) -> Result<StreamId, OpenError>;
    fn incoming(&mut self) -> Option<StreamId>;
    fn metadata(&self, id: StreamId, buf: &mut [u8]) -> Result<Option<usize>, StreamError>;
    fn accept(&mut self) -> Result<StreamId, AcceptError>;
    fn accept_with(&mut self, reply: &[u8]) -> Result<StreamId, AcceptError>;
    fn refuse(&mut self, code: ErrorCode) -> Result<StreamId, AcceptError>;
    fn read(&mut self, id: StreamId, out: &mut [u8]) -> Result<usize, ReadError>;
    fn write(&mut self, id: StreamId, data: &[u8]) -> Result<usize, WriteError>;
    fn finish(&mut self, id: StreamId) -> Result<(), StreamError>;
    fn reset(&mut self, id: StreamId, code: ErrorCode) -> Result<(), StreamError>;
    fn go_away(&mut self, code: ErrorCode, debug: &[u8]) -> Result<(), GoAwayError>;
    fn ping(&mut self) -> Result<(), PingError>;
    fn close(&mut self);
    fn trim_buffers(&mut self);
    fn buffer_bytes(&self) -> Option<usize>;
}

impl<S: Storage + BufferBytes + Send> Endpoint for Session<S> {
    fn state(&self) -> SessionState {
        Session::state(self)
    }
    fn close_reason(&self) -> Option<CloseReason> {
        Session::close_reason(self)
    }
    fn config(&self) -> Config {
        *Session::config(self)
    }
    fn local_settings(&self) -> Settings {
        *Session::local_settings(self)
    }
    fn peer_settings(&self) -> Option<Settings> {
        Session::peer_settings(self).copied()
    }
    fn stats(&self) -> Stats {
        *Session::stats(self)
    }
    fn stream_info(&self, id: StreamId) -> Option<StreamInfo> {
        Session::stream_info(self, id)
    }
    fn streams_in_use(&self) -> usize {
        Session::streams_in_use(self)
    }
    fn send_credit(&self) -> u32 {
        Session::send_credit(self)
    }
    fn session_send_window(&self) -> u32 {
        Session::session_send_window(self)
    }
    fn session_recv_window(&self) -> u32 {
        Session::session_recv_window(self)
    }
    fn idle_timeout(&self) -> Option<Duration> {
        Session::idle_timeout(self)
    }
    fn remote_debug(&self) -> Vec<u8> {
        Session::remote_debug(self).to_vec()
    }
    fn remote_go_away(&self) -> Option<(StreamId, ErrorCode)> {
        Session::remote_go_away(self)
    }
    fn transmit_needed(&self) -> usize {
        Session::transmit_needed(self)
    }
    fn poll_transmit(&mut self, now: Instant, out: &mut [u8]) -> usize {
        Session::poll_transmit(self, now, out)
    }
    fn poll_event(&mut self) -> Option<Event> {
        Session::poll_event(self)
    }
    fn poll_trace(&mut self) -> Option<FrameRecord> {
        Session::poll_trace(self)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Session::poll_timeout(self)
    }
    fn handle_input(&mut self, now: Instant, input: &[u8]) -> usize {
        Session::handle_input(self, now, input)
    }
    fn handle_timeout(&mut self, now: Instant) {
        Session::handle_timeout(self, now);
    }
    fn handle_eof(&mut self, now: Instant) {
        Session::handle_eof(self, now);
    }
    fn open(&mut self) -> Result<StreamId, OpenError> {
        Session::open(self)
    }
    fn open_with(&mut self, metadata: &[u8]) -> Result<StreamId, OpenError> {
        Session::open_with(self, metadata)
    }
    fn incoming(&mut self) -> Option<StreamId> {
        Session::incoming(self)
    }
    fn metadata(&self, id: StreamId, buf: &mut [u8]) -> Result<Option<usize>, StreamError> {
        Session::metadata(self, id, buf)
    }
    fn accept(&mut self) -> Result<StreamId, AcceptError> {
        Session::accept(self)
    }
    fn accept_with(&mut self, reply: &[u8]) -> Result<StreamId, AcceptError> {
        Session::accept_with(self, reply)
    }
    fn refuse(&mut self, code: ErrorCode) -> Result<StreamId, AcceptError> {
        Session::refuse(self, code)
    }
    fn read(&mut self, id: StreamId, out: &mut [u8]) -> Result<usize, ReadError> {
        Session::read(self, id, out)
    }
    fn write(&mut self, id: StreamId, data: &[u8]) -> Result<usize, WriteError> {
        Session::write(self, id, data)
    }
    fn finish(&mut self, id: StreamId) -> Result<(), StreamError> {
        Session::finish(self, id)
    }
    fn reset(&mut self, id: StreamId, code: ErrorCode) -> Result<(), StreamError> {
        Session::reset(self, id, code)
    }
    fn go_away(&mut self, code: ErrorCode, debug: &[u8]) -> Result<(), GoAwayError> {
        Session::go_away(self, code, debug)
    }
    fn ping(&mut self) -> Result<(), PingError> {
        Session::ping(self)
    }
    fn close(&mut self) {
        Session::close(self);
    }
    fn trim_buffers(&mut self) {
        Session::trim_buffers(self);
    }
    fn buffer_bytes(&self) -> Option<usize> {
        self.storage().buffer_bytes_now()
    }
}
