//! Template names: shown with `/` (`official/k6/v1`), stored in Kubernetes with `--`
//! (`official--k6--v1`) because object names cannot contain `/`.

/// The name a template is stored under: `official/k6/v1` → `official--k6--v1`.
pub fn template_internal_name(name: &str) -> String {
    name.replace('/', "--")
}

/// The name a template is shown and referenced with: `official--k6--v1` → `official/k6/v1`.
pub fn template_display_name(name: &str) -> String {
    name.replace("--", "/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_both_ways() {
        assert_eq!(template_internal_name("official/k6/v1"), "official--k6--v1");
        assert_eq!(template_display_name("official--k6--v1"), "official/k6/v1");
        assert_eq!(template_internal_name("plain"), "plain");
    }
}
