//! Who may use the agent's API and UI: Kubernetes decides. A caller sends a Kubernetes
//! bearer token; the agent asks the API server who it is (TokenReview) and whether that user
//! may do the verb a route needs on `testworkflowexecutions` in the agent's namespace
//! (SubjectAccessReview). So cluster RBAC is the one place that says who may run, abort or
//! read, as it is for `kubectl`.
//!
//! Answers are cached for [`CACHE_FOR`] per token and verb: a live page opens a stream a
//! second and must not cost two API calls each time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::Api;
use kube::api::PostParams;
use testwerk_routes::access::Decision;
use testwerk_routes::{Access, Caller, Denied, Gate};

/// How long an answer is reused.
pub const CACHE_FOR: Duration = Duration::from_secs(10);
/// Answers kept at most; the cache starts over when full.
const CACHE_SIZE: usize = 1024;

/// The API group and resource whose verbs the routes need.
pub const GROUP: &str = "testworkflows.testkube.io";
pub const RESOURCE: &str = "testworkflowexecutions";

type Answer = Result<Caller, Denied>;

pub struct KubeGate {
    client: kube::Client,
    namespace: String,
    cache: Mutex<HashMap<(String, Access), (Instant, Answer)>>,
}

impl KubeGate {
    pub fn new(client: kube::Client, namespace: String) -> KubeGate {
        KubeGate {
            client,
            namespace,
            cache: Mutex::default(),
        }
    }

    async fn decide(&self, token: &str, access: Access) -> Answer {
        let key = (token.to_owned(), access);
        if let Ok(cache) = self.cache.lock()
            && let Some((at, answer)) = cache.get(&key)
            && at.elapsed() < CACHE_FOR
        {
            return answer.clone();
        }
        let answer = self.review(token, access).await;
        // An API server that did not answer is asked again next time.
        if !matches!(answer, Err(Denied::Unavailable(_)))
            && let Ok(mut cache) = self.cache.lock()
        {
            if cache.len() >= CACHE_SIZE {
                cache.clear();
            }
            cache.insert(key, (Instant::now(), answer.clone()));
        }
        answer
    }

    async fn review(&self, token: &str, access: Access) -> Answer {
        let Some(verb) = access.verb() else {
            return Ok(Caller("anyone".into()));
        };
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: Some(token.to_owned()),
                audiences: None,
            },
            ..Default::default()
        };
        let reviews: Api<TokenReview> = Api::all(self.client.clone());
        let answer = reviews
            .create(&PostParams::default(), &review)
            .await
            .map_err(|e| {
                Denied::Unavailable(format!("Kubernetes could not check the token: {e}"))
            })?;
        let status = answer.status.unwrap_or_default();
        let user = match (status.authenticated, status.user) {
            (Some(true), Some(user)) => user,
            _ => {
                return Err(Denied::Unauthenticated(format!(
                    "Kubernetes did not accept the token{}",
                    status.error.map(|e| format!(": {e}")).unwrap_or_default()
                )));
            }
        };
        let name = user.username.clone().unwrap_or_default();
        let check = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: user.username,
                uid: user.uid,
                groups: user.groups,
                extra: user.extra,
                resource_attributes: Some(ResourceAttributes {
                    namespace: Some(self.namespace.clone()),
                    verb: Some(verb.to_owned()),
                    group: Some(GROUP.to_owned()),
                    resource: Some(RESOURCE.to_owned()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let checks: Api<SubjectAccessReview> = Api::all(self.client.clone());
        let answer = checks
            .create(&PostParams::default(), &check)
            .await
            .map_err(|e| {
                Denied::Unavailable(format!("Kubernetes could not check the rights: {e}"))
            })?;
        let status = answer.status.unwrap_or_default();
        if status.allowed {
            Ok(Caller(name))
        } else {
            Err(Denied::Forbidden(format!(
                "{name} may not {verb} {RESOURCE}.{GROUP} in namespace {}{}; grant it with a Role",
                self.namespace,
                status
                    .reason
                    .filter(|r| !r.is_empty())
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            )))
        }
    }
}

impl Gate for KubeGate {
    fn check<'a>(&'a self, credential: Option<&'a str>, access: Access) -> Decision<'a> {
        Box::pin(async move {
            match credential {
                None => Err(Denied::Unauthenticated(format!(
                    "send a Kubernetes token: `Authorization: Bearer <token>` (the CLI reads \
                     ${}; `kubectl create token NAME` makes one), or log in at /login",
                    "TESTWERK_TOKEN"
                ))),
                Some(token) => self.decide(token, access).await,
            }
        })
    }
}
