//! The frame trace: an opt-in record of every frame sent and received,
//! without I/O (muxado's debug framer, done sans-io).
//!
//! With [`Config::trace`](crate::Config::trace) set, the session records one
//! [`FrameRecord`] per frame into a small fixed queue that the caller drains
//! with [`Session::poll_trace`](crate::Session::poll_trace). When the queue is
//! full the session stops consuming input and producing output until it is
//! drained, so no record is ever lost and memory stays fixed.

use crate::frame::{flags, FrameType, Header, Settings};
use crate::{ErrorCode, StreamId};
use core::fmt;

/// Records held before the session waits for the caller to drain them.
pub const TRACE_CAPACITY: usize = 8;

/// Which way a frame went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Direction {
    /// Written by this side.
    Sent,
    /// Read from the peer.
    Received,
}

/// The fields of a frame beyond its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FrameDetail {
    /// DATA: metadata and data bytes (the header has the flags).
    Data {
        /// Metadata block length (0 without META).
        meta_len: u16,
        /// Data bytes after the metadata.
        data_len: u32,
    },
    /// RST code.
    Rst(ErrorCode),
    /// WNDINC increment (credit when the CREDIT flag is on stream 0).
    WndInc(u32),
    /// GOAWAY fields (debug bytes are not kept in the trace).
    GoAway {
        /// Last stream id.
        last_stream: StreamId,
        /// Code.
        code: ErrorCode,
        /// Debug bytes length.
        debug_len: u8,
    },
    /// SETTINGS values.
    Settings(Settings),
    /// SETTINGS ACK.
    SettingsAck,
    /// PING opaque bytes.
    Ping(u64),
    /// The preface (a pseudo-frame: the header fields are zero).
    Preface,
    /// A frame of unknown type, skipped.
    Unknown,
}

/// One traced frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FrameRecord {
    /// Sent or received.
    pub direction: Direction,
    /// The header as on the wire.
    pub header: Header,
    /// The decoded fields.
    pub detail: FrameDetail,
}

impl fmt::Display for FrameRecord {
    /// One table row: `-> DATA      #3    SYN|FIN  len 12   meta 4 data 6`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let arrow = match self.direction {
            Direction::Sent => "->",
            Direction::Received => "<-",
        };
        if let FrameDetail::Preface = self.detail {
            return write!(f, "{arrow} PREFACE   BRAID v1");
        }
        let h = &self.header;
        write!(f, "{arrow} {:<9} {:<6} ", h.kind.name(), h.stream)?;
        let mut fl = FlagNames::default();
        match h.kind {
            FrameType::Data => {
                fl.add(h.has(flags::SYN), "SYN");
                fl.add(h.has(flags::META), "META");
                fl.add(h.has(flags::FIN), "FIN");
            }
            FrameType::Settings | FrameType::Ping => fl.add(h.has(flags::ACK), "ACK"),
            FrameType::WndInc => fl.add(h.stream.0 == 0 && h.has(flags::CREDIT), "CREDIT"),
            _ => {}
        }
        write!(f, "{:<13} len {:<6}", fl.as_str(), h.length)?;
        match self.detail {
            FrameDetail::Data { meta_len, data_len } if meta_len > 0 => {
                write!(f, "meta {meta_len} data {data_len}")
            }
            FrameDetail::Data { .. } | FrameDetail::SettingsAck | FrameDetail::Preface => Ok(()),
            FrameDetail::Rst(code) => write!(f, "code {code}"),
            FrameDetail::WndInc(n) => write!(f, "+{n}"),
            FrameDetail::GoAway { last_stream, code, debug_len } => {
                write!(f, "last {last_stream} code {code} debug {debug_len}B")
            }
            FrameDetail::Settings(s) => write!(
                f,
                "window {} frame {} credit {} session {} meta {} idle {}ms",
                s.initial_stream_window,
                s.max_frame_size,
                s.stream_credit,
                s.session_window,
                s.max_open_metadata,
                s.idle_timeout_ms
            ),
            FrameDetail::Ping(v) => write!(f, "opaque {v:#018x}"),
            FrameDetail::Unknown => write!(f, "type {} skipped", h.kind.nibble()),
        }
    }
}

#[derive(Default)]
struct FlagNames {
    buf: [u8; 16],
    len: usize,
}

impl FlagNames {
    fn add(&mut self, on: bool, name: &str) {
        if !on {
            return;
        }
        let sep = usize::from(self.len > 0);
        if self.len + sep + name.len() > self.buf.len() {
            return;
        }
        if sep == 1 {
            self.buf[self.len] = b'|';
        }
        self.buf[self.len + sep..self.len + sep + name.len()].copy_from_slice(name.as_bytes());
        self.len += sep + name.len();
    }

    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

/// Fixed queue of records awaiting the caller.
#[derive(Debug)]
pub(crate) struct TraceQueue {
    records: [Option<FrameRecord>; TRACE_CAPACITY],
    head: u8,
    len: u8,
    pub(crate) enabled: bool,
}

impl TraceQueue {
    pub(crate) const fn new(enabled: bool) -> Self {
        TraceQueue { records: [None; TRACE_CAPACITY], head: 0, len: 0, enabled }
    }

    /// Whether recording one more frame would need a drain first.
    pub(crate) const fn is_full(&self) -> bool {
        self.enabled && self.len as usize == TRACE_CAPACITY
    }

    /// Records that can still be pushed (unbounded when tracing is off).
    pub(crate) const fn free(&self) -> usize {
        if self.enabled {
            TRACE_CAPACITY - self.len as usize
        } else {
            usize::MAX
        }
    }

    pub(crate) fn push(&mut self, direction: Direction, header: Header, detail: FrameDetail) {
        if !self.enabled || self.is_full() {
            return;
        }
        let i = (self.head as usize + self.len as usize) % TRACE_CAPACITY;
        self.records[i] = Some(FrameRecord { direction, header, detail });
        self.len += 1;
    }

    pub(crate) fn pop(&mut self) -> Option<FrameRecord> {
        if self.len == 0 {
            return None;
        }
        let r = self.records[self.head as usize].take();
        self.head = ((self.head as usize + 1) % TRACE_CAPACITY) as u8;
        self.len -= 1;
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::string::ToString;

    #[test]
    fn rows_read_well() {
        let h = Header::new(FrameType::Data, flags::SYN | flags::FIN | flags::META, StreamId(3), 12);
        let r = FrameRecord {
            direction: Direction::Sent,
            header: h,
            detail: FrameDetail::Data { meta_len: 4, data_len: 6 },
        };
        let s = r.to_string();
        assert!(s.starts_with("-> DATA      3      SYN|META|FIN"), "{s}");
        assert!(s.ends_with("meta 4 data 6"), "{s}");
    }

    #[test]
    fn queue_is_bounded_and_ordered() {
        let mut q = TraceQueue::new(true);
        let h = Header::new(FrameType::Ping, 0, StreamId(0), 8);
        for i in 0..TRACE_CAPACITY as u64 {
            assert!(!q.is_full());
            q.push(Direction::Received, h, FrameDetail::Ping(i));
        }
        assert!(q.is_full());
        assert_eq!(q.pop().map(|r| r.detail), Some(FrameDetail::Ping(0)));
        assert!(!q.is_full());
    }
}
