//! The control endpoint of `testwerk-init`: how a backend pauses and resumes a running
//! container from outside (spec §4.6). TCP, one byte each way, as upstream: the client sends
//! [`PAUSE`] or [`RESUME`]; `init` answers [`DONE`] when it is done. Other bytes are ignored.

/// The port `init` listens on (on every address of the Pod).
pub const PORT: u16 = 60434;
/// Pause request byte.
pub const PAUSE: u8 = 0x03;
/// Resume request byte.
pub const RESUME: u8 = 0x04;
/// Answer byte.
pub const DONE: u8 = 0x05;
