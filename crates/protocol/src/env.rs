//! The environment contract between the bundle and `init`.
//!
//! Every variable `init` reads is namespaced by a prefix `_<group>[C][S]_`, so user variables
//! can never collide with ours and each container transition gets only its own:
//!
//! | group | holds |
//! |---|---|
//! | `00` | Pod facts for the setup step (node, Pod name, namespace, service account) |
//! | `01` | the plan (only in the first container) |
//! | `02` | values of `secret()` calls, in every container |
//! | `03` | execution config and signature |
//! | `04` | the container's own CPU and memory requests and limits |
//! | `05` | the container's name |
//! | `0`, `1`, … | the user's variables of the k-th container transition in this container |
//!
//! `C` marks a value that is a template for `init` to compute; `S` a value to mask in logs.

pub const NODE_NAME: &str = "_00_TW_NODE";
pub const POD_NAME: &str = "_00_TW_POD";
pub const NAMESPACE: &str = "_00_TW_NAMESPACE";
pub const SERVICE_ACCOUNT: &str = "_00_TW_SERVICE_ACCOUNT";
pub const PLAN: &str = "_01_TW_PLAN";
pub const CONFIG: &str = "_03_TW_CONFIG";
pub const SIGNATURE: &str = "_03_TW_SIGNATURE";
pub const CPU_REQUEST: &str = "_04_TW_CPU_REQUEST";
pub const CPU_LIMIT: &str = "_04_TW_CPU_LIMIT";
pub const MEMORY_REQUEST: &str = "_04_TW_MEMORY_REQUEST";
pub const MEMORY_LIMIT: &str = "_04_TW_MEMORY_LIMIT";
pub const CONTAINER_NAME: &str = "_05_TW_CONTAINER";

/// The prefix of a user variable of transition `k`.
pub fn user_prefix(k: usize, computed: bool, sensitive: bool) -> String {
    format!(
        "_{k}{}{}_",
        if computed { "C" } else { "" },
        if sensitive { "S" } else { "" }
    )
}

/// A variable name split by the contract: its group, flags and the name the program sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scoped<'a> {
    /// `"00"`…`"05"` for ours, `"0"`, `"1"`, … for a transition's user variables.
    pub group: &'a str,
    pub computed: bool,
    pub sensitive: bool,
    pub name: &'a str,
}

/// Splits `_<group>[C][S]_<name>`; `None` for a variable outside the contract (the base env).
pub fn parse_scoped(var: &str) -> Option<Scoped<'_>> {
    let rest = var.strip_prefix('_')?;
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let group = &rest[..digits];
    let valid_group = matches!(group, "00" | "01" | "02" | "03" | "04" | "05")
        || group == "0"
        || !group.starts_with('0');
    if !valid_group {
        return None;
    }
    let mut tail = &rest[digits..];
    let computed = tail.starts_with('C');
    if computed {
        tail = &tail[1..];
    }
    let sensitive = tail.starts_with('S');
    if sensitive {
        tail = &tail[1..];
    }
    let name = tail.strip_prefix('_')?;
    Some(Scoped {
        group,
        computed,
        sensitive,
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoped_names_split_into_group_flags_and_name() {
        let s = parse_scoped("_0C_INPUT").expect("scoped");
        assert_eq!(
            (s.group, s.computed, s.sensitive, s.name),
            ("0", true, false, "INPUT")
        );
        let s = parse_scoped("_02S_a_K_b").expect("scoped");
        assert_eq!(
            (s.group, s.computed, s.sensitive, s.name),
            ("02", false, true, "a_K_b")
        );
        let s = parse_scoped("_12_X").expect("scoped");
        assert_eq!(s.group, "12");
        assert_eq!(
            parse_scoped(&user_prefix(3, true, true)).map(|s| s.group),
            Some("3")
        );
        for outside in ["PATH", "_X", "_07_X", "_1X"] {
            assert_eq!(parse_scoped(outside), None, "{outside}");
        }
    }
}
