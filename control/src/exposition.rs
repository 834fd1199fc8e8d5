//! A writer for the Prometheus text exposition format, version 0.0.4.
//!
//! The format (from `prometheus/docs`, `exposition_formats.md`): per metric family one
//! `# HELP name text` line and one `# TYPE name type` line, then its samples
//! `name{label="value",...} value`, all samples of a family together. Label values escape `\`,
//! `"` and newline; HELP text escapes `\` and newline.
//!
//! The writer guarantees a well-formed exposition whatever the caller passes: a label set that
//! repeats within a family is dropped (Prometheus rejects a scrape with duplicate series, and one
//! lost row is better than a lost scrape), and each family name is written once.

use std::collections::HashSet;
use std::fmt::Write as _;

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
    const fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
            Kind::Untyped => "untyped",
        }
    }
}

/// A sample value: integer counters print exactly, gauges may be fractional.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    /// An unsigned integer (every counter in ferrovs).
    U(u64),
    /// A floating point value (timestamps, seconds).
    F(f64),
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

/// The exposition being written.
#[derive(Debug, Default)]
pub struct Encoder {
    out: String,
    /// Families written so far (a second `begin` of the same name is refused).
    families: HashSet<String>,
    /// The family samples go to now, and whether it was accepted.
    current: Option<String>,
    /// Series (suffix + rendered labels) of the current family.
    series: HashSet<String>,
}

impl Encoder {
    /// Return an empty exposition.
    pub fn new() -> Self {
        Self::default()
    }

    /// Start the family `name` with its HELP text and TYPE. Samples written until the next
    /// `begin` belong to it. A family name already used is ignored, with its samples.
    pub fn begin(&mut self, name: &str, help: &str, kind: Kind) {
        self.series.clear();
        if !self.families.insert(name.to_owned()) {
            self.current = None;
            return;
        }
        self.current = Some(name.to_owned());
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {}", kind.name());
    }

    /// Write a sample of the current family.
    pub fn sample(&mut self, labels: &[(&str, &str)], value: impl Into<Value>) {
        self.sample_suffixed("", labels, value.into());
    }

    /// Write a sample named `<family><suffix>` (`_bucket`, `_sum`, `_count` of a histogram).
    pub fn sample_suffixed(&mut self, suffix: &str, labels: &[(&str, &str)], value: Value) {
        let Some(name) = &self.current else { return };
        let mut series = String::with_capacity(64);
        series.push_str(name);
        series.push_str(suffix);
        if !labels.is_empty() {
            series.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    series.push(',');
                }
                series.push_str(k);
                series.push_str("=\"");
                escape_label_into(&mut series, v);
                series.push('"');
            }
            series.push('}');
        }
        if !self.series.insert(series.clone()) {
            return;
        }
        self.out.push_str(&series);
        self.out.push(' ');
        match value {
            Value::U(v) => {
                let _ = write!(self.out, "{v}");
            }
            Value::F(v) => write_float(&mut self.out, v),
        }
        self.out.push('\n');
    }

    /// Write a histogram's samples for one label set: cumulative `_bucket`s with `le`, then
    /// `_sum` and `_count`.
    pub fn histogram(&mut self, labels: &[(&str, &str)], h: &Histogram) {
        let mut with_le: Vec<(&str, &str)> = labels.to_vec();
        let mut cumulative = 0u64;
        let les: Vec<String> = h.bounds.iter().map(|b| float_text(*b)).collect();
        for (i, le) in les.iter().enumerate() {
            cumulative += h.counts.get(i).copied().unwrap_or(0);
            with_le.push(("le", le));
            self.sample_suffixed("_bucket", &with_le, Value::U(cumulative));
            with_le.pop();
        }
        with_le.push(("le", "+Inf"));
        self.sample_suffixed("_bucket", &with_le, Value::U(h.count));
        self.sample_suffixed("_sum", labels, Value::F(h.sum));
        self.sample_suffixed("_count", labels, Value::U(h.count));
    }

    /// Return the exposition text.
    pub fn finish(self) -> String {
        self.out
    }
}

fn escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

fn escape_label_into(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Format a float as Prometheus parses it (Go's `ParseFloat` plus `+Inf`, `-Inf`, `NaN`).
fn float_text(v: f64) -> String {
    let mut s = String::new();
    write_float(&mut s, v);
    s
}

fn write_float(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v == f64::INFINITY {
        out.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        // Rust's shortest round-trip form ("0.005", "1700000000.5", "1e-7") is valid Go syntax.
        let _ = write!(out, "{v}");
    }
}

/// Replace every character outside `[a-zA-Z0-9_]` by `_`, so a driver's xstat name (which may
/// contain `[`, `-`, spaces) becomes a stable, query-friendly label value.
pub fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_family_with_escaped_labels() {
        let mut e = Encoder::new();
        e.begin(
            "ferrovs_x_total",
            "Things \\ counted.\nTwice.",
            Kind::Counter,
        );
        e.sample(&[("a", "q\"uo\\te\nd")], 3u64);
        e.sample(&[], 4u64);
        assert_eq!(
            e.finish(),
            "# HELP ferrovs_x_total Things \\\\ counted.\\nTwice.\n\
             # TYPE ferrovs_x_total counter\n\
             ferrovs_x_total{a=\"q\\\"uo\\\\te\\nd\"} 3\n\
             ferrovs_x_total 4\n"
        );
    }

    #[test]
    fn test_duplicate_series_and_families_are_dropped() {
        let mut e = Encoder::new();
        e.begin("ferrovs_g", "G.", Kind::Gauge);
        e.sample(&[("a", "1")], 1u64);
        e.sample(&[("a", "1")], 2u64);
        e.begin("ferrovs_g", "G again.", Kind::Gauge);
        e.sample(&[("a", "2")], 3u64);
        let t = e.finish();
        assert_eq!(t.matches("ferrovs_g{").count(), 1, "{t}");
        assert_eq!(t.matches("# TYPE").count(), 1, "{t}");
        assert!(t.contains("ferrovs_g{a=\"1\"} 1\n"));
    }

    #[test]
    fn test_histogram_is_cumulative() {
        static B: [f64; 3] = [0.001, 0.01, 0.1];
        let mut h = Histogram::new(&B);
        for v in [0.0005, 0.001, 0.05, 3.0] {
            h.observe(v);
        }
        let mut e = Encoder::new();
        e.begin("ferrovs_d_seconds", "D.", Kind::Histogram);
        e.histogram(&[("k", "v")], &h);
        let t = e.finish();
        assert!(
            t.contains("ferrovs_d_seconds_bucket{k=\"v\",le=\"0.001\"} 2\n"),
            "{t}"
        );
        assert!(t.contains("ferrovs_d_seconds_bucket{k=\"v\",le=\"0.01\"} 2\n"));
        assert!(t.contains("ferrovs_d_seconds_bucket{k=\"v\",le=\"0.1\"} 3\n"));
        assert!(t.contains("ferrovs_d_seconds_bucket{k=\"v\",le=\"+Inf\"} 4\n"));
        assert!(t.contains("ferrovs_d_seconds_sum{k=\"v\"} 3.0515\n"));
        assert!(t.contains("ferrovs_d_seconds_count{k=\"v\"} 4\n"));
    }

    #[test]
    fn test_floats_and_sanitize() {
        assert_eq!(float_text(f64::NAN), "NaN");
        assert_eq!(float_text(f64::INFINITY), "+Inf");
        assert_eq!(float_text(0.25), "0.25");
        assert_eq!(float_text(1_700_000_000.5), "1700000000.5");
        assert_eq!(sanitize("rx_q0_good-packets [x]"), "rx_q0_good_packets__x_");
    }
}
