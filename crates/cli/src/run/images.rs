//! Image mode: the image store (`testwerk-images`) behind the local runner's [`ImageRoots`]
//! seam and behind the compiler's [`ImageSource`], so that a step's entrypoint and command come
//! from the very image its container then runs on.

use std::sync::Mutex;

use testwerk_images::{ImageStore, LocalImage, PullEvent, PullPolicy as StorePolicy};
use testwerk_local::{ImageRoot, ImageRoots};
use testwerk_plan::{ImageMetadata, ImageSource};

pub struct StoreImages {
    store: ImageStore,
    /// What the compiler's lookups pulled, for the live view once it can show it.
    notes: Mutex<Vec<String>>,
}

impl StoreImages {
    pub fn new(store: ImageStore) -> Self {
        StoreImages {
            store,
            notes: Mutex::new(Vec::new()),
        }
    }

    /// Progress lines gathered while compiling (image lookups), oldest first.
    pub fn take_notes(&self) -> Vec<String> {
        std::mem::take(&mut *self.notes.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn ensure(
        &self,
        image: &str,
        policy: Option<StorePolicy>,
        progress: &mut dyn FnMut(String),
    ) -> Result<LocalImage, String> {
        // The store may report a finished layer more than once (last bytes, then verified).
        let mut last = String::new();
        self.store
            .ensure(image, policy, &mut |event| {
                if let Some(line) = progress_line(image, &event)
                    && line != last
                {
                    progress(line.clone());
                    last = line;
                }
            })
            .map_err(|e| e.to_string())
    }
}

impl ImageRoots for StoreImages {
    fn root(
        &self,
        image: &str,
        pull_policy: Option<&str>,
        progress: &mut dyn FnMut(String),
    ) -> Result<ImageRoot, String> {
        // Unset: the store applies Kubernetes' default for the reference (one rule, in registry).
        let policy = pull_policy.map(StorePolicy::parse).transpose()?;
        let local = self.ensure(image, policy, progress)?;
        Ok(ImageRoot {
            root: local.root,
            env: local.config.env,
            working_dir: local.config.working_dir,
            user: local.config.user,
        })
    }
}

impl ImageSource for StoreImages {
    /// Pulls the image if it is not here yet (its container needs it anyway), and reads its
    /// configuration from what was pulled.
    fn metadata(&self, image: &str) -> Result<Option<ImageMetadata>, String> {
        let mut lines = Vec::new();
        let local = self.ensure(image, Some(StorePolicy::IfNotPresent), &mut |l| {
            lines.push(l)
        });
        self.notes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(lines);
        let config = local?.config;
        Ok(Some(ImageMetadata {
            entrypoint: config.entrypoint,
            cmd: config.cmd,
            working_dir: config.working_dir,
            user: config.user,
        }))
    }
}

/// One line per layer fetched or unpacked; nothing while bytes arrive (the live view is a log).
fn progress_line(image: &str, event: &PullEvent) -> Option<String> {
    match event {
        PullEvent::Layer {
            index,
            count,
            done,
            total,
            ..
        } if done >= total => Some(format!(
            "{image}: layer {index}/{count} downloaded ({})",
            crate::pull::megabytes(*total)
        )),
        PullEvent::Unpacking { index, count } => {
            Some(format!("{image}: unpacking layer {index}/{count}"))
        }
        PullEvent::Done { cached: false, .. } => Some(format!("{image}: pulled")),
        _ => None,
    }
}
