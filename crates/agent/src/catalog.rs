//! The namespace's TestWorkflows and TestWorkflowTemplates, kept current by one watch each, so
//! a submission reads them from memory instead of asking the API server every time.
//!
//! A cache can trail the cluster by a moment (`kubectl apply -f template.yaml` right before a
//! run): a workflow it lacks is read from the API server, and a submission whose compilation
//! asked for a template the cache lacks ([`testwerk_resolve::TemplateSet::missed`]) lists the
//! templates again ([`crate::submit`]).

use futures_util::{FutureExt, StreamExt};
use kube::Client;
use kube::api::{Api, DynamicObject, ListParams};
use kube::runtime::reflector::{self, Store, store::Writer};
use kube::runtime::{WatchStreamExt, watcher};
use testwerk_protocol::children::Selection;

use crate::kinds;

#[derive(Clone)]
pub struct Catalog {
    workflows: Store<DynamicObject>,
    templates: Store<DynamicObject>,
    /// What a read falls back on when the cache cannot answer.
    workflow_api: Api<DynamicObject>,
    template_api: Api<DynamicObject>,
}

impl Catalog {
    /// Starts both watches in the background.
    pub fn start(client: &Client, namespace: &str) -> Catalog {
        let workflow_api = kinds::api(client, namespace, kinds::WORKFLOW);
        let template_api = kinds::api(client, namespace, kinds::TEMPLATE);
        Catalog {
            workflows: reflect(workflow_api.clone(), kinds::WORKFLOW),
            templates: reflect(template_api.clone(), kinds::TEMPLATE),
            workflow_api,
            template_api,
        }
    }

    /// The TestWorkflow `name`: from memory, or from the API server when the cache does not
    /// have it (yet).
    pub async fn workflow(&self, name: &str) -> Result<Option<DynamicObject>, kube::Error> {
        let cached = self
            .workflows
            .find(|w| w.metadata.name.as_deref() == Some(name));
        match cached {
            Some(w) => Ok(Some((*w).clone())),
            None => self.workflow_api.get_opt(name).await,
        }
    }

    /// The names of the TestWorkflows carrying every label of `labels` (`execute` with a
    /// `selector`): from memory once the watch has listed them, otherwise from the API server.
    pub async fn workflows_labelled(
        &self,
        selection: &Selection,
    ) -> Result<Vec<String>, kube::Error> {
        let ready = self
            .workflows
            .wait_until_ready()
            .now_or_never()
            .is_some_and(|r| r.is_ok());
        let all: Vec<DynamicObject> = if ready {
            self.workflows
                .state()
                .into_iter()
                .map(|w| (*w).clone())
                .collect()
        } else {
            self.workflow_api.list(&ListParams::default()).await?.items
        };
        Ok(all
            .into_iter()
            .filter(|w| selection.matches(w.metadata.labels.as_ref()))
            .filter_map(|w| w.metadata.name)
            .collect())
    }

    /// Every TestWorkflow the watch has seen (none before it first listed them).
    pub fn workflows(&self) -> Vec<std::sync::Arc<DynamicObject>> {
        self.workflows.state()
    }

    /// Every TestWorkflowTemplate: from memory once the watch has listed them, otherwise (or
    /// when `fresh`) from the API server.
    pub async fn templates(&self, fresh: bool) -> Result<Vec<DynamicObject>, kube::Error> {
        let ready = self
            .templates
            .wait_until_ready()
            .now_or_never()
            .is_some_and(|r| r.is_ok());
        if ready && !fresh {
            return Ok(self
                .templates
                .state()
                .into_iter()
                .map(|t| (*t).clone())
                .collect());
        }
        Ok(self.template_api.list(&ListParams::default()).await?.items)
    }
}

fn reflect(api: Api<DynamicObject>, kind: &str) -> Store<DynamicObject> {
    let writer = Writer::new(kinds::resource(kind));
    let reader = writer.as_reader();
    let stream = reflector::reflector(
        writer,
        watcher(api, watcher::Config::default()).default_backoff(),
    );
    let kind = kind.to_owned();
    tokio::spawn(async move {
        let mut stream = stream.boxed();
        while let Some(event) = stream.next().await {
            if let Err(e) = event {
                tracing::warn!(kind = %kind, error = %e, "watch failed (retrying)");
            }
        }
    });
    reader
}
