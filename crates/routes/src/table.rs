//! [`Route`]s and the router built from a table of them.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::Request;
use axum::handler::Handler;
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};

use crate::access::{Access, Denied, Gate, credential};
use crate::latency::Latency;

/// One route: what the OpenAPI document says of it, who may call it, and its handler.
pub struct Route<S> {
    doc: RouteDoc,
    handler: MethodRouter<S>,
}

/// What a route is, without its handler.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteDoc {
    pub method: Method,
    /// In axum's syntax: `{id}` for a segment, `{*rest}` for the rest of the path.
    pub path: String,
    pub summary: &'static str,
    pub access: Access,
    /// The content type of its successful answer.
    pub produces: &'static str,
}

impl<S: Clone + Send + Sync + 'static> Route<S> {
    /// A route that answers JSON to anyone holding [`Access::Read`]; see the setters.
    pub fn new<H, T>(method: Method, path: impl Into<String>, handler: H) -> Route<S>
    where
        H: Handler<T, S>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).unwrap_or(MethodFilter::GET);
        Route {
            doc: RouteDoc {
                method,
                path: path.into(),
                summary: "",
                access: Access::Read,
                produces: "application/json",
            },
            handler: on(filter, handler),
        }
    }

    pub fn get<H: Handler<T, S>, T: 'static>(path: impl Into<String>, handler: H) -> Route<S> {
        Route::new(Method::GET, path, handler)
    }

    pub fn post<H: Handler<T, S>, T: 'static>(path: impl Into<String>, handler: H) -> Route<S> {
        Route::new(Method::POST, path, handler)
    }

    pub fn put<H: Handler<T, S>, T: 'static>(path: impl Into<String>, handler: H) -> Route<S> {
        Route::new(Method::PUT, path, handler)
    }

    pub fn summary(mut self, summary: &'static str) -> Route<S> {
        self.doc.summary = summary;
        self
    }

    pub fn access(mut self, access: Access) -> Route<S> {
        self.doc.access = access;
        self
    }

    pub fn produces(mut self, content_type: &'static str) -> Route<S> {
        self.doc.produces = content_type;
        self
    }

    pub fn doc(&self) -> &RouteDoc {
        &self.doc
    }
}

/// The router of `routes`: each request is timed into `latency` and checked by `gate` first.
pub fn router<S: Clone + Send + Sync + 'static>(
    routes: Vec<Route<S>>,
    gate: Arc<dyn Gate>,
    latency: Arc<Latency>,
) -> Router<S> {
    let mut router = Router::new();
    for route in routes {
        let doc = Arc::new(route.doc);
        latency.register(&doc);
        let path = doc.path.clone();
        let (gate, latency) = (Arc::clone(&gate), Arc::clone(&latency));
        let guarded = route.handler.layer(axum::middleware::from_fn(
            move |request: Request, next: Next| {
                let (gate, latency, doc) =
                    (Arc::clone(&gate), Arc::clone(&latency), Arc::clone(&doc));
                async move {
                    let started = Instant::now();
                    let response = guard(gate.as_ref(), &doc, request, next).await;
                    latency.observe(&doc, response.status(), started.elapsed());
                    response
                }
            },
        ));
        router = router.route(&path, guarded);
    }
    router
}

async fn guard(gate: &dyn Gate, doc: &RouteDoc, request: Request, next: Next) -> Response {
    if doc.access.verb().is_none() {
        return next.run(request).await;
    }
    let token = credential(request.headers());
    match gate.check(token.as_deref(), doc.access).await {
        Ok(caller) => {
            tracing::debug!(caller = %caller.0, method = %doc.method, path = %doc.path, "allowed");
            next.run(request).await
        }
        Err(denied) => refuse(&request, denied),
    }
}

/// 401, 403 or 503 with a JSON `error`; a browser asking for a page without a credential is
/// sent to the login page instead.
fn refuse(request: &Request, denied: Denied) -> Response {
    let wants_page = request.method() == Method::GET
        && request
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"));
    let (status, message) = match denied {
        Denied::Unauthenticated(m) => {
            if wants_page {
                let next = request.uri().path_and_query().map_or("/", |p| p.as_str());
                let next: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
                let to = format!("/login?next={next}");
                return (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response();
            }
            (StatusCode::UNAUTHORIZED, m)
        }
        Denied::Forbidden(m) => (StatusCode::FORBIDDEN, m),
        Denied::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, m),
    };
    let body = axum::Json(serde_json::json!({ "error": message }));
    if status == StatusCode::UNAUTHORIZED {
        return (status, [(header::WWW_AUTHENTICATE, "Bearer")], body).into_response();
    }
    (status, body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TokenGate;
    use axum::body::Body;
    use tower::ServiceExt;

    fn table() -> Vec<Route<()>> {
        vec![
            Route::get("/open", || async { "open" }).access(Access::Public),
            Route::get("/read", || async { "read" }),
            Route::post("/read", || async { "posted" }).access(Access::Control),
        ]
    }

    async fn status(
        router: &Router,
        method: Method,
        path: &str,
        auth: Option<&str>,
        html: bool,
    ) -> StatusCode {
        let mut request = axum::http::Request::builder().method(method).uri(path);
        if let Some(token) = auth {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if html {
            request = request.header(header::ACCEPT, "text/html");
        }
        let request = request
            .body(Body::empty())
            .unwrap_or_else(|e| panic!("{e}"));
        router
            .clone()
            .oneshot(request)
            .await
            .map(|r| r.status())
            .unwrap_or_else(|e| match e {})
    }

    #[tokio::test]
    async fn every_route_is_checked_by_the_gate_before_its_handler() {
        let latency = Arc::new(Latency::default());
        let router = router(
            table(),
            Arc::new(TokenGate::new("t".into())),
            Arc::clone(&latency),
        );
        assert_eq!(
            status(&router, Method::GET, "/open", None, false).await,
            StatusCode::OK
        );
        assert_eq!(
            status(&router, Method::GET, "/read", None, false).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            status(&router, Method::GET, "/read", None, true).await,
            StatusCode::SEE_OTHER
        );
        assert_eq!(
            status(&router, Method::GET, "/read", Some("x"), false).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            status(&router, Method::GET, "/read", Some("t"), false).await,
            StatusCode::OK
        );
        assert_eq!(
            status(&router, Method::POST, "/read", Some("t"), false).await,
            StatusCode::OK
        );
        assert_eq!(
            status(&router, Method::POST, "/read", None, false).await,
            StatusCode::UNAUTHORIZED
        );
        let text = latency.render();
        assert!(
            text.contains(r#"path="/read",method="POST",code="2xx""#),
            "{text}"
        );
        assert!(
            text.contains(r#"path="/read",method="GET",code="4xx""#),
            "{text}"
        );
    }
}
