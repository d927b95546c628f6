//! A byte ring over storage the caller owns: the ring keeps only a head and a
//! length, so one stream's buffer bookkeeping costs 8 bytes wherever the
//! bytes themselves live (a static array, a `Vec`, a slice of a pool).

/// Read/write positions of a ring buffer stored elsewhere.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(crate) struct Ring {
    head: u32,
    len: u32,
}

impl Ring {
    /// An empty ring.
    pub(crate) const EMPTY: Ring = Ring { head: 0, len: 0 };

    /// Bytes stored.
    pub(crate) const fn len(&self) -> usize {
        self.len as usize
    }

    pub(crate) const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forget every byte.
    pub(crate) fn clear(&mut self) {
        *self = Ring::EMPTY;
    }

    /// Append as much of `data` as fits in `buf`; returns the bytes taken.
    pub(crate) fn write(&mut self, buf: &mut [u8], data: &[u8]) -> usize {
        let cap = buf.len();
        let n = data.len().min(cap - self.len());
        if n == 0 {
            return 0;
        }
        let tail = (self.head as usize + self.len()) % cap;
        let first = n.min(cap - tail);
        buf[tail..tail + first].copy_from_slice(&data[..first]);
        buf[..n - first].copy_from_slice(&data[first..n]);
        self.len += n as u32;
        n
    }

    /// The stored bytes as at most two slices, oldest first.
    pub(crate) fn slices<'b>(&self, buf: &'b [u8]) -> (&'b [u8], &'b [u8]) {
        let head = self.head as usize;
        let first = self.len().min(buf.len() - head);
        (&buf[head..head + first], &buf[..self.len() - first])
    }

    /// Copy up to `out.len()` bytes starting `skip` bytes in, without
    /// consuming; returns the bytes copied.
    pub(crate) fn peek(&self, buf: &[u8], skip: usize, out: &mut [u8]) -> usize {
        let (a, b) = self.slices(buf);
        let mut copied = 0;
        let mut skip = skip;
        for part in [a, b] {
            if skip >= part.len() {
                skip -= part.len();
                continue;
            }
            let src = &part[skip..];
            skip = 0;
            let n = src.len().min(out.len() - copied);
            out[copied..copied + n].copy_from_slice(&src[..n]);
            copied += n;
        }
        copied
    }

    /// A ring holding `len` bytes from the start of its storage (after the
    /// bytes were copied there, e.g. into a larger buffer).
    #[cfg(feature = "alloc")]
    pub(crate) const fn linear(len: usize) -> Ring {
        Ring { head: 0, len: len as u32 }
    }

    /// Keep only the oldest `len` bytes.
    pub(crate) fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len as u32);
    }

    /// Drop `n` bytes from the front (at most what is stored).
    pub(crate) fn consume(&mut self, cap: usize, n: usize) {
        let n = n.min(self.len());
        self.len -= n as u32;
        self.head = if self.len == 0 { 0 } else { ((self.head as usize + n) % cap) as u32 };
    }

    /// Copy out and consume up to `out.len()` bytes.
    pub(crate) fn read(&mut self, buf: &[u8], out: &mut [u8]) -> usize {
        let n = self.peek(buf, 0, out);
        self.consume(buf.len(), n);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_around() {
        let mut store = [0u8; 5];
        let mut r = Ring::default();
        assert_eq!(r.write(&mut store, b"abc"), 3);
        let mut out = [0u8; 2];
        assert_eq!(r.read(&store, &mut out), 2);
        assert_eq!(&out, b"ab");
        assert_eq!(r.write(&mut store, b"defgh"), 4);
        assert_eq!(r.len(), 5);
        let (a, b) = r.slices(&store);
        assert_eq!((a, b), (&b"cde"[..], &b"fg"[..]));
        let mut peek = [0u8; 3];
        assert_eq!(r.peek(&store, 2, &mut peek), 3);
        assert_eq!(&peek, b"efg");
        let mut all = [0u8; 8];
        assert_eq!(r.read(&store, &mut all), 5);
        assert_eq!(&all[..5], b"cdefg");
        assert!(r.is_empty());
    }

    #[test]
    fn full_ring_takes_nothing() {
        let mut store = [0u8; 2];
        let mut r = Ring::default();
        assert_eq!(r.write(&mut store, b"xyz"), 2);
        assert_eq!(r.write(&mut store, b"z"), 0);
        r.clear();
        assert_eq!(r.len(), 0);
    }
}
