//! # testwerk-artifacts
//!
//! The files a workflow's `artifacts` steps keep: where they are stored, how they arrive, and
//! how they are read back.
//!
//! - **Storage** ([`Storage`], configured by [`StorageSettings`]): by default a folder beside
//!   the results store, `<store dir>/artifacts/<execution>/<step ref>/<name>`, each file
//!   written to a temporary file, fsync'd and renamed into place; or an S3-compatible bucket
//!   (`--artifacts s3://bucket/prefix`, `--s3-endpoint`, `--s3-region`, credentials from the
//!   usual `AWS_*` variables) through `object_store`. A full disk or an unreachable endpoint
//!   fails that upload with the reason; what is stored stays.
//! - **Arrival** ([`Receiver`]): an axum router the backend mounts (the agent in its API, the
//!   local runner on 127.0.0.1 through [`serve_local`]). The toolkit inside the Pod `PUT`s each
//!   file to `{sink.url}/{step ref}/{name}` with the execution's token
//!   ([`testwerk_protocol::toolkit::ArtifactSink`]); the Pod holds no storage credentials.
//!   Tokens are HMACs of the execution id under the backend's key ([`TokenKey`]), kept beside
//!   the results store, so they outlive a restart of the agent. Each upload is streamed into
//!   storage under a size limit, then recorded in the store
//!   ([`testwerk_store::Store::record_artifact`]), then handed to an optional [`ArtifactHook`]
//!   (test report parsing).
//! - **Reading back**: `GET /api/v1/executions/{id}/artifacts` lists, `GET
//!   …/artifacts/{step}/{name}` downloads; [`Storage::get`] and the store's
//!   [`testwerk_store::Store::artifacts`] do the same in process.
//!
//! For `testwerk run`, [`serve_for_store`] does all of this in one call. By hand:
//!
//! ```no_run
//! # use std::sync::Arc;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use testwerk_artifacts::{Receiver, Storage, StorageFlags, StorageSettings, TokenKey, serve_local};
//! let store_path = std::path::Path::new("/tmp/testwerk.db");
//! let store = Arc::new(testwerk_store::Store::open(store_path)?);
//! let settings = StorageSettings::from_flags(&StorageFlags::default(), store_path, &|k| std::env::var(k).ok())?;
//! let tokens = TokenKey::load_or_create(&TokenKey::path_beside(store_path))?;
//! let server = serve_local(Receiver::new(Storage::open(&settings)?, store, tokens))?;
//! let sink = server.sink("0123456789abcdef01234567"); // into ToolkitSettings.artifacts
//! # Ok(()) }
//! ```

pub mod content_type;
mod hook;
mod key;
mod local;
mod receiver;
mod reports_hook;
mod settings;
mod storage;
mod token;

pub use hook::ArtifactHook;
pub use key::{ArtifactKey, check_name};
pub use local::{
    LocalServer, serve_for_store, serve_for_store_with, serve_local, serve_local_with,
};
pub use receiver::{DEFAULT_MAX_SIZE, Receiver, location};
pub use reports_hook::TestReports;
pub use settings::{
    LOCATION_ENV, S3Credentials, S3Settings, SettingsError, StorageFlags, StorageSettings,
};
pub use storage::{ByteStream, Storage, StorageError};
pub use token::TokenKey;
