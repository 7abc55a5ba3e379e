//! Child executions on the cluster: parallel workers, services and executed workflows.
//!
//! The execution's toolkit asks over the agent's API, with the execution's own token
//! ([`testwerk_protocol::children`]); the agent submits each child as an execution of its own,
//! under its own rights, so the execution's ServiceAccount needs none. Children are tagged with
//! their parent ([`PARENT_TAG`]); when the parent ends, its workers and services still running
//! are aborted ([`settle`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use testwerk_protocol::children::{
    ChildKind, ChildRequest, ChildStarted, ChildState, ChildWorkflow, KIND_TAG, NEXT_HEADER,
    PARENT_STEP_TAG, PARENT_TAG, Selected, Selection, StopGroup, Stopped, named_document,
};
use testwerk_routes::{Access, Route};
use testwerk_store::{ExecutionFilter, ExecutionStatus};

use testwerk_children::check::Parent;
use testwerk_protocol::plan::WirePlan;

use crate::blueprint::Blueprint;
use crate::submit::{Submission, SubmitError};
use crate::{Agent, control, kinds};

/// The route every child request is under.
const ROUTE: &str = "/api/v1/executions/{parent}/children";
/// Log lines sent in one answer.
const LOG_LINES_PER_ANSWER: u64 = 2000;
/// How long stopped services may take to end.
const STOP_WAIT: Duration = Duration::from_secs(60);

/// The toolkit's routes; each checks the execution's own token.
pub fn routes() -> Vec<Route<Arc<Agent>>> {
    let own = |r: Route<Arc<Agent>>| r.access(Access::OwnToken);
    vec![
        own(Route::post(ROUTE, start).summary("The toolkit starts child executions")),
        own(Route::post(format!("{ROUTE}/select"), select)
            .summary("The toolkit picks which children run")),
        own(Route::post(format!("{ROUTE}/stop"), stop).summary("The toolkit stops its children")),
        own(Route::get(format!("{ROUTE}/{{id}}"), state)
            .summary("A child's state, for the toolkit")),
        own(Route::get(format!("{ROUTE}/{{id}}/logs"), logs)
            .summary("A child's log, for the toolkit")
            .produces("text/plain")),
        own(Route::post(format!("{ROUTE}/{{id}}/abort"), abort)
            .summary("The toolkit aborts a child")),
        own(Route::post(format!("{ROUTE}/{{id}}/resume"), resume)
            .summary("The toolkit resumes a child")),
        own(Route::get(format!("{ROUTE}/{{id}}/files/{{name}}"), file)
            .summary("A file a child's parent packed for it")
            .produces("application/octet-stream")),
    ]
}

/// Where execution `execution`'s toolkit asks for children, given the agent's URL as Pods
/// reach it.
pub fn endpoint(
    agent: &Agent,
    base_url: &str,
    execution: &str,
) -> testwerk_protocol::children::ChildrenEndpoint {
    testwerk_protocol::children::ChildrenEndpoint {
        url: format!(
            "{}{}",
            base_url.trim_end_matches('/'),
            ROUTE.replace("{parent}", execution)
        ),
        token: agent.artifacts.tokens().token(execution),
        shared: None,
    }
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": message.into()}))).into_response()
}

/// `Some(401)` unless the request carries `parent`'s token.
fn refused(agent: &Agent, parent: &str, headers: &HeaderMap) -> Option<Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match token {
        Some(t) if agent.artifacts.tokens().verify(parent, t) => None,
        _ => Some(error(
            StatusCode::UNAUTHORIZED,
            "a token of this execution is needed",
        )),
    }
}

/// The children of `parent`, optionally only those of one step and kind.
fn children_of(
    agent: &Agent,
    parent: &str,
    step: Option<&str>,
    kind: Option<ChildKind>,
) -> Result<Vec<testwerk_store::Execution>, String> {
    let mut tags = BTreeMap::from([(PARENT_TAG.to_owned(), parent.to_owned())]);
    if let Some(step) = step {
        tags.insert(PARENT_STEP_TAG.to_owned(), step.to_owned());
    }
    if let Some(kind) = kind {
        tags.insert(KIND_TAG.to_owned(), kind.as_str().to_owned());
    }
    agent
        .store
        .list_executions(&ExecutionFilter {
            tags,
            ..Default::default()
        })
        .map_err(|e| e.to_string())
}

/// `Some(answer)` unless the request carries `parent`'s token and `id` is its child.
fn guard(agent: &Agent, parent: &str, id: &str, headers: &HeaderMap) -> Option<Response> {
    if let Some(denied) = refused(agent, parent, headers) {
        return Some(denied);
    }
    match is_child(agent, parent, id) {
        Ok(true) => None,
        Ok(false) => Some(error(
            StatusCode::NOT_FOUND,
            "no such child of this execution",
        )),
        Err(e) => Some(error(StatusCode::INTERNAL_SERVER_ERROR, e)),
    }
}

/// Whether `id` is a child of `parent`.
fn is_child(agent: &Agent, parent: &str, id: &str) -> Result<bool, String> {
    Ok(agent
        .store
        .execution(id)
        .map_err(|e| e.to_string())?
        .is_some_and(|d| d.execution.tags.get(PARENT_TAG).map(String::as_str) == Some(parent)))
}

async fn start(
    State(agent): State<Arc<Agent>>,
    Path(parent): Path<String>,
    headers: HeaderMap,
    Json(request): Json<ChildRequest>,
) -> Response {
    if let Some(denied) = refused(&agent, &parent, &headers) {
        return denied;
    }
    let parent_detail = match agent.store.execution(&parent) {
        Ok(Some(d)) => d,
        Ok(None) => return error(StatusCode::NOT_FOUND, "no such execution"),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let parent_workflow = parent_detail.execution.workflow.clone();
    let (source, file, workflow, labels) = match &request.workflow {
        ChildWorkflow::Document(doc) => {
            let (doc, name) = named_document(doc, &parent_workflow);
            (
                serde_json::to_string_pretty(&doc).unwrap_or_default(),
                format!("{} of {parent_workflow}", request.kind.as_str()),
                name,
                None,
            )
        }
        ChildWorkflow::Named(name) => match agent.catalog.workflow(name).await {
            Ok(Some(found)) => (
                kinds::to_yaml(&found, kinds::WORKFLOW),
                format!("TestWorkflow {name} (namespace {})", agent.namespace),
                name.clone(),
                found.metadata.labels.clone(),
            ),
            Ok(None) => {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("no TestWorkflow `{name}` in namespace {}", agent.namespace),
                );
            }
            Err(e) => return error(StatusCode::BAD_GATEWAY, e.to_string()),
        },
    };
    // The token is readable by the parent's test code: only what its plan declares starts.
    if let Err(refusal) = allowed(&agent, &parent_detail, &request, labels.as_ref()) {
        tracing::warn!(execution = %parent, "child refused: {refusal}");
        return error(StatusCode::FORBIDDEN, refusal);
    }
    let submission = Submission {
        source,
        file,
        workflow: Some(workflow),
        config: request
            .config
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        owner: None,
        tags: BTreeMap::new(),
        links: BTreeMap::from([
            (PARENT_TAG.to_owned(), parent.clone()),
            (PARENT_STEP_TAG.to_owned(), request.parent_ref.clone()),
            (KIND_TAG.to_owned(), request.kind.as_str().to_owned()),
        ]),
    };
    match crate::submit::submit(&agent, submission).await {
        Ok(e) => (StatusCode::CREATED, Json(ChildStarted { id: e.id })).into_response(),
        Err(SubmitError::Input(messages)) => {
            error(StatusCode::UNPROCESSABLE_ENTITY, messages.join("\n\n"))
        }
        Err(SubmitError::Agent(m)) => error(StatusCode::INTERNAL_SERVER_ERROR, m),
    }
}

/// `Ok` when `request` is a child the plan the agent compiled for `parent` starts; `labels`
/// are those of the workflow it names (for `execute` with a selector).
fn allowed(
    agent: &Agent,
    parent: &testwerk_store::ExecutionDetail,
    request: &ChildRequest,
    labels: Option<&BTreeMap<String, String>>,
) -> Result<(), String> {
    let blueprint = Blueprint::from_value(&parent.plan)?;
    let plan: WirePlan = serde_json::from_value(blueprint.plan)
        .map_err(|e| format!("the parent's stored plan is not readable: {e}"))?;
    let sink = agent
        .artifact_sink(&parent.execution.id)
        .and_then(|s| s.shared);
    let named = match &request.workflow {
        ChildWorkflow::Named(name) => Some(name.as_str()),
        ChildWorkflow::Document(_) => None,
    };
    let matches =
        |selection: &Selection, name: &str| named == Some(name) && selection.matches(labels);
    Parent {
        plan: &plan,
        sink: sink.as_deref(),
    }
    .check(request, &matches)
    .map_err(|r| r.to_string())
}

fn child_state(agent: &Agent, id: &str) -> Result<Option<ChildState>, String> {
    let Some(d) = agent.store.execution(id).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let paused = d.a_step_paused();
    let started = d.a_step_started();
    let e = d.execution;
    let resource: String = testwerk_plan::dns_label(&e.name).chars().take(57).collect();
    let ip = agent
        .view
        .pod(&resource)
        .and_then(|p| p.status)
        .and_then(|s| s.pod_ip);
    Ok(Some(ChildState {
        id: e.id,
        name: Some(e.name),
        status: e.status.as_str().to_owned(),
        reason: e.reason,
        ip,
        started,
        paused,
    }))
}

async fn state(
    State(agent): State<Arc<Agent>>,
    Path((parent, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(denied) = guard(&agent, &parent, &id, &headers) {
        return denied;
    }
    match child_state(&agent, &id) {
        Ok(Some(s)) => Json(s).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "no such child of this execution"),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

#[derive(serde::Deserialize)]
struct LogsFrom {
    #[serde(default)]
    from: u64,
}

async fn logs(
    State(agent): State<Arc<Agent>>,
    Path((parent, id)): Path<(String, String)>,
    Query(query): Query<LogsFrom>,
    headers: HeaderMap,
) -> Response {
    if let Some(denied) = guard(&agent, &parent, &id, &headers) {
        return denied;
    }
    match agent.store.logs_from(&id, query.from, LOG_LINES_PER_ANSWER) {
        Ok(lines) => {
            let (text, next) = testwerk_store::lines_as_text(&lines, query.from);
            ([(NEXT_HEADER, next.to_string())], text).into_response()
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// A child's artifact: a redirect to the receiver that serves it.
async fn file(
    State(agent): State<Arc<Agent>>,
    Path((parent, id, name)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(denied) = guard(&agent, &parent, &id, &headers) {
        return denied;
    }
    match testwerk_artifacts::location(&agent.store, agent.artifacts.tokens(), &id, &name) {
        Ok(Some(path)) => axum::response::Redirect::temporary(&path).into_response(),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            format!("the child kept no artifact `{name}`"),
        ),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn resume(
    State(agent): State<Arc<Agent>>,
    Path((parent, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(denied) = guard(&agent, &parent, &id, &headers) {
        return denied;
    }
    let Some(live) = agent.live_by_query(&id) else {
        return error(StatusCode::CONFLICT, "the child is not running");
    };
    match control::resume(&agent, &live).await {
        Ok(()) => Json(json!({})).into_response(),
        Err(e) => error(StatusCode::BAD_GATEWAY, e),
    }
}

async fn abort(
    State(agent): State<Arc<Agent>>,
    Path((parent, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(denied) = guard(&agent, &parent, &id, &headers) {
        return denied;
    }
    if let Some(live) = agent.live_by_query(&id)
        && let Err(e) = control::abort(&agent, &live).await
    {
        return error(StatusCode::BAD_GATEWAY, e);
    }
    Json(json!({})).into_response()
}

async fn select(
    State(agent): State<Arc<Agent>>,
    Path(parent): Path<String>,
    headers: HeaderMap,
    Json(selection): Json<Selection>,
) -> Response {
    if let Some(denied) = refused(&agent, &parent, &headers) {
        return denied;
    }
    match agent.catalog.workflows_labelled(&selection).await {
        Ok(mut names) => {
            names.sort();
            Json(Selected { names }).into_response()
        }
        Err(e) => error(StatusCode::BAD_GATEWAY, e.to_string()),
    }
}

async fn stop(
    State(agent): State<Arc<Agent>>,
    Path(parent): Path<String>,
    headers: HeaderMap,
    Json(group): Json<StopGroup>,
) -> Response {
    if let Some(denied) = refused(&agent, &parent, &headers) {
        return denied;
    }
    let services = match children_of(
        &agent,
        &parent,
        Some(&group.parent_ref),
        Some(ChildKind::Service),
    ) {
        Ok(s) => s,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    let ids: Vec<String> = services.into_iter().map(|e| e.id).collect();
    abort_all(&agent, &ids).await;
    let mut children = Vec::new();
    for id in &ids {
        match child_state(&agent, id) {
            Ok(Some(s)) => children.push(s),
            Ok(None) => {}
            Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e),
        }
    }
    Json(Stopped { children }).into_response()
}

/// Aborts the executions `ids` that still run and waits (bounded) until each has ended.
async fn abort_all(agent: &Arc<Agent>, ids: &[String]) {
    for id in ids {
        if let Some(live) = agent.live_by_query(id)
            && let Err(e) = control::abort(agent, &live).await
        {
            tracing::warn!(child = %id, error = %e, "cannot abort a child execution");
        }
    }
    let deadline = tokio::time::Instant::now() + STOP_WAIT;
    for id in ids {
        while tokio::time::Instant::now() < deadline {
            let done = agent
                .store
                .execution(id)
                .ok()
                .flatten()
                .is_none_or(|d| d.execution.status.is_final());
            if done {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Execution `parent` has ended: its workers and services still running are aborted (their
/// step is over); workflows it started with `execute` go on, as executions of their own.
pub async fn settle(agent: &Arc<Agent>, parent: &str) {
    let running: Vec<String> = match children_of(agent, parent, None, None) {
        Ok(all) => all
            .into_iter()
            .filter(|e| {
                !matches!(e.tags.get(KIND_TAG).map(String::as_str), Some("execution"))
                    && matches!(e.status, ExecutionStatus::Queued | ExecutionStatus::Running)
            })
            .map(|e| e.id)
            .collect(),
        Err(e) => {
            tracing::warn!(execution = %parent, error = %e, "cannot list the children to stop");
            return;
        }
    };
    if !running.is_empty() {
        tracing::info!(execution = %parent, count = running.len(), "stopping the children of an ended execution");
        abort_all(agent, &running).await;
    }
}
