//! The Prometheus text exposition format (0.0.4), as the commands that serve `/metrics`
//! (`podwall agent`, `podwall webhook`) write it: each family's `# HELP` and `# TYPE`
//! lines, then its samples; label values escaped; histograms as cumulative `_bucket`
//! lines (the last `le="+Inf"`), `_sum` and `_count`.
use std::fmt::{Display, Write as _};
use std::time::Duration;

/// The `Content-Type` of a `/metrics` answer.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds (seconds) of a [`Histogram::default`]'s buckets: from a millisecond to
/// ten seconds.
pub const DEFAULT_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// What a family's samples are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    /// Only goes up (from the start of the process).
    Counter,
    /// Goes up and down.
    Gauge,
    /// Observations counted into buckets.
    Histogram,
}

impl Type {
    fn as_str(self) -> &'static str {
        match self {
            Type::Counter => "counter",
            Type::Gauge => "gauge",
            Type::Histogram => "histogram",
        }
    }
}

/// Observations (seconds) counted into buckets by upper bound, and their sum.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Per bucket, not cumulative; one more than the bounds, for those above the last.
    counts: Vec<u64>,
    sum: f64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram::new(DEFAULT_BUCKETS)
    }
}

impl Histogram {
    /// An empty histogram with these upper bounds (seconds, ascending).
    pub fn new(bounds: &'static [f64]) -> Self {
        Histogram { bounds, counts: vec![0; bounds.len() + 1], sum: 0.0 }
    }

    /// Counts one duration.
    pub fn observe(&mut self, took: Duration) {
        let s = took.as_secs_f64();
        let i = self.bounds.iter().position(|b| s <= *b).unwrap_or(self.bounds.len());
        self.counts[i] += 1;
        self.sum += s;
    }

    /// How many observations there are.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The sum of the observations, seconds.
    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// Each bound with the number of observations at or below it.
    pub fn cumulative(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        self.bounds.iter().zip(&self.counts).scan(0, |total, (b, n)| {
            *total += n;
            Some((*b, *total))
        })
    }
}

/// A label value as the format writes it: backslash, double quote and line feed escaped.
pub fn label_value(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// An exposition being written.
#[derive(Clone, Debug, Default)]
pub struct Text(String);

impl Text {
    /// Nothing written yet.
    pub fn new() -> Self {
        Text::default()
    }

    /// A family's `# HELP` and `# TYPE` lines.
    pub fn family(&mut self, name: &str, kind: Type, help: &str) -> &mut Self {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {}", kind.as_str());
        self
    }

    /// One sample (label values are escaped here).
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Display) -> &mut Self {
        self.0.push_str(name);
        if !labels.is_empty() {
            let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", label_value(v))).collect();
            let _ = write!(self.0, "{{{}}}", pairs.join(","));
        }
        let _ = writeln!(self.0, " {value}");
        self
    }

    /// A family of one sample without labels.
    pub fn single(&mut self, name: &str, kind: Type, help: &str, value: impl Display) -> &mut Self {
        self.family(name, kind, help).sample(name, &[], value)
    }

    /// A histogram family.
    pub fn histogram(&mut self, name: &str, help: &str, h: &Histogram) -> &mut Self {
        self.histogram_with(name, help, &[(&[], h)])
    }

    /// A histogram family of several series, each with its labels (before `le`).
    pub fn histogram_with(&mut self, name: &str, help: &str, series: &[(&[(&str, &str)], &Histogram)]) -> &mut Self {
        self.family(name, Type::Histogram, help);
        for (labels, h) in series {
            let bucket = format!("{name}_bucket");
            for (b, n) in h.cumulative() {
                let le = b.to_string();
                self.sample(&bucket, &[*labels, &[("le", le.as_str())][..]].concat(), n);
            }
            self.sample(&bucket, &[*labels, &[("le", "+Inf")][..]].concat(), h.count());
            self.sample(&format!("{name}_sum"), labels, h.sum());
            self.sample(&format!("{name}_count"), labels, h.count());
        }
        self
    }

    /// What was written.
    pub fn finish(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_end_with_inf_sum_and_count() {
        let mut h = Histogram::new(&[0.001, 0.01]);
        h.observe(Duration::from_micros(500));
        h.observe(Duration::from_millis(5));
        h.observe(Duration::from_secs(1));
        let mut t = Text::new();
        t.histogram_with("x_seconds", "Latency.", &[(&[("kind", "Pod")], &h)]);
        assert_eq!(
            t.finish(),
            "# HELP x_seconds Latency.\n# TYPE x_seconds histogram\n\
             x_seconds_bucket{kind=\"Pod\",le=\"0.001\"} 1\n\
             x_seconds_bucket{kind=\"Pod\",le=\"0.01\"} 2\n\
             x_seconds_bucket{kind=\"Pod\",le=\"+Inf\"} 3\n\
             x_seconds_sum{kind=\"Pod\"} 1.0055\n\
             x_seconds_count{kind=\"Pod\"} 3\n"
        );
    }

    #[test]
    fn label_values_escape_backslash_quote_and_line_feed() {
        let mut t = Text::new();
        t.sample("e", &[("error", "a \"b\"\\\nc")], 1);
        assert_eq!(t.finish(), "e{error=\"a \\\"b\\\"\\\\\\nc\"} 1\n");
    }
}
