//! Spec §10.4 fixtures 45–53, adapted to our log protocol, against the real binary.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use common::*;
use serde_json::json;
use testwerk_protocol::line::{Event, Item, StepStatus};

/// 45: a failing step fails, later default-condition steps are skipped, `always` still runs,
/// init exits 0 and the termination message lists every end.
#[test]
fn f45_failing_step_fails_and_later_steps_are_skipped() {
    let sb = Sandbox::new();
    let mut always = sh("r3", "echo cleanup");
    always.condition = Some("always".into());
    let steps = [
        sh("r1", "echo before; exit 1"),
        sh("r2", "echo must-not-run"),
        always,
    ];
    let run = sb.run("0", Some(&plan(&steps, &[], true)), &[]);
    assert_eq!(run.code, 0, "{}", run.dump());
    assert_eq!(run.execs("r1"), [(1, 0)]);
    assert_eq!(run.end("r1"), Some((StepStatus::Failed, 1)));
    assert_eq!(run.end("r2"), Some((StepStatus::Skipped, 0)));
    assert!(run.execs("r2").is_empty());
    assert!(!run.log().contains("must-not-run"), "{}", run.dump());
    assert_eq!(run.end("r3"), Some((StepStatus::Passed, 0)));
    assert_eq!(run.end("root"), Some((StepStatus::Failed, 0)));
    assert_eq!(run.termination, "p,0/f,1/s,0/p,0/f,0");
    assert!(matches!(
        run.events().last(),
        Some(Event::Done { group: 0, code: 0 })
    ));
}

/// 46: `negative` passes on a non-zero exit (the code stays), fails on zero.
#[test]
fn f46_negative_inverts_the_exit_code() {
    let sb = Sandbox::new();
    let mut a = sh("r1", "exit 1");
    a.negative = true;
    let mut b = sh("r2", "exit 0");
    b.negative = true;
    b.condition = Some("always".into());
    let run = sb.run("0", Some(&plan(&[a, b], &[], false)), &[]);
    assert_eq!(
        run.end("r1"),
        Some((StepStatus::Passed, 1)),
        "{}",
        run.dump()
    );
    assert_eq!(run.execs("r1"), [(1, 0)]);
    assert_eq!(run.end("r2"), Some((StepStatus::Failed, 0)));
}

/// 47: `retry {count: 2}` on a failing step: 3 attempts, iteration events 1 and 2.
#[test]
fn f47_retry_runs_count_more_attempts() {
    let sb = Sandbox::new();
    let mut a = sh("r1", "echo attempt; exit 3");
    a.retry = Some((2, None));
    let run = sb.run("0", Some(&plan(&[a], &[], false)), &[]);
    assert_eq!(run.execs("r1"), [(3, 0), (3, 1), (3, 2)], "{}", run.dump());
    let iterations: Vec<(u32, u32)> = run
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Iteration { attempt, of, .. } => Some((*attempt, *of)),
            _ => None,
        })
        .collect();
    assert_eq!(iterations, [(1, 2), (2, 2)]);
    let log = run.log();
    assert_eq!(log.matches("attempt\n").count(), 3);
    assert!(
        log.contains("Exit code: 3 • Retrying: attempt #1 (of 2):"),
        "{log}"
    );
    assert!(log.contains("Retrying: attempt #2 (of 2):"), "{log}");
    assert_eq!(run.end("r1"), Some((StepStatus::Failed, 3)));
}

/// 47 (until): retries stop as soon as `until` holds for the step's own status.
#[test]
fn f47_retry_stops_when_until_holds() {
    let sb = Sandbox::new();
    let counter = sb.path("counter");
    let script = format!(
        "n=$(cat {c} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {c}; echo try $n; [ $n -ge 2 ]",
        c = counter.display()
    );
    let mut a = sh("r1", &script);
    a.retry = Some((5, None));
    let mut b = sh("r2", "exit 1");
    // `until: failed`: the first failure is enough.
    b.retry = Some((5, Some("self.failed".into())));
    b.condition = Some("always".into());
    let run = sb.run("0", Some(&plan(&[a, b], &[], false)), &[]);
    assert_eq!(run.execs("r1"), [(1, 0), (0, 1)], "{}", run.dump());
    assert_eq!(run.end("r1"), Some((StepStatus::Passed, 0)));
    assert_eq!(run.execs("r2"), [(1, 0)]);
}

/// 48: `timeout: 1s` on `sleep 5` → `timeout`, the process is killed, the next steps skipped.
#[test]
fn f48_timeout_kills_the_step() {
    let sb = Sandbox::new();
    let mut a = sh("r1", "echo started; exec sleep 5.48");
    a.timeout = Some("1s".into());
    let run = sb.run(
        "0",
        Some(&plan(&[a, sh("r2", "echo next")], &[], false)),
        &[],
    );
    assert_eq!(
        run.end("r1").map(|e| e.0),
        Some(StepStatus::Timeout),
        "{}",
        run.dump()
    );
    assert_eq!(run.end("r2"), Some((StepStatus::Skipped, 0)));
    assert!(
        run.elapsed < Duration::from_secs(4),
        "took {:?}",
        run.elapsed
    );
    assert!(!process_exists("sleep 5.48"));
    assert!(run.termination.starts_with("t,"), "{}", run.termination);
}

/// 48 (group): a group's timeout times out its running step and skips what it has not started.
#[test]
fn f48_group_timeout_skips_sub_steps_not_started() {
    let sb = Sandbox::new();
    let shell = |r: &str, script: &str| json!({"c": {"r": r, "c": {"command": ["/bin/sh"], "args": ["-c", script]}}});
    let plan = json!({"v": 2, "g": [[
        {"d": {"c": "true", "r": "root"}},
        {"d": {"c": "passed", "r": "g", "p": ["root"]}},
        {"d": {"c": "passed", "r": "a", "p": ["root", "g"]}},
        {"d": {"c": "always", "r": "b", "p": ["root", "g"]}},
        {"d": {"c": "always", "r": "after", "p": ["root"]}},
        {"r": {"r": "g", "v": "a&&b"}},
        {"r": {"r": "root", "v": "g&&after"}},
        {"S": "root"},
        {"S": "g"}, {"t": {"r": "g", "t": "1s"}},
        shell("a", "exec sleep 5.481"), {"S": "a"}, {"e": {"r": "a"}}, {"E": "a"},
        shell("b", "echo b-ran"), {"S": "b"}, {"e": {"r": "b"}}, {"E": "b"},
        {"E": "g"},
        shell("after", "echo after-ran"), {"S": "after"}, {"e": {"r": "after"}}, {"E": "after"},
        {"E": "root"}
    ]]});
    let run = sb.run("0", Some(&plan), &[]);
    assert_eq!(
        run.end("a").map(|e| e.0),
        Some(StepStatus::Timeout),
        "{}",
        run.dump()
    );
    assert_eq!(run.end("g").map(|e| e.0), Some(StepStatus::Timeout));
    assert_eq!(run.end("b"), Some((StepStatus::Skipped, 0)));
    assert!(!run.log().contains("b-ran"));
    // Outside the group, `always` still runs.
    assert_eq!(run.end("after"), Some((StepStatus::Passed, 0)));
    assert_eq!(run.end("root").map(|e| e.0), Some(StepStatus::Failed));
    assert!(
        run.elapsed < Duration::from_secs(4),
        "took {:?}",
        run.elapsed
    );
}

/// 49: SIGTERM during a step: the step is `aborted`, init exits 137, termination `a,137`, and
/// the step's processes are gone.
#[test]
fn f49_sigterm_aborts() {
    let sb = Sandbox::new();
    let steps = [
        sh("r1", "echo running; sleep 30.49; echo never"),
        sh("r2", "echo never2"),
    ];
    let live = Live::spawn(sb.command("0", Some(&plan(&steps, &[], false)), &[]));
    live.wait_for("running", Duration::from_secs(10));
    live.signal("TERM");
    let run = live.wait(&sb);
    assert_eq!(run.code, 137, "{}", run.dump());
    assert_eq!(run.end("r1"), Some((StepStatus::Aborted, 137)));
    assert_eq!(run.end("r2"), Some((StepStatus::Skipped, 0)));
    assert_eq!(run.end("root"), Some((StepStatus::Aborted, 137)));
    assert!(run.termination.starts_with("a,137"), "{}", run.termination);
    assert!(!run.log().contains("never"));
    assert!(!process_exists("sleep 30.49"));
    assert!(matches!(
        run.events().last(),
        Some(Event::Done { code: 137, .. })
    ));
}

/// 50: secrets are masked, also when split across writes; short values are not.
#[test]
fn f50_secrets_are_masked() {
    let sb = Sandbox::new();
    let script = "echo \"v=$SECRET\"; printf 'split=mysec'; sleep 0.3; printf 'retvalue\\n'; \
                  echo \"short=$SHORT\"; echo \"derived=$DERIVED\"; echo \"global=$pw_K_db\"";
    let run = sb.run(
        "0",
        Some(&plan(&[sh("r1", script)], &[], false)),
        &[
            ("_0S_SECRET", "mysecretvalue"),
            ("_0S_SHORT", "abc"),
            ("_0CS_DERIVED", "{{env.SECRET}}+x"),
            ("_02S_pw_K_db", "hunter2hunter2"),
        ],
    );
    let log = run.log();
    assert!(!log.contains("mysecretvalue"), "{}", run.dump());
    assert!(log.contains("v=****ue\n"), "{log}");
    assert!(log.contains("split=****ue\n"), "{log}");
    assert!(log.contains("short=abc\n"), "{log}");
    assert!(log.contains("derived=****+x\n"), "{log}");
    assert!(log.contains("global=****r2\n"), "{log}");
    assert!(!String::from_utf8_lossy(&run.stdout).contains("hunter2hunter2"));
}

/// 51: a step's output file is readable later as `step.<id>.outputs.<name>` (in a later
/// container too, through the state file); results directories exist; big files are skipped.
#[test]
fn f51_outputs_reach_later_steps() {
    let sb = Sandbox::new();
    let outputs = sb.path("outputs");
    let produce = S {
        id: Some("produce".into()),
        ..sh(
            "r1",
            &format!(
                "echo t0k3n > {o}/token; head -c 5000 /dev/zero > {o}/big; echo ok",
                o = outputs.display()
            ),
        )
    };
    let consume = S {
        command: Some(vec![
            "/bin/echo".into(),
            "got={{step.produce.outputs.token}}".into(),
            "dir={{step.produce.results}}".into(),
            "{{glob(step.produce.results)}}".into(),
        ]),
        ..sh("r2", "")
    };
    let p = plan(&[produce, consume], &[0], false);
    let first = sb.run("0", Some(&p), &[]);
    assert_eq!(
        first.end("r1"),
        Some((StepStatus::Passed, 0)),
        "{}",
        first.dump()
    );
    assert!(first.events().contains(&&Event::Output {
        r#ref: "r1".into(),
        name: "token".into(),
        value: json!("t0k3n"),
    }));
    assert!(
        first.log().contains("\"big\" skipped: 5000 bytes"),
        "{}",
        first.dump()
    );
    let results = sb.path("data/.steps/produce");
    assert!(results.is_dir());
    // The second container has no plan: it reads the state file.
    let second = sb.run("1", None, &[]);
    let expected = format!("got=t0k3n dir={0} {0}\n", results.display());
    assert!(second.log().contains(&expected), "{}", second.dump());
    assert_eq!(second.end("r2"), Some((StepStatus::Passed, 0)));
    assert_eq!(second.end("root"), Some((StepStatus::Passed, 0)));
}

/// 51 (toolkit): events a toolkit step prints with the token become outputs (`output.<name>`,
/// or by name as `services.db.0.ip`); the same line from an ordinary step does not.
#[test]
fn f51_toolkit_events_become_outputs() {
    let sb = Sandbox::new();
    let print = r#"printf '\036tw1 %s output {"ref":"x","name":"services.db","value":[{"ip":"10.1.2.3"}]}\n' "$_03_TW_TOKEN""#;
    let tool = S {
        toolkit: true,
        ..sh("r1", print)
    };
    let plain = sh("r2", print);
    let consume = S {
        command: Some(vec![
            "/bin/echo".into(),
            "ip={{services.db.0.ip}}".into(),
            "{{at(output, \"services.db\").0.ip}}".into(),
        ]),
        ..sh("r3", "")
    };
    let run = sb.run("0", Some(&plan(&[tool, plain, consume], &[], false)), &[]);
    assert!(
        run.events().contains(&&Event::Output {
            r#ref: "r1".into(),
            name: "services.db".into(),
            value: json!([{"ip": "10.1.2.3"}]),
        }),
        "{}",
        run.dump()
    );
    // The ordinary step did not get the token: its line is a forgery with an empty token.
    assert!(
        run.items.iter().any(|i| matches!(i, Item::Forged(_))),
        "{}",
        run.dump()
    );
    assert!(
        run.log().contains("ip=10.1.2.3 10.1.2.3\n"),
        "{}",
        run.dump()
    );
}

/// 52 (adapted): our event lines parse to events; upstream's fixed-prefix lines, and ours
/// without the right token, are ordinary output.
#[test]
fn f52_event_lines_parse_and_upstream_lines_do_not() {
    use testwerk_protocol::line::parse_all;
    let stream = format!(
        "\x1etw1 {TOKEN} end {{\"ref\":\"rA\",\"status\":\"passed\",\"code\":0,\"ms\":5}}\n\
         \x1etw1 {TOKEN} output {{\"ref\":\"rA\",\"name\":\"out\",\"value\":{{\"a\":1}}}}\n\
         \n\x01\x05\x06rA\x03end\x04\"passed\"\x03\n\
         \x1etw1 {} end {{\"ref\":\"rA\",\"status\":\"passed\",\"code\":0,\"ms\":5}}\n",
        "x".repeat(TOKEN.len())
    );
    let items = parse_all(TOKEN, stream.as_bytes());
    assert_eq!(
        items,
        vec![
            Item::Event(Event::End {
                r#ref: "rA".into(),
                status: StepStatus::Passed,
                code: 0,
                ms: 5
            }),
            Item::Event(Event::Output {
                r#ref: "rA".into(),
                name: "out".into(),
                value: json!({"a": 1})
            }),
            Item::Log(Vec::new()),
            Item::Log(b"\x01\x05\x06rA\x03end\x04\"passed\"\x03".to_vec()),
            Item::Forged(
                format!(
                    "\x1etw1 {} end {{\"ref\":\"rA\",\"status\":\"passed\",\"code\":0,\"ms\":5}}",
                    "x".repeat(TOKEN.len())
                )
                .into_bytes()
            ),
        ]
    );
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Connects to the control endpoint and shows the execution's token, as backends do.
fn control_client(port: u16) -> TcpStream {
    let mut control = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    control
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    control
        .write_all(format!("{TOKEN}\n").as_bytes())
        .expect("send the token");
    control
}

fn ask(stream: &mut TcpStream, byte: u8) {
    stream.write_all(&[byte]).expect("send");
    let mut answer = [0u8; 1];
    stream.read_exact(&mut answer).expect("answer");
    assert_eq!(answer[0], 0x05);
}

/// 53: the control endpoint pauses (0x03) and resumes (0x04), answering 0x05; pause and resume
/// events follow; the processes really stop; paused time does not count against the timeout.
#[test]
fn f53_control_endpoint_pauses_and_resumes() {
    let mut sb = Sandbox::new();
    let port = free_port();
    sb.set("TW_CONTROL_ADDR", &format!("127.0.0.1:{port}"));
    let mut step = sh(
        "r1",
        "i=0; while [ $i -lt 15 ]; do echo tick $i; i=$((i+1)); sleep 0.1; done",
    );
    step.timeout = Some("2500ms".into());
    let live = Live::spawn(sb.command("0", Some(&plan(&[step], &[], false)), &[]));
    live.wait_for("tick 3", Duration::from_secs(10));
    let mut control = control_client(port);
    ask(&mut control, 0x03);
    std::thread::sleep(Duration::from_millis(300));
    let paused = live.text();
    std::thread::sleep(Duration::from_millis(2200));
    assert_eq!(live.text(), paused, "output went on while paused");
    ask(&mut control, 0x04);
    let run = live.wait(&sb);
    // 1.5 s of work + 2.5 s paused > the 2.5 s timeout: only active time counts.
    assert_eq!(
        run.end("r1"),
        Some((StepStatus::Passed, 0)),
        "{}",
        run.dump()
    );
    assert!(run.log().contains("tick 14"));
    let kinds: Vec<(&str, &str)> = run
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Pause { r#ref, .. } => Some(("pause", r#ref.as_str())),
            Event::Resume { r#ref, .. } => Some(("resume", r#ref.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("pause", "r1"),
            ("pause", "root"),
            ("resume", "r1"),
            ("resume", "root")
        ]
    );
}

/// 53 (`paused: true`): the step waits before its command runs until resumed.
#[test]
fn f53_paused_step_waits_for_resume() {
    let mut sb = Sandbox::new();
    let port = free_port();
    sb.set("TW_CONTROL_ADDR", &format!("127.0.0.1:{port}"));
    let mut p = plan(&[sh("r1", "echo ran")], &[], false);
    let group = p["g"][0].as_array_mut().expect("group");
    let at = group
        .iter()
        .position(|a| a.get("e").is_some())
        .expect("execute");
    group.insert(at, json!({"p": {"r": "r1"}}));
    let live = Live::spawn(sb.command("0", Some(&p), &[]));
    live.wait_for("pause {\"ref\":\"r1\"", Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !live.text().contains("ran"),
        "ran while paused:\n{}",
        live.text()
    );
    // Without the token, or with a wrong one, nothing happens: the connection is refused.
    for first in [b"\x04".to_vec(), b"not-the-token\n\x04".to_vec()] {
        let mut intruder = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        intruder
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        intruder.write_all(&first).expect("send");
        if first.len() == 1 {
            // Still waiting for the token's end: only the line's end (or its length) decides.
            intruder.write_all(b"\n").expect("send");
        }
        let mut answer = Vec::new();
        let _ = intruder.read_to_end(&mut answer);
        assert_eq!(answer, vec![0x15], "refused, then closed");
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !live.text().contains("ran"),
        "resumed without the token:\n{}",
        live.text()
    );
    let mut control = control_client(port);
    ask(&mut control, 0x04);
    let run = live.wait(&sb);
    assert_eq!(
        run.end("r1"),
        Some((StepStatus::Passed, 0)),
        "{}",
        run.dump()
    );
    assert!(run.log().contains("ran\n"));
    assert!(run.elapsed >= Duration::from_millis(500));
}
