//! The control endpoint of `testwerk-init`: how a backend pauses and resumes a running
//! container from outside (spec §4.6). TCP on the Pod's address, as upstream (the agent
//! connects to the Pod IP); locally a Unix socket the runner binds in its private directory
//! and passes to `init` as a descriptor ([`FD_PREFIX`]), so no port is open and the socket's
//! file is out of the steps' reach. The protocol has one difference from upstream: a client first
//! proves it may: it sends the execution's protocol token and [`TOKEN_END`], then one byte per
//! command, [`PAUSE`] or [`RESUME`]; `init` answers [`DONE`] when it is done. A connection
//! whose first line is not the token gets [`REFUSED`] and is closed. Upstream has no such check,
//! so any process sharing the Pod's network (a step, a service) could pause the execution;
//! `init` hides the token from steps, so they cannot.

/// The port `init` listens on (on every address of the Pod).
pub const PORT: u16 = 60434;
/// `TW_CONTROL_ADDR=fd:<n>`: `init` accepts on the listening Unix socket at descriptor `n`,
/// which its parent left open, instead of binding an address.
pub const FD_PREFIX: &str = "fd:";
/// The descriptor the local runner passes its socket at (the first after stdio, which is what
/// `runc run --preserve-fds 1` passes on).
pub const LOCAL_FD: i32 = 3;
/// Ends the token a client sends first.
pub const TOKEN_END: u8 = b'\n';
/// The longest token line accepted before the connection is refused.
pub const MAX_TOKEN_LINE: usize = 128;
/// Pause request byte.
pub const PAUSE: u8 = 0x03;
/// Resume request byte.
pub const RESUME: u8 = 0x04;
/// Answer byte.
pub const DONE: u8 = 0x05;
/// The answer to a connection that did not send the token.
pub const REFUSED: u8 = 0x15;

/// What a client sends for one command.
pub fn request(token: &str, command: u8) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(token.len() + 2);
    bytes.extend_from_slice(token.as_bytes());
    bytes.push(TOKEN_END);
    bytes.push(command);
    bytes
}

/// Compares a presented token with the expected one in time independent of where they differ,
/// so timing does not reveal a prefix.
pub fn token_matches(presented: &[u8], expected: &str) -> bool {
    let expected = expected.as_bytes();
    if presented.len() != expected.len() {
        return false;
    }
    presented
        .iter()
        .zip(expected)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_matches() {
        assert!(token_matches(b"abc", "abc"));
        assert!(!token_matches(b"abd", "abc"));
        assert!(!token_matches(b"ab", "abc"));
        assert!(!token_matches(b"", "abc"));
        assert_eq!(request("t0k", PAUSE), b"t0k\n\x03");
    }
}
