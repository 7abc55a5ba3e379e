//! Logging in from a browser: a token (the one `testwerk ui` printed, or a Kubernetes token
//! for the agent) is checked by the server's gate like a bearer token, then kept in an
//! HttpOnly, SameSite=Strict cookie, so that scripts cannot read it and other sites cannot
//! send it.

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use testwerk_routes::Access;
use testwerk_routes::access::COOKIE_NAME;

use crate::SiteState;
use crate::html::{esc, page as frame};

#[derive(Deserialize, Default)]
pub struct LoginQuery {
    token: Option<String>,
    next: Option<String>,
}

pub async fn form(State(site): State<SiteState>, Query(q): Query<LoginQuery>) -> Response {
    match q.token {
        Some(token) => login(&site, token, q.next).await,
        None => Html(render(q.next.as_deref().unwrap_or("/"), None)).into_response(),
    }
}

pub async fn submit(
    State(site): State<SiteState>,
    axum::Form(q): axum::Form<LoginQuery>,
) -> Response {
    login(&site, q.token.unwrap_or_default(), q.next).await
}

async fn login(site: &SiteState, token: String, next: Option<String>) -> Response {
    let next = safe_next(next.as_deref());
    match site.gate.check(Some(&token), Access::Read).await {
        Ok(_) => (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, next.to_owned()),
                (
                    header::SET_COOKIE,
                    format!("{COOKIE_NAME}={token}; Path=/; HttpOnly; SameSite=Strict"),
                ),
            ],
        )
            .into_response(),
        Err(denied) => {
            let why = match denied {
                testwerk_routes::Denied::Unauthenticated(m)
                | testwerk_routes::Denied::Forbidden(m)
                | testwerk_routes::Denied::Unavailable(m) => m,
            };
            (StatusCode::UNAUTHORIZED, Html(render(next, Some(&why)))).into_response()
        }
    }
}

/// Only a path on this server: a login link cannot send the browser elsewhere.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/",
    }
}

fn render(next: &str, error: Option<&str>) -> String {
    let error = error
        .map(|e| format!(r#"<p class="error">{}</p>"#, esc(e)))
        .unwrap_or_default();
    let body = format!(
        r#"<h1>Log in</h1>{error}<form class="login" method="post" action="/login"><input type="hidden" name="next" value="{next}"><label>Token <input type="password" name="token" autocomplete="off" autofocus></label><button>Log in</button></form><p class="meta">For <code>testwerk ui</code>: the token it printed at start. For an agent: a Kubernetes token (<code>kubectl create token NAME</code>); what it may do is what RBAC lets it do on testworkflowexecutions.</p>"#,
        next = esc(next)
    );
    frame("Log in", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_login_only_sends_the_browser_to_this_server() {
        assert_eq!(safe_next(Some("/executions/x")), "/executions/x");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil")), "/");
        assert_eq!(safe_next(None), "/");
    }
}
