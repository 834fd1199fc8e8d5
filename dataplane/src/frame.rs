//! The byte-frame seam between the pipeline and whatever holds packets (DPDK mbufs, `Vec`s).

/// A packet buffer with headroom in front of its data.
///
/// The pipeline only ever sees the first (and only) segment: multi-segment frames are refused
/// before they reach it.
pub trait Frame {
    /// Return the packet bytes.
    fn data(&self) -> &[u8];
    /// Return the packet bytes, writable.
    fn data_mut(&mut self) -> &mut [u8];
    /// Return the number of packet bytes.
    fn len(&self) -> usize {
        self.data().len()
    }
    /// Return true when the frame holds no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Return how many bytes can be prepended.
    fn headroom(&self) -> usize;
    /// Grow the frame at the front by `n` bytes (for encapsulation) and return the whole data,
    /// or `None` (frame unchanged) when the headroom is too small.
    fn prepend(&mut self, n: usize) -> Option<&mut [u8]>;
    /// Remove `n` bytes from the front (decapsulation); `false` (unchanged) if `n > len`.
    fn adj(&mut self, n: usize) -> bool;
    /// Remove `n` bytes from the end; `false` (unchanged) if `n > len`.
    fn trim(&mut self, n: usize) -> bool;
    /// Grow the frame at the end by `n` bytes and return the whole data, or `None` (unchanged)
    /// when there is no room.
    fn append(&mut self, n: usize) -> Option<&mut [u8]>;
    /// Ask for the cache lines a forwarding step touches first (a hint): the start of the
    /// data, and where the frame can hold it, the line before, into which an encapsulation's
    /// [`Frame::prepend`] writes.
    #[inline(always)]
    fn prefetch_head(&self) {
        if let Some(b) = self.data().first() {
            crate::session::prefetch::line(b);
        }
    }
}

/// Headroom a [`VecFrame`] gets by default: the same as DPDK's `RTE_PKTMBUF_HEADROOM`.
pub const DEFAULT_HEADROOM: usize = 128;

/// A `Vec`-backed frame for tests, benches and fuzzing, laid out like an mbuf: a fixed buffer
/// with the data somewhere inside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VecFrame {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl VecFrame {
    /// Build a frame holding `data`, with [`DEFAULT_HEADROOM`] in front and room for a
    /// full-size Ethernet frame behind.
    pub fn new(data: &[u8]) -> Self {
        Self::with_room(data, DEFAULT_HEADROOM, 2048)
    }

    /// Build a frame holding `data` with `headroom` bytes in front and `tailroom` behind.
    pub fn with_room(data: &[u8], headroom: usize, tailroom: usize) -> Self {
        let mut buf = vec![0; headroom + data.len() + tailroom];
        buf[headroom..headroom + data.len()].copy_from_slice(data);
        Self {
            buf,
            start: headroom,
            end: headroom + data.len(),
        }
    }

    /// Replace the contents with `data`, keeping the buffer (no allocation when it fits).
    ///
    /// Returns `false` (unchanged) when `data` does not fit after the default headroom.
    pub fn reset(&mut self, data: &[u8]) -> bool {
        let headroom = DEFAULT_HEADROOM.min(self.buf.len());
        if headroom + data.len() > self.buf.len() {
            return false;
        }
        self.buf[headroom..headroom + data.len()].copy_from_slice(data);
        self.start = headroom;
        self.end = headroom + data.len();
        true
    }
}

impl Frame for VecFrame {
    fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }
    fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..self.end]
    }
    fn headroom(&self) -> usize {
        self.start
    }
    fn prepend(&mut self, n: usize) -> Option<&mut [u8]> {
        if n > self.start {
            return None;
        }
        self.start -= n;
        Some(&mut self.buf[self.start..self.end])
    }
    fn adj(&mut self, n: usize) -> bool {
        if n > self.end - self.start {
            return false;
        }
        self.start += n;
        true
    }
    fn trim(&mut self, n: usize) -> bool {
        if n > self.end - self.start {
            return false;
        }
        self.end -= n;
        true
    }
    fn append(&mut self, n: usize) -> Option<&mut [u8]> {
        if self.end + n > self.buf.len() {
            return None;
        }
        self.end += n;
        Some(&mut self.buf[self.start..self.end])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_prepend_trim_headroom() {
        let mut f = VecFrame::with_room(&[1, 2, 3], 4, 2);
        assert_eq!(f.headroom(), 4);
        assert!(f.prepend(5).is_none());
        assert_eq!(f.data(), &[1, 2, 3]);
        f.prepend(2).unwrap()[..2].copy_from_slice(&[8, 9]);
        assert_eq!(f.data(), &[8, 9, 1, 2, 3]);
        assert_eq!(f.headroom(), 2);
        assert!(f.adj(2));
        assert_eq!(f.data(), &[1, 2, 3]);
        assert!(!f.trim(4));
        assert!(f.trim(1));
        assert_eq!(f.data(), &[1, 2]);
        assert!(f.append(3).is_some());
        assert_eq!(f.len(), 5);
        assert!(f.append(1).is_none());
    }
}
