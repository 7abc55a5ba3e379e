//! A generated JUnit report of any size, for the memory test and the benchmark: ordinary
//! suites and cases with failures, errors and skips, and a few outsized elements (a 16 MiB
//! `<system-out>` in CDATA, 8 MiB of escaped output, a failure with a 4 MiB trace).

use std::io::{self, Write};

/// How many cases of each status [`write_sample_junit`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SampleCounts {
    /// Cases without an outcome element.
    pub passed: u64,
    /// Cases with a `<failure>`.
    pub failed: u64,
    /// Cases with an `<error>`.
    pub error: u64,
    /// Cases with a `<skipped>`.
    pub skipped: u64,
    /// Bytes written.
    pub bytes: u64,
}

const BIG: usize = 1024 * 1024;

/// Writes a JUnit report of at least `target_bytes` to `out`.
pub fn write_sample_junit(out: &mut impl Write, target_bytes: u64) -> io::Result<SampleCounts> {
    let mut out = Counting {
        inner: out,
        bytes: 0,
    };
    let mut counts = SampleCounts::default();
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(out, r#"<testsuites name="generated">"#)?;
    let trace: String = (0..40)
        .map(|i| format!("\tat com.example.Frame{i}.call(Frame{i}.java:{i})\n"))
        .collect();
    let mut suite = 0u64;
    while out.bytes < target_bytes {
        writeln!(
            out,
            r#"  <testsuite name="com.example.Suite{suite}" tests="100">"#
        )?;
        for case in 0..100u64 {
            let n = suite * 100 + case;
            write!(
                out,
                r#"    <testcase classname="com.example.Suite{suite}" name="case {n} &lt;{case}&gt;" time="0.{case:03}">"#
            )?;
            match n {
                // The outsized ones come early, so that the bound is tested while the parse
                // still has most of the file ahead.
                3 => {
                    write!(out, "<system-out><![CDATA[")?;
                    for _ in 0..16 {
                        out.write_all(&[b'o'; BIG])?;
                    }
                    write!(out, "]]></system-out>")?;
                    counts.passed += 1;
                }
                4 => {
                    write!(out, "<system-out>")?;
                    for _ in 0..(8 * BIG / 16) {
                        out.write_all(b"a &amp; b &lt; c")?;
                    }
                    write!(out, "</system-out>")?;
                    counts.passed += 1;
                }
                5 => {
                    write!(out, r#"<failure message="huge"><![CDATA["#)?;
                    for _ in 0..(4 * BIG / trace.len()) {
                        out.write_all(trace.as_bytes())?;
                    }
                    write!(out, "]]></failure>")?;
                    counts.failed += 1;
                }
                n if n % 50 == 7 => {
                    write!(
                        out,
                        r#"<error message="NullPointerException" type="java.lang.NullPointerException"><![CDATA[{trace}]]></error>"#
                    )?;
                    counts.error += 1;
                }
                n if n % 10 == 1 => {
                    write!(
                        out,
                        r#"<failure message="expected 1 but was 2" type="AssertionError">{trace}</failure>"#
                    )?;
                    counts.failed += 1;
                }
                n if n % 25 == 2 => {
                    write!(out, r#"<skipped message="not on this platform"/>"#)?;
                    counts.skipped += 1;
                }
                _ => counts.passed += 1,
            }
            writeln!(out, "</testcase>")?;
        }
        writeln!(out, "  </testsuite>")?;
        suite += 1;
    }
    writeln!(out, "</testsuites>")?;
    counts.bytes = out.bytes;
    Ok(counts)
}

struct Counting<'a, W> {
    inner: &'a mut W,
    bytes: u64,
}

impl<W: Write> Write for Counting<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
