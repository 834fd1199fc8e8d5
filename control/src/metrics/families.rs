//! Metric families in the `prometheus` crate's data model ([`prometheus::proto`]), built family
//! by family from plain rows: what the collectors return at each scrape.
//!
//! The builder keeps the call shape of the writer it replaced (`begin` a family, then its
//! `sample`s): label pairs stay in the order given (`vip`, `port`, `protocol`, ...), values are
//! `f64` as the crate's model has them (a counter above 2^53 rounds, as Prometheus stores it).

use prometheus::proto::{self, LabelPair, MetricFamily, MetricType};

use crate::stats::Histogram;

/// The `# TYPE` of a metric family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A monotonically increasing count; the name ends in `_total`.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// Buckets, sum and count of observations.
    Histogram,
    /// Values whose kind the exporter does not know (DPDK driver xstats).
    Untyped,
}

impl Kind {
    const fn proto(self) -> MetricType {
        match self {
            Kind::Counter => MetricType::COUNTER,
            Kind::Gauge => MetricType::GAUGE,
            Kind::Histogram => MetricType::HISTOGRAM,
            Kind::Untyped => MetricType::UNTYPED,
        }
    }
}

/// A sample value: ferrovs's counters are integers, gauges may be fractional.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    /// An unsigned integer (every counter in ferrovs).
    U(u64),
    /// A floating point value (timestamps, seconds).
    F(f64),
}

impl Value {
    #[allow(clippy::cast_precision_loss)] // Prometheus keeps every sample as a float64.
    fn as_f64(self) -> f64 {
        match self {
            Value::U(v) => v as f64,
            Value::F(v) => v,
        }
    }
}

impl From<u64> for Value {
    fn from(v: u64) -> Self {
        Value::U(v)
    }
}

impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::U(u64::from(v))
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::U(u64::from(v))
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::F(v)
    }
}

/// The families of one scrape, in the order begun.
#[derive(Debug, Default)]
pub struct Families {
    out: Vec<MetricFamily>,
}

impl Families {
    /// Return no families.
    pub fn new() -> Self {
        Self::default()
    }

    /// Start the family `name` with its HELP text and TYPE; samples until the next `begin`
    /// belong to it. (A name begun twice is merged by the registry, its repeated series
    /// dropped: see [`super::expose::encode`].)
    pub fn begin(&mut self, name: &str, help: &str, kind: Kind) {
        let mut mf = MetricFamily::default();
        mf.set_name(name.to_owned());
        mf.set_help(help.to_owned());
        mf.set_field_type(kind.proto());
        self.out.push(mf);
    }

    /// Add a sample of the current family (a counter, gauge or untyped one).
    pub fn sample(&mut self, labels: &[(&str, &str)], value: impl Into<Value>) {
        let Some(mf) = self.out.last_mut() else {
            return;
        };
        let v = value.into().as_f64();
        let mut m = proto::Metric::from_label(pairs(labels));
        match mf.get_field_type() {
            MetricType::COUNTER => {
                let mut c = proto::Counter::default();
                c.set_value(v);
                m.set_counter(c);
            }
            // An untyped family's values live in gauges (the crate deprecates its `Untyped`
            // value); the encoder writes the family's TYPE as untyped.
            MetricType::GAUGE | MetricType::UNTYPED => {
                let mut g = proto::Gauge::default();
                g.set_value(v);
                m.set_gauge(g);
            }
            // A single value has no place in a histogram or summary family.
            MetricType::HISTOGRAM | MetricType::SUMMARY => return,
        }
        mf.mut_metric().push(m);
    }

    /// Add a histogram of the current family for one label set: the crate's cumulative buckets
    /// with `h`'s bounds (`+Inf` is the count, which the encoder adds), sum and count.
    pub fn histogram(&mut self, labels: &[(&str, &str)], h: &Histogram) {
        let Some(mf) = self.out.last_mut() else {
            return;
        };
        if mf.get_field_type() != MetricType::HISTOGRAM {
            return;
        }
        let mut cumulative = 0u64;
        let buckets = h
            .bounds
            .iter()
            .enumerate()
            .map(|(i, bound)| {
                cumulative += h.counts.get(i).copied().unwrap_or(0);
                let mut b = proto::Bucket::default();
                b.set_upper_bound(*bound);
                b.set_cumulative_count(cumulative);
                b
            })
            .collect();
        let mut ph = proto::Histogram::default();
        ph.set_bucket(buckets);
        ph.set_sample_sum(h.sum);
        ph.set_sample_count(h.count);
        let mut m = proto::Metric::from_label(pairs(labels));
        m.set_histogram(ph);
        mf.mut_metric().push(m);
    }

    /// Return the families.
    pub fn finish(self) -> Vec<MetricFamily> {
        self.out
    }
}

fn pairs(labels: &[(&str, &str)]) -> Vec<LabelPair> {
    labels
        .iter()
        .map(|(k, v)| {
            let mut p = LabelPair::default();
            p.set_name((*k).to_owned());
            p.set_value((*v).to_owned());
            p
        })
        .collect()
}

/// Replace every character outside `[a-zA-Z0-9_]` by `_`, so a driver's xstat name (which may
/// contain `[`, `-`, spaces) becomes a stable, query-friendly label value.
pub fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}
