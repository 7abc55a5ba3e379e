//! Server-Sent Events: the list and an execution, as the store sees them. Both backends write
//! everything to the store as it happens, so one loop that reads the store serves live
//! updates for local runs and agent runs alike. A stream sends only what changed, as JSON:
//!
//! - `/v1/live?<list filters>`: `list` `{"rows": html, "total": n}`;
//! - `/v1/executions/{id}/live?from=N&step=REF`: `status` `{"badge", "took", "reason",
//!   "final"}`, `steps` `{"html"}`, `log` `{"html", "next"}` (the lines from `N` on; `step`
//!   is the step of line `N - 1`, whose header the page shows already), then `end`.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;

use crate::execution::{log_lines, step_names, steps};
use crate::html::{duration, execution_badge, took};
use crate::list::{ListQuery, rows};
use crate::{SiteState, blocking, error_page, store_error_page};

/// How often a stream looks at the store.
const EXECUTION_EVERY: Duration = Duration::from_millis(400);
const LIST_EVERY: Duration = Duration::from_secs(1);
/// Log lines one `log` event carries at most.
const LINES_PER_EVENT: u64 = 500;

fn sse(rx: mpsc::Receiver<Event>) -> Response {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|e| (Ok::<_, Infallible>(e), rx))
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

fn event(name: &str, data: serde_json::Value) -> Event {
    Event::default().event(name).data(data.to_string())
}

pub async fn list(State(site): State<SiteState>, RawQuery(raw): RawQuery) -> Response {
    let q = match ListQuery::parse(raw.as_deref()) {
        Ok(q) => q,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, &e),
    };
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        let mut last = String::new();
        loop {
            let (store, q2) = (site.store.clone(), q.clone());
            match blocking(move || crate::list::read(&store, &q2)).await {
                Ok(page) => {
                    let html = rows(&page.executions);
                    if html != last {
                        let e = event("list", json!({"rows": html, "total": page.total}));
                        if tx.send(e).await.is_err() {
                            return;
                        }
                        last = html;
                    }
                }
                // The page shows the error; the stream tries again.
                Err(e) => tracing::warn!("live list: {e}"),
            }
            tokio::select! {
                _ = tokio::time::sleep(LIST_EVERY) => {}
                _ = tx.closed() => return,
            }
        }
    });
    sse(rx)
}

#[derive(Deserialize, Default)]
pub struct LiveQuery {
    /// The next log line the page needs; `u64::MAX` for no log at all.
    #[serde(default)]
    from: u64,
    /// The step of the line before `from`.
    step: Option<String>,
}

pub async fn execution(
    State(site): State<SiteState>,
    Path(id): Path<String>,
    Query(q): Query<LiveQuery>,
) -> Response {
    let store = site.store.clone();
    let query = id.clone();
    let id = match blocking(move || store.resolve_id(&query)).await {
        Ok(Some(id)) => id,
        Ok(None) => return error_page(StatusCode::NOT_FOUND, &format!("no execution `{id}`")),
        Err(e) => return store_error_page(&e),
    };
    let (tx, rx) = mpsc::channel(8);
    tokio::spawn(async move {
        let mut next = q.from;
        let mut step = q.step.filter(|s| !s.is_empty());
        let (mut last_status, mut last_steps) = (serde_json::Value::Null, String::new());
        loop {
            let (store, id2, from) = (site.store.clone(), id.clone(), next);
            let read = blocking(move || {
                let detail = store.execution(&id2)?;
                let lines = if from == u64::MAX {
                    Vec::new()
                } else {
                    store.logs_from(&id2, from, LINES_PER_EVENT)?
                };
                Ok((detail, lines))
            })
            .await;
            let (detail, lines) = match read {
                Ok((Some(d), lines)) => (d, lines),
                // Deleted under us: nothing more to say.
                Ok((None, _)) => return,
                Err(e) => {
                    tracing::warn!(execution = %id, "live: {e}");
                    if pause(&tx).await {
                        continue;
                    }
                    return;
                }
            };
            let e = &detail.execution;
            let finished = e.status.is_final();
            let status = json!({
                "badge": execution_badge(e.status),
                "took": took(e.started_at, e.finished_at).map(duration).unwrap_or_default(),
                "reason": e.reason.clone().unwrap_or_default(),
                "final": finished,
            });
            // A running execution's duration changes every time: sent with other changes only.
            if status["badge"] != last_status["badge"] || status["reason"] != last_status["reason"]
            {
                if tx.send(event("status", status.clone())).await.is_err() {
                    return;
                }
                last_status = status;
            }
            // Sent when a step's status or times change, not on every look: a running step's
            // timeline bar grows with the page's next update.
            let shape: String = detail
                .steps
                .iter()
                .map(|s| {
                    format!(
                        "{}:{}:{:?}:{:?};",
                        s.step_ref,
                        s.status.as_str(),
                        s.started_at,
                        s.finished_at
                    )
                })
                .collect();
            if shape != last_steps {
                let html = steps(&detail);
                if tx
                    .send(event("steps", json!({"html": html})))
                    .await
                    .is_err()
                {
                    return;
                }
                last_steps = shape;
            }
            let more = lines.len() as u64 == LINES_PER_EVENT;
            if let Some(last) = lines.last() {
                let html = log_lines(&lines, step.as_deref(), &step_names(&detail));
                next = last.seq + 1;
                step = last.step_ref.clone();
                if tx
                    .send(event("log", json!({"html": html, "next": next})))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            if more {
                continue;
            }
            if finished {
                // The backend writes the last lines before it marks the execution finished.
                tx.send(event("end", json!({"status": e.status})))
                    .await
                    .ok();
                return;
            }
            if !pause(&tx).await {
                return;
            }
        }
    });
    sse(rx)
}

/// Waits before the next look; `false` when the client is gone.
async fn pause(tx: &mpsc::Sender<Event>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(EXECUTION_EVERY) => true,
        _ = tx.closed() => false,
    }
}
