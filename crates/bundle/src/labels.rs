//! Labels and annotations that make every object of an execution discoverable.
//!
//! All live under the `testwerk.io/` prefix:
//!
//! | key | on | value |
//! |---|---|---|
//! | `testwerk.io/execution` | every object | this execution's resource id (the Job name) |
//! | `testwerk.io/root` | every object | the root execution id (differs for nested executions) |
//! | `testwerk.io/workflow` | Job, Pod | the workflow name, sanitised to a label value |
//! | `testwerk.io/plan` | Pod annotation | the plan `init` executes (versioned JSON) |
//! | `testwerk.io/signature` | Pod annotation | the step tree shown to people |
//! | `testwerk.io/config` | Pod annotation | execution facts `init` and the toolkit need |
//! | `testwerk.io/scheduled-at` | Pod annotation | when the execution was scheduled (RFC 3339) |

pub const EXECUTION: &str = "testwerk.io/execution";
pub const ROOT: &str = "testwerk.io/root";
pub const WORKFLOW: &str = "testwerk.io/workflow";
pub const PLAN: &str = "testwerk.io/plan";
pub const SIGNATURE: &str = "testwerk.io/signature";
pub const CONFIG: &str = "testwerk.io/config";
pub const SCHEDULED_AT: &str = "testwerk.io/scheduled-at";

/// A label value from any text: invalid characters become `-`, at most 63 characters,
/// starting and ending with an alphanumeric (`My Workflow/Name` → `My-Workflow-Name`).
pub fn label_value(text: &str) -> String {
    let mapped: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed: String = mapped.chars().take(63).collect();
    trimmed
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn workflow_names_become_valid_label_values() {
        assert_eq!(super::label_value("My Workflow/Name"), "My-Workflow-Name");
        assert_eq!(super::label_value("--x--"), "x");
        assert_eq!(super::label_value(&"a".repeat(80)).len(), 63);
    }
}
