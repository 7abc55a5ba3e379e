//! `container`: the next steps run with a new transition (command, arguments, working
//! directory, variables group `k`).

use std::path::PathBuf;

use testwerk_protocol::plan::Transition;

use crate::fatal::Fatal;
use crate::runner::Runner;

impl Runner {
    pub(super) fn container(&mut self, r: &str, config: Transition) -> Result<(), Fatal> {
        let k = self.next_env_group;
        self.next_env_group += 1;
        self.env_group = Some(k);
        self.container_error = None;
        let wanted = config.working_dir.clone().filter(|d| !d.trim().is_empty());
        self.transition = config;
        let dir = match wanted {
            None => self.original_cwd.clone(),
            Some(d) => match self.with_machine(r, |m| m.template(&d)) {
                // A relative directory is taken from where we started, not from the last step's.
                Ok(d) => self.original_cwd.join(PathBuf::from(d)),
                Err(e) => {
                    self.container_error = Some(format!(
                        "cannot compute the working directory of step {r}: {e}"
                    ));
                    return Ok(());
                }
            },
        };
        let enter = || -> std::io::Result<()> {
            if !dir.is_dir() {
                std::fs::create_dir_all(&dir)?;
            }
            std::env::set_current_dir(&dir)
        };
        if let Err(e) = enter() {
            self.container_error = Some(format!(
                "cannot use the working directory {} of step {r}: {e}",
                dir.display()
            ));
        }
        Ok(())
    }
}
