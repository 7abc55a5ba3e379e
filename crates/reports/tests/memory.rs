//! A 100 MB report parses in bounded memory. Alone in its test binary: the peak resident
//! size (`VmHWM`) is the process's, and no other test may allocate meanwhile.

use std::io::BufWriter;

use testwerk_reports::read_report_file;
use testwerk_reports::sample::write_sample_junit;

/// `VmHWM` (peak resident set) or `VmRSS` from `/proc/self/status`, in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().strip_suffix("kB")?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

#[test]
fn a_100_mb_report_parses_in_bounded_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("huge.xml");
    let mut file = BufWriter::new(std::fs::File::create(&path).expect("create"));
    let written = write_sample_junit(&mut file, 100 * 1024 * 1024).expect("generate");
    drop(file);
    assert!(written.bytes >= 100 * 1024 * 1024);

    let before = status_kib("VmHWM");
    let mut counts = [0u64; 4];
    let mut longest_message = 0;
    let summary = read_report_file::<std::io::Error>(&path, "huge.xml", |case| {
        counts[case.status as usize] += 1;
        longest_message = longest_message.max(case.message.map_or(0, |m| m.len()));
        Ok(())
    })
    .expect("reads");
    let growth_kib = status_kib("VmHWM").saturating_sub(before);
    println!(
        "{} bytes, {} cases, peak RSS growth {growth_kib} KiB",
        written.bytes, summary.cases
    );

    assert!(summary.warnings.is_empty(), "{:?}", summary.warnings);
    // CaseStatus is ordered passed, skipped, failed, error.
    assert_eq!(
        counts,
        [
            written.passed,
            written.skipped,
            written.failed,
            written.error
        ]
    );
    assert!(longest_message <= testwerk_reports::MAX_MESSAGE_BYTES + 64);
    // The parser's buffer is bounded by MAX_EVENT_BYTES plus a chunk, and each message by
    // MAX_MESSAGE_BYTES; 8 MiB leaves room for the allocator, while reading the file (or its
    // 16 MiB output) whole would not fit.
    assert!(
        growth_kib < 8 * 1024,
        "reading a {} byte report grew the peak resident size by {growth_kib} KiB",
        written.bytes
    );
}
