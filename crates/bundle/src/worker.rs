//! Defaults a runner applies to the containers and volumes that are ours, not the user's.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ResourceRequirements, Volume};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::BundleError;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkerDefaults {
    /// Pull policy of init and toolkit containers that do not set one.
    pub default_pull_policy: Option<String>,
    /// Requests for init and toolkit containers without requests (`cpu`, `memory`).
    pub runner_requests: BTreeMap<String, String>,
    /// Limits for init and toolkit containers without limits.
    pub runner_limits: BTreeMap<String, String>,
    /// `sizeLimit` of emptyDir volumes that set none.
    pub empty_dir_size_limit: Option<String>,
}

impl WorkerDefaults {
    /// Refuses settings that would produce invalid objects, naming the setting.
    pub fn validate(&self) -> Result<(), BundleError> {
        if let Some(p) = &self.default_pull_policy
            && !matches!(p.as_str(), "Always" | "IfNotPresent" | "Never")
        {
            return Err(BundleError::Invalid(format!(
                "invalid worker default image pull policy \"{p}\" (allowed: Always, IfNotPresent, Never)"
            )));
        }
        if let Some(q) = &self.empty_dir_size_limit
            && !is_quantity(q)
        {
            return Err(BundleError::Invalid(format!(
                "invalid worker emptyDir size limit \"{q}\""
            )));
        }
        for (kind, map) in [
            ("request", &self.runner_requests),
            ("limit", &self.runner_limits),
        ] {
            for (resource, q) in map {
                if !is_quantity(q) {
                    return Err(BundleError::Invalid(format!(
                        "invalid worker default runner {} {kind} \"{q}\"",
                        resource.to_uppercase()
                    )));
                }
            }
        }
        Ok(())
    }

    /// Requests and limits are defaulted independently: a container with only requests still
    /// receives the default limits.
    pub fn apply_runner_resources(&self, resources: &mut Option<ResourceRequirements>) {
        if self.runner_requests.is_empty() && self.runner_limits.is_empty() {
            return;
        }
        let r = resources.get_or_insert_with(ResourceRequirements::default);
        let quantities = |m: &BTreeMap<String, String>| {
            m.iter()
                .map(|(k, v)| (k.clone(), Quantity(v.clone())))
                .collect::<BTreeMap<_, _>>()
        };
        if r.requests.as_ref().is_none_or(BTreeMap::is_empty) && !self.runner_requests.is_empty() {
            r.requests = Some(quantities(&self.runner_requests));
        }
        if r.limits.as_ref().is_none_or(BTreeMap::is_empty) && !self.runner_limits.is_empty() {
            r.limits = Some(quantities(&self.runner_limits));
        }
    }

    pub fn apply_size_limit(&self, volumes: &mut [Volume]) {
        let Some(limit) = &self.empty_dir_size_limit else {
            return;
        };
        for v in volumes {
            if let Some(dir) = v.empty_dir.as_mut()
                && dir.size_limit.is_none()
            {
                dir.size_limit = Some(Quantity(limit.clone()));
            }
        }
    }
}

/// A Kubernetes quantity: a decimal number with an optional binary, decimal or exponent suffix.
pub fn is_quantity(text: &str) -> bool {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let number_ok = !number.is_empty()
        && number.trim_start_matches(['+', '-']).parse::<f64>().is_ok()
        && !number.ends_with('.');
    let suffix_ok = matches!(
        suffix,
        "" | "Ki"
            | "Mi"
            | "Gi"
            | "Ti"
            | "Pi"
            | "Ei"
            | "n"
            | "u"
            | "m"
            | "k"
            | "M"
            | "G"
            | "T"
            | "P"
            | "E"
    ) || (suffix.starts_with(['e', 'E'])
        && suffix[1..]
            .trim_start_matches(['+', '-'])
            .parse::<u32>()
            .is_ok());
    number_ok && suffix_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        for ok in ["1", "100m", "1.5Gi", "4Mi", "1e3", "0.5"] {
            assert!(is_quantity(ok), "{ok}");
        }
        for bad in ["not-valid", "", "1.", "Gi", "1Xi"] {
            assert!(!is_quantity(bad), "{bad}");
        }
    }
}
