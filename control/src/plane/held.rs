//! Frames that wait in control for their next hop to resolve (bounded in number and time), and
//! handing frames to the workers through their inject rings.

use std::time::Instant;

use super::{Control, FrameIo};
use crate::metrics::ExceptionPathCounters;

impl<Io: FrameIo> Control<Io> {
    /// Hand frames to workers: by RSS hash where the port computed one, else to worker 0, so
    /// that one flow always meets the same worker. `frames` is left empty.
    pub fn inject(&mut self, frames: &mut Vec<Io::Frame>) {
        let n = self.inject_bufs.len();
        if n == 0 {
            self.count_inject(0, frames.len());
            frames.clear();
            return;
        }
        if n == 1 {
            // One worker: the whole burst goes as is.
            std::mem::swap(&mut self.inject_bufs[0], frames);
        } else {
            for m in frames.drain(..) {
                let w = Io::rss_hash(&m) as usize % n;
                self.inject_bufs[w].push(m);
            }
        }
        let (mut injected, mut refused) = (0, 0);
        for (w, buf) in self.inject_bufs.iter_mut().enumerate() {
            if buf.is_empty() {
                continue;
            }
            let before = buf.len();
            self.io.inject(w, buf);
            injected += before - buf.len();
            refused += buf.len();
            buf.clear();
        }
        self.count_inject(injected, refused);
    }

    /// Count frames handed to a worker and frames refused (the metrics' counts, which
    /// [`Control::stats`] reads too).
    fn count_inject(&mut self, injected: usize, dropped: usize) {
        let c = &self.inject_counts;
        ExceptionPathCounters::add(&c.injected, injected as u64);
        ExceptionPathCounters::add(&c.dropped, dropped as u64);
    }

    /// Keep a frame whose next hop is unresolved until it resolves; beyond
    /// [`super::Limits::held_max`] the oldest goes.
    pub(super) fn hold(&mut self, m: Io::Frame, now: Instant) {
        if self.held.len() >= self.limits.held_max {
            self.held.pop_front();
            self.stats.held_overflow += 1;
        }
        self.held.push_back((now, m));
        self.stats.held += 1;
    }

    /// Drop held frames that waited [`super::Limits::held_for`] or longer.
    pub fn expire_held(&mut self, now: Instant) {
        while let Some((t, _)) = self.held.front() {
            if now.duration_since(*t) < self.limits.held_for {
                break;
            }
            self.held.pop_front();
            self.stats.held_timeout += 1;
        }
    }

    /// Send every held frame back through the pipeline (after a new snapshot: those whose
    /// neighbour is still unknown come back and wait again, until they time out).
    pub fn release_held(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let mut frames: Vec<Io::Frame> = self.held.drain(..).map(|(_, m)| m).collect();
        self.inject(&mut frames);
    }
}
