//! Property tests for the serial link layer's framing (feature `link`):
//! COBS + CRC-32C frames round-trip through the one-shot and the streaming
//! decoders whatever their content and chunking; the streaming decoder
//! finds every intact frame again after garbage, truncated frames and
//! damaged frames, never hands out a damaged one, and holds a bounded
//! number of bytes.
#![cfg(feature = "link")]

use braid::link::frame::{self, Header, Kind};
use braid::link::{Decoded, Decoder, FrameError};
use proptest::prelude::*;

const MTU: usize = 300;

fn header() -> impl Strategy<Value = Header> {
    (0u8..16, 0u8..16, 0u8..16, 0u8..16).prop_map(|(k, s, a, f)| Header::new(Kind::from_code(k), s, a, f))
}

/// Bodies up to MTU bytes, often full of zeros and of 0xFF runs (the COBS
/// edge cases: 254-byte runs without a zero, zeros at the ends).
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..=MTU),
        prop::collection::vec(prop_oneof![Just(0u8), Just(0xFFu8), any::<u8>()], 0..=MTU),
        (0..=MTU).prop_map(|n| vec![0xAA; n]),
        (0..=MTU).prop_map(|n| vec![0; n]),
    ]
}

fn encode(h: Header, body: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; frame::max_wire_len(body.len())];
    let n = frame::encode(h, body, &mut out).expect("room");
    out.truncate(n);
    out
}

/// Every outcome of feeding `wire` to `d` in pieces of `chunk` bytes, with
/// the frames' bodies copied out.
fn feed(d: &mut Decoder<MTU>, wire: &[u8], chunk: usize) -> Vec<Result<(Header, Vec<u8>), FrameError>> {
    let mut out = Vec::new();
    for piece in wire.chunks(chunk.max(1)) {
        for &b in piece {
            match d.push(b) {
                Some(Decoded::Frame(h)) => {
                    let (h2, body) = d.frame().expect("readable right after");
                    assert_eq!(h, h2);
                    out.push(Ok((h, body.to_vec())));
                }
                Some(Decoded::Discarded { error, .. }) => out.push(Err(error)),
                None => {}
            }
        }
    }
    out
}

/// One piece of a line's traffic.
#[derive(Clone, Debug)]
enum Piece {
    Frame(Header, Vec<u8>),
    /// Random bytes, then a delimiter.
    Garbage(Vec<u8>),
    /// A frame cut after `cut` bytes, then a delimiter.
    Truncated(Header, Vec<u8>, usize),
    /// A frame with one byte changed (XOR with a non-zero mask).
    Damaged(Header, Vec<u8>, usize, u8),
    /// Extra delimiters.
    Zeros(usize),
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        4 => (header(), body()).prop_map(|(h, b)| Piece::Frame(h, b)),
        1 => prop::collection::vec(any::<u8>(), 1..400).prop_map(Piece::Garbage),
        1 => (header(), body(), any::<usize>()).prop_map(|(h, b, c)| Piece::Truncated(h, b, c)),
        1 => (header(), body(), any::<usize>(), 1u8..=255).prop_map(|(h, b, at, x)| Piece::Damaged(h, b, at, x)),
        1 => (1usize..4).prop_map(Piece::Zeros),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// A frame encodes to COBS (no zero inside), ends with its one delimiter,
    /// fits `max_wire_len`, and decodes back to itself both ways.
    #[test]
    fn frames_round_trip(h in header(), body in body(), chunk in 1usize..64) {
        let wire = encode(h, &body);
        prop_assert!(wire.len() <= frame::max_wire_len(body.len()));
        prop_assert_eq!(wire.last(), Some(&0));
        prop_assert!(!wire[..wire.len() - 1].contains(&0));
        let mut buf = vec![0u8; body.len() + frame::FRAME_OVERHEAD];
        let (h2, b2) = frame::decode(&wire[..wire.len() - 1], &mut buf).unwrap();
        prop_assert_eq!((h2, b2), (h, &body[..]));
        let mut d = Decoder::<MTU>::new();
        prop_assert_eq!(feed(&mut d, &wire, chunk), vec![Ok((h, body.clone()))]);
    }

    /// The streaming decoder, after anything, finds every intact frame at
    /// the next delimiter, in order, whatever the chunking; nothing damaged
    /// or truncated comes out as a frame.
    #[test]
    fn the_decoder_resynchronises(pieces in prop::collection::vec(piece(), 1..12), chunk in 1usize..100) {
        let mut wire = Vec::new();
        let mut want = Vec::new();
        for p in &pieces {
            match p {
                Piece::Frame(h, b) => {
                    wire.extend(encode(*h, b));
                    want.push((*h, b.clone()));
                }
                Piece::Garbage(g) => {
                    wire.extend_from_slice(g);
                    wire.push(0);
                }
                Piece::Truncated(h, b, cut) => {
                    let f = encode(*h, b);
                    wire.extend_from_slice(&f[..cut % (f.len() - 1)]);
                    wire.push(0);
                }
                Piece::Damaged(h, b, at, x) => {
                    let mut f = encode(*h, b);
                    let n = f.len() - 1;
                    f[at % n] ^= x;
                    wire.extend(f);
                }
                Piece::Zeros(n) => wire.extend(std::iter::repeat_n(0, *n)),
            }
        }
        let mut whole = Decoder::<MTU>::new();
        let got = feed(&mut whole, &wire, usize::MAX);
        let frames: Vec<(Header, Vec<u8>)> = got.iter().filter_map(|r| r.clone().ok()).collect();
        // Damage is caught with probability 1 - 2^-32: the run is seeded, so
        // a chance escape would show as a reproducible failure.
        prop_assert_eq!(&frames, &want);
        let mut bytewise = Decoder::<MTU>::new();
        prop_assert_eq!(feed(&mut bytewise, &wire, 1), got.clone());
        let mut chunked = Decoder::<MTU>::new();
        prop_assert_eq!(feed(&mut chunked, &wire, chunk), got);
    }

    /// A frame whose body is longer than the MTU is discarded as oversize,
    /// and the frame after it decodes.
    #[test]
    fn oversize_frames_are_discarded(extra in 1usize..2000, h in header(), next in body()) {
        let long = vec![0x5Au8; MTU + extra];
        let mut wire = encode(h, &long);
        wire.extend(encode(h, &next));
        let mut d = Decoder::<MTU>::new();
        let got = feed(&mut d, &wire, 17);
        prop_assert_eq!(got, vec![Err(FrameError::Oversize), Ok((h, next))]);
    }

    /// Arbitrary bytes never panic the decoder, and never produce a frame
    /// whose body exceeds the MTU.
    #[test]
    fn arbitrary_bytes_are_safe(bytes in prop::collection::vec(any::<u8>(), 0..3000)) {
        let mut d = Decoder::<MTU>::new();
        for (_, body) in feed(&mut d, &bytes, 1).into_iter().flatten() {
            prop_assert!(body.len() <= MTU);
        }
    }
}
