//! API latency for `/metrics`: one histogram per route (method and path template) and status
//! class, so the number of series is bounded by the route table, never by what clients send.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use axum::http::StatusCode;

use crate::table::RouteDoc;

/// Upper bounds of the buckets, in seconds.
pub const BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

#[derive(Default, Clone)]
struct Histogram {
    /// Observations at or below each bound of [`BUCKETS`] (cumulative when rendered).
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// `(path template, method, status class)` → histogram.
type Series = BTreeMap<(String, String, &'static str), Histogram>;

/// Request durations by route.
#[derive(Default)]
pub struct Latency {
    series: Mutex<Series>,
}

impl Latency {
    /// Makes the route's series known (at zero) before its first request.
    pub fn register(&self, doc: &RouteDoc) {
        if let Ok(mut s) = self.series.lock() {
            s.entry((doc.path.clone(), doc.method.to_string(), "2xx"))
                .or_default();
        }
    }

    pub fn observe(&self, doc: &RouteDoc, status: StatusCode, took: Duration) {
        let class = match status.as_u16() {
            100..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        let seconds = took.as_secs_f64();
        let Ok(mut s) = self.series.lock() else {
            return;
        };
        let h = s
            .entry((doc.path.clone(), doc.method.to_string(), class))
            .or_default();
        h.count += 1;
        h.sum += seconds;
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            h.counts[i] += 1;
        }
    }

    /// The Prometheus text exposition of `testwerk_http_request_duration_seconds`.
    pub fn render(&self) -> String {
        let name = "testwerk_http_request_duration_seconds";
        let mut out = format!(
            "# HELP {name} Time to answer an API or UI request, by route template, method and status class.\n# TYPE {name} histogram\n"
        );
        let Ok(series) = self.series.lock() else {
            return out;
        };
        for ((path, method, code), h) in series.iter() {
            let labels = format!(r#"path="{path}",method="{method}",code="{code}""#);
            let mut cumulative = 0;
            for (bound, n) in BUCKETS.iter().zip(h.counts) {
                cumulative += n;
                out += &format!("{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}\n");
            }
            out += &format!("{name}_bucket{{{labels},le=\"+Inf\"}} {}\n", h.count);
            out += &format!("{name}_sum{{{labels}}} {}\n", h.sum);
            out += &format!("{name}_count{{{labels}}} {}\n", h.count);
        }
        out
    }
}
