//! Who may call a route: the [`Access`] a route needs, the [`Gate`] that decides, and where a
//! request's credential comes from (an `Authorization: Bearer` header, or the `testwerk_token`
//! cookie a browser got at login).

use std::future::Future;
use std::pin::Pin;

use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, COOKIE};

/// What a route lets its caller do, from least to most.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    /// Anyone: health, the login page, static assets.
    Public,
    /// Read executions, logs, artifacts, insights.
    Read,
    /// Start executions.
    Run,
    /// Abort, pause or resume executions.
    Control,
    /// The route checks a credential of its own (an execution's toolkit token): the gate
    /// is not asked.
    OwnToken,
}

impl Access {
    /// The Kubernetes verb on testwerk's executions this access means (RBAC decides who has
    /// it); `None` for routes the gate does not check.
    pub fn verb(self) -> Option<&'static str> {
        match self {
            Access::Read => Some("get"),
            Access::Run => Some("create"),
            Access::Control => Some("update"),
            Access::Public | Access::OwnToken => None,
        }
    }

    /// What the OpenAPI document says about it.
    pub fn describe(self) -> &'static str {
        match self {
            Access::Public => "no credential needed",
            Access::Read => "needs `get` on testworkflowexecutions",
            Access::Run => "needs `create` on testworkflowexecutions",
            Access::Control => "needs `update` on testworkflowexecutions",
            Access::OwnToken => "needs the execution's own toolkit token",
        }
    }
}

/// Who the gate let in (for logs; never the credential).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller(pub String);

/// Why the gate said no.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Denied {
    /// No credential, or one the gate does not accept: 401.
    Unauthenticated(String),
    /// A known caller without the right: 403.
    Forbidden(String),
    /// The gate could not decide (the Kubernetes API did not answer): 503.
    Unavailable(String),
}

/// A boxed future, for a trait that must be object safe.
pub type Decision<'a> = Pin<Box<dyn Future<Output = Result<Caller, Denied>> + Send + 'a>>;

/// Decides whether a credential may do what a route needs.
pub trait Gate: Send + Sync + 'static {
    fn check<'a>(&'a self, credential: Option<&'a str>, access: Access) -> Decision<'a>;
}

/// The cookie a browser keeps its credential in (HttpOnly, SameSite=Strict).
pub const COOKIE_NAME: &str = "testwerk_token";

/// The request's credential: the bearer token, or else the login cookie.
pub fn credential(headers: &HeaderMap) -> Option<String> {
    if let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let token = value.strip_prefix("Bearer ").unwrap_or_default().trim();
        return (!token.is_empty()).then(|| token.to_owned());
    }
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.to_owned())
        .filter(|v| !v.is_empty())
}

/// Lets everyone in: only for a local run's own short-lived server on loopback or the run's
/// bridge, which serves the run's containers. Never for `testwerk ui` or the agent.
pub struct Open;

impl Gate for Open {
    fn check<'a>(&'a self, _credential: Option<&'a str>, _access: Access) -> Decision<'a> {
        Box::pin(std::future::ready(Ok(Caller(
            "anyone (a local run's server)".into(),
        ))))
    }
}

/// One shared secret grants everything: `testwerk ui`, which binds to loopback and prints a
/// random token at start.
pub struct TokenGate {
    token: String,
}

impl TokenGate {
    pub fn new(token: String) -> TokenGate {
        TokenGate { token }
    }
}

impl Gate for TokenGate {
    fn check<'a>(&'a self, credential: Option<&'a str>, _access: Access) -> Decision<'a> {
        let result = match credential {
            None => Err(Denied::Unauthenticated(
                "this server needs its token: open the URL `testwerk ui` printed, or send \
                 `Authorization: Bearer <token>`"
                    .into(),
            )),
            Some(given) if same(given.as_bytes(), self.token.as_bytes()) => {
                Ok(Caller("the ui token".into()))
            }
            Some(_) => Err(Denied::Unauthenticated(
                "the token is not this server's".into(),
            )),
        };
        Box::pin(std::future::ready(result))
    }
}

/// Compares in time that depends on the lengths only, so that the answer's timing does not
/// tell how much of a guess was right.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_credential_is_the_bearer_token_or_the_login_cookie() {
        let mut h = HeaderMap::new();
        assert_eq!(credential(&h), None);
        h.insert(
            COOKIE,
            HeaderValue::from_static("a=b; testwerk_token=xyz; c=d"),
        );
        assert_eq!(credential(&h).as_deref(), Some("xyz"));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        assert_eq!(credential(&h).as_deref(), Some("abc"), "the header wins");
        h.insert(AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(credential(&h), None, "another scheme is no bearer token");
    }

    #[tokio::test]
    async fn the_token_gate_takes_its_token_only() {
        let gate = TokenGate::new("s3cret".into());
        assert!(gate.check(Some("s3cret"), Access::Control).await.is_ok());
        assert!(matches!(
            gate.check(Some("s3cre"), Access::Read).await,
            Err(Denied::Unauthenticated(_))
        ));
        assert!(matches!(
            gate.check(None, Access::Read).await,
            Err(Denied::Unauthenticated(_))
        ));
    }
}
