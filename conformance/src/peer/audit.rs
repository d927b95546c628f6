//! A check of everything a session sent against the sender rules of
//! spec.md that can be judged from the output alone.
//!
//! [`audit_output`] walks the bytes a side wrote and reports each break of
//! a rule that needs nothing but those bytes (and, where given, the peer's
//! SETTINGS): the preface and the single SETTINGS first, reserved bits and
//! undefined flags clear, the size table, no zero increment, no reserved
//! code, id parity and order, the SYN first on a stream, nothing after FIN
//! or RST that may not follow it, one RST per stream, no SYN after a
//! GOAWAY, a Last Stream Id that never rises, and nothing after an error
//! GOAWAY. Rules that depend on what the side received (windows, credit,
//! replies) are left to the tests that script that input.
//!
//! A simulator can run it over every side's whole output.

use braid::frame::{
    flags, FrameType, Header, Settings, GOAWAY_DEBUG_MAX, GOAWAY_FIXED_LEN, HEADER_LEN, MIN_FRAME_SIZE,
    PING_LEN, PREFACE, PREFACE_LEN, RST_LEN, SETTINGS_MAX_LEN, SETTING_ENTRY_LEN, WNDINC_LEN,
};
use braid::{ErrorCode, Role, StreamId};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// One break of a sender rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The requirement broken, such as `S-3.1`.
    pub rule: &'static str,
    /// The index of the offending frame (0 is the first frame after the
    /// preface); `usize::MAX` for the preface itself.
    pub frame: usize,
    /// What was wrong.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.frame == usize::MAX {
            write!(f, "[{}] preface: {}", self.rule, self.detail)
        } else {
            write!(f, "[{}] frame {}: {}", self.rule, self.frame, self.detail)
        }
    }
}

/// What the audit tracks per stream.
#[derive(Default)]
struct StreamSeen {
    any: bool,
    fin: bool,
    rst: bool,
    data_frames: u32,
}

/// Check `sent`, everything a side with `role` wrote on the pipe, against
/// the output-only sender rules. `peer` is the peer's SETTINGS if they had
/// arrived before any of this output that depends on them; with `None`
/// every frame is held to the smallest MAX_FRAME_SIZE, 64 ([S-4.13]).
///
/// Returns every violation found, in order; an empty list means none.
#[must_use]
pub fn audit_output(sent: &[u8], role: Role, peer: Option<&Settings>) -> Vec<Violation> {
    let mut v = Vec::new();
    let mut bad =
        |rule: &'static str, frame: usize, detail: String| v.push(Violation { rule, frame, detail });
    if sent.is_empty() {
        return Vec::new();
    }
    if sent.len() < PREFACE_LEN || sent[..PREFACE_LEN] != PREFACE {
        bad(
            "S-2.1",
            usize::MAX,
            format!("the first bytes are not the preface: {:02x?}", &sent[..8.min(sent.len())]),
        );
        return v;
    }
    let max_frame = peer.map_or(MIN_FRAME_SIZE, |s| s.max_frame_size);
    let max_meta = peer.map(|s| s.max_open_metadata);
    let mut at = PREFACE_LEN;
    let mut index = 0;
    let mut settings = 0;
    let mut acks = 0;
    let mut last_syn = 0u32;
    let mut goaway_sent: Option<u32> = None;
    let mut ended_at: Option<usize> = None;
    let mut streams: BTreeMap<u32, StreamSeen> = BTreeMap::new();
    let mut syn_ids = BTreeSet::new();
    while at < sent.len() {
        let Some(head) = sent.get(at..at + HEADER_LEN) else {
            bad("S-4.12", index, "the output ends inside a frame header".into());
            break;
        };
        let raw: [u8; HEADER_LEN] = head.try_into().expect("8 bytes");
        let h = Header::parse(&raw);
        let end = at + HEADER_LEN + h.length as usize;
        let Some(payload) = sent.get(at + HEADER_LEN..end) else {
            bad("S-4.12", index, format!("the output ends inside a frame: {h:?}"));
            break;
        };
        if let Some(e) = ended_at {
            bad("S-9.4", index, format!("{h:?} sent after the error GOAWAY (frame {e})"));
        }
        // [S-2.2]: the first frame is the one SETTINGS without ACK.
        let is_settings = h.kind == FrameType::Settings && !h.has(flags::ACK);
        if index == 0 && !is_settings {
            bad("S-2.2", index, format!("the first frame is {h:?}, not SETTINGS"));
        }
        if is_settings {
            settings += 1;
            if settings > 1 {
                bad("S-2.2", index, "a second SETTINGS without ACK".into());
            }
        }
        if h.kind == FrameType::Settings && h.has(flags::ACK) {
            acks += 1;
            if acks > 1 {
                bad("S-6.6", index, "a second SETTINGS ACK".into());
            }
        }
        // [S-3.1]: reserved bits.
        if raw[4] & 0x80 != 0 {
            bad("S-3.1", index, format!("R set in the header of {h:?}"));
        }
        if matches!(h.kind, FrameType::WndInc | FrameType::GoAway)
            && payload.first().is_some_and(|b| b & 0x80 != 0)
        {
            bad("S-3.1", index, format!("R set in the payload of {h:?}"));
        }
        // [S-4.10]: undefined flags.
        let defined = match h.kind {
            FrameType::Data => flags::FIN | flags::SYN | flags::META,
            FrameType::WndInc if h.stream.0 == 0 => flags::CREDIT,
            FrameType::Settings | FrameType::Ping => flags::ACK,
            _ => 0,
        };
        if h.flags & !defined != 0 {
            bad("S-4.10", index, format!("undefined flags {:#x} on {h:?}", h.flags & !defined));
        }
        // [S-4.13]: the size table, and MAX_FRAME_SIZE.
        size_rules(&h, payload, max_frame, max_meta, index, &mut bad);
        let id = h.stream.0;
        let ours = StreamId(id).opener() == Some(role);
        match h.kind {
            FrameType::Unknown(t) => bad("S-4.10", index, format!("a frame of unknown type {t}")),
            FrameType::WndInc => {
                if payload.len() == WNDINC_LEN {
                    let inc = u32::from_be_bytes(payload.try_into().expect("4 bytes")) & 0x7FFF_FFFF;
                    if inc == 0 {
                        bad("S-4.4", index, format!("WNDINC of 0 on stream {id}"));
                    }
                }
                if id != 0 {
                    let s = streams.entry(id).or_default();
                    if !s.any && ours {
                        bad("S-5.9", index, format!("WNDINC before the SYN of stream {id}"));
                    }
                    if s.rst {
                        bad("S-5.23", index, format!("WNDINC on stream {id} after its RST"));
                    }
                    s.any = true;
                }
            }
            FrameType::Rst | FrameType::GoAway if payload.len() >= 8 || h.kind == FrameType::Rst => {
                let at_code = if h.kind == FrameType::Rst { 0 } else { 4 };
                if let Some(c) = payload.get(at_code..at_code + 4) {
                    let code = ErrorCode(u32::from_be_bytes(c.try_into().expect("4 bytes")));
                    if code.is_reserved() {
                        bad("S-9.1", index, format!("reserved code {code} in {h:?}"));
                    }
                    if h.kind == FrameType::GoAway {
                        let last =
                            u32::from_be_bytes(payload[..4].try_into().expect("4 bytes")) & 0x7FFF_FFFF;
                        if let Some(before) = goaway_sent {
                            if last > before {
                                bad(
                                    "S-8.5",
                                    index,
                                    format!("GOAWAY raises Last Stream Id from {before} to {last}"),
                                );
                            }
                        }
                        goaway_sent = Some(last);
                        if code != ErrorCode::NO_ERROR {
                            ended_at.get_or_insert(index);
                        }
                    }
                }
                if h.kind == FrameType::Rst {
                    let s = streams.entry(id).or_default();
                    if !s.any && ours {
                        bad("S-5.9", index, format!("RST before the SYN of stream {id}"));
                    }
                    if s.rst {
                        bad("S-5.24", index, format!("a second RST on stream {id}"));
                    }
                    s.rst = true;
                    s.any = true;
                }
            }
            FrameType::Data => {
                let syn = h.has(flags::SYN);
                let s = streams.entry(id).or_default();
                if syn {
                    if !ours {
                        bad("S-5.1", index, format!("SYN on stream {id}, not of this side's parity"));
                    }
                    if id <= last_syn {
                        bad("S-5.3", index, format!("SYN on stream {id} after a SYN on {last_syn}"));
                    }
                    if !syn_ids.insert(id) || s.any {
                        bad("S-5.9", index, format!("SYN on stream {id}, which already had frames"));
                    }
                    if goaway_sent.is_some() {
                        bad("S-8.3", index, format!("SYN on stream {id} after a GOAWAY"));
                    }
                    last_syn = last_syn.max(id);
                } else if ours && !s.any {
                    bad("S-5.9", index, format!("DATA before the SYN of stream {id}"));
                }
                if h.has(flags::META) {
                    let first_reply = !ours && s.data_frames == 0;
                    if !syn && !first_reply {
                        bad(
                            "S-5.15",
                            index,
                            format!("META on stream {id}, neither a SYN nor the first reply"),
                        );
                    }
                }
                if s.fin {
                    bad("S-5.21", index, format!("DATA on stream {id} after its FIN"));
                }
                if s.rst {
                    bad("S-5.23", index, format!("DATA on stream {id} after its RST"));
                }
                s.fin |= h.has(flags::FIN);
                s.data_frames += 1;
                s.any = true;
            }
            _ => {}
        }
        at = end;
        index += 1;
    }
    v
}

/// The rules of spec.md §4.8's table for one frame a side sent.
fn size_rules(
    h: &Header,
    payload: &[u8],
    max_frame: u32,
    max_meta: Option<u32>,
    index: usize,
    bad: &mut impl FnMut(&'static str, usize, String),
) {
    let len = payload.len();
    let ok = match h.kind {
        FrameType::Rst => len == RST_LEN,
        FrameType::WndInc => len == WNDINC_LEN,
        FrameType::Ping => len == PING_LEN,
        FrameType::GoAway => (GOAWAY_FIXED_LEN..=GOAWAY_FIXED_LEN + GOAWAY_DEBUG_MAX).contains(&len),
        FrameType::Settings if h.has(flags::ACK) => len == 0,
        FrameType::Settings => len <= SETTINGS_MAX_LEN && len.is_multiple_of(SETTING_ENTRY_LEN),
        FrameType::Data if h.has(flags::META) => {
            len >= 2 && usize::from(u16::from_be_bytes([payload[0], payload[1]])) <= len - 2
        }
        _ => true,
    };
    if !ok {
        bad("S-4.13", index, format!("{h:?} breaks the size table"));
    }
    if h.kind != FrameType::Settings && h.length > max_frame {
        bad("S-4.13", index, format!("{h:?} is longer than the peer's MAX_FRAME_SIZE {max_frame}"));
    }
    if h.kind == FrameType::Data && h.has(flags::META) && len >= 2 {
        let meta = u32::from(u16::from_be_bytes([payload[0], payload[1]]));
        if let Some(limit) = max_meta {
            if meta > limit {
                bad("S-5.13", index, format!("a metadata block of {meta} bytes; the peer accepts {limit}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peer::frames::{data, goaway, ping, raw, rst, settings, settings_ack, ty, wndinc};
    use braid::frame::flags;

    /// The rules broken by a client's output: the preface, the client's
    /// SETTINGS, then `frames`.
    fn rules(frames: &[Vec<u8>]) -> Vec<&'static str> {
        let mut out = PREFACE.to_vec();
        out.extend(settings(Settings::DEFAULT));
        for f in frames {
            out.extend_from_slice(f);
        }
        audit_output(&out, Role::Client, Some(&Settings::DEFAULT)).into_iter().map(|v| v.rule).collect()
    }

    #[test]
    fn a_clean_output_passes() {
        let ok = [
            settings_ack(),
            ping(1),
            data(1, flags::SYN | flags::META, &crate::peer::meta_payload(&crate::peer::meta_block(), b"x")),
            wndinc(1, 5),
            data(1, flags::FIN, b"y"),
            data(2, flags::META, &crate::peer::meta_payload(&crate::peer::meta_block(), b"")),
            rst(2, ErrorCode::CANCEL),
            data(3, flags::SYN, b""),
            goaway(2, ErrorCode::NO_ERROR, b""),
            goaway(2, ErrorCode::PROTOCOL_ERROR, b"bad"),
        ];
        assert_eq!(rules(&ok), Vec::<&str>::new());
    }

    #[test]
    fn each_rule_is_caught() {
        let syn1 = data(1, flags::SYN, b"");
        let cases: Vec<(&str, Vec<Vec<u8>>)> = vec![
            ("S-2.2", vec![settings(Settings::DEFAULT)]),
            ("S-6.6", vec![settings_ack(), settings_ack()]),
            ("S-3.1", vec![raw(ty::PING, 0, 0x8000_0000, &[0; 8])]),
            ("S-3.1", vec![syn1.clone(), raw(ty::WNDINC, 0, 1, &0x8000_0001u32.to_be_bytes())]),
            ("S-4.10", vec![raw(ty::RST, 0x2, 2, &[0, 0, 0, 6])]),
            ("S-4.10", vec![syn1.clone(), raw(ty::WNDINC, flags::CREDIT, 1, &[0, 0, 0, 1])]),
            ("S-4.10", vec![raw(9, 0, 0, b"")]),
            ("S-4.4", vec![raw(ty::WNDINC, 0, 0, &[0; 4])]),
            ("S-4.13", vec![raw(ty::PING, 0, 0, &[0; 7])]),
            ("S-4.13", vec![syn1.clone(), data(1, 0, &[0; 16_385])]),
            ("S-9.1", vec![rst(2, ErrorCode(12))]),
            ("S-5.1", vec![data(2, flags::SYN, b"")]),
            ("S-5.3", vec![data(3, flags::SYN, b""), syn1.clone()]),
            ("S-5.9", vec![data(1, 0, b"before the SYN")]),
            ("S-5.9", vec![rst(1, ErrorCode::CANCEL)]),
            ("S-5.21", vec![data(1, flags::SYN | flags::FIN, b""), data(1, 0, b"x")]),
            ("S-5.23", vec![syn1.clone(), rst(1, ErrorCode::CANCEL), wndinc(1, 4)]),
            ("S-5.24", vec![syn1.clone(), rst(1, ErrorCode::CANCEL), rst(1, ErrorCode::CANCEL)]),
            ("S-5.15", vec![syn1.clone(), data(1, flags::META, &[0, 4, 0, 0, 0, 1])]),
            ("S-8.3", vec![goaway(0, ErrorCode::NO_ERROR, b""), syn1.clone()]),
            ("S-8.5", vec![goaway(0, ErrorCode::NO_ERROR, b""), goaway(2, ErrorCode::NO_ERROR, b"")]),
            ("S-9.4", vec![goaway(0, ErrorCode::INTERNAL_ERROR, b""), ping(1)]),
        ];
        for (rule, frames) in cases {
            let found = rules(&frames);
            assert_eq!(found, vec![rule], "frames {frames:02x?}");
        }
        let mut long_meta = Settings::DEFAULT;
        long_meta.max_open_metadata = 3;
        let mut out = PREFACE.to_vec();
        out.extend(settings(Settings::DEFAULT));
        out.extend(data(
            1,
            flags::SYN | flags::META,
            &crate::peer::meta_payload(&crate::peer::meta_block(), b""),
        ));
        let v = audit_output(&out, Role::Client, Some(&long_meta));
        assert_eq!(v.iter().map(|v| v.rule).collect::<Vec<_>>(), ["S-5.13"]);
    }

    #[test]
    fn the_preface_and_first_frame_are_checked() {
        let v = audit_output(b"BRAID\r\n\x02", Role::Server, None);
        assert_eq!(v[0].rule, "S-2.1");
        let mut out = PREFACE.to_vec();
        out.extend(ping(1));
        let v = audit_output(&out, Role::Server, None);
        assert_eq!(v.iter().map(|v| v.rule).collect::<Vec<_>>(), ["S-2.2"]);
        // Without the peer's SETTINGS every frame must fit 64 bytes.
        let mut out = PREFACE.to_vec();
        out.extend(settings(Settings::DEFAULT));
        out.extend(goaway(0, ErrorCode::NO_ERROR, &[b'x'; 57]));
        let v = audit_output(&out, Role::Server, None);
        assert_eq!(v.iter().map(|v| v.rule).collect::<Vec<_>>(), ["S-4.13"]);
        assert!(v[0].to_string().starts_with("[S-4.13] frame 1: "), "{}", v[0]);
    }
}
