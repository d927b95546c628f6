//! Session configuration: what this side announces and how it behaves.

use crate::{Duration, Role};

/// How a [`Session`](crate::Session) behaves and what it announces.
///
/// The announced values are clamped to what the storage can hold when the
/// session is created, so SETTINGS never promise memory that is not there
/// (spec.md [S-6.4], [S-7.6], [S-7.7]). Start from [`Config::client`] or [`Config::server`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    /// Which side this is: decides the parity of the ids it opens.
    pub role: Role,
    /// Initial receive window per stream, in bytes (clamped to the storage).
    pub stream_window: u32,
    /// Ceiling for automatic stream window growth, in bytes; equal to
    /// `stream_window` (or less) turns growth off (clamped to the storage).
    pub stream_window_max: u32,
    /// Session receive window, in bytes.
    pub session_window: u32,
    /// Ceiling for automatic session window growth, in bytes.
    pub session_window_max: u32,
    /// Largest frame payload this side accepts (64..=2^24-1).
    pub max_frame_size: u32,
    /// Streams the peer may have open at once: the stream credit announced.
    /// The engine keeps that many slots free for the peer, and local opens
    /// use the rest. `None` gives the peer half the storage's slots (rounded
    /// up); any value is clamped to the storage's capacity.
    pub max_inbound_streams: Option<u32>,
    /// Largest metadata block this side accepts on an open or reply.
    pub max_open_metadata: u16,
    /// Close the session when nothing arrives for this long, and send
    /// keepalive PINGs at half of it; `None` disables both.
    pub idle_timeout: Option<Duration>,
    /// How long the peer has to send its SETTINGS.
    pub handshake_timeout: Duration,
    /// Unproductive frames (PING, empty DATA, unknown types, rapid resets,
    /// frames for forgotten streams) allowed in a burst.
    pub flood_burst: u32,
    /// Unproductive frames allowed per second once the burst is spent.
    pub flood_rate: u32,
    /// Record every frame sent and received for [`Session::poll_trace`](crate::Session::poll_trace).
    pub trace: bool,
}

impl Config {
    /// Defaults for the opening (client) side.
    #[must_use]
    pub const fn client() -> Self {
        Self::new(Role::Client)
    }

    /// Defaults for the accepting (server) side.
    #[must_use]
    pub const fn server() -> Self {
        Self::new(Role::Server)
    }

    /// Defaults for `role`: 256 KiB stream windows growing to 16 MiB, a
    /// 1 MiB session window growing to 64 MiB, 16 KiB frames, half the
    /// storage's streams for the peer, 1 KiB metadata, no idle timeout, a 10 s handshake limit and
    /// a flood budget of 1000 frames plus 1000 per second. Storage clamps
    /// all of these.
    #[must_use]
    pub const fn new(role: Role) -> Self {
        Config {
            role,
            stream_window: 256 * 1024,
            stream_window_max: 16 * 1024 * 1024,
            session_window: 1024 * 1024,
            session_window_max: 64 * 1024 * 1024,
            max_frame_size: 16 * 1024,
            max_inbound_streams: None,
            max_open_metadata: 1024,
            idle_timeout: None,
            handshake_timeout: Duration::from_secs(10),
            flood_burst: 1000,
            flood_rate: 1000,
            trace: false,
        }
    }

    /// The same configuration with frame tracing on or off.
    #[must_use]
    pub const fn with_trace(mut self, on: bool) -> Self {
        self.trace = on;
        self
    }

    /// The same configuration with an idle timeout (and keepalive at half).
    #[must_use]
    pub const fn with_idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }
}
