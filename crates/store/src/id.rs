//! Unique execution ids in the form of MongoDB ObjectIds, as Testkube uses.

use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A new id: 24 hexadecimal digits made of the time in seconds (4 bytes), a random value fixed
/// for this process (5 bytes) and a counter starting at a random value (3 bytes).
pub fn new_execution_id() -> String {
    static PROCESS: OnceLock<(u64, AtomicU32)> = OnceLock::new();
    let (process, counter) = PROCESS.get_or_init(|| {
        let seed = random_u64();
        (seed >> 24, AtomicU32::new(seed as u32))
    });
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let count = counter.fetch_add(1, Ordering::Relaxed) & 0x00ff_ffff;
    format!(
        "{:08x}{:010x}{:06x}",
        secs & 0xffff_ffff,
        process & 0xff_ffff_ffff,
        count
    )
}

/// 64 random bits from the standard library's randomly keyed hasher.
/// Whether `id` has the form [`new_execution_id`] gives: 24 lowercase hexadecimal digits.
pub(crate) fn is_execution_id(id: &str) -> bool {
    id.len() == 24 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn random_u64() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    if let Ok(since) = SystemTime::now().duration_since(UNIX_EPOCH) {
        hasher.write_u128(since.as_nanos());
    }
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_24_hex_digits_and_distinct() {
        let ids: std::collections::HashSet<String> =
            (0..1000).map(|_| new_execution_id()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(
            ids.iter()
                .all(|id| id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        );
    }
}
