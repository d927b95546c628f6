//! Stream identifiers and which side opens which (spec.md §5.1).

use core::fmt;

/// A stream identifier: 31 bits on the wire; 0 names the session itself.
///
/// Clients open odd ids starting at 1, servers even ids starting at 2.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct StreamId(pub u32);

impl StreamId {
    /// The session itself (control frames).
    pub const SESSION: StreamId = StreamId(0);
    /// The largest id the 31-bit field can carry.
    pub const MAX: StreamId = StreamId(0x7FFF_FFFF);

    /// The side that opens streams with this id, or `None` for id 0.
    #[must_use]
    pub const fn opener(self) -> Option<Role> {
        if self.0 == 0 {
            None
        } else if self.0 & 1 == 1 {
            Some(Role::Client)
        } else {
            Some(Role::Server)
        }
    }
}

impl fmt::Debug for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Which end of the session this is: decides the parity of the ids it opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Role {
    /// Opens odd stream ids (1, 3, 5, …).
    Client,
    /// Opens even stream ids (2, 4, 6, …).
    Server,
}

impl Role {
    /// The first id this role opens.
    #[must_use]
    pub const fn first_id(self) -> StreamId {
        match self {
            Role::Client => StreamId(1),
            Role::Server => StreamId(2),
        }
    }

    /// The other role.
    #[must_use]
    pub const fn peer(self) -> Role {
        match self {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        }
    }
}
