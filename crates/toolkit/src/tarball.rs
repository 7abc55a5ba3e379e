//! `tarball`: not written yet.

use testwerk_protocol::toolkit::ToolkitSettings;

use crate::ToolkitError;

pub fn run(_args: Vec<String>, _settings: &ToolkitSettings) -> Result<(), ToolkitError> {
    Err(ToolkitError::Failed("`tarball` is not written yet".into()))
}
