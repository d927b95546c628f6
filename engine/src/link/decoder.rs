//! The streaming frame decoder: bytes in, checked frames out, with
//! resynchronisation at the next delimiter after anything that is not a
//! valid frame (spec.md [S-14.3], [S-14.4]).
//!
//! Memory is fixed: the header, `MTU` body bytes and the 4 CRC bytes. A
//! frame that would decode to more is dropped from the moment it passes the
//! bound, and the bytes up to the next `0x00` are skipped without being
//! stored.

use super::frame::{self, FrameError, Header, CRC_LEN, HEADER_LEN};

/// What [`Decoder::push`] found at a delimiter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Decoded {
    /// A frame passed every check; read it with [`Decoder::frame`] before
    /// the next push.
    Frame(Header),
    /// Bytes were discarded: `bytes` wire bytes, the delimiter included.
    Discarded {
        /// Why.
        error: FrameError,
        /// The wire bytes dropped, the delimiter that ended them included.
        bytes: usize,
    },
}

/// A streaming link-frame decoder for bodies of up to `MTU` bytes.
///
/// Feed it every received byte with [`push`](Self::push); any chunking
/// gives the same frames. It never holds more than `MTU + 6` decoded
/// bytes, whatever the input.
#[derive(Debug)]
pub struct Decoder<const MTU: usize> {
    cobs: cobs::DecoderState,
    head: [u8; HEADER_LEN],
    /// Decoded bytes after the header: the body, then the CRC. The last
    /// `CRC_LEN` of them may spill into `tail`.
    body: [u8; MTU],
    tail: [u8; CRC_LEN],
    /// Decoded bytes so far (header included).
    len: usize,
    /// Wire bytes of the current frame so far.
    wire: usize,
    /// Set when the frame went wrong before its delimiter: the rest is
    /// skipped.
    failed: Option<FrameError>,
    /// The body length of the last frame that passed, while it is readable.
    ready: Option<usize>,
}

impl<const MTU: usize> Decoder<MTU> {
    /// An empty decoder, waiting for the first byte of a frame.
    #[must_use]
    pub const fn new() -> Self {
        Decoder {
            cobs: cobs::DecoderState::Idle,
            head: [0; HEADER_LEN],
            body: [0; MTU],
            tail: [0; CRC_LEN],
            len: 0,
            wire: 0,
            failed: None,
            ready: None,
        }
    }

    /// Feed one wire byte. Returns what a delimiter (`0x00`) ended: a
    /// frame, or discarded bytes; `None` otherwise (a delimiter with
    /// nothing before it is an empty frame and is ignored).
    #[must_use = "a completed frame must be read before the next push"]
    pub fn push(&mut self, byte: u8) -> Option<Decoded> {
        self.ready = None;
        self.wire += 1;
        if byte == 0 {
            return self.end();
        }
        if self.failed.is_some() {
            return None;
        }
        match self.cobs.feed(byte) {
            Ok(cobs::DecodeResult::DataContinue(b)) => self.store(b),
            Ok(_) => {}
            Err(_) => self.fail(FrameError::Cobs),
        }
        None
    }

    /// The frame the last [`push`](Self::push) returned as
    /// [`Decoded::Frame`]: its header and body. `None` after any other
    /// outcome, or once another byte was pushed.
    #[must_use]
    pub fn frame(&self) -> Option<(Header, &[u8])> {
        let n = self.ready?;
        Some((Header::parse(self.head), &self.body[..n]))
    }

    /// Whether bytes of an unfinished frame are held (or being skipped).
    #[must_use]
    pub fn in_frame(&self) -> bool {
        self.wire > 0
    }

    fn store(&mut self, b: u8) {
        let at = self.len;
        if at < HEADER_LEN {
            self.head[at] = b;
        } else if at - HEADER_LEN < MTU {
            self.body[at - HEADER_LEN] = b;
        } else if let Some(slot) = self.tail.get_mut(at - HEADER_LEN - MTU) {
            *slot = b;
        } else {
            return self.fail(FrameError::Oversize);
        }
        self.len += 1;
    }

    fn fail(&mut self, error: FrameError) {
        self.failed = Some(error);
        self.cobs = cobs::DecoderState::Idle;
    }

    /// The delimiter: check what came before it and start over.
    fn end(&mut self) -> Option<Decoded> {
        let wire = core::mem::replace(&mut self.wire, 0);
        let len = core::mem::replace(&mut self.len, 0);
        let failed = self.failed.take();
        let cobs = core::mem::replace(&mut self.cobs, cobs::DecoderState::Idle);
        if wire == 1 {
            return None; // an empty frame: a delimiter after a delimiter
        }
        let discard = |error| Some(Decoded::Discarded { error, bytes: wire });
        if let Some(error) = failed {
            return discard(error);
        }
        // Let the COBS state machine judge the delimiter: it completes the
        // frame only if the last code byte ended exactly here.
        let mut cobs = cobs;
        match cobs.feed(0) {
            Ok(cobs::DecodeResult::DataComplete) => {}
            _ => return discard(FrameError::Cobs),
        }
        if len < frame::MIN_FRAME_LEN {
            return discard(FrameError::Short);
        }
        let body_len = len - HEADER_LEN - CRC_LEN;
        let mut crc = [0u8; CRC_LEN];
        for (i, c) in crc.iter_mut().enumerate() {
            let at = body_len + i;
            *c = if at < MTU { self.body[at] } else { self.tail[at - MTU] };
        }
        if frame::crc(&self.head, &self.body[..body_len]) != u32::from_be_bytes(crc) {
            return discard(FrameError::Crc);
        }
        self.ready = Some(body_len);
        Some(Decoded::Frame(Header::parse(self.head)))
    }
}

impl<const MTU: usize> Default for Decoder<MTU> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::link::frame::{encode, Kind};
    use std::vec::Vec;

    fn wire(seq: u8, body: &[u8]) -> ([u8; 300], usize) {
        let mut out = [0u8; 300];
        let n = encode(Header::new(Kind::Data, seq, 0, 0), body, &mut out).unwrap();
        (out, n)
    }

    /// Feed `bytes`; collect (frames as (seq, body), discards).
    fn feed<const MTU: usize>(d: &mut Decoder<MTU>, bytes: &[u8]) -> (usize, usize) {
        let (mut frames, mut discards) = (0, 0);
        for &b in bytes {
            match d.push(b) {
                Some(Decoded::Frame(_)) => {
                    assert!(d.frame().is_some());
                    frames += 1;
                }
                Some(Decoded::Discarded { .. }) => discards += 1,
                None => {}
            }
        }
        (frames, discards)
    }

    #[test]
    fn decodes_frames_back_to_back() {
        let mut d = Decoder::<128>::new();
        let (a, n) = wire(1, b"abc");
        let mut got = None;
        for &b in &a[..n] {
            if let Some(Decoded::Frame(h)) = d.push(b) {
                got = Some((h.seq, d.frame().unwrap().1.to_vec()));
            }
        }
        assert_eq!(got, Some((1, b"abc".to_vec())));
        assert!(d.frame().is_some(), "readable until the next push");
        assert_eq!(d.push(0), None, "an empty frame");
        assert!(d.frame().is_none());
    }

    #[test]
    fn empty_frames_are_ignored() {
        let mut d = Decoder::<128>::new();
        assert_eq!(feed(&mut d, &[0, 0, 0]), (0, 0));
    }

    #[test]
    fn garbage_is_discarded_and_the_next_frame_decodes() {
        let mut d = Decoder::<128>::new();
        let (a, n) = wire(2, b"payload");
        let mut input = b"\x05garbage".to_vec();
        input.push(0);
        input.extend_from_slice(&a[..n]);
        assert_eq!(feed(&mut d, &input), (1, 1));
    }

    #[test]
    fn oversize_frames_are_discarded_with_bounded_memory() {
        let mut d = Decoder::<80>::new();
        let (a, n) = wire(0, &[7u8; 81]);
        let mut input = a[..n].to_vec();
        let (b, m) = wire(1, &[7u8; 80]);
        input.extend_from_slice(&b[..m]);
        let mut outcomes = Vec::new();
        for &x in &input {
            if let Some(o) = d.push(x) {
                outcomes.push(o);
            }
        }
        assert_eq!(outcomes.len(), 2);
        assert_eq!(outcomes[0], Decoded::Discarded { error: FrameError::Oversize, bytes: n });
        assert!(matches!(outcomes[1], Decoded::Frame(_)));
        // The whole state: the buffers and a few words, whatever the input.
        assert!(core::mem::size_of::<Decoder<80>>() <= 80 + 6 + 64);
    }

    #[test]
    fn truncated_frames_are_discarded() {
        let mut d = Decoder::<128>::new();
        let (a, n) = wire(3, b"0123456789");
        for cut in 1..n - 1 {
            let mut input = a[..cut].to_vec();
            input.push(0);
            assert_eq!(feed(&mut d, &input), (0, 1), "cut at {cut}");
        }
    }
}
