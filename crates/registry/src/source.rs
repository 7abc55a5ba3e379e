//! The compiler's seam: [`testwerk_plan::ImageSource`] backed by the registry. An error here
//! stops compilation before anything is created, so its text says everything: the registry,
//! what it answered, what would fix it, and how to do without the lookup.

use testwerk_plan::{ImageMetadata, ImageSource};

use crate::auth::PullSecret;
use crate::client::RegistryClient;
use crate::error::LookupError;
use crate::lookup::{LookupRequest, PullPolicy};

/// How to compile without asking the registry (spec §7, "Avoid Fetching Image Metadata").
pub const AVOID_LOOKUP: &str = "to compile without asking the registry, give the step a \
    `command` (the image's entrypoint and cmd are what the plan needed), with `workingDir` and \
    `securityContext.runAsGroup` if they matter, or describe the image in a file given with \
    --images";

/// The compile error for a failed lookup.
pub fn compile_error(error: &LookupError) -> String {
    match error.hint() {
        Some(hint) => format!("{error} ({hint}); {AVOID_LOOKUP}"),
        None => format!("{error}; {AVOID_LOOKUP}"),
    }
}

impl ImageSource for RegistryClient {
    fn metadata(&self, image: &str) -> Result<Option<ImageMetadata>, String> {
        self.inspect(image)
            .map(|l| Some(l.info.config.to_plan_metadata()))
            .map_err(|e| compile_error(&e))
    }
}

/// A client seen through one pod: its pull secrets and pull policy apply to every lookup.
pub struct PodImageSource<'a> {
    pub client: &'a RegistryClient,
    pub pull_secrets: &'a [PullSecret],
    /// `None`: Kubernetes' default per image.
    pub pull_policy: Option<PullPolicy>,
}

impl ImageSource for PodImageSource<'_> {
    fn metadata(&self, image: &str) -> Result<Option<ImageMetadata>, String> {
        let mut request = LookupRequest::new(image).pull_secrets(self.pull_secrets);
        request.pull_policy = self.pull_policy;
        self.client
            .lookup(&request)
            .map(|l| Some(l.info.config.to_plan_metadata()))
            .map_err(|e| compile_error(&e))
    }
}
