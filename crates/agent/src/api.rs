//! The agent's REST API (JSON over HTTP/1.1), for `testwerk run --server` and for people with
//! `curl`. Every route but `/v1/health` needs a Kubernetes bearer token whose user RBAC lets
//! do the route's verb on `testworkflowexecutions` ([`crate::auth`]); the toolkit's routes
//! take the execution's own token instead. `GET /v1/openapi.json` documents them all:
//!
//! | method and path | what |
//! | --- | --- |
//! | `GET /v1/health` | `ok` once the agent serves |
//! | `GET /v1/ready` | `200` on the replica that runs executions (always without `--leader-election`), `503` on a standby |
//! | `POST /v1/executions` | run a workflow given as YAML ([`Submission`], with optional `tags`): `201` with the execution, `422` with the compiler's messages |
//! | `POST /v1/test-workflows/{name}/executions` | run the cluster's TestWorkflow `name` (body: `{"config": {..}}`, optional) |
//! | `GET /v1/executions` | the latest executions (`?limit=`, default 100; `?parent=<id>`: only that execution's children; `?workflow=`; `?tag=k=v`, repeatable) |
//! | `GET /v1/executions/{id}` | one execution with its steps and outputs (id, name or unique id prefix) |
//! | `GET /v1/executions/{id}/logs` | its stored log, `text/plain` |
//! | `GET /v1/executions/{id}/tests` | the test cases read from its JUnit/xUnit reports, failures first, with counts per status ([`TestCaseReport`](testwerk_store::TestCaseReport)) |
//! | `GET /v1/executions/{id}/follow` | live updates as JSON lines: a `header`, then `update`s, then `end`; `?from=N` resumes after the first `N` log lines |
//! | `POST /v1/executions/{id}/abort`, `/pause`, `/resume` | control it |
//! | `GET /v1/queue` | the queued executions in the order they start, with the limits and how many run ([`crate::queue`]) |
//! | `GET /api/v1/executions/{id}/artifacts` | its artifacts (step, name, size, content type) |
//! | `GET /api/v1/executions/{id}/artifacts/{step}/{name…}` | one artifact's bytes |
//! | `PUT /api/v1/executions/{id}/artifacts/{step}/{name…}` | the toolkit's upload, with the execution's token ([`testwerk_artifacts::Receiver`]) |
//! | `/api/v1/executions/{id}/children…` | the toolkit asks for child executions, with the execution's token ([`crate::children`]) |

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use testwerk_results::Update;
use testwerk_routes::{Access, Route};
use testwerk_store::{ExecutionFilter, Store, StoreError};

use crate::submit::{Submission, SubmitError};
use crate::{Agent, control, kinds};

/// The API's routes (see the module docs); the server checks each caller's rights.
pub fn routes() -> Vec<Route<Arc<Agent>>> {
    vec![
        Route::get("/v1/health", || async { "ok" })
            .summary("`ok` once the agent serves")
            .access(Access::Public)
            .produces("text/plain"),
        Route::get("/v1/ready", ready)
            .summary("`200 leading` on the replica that runs executions, `503` on a standby")
            .access(Access::Public)
            .produces("text/plain"),
        Route::post("/v1/executions", create)
            .summary("Run a workflow given as YAML (with optional `config` and `tags`)")
            .access(Access::Run),
        Route::get("/v1/executions", list).summary(
            "The latest executions (`?limit=`, `?parent=`, `?workflow=`, `?tag=k=v` repeatable)",
        ),
        Route::post("/v1/test-workflows/{name}/executions", run_named)
            .summary("Run the cluster's TestWorkflow `name` (body: `{\"config\": {..}}`, optional)")
            .access(Access::Run),
        Route::get("/v1/executions/{id}", show)
            .summary("One execution with its steps and outputs (id, name or unique id prefix)"),
        Route::get("/v1/executions/{id}/logs", logs)
            .summary("Its stored log")
            .produces("text/plain"),
        Route::get("/v1/executions/{id}/events", events)
            .summary("What Kubernetes said about its Job and Pod"),
        Route::get("/v1/executions/{id}/tests", tests)
            .summary("Its test cases, failures first, with counts per status"),
        Route::get("/v1/executions/{id}/follow", follow)
            .summary("Live updates as JSON lines: `header`, `update`s, `end`; `?from=N` resumes")
            .produces("application/x-ndjson"),
        Route::post("/v1/executions/{id}/{action}", act)
            .summary("Abort, pause or resume it (`action`)")
            .access(Access::Control),
        Route::get("/v1/queue", queue)
            .summary("The queued executions in the order they start, the limit, how many run"),
    ]
}

/// Readiness: with `--leader-election` only the leader takes traffic (the Service routes to
/// ready Pods), so every request, the toolkit's included, reaches the replica that follows
/// the executions; a standby becomes ready within a probe period of taking the Lease.
async fn ready(State(agent): State<Arc<Agent>>) -> Response {
    if agent.leads() {
        (StatusCode::OK, "leading").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "standby: another replica holds the Lease and runs the executions",
        )
            .into_response()
    }
}

async fn queue(State(agent): State<Arc<Agent>>) -> Response {
    let waiting = match crate::queue::waiting(&agent) {
        Ok(w) => w,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let queued: Vec<Value> = waiting
        .iter()
        .enumerate()
        .map(|(position, e)| {
            let group = agent
                .store
                .execution(&e.id)
                .ok()
                .flatten()
                .and_then(|d| crate::blueprint::Blueprint::from_value(&d.plan).ok())
                .and_then(|b| b.limit)
                .map(|l| json!({"group": l.group, "max": l.max}));
            json!({
                "position": position + 1,
                "id": e.id,
                "name": e.name,
                "workflow": e.workflow,
                "createdAt": e.created_at,
                "limit": group,
            })
        })
        .collect();
    axum::Json(json!({
        "maxRunning": agent.queue.max_running(),
        "running": agent.queue.running(),
        "queued": queued,
    }))
    .into_response()
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({"error": message.into()}))).into_response()
}

fn submit_error(e: SubmitError) -> Response {
    match e {
        SubmitError::Input(messages) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(json!({"error": "the workflow is not valid", "details": messages})),
        )
            .into_response(),
        SubmitError::Agent(m) => error(StatusCode::INTERNAL_SERVER_ERROR, m),
    }
}

async fn create(
    State(agent): State<Arc<Agent>>,
    axum::Json(submission): axum::Json<Submission>,
) -> Response {
    match crate::submit::submit(&agent, submission).await {
        Ok(e) => (StatusCode::CREATED, axum::Json(e)).into_response(),
        Err(e) => submit_error(e),
    }
}

#[derive(Deserialize, Default)]
struct RunNamed {
    #[serde(default)]
    config: indexmap::IndexMap<String, String>,
}

async fn run_named(
    State(agent): State<Arc<Agent>>,
    Path(name): Path<String>,
    body: Option<axum::Json<RunNamed>>,
) -> Response {
    let found = match agent.catalog.workflow(&name).await {
        Ok(Some(w)) => w,
        Ok(None) => {
            return error(
                StatusCode::NOT_FOUND,
                format!("no TestWorkflow `{name}` in namespace {}", agent.namespace),
            );
        }
        Err(e) => return error(StatusCode::BAD_GATEWAY, e.to_string()),
    };
    let submission = Submission {
        source: kinds::to_yaml(&found, kinds::WORKFLOW),
        file: format!("TestWorkflow {name} (namespace {})", agent.namespace),
        workflow: Some(name),
        config: body.map(|b| b.0.config).unwrap_or_default(),
        owner: None,
        tags: Default::default(),
        links: Default::default(),
    };
    match crate::submit::submit(&agent, submission).await {
        Ok(e) => (StatusCode::CREATED, axum::Json(e)).into_response(),
        Err(e) => submit_error(e),
    }
}

/// `?limit=N&parent=ID&workflow=W&tag=K=V&tag=…`.
#[derive(Default)]
struct ListQuery {
    limit: Option<u32>,
    /// Only the children of this execution (by id).
    parent: Option<String>,
    workflow: Option<String>,
    /// Only executions with all of these tags.
    tags: std::collections::BTreeMap<String, String>,
}

impl ListQuery {
    fn parse(raw: Option<&str>) -> Result<ListQuery, String> {
        let mut q = ListQuery::default();
        for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            match key.as_ref() {
                "limit" => {
                    q.limit = Some(
                        value
                            .parse()
                            .map_err(|_| format!("limit `{value}`: a whole number"))?,
                    );
                }
                "parent" => q.parent = Some(value.into_owned()),
                "workflow" => q.workflow = Some(value.into_owned()),
                "tag" => {
                    let (k, v) = testwerk_store::tags::parse_filter(&value)?;
                    q.tags.insert(k, v);
                }
                other => return Err(format!("unknown query parameter `{other}`")),
            }
        }
        Ok(q)
    }
}

async fn list(
    State(agent): State<Arc<Agent>>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Response {
    let q = match ListQuery::parse(raw.as_deref()) {
        Ok(q) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let mut tags = q.tags;
    if let Some(parent) = q.parent {
        tags.insert(testwerk_protocol::children::PARENT_TAG.to_owned(), parent);
    }
    let filter = ExecutionFilter {
        limit: Some(q.limit.unwrap_or(100)),
        workflow: q.workflow,
        tags,
        ..Default::default()
    };
    match agent.store.list_executions(&filter) {
        Ok(list) => axum::Json(list).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn show(State(agent): State<Arc<Agent>>, Path(id): Path<String>) -> Response {
    match agent.store.execution(&id) {
        Ok(Some(d)) => {
            let trouble = agent.store_trouble(&d.execution.id);
            match (trouble, serde_json::to_value(&d)) {
                // Why it stays unfinished: the agent retries a store that refuses its results.
                (Some(why), Ok(mut doc)) => {
                    doc["storeError"] = Value::from(why);
                    axum::Json(doc).into_response()
                }
                _ => axum::Json(d).into_response(),
            }
        }
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no execution `{id}`")),
        Err(e) => error(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

async fn logs(State(agent): State<Arc<Agent>>, Path(id): Path<String>) -> Response {
    match agent.store.logs(&id, None) {
        Ok(lines) => {
            let mut text = String::new();
            for l in lines {
                text.push_str(&l.text);
                text.push('\n');
            }
            ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
        }
        Err(e) => error(StatusCode::NOT_FOUND, e.to_string()),
    }
}

/// What Kubernetes said about the execution's Job and Pod, oldest first.
async fn events(State(agent): State<Arc<Agent>>, Path(id): Path<String>) -> Response {
    match agent.store.events(&id) {
        Ok(events) => axum::Json(events).into_response(),
        Err(e) => error(StatusCode::NOT_FOUND, e.to_string()),
    }
}

/// The execution's test cases, failures first, with their counts.
async fn tests(State(agent): State<Arc<Agent>>, Path(id): Path<String>) -> Response {
    test_case_response(&agent.store, &id)
}

fn test_case_response(store: &Store, id: &str) -> Response {
    match store.test_case_report(id) {
        Ok(report) => axum::Json(report).into_response(),
        Err(e @ StoreError::NotFound { .. }) => error(StatusCode::NOT_FOUND, e.to_string()),
        Err(e @ (StoreError::InvalidInput(_) | StoreError::Ambiguous { .. })) => {
            error(StatusCode::BAD_REQUEST, e.to_string())
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn act(
    State(agent): State<Arc<Agent>>,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    match control::act(&agent, &id, &action).await {
        Ok(name) => axum::Json(json!({"ok": true, "execution": name})).into_response(),
        Err(control::ActError::NotRunning(m)) => error(StatusCode::CONFLICT, m),
        Err(control::ActError::Unknown(m)) => error(StatusCode::NOT_FOUND, m),
        Err(control::ActError::Failed(m)) => error(StatusCode::BAD_GATEWAY, m),
    }
}

#[derive(Deserialize, Default)]
struct FollowQuery {
    /// How many log lines the client has shown already (it lost the stream and resumes).
    #[serde(default)]
    from: u64,
}

/// How many stored lines one read hands over.
const STORED_LINES_PER_READ: u64 = 1_000;

/// One JSON document per line, flushed as it happens: a `header`, the `update`s (every log
/// line from `?from=` on, exactly once and in order; step updates may repeat what the client
/// saw before it lost the stream), then `end`. A stream that ends without `end` means "come
/// back": the agent stopped following for now (it restarts, or its store refused the
/// results).
async fn follow(
    State(agent): State<Arc<Agent>>,
    Path(id): Path<String>,
    Query(q): Query<FollowQuery>,
) -> Response {
    let detail = match agent.store.execution(&id) {
        Ok(Some(d)) => d,
        Ok(None) => return error(StatusCode::NOT_FOUND, format!("no execution `{id}`")),
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<String>(256);
    let blueprint = crate::blueprint::Blueprint::from_value(&detail.plan).ok();
    let header = json!({"kind": "header", "id": detail.execution.id, "name": detail.execution.name,
        "signature": blueprint.as_ref().map(|b| &b.signature),
        "fullSignature": blueprint.as_ref().map(|b| &b.full_signature),
        "containers": blueprint.as_ref().map_or(0, |b| b.containers.len())});
    let live = agent.live_by_query(&detail.execution.id);
    let mut out = Follower {
        tx,
        store: agent.store.clone(),
        id: detail.execution.id.clone(),
        next: q.from,
    };
    tokio::spawn(async move {
        if out.send(header).await.is_err() {
            return;
        }
        let Some(live) = live else {
            if !detail.execution.status.is_final() {
                // Not followed right now (the agent is recovering it): the client comes back.
                return;
            }
            // Over already (or not ours): what the store knows.
            if out.fill(u64::MAX).await.is_err() {
                return;
            }
            let end = json!({"kind": "end", "status": detail.execution.status, "reason": detail.execution.reason, "steps": detail.steps});
            // The client may have gone: nothing left to tell it then.
            out.send(end).await.ok();
            return;
        };
        let mut outcome = live.outcome();
        let mut detached = live.detached();
        let (history, mut updates) = live.subscribe();
        for p in history {
            if out.deliver(p).await.is_err() {
                return;
            }
        }
        loop {
            tokio::select! {
                u = updates.recv() => match u {
                    Ok(p) => if out.deliver(p).await.is_err() { return; },
                    // Log lines missed are read from the store with the next one delivered.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(_) => break,
                },
                // (The watch's guard is not `Send`: dropped inside.)
                _ = async { detached.wait_for(|d| *d).await.is_ok() } => return,
                o = async { outcome.wait_for(Option::is_some).await.ok().and_then(|o| (*o).clone()) } => {
                    // Drain what was sent before the end.
                    while let Ok(p) = updates.try_recv() {
                        if out.deliver(p).await.is_err() { return; }
                    }
                    if out.fill(u64::MAX).await.is_err() {
                        return;
                    }
                    let end = json!({"kind": "end", "status": o.as_ref().map(|o| o.status), "reason": o.and_then(|o| o.reason)});
                    out.send(end).await.ok();
                    return;
                }
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|l| (Ok::<_, Infallible>(l), rx))
    });
    (
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(stream),
    )
        .into_response()
}

/// The stream ends here: the client gave up on it, or must come back later for what the
/// store does not hold yet.
struct Gone;

/// One follow stream: hands over each log line once, in order, from the live updates, and
/// from the store for the lines the live history no longer holds.
struct Follower {
    tx: tokio::sync::mpsc::Sender<String>,
    store: Arc<testwerk_store::Store>,
    id: String,
    /// The number of the next log line the client needs.
    next: u64,
}

impl Follower {
    async fn send(&mut self, v: Value) -> Result<(), Gone> {
        self.tx.send(format!("{v}\n")).await.map_err(|_| Gone)
    }

    async fn deliver(&mut self, p: crate::live::Published) -> Result<(), Gone> {
        match p.log {
            None => self.send(update(&p.update)).await,
            Some(n) if n < self.next => Ok(()),
            Some(n) => {
                if n > self.next {
                    self.fill(n).await?;
                }
                self.next = n + 1;
                self.send(update(&p.update)).await
            }
        }
    }

    /// Sends the stored lines from `next` up to (not including) `to`, or to the end of the
    /// store's log with `u64::MAX`. The monitor writes a line within a moment of publishing
    /// it, so lines not stored yet are waited for a little.
    async fn fill(&mut self, to: u64) -> Result<(), Gone> {
        let mut waited = 0;
        while self.next < to {
            let limit = (to - self.next).min(STORED_LINES_PER_READ);
            let lines = match self.store.logs_from(&self.id, self.next, limit) {
                Ok(l) => l,
                Err(e) => {
                    let w = Update::Warning {
                        message: format!("log lines from {} on could not be read: {e}", self.next),
                    };
                    return self.send(update(&w)).await;
                }
            };
            if lines.is_empty() {
                if to == u64::MAX {
                    return Ok(());
                }
                if waited >= 50 {
                    // Not stored (the store refuses them, say): skipping them would leave a
                    // hole in what the client shows. The stream ends instead, and the client
                    // comes back from `next` once the agent has stored them.
                    tracing::info!(
                        execution = %self.id,
                        "log lines {}..{to} are not in the store yet; ending a follow stream so that its client comes back for them",
                        self.next
                    );
                    return Err(Gone);
                }
                waited += 1;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
            for l in lines {
                // The stored log has no holes ([`testwerk_results::Recorder`]), so `seq`
                // is `next`; trusting it keeps a damaged store from looping here.
                self.next = l.seq + 1;
                let u = Update::Log {
                    r#ref: l.step_ref,
                    line: l.text,
                };
                self.send(update(&u)).await?;
            }
        }
        Ok(())
    }
}

fn update(u: &Update) -> Value {
    let update = serde_json::to_value(u).unwrap_or(Value::Null);
    json!({"kind": "update", "update": update})
}

#[cfg(test)]
mod tests {
    use super::*;
    use testwerk_store::{CaseStatus, LogLine, NewExecution, TestCase};

    /// `GET /v1/executions/{id}/tests` answers with the store's report; an unknown id is 404.
    #[tokio::test]
    async fn tests_are_served_failures_first_and_an_unknown_execution_is_not_found() {
        let dir = tempfile_dir("tests");
        let store = Store::open(dir.join("db")).unwrap_or_else(|e| panic!("{e}"));
        let e = store
            .create_execution(NewExecution::new("junit", "", json!({})))
            .unwrap_or_else(|e| panic!("{e}"));
        let case = |name: &str, status| TestCase {
            suite: "s".into(),
            class: None,
            name: name.into(),
            time_ms: None,
            status,
            message: None,
        };
        store
            .record_test_cases(
                &e.id,
                "r1",
                "report.xml",
                &[
                    case("ok", CaseStatus::Passed),
                    case("bad", CaseStatus::Failed),
                ],
            )
            .unwrap_or_else(|e| panic!("{e}"));

        let response = test_case_response(&store, &e.name);
        assert_eq!(response.status(), StatusCode::OK);
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let v: Value = serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v["execution"], e.id.as_str());
        assert_eq!(v["counts"]["failed"], 1);
        assert_eq!(v["counts"]["passed"], 1);
        assert_eq!(v["cases"][0]["name"], "bad");
        assert_eq!(v["cases"][0]["report"], "report.xml");

        let response = test_case_response(&store, "junit-7");
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn the_list_query_takes_repeated_tags_and_names_what_it_does_not_know() {
        let q = ListQuery::parse(Some(
            "limit=5&tag=team%3Dpayments&tag=tier=1&workflow=smoke",
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(q.limit, Some(5));
        assert_eq!(q.workflow.as_deref(), Some("smoke"));
        assert_eq!(q.tags.get("team").map(String::as_str), Some("payments"));
        assert_eq!(q.tags.get("tier").map(String::as_str), Some("1"));
        assert!(ListQuery::parse(None).is_ok());
        let err = ListQuery::parse(Some("tag=novalue"))
            .err()
            .unwrap_or_default();
        assert!(err.contains("expected KEY=VALUE"), "{err}");
        let err = ListQuery::parse(Some("limt=5")).err().unwrap_or_default();
        assert!(err.contains("unknown query parameter `limt`"), "{err}");
    }

    /// A submission's `tags` are the person's; testwerk's own links cannot be sent.
    #[test]
    fn a_submission_carries_tags_but_never_links() {
        let s: crate::submit::Submission = serde_json::from_value(json!({
            "source": "x", "file": "f.yaml",
            "tags": {"team": "payments"},
            "links": {"testwerk.io/parent": "someone-else"},
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.tags.get("team").map(String::as_str), Some("payments"));
        assert!(s.links.is_empty());
    }

    fn tempfile_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("testwerk-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        dir
    }

    /// What `follow` does for a finished execution, before its `end`: the stored lines from
    /// `?from=` on, each once and in order (over several store reads), then nothing more.
    /// A client that fell behind the live lines gets the ones it missed from the store; lines
    /// the store does not hold (it refused them) end the stream rather than leave a hole: the
    /// client comes back for them.
    #[tokio::test]
    async fn lines_the_store_lacks_end_the_stream_instead_of_being_skipped() {
        let dir = std::env::temp_dir().join(format!("testwerk-gap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let store = Arc::new(Store::open(dir.join("db")).unwrap_or_else(|e| panic!("{e}")));
        let e = store
            .create_execution(NewExecution::new("gap", "", json!({})))
            .unwrap_or_else(|e| panic!("{e}"));
        let lines: Vec<LogLine> = (0..10)
            .map(|n| LogLine::new(None, format!("line {n}")))
            .collect();
        store
            .append_logs(&e.id, &lines)
            .unwrap_or_else(|e| panic!("{e}"));
        let (tx, mut rx) = tokio::sync::mpsc::channel(100);
        let mut follower = Follower {
            tx,
            store: Arc::clone(&store),
            id: e.id.clone(),
            next: 5,
        };
        // Line 20 arrives live; 5..9 are stored, 10..19 are not.
        let live = crate::live::Published {
            log: Some(20),
            update: Update::Log {
                r#ref: None,
                line: "line 20".into(),
            },
        };
        assert!(follower.deliver(live).await.is_err(), "the stream ends");
        assert_eq!(follower.next, 10, "the client has what it was sent");
        drop(follower);
        let mut got = Vec::new();
        while let Some(line) = rx.recv().await {
            let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}"));
            got.push(
                v["update"]["data"]["line"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
            );
        }
        let expected: Vec<String> = (5..10).map(|n| format!("line {n}")).collect();
        assert_eq!(got, expected, "no warning, no line 20 after a hole");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[tokio::test]
    async fn a_finished_execution_hands_over_its_stored_lines_from_where_the_client_was() {
        let dir = std::env::temp_dir().join(format!("testwerk-follow-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let store = Arc::new(Store::open(dir.join("db")).unwrap_or_else(|e| panic!("{e}")));
        let e = store
            .create_execution(NewExecution::new("done", "", json!({})))
            .unwrap_or_else(|e| panic!("{e}"));
        let lines: Vec<LogLine> = (0..2500)
            .map(|n| LogLine::new(None, format!("line {n}")))
            .collect();
        store
            .append_logs(&e.id, &lines)
            .unwrap_or_else(|e| panic!("{e}"));
        let (tx, mut rx) = tokio::sync::mpsc::channel(10_000);
        let mut follower = Follower {
            tx,
            store: Arc::clone(&store),
            id: e.id.clone(),
            next: 1200,
        };
        assert!(follower.fill(u64::MAX).await.is_ok());
        assert!(follower.fill(u64::MAX).await.is_ok(), "nothing is left");
        drop(follower);
        let mut got = Vec::new();
        while let Some(line) = rx.recv().await {
            let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}"));
            got.push(
                v["update"]["data"]["line"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
            );
        }
        let expected: Vec<String> = (1200..2500).map(|n| format!("line {n}")).collect();
        assert_eq!(got, expected);
        std::fs::remove_dir_all(&dir).ok();
    }
}
