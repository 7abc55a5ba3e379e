//! [`Receiver`]: the HTTP side of artifacts, an axum [`Router`] a backend mounts in its API.
//!
//! | method and path | what |
//! | --- | --- |
//! | `PUT /api/v1/executions/{id}/artifacts/{step}/{name…}` | store a file (`Authorization: Bearer <token>`, the body is the file): `201` with `{name, size, contentType}` |
//! | `GET /api/v1/executions/{id}/artifacts` | the execution's artifacts (id, name or unique id prefix) |
//! | `GET /api/v1/executions/{id}/artifacts/{step}/{name…}` | one artifact's bytes |
//!
//! Errors are JSON `{"error": "…"}`: `401` a missing or wrong token, `400` a bad name, `413`
//! over the size limit, `507` storage full, `502` S3 unreachable or refusing, `404` unknown.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::TryStreamExt;
use serde::Serialize;
use serde_json::json;
use testwerk_protocol::toolkit::ArtifactSink;
use testwerk_routes::{Access, Route};
use testwerk_store::{ArtifactRecord, NewArtifact, Store, StoreError};

use crate::content_type;
use crate::hook::ArtifactHook;
use crate::key::ArtifactKey;
use crate::storage::{Storage, StorageError};
use crate::token::TokenKey;

/// Where the receiver serves artifact `name` of `execution` (the one stored last under that
/// name, by any step) to whoever the backend sends there (a parent's toolkit fetching its
/// child's files): the path of its shared `GET` route, with the read capability of that one
/// execution (`tokens`), or `None` when there is none.
pub fn location(
    store: &Store,
    tokens: &TokenKey,
    execution: &str,
    name: &str,
) -> Result<Option<String>, StoreError> {
    let Some(found) = store
        .artifacts(execution)?
        .into_iter()
        .rev()
        .find(|a| a.name == name)
    else {
        return Ok(None);
    };
    let segments: Vec<String> = std::iter::once(found.step_ref.as_str())
        .chain(found.name.split('/'))
        .map(testwerk_protocol::toolkit::encode_segment)
        .collect();
    Ok(Some(format!(
        "/api/v1/executions/{execution}/shared/{}/{}",
        tokens.read_capability(execution),
        segments.join("/")
    )))
}

/// The largest artifact accepted by default: 10 GiB (the corpus has 1 GB ones).
pub const DEFAULT_MAX_SIZE: u64 = 10 << 30;

/// Receives the toolkit's uploads and serves artifacts back.
pub struct Receiver {
    storage: Storage,
    store: Arc<Store>,
    tokens: TokenKey,
    hook: Option<Arc<dyn ArtifactHook>>,
    max_size: u64,
}

impl Receiver {
    pub fn new(storage: Storage, store: Arc<Store>, tokens: TokenKey) -> Receiver {
        Receiver {
            storage,
            store,
            tokens,
            hook: None,
            max_size: DEFAULT_MAX_SIZE,
        }
    }

    /// Calls `hook` after each stored artifact.
    pub fn with_hook(mut self, hook: Arc<dyn ArtifactHook>) -> Receiver {
        self.hook = Some(hook);
        self
    }

    /// Refuses artifacts over `bytes` (`413`).
    pub fn with_max_size(mut self, bytes: u64) -> Receiver {
        self.max_size = bytes;
        self
    }

    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The key execution tokens are made and checked with.
    pub fn tokens(&self) -> &TokenKey {
        &self.tokens
    }

    /// Where execution `execution` (its full id) uploads, given the base URL its Pods reach
    /// this receiver at (`http://10.0.0.5:8088`), with its token.
    pub fn sink(&self, base_url: &str, execution: &str) -> ArtifactSink {
        let base = base_url.trim_end_matches('/');
        ArtifactSink {
            url: format!("{base}/api/v1/executions/{execution}/artifacts"),
            token: self.tokens.token(execution),
            shared: Some(format!(
                "{base}/api/v1/executions/{execution}/shared/{}",
                self.tokens.read_capability(execution)
            )),
        }
    }

    /// The routes (see the module docs): reading needs [`Access::Read`] from the server's
    /// gate, an upload the execution's own token.
    pub fn routes() -> Vec<Route<Arc<Receiver>>> {
        const ONE: &str = "/api/v1/executions/{id}/artifacts/{step}/{*name}";
        vec![
            Route::get("/api/v1/executions/{id}/artifacts", list)
                .summary("An execution's artifacts (step, name, size, content type)"),
            Route::get(ONE, download)
                .summary("One artifact's bytes")
                .produces("application/octet-stream"),
            Route::put(ONE, upload)
                .summary("The toolkit's upload of one artifact")
                .access(Access::OwnToken),
            Route::get(
                "/api/v1/executions/{id}/shared/{capability}/{step}/{*name}",
                shared,
            )
            .summary("One artifact's bytes, for the execution's children (a read capability in the path)")
            .produces("application/octet-stream")
            .access(Access::OwnToken),
        ]
    }

    /// The routes for a local run's own server, which listens only where this machine's
    /// users and the run's containers reach it (loopback, or the run's bridge), as before
    /// the gated servers: reads are open there, uploads still need the execution's token.
    pub fn router(self: Arc<Self>) -> Router {
        let gate = Arc::new(testwerk_routes::access::Open);
        testwerk_routes::router(Receiver::routes(), gate, Default::default()).with_state(self)
    }

    /// The artifacts of the execution `query` names.
    pub fn list(&self, query: &str) -> Result<Vec<ArtifactRecord>, StoreError> {
        self.store.artifacts(query)
    }
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({"error": message.into()}))).into_response()
}

fn storage_status(e: &StorageError) -> StatusCode {
    match e {
        StorageError::Full { .. } => StatusCode::INSUFFICIENT_STORAGE,
        StorageError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        StorageError::Body { .. } => StatusCode::BAD_REQUEST,
        StorageError::NotFound { .. } => StatusCode::NOT_FOUND,
        StorageError::Remote { .. } => StatusCode::BAD_GATEWAY,
        StorageError::Io { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// What a client sees of a record: no storage key.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct View<'a> {
    step_ref: &'a str,
    name: &'a str,
    size: u64,
    content_type: &'a str,
    created_at: String,
}

impl<'a> From<&'a ArtifactRecord> for View<'a> {
    fn from(r: &'a ArtifactRecord) -> View<'a> {
        View {
            step_ref: &r.step_ref,
            name: &r.name,
            size: r.size,
            content_type: &r.content_type,
            created_at: r.created_at.to_string(),
        }
    }
}

async fn upload(
    State(receiver): State<Arc<Receiver>>,
    Path((id, step, name)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(token) = token else {
        return error(
            StatusCode::UNAUTHORIZED,
            "missing `Authorization: Bearer <token>`: use the execution's artifact token",
        );
    };
    if !receiver.tokens.verify(&id, token.trim()) {
        return error(
            StatusCode::UNAUTHORIZED,
            format!("the token does not authorize uploads to execution `{id}`"),
        );
    }
    let key = match ArtifactKey::new(&id, &step, &name) {
        Ok(k) => k,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = declared
        && n > receiver.max_size
    {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "`{name}` is {n} bytes, over the {}-byte limit of one artifact",
                receiver.max_size
            ),
        );
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 255)
        .map_or_else(|| content_type::by_name(&name).to_owned(), str::to_owned);
    let mut stream = body.into_data_stream().map_err(std::io::Error::other);
    let stored = receiver
        .storage
        .put(&key, &mut stream, receiver.max_size)
        .await;
    let (storage_key, size) = match stored {
        Ok(stored) => stored,
        Err(e) => {
            tracing::warn!(execution = %id, step = %step, "artifact `{name}` not stored: {e}");
            if matches!(
                e,
                StorageError::Full { .. } | StorageError::Remote { .. } | StorageError::Io { .. }
            ) {
                drain(&mut stream, receiver.max_size).await;
            }
            return error(storage_status(&e), e.to_string());
        }
    };
    let new = NewArtifact {
        step_ref: step,
        name,
        size,
        content_type,
        storage_key,
    };
    let store = Arc::clone(&receiver.store);
    let recorded =
        tokio::task::spawn_blocking(move || store.record_artifact(&id, &new).map(|r| (id, r)))
            .await
            .unwrap_or_else(|e| Err(StoreError::InvalidInput(format!("recording panicked: {e}"))));
    let (id, record) = match recorded {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!("artifact stored but not recorded: {e}");
            let status = match e {
                StoreError::NotFound { .. } => StatusCode::NOT_FOUND,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            return error(
                status,
                format!("the artifact was stored but not recorded: {e}"),
            );
        }
    };
    let mut warnings = Vec::new();
    if let Some(hook) = receiver.hook.clone().filter(|h| h.wants(&record)) {
        let storage = receiver.storage.clone();
        let runtime = tokio::runtime::Handle::current();
        let for_hook = record.clone();
        let done = tokio::task::spawn_blocking(move || {
            let mut reader = storage
                .blocking_reader(&for_hook.storage_key, runtime)
                .map_err(|e| e.to_string())?;
            hook.on_artifact(&id, &for_hook, &mut reader)
        })
        .await
        .unwrap_or_else(|e| Err(format!("the artifact hook panicked: {e}")));
        if let Err(w) = done {
            tracing::warn!("artifact `{}`: {w}", record.name);
            warnings.push(w);
        }
    }
    let mut answer =
        json!({"name": record.name, "size": record.size, "contentType": record.content_type});
    if !warnings.is_empty() {
        answer["warnings"] = json!(warnings);
    }
    (StatusCode::CREATED, axum::Json(answer)).into_response()
}

/// Reads and drops the rest of a refused upload (at most `limit` bytes, for at most a
/// minute), so that the client, still sending, gets to read our answer with its reason
/// instead of a reset connection.
async fn drain<S>(stream: &mut S, limit: u64)
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Unpin,
{
    use futures_util::StreamExt;
    let mut read = 0u64;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    while read <= limit {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(Ok(chunk))) => read += chunk.len() as u64,
            _ => return,
        }
    }
}

async fn list(State(receiver): State<Arc<Receiver>>, Path(id): Path<String>) -> Response {
    let store = Arc::clone(&receiver.store);
    let listed = tokio::task::spawn_blocking(move || store.artifacts(&id))
        .await
        .unwrap_or_else(|e| Err(StoreError::InvalidInput(e.to_string())));
    match listed {
        Ok(records) => {
            let views: Vec<View<'_>> = records.iter().map(View::from).collect();
            axum::Json(views).into_response()
        }
        Err(e @ StoreError::NotFound { .. }) => error(StatusCode::NOT_FOUND, e.to_string()),
        Err(e) => error(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

async fn download(
    State(receiver): State<Arc<Receiver>>,
    Path((id, step, name)): Path<(String, String, String)>,
) -> Response {
    send(&receiver, id, step, name).await
}

/// What a child fetches of its parent's artifacts: the capability in the path is the
/// credential (a child's `content.tarball` sends none), and it reads that one execution's
/// artifacts only.
async fn shared(
    State(receiver): State<Arc<Receiver>>,
    Path((id, capability, step, name)): Path<(String, String, String, String)>,
) -> Response {
    if !receiver.tokens.verify_read(&id, &capability) {
        return error(
            StatusCode::UNAUTHORIZED,
            format!("this link does not read the artifacts of execution {id}"),
        );
    }
    send(&receiver, id, step, name).await
}

async fn send(receiver: &Receiver, id: String, step: String, name: String) -> Response {
    let store = Arc::clone(&receiver.store);
    let (s, n) = (step.clone(), name.clone());
    let found = tokio::task::spawn_blocking(move || store.artifact(&id, &s, &n))
        .await
        .unwrap_or_else(|e| Err(StoreError::InvalidInput(e.to_string())));
    let record = match found {
        Ok(Some(r)) => r,
        Ok(None) => {
            return error(
                StatusCode::NOT_FOUND,
                format!("step {step} stored no artifact `{name}`"),
            );
        }
        Err(e @ StoreError::NotFound { .. }) => return error(StatusCode::NOT_FOUND, e.to_string()),
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    match receiver.storage.get(&record.storage_key).await {
        Ok((size, stream)) => (
            [
                (header::CONTENT_TYPE, record.content_type.clone()),
                (header::CONTENT_LENGTH, size.to_string()),
            ],
            Body::from_stream(stream),
        )
            .into_response(),
        Err(e) => error(storage_status(&e), e.to_string()),
    }
}
