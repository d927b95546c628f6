//! Session configuration: the engine's [`braid::Config`] plus what the
//! adapter adds (storage limits, transport buffers, buffer trimming, the
//! frame trace).

use braid::trace::FrameRecord;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A frame-trace callback: the session label and one record per frame.
pub type TraceCallback = Arc<dyn Fn(&str, &FrameRecord) + Send + Sync>;

/// Where traced frames go (see [`Config::trace`]).
#[derive(Clone, Default)]
pub enum Trace {
    /// No trace (the default).
    #[default]
    Off,
    /// Each frame printed to stderr as one table row, after the session label.
    Stderr,
    /// Each frame handed to a callback. It runs while the session is locked:
    /// keep it short.
    Callback(TraceCallback),
}

impl fmt::Debug for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Trace::Off => "Off",
            Trace::Stderr => "Stderr",
            Trace::Callback(_) => "Callback(..)",
        })
    }
}

/// How a session behaves: [`braid::Config`] (what is announced to the peer,
/// windows, timeouts) and the adapter's own options.
///
/// Start from [`Config::default`] and chain the setters:
///
/// ```
/// use std::time::Duration;
/// let config = braid_async::Config::default()
///     .max_streams(10_000)
///     .idle_timeout(Some(Duration::from_secs(30)))
///     .trace_from_env();
/// # let _ = config;
/// ```
///
/// The role (client or server) is chosen when the session is created, so
/// one `Config` serves both ends.
#[derive(Clone, Debug)]
pub struct Config {
    engine: braid::Config,
    max_streams: usize,
    send_buffer: usize,
    read_buffer: usize,
    write_buffer: usize,
    trim_interval: Duration,
    close_timeout: Duration,
    trace: Trace,
    label: Option<String>,
}

/// The smallest transport write buffer: an opening frame with the largest
/// metadata block (64 KiB) must fit in it whole.
const MIN_WRITE_BUFFER: usize = 80 * 1024;
/// The smallest transport read buffer.
const MIN_READ_BUFFER: usize = 4 * 1024;

impl Default for Config {
    /// Tuned for hosts: 256 KiB stream windows growing to 8 MiB, a 1 MiB
    /// session window growing to 64 MiB, 64 KiB frames, up to 4096 streams,
    /// 256 KiB of send buffer per stream, a 64 KiB transport read buffer and
    /// two 256 KiB write buffers, no idle
    /// timeout, empty buffers given back a second after activity, five
    /// seconds to write the last frames once the session is over, no trace.
    /// Stream buffers grow only as data needs them.
    fn default() -> Self {
        let mut engine = braid::Config::client();
        engine.stream_window = 256 * 1024;
        engine.stream_window_max = 8 * 1024 * 1024;
        engine.max_frame_size = 64 * 1024;
        Config {
            engine,
            max_streams: 4096,
            send_buffer: 256 * 1024,
            // Larger reads only push the working set out of the CPU cache:
            // the transport is drained in turns anyway.
            read_buffer: 64 * 1024,
            write_buffer: 256 * 1024,
            trim_interval: Duration::from_secs(1),
            close_timeout: Duration::from_secs(5),
            trace: Trace::Off,
            label: None,
        }
    }
}

impl Config {
    /// The defaults (see [`Config::default`]).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The engine configuration (its `role` is replaced when a session is
    /// created).
    #[must_use]
    pub fn engine(&self) -> &braid::Config {
        &self.engine
    }

    /// The engine configuration, to change what no setter covers (flood
    /// budget, handshake timeout, metadata limit, …).
    pub fn engine_mut(&mut self) -> &mut braid::Config {
        &mut self.engine
    }

    /// Replace the engine configuration (its `role` is replaced when a
    /// session is created).
    #[must_use]
    pub fn with_engine(mut self, engine: braid::Config) -> Self {
        self.engine = engine;
        self
    }

    /// Most streams alive at once on this side (both directions together);
    /// by default half of them are kept for the peer. Streams cost only
    /// their state (64 bytes) until they carry data.
    #[must_use]
    pub fn max_streams(mut self, n: usize) -> Self {
        self.max_streams = n.max(1);
        self
    }

    /// How many streams the peer may have open at once (the stream credit
    /// announced); `None` gives it half of [`max_streams`](Self::max_streams).
    #[must_use]
    pub fn max_inbound_streams(mut self, n: Option<u32>) -> Self {
        self.engine.max_inbound_streams = n;
        self
    }

    /// Initial receive window per stream, in bytes.
    #[must_use]
    pub fn stream_window(mut self, bytes: u32) -> Self {
        self.engine.stream_window = bytes;
        self
    }

    /// Ceiling of the automatic stream window growth, in bytes. It also sets
    /// each stream's receive buffer limit (buffers grow only as data needs).
    #[must_use]
    pub fn stream_window_max(mut self, bytes: u32) -> Self {
        self.engine.stream_window_max = bytes;
        self
    }

    /// Initial session receive window (shared by all streams) and its
    /// growth ceiling, in bytes.
    #[must_use]
    pub fn session_window(mut self, initial: u32, max: u32) -> Self {
        self.engine.session_window = initial;
        self.engine.session_window_max = max;
        self
    }

    /// Bytes a stream may hold written and not yet sent: past this a write
    /// waits for the peer's window.
    #[must_use]
    pub fn send_buffer(mut self, bytes: usize) -> Self {
        self.send_buffer = bytes.max(1);
        self
    }

    /// End the session when nothing arrives for this long, and send keepalive
    /// PINGs after half of it; `None` (the default) disables both.
    #[must_use]
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.engine.idle_timeout = timeout.map(braid::Duration::from);
        self
    }

    /// Size of the buffer the transport is read into (at least 4 KiB).
    #[must_use]
    pub fn read_buffer(mut self, bytes: usize) -> Self {
        self.read_buffer = bytes.max(MIN_READ_BUFFER);
        self
    }

    /// Size of each of the two buffers frames are gathered in before they
    /// are written to the transport (at least 80 KiB).
    #[must_use]
    pub fn write_buffer(mut self, bytes: usize) -> Self {
        self.write_buffer = bytes.max(MIN_WRITE_BUFFER);
        self
    }

    /// How long after activity empty stream buffers are given back
    /// ([`braid::Session::trim_buffers`]); one second by default.
    #[must_use]
    pub fn trim_interval(mut self, interval: Duration) -> Self {
        self.trim_interval = interval;
        self
    }

    /// How long the driver keeps writing the session's last frames (its
    /// final GOAWAY, data the peer was owed) once the session is over; five
    /// seconds by default. A peer that stopped reading cannot hold the
    /// driver, and [`Session::closed`](crate::Session::closed), any longer:
    /// past this the transport is dropped and the end carries a
    /// [`TimedOut`](std::io::ErrorKind::TimedOut) transport error.
    #[must_use]
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// Largest frame payload this side accepts, in bytes (the peer's frames
    /// to us are cut to it).
    #[must_use]
    pub fn max_frame_size(mut self, bytes: u32) -> Self {
        self.engine.max_frame_size = bytes;
        self
    }

    /// Print every frame sent and received to stderr (`true`) or not.
    #[must_use]
    pub fn trace(mut self, on: bool) -> Self {
        self.trace = if on { Trace::Stderr } else { Trace::Off };
        self
    }

    /// Print every frame to stderr when the environment variable
    /// `BRAID_TRACE` is `1`.
    #[must_use]
    pub fn trace_from_env(self) -> Self {
        if std::env::var("BRAID_TRACE").is_ok_and(|v| v == "1") {
            self.trace(true)
        } else {
            self
        }
    }

    /// Hand every frame to `callback` (with the session label) instead of
    /// printing it.
    #[must_use]
    pub fn trace_with(mut self, callback: impl Fn(&str, &FrameRecord) + Send + Sync + 'static) -> Self {
        self.trace = Trace::Callback(Arc::new(callback));
        self
    }

    /// The label that prefixes trace rows; "client" or "server" by default.
    #[must_use]
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Where traced frames go.
    #[must_use]
    pub fn trace_mode(&self) -> &Trace {
        &self.trace
    }

    pub(crate) fn engine_for(&self, role: braid::Role) -> braid::Config {
        let mut c = self.engine;
        c.role = role;
        c.trace = !matches!(self.trace, Trace::Off);
        c
    }

    /// Receive buffer limit per stream: the largest window plus the
    /// metadata allowance, so the engine can announce every window asked for.
    pub(crate) fn recv_buffer(&self) -> usize {
        let window = self.engine.stream_window.max(self.engine.stream_window_max) as usize;
        window + usize::from(self.engine.max_open_metadata)
    }

    pub(crate) fn storage_limits(&self) -> (usize, usize, usize) {
        (self.max_streams, self.recv_buffer(), self.send_buffer)
    }

    pub(crate) fn buffers(&self) -> (usize, usize) {
        (self.read_buffer, self.write_buffer)
    }

    pub(crate) fn trim_every(&self) -> Duration {
        self.trim_interval
    }

    pub(crate) fn close_within(&self) -> Duration {
        self.close_timeout
    }

    pub(crate) fn label_for(&self, role: braid::Role) -> String {
        self.label.clone().unwrap_or_else(|| match role {
            braid::Role::Client => "client".into(),
            braid::Role::Server => "server".into(),
        })
    }
}
