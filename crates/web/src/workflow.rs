//! A workflow's page: its health over the last runs and each test case's history, with the
//! flaky ones flagged (computed by `testwerk-insights`).

use std::fmt::Write;
use std::hash::{Hash, Hasher};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use testwerk_insights::{CaseHistory, CaseOutcome, Flaky, Health, Outcome, Run};
use testwerk_store::{CaseStatus, Execution, ExecutionFilter, ExecutionStatus, Store, StoreError};

use crate::html::{duration, esc, execution_badge, page as frame, time, url};
use crate::{SiteState, blocking, error_page, store_error_page};

/// Runs looked at unless `?runs=` says otherwise, and the most it may say.
pub const RUNS: u32 = 50;
pub const MAX_RUNS: u32 = 500;

/// The user tag that names the code a run tested (`testwerk run --tag revision=$GIT_SHA`).
pub const REVISION_TAG: &str = "revision";
/// Where both backends record the configuration a run was given.
pub const CONFIG_TAG: &str = testwerk_store::tags::CONFIG_TAG;

#[derive(Deserialize, Default)]
pub struct InsightsQuery {
    runs: Option<u32>,
}

/// What the page shows.
pub struct Insights {
    pub workflow: String,
    pub executions: Vec<Execution>,
    pub health: Health,
    pub cases: Vec<CaseHistory>,
}

/// What a run was given, as a key: the revision tag, the configuration and the workflow's
/// source as run (which pins `content.git.revision` when the workflow does).
fn inputs(e: &Execution, source: &str) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    e.tags.get(REVISION_TAG).hash(&mut h);
    e.tags.get(CONFIG_TAG).hash(&mut h);
    source.hash(&mut h);
    format!("{:016x}", h.finish())
}

pub fn read(store: &Store, workflow: &str, runs: u32) -> Result<Insights, StoreError> {
    let executions = store.list_executions(&ExecutionFilter {
        workflow: Some(workflow.to_owned()),
        limit: Some(runs.clamp(1, MAX_RUNS)),
        ..Default::default()
    })?;
    let mut history = Vec::with_capacity(executions.len());
    for e in &executions {
        let source = store
            .execution(&e.id)?
            .map(|d| d.source)
            .unwrap_or_default();
        let cases = store
            .test_cases(&e.id)?
            .into_iter()
            .map(|t| {
                let id = match &t.case.class {
                    Some(class) => format!("{} › {class}.{}", t.case.suite, t.case.name),
                    None => format!("{} › {}", t.case.suite, t.case.name),
                };
                let outcome = match t.case.status {
                    CaseStatus::Passed => CaseOutcome::Passed,
                    CaseStatus::Failed | CaseStatus::Error => CaseOutcome::Failed,
                    CaseStatus::Skipped => CaseOutcome::Skipped,
                };
                (id, outcome)
            })
            .collect();
        history.push(Run {
            name: e.name.clone(),
            outcome: match e.status {
                ExecutionStatus::Passed => Outcome::Passed,
                ExecutionStatus::Failed => Outcome::Failed,
                _ => Outcome::Inconclusive,
            },
            duration_ms: e
                .started_at
                .zip(e.finished_at)
                .and_then(|(s, f)| f.millis_since(s)),
            inputs: inputs(e, &source),
            cases,
        });
    }
    Ok(Insights {
        workflow: workflow.to_owned(),
        health: testwerk_insights::health(&history),
        cases: testwerk_insights::case_histories(&history),
        executions,
    })
}

pub async fn page(
    State(site): State<SiteState>,
    Path(name): Path<String>,
    Query(q): Query<InsightsQuery>,
) -> Response {
    let store = site.store.clone();
    let n = name.clone();
    match blocking(move || read(&store, &n, q.runs.unwrap_or(RUNS))).await {
        Ok(i) if i.executions.is_empty() => error_page(
            StatusCode::NOT_FOUND,
            &format!("no execution of workflow `{name}`"),
        ),
        Ok(i) => Html(render(&i)).into_response(),
        Err(e) => store_error_page(&e),
    }
}

/// `GET /v1/workflows/{name}/insights`: the same as JSON.
pub async fn insights(
    State(site): State<SiteState>,
    Path(name): Path<String>,
    Query(q): Query<InsightsQuery>,
) -> Response {
    let store = site.store.clone();
    match blocking(move || read(&store, &name, q.runs.unwrap_or(RUNS))).await {
        Ok(i) => axum::Json(serde_json::json!({
            "workflow": i.workflow,
            "runs": i.executions.iter().map(|e| serde_json::json!({"name": e.name, "id": e.id, "status": e.status})).collect::<Vec<_>>(),
            "health": i.health,
            "cases": i.cases,
        }))
        .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(serde_json::json!({"error": e.to_string()}))).into_response(),
    }
}

fn percent(r: Option<f64>) -> String {
    r.map_or("–".into(), |r| format!("{:.0}%", r * 100.0))
}

pub fn render(i: &Insights) -> String {
    let h = &i.health;
    let mut body = format!(
        r#"<h1>Workflow {name}</h1>
<div class="health" id="health">
<div><b>{pass}</b><span>pass rate</span></div>
<div><b>{flip}</b><span>flip rate</span></div>
<div><b>{p50}</b><span>p50 duration</span></div>
<div><b>{p95}</b><span>p95 duration</span></div>
<div><b>{runs}</b><span>runs ({passed} passed, {failed} failed)</span></div>
</div>
<p><a href="/?workflow={wu}">All executions of {name}</a></p>
<section><h2>Last runs</h2><div class="runs">"#,
        name = esc(&i.workflow),
        wu = url(&i.workflow),
        pass = percent(h.pass_rate),
        flip = percent(h.flip_rate),
        p50 = h.p50_ms.map(duration).unwrap_or("–".into()),
        p95 = h.p95_ms.map(duration).unwrap_or("–".into()),
        runs = h.runs,
        passed = h.passed,
        failed = h.failed,
    );
    for e in &i.executions {
        let _ = write!(
            body,
            r#"<a href="/executions/{}" title="{} {}">{}</a>"#,
            url(&e.id),
            esc(&e.name),
            e.status,
            execution_badge(e.status)
        );
    }
    body.push_str("</div></section>");
    if !i.cases.is_empty() {
        let flaky = i.cases.iter().filter(|c| c.flaky.is_some()).count();
        let _ = write!(
            body,
            r#"<section><h2>Test cases <small>{} cases, {flaky} flaky</small></h2><table class="history" id="history"><tr><th>Case</th><th>Flaky</th><th>Failures</th><th>History (newest first)</th></tr>"#,
            i.cases.len()
        );
        for c in &i.cases {
            let why = match &c.flaky {
                Some(Flaky::SameInputs { passed, failed }) => format!(
                    r#"<span class="flaky" title="passed in {0} and failed in {1} with the same revision and configuration">flaky</span> <small>passed in {0}, failed in {1}</small>"#,
                    esc(passed),
                    esc(failed)
                ),
                Some(Flaky::PassedOnRetry { run }) => format!(
                    r#"<span class="flaky" title="failed, then passed on retry">flaky</span> <small>passed on retry in {}</small>"#,
                    esc(run)
                ),
                None => String::new(),
            };
            let dots: String = c
                .results
                .iter()
                .map(|(run, o)| {
                    let o = match o {
                        CaseOutcome::Passed => "passed",
                        CaseOutcome::Failed => "failed",
                        CaseOutcome::Skipped => "skipped",
                    };
                    format!(r#"<i class="dot s-{o}" title="{} {o}"></i>"#, esc(run))
                })
                .collect();
            let _ = write!(
                body,
                r#"<tr{cls}><td>{case}</td><td>{why}</td><td>{fails}</td><td>{dots}</td></tr>"#,
                cls = if c.flaky.is_some() {
                    r#" class="is-flaky""#
                } else {
                    ""
                },
                case = esc(&c.case),
                fails = c.failures(),
            );
        }
        body.push_str("</table></section>");
    }
    if let Some(last) = i.executions.first() {
        let _ = write!(
            body,
            "<p class=\"meta\">last run {}</p>",
            time(last.created_at)
        );
    }
    frame(&format!("Workflow {}", i.workflow), &body)
}
