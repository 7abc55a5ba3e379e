//! `GET /metrics` in the Prometheus text format. Every label's values come from a fixed set
//! (statuses, route templates, status classes), never from workflow names or ids, so the
//! number of series stays bounded however many executions there are.
//!
//! | metric | type | what |
//! | --- | --- | --- |
//! | `testwerk_executions{status}` | gauge | executions in the store, by status |
//! | `testwerk_queue_depth` | gauge | executions queued and not started yet |
//! | `testwerk_execution_duration_seconds` | histogram | how long finished executions ran |
//! | `testwerk_http_request_duration_seconds{path,method,code}` | histogram | API and UI latency by route template |
//! | `testwerk_store_errors_total` | counter | failed store reads and writes since start |

use std::fmt::Write;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use testwerk_store::{ExecutionStats, ExecutionStatus};

use crate::{SiteState, blocking};

/// Upper bounds of the execution duration buckets, in seconds.
pub const DURATION_BUCKETS: [f64; 10] = [
    1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
];

pub async fn serve(State(site): State<SiteState>) -> Response {
    let store = site.store.clone();
    match blocking(move || store.execution_stats()).await {
        Ok(stats) => {
            let mut text = render(&stats, site.store.error_count());
            text += &site.latency.render();
            (
                [(
                    header::CONTENT_TYPE,
                    "text/plain; version=0.0.4; charset=utf-8",
                )],
                text,
            )
                .into_response()
        }
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("# the store could not be read: {e}\n"),
        )
            .into_response(),
    }
}

/// The store's part of the metrics.
pub fn render(stats: &ExecutionStats, store_errors: u64) -> String {
    let mut out = String::from(
        "# HELP testwerk_executions Executions in the results store, by status.\n# TYPE testwerk_executions gauge\n",
    );
    let mut queued = 0;
    for (status, n) in &stats.by_status {
        let _ = writeln!(out, "testwerk_executions{{status=\"{status}\"}} {n}");
        if *status == ExecutionStatus::Queued {
            queued = *n;
        }
    }
    let _ = write!(
        out,
        "# HELP testwerk_queue_depth Executions queued and not started yet.\n# TYPE testwerk_queue_depth gauge\ntestwerk_queue_depth {queued}\n"
    );
    let name = "testwerk_execution_duration_seconds";
    let _ = write!(
        out,
        "# HELP {name} How long finished executions ran, from start to end.\n# TYPE {name} histogram\n"
    );
    let mut sum = 0.0;
    let mut counts = [0u64; DURATION_BUCKETS.len()];
    for ms in &stats.durations_ms {
        let s = *ms as f64 / 1000.0;
        sum += s;
        if let Some(i) = DURATION_BUCKETS.iter().position(|b| s <= *b) {
            counts[i] += 1;
        }
    }
    let mut cumulative = 0;
    for (bound, n) in DURATION_BUCKETS.iter().zip(counts) {
        cumulative += n;
        let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
    }
    let total = stats.durations_ms.len();
    let _ = write!(
        out,
        "{name}_bucket{{le=\"+Inf\"}} {total}\n{name}_sum {sum}\n{name}_count {total}\n"
    );
    let _ = write!(
        out,
        "# HELP testwerk_store_errors_total Failed results-store reads and writes since start.\n# TYPE testwerk_store_errors_total counter\ntestwerk_store_errors_total {store_errors}\n"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_every_status_is_listed() {
        let stats = ExecutionStats {
            by_status: ExecutionStatus::ALL
                .iter()
                .map(|s| (*s, u64::from(*s == ExecutionStatus::Queued) * 3))
                .collect(),
            durations_ms: vec![500, 4_000, 4_500, 7_200_000],
        };
        let text = render(&stats, 2);
        assert!(
            text.contains("testwerk_executions{status=\"passed\"} 0"),
            "{text}"
        );
        assert!(text.contains("testwerk_queue_depth 3"), "{text}");
        assert!(
            text.contains("testwerk_execution_duration_seconds_bucket{le=\"1\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("testwerk_execution_duration_seconds_bucket{le=\"5\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("testwerk_execution_duration_seconds_bucket{le=\"3600\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("testwerk_execution_duration_seconds_bucket{le=\"+Inf\"} 4"),
            "{text}"
        );
        assert!(text.contains("testwerk_store_errors_total 2"), "{text}");
    }
}
