//! Parses a generated 100 MB JUnit report and prints the throughput and the peak memory.
//!
//! ```sh
//! cargo run --release -p testwerk-reports --example junit_bench [-- MEGABYTES]
//! ```

use std::io::BufWriter;
use std::time::Instant;

use testwerk_reports::read_report_file;
use testwerk_reports::sample::write_sample_junit;

/// A field of `/proc/self/status` (`VmHWM`, `VmRSS`), in KiB.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().strip_suffix("kB")?.trim().parse().ok())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let megabytes: u64 = match std::env::args().nth(1) {
        Some(arg) => arg
            .parse()
            .map_err(|_| format!("`{arg}` is not a size in megabytes"))?,
        None => 100,
    };
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("report.xml");
    let mut file = BufWriter::new(std::fs::File::create(&path)?);
    let written = write_sample_junit(&mut file, megabytes * 1024 * 1024)?;
    drop(file);

    let rss_before = status_kib("VmRSS").unwrap_or(0);
    let hwm_before = status_kib("VmHWM").unwrap_or(0);
    let mut runs = Vec::new();
    let mut cases = 0;
    for _ in 0..3 {
        let start = Instant::now();
        let summary = read_report_file::<std::io::Error>(&path, "report.xml", |_| Ok(()))?;
        runs.push(start.elapsed());
        cases = summary.cases;
    }
    runs.sort();
    let median = runs[1];
    let mb = written.bytes as f64 / 1e6;
    println!(
        "junit: {mb:.1} MB, {cases} cases; median of 3 parses {:.3} s = {:.0} MB/s",
        median.as_secs_f64(),
        mb / median.as_secs_f64()
    );
    println!(
        "memory: VmRSS before parsing {} KiB; peak (VmHWM) before {} KiB, after {} KiB",
        rss_before,
        hwm_before,
        status_kib("VmHWM").unwrap_or(0)
    );
    Ok(())
}
