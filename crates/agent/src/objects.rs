//! Creating and deleting an execution's Kubernetes objects. Names are deterministic (the
//! execution's resource id and suffixes), so creating again after a crash finds what exists:
//! "already exists" is success, and there is never a second Job for one execution.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    ConfigMap, EnvVar, EnvVarSource, PersistentVolumeClaim, Pod, Secret, SecretKeySelector,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::blueprint::Blueprint;

/// The label every object of an execution carries (value: the resource id).
pub const EXECUTION_LABEL: &str = testwerk_bundle::labels::EXECUTION;
/// The key of the protocol token in the token Secret.
const TOKEN_KEY: &str = "token";

pub fn token_secret_name(resource: &str) -> String {
    format!("{resource}-token")
}

fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}

/// An API error as a person wants to read it: the server's message, not the whole status.
pub fn describe(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => format!("{} ({})", s.message, s.reason),
        other => other.to_string(),
    }
}

/// The cluster refused the objects as invalid: the workflow's fault, not the agent's.
pub fn is_invalid(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 422 || s.code == 400)
}

pub fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// Creates `object`; one that exists already counts as created.
async fn create<K>(api: &Api<K>, object: &K) -> Result<(), kube::Error>
where
    K: Resource + Clone + Serialize + DeserializeOwned + std::fmt::Debug,
{
    match api.create(&PostParams::default(), object).await {
        Ok(_) => Ok(()),
        Err(e) if is_conflict(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The protocol token of an execution: read from its Secret, or made and stored there.
pub async fn ensure_token(
    client: &Client,
    namespace: &str,
    blueprint: &Blueprint,
) -> Result<String, String> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let name = token_secret_name(&blueprint.resource);
    let token = testwerk_protocol::line::new_token()
        .map_err(|e| format!("no randomness for the protocol token: {e}"))?;
    let secret = Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(name.clone()),
            labels: Some(labels(blueprint)),
            ..Default::default()
        },
        data: Some(BTreeMap::from([(
            TOKEN_KEY.to_owned(),
            ByteString(token.clone().into_bytes()),
        )])),
        ..Default::default()
    };
    // Created first, read only when it exists: a restarted agent (or a racing one) must use
    // the token the Pod already has.
    match api.create(&PostParams::default(), &secret).await {
        Ok(_) => Ok(token),
        Err(e) if is_conflict(&e) => read_token(&api, &name)
            .await?
            .ok_or_else(|| format!("Secret {name} holds no token")),
        Err(e) => Err(format!("creating Secret {name}: {}", describe(&e))),
    }
}

async fn read_token(api: &Api<Secret>, name: &str) -> Result<Option<String>, String> {
    match api.get_opt(name).await {
        Ok(Some(s)) => Ok(s
            .data
            .and_then(|d| d.get(TOKEN_KEY).cloned())
            .map(|b| String::from_utf8_lossy(&b.0).into_owned())),
        Ok(None) => Ok(None),
        Err(e) => Err(format!("reading Secret {name}: {e}")),
    }
}

fn labels(blueprint: &Blueprint) -> BTreeMap<String, String> {
    blueprint.job.metadata.labels.clone().unwrap_or_else(|| {
        BTreeMap::from([(EXECUTION_LABEL.to_owned(), blueprint.resource.clone())])
    })
}

/// Every container reads the token from the Secret; `init` removes it from its environment
/// before any step runs.
pub fn add_token_env(job: &mut Job, resource: &str) {
    let Some(spec) = job.spec.as_mut().and_then(|s| s.template.spec.as_mut()) else {
        return;
    };
    let var = EnvVar {
        name: testwerk_protocol::env::TOKEN.to_owned(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: token_secret_name(resource),
                key: TOKEN_KEY.to_owned(),
                optional: Some(false),
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    for c in spec
        .init_containers
        .iter_mut()
        .flatten()
        .chain(spec.containers.iter_mut())
    {
        let env = c.env.get_or_insert_with(Vec::new);
        if !env.iter().any(|e| e.name == var.name) {
            env.push(var.clone());
        }
    }
}

/// Creates what the execution needs, Job last, and makes the Job the owner of the rest (so
/// Kubernetes deletes them with it). `secrets` are the compiler's Secrets with their values;
/// `owner` (a `TestWorkflowExecution`) owns the Job.
pub async fn create_all(
    client: &Client,
    namespace: &str,
    blueprint: &Blueprint,
    secrets: &[Secret],
    owner: Option<OwnerReference>,
) -> Result<Job, CreateError> {
    create_secrets(client, namespace, secrets).await?;
    let cm_api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    for c in &blueprint.config_maps {
        create(&cm_api, c).await.map_err(|e| {
            CreateError::new(format!("creating ConfigMap {}", name_of(&c.metadata)), &e)
        })?;
    }
    let pvc_api: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), namespace);
    for p in &blueprint.pvcs {
        create(&pvc_api, p).await.map_err(|e| {
            CreateError::new(
                format!("creating PersistentVolumeClaim {}", name_of(&p.metadata)),
                &e,
            )
        })?;
    }
    let mut job = blueprint.job.clone();
    job.metadata.namespace = Some(namespace.to_owned());
    add_token_env(&mut job, &blueprint.resource);
    if let Some(owner) = owner {
        job.metadata.owner_references = Some(vec![owner]);
    }
    let job_api: Api<Job> = Api::namespaced(client.clone(), namespace);
    let job = match job_api.create(&PostParams::default(), &job).await {
        Ok(created) => created,
        // Ours from before a restart (names are deterministic): never a second Job.
        Err(e) if is_conflict(&e) => job_api
            .get(&blueprint.resource)
            .await
            .map_err(|e| CreateError::new(format!("reading Job {}", blueprint.resource), &e))?,
        Err(e) => {
            return Err(CreateError::new(
                format!("creating Job {}", blueprint.resource),
                &e,
            ));
        }
    };
    // An API server without the ImageVolume feature drops image volumes without a word
    // (`--image-volumes on` on such a cluster): the Pod would fail to find `init`.
    if crate::image_volumes::mounts_image(&blueprint.job)
        && !crate::image_volumes::mounts_image(&job)
    {
        let _ = job_api
            .delete(&blueprint.resource, &DeleteParams::background())
            .await;
        return Err(CreateError {
            message: format!(
                "creating Job {}: the API server dropped its image volumes: this cluster cannot mount images (feature gate ImageVolume off); run the agent with --image-volumes=auto or off",
                blueprint.resource
            ),
            invalid: true,
        });
    }
    // Reported inside; the execution goes on either way (see `adopt`).
    adopt(client, namespace, blueprint, &job).await;
    Ok(job)
}

/// Creates the compiler's Secrets (with their values), which a queued execution needs before
/// it waits: their values are never stored.
pub async fn create_secrets(
    client: &Client,
    namespace: &str,
    secrets: &[Secret],
) -> Result<(), CreateError> {
    let secret_api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    for s in secrets {
        create(&secret_api, s).await.map_err(|e| {
            CreateError::new(format!("creating Secret {}", name_of(&s.metadata)), &e)
        })?;
    }
    Ok(())
}

/// Why the objects could not be created.
#[derive(Debug)]
pub struct CreateError {
    pub message: String,
    /// The cluster refused them for good (the workflow's fault, or the cluster cannot run
    /// them); otherwise the cluster or the agent failed.
    pub invalid: bool,
}

impl CreateError {
    fn new(what: String, e: &kube::Error) -> CreateError {
        CreateError {
            message: format!("{what}: {}", describe(e)),
            invalid: is_invalid(e),
        }
    }
}

/// Makes the Job the owner of the execution's other objects, so Kubernetes deletes them with
/// it. A patch that fails is logged as a warning naming the object and returned; it does not
/// fail the execution: an object left without an owner is still deleted by its label at
/// clean-up (and by recovery after a restart), so nothing outlives the execution for long.
async fn adopt(client: &Client, namespace: &str, blueprint: &Blueprint, job: &Job) -> Vec<String> {
    let Some(uid) = job.metadata.uid.clone() else {
        return Vec::new();
    };
    let owner = serde_json::json!({"metadata": {"ownerReferences": [{
        "apiVersion": "batch/v1", "kind": "Job", "name": blueprint.resource, "uid": uid,
        "blockOwnerDeletion": false,
    }]}});
    let patch = Patch::Merge(&owner);
    let params = PatchParams::default();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let mut names = blueprint.secrets.clone();
    names.push(token_secret_name(&blueprint.resource));
    let mut failed = Vec::new();
    let mut check = |object: String, result: Result<(), kube::Error>| {
        if let Err(e) = result {
            let e = describe(&e);
            tracing::warn!(
                execution = %blueprint.resource,
                %object,
                "cannot make Job {} the owner of {object} (it is deleted by its label at clean-up instead): {e}",
                blueprint.resource
            );
            failed.push(format!("{object}: {e}"));
        }
    };
    for n in names {
        let result = secrets.patch(&n, &params, &patch).await.map(drop);
        check(format!("Secret/{n}"), result);
    }
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    for c in &blueprint.config_maps {
        let name = name_of(&c.metadata);
        let result = cms.patch(&name, &params, &patch).await.map(drop);
        check(format!("ConfigMap/{name}"), result);
    }
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), namespace);
    for p in &blueprint.pvcs {
        let name = name_of(&p.metadata);
        let result = pvcs.patch(&name, &params, &patch).await.map(drop);
        check(format!("PersistentVolumeClaim/{name}"), result);
    }
    failed
}

fn name_of(meta: &kube::api::ObjectMeta) -> String {
    meta.name.clone().unwrap_or_default()
}

/// Deletes every object of the execution `resource`: its Job (and through it the Pod), and
/// by label whatever else carries it.
pub async fn delete_all(client: &Client, namespace: &str, resource: &str) -> Result<(), String> {
    let background = DeleteParams::background();
    let jobs: Api<Job> = Api::namespaced(client.clone(), namespace);
    match jobs.delete(resource, &background).await {
        Ok(_) => {}
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(format!("deleting Job {resource}: {e}")),
    }
    let selector = ListParams::default().labels(&format!("{EXECUTION_LABEL}={resource}"));
    let now = DeleteParams {
        grace_period_seconds: Some(0),
        ..background.clone()
    };
    let mut errors = Vec::new();
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    if let Err(e) = pods.delete_collection(&now, &selector).await {
        errors.push(format!("Pods: {e}"));
    }
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    if let Err(e) = secrets.delete_collection(&background, &selector).await {
        errors.push(format!("Secrets: {e}"));
    }
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    if let Err(e) = cms.delete_collection(&background, &selector).await {
        errors.push(format!("ConfigMaps: {e}"));
    }
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), namespace);
    if let Err(e) = pvcs.delete_collection(&background, &selector).await {
        errors.push(format!("PersistentVolumeClaims: {e}"));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!("cleaning up {resource}: {}", errors.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An API server that refuses everything with 403, as one with too narrow RBAC would;
    /// answers until the test ends. Returns its URL.
    fn refusing_api_server() -> String {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let url = format!(
            "http://{}",
            server
                .server_addr()
                .to_ip()
                .unwrap_or_else(|| panic!("an IP address"))
        );
        std::thread::spawn(move || {
            for request in server.incoming_requests() {
                let body = r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"patch is forbidden here","reason":"Forbidden","code":403}"#;
                let response = tiny_http::Response::from_string(body)
                    .with_status_code(403)
                    .with_header(
                        tiny_http::Header::from_bytes("Content-Type", "application/json")
                            .unwrap_or_else(|()| panic!("a header")),
                    );
                request.respond(response).ok();
            }
        });
        url
    }

    fn blueprint() -> Blueprint {
        crate::blueprint::tests::compiled(
            "kind: TestWorkflow\napiVersion: testworkflows.testkube.io/v1\nmetadata: {name: own}\nspec:\n  content:\n    files: [{path: /data/a.txt, content: a}]\n  steps:\n  - shell: cat /data/a.txt\n",
            "own-1",
        )
    }

    /// A patch the API server refuses is no longer dropped: each object that keeps no owner is
    /// named with the server's reason.
    #[tokio::test]
    async fn refused_ownership_patches_are_reported_by_object() {
        let url = refusing_api_server();
        let config = kube::Config::new(url.parse().unwrap_or_else(|e| panic!("{e}")));
        let client = Client::try_from(config).unwrap_or_else(|e| panic!("{e}"));
        let blueprint = blueprint();
        assert!(!blueprint.config_maps.is_empty(), "the files' ConfigMap");
        let mut job = blueprint.job.clone();
        job.metadata.uid = Some("3f7c-uid".into());
        let failed = adopt(&client, "ns", &blueprint, &job).await;
        assert_eq!(
            failed.len(),
            1 + blueprint.config_maps.len(),
            "the token Secret and each ConfigMap: {failed:?}"
        );
        assert!(
            failed[0].starts_with("Secret/own-1-")
                && failed.iter().all(|f| f.contains("forbidden")),
            "{failed:?}"
        );
        assert!(
            failed[1..].iter().all(|f| f.starts_with("ConfigMap/own-1")),
            "{failed:?}"
        );
    }
}
