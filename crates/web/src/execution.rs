//! One execution's page: its step tree with a timeline, a window of its log (the tail unless
//! asked otherwise, searchable on the server), outputs, test cases (failures first),
//! artifacts, Kubernetes events and the buttons.

use std::collections::BTreeMap;
use std::fmt::Write;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use testwerk_store::{
    ArtifactRecord, ClusterEvent, ExecutionDetail, StepResult, StoredLogLine, TestCaseReport,
    Timestamp,
};

use crate::html::{badge, duration, esc, execution_badge, page as frame, time, took, url};
use crate::{Command, SiteState, blocking, error_page, store_error_page};

/// Log lines the page shows at once.
pub const LOG_WINDOW: u64 = 1_000;
/// Search hits the page shows at most.
pub const MAX_HITS: u64 = 1_000;

#[derive(Deserialize, Default)]
pub struct PageQuery {
    /// The first log line to show (counted from 0); the tail without it.
    log_from: Option<u64>,
    /// Search the log for this text.
    q: Option<String>,
}

/// Everything the page shows, read in one go.
pub struct Loaded {
    pub detail: ExecutionDetail,
    pub log_count: u64,
    pub log: Vec<StoredLogLine>,
    /// `Some` when the page searched the log.
    pub hits: Option<Vec<StoredLogLine>>,
    /// The step of the line before the window, so that its header is not repeated.
    pub step_before: Option<String>,
    pub tests: TestCaseReport,
    pub artifacts: Vec<ArtifactRecord>,
    pub events: Vec<ClusterEvent>,
}

pub fn load(
    store: &testwerk_store::Store,
    id: &str,
    log_from: Option<u64>,
    search: Option<&str>,
) -> Result<Option<Loaded>, testwerk_store::StoreError> {
    let Some(detail) = store.execution(id)? else {
        return Ok(None);
    };
    let id = detail.execution.id.clone();
    let log_count = store.log_count(&id)?;
    let from = log_from
        .unwrap_or_else(|| log_count.saturating_sub(LOG_WINDOW))
        .min(log_count);
    let log = store.logs_from(&id, from, LOG_WINDOW)?;
    let step_before = match from.checked_sub(1) {
        Some(n) => store.logs_from(&id, n, 1)?.pop().and_then(|l| l.step_ref),
        None => None,
    };
    let hits = match search.filter(|s| !s.is_empty()) {
        Some(s) => Some(store.search_logs(&id, s, MAX_HITS)?),
        None => None,
    };
    Ok(Some(Loaded {
        log_count,
        log,
        hits,
        step_before,
        tests: store.test_case_report(&id)?,
        artifacts: store.artifacts(&id)?,
        events: store.events(&id)?,
        detail,
    }))
}

pub async fn page(
    State(site): State<SiteState>,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    let store = site.store.clone();
    let search = q.q.clone();
    let id2 = id.clone();
    match blocking(move || load(&store, &id2, q.log_from, search.as_deref())).await {
        Ok(Some(loaded)) => Html(render(&loaded, q.q.as_deref())).into_response(),
        Ok(None) => error_page(StatusCode::NOT_FOUND, &format!("no execution `{id}`")),
        Err(e) => store_error_page(&e),
    }
}

pub fn render(l: &Loaded, search: Option<&str>) -> String {
    let e = &l.detail.execution;
    let idu = url(&e.id);
    let mut body = String::new();
    let tags: String = e
        .tags
        .iter()
        .map(|(k, v)| format!(r#"<span class="tag">{}={}</span>"#, esc(k), esc(v)))
        .collect();
    let _ = write!(
        body,
        r#"<h1>{name} <span id="status">{badge}</span></h1>
<p class="meta">workflow <a href="/workflows/{wu}">{workflow}</a> · created {created} · <span id="took">{took}</span> · id <code>{id}</code> {tags}</p>
<p class="reason" id="reason">{reason}</p>
<div class="buttons">{buttons}</div>"#,
        name = esc(&e.name),
        badge = execution_badge(e.status),
        wu = url(&e.workflow),
        workflow = esc(&e.workflow),
        created = time(e.created_at),
        took = took(e.started_at, e.finished_at)
            .map(duration)
            .unwrap_or_default(),
        id = esc(&e.id),
        reason = esc(e.reason.as_deref().unwrap_or("")),
        buttons = buttons(&idu, e.status.is_final()),
    );
    let _ = write!(
        body,
        r#"<section><h2>Steps</h2><div id="steps">{}</div></section>"#,
        steps(&l.detail)
    );
    body += &log_section(l, &idu, search);
    body += &outputs(&l.detail);
    body += &tests(&l.tests);
    body += &artifacts(&idu, &l.artifacts);
    body += &events(&l.events);
    frame(&e.name, &body)
}

fn buttons(idu: &str, finished: bool) -> String {
    let form = |action: &str, label: &str| {
        format!(
            r#"<form method="post" action="/executions/{idu}/{action}"><button name="b" value="1">{label}</button></form>"#
        )
    };
    let mut out = String::new();
    if !finished {
        out += &form("control/abort", "Abort");
        out += &form("control/pause", "Pause");
        out += &form("control/resume", "Resume");
    }
    out += &form("rerun", "Re-run");
    out
}

/// The step tree with statuses, durations and a timeline bar each (also sent live).
pub fn steps(detail: &ExecutionDetail) -> String {
    if detail.steps.is_empty() {
        return r#"<p class="empty">No step has reported yet.</p>"#.into();
    }
    let e = &detail.execution;
    let start = e
        .started_at
        .or_else(|| detail.steps.iter().filter_map(|s| s.started_at).min())
        .unwrap_or(e.created_at);
    let end = e.finished_at.unwrap_or_else(Timestamp::now);
    let span = end.millis_since(start).unwrap_or(0).max(1) as f64;
    let mut children: BTreeMap<Option<&str>, Vec<&StepResult>> = BTreeMap::new();
    let known: Vec<&str> = detail.steps.iter().map(|s| s.step_ref.as_str()).collect();
    for s in &detail.steps {
        // A step whose parent never reported hangs from the top.
        let parent = s.parent_ref.as_deref().filter(|p| known.contains(p));
        children.entry(parent).or_default().push(s);
    }
    let mut out = String::from(r#"<ul class="tree">"#);
    tree(&mut out, &children, None, start, span, 0);
    out.push_str("</ul>");
    out
}

fn tree(
    out: &mut String,
    children: &BTreeMap<Option<&str>, Vec<&StepResult>>,
    parent: Option<&str>,
    start: Timestamp,
    span: f64,
    depth: usize,
) {
    // Bounded by the plan's nesting; a cycle in a damaged store stops here.
    if depth > 64 {
        return;
    }
    for s in children.get(&parent).map(Vec::as_slice).unwrap_or_default() {
        let (left, width) = match s.started_at {
            Some(begin) => {
                let from = begin.millis_since(start).unwrap_or(0) as f64;
                let to = s
                    .finished_at
                    .unwrap_or_else(Timestamp::now)
                    .millis_since(start)
                    .unwrap_or(0) as f64;
                // At least a sliver, always inside the bar (NaN-free: `span` is at least 1).
                let left = (from / span * 100.0).clamp(0.0, 99.7);
                (
                    left,
                    ((to - from) / span * 100.0).max(0.3).min(100.0 - left),
                )
            }
            None => (0.0, 0.0),
        };
        let name = s.name.clone().unwrap_or_else(|| s.step_ref.clone());
        let took = s.duration_ms().map(duration).unwrap_or_default();
        let error = s
            .error
            .as_deref()
            .map(|e| format!(r#" <span class="err">{}</span>"#, esc(e)))
            .unwrap_or_default();
        let exit = s
            .exit_code
            .filter(|c| *c != 0)
            .map(|c| format!(" exit {c}"))
            .unwrap_or_default();
        let _ = write!(
            out,
            r#"<li class="step" data-ref="{r}"><div class="row"><span class="name">{name}</span> {badge}<span class="took">{took}{exit}</span>{error}<span class="bar"><i class="s-{status}" style="left:{left:.2}%;width:{width:.2}%"></i></span></div>"#,
            r = esc(&s.step_ref),
            name = esc(&name),
            badge = badge(s.status.as_str()),
            status = s.status.as_str(),
        );
        if children.contains_key(&Some(s.step_ref.as_str())) {
            out.push_str("<ul>");
            tree(out, children, Some(&s.step_ref), start, span, depth + 1);
            out.push_str("</ul>");
        }
        out.push_str("</li>");
    }
}

fn log_section(l: &Loaded, idu: &str, search: Option<&str>) -> String {
    let e = &l.detail.execution;
    let names = step_names(&l.detail);
    let first = l.log.first().map_or(l.log_count, |x| x.seq);
    let next = l.log.last().map_or(first, |x| x.seq + 1);
    let mut out = format!(
        r#"<section><h2>Log <small>{count} lines</small></h2>
<form class="search" method="get" action="/executions/{idu}"><input name="q" placeholder="search the log" value="{q}"><button>Search</button> <a href="/executions/{idu}/log.txt" download>Download</a></form>"#,
        count = l.log_count,
        q = esc(search.unwrap_or("")),
    );
    if let Some(hits) = &l.hits {
        let _ = write!(
            out,
            r#"<p class="hits">{} matching lines{}</p><div class="log hits">"#,
            hits.len(),
            if hits.len() as u64 >= MAX_HITS {
                " (the first ones)"
            } else {
                ""
            }
        );
        for h in hits {
            let _ = write!(
                out,
                r##"<div class="l"><a class="n" href="/executions/{idu}?log_from={from}#L{seq}">{n}</a><span>{text}</span></div>"##,
                from = h.seq.saturating_sub(LOG_WINDOW / 2),
                seq = h.seq,
                n = h.seq + 1,
                text = crate::ansi::to_html(&h.text),
            );
        }
        out.push_str("</div>");
    }
    if first > 0 {
        let _ = write!(
            out,
            r#"<p class="pager"><a href="/executions/{idu}?log_from={}">↑ earlier lines</a> · lines {}–{} of {}</p>"#,
            first.saturating_sub(LOG_WINDOW),
            first + 1,
            next,
            l.log_count
        );
    }
    // Live lines are appended only to a window that reaches the end of the log.
    let at_end = next >= l.log_count;
    let live = if at_end && !e.status.is_final() {
        format!(
            r#" data-live="/v1/executions/{idu}/live?from={next}&amp;step={}""#,
            url(l
                .log
                .last()
                .and_then(|x| x.step_ref.as_deref())
                .unwrap_or(""))
        )
    } else if !e.status.is_final() {
        format!(
            r#" data-status="/v1/executions/{idu}/live?from={}""#,
            u64::MAX
        )
    } else {
        String::new()
    };
    let _ = write!(
        out,
        r#"<div class="log" id="log"{live}>{}</div>"#,
        log_lines(&l.log, l.step_before.as_deref(), &names)
    );
    if !at_end {
        let _ = write!(
            out,
            r#"<p class="pager"><a href="/executions/{idu}?log_from={next}">↓ later lines</a> · <a href="/executions/{idu}">the end</a></p>"#
        );
    }
    out.push_str("</section>");
    out
}

/// Step refs to their names, for the headers in the log.
pub fn step_names(detail: &ExecutionDetail) -> BTreeMap<String, String> {
    detail
        .steps
        .iter()
        .map(|s| {
            (
                s.step_ref.clone(),
                s.name.clone().unwrap_or_else(|| s.step_ref.clone()),
            )
        })
        .collect()
}

/// Log lines as HTML, with a header wherever the step changes (also sent live).
pub fn log_lines<'a>(
    lines: &'a [StoredLogLine],
    mut step: Option<&'a str>,
    names: &BTreeMap<String, String>,
) -> String {
    let mut out = String::with_capacity(lines.len() * 80);
    for line in lines {
        if line.step_ref.as_deref() != step {
            step = line.step_ref.as_deref();
            if let Some(r) = step {
                let name = names.get(r).map_or(r, String::as_str);
                let _ = write!(
                    out,
                    r#"<div class="step-head" data-ref="{}">▸ {}</div>"#,
                    esc(r),
                    esc(name)
                );
            }
        }
        let truncated = line
            .truncated_bytes
            .map(|n| format!(r#" <span class="cut">… {n} more bytes</span>"#))
            .unwrap_or_default();
        let _ = write!(
            out,
            r##"<div class="l" id="L{seq}"><a class="n" href="#L{seq}">{n}</a><span>{text}{truncated}</span></div>"##,
            seq = line.seq,
            n = line.seq + 1,
            text = crate::ansi::to_html(&line.text),
        );
    }
    out
}

fn outputs(detail: &ExecutionDetail) -> String {
    if detail.outputs.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        r#"<section><h2>Outputs</h2><table><tr><th>Step</th><th>Name</th><th>Value</th></tr>"#,
    );
    for o in &detail.outputs {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            esc(&o.step_ref),
            esc(&o.name),
            esc(&o.value.to_string())
        );
    }
    out.push_str("</table></section>");
    out
}

fn tests(report: &TestCaseReport) -> String {
    if report.cases.is_empty() {
        return String::new();
    }
    let c = &report.counts;
    let mut out = format!(
        r#"<section><h2>Test cases <small>{} passed · {} failed · {} errors · {} skipped</small></h2><table class="cases" id="cases"><tr><th>Status</th><th>Suite</th><th>Case</th><th>Time</th><th>Message</th></tr>"#,
        c.passed, c.failed, c.error, c.skipped
    );
    // The store hands them over failures first.
    for t in &report.cases {
        let case = &t.case;
        let name = match &case.class {
            Some(class) => format!("{class}.{}", case.name),
            None => case.name.clone(),
        };
        let status = serde_json::to_value(case.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let _ = write!(
            out,
            r#"<tr class="c-{status}"><td>{badge}</td><td>{suite}</td><td>{name}</td><td>{time}</td><td><pre>{message}</pre></td></tr>"#,
            badge = badge(&status),
            suite = esc(&case.suite),
            name = esc(&name),
            time = case.time_ms.map(duration).unwrap_or_default(),
            message = esc(case.message.as_deref().unwrap_or("")),
        );
    }
    out.push_str("</table></section>");
    out
}

fn artifacts(idu: &str, list: &[ArtifactRecord]) -> String {
    if list.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        r#"<section><h2>Artifacts</h2><table><tr><th>Step</th><th>Name</th><th>Size</th><th>Type</th></tr>"#,
    );
    for a in list {
        let path: Vec<String> = a.name.split('/').map(url).collect();
        let _ = write!(
            out,
            r#"<tr><td>{step}</td><td><a href="/api/v1/executions/{idu}/artifacts/{stepu}/{path}" download>{name}</a></td><td>{size}</td><td>{ct}</td></tr>"#,
            step = esc(&a.step_ref),
            stepu = url(&a.step_ref),
            path = path.join("/"),
            name = esc(&a.name),
            size = a.size,
            ct = esc(&a.content_type),
        );
    }
    out.push_str("</table></section>");
    out
}

fn events(list: &[ClusterEvent]) -> String {
    if list.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        r#"<section><h2>Events</h2><table><tr><th>Time</th><th>Object</th><th>Reason</th><th>Message</th></tr>"#,
    );
    for ev in list {
        let _ = write!(
            out,
            r#"<tr class="{cls}"><td>{time}</td><td>{object}</td><td>{reason}</td><td>{message}</td></tr>"#,
            cls = if ev.warning { "warn" } else { "" },
            time = time(ev.time),
            object = esc(&ev.object),
            reason = esc(&ev.reason),
            message = esc(&ev.message),
        );
    }
    out.push_str("</table></section>");
    out
}

/// The whole log as a file.
pub async fn download_log(State(site): State<SiteState>, Path(id): Path<String>) -> Response {
    let store = site.store.clone();
    let id2 = id.clone();
    match blocking(move || {
        let name = store.execution(&id2)?.map(|d| d.execution.name);
        Ok((name, store.logs(&id2, None)?))
    })
    .await
    {
        Ok((name, lines)) => {
            let (text, _) = testwerk_store::lines_as_text(&lines, 0);
            let file = name
                .unwrap_or(id)
                .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_");
            (
                [
                    (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!(r#"attachment; filename="{file}.log""#),
                    ),
                ],
                text,
            )
                .into_response()
        }
        Err(e) => store_error_page(&e),
    }
}

pub async fn control(
    State(site): State<SiteState>,
    Path((id, command)): Path<(String, String)>,
) -> Response {
    match Command::parse(&command).filter(|c| *c != Command::Rerun) {
        Some(c) => act(&site, &id, c).await,
        None => error_page(
            StatusCode::NOT_FOUND,
            &format!("unknown action `{command}` (abort, pause, resume)"),
        ),
    }
}

pub async fn rerun(State(site): State<SiteState>, Path(id): Path<String>) -> Response {
    act(&site, &id, Command::Rerun).await
}

async fn act(site: &SiteState, id: &str, command: Command) -> Response {
    match site.actions.act(id, command).await {
        Ok(done) => {
            tracing::info!(execution = id, "{}", done.message);
            let to = done
                .show
                .unwrap_or_else(|| format!("/executions/{}", url(id)));
            Redirect::to(&to).into_response()
        }
        Err(e) => error_page(StatusCode::CONFLICT, &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use testwerk_store::{Execution, ExecutionStatus, RunnerIdentity, StepStatus};

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_unix_millis(1_800_000_000_000 + ms)
    }

    /// A step that starts at (or after) the execution's end still gets a bar inside the
    /// timeline, and steps nest under their parents.
    #[test]
    fn timeline_bars_stay_inside_the_timeline_and_steps_nest() {
        let step = |r: &str, parent: Option<&str>, start: i64, end: Option<i64>| {
            let mut s = StepResult::new(r, StepStatus::Passed);
            s.parent_ref = parent.map(str::to_owned);
            s.name = Some(format!("step {r}"));
            s.started_at = Some(at(start));
            s.finished_at = end.map(at);
            s
        };
        let detail = ExecutionDetail {
            execution: Execution {
                id: "x".into(),
                name: "w-1".into(),
                workflow: "w".into(),
                number: 1,
                status: ExecutionStatus::Passed,
                reason: None,
                created_at: at(0),
                started_at: Some(at(0)),
                finished_at: Some(at(1000)),
                runner: RunnerIdentity::current(),
                tags: Default::default(),
            },
            source: String::new(),
            plan: serde_json::Value::Null,
            steps: vec![
                step("r1", None, 0, Some(1000)),
                step("r2", Some("r1"), 999, Some(2000)),
                step("r3", Some("gone"), 5000, None),
            ],
            outputs: Vec::new(),
        };
        let html = steps(&detail);
        assert!(
            html.contains(r#"data-ref="r1"><div class="row"><span class="name">step r1</span>"#),
            "{html}"
        );
        assert!(
            html.contains(r#"<ul><li class="step" data-ref="r2">"#),
            "r2 nests under r1: {html}"
        );
        for bar in html.split("style=\"left:").skip(1) {
            let left: f64 = bar
                .split('%')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(-1.0);
            let width: f64 = bar
                .split("width:")
                .nth(1)
                .and_then(|w| w.split('%').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(-1.0);
            assert!(
                (0.0..=99.7).contains(&left) && width >= 0.29 && left + width <= 100.01,
                "{bar}"
            );
        }
    }
}
