//! The reader against the report formats of the tools the corpus runs, upstream's
//! pregenerated reports, and bad input.

use std::collections::BTreeMap;
use std::path::PathBuf;

use testwerk_reports::{
    CaseStatus, Format, MAX_MESSAGE_BYTES, ReportReader, TestCase, Warning, read_report_file,
    report_format,
};

fn read(xml: &str) -> (Option<Format>, Vec<TestCase>, Vec<Warning>) {
    let mut reader = ReportReader::new(xml.as_bytes(), "report.xml");
    let format = reader.format();
    let cases: Vec<TestCase> = reader.by_ref().collect();
    (format, cases, reader.into_warnings())
}

fn counts(cases: &[TestCase]) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for case in cases {
        *counts.entry(case.status.as_str()).or_default() += 1;
    }
    counts
}

/// Upstream's `test/junit-pregenerated-reports`, beside the corpus.
fn pregenerated() -> Option<PathBuf> {
    let corpus = testwerk_testinputs::corpus()?;
    let dir = corpus
        .parent()?
        .join("testkube-repo/test/junit-pregenerated-reports");
    testwerk_testinputs::available(
        dir.is_dir().then_some(dir.clone()),
        &format!(
            "upstream's pregenerated JUnit reports (at {})",
            dir.display()
        ),
        "put the testkube repository's test/ folder in testkube-repo beside the corpus",
    )
}

#[test]
fn upstream_pregenerated_reports() {
    let Some(dir) = pregenerated() else { return };
    let mut cases = Vec::new();
    let summary = read_report_file::<std::io::Error>(
        &dir.join("high-level-failure.xml"),
        "high-level-failure.xml",
        |case| {
            cases.push(case);
            Ok(())
        },
    )
    .expect("reads");
    assert_eq!(summary.format, Some(Format::Junit));
    assert!(summary.warnings.is_empty(), "{:?}", summary.warnings);
    // Its header says 11 tests, but suite BBB holds 6 cases where it says 5: 12 are there.
    assert_eq!(summary.cases, 12);
    assert_eq!(
        counts(&cases),
        BTreeMap::from([("error", 2), ("failed", 1), ("passed", 8), ("skipped", 1)])
    );
    let failure = cases
        .iter()
        .find(|c| c.name == "testFailure")
        .expect("case");
    assert_eq!(failure.suite, "BBB");
    assert_eq!(failure.class.as_deref(), Some("com.example.BBBTests"));
    assert_eq!(failure.time_ms, Some(4200));
    let message = failure.message.as_deref().expect("a message");
    assert!(
        message.starts_with("Expected value X but got Y\n"),
        "{message}"
    );
    assert!(message.contains("at com.example.BBBTests.testFailure(BBBTests.java:42)"));
    let skipped = cases
        .iter()
        .find(|c| c.name == "testSkipped")
        .expect("case");
    assert_eq!(
        skipped.message.as_deref(),
        Some("Test skipped due to unmet precondition")
    );

    // A case with both a failure and an error is an error, with the error's message.
    let mut cases = Vec::new();
    read_report_file::<std::io::Error>(
        &dir.join("high-level-testcase-both-error-and-failure.xml"),
        "both.xml",
        |case| {
            cases.push(case);
            Ok(())
        },
    )
    .expect("reads");
    assert_eq!(
        counts(&cases),
        BTreeMap::from([("error", 2), ("passed", 6)])
    );
    let both = cases
        .iter()
        .find(|c| c.name == "Example Name 1")
        .expect("case");
    assert!(
        both.message
            .as_deref()
            .is_some_and(|m| m.starts_with("element click intercepted")),
        "{both:?}"
    );

    // Suites without cases, and one case with properties and output: one passed case.
    let mut cases = Vec::new();
    read_report_file::<std::io::Error>(
        &dir.join("high-level-without-testcases.xml"),
        "without.xml",
        |case| {
            cases.push(case);
            Ok(())
        },
    )
    .expect("reads");
    assert_eq!(cases.len(), 1);
    assert_eq!(cases[0].suite, "CCC");
    assert_eq!(cases[0].status, CaseStatus::Passed);
    assert_eq!(cases[0].message, None);
}

#[test]
fn pytest_junitxml() {
    let (format, cases, warnings) = read(
        r#"<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" errors="0" failures="1" skipped="1" tests="3" time="0.041" timestamp="2025-01-01T00:00:00" hostname="h"><testcase classname="test_math" name="test_add" time="0.001" /><testcase classname="test_math" name="test_sub" time="0.002"><failure message="assert 1 == 2">def test_sub():
&gt;       assert 1 == 2
E       assert 1 == 2

test_math.py:5: AssertionError</failure></testcase><testcase classname="test_math" name="test_skip" time="0.000"><skipped type="pytest.skip" message="not today">test_math.py:8: not today</skipped></testcase></testsuite></testsuites>"#,
    );
    assert_eq!(format, Some(Format::Junit));
    assert!(warnings.is_empty());
    assert_eq!(cases.len(), 3);
    assert_eq!(cases[1].status, CaseStatus::Failed);
    let message = cases[1].message.as_deref().expect("message");
    assert!(
        message.starts_with("assert 1 == 2\ndef test_sub():\n>       assert"),
        "{message}"
    );
    assert_eq!(cases[2].status, CaseStatus::Skipped);
    assert_eq!(cases[2].suite, "pytest");
}

#[test]
fn surefire_with_a_testsuite_root_and_output() {
    let (format, cases, warnings) = read(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuite xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" name="com.example.AppTest" time="0.03" tests="2" errors="1" skipped="0" failures="0">
  <properties><property name="java.version" value="17"/></properties>
  <testcase name="works" classname="com.example.AppTest" time="0.001"><system-out><![CDATA[hello <b>]]></system-out></testcase>
  <testcase name="throws" classname="com.example.AppTest" time="0.002">
    <error message="boom &amp; bang" type="java.lang.IllegalStateException"><![CDATA[java.lang.IllegalStateException: boom
	at com.example.AppTest.throws(AppTest.java:20)]]></error>
    <system-err><![CDATA[stderr text]]></system-err>
  </testcase>
</testsuite>"#,
    );
    assert_eq!(format, Some(Format::Junit));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(cases.len(), 2);
    assert_eq!(cases[0].message, None, "system-out is not a message");
    assert_eq!(cases[1].status, CaseStatus::Error);
    assert_eq!(cases[1].suite, "com.example.AppTest");
    let message = cases[1].message.as_deref().expect("message");
    assert!(message.starts_with("boom & bang\njava.lang.IllegalStateException: boom"));
    assert!(!message.contains("stderr"));
}

#[test]
fn jest_newman_and_k6_reports() {
    // jest-junit: nested names, entities in attributes.
    let (_, cases, _) = read(
        r#"<testsuites name="jest tests" tests="2" failures="1"><testsuite name="sum &lt;utils&gt;" tests="2"><testcase classname="sum adds" name="sum adds" time="0.002"></testcase><testcase classname="sum fails" name="sum fails" time="0.003"><failure>Error: expect(received).toBe(expected) // Object.is equality&#10;Expected: 4</failure></testcase></testsuite></testsuites>"#,
    );
    assert_eq!(cases[0].suite, "sum <utils>");
    assert_eq!(cases[1].status, CaseStatus::Failed);
    assert_eq!(
        cases[1].message.as_deref(),
        Some("Error: expect(received).toBe(expected) // Object.is equality\nExpected: 4")
    );
    // newman's junit reporter: one suite per request.
    let (_, cases, _) = read(
        r#"<?xml version="1.0" encoding="UTF-8"?><testsuites name="Testkube API" tests="2" time="0.312"><testsuite name="Health" id="1" timestamp="2025-01-01T00:00:00.000Z" tests="2" failures="1" errors="0" time="0.3"><testcase name="Status code is 200" time="0.3" classname="TestkubeAPI"/><testcase name="Body has status" time="0.3" classname="TestkubeAPI"><failure type="AssertionFailure" message="expected 'x' to equal 'ok'"><![CDATA[Failed 1 times.]]></failure></testcase></testsuite></testsuites>"#,
    );
    assert_eq!(
        cases.iter().map(|c| c.status).collect::<Vec<_>>(),
        [CaseStatus::Passed, CaseStatus::Failed]
    );
    assert_eq!(cases[1].suite, "Health");
    // k6's JUnit summary: thresholds as cases.
    let (_, cases, _) = read(
        r#"<?xml version="1.0"?>
<testsuites tests="2" failures="1">
<testsuite name="k6 thresholds" tests="2" failures="1"><testcase name="http_req_duration - p(95)&lt;500" /><testcase name="checks - rate&gt;0.99"><failure message="failed" /></testcase>
</testsuite >
</testsuites >"#,
    );
    assert_eq!(cases[0].name, "http_req_duration - p(95)<500");
    assert_eq!(cases[1].status, CaseStatus::Failed);
    assert_eq!(cases[1].message.as_deref(), Some("failed"));
}

#[test]
fn xunit_v2() {
    let (format, cases, warnings) = read(
        r#"<?xml version="1.0" encoding="utf-8"?>
<assemblies timestamp="01/01/2025 00:00:00">
  <assembly name="/src/bin/Debug/net8.0/Calc.Tests.dll" environment="64-bit" test-framework="xUnit.net 2.5" total="4" passed="1" failed="1" skipped="1" errors="0" time="0.120">
    <errors />
    <collection total="4" passed="1" failed="1" skipped="1" name="Test collection for Calc.Tests.MathTests" time="0.010">
      <test name="Calc.Tests.MathTests.Adds" type="Calc.Tests.MathTests" method="Adds" time="0.0031" result="Pass"><traits><trait name="Category" value="fast" /></traits></test>
      <test name="Calc.Tests.MathTests.Divides(x: 0)" type="Calc.Tests.MathTests" method="Divides" time="0.0100" result="Fail">
        <failure exception-type="System.DivideByZeroException">
          <message><![CDATA[Attempted to divide by zero.]]></message>
          <stack-trace><![CDATA[   at Calc.Tests.MathTests.Divides(Int32 x) in MathTests.cs:line 14]]></stack-trace>
        </failure>
      </test>
      <test name="Calc.Tests.MathTests.Later" type="Calc.Tests.MathTests" method="Later" time="0" result="Skip"><reason><![CDATA[not yet]]></reason></test>
      <test name="Calc.Tests.MathTests.Never" type="Calc.Tests.MathTests" method="Never" time="0" result="NotRun" />
    </collection>
  </assembly>
</assemblies>"#,
    );
    assert_eq!(format, Some(Format::Xunit));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(
        cases.iter().map(|c| c.status).collect::<Vec<_>>(),
        [
            CaseStatus::Passed,
            CaseStatus::Failed,
            CaseStatus::Skipped,
            CaseStatus::Skipped
        ]
    );
    assert_eq!(cases[0].suite, "Test collection for Calc.Tests.MathTests");
    assert_eq!(cases[0].class.as_deref(), Some("Calc.Tests.MathTests"));
    assert_eq!(cases[0].time_ms, Some(3));
    assert_eq!(
        cases[1].message.as_deref(),
        Some(
            "System.DivideByZeroException:\nAttempted to divide by zero.\nat Calc.Tests.MathTests.Divides(Int32 x) in MathTests.cs:line 14"
        )
    );
    assert_eq!(cases[2].message.as_deref(), Some("not yet"));
}

#[test]
fn other_documents_are_not_reports() {
    for input in [
        "",
        "not xml at all",
        "<html><body><testcase name=\"x\"/></body></html>",
        "<?xml version=\"1.0\"?><project><testsuite name=\"a\"/></project>",
        "\u{0}\u{1}binary",
        "<?xml version=\"1.0\"?><!-- unterminated",
        "<!DOCTYPE",
        "<\u{1}>",
    ] {
        let (format, cases, warnings) = read(input);
        assert_eq!(format, None, "{input:?}");
        assert!(cases.is_empty(), "{input:?}");
        assert!(warnings.is_empty(), "{input:?}: {warnings:?}");
    }
}

#[test]
fn a_truncated_report_keeps_the_cases_before_the_cut() {
    let xml = r#"<testsuites><testsuite name="s"><testcase name="a"/><testcase name="b"><failure message="x"/></testcase><testcase name="c"><fail"#;
    let (format, cases, warnings) = read(xml);
    assert_eq!(format, Some(Format::Junit));
    assert_eq!(
        cases.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert_eq!(warnings.len(), 1);
    let warning = warnings[0].to_string();
    assert!(warning.starts_with("test report report.xml: "), "{warning}");
    assert!(
        warning.contains("kept the 2 test cases read before it"),
        "{warning}"
    );
    assert!(warnings[0].position > 90, "{warning}");

    // Cut between elements: the end is missing.
    let (_, cases, warnings) = read(r#"<testsuites><testsuite name="s"><testcase name="a"/>"#);
    assert_eq!(cases.len(), 1);
    assert_eq!(warnings.len(), 1, "a report without its end is reported");

    // A mismatched end tag.
    let (_, cases, warnings) = read(
        r#"<testsuites><testsuite name="s"><testcase name="a"/><testcase name="b"></testsuite></testsuites>"#,
    );
    assert_eq!(cases.len(), 1);
    assert!(
        warnings[0].problem.contains("malformed XML"),
        "{:?}",
        warnings[0]
    );
}

#[test]
fn long_messages_and_outputs_are_cut_and_say_so() {
    let trace = "at frame(File.java:1)\n".repeat(200_000); // 4.4 MB
    let output = "x &amp; y ".repeat(300_000); // 3 MB of text with entities
    let xml = format!(
        r#"<testsuites><testsuite name="s"><testcase name="big"><failure message="short"><![CDATA[{trace}]]></failure><system-out>{output}</system-out></testcase><testcase name="after"/></testsuite></testsuites>"#
    );
    let (_, cases, warnings) = read(&xml);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(cases.len(), 2);
    let message = cases[0].message.as_deref().expect("message");
    assert!(
        message.starts_with("short\nat frame(File.java:1)"),
        "{}",
        &message[..40]
    );
    assert!(message.len() < MAX_MESSAGE_BYTES + 64, "{}", message.len());
    let note = message.rsplit(" … [").next().expect("a note");
    let cut: u64 = note
        .strip_suffix(" more bytes cut]")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no note of the cut: {note}"));
    // Everything but what was kept is counted, whether the parser or the message dropped it.
    assert!(
        cut > trace.len() as u64 - MAX_MESSAGE_BYTES as u64 - 100,
        "{cut}"
    );
    assert_eq!(cases[1].name, "after");
}

#[test]
fn a_huge_tag_or_deep_nesting_stops_with_a_warning() {
    let name = "n".repeat(2 * 1024 * 1024);
    let xml = format!(
        r#"<testsuites><testsuite name="s"><testcase name="ok"/><testcase name="{name}"/><testcase name="lost"/></testsuite></testsuites>"#
    );
    let (_, cases, warnings) = read(&xml);
    assert_eq!(cases.len(), 1);
    assert!(
        warnings[0].problem.contains("longer than"),
        "{:?}",
        warnings[0]
    );

    let xml = format!(
        "<testsuites>{}<testcase name=\"deep\"/>{}</testsuites>",
        "<testsuite name=\"s\">".repeat(200),
        "</testsuite>".repeat(200)
    );
    let (_, cases, warnings) = read(&xml);
    assert!(cases.is_empty());
    assert!(
        warnings[0].problem.contains("nested deeper than"),
        "{:?}",
        warnings[0]
    );
}

#[test]
fn report_files_are_recognised_by_name_and_root() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, body: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, body).expect("write");
        path
    };
    let junit = write(
        "TEST-a.XML",
        "<?xml version=\"1.0\"?>\n<!-- c --><testsuite/>",
    );
    let xunit = write("results.xml", "<assemblies></assemblies>");
    let pom = write("pom.xml", "<project/>");
    let named = write("report.json", "<testsuites/>");
    assert_eq!(report_format(&junit).expect("reads"), Some(Format::Junit));
    assert_eq!(report_format(&xunit).expect("reads"), Some(Format::Xunit));
    assert_eq!(report_format(&pom).expect("reads"), None);
    assert_eq!(report_format(&named).expect("reads"), None);
    assert!(report_format(&dir.path().join("missing.xml")).is_err());
}
