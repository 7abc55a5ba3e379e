//! The executions list: newest first, a page at a time (keyset paging on the store), with
//! filters by workflow, status, tag and time.

use std::fmt::Write;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use testwerk_store::{Execution, ExecutionFilter, ExecutionStatus, Timestamp};

use crate::html::{esc, execution_badge, page as frame, time, took, url};
use crate::{SiteState, blocking, error_page, store_error_page};

/// Rows per page unless `?limit=` says otherwise, and the most it may say.
pub const PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 500;

/// The list's filters, from `?workflow=&status=&tag=k=v&from=&until=&after=&limit=`
/// (`status` and `tag` repeat).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ListQuery {
    pub filter: ExecutionFilter,
    /// The query text without `after`: the same filters for the next page and live updates.
    pub filters_only: String,
}

impl ListQuery {
    pub fn parse(raw: Option<&str>) -> Result<ListQuery, String> {
        let mut filter = ExecutionFilter {
            limit: Some(PAGE),
            ..Default::default()
        };
        let mut kept = form_urlencoded::Serializer::new(String::new());
        for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            if value.is_empty() {
                continue;
            }
            match key.as_ref() {
                "workflow" => filter.workflow = Some(value.to_string()),
                "status" => filter.statuses.push(
                    value
                        .parse::<ExecutionStatus>()
                        .map_err(|e| format!("status: {e}"))?,
                ),
                "tag" => {
                    let (k, v) = testwerk_store::tags::parse_filter(&value)?;
                    filter.tags.insert(k, v);
                }
                "from" => filter.created_from = Some(instant("from", &value)?),
                "until" => filter.created_until = Some(instant("until", &value)?),
                "after" => {
                    filter.after = Some(value.to_string());
                    continue;
                }
                "limit" => {
                    let n: u32 = value
                        .parse()
                        .map_err(|_| format!("limit `{value}`: a whole number"))?;
                    filter.limit = Some(n.clamp(1, MAX_PAGE));
                }
                other => {
                    return Err(format!(
                        "unknown filter `{other}` (workflow, status, tag, from, until, after, limit)"
                    ));
                }
            }
            kept.append_pair(&key, &value);
        }
        Ok(ListQuery {
            filter,
            filters_only: kept.finish(),
        })
    }
}

/// `2026-12-04` (midnight UTC) or a whole RFC 3339 time.
fn instant(field: &str, text: &str) -> Result<Timestamp, String> {
    let full = if text.len() == 10 {
        format!("{text}T00:00:00Z")
    } else {
        text.to_owned()
    };
    full.parse()
        .map_err(|_| format!("{field} `{text}`: a date (2026-12-04) or an RFC 3339 time"))
}

/// One page of the list, and how many match in all.
pub struct ListPage {
    pub executions: Vec<Execution>,
    pub total: u64,
}

pub fn read(
    store: &testwerk_store::Store,
    q: &ListQuery,
) -> Result<ListPage, testwerk_store::StoreError> {
    Ok(ListPage {
        executions: store.list_executions(&q.filter)?,
        total: store.count_executions(&q.filter)?,
    })
}

pub async fn page(State(site): State<SiteState>, RawQuery(raw): RawQuery) -> Response {
    let q = match ListQuery::parse(raw.as_deref()) {
        Ok(q) => q,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, &e),
    };
    let store = site.store.clone();
    let q2 = q.clone();
    match blocking(move || read(&store, &q2)).await {
        Ok(list) => Html(render(&site.name, &q, &list)).into_response(),
        Err(e) => store_error_page(&e),
    }
}

/// The whole page.
pub fn render(name: &str, q: &ListQuery, list: &ListPage) -> String {
    let mut body = String::new();
    let f = &q.filter;
    let _ = write!(
        body,
        r#"<h1>Executions <small>{name}</small></h1>
<form class="filters" method="get" action="/">
<input name="workflow" placeholder="workflow" value="{workflow}">
<select name="status"><option value="">any status</option>{statuses}</select>
<input name="tag" placeholder="tag key=value" value="{tag}">
<label>from <input type="date" name="from" value="{from}"></label>
<label>until <input type="date" name="until" value="{until}"></label>
<button>Filter</button> <a href="/">clear</a></form>
<p class="count"><span id="total">{total}</span> executions</p>"#,
        name = esc(name),
        workflow = esc(f.workflow.as_deref().unwrap_or("")),
        statuses = ExecutionStatus::ALL
            .iter()
            .map(|s| format!(
                r#"<option{}>{s}</option>"#,
                if f.statuses.contains(s) {
                    " selected"
                } else {
                    ""
                }
            ))
            .collect::<String>(),
        tag = esc(&f
            .tags
            .iter()
            .next()
            .map(|(k, v)| format!("{k}={v}"))
            .unwrap_or_default()),
        from = f
            .created_from
            .map(|t| t.to_string()[..10].to_owned())
            .unwrap_or_default(),
        until = f
            .created_until
            .map(|t| t.to_string()[..10].to_owned())
            .unwrap_or_default(),
        total = list.total,
    );
    // Live updates only for the first page: a later page is a look at the past.
    let live = if f.after.is_none() {
        format!(r#" data-live="/v1/live?{}""#, esc(&q.filters_only))
    } else {
        String::new()
    };
    let _ = write!(
        body,
        r#"<table class="list"><thead><tr><th>Execution</th><th>Workflow</th><th>Status</th><th>Created</th><th>Took</th><th>Tags</th></tr></thead><tbody id="rows"{live}>{}</tbody></table>"#,
        rows(&list.executions)
    );
    if let Some(last) = list.executions.last()
        && list.executions.len() as u32 == f.limit.unwrap_or(PAGE)
    {
        let sep = if q.filters_only.is_empty() { "" } else { "&" };
        let _ = write!(
            body,
            r#"<p class="pager"><a id="next" href="/?{}{sep}after={}">Older executions →</a></p>"#,
            esc(&q.filters_only),
            url(&last.id)
        );
    }
    frame("Executions", &body)
}

/// The table rows of `executions` (also sent by the live list).
pub fn rows(executions: &[Execution]) -> String {
    let mut out = String::new();
    if executions.is_empty() {
        out.push_str(r#"<tr><td colspan="6" class="empty">No executions match.</td></tr>"#);
    }
    for e in executions {
        let tags: String = e
            .tags
            .iter()
            .filter(|(k, _)| !k.starts_with(testwerk_store::tags::RESERVED_PREFIX))
            .map(|(k, v)| format!(r#"<span class="tag">{}={}</span>"#, esc(k), esc(v)))
            .collect();
        let _ = write!(
            out,
            r#"<tr data-id="{id}"><td><a href="/executions/{idu}">{name}</a></td><td><a href="/workflows/{wu}">{workflow}</a></td><td>{badge}</td><td>{created}</td><td>{took}</td><td>{tags}</td></tr>"#,
            id = esc(&e.id),
            idu = url(&e.id),
            name = esc(&e.name),
            wu = url(&e.workflow),
            workflow = esc(&e.workflow),
            badge = execution_badge(e.status),
            created = time(e.created_at),
            took = took(e.started_at, e.finished_at)
                .map(crate::html::duration)
                .unwrap_or_default(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_and_name_what_is_wrong() {
        let q = ListQuery::parse(Some(
            "workflow=smoke&status=failed&status=passed&tag=team%3Dpay&from=2026-12-01&after=abc&limit=9999",
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(q.filter.workflow.as_deref(), Some("smoke"));
        assert_eq!(q.filter.statuses.len(), 2);
        assert_eq!(q.filter.tags.get("team").map(String::as_str), Some("pay"));
        assert_eq!(
            q.filter.created_from.map(|t| t.to_string()).as_deref(),
            Some("2026-12-01T00:00:00.000Z")
        );
        assert_eq!(q.filter.after.as_deref(), Some("abc"));
        assert_eq!(q.filter.limit, Some(MAX_PAGE));
        assert!(!q.filters_only.contains("after"), "{}", q.filters_only);
        let empty = ListQuery::parse(Some("workflow=&status=")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            empty.filter.workflow, None,
            "an empty field of the form is no filter"
        );
        for (bad, says) in [
            ("status=fine", "unknown status `fine`"),
            ("from=yesterday", "from `yesterday`"),
            ("limit=x", "limit `x`"),
            ("colour=red", "unknown filter `colour`"),
        ] {
            let e = ListQuery::parse(Some(bad)).err().unwrap_or_default();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
