//! The web UI, served from a results store by `testwerk ui` (local runs) and by
//! `testwerk agent` (at `/`, next to its API).
//!
//! Pages are HTML written on the server ([`html`]), with one small script
//! (`assets/app.js`) for live updates, log search and the buttons; no build step, nothing to
//! install. Every page reads the store a page at a time: the executions list is keyset-paged,
//! an execution's log is sent as a window of lines (the tail by default) with server-side
//! search, so a store of many executions or a log of many lines costs what one screen shows.
//!
//! | route | what |
//! | --- | --- |
//! | `GET /` | executions, newest first, filtered by workflow, status, tag and time ([`list`]) |
//! | `GET /executions/{id}` | one execution: step tree, timeline, log, outputs, test cases, artifacts, events ([`execution`]) |
//! | `GET /workflows/{name}` | a workflow's health and its test cases' history, flaky ones flagged ([`workflow`]) |
//! | `GET /v1/live`, `GET /v1/executions/{id}/live` | Server-Sent Events for the list and for one execution ([`live`]) |
//! | `GET /metrics` | Prometheus metrics ([`metrics`]) |
//! | `GET /v1/openapi.json` | the OpenAPI document of every route the server has |

pub mod ansi;
pub mod execution;
pub mod html;
pub mod list;
pub mod live;
mod login;
pub mod metrics;
pub mod workflow;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use testwerk_routes::latency::Latency;
use testwerk_routes::{Access, Gate, Route, RouteDoc};
use testwerk_store::Store;

/// What a button on the execution page asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Abort,
    Pause,
    Resume,
    /// Run the same workflow again with the same configuration.
    Rerun,
}

impl Command {
    pub fn parse(text: &str) -> Option<Command> {
        match text {
            "abort" => Some(Command::Abort),
            "pause" => Some(Command::Pause),
            "resume" => Some(Command::Resume),
            "rerun" => Some(Command::Rerun),
            _ => None,
        }
    }
}

/// What a backend did for a [`Command`].
pub struct Acted {
    pub message: String,
    /// The page to show next (a re-run's new execution, say); the execution's own without.
    pub show: Option<String>,
}

/// A boxed future, for a trait that must be object safe.
pub type Acting<'a> = Pin<Box<dyn Future<Output = Result<Acted, String>> + Send + 'a>>;

/// How the backend behind the UI carries out [`Command`]s.
pub trait Actions: Send + Sync + 'static {
    fn act<'a>(&'a self, execution: &'a str, command: Command) -> Acting<'a>;
}

/// What every page handler shares.
pub struct Site {
    pub store: Arc<Store>,
    pub actions: Arc<dyn Actions>,
    /// Who may do what (also asked by the login form).
    pub gate: Arc<dyn Gate>,
    pub latency: Arc<Latency>,
    /// Shown in the page titles: `local` or the agent's namespace.
    pub name: String,
    /// Every route of the server, for `/v1/openapi.json`: set once the server's tables are
    /// put together ([`Site::publish`]).
    routes: OnceLock<Vec<RouteDoc>>,
}

impl Site {
    pub fn new(
        store: Arc<Store>,
        actions: Arc<dyn Actions>,
        gate: Arc<dyn Gate>,
        latency: Arc<Latency>,
        name: String,
    ) -> Site {
        Site {
            store,
            actions,
            gate,
            latency,
            name,
            routes: OnceLock::new(),
        }
    }

    /// Records the whole server's routes for the OpenAPI document.
    pub fn publish(&self, routes: Vec<RouteDoc>) {
        let _ = self.routes.set(routes);
    }

    /// The OpenAPI document of every route the server has.
    pub fn openapi(&self) -> serde_json::Value {
        let routes = self.routes.get().map(Vec::as_slice).unwrap_or_default();
        testwerk_routes::openapi::document("testwerk", env!("CARGO_PKG_VERSION"), routes)
    }
}

pub type SiteState = Arc<Site>;

/// The UI's routes.
pub fn routes() -> Vec<Route<SiteState>> {
    vec![
        Route::get("/", list::page)
            .summary("The executions list (HTML)")
            .produces("text/html"),
        Route::get("/executions/{id}", execution::page)
            .summary("One execution's page (HTML)")
            .produces("text/html"),
        Route::get("/executions/{id}/log.txt", execution::download_log)
            .summary("An execution's whole log, as a file")
            .produces("text/plain"),
        Route::post("/executions/{id}/control/{command}", execution::control)
            .summary("Abort, pause or resume an execution (from the page)")
            .access(Access::Control),
        Route::post("/executions/{id}/rerun", execution::rerun)
            .summary("Run an execution's workflow again with the same configuration")
            .access(Access::Run),
        Route::get("/workflows/{name}", workflow::page)
            .summary("A workflow's health and test-case history (HTML)")
            .produces("text/html"),
        Route::get("/v1/workflows/{name}/insights", workflow::insights)
            .summary("A workflow's health (pass rate, flip rate, p50/p95 duration) and test cases, flaky ones flagged"),
        Route::get("/v1/live", live::list)
            .summary("Server-Sent Events: the executions list changed (`event: list`, the new rows)")
            .produces("text/event-stream"),
        Route::get("/v1/executions/{id}/live", live::execution)
            .summary("Server-Sent Events for one execution: `status`, `steps`, `log` (new lines, `?from=` resumes) and `end`")
            .produces("text/event-stream"),
        Route::get("/login", login::form)
            .summary("The login page; `?token=` logs in with a token")
            .access(Access::Public)
            .produces("text/html"),
        Route::post("/login", login::submit)
            .summary("Log in: a token checked like a bearer token, kept in an HttpOnly cookie")
            .access(Access::Public)
            .produces("text/html"),
        Route::get("/assets/app.css", || async { asset("text/css; charset=utf-8", include_str!("../assets/app.css")) })
            .summary("The UI's style sheet")
            .access(Access::Public)
            .produces("text/css"),
        Route::get("/assets/app.js", || async { asset("text/javascript; charset=utf-8", include_str!("../assets/app.js")) })
            .summary("The UI's script")
            .access(Access::Public)
            .produces("text/javascript"),
        Route::get("/metrics", metrics::serve)
            .summary("Prometheus metrics")
            .access(Access::Public)
            .produces("text/plain"),
        Route::get("/v1/openapi.json", |axum::extract::State(site): axum::extract::State<SiteState>| async move {
            axum::Json(site.openapi())
        })
        .summary("This document")
        .access(Access::Public),
    ]
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        body,
    )
        .into_response()
}

/// A page that says what went wrong.
pub(crate) fn error_page(status: StatusCode, message: &str) -> Response {
    let body = format!(
        r#"<h1>{}</h1><p class="error">{}</p><p><a href="/">Back to the executions</a></p>"#,
        status.canonical_reason().unwrap_or("Error"),
        html::esc(message)
    );
    (status, axum::response::Html(html::page("Error", &body))).into_response()
}

/// A store error as the page a person sees: not found, bad input or a failure.
pub(crate) fn store_error_page(e: &testwerk_store::StoreError) -> Response {
    use testwerk_store::StoreError;
    let status = match e {
        StoreError::NotFound { .. } => StatusCode::NOT_FOUND,
        StoreError::InvalidInput(_) | StoreError::Ambiguous { .. } => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error_page(status, &e.to_string())
}

/// Runs a store read off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, testwerk_store::StoreError> + Send + 'static,
) -> Result<T, testwerk_store::StoreError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(testwerk_store::StoreError::InvalidInput(format!(
            "the read stopped: {e}"
        )))
    })
}
