//! The exposition through the `prometheus` crate: a custom [`Collector`] builds the families at
//! scrape time, a [`Registry`] gathers them (families by name, samples by label values) and the
//! crate's [`TextEncoder`] writes format 0.0.4.
//!
//! Two guarantees the crate leaves to us, kept here:
//! - **No duplicate series.** The registry merges families of one name and sorts their samples,
//!   but keeps repeats; Prometheus rejects a whole scrape with a duplicate series, so [`encode`]
//!   keeps the first sample of each label set (one lost row is better than a lost scrape).
//! - **Untyped families.** The crate's text encoder (0.14, `encoder/text.rs`) panics on
//!   `UNTYPED`; such a family (the drivers' xstats, whose kind
//!   ferrovs cannot know) is encoded as a gauge and its one `# TYPE` line written `untyped`, so
//!   its samples keep the crate's escaping and number format.

use std::collections::HashSet;
use std::sync::Arc;

use prometheus::core::{Collector, Desc};
use prometheus::proto::{MetricFamily, MetricType};
use prometheus::{Registry, TextEncoder};

use super::MetricsView;

/// What the collector reads at each scrape: the gateway's closure fills a [`MetricsView`] from
/// the workers' single-writer counters, the published snapshot and the other sources.
pub type ViewSource = Arc<dyn Fn() -> MetricsView + Send + Sync>;

/// The collector of every `ferrovs_*` family: calls its source at each scrape.
///
/// It describes no families in advance (`desc` is empty, an "unchecked" collector as
/// client_golang calls it): which families and series exist depends on the configuration (HA,
/// announce and sync families only when configured, xstats as the driver names them).
pub struct ViewCollector {
    source: ViewSource,
}

impl std::fmt::Debug for ViewCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ViewCollector").finish_non_exhaustive()
    }
}

impl ViewCollector {
    /// Return a collector that reads `source` at each scrape.
    pub fn new(source: ViewSource) -> Self {
        Self { source }
    }
}

impl Collector for ViewCollector {
    fn desc(&self) -> Vec<&Desc> {
        Vec::new()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        super::families(&(self.source)())
    }
}

/// Return a registry holding the collector over `source`.
///
/// # Errors
/// What [`Registry::register`] reports; a fresh registry takes its first collector, so none in
/// practice.
pub fn registry(source: ViewSource) -> prometheus::Result<Registry> {
    let r = Registry::new();
    r.register(Box::new(ViewCollector::new(source)))?;
    Ok(r)
}

/// Gather `registry` and return its exposition in text format 0.0.4, without duplicate series.
pub fn encode(registry: &Registry) -> String {
    encode_families(registry.gather())
}

/// Write `families` (as the registry gathered them) in text format 0.0.4, each label set of a
/// family once.
pub fn encode_families(mut families: Vec<MetricFamily>) -> String {
    let encoder = TextEncoder::new();
    let mut out = String::new();
    for mf in &mut families {
        drop_repeated_series(mf);
        let untyped = mf.get_field_type() == MetricType::UNTYPED;
        if untyped {
            // Its samples already hold gauge values (see `Families::sample`).
            mf.set_field_type(MetricType::GAUGE);
        }
        let mut text = String::new();
        // The encoder refuses only a family without samples or name, which the registry
        // leaves out; should it refuse one, that family is left out rather than the scrape.
        if let Err(e) = encoder.encode_utf8(std::slice::from_ref(mf), &mut text) {
            eprintln!("ferrovs: metrics: {} not exported: {e}", mf.name());
            continue;
        }
        if untyped {
            let gauge = format!("# TYPE {} gauge\n", mf.name());
            text = text.replacen(&gauge, &format!("# TYPE {} untyped\n", mf.name()), 1);
        }
        out.push_str(&text);
    }
    out
}

/// Keep the first sample of each label set (names and values, in order) of `mf`.
fn drop_repeated_series(mf: &mut MetricFamily) {
    let mut seen: HashSet<Vec<(String, String)>> = HashSet::new();
    let metrics = mf.take_metric();
    let kept = metrics
        .into_iter()
        .filter(|m| {
            seen.insert(
                m.get_label()
                    .iter()
                    .map(|p| (p.name().to_owned(), p.value().to_owned()))
                    .collect(),
            )
        })
        .collect();
    mf.set_metric(kept);
}

#[cfg(test)]
mod tests {
    use super::super::families::{Families, Kind};
    use super::*;
    use crate::stats::Histogram;

    fn text(f: Families) -> String {
        let families = f.finish();
        let r = Registry::new();
        r.register(Box::new(Fixed(families)))
            .expect("fresh registry");
        encode(&r)
    }

    /// A collector over fixed families, to feed the registry what a test builds.
    struct Fixed(Vec<MetricFamily>);

    impl Collector for Fixed {
        fn desc(&self) -> Vec<&Desc> {
            Vec::new()
        }
        fn collect(&self) -> Vec<MetricFamily> {
            self.0.clone()
        }
    }

    #[test]
    fn test_family_with_escaped_labels() {
        let mut e = Families::new();
        e.begin(
            "ferrovs_x_total",
            "Things \\ counted.\nTwice.",
            Kind::Counter,
        );
        e.sample(&[("a", "q\"uo\\te\nd")], 3u64);
        e.sample(&[], 4u64);
        // The registry sorts samples by label values: the empty set first.
        assert_eq!(
            text(e),
            "# HELP ferrovs_x_total Things \\\\ counted.\\nTwice.\n\
             # TYPE ferrovs_x_total counter\n\
             ferrovs_x_total 4\n\
             ferrovs_x_total{a=\"q\\\"uo\\\\te\\nd\"} 3\n"
        );
    }

    #[test]
    fn test_duplicate_series_and_families_are_dropped() {
        let mut e = Families::new();
        e.begin("ferrovs_g", "G.", Kind::Gauge);
        e.sample(&[("a", "1")], 1u64);
        e.sample(&[("a", "1")], 2u64);
        e.begin("ferrovs_g", "G again.", Kind::Gauge);
        e.sample(&[("a", "2")], 3u64);
        e.sample(&[("a", "1")], 4u64);
        let t = text(e);
        assert_eq!(
            t,
            "# HELP ferrovs_g G.\n\
             # TYPE ferrovs_g gauge\n\
             ferrovs_g{a=\"1\"} 1\n\
             ferrovs_g{a=\"2\"} 3\n"
        );
    }

    #[test]
    fn test_same_values_under_other_label_names_are_not_duplicates() {
        let mut e = Families::new();
        e.begin("ferrovs_g", "G.", Kind::Gauge);
        e.sample(&[("a", "1")], 1u64);
        e.sample(&[("b", "1")], 2u64);
        let t = text(e);
        assert!(t.contains("ferrovs_g{a=\"1\"} 1\n"), "{t}");
        assert!(t.contains("ferrovs_g{b=\"1\"} 2\n"), "{t}");
    }

    #[test]
    fn test_histogram_is_cumulative() {
        static B: [f64; 3] = [0.001, 0.01, 0.1];
        let mut h = Histogram::new(&B);
        for v in [0.0005, 0.001, 0.05, 3.0] {
            h.observe(v);
        }
        let mut e = Families::new();
        e.begin("ferrovs_d_seconds", "D.", Kind::Histogram);
        e.histogram(&[("k", "v")], &h);
        e.histogram(&[("k", "v")], &h);
        let t = text(e);
        assert_eq!(
            t,
            "# HELP ferrovs_d_seconds D.\n\
             # TYPE ferrovs_d_seconds histogram\n\
             ferrovs_d_seconds_bucket{k=\"v\",le=\"0.001\"} 2\n\
             ferrovs_d_seconds_bucket{k=\"v\",le=\"0.01\"} 2\n\
             ferrovs_d_seconds_bucket{k=\"v\",le=\"0.1\"} 3\n\
             ferrovs_d_seconds_bucket{k=\"v\",le=\"+Inf\"} 4\n\
             ferrovs_d_seconds_sum{k=\"v\"} 3.0515\n\
             ferrovs_d_seconds_count{k=\"v\"} 4\n"
        );
    }

    #[test]
    fn test_untyped_and_floats() {
        let mut e = Families::new();
        e.begin("ferrovs_u", "U.", Kind::Untyped);
        e.sample(&[("n", "x")], 7u64);
        e.begin("ferrovs_f_seconds", "F.", Kind::Gauge);
        e.sample(&[("t", "a")], 1_700_000_000.5);
        e.sample(&[("t", "b")], 0.25);
        e.sample(&[("t", "c")], f64::NAN);
        let t = text(e);
        assert_eq!(
            t,
            "# HELP ferrovs_f_seconds F.\n\
             # TYPE ferrovs_f_seconds gauge\n\
             ferrovs_f_seconds{t=\"a\"} 1700000000.5\n\
             ferrovs_f_seconds{t=\"b\"} 0.25\n\
             ferrovs_f_seconds{t=\"c\"} NaN\n\
             # HELP ferrovs_u U.\n\
             # TYPE ferrovs_u untyped\n\
             ferrovs_u{n=\"x\"} 7\n"
        );
    }

    #[test]
    fn test_empty_family_is_left_out() {
        let mut e = Families::new();
        e.begin("ferrovs_none", "Nothing.", Kind::Gauge);
        e.begin("ferrovs_one", "One.", Kind::Gauge);
        e.sample(&[], 1u64);
        assert_eq!(
            text(e),
            "# HELP ferrovs_one One.\n# TYPE ferrovs_one gauge\nferrovs_one 1\n"
        );
    }

    #[test]
    fn test_sanitize() {
        assert_eq!(
            super::super::families::sanitize("rx_q0_good-packets [x]"),
            "rx_q0_good_packets__x_"
        );
    }
}
