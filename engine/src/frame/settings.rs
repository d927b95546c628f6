//! The SETTINGS table (spec.md §4.5 and §6): ids, defaults, ranges, encoding.

use super::{MAX_PAYLOAD, MAX_WINDOW, MIN_FRAME_SIZE, SETTING_ENTRY_LEN};
use crate::ProtocolError;

/// One setting's identifier on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u16)]
pub enum Setting {
    /// Receive window granted for every new stream, in bytes.
    InitialStreamWindow = 1,
    /// Largest frame payload accepted, in bytes.
    MaxFrameSize = 2,
    /// Number of streams the peer may open, before WNDINC CREDIT raises it.
    StreamCredit = 3,
    /// Session-level receive window, in bytes.
    SessionWindow = 4,
    /// Largest metadata block accepted on an open or reply, in bytes.
    MaxOpenMetadata = 5,
    /// Idle timeout in milliseconds; 0 disables it.
    IdleTimeout = 6,
}

/// The values one side announces in its SETTINGS frame.
///
/// A receiver starts from [`Settings::DEFAULT`] and overwrites what the
/// frame carries; braid always sends all six.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Settings {
    /// Setting 1: initial receive window of each stream (0..=2^31-1).
    pub initial_stream_window: u32,
    /// Setting 2: largest frame payload this side accepts (64..=2^24-1).
    pub max_frame_size: u32,
    /// Setting 3: streams the peer may open (0..=2^31-1).
    pub stream_credit: u32,
    /// Setting 4: session receive window (0..=2^31-1).
    pub session_window: u32,
    /// Setting 5: largest metadata block accepted (0..=65535).
    pub max_open_metadata: u32,
    /// Setting 6: idle timeout in milliseconds, 0 for none.
    pub idle_timeout_ms: u32,
}

impl Settings {
    /// The values a setting takes when a SETTINGS frame omits it.
    pub const DEFAULT: Settings = Settings {
        initial_stream_window: 65_536,
        max_frame_size: 16_384,
        stream_credit: 16,
        session_window: 262_144,
        max_open_metadata: 1024,
        idle_timeout_ms: 0,
    };

    /// Bytes of the encoded payload (six entries).
    pub const ENCODED_LEN: usize = 6 * SETTING_ENTRY_LEN;

    /// Check one value against its range (spec.md [S-6.2]).
    ///
    /// # Errors
    /// [`ProtocolError::SettingOutOfRange`] when it is outside.
    pub const fn check(id: Setting, value: u32) -> Result<(), ProtocolError> {
        let ok = match id {
            Setting::InitialStreamWindow | Setting::StreamCredit | Setting::SessionWindow => {
                value <= MAX_WINDOW
            }
            Setting::MaxFrameSize => value >= MIN_FRAME_SIZE && value <= MAX_PAYLOAD,
            Setting::MaxOpenMetadata => value <= 0xFFFF,
            Setting::IdleTimeout => true,
        };
        if ok {
            Ok(())
        } else {
            Err(ProtocolError::SettingOutOfRange)
        }
    }

    /// Check every value (used on the values this side is about to announce).
    ///
    /// # Errors
    /// The first value out of range.
    pub const fn validate(&self) -> Result<(), ProtocolError> {
        let all = self.entries();
        let mut i = 0;
        while i < all.len() {
            if let Err(e) = Self::check(all[i].0, all[i].1) {
                return Err(e);
            }
            i += 1;
        }
        Ok(())
    }

    const fn entries(&self) -> [(Setting, u32); 6] {
        [
            (Setting::InitialStreamWindow, self.initial_stream_window),
            (Setting::MaxFrameSize, self.max_frame_size),
            (Setting::StreamCredit, self.stream_credit),
            (Setting::SessionWindow, self.session_window),
            (Setting::MaxOpenMetadata, self.max_open_metadata),
            (Setting::IdleTimeout, self.idle_timeout_ms),
        ]
    }

    /// Decode a SETTINGS payload (its length already checked to be a
    /// multiple of 6): defaults for absent ids, unknown ids ignored, the last
    /// of duplicate ids wins.
    ///
    /// # Errors
    /// [`ProtocolError::SettingOutOfRange`] for a known id with a bad value;
    /// [`ProtocolError::BadFrameLength`] if `payload` is not whole entries.
    pub fn decode(payload: &[u8]) -> Result<Settings, ProtocolError> {
        if !payload.len().is_multiple_of(SETTING_ENTRY_LEN) {
            return Err(ProtocolError::BadFrameLength);
        }
        let mut s = Settings::DEFAULT;
        for entry in payload.chunks_exact(SETTING_ENTRY_LEN) {
            let id = u16::from_be_bytes([entry[0], entry[1]]);
            let value = u32::from_be_bytes([entry[2], entry[3], entry[4], entry[5]]);
            let (setting, slot) = match id {
                1 => (Setting::InitialStreamWindow, &mut s.initial_stream_window),
                2 => (Setting::MaxFrameSize, &mut s.max_frame_size),
                3 => (Setting::StreamCredit, &mut s.stream_credit),
                4 => (Setting::SessionWindow, &mut s.session_window),
                5 => (Setting::MaxOpenMetadata, &mut s.max_open_metadata),
                6 => (Setting::IdleTimeout, &mut s.idle_timeout_ms),
                _ => continue,
            };
            Self::check(setting, value)?;
            *slot = value;
        }
        Ok(s)
    }

    /// Encode all six entries into `out`, which must hold
    /// [`Settings::ENCODED_LEN`] bytes. Returns the bytes written, or `None`
    /// when `out` is too small.
    #[must_use]
    pub fn encode(&self, out: &mut [u8]) -> Option<usize> {
        let out = out.get_mut(..Self::ENCODED_LEN)?;
        for (chunk, (id, value)) in out.chunks_exact_mut(SETTING_ENTRY_LEN).zip(self.entries()) {
            chunk[..2].copy_from_slice(&(id as u16).to_be_bytes());
            chunk[2..].copy_from_slice(&value.to_be_bytes());
        }
        Some(Self::ENCODED_LEN)
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_round_trip() {
        let s = Settings {
            initial_stream_window: 256,
            max_frame_size: 128,
            stream_credit: 4,
            session_window: 1024,
            max_open_metadata: 64,
            idle_timeout_ms: 30_000,
        };
        let mut buf = [0u8; Settings::ENCODED_LEN];
        assert_eq!(s.encode(&mut buf), Some(36));
        assert_eq!(Settings::decode(&buf), Ok(s));
    }

    #[test]
    fn absent_unknown_and_duplicate_ids() {
        // id 9 unknown, id 2 twice: last wins; others default.
        let p = [0, 9, 0, 0, 0, 1, 0, 2, 0, 0, 1, 0, 0, 2, 0, 0, 2, 0];
        let s = Settings::decode(&p).unwrap();
        assert_eq!(s.max_frame_size, 512);
        assert_eq!(s.initial_stream_window, Settings::DEFAULT.initial_stream_window);
    }

    #[test]
    fn ranges_are_enforced() {
        let frame_too_small = [0, 2, 0, 0, 0, 63];
        assert_eq!(Settings::decode(&frame_too_small), Err(ProtocolError::SettingOutOfRange));
        let window_too_big = [0, 1, 0x80, 0, 0, 0];
        assert_eq!(Settings::decode(&window_too_big), Err(ProtocolError::SettingOutOfRange));
        let meta_too_big = [0, 5, 0, 1, 0, 0];
        assert_eq!(Settings::decode(&meta_too_big), Err(ProtocolError::SettingOutOfRange));
        assert_eq!(Settings::decode(&[0; 5]), Err(ProtocolError::BadFrameLength));
    }
}
