//! Plain value types that health checks, session sync and metrics all record into: a leaf, so
//! that only `metrics` depends on the modules it exports (never the other way round).

/// Identity of a virtual service in labels (`protocol` as its name).
pub use types::ServiceKey;

/// Observations sorted into fixed buckets, as a Prometheus histogram exposes them.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    /// Upper bounds of the buckets, ascending (`+Inf` is implicit).
    pub bounds: &'static [f64],
    /// Observations per bucket (not cumulative); `counts[i]` counts values in
    /// `(bounds[i-1], bounds[i]]`. Values above the last bound are only in `count`.
    pub counts: Vec<u64>,
    /// Sum of every observation.
    pub sum: f64,
    /// Number of observations.
    pub count: u64,
}

impl Histogram {
    /// Return an empty histogram with buckets `bounds`.
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: vec![0; bounds.len()],
            sum: 0.0,
            count: 0,
        }
    }

    /// Record one observation.
    pub fn observe(&mut self, v: f64) {
        if let Some(i) = self.bounds.iter().position(|b| v <= *b) {
            self.counts[i] += 1;
        }
        self.sum += v;
        self.count += 1;
    }
}
