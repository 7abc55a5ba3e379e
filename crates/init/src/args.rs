//! The command line: `testwerk-init <action group index>`. Nothing else, so no parser library.

use std::ffi::OsString;

use crate::fatal::Fatal;

/// The usage line shown with every argument error.
pub const USAGE: &str = "usage: testwerk-init <action group index>";

/// The action group to run, from the arguments after the program name.
pub fn group_index(args: &[OsString]) -> Result<usize, Fatal> {
    let [arg] = args else {
        return Err(Fatal::input(format!(
            "expected exactly one argument, got {}\n{USAGE}",
            args.len()
        )));
    };
    let text = arg
        .to_str()
        .ok_or_else(|| Fatal::input(format!("the group index is not text\n{USAGE}")))?;
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Fatal::input(format!(
            "the group index must be a number, got {text:?}\n{USAGE}"
        )));
    }
    text.parse()
        .map_err(|_| Fatal::input(format!("the group index {text} is too large\n{USAGE}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn one_number_only() {
        assert_eq!(group_index(&args(&["0"])), Ok(0));
        assert_eq!(group_index(&args(&["12"])), Ok(12));
        for bad in [
            &[][..],
            &["1", "2"],
            &["-1"],
            &["x"],
            &[""],
            &["+1"],
            &["99999999999999999999999"],
        ] {
            let err = group_index(&args(bad)).expect_err("bad");
            assert_eq!(err.code, 155, "{bad:?}");
            assert!(err.message.contains("usage"), "{}", err.message);
        }
    }
}
