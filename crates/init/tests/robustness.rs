//! Bad input and hostile steps, against the real binary.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;
use testwerk_protocol::line::{Event, Item, StepStatus};

#[test]
fn bad_arguments_exit_155() {
    for args in [&[][..], &["1", "2"], &["x"], &["-1"]] {
        let out = std::process::Command::new(BIN)
            .args(args)
            .env_clear()
            .env("_03_TW_TOKEN", TOKEN)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(155), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("usage: testwerk-init"));
    }
}

#[test]
fn unknown_group_bad_plan_missing_token_exit_155() {
    let mut sb = Sandbox::new();
    let p = plan(&[sh("r1", "true")], &[], false);
    let run = sb.run("7", Some(&p), &[]);
    assert_eq!(run.code, 155);
    assert!(
        run.stderr
            .contains("unknown action group 7 (the plan has 0-0)"),
        "{}",
        run.stderr
    );
    for bad in [
        "{",
        "{\"v\":1,\"g\":[[{\"S\":\"nope\"}]]}",
        "{\"v\":9,\"g\":[]}",
    ] {
        let run = sb.run("0", None, &[("_01_TW_PLAN", bad)]);
        assert_eq!(run.code, 155, "{bad}: {}", run.stderr);
        assert!(run.stderr.contains("plan"), "{}", run.stderr);
    }
    // No plan and no state file.
    let run = sb.run("0", None, &[]);
    assert_eq!(run.code, 155);
    assert!(run.stderr.contains("no plan"), "{}", run.stderr);
    // No token, or a weak one.
    sb.unset("_03_TW_TOKEN");
    let run = sb.run("0", Some(&p), &[]);
    assert_eq!(run.code, 155);
    assert!(run.stderr.contains("_03_TW_TOKEN"), "{}", run.stderr);
    let run = sb.run("0", Some(&p), &[("_03_TW_TOKEN", "short")]);
    assert_eq!(run.code, 155);
    // An invalid timeout is bad input too, found when the action comes.
    sb.set("_03_TW_TOKEN", TOKEN);
    let mut s = sh("r1", "true");
    s.timeout = Some("soon".into());
    let run = sb.run("0", Some(&plan(&[s], &[], false)), &[]);
    assert_eq!(run.code, 155, "{}", run.dump());
    assert!(run.stderr.contains("invalid timeout"), "{}", run.stderr);
}

#[test]
fn setup_without_our_binaries_fails_clearly() {
    let sb = Sandbox::new();
    let mut p = plan(&[sh("r1", "true")], &[], false);
    p["g"][0]
        .as_array_mut()
        .expect("group")
        .insert(0, json!({"_": {"i": true, "b": true}}));
    let run = sb.run(
        "0",
        Some(&p),
        &[
            ("TW_IMAGE_INIT", "/nonexistent/init"),
            ("TW_IMAGE_BIN_DIR", "/nonexistent/bin"),
        ],
    );
    assert_eq!(run.code, 155, "{}", run.dump());
    let log = run.log();
    assert!(
        log.contains("Configuring init process... error: /nonexistent/init does not exist"),
        "{log}"
    );
    assert!(log.contains("Configuring toolkit... skipped"), "{log}");
    assert!(matches!(
        run.events().first(),
        Some(Event::Setup {
            status: StepStatus::Failed,
            ..
        })
    ));
    assert!(run.termination.starts_with("f,155"), "{}", run.termination);
}

#[test]
fn missing_command_fails_the_step_with_127() {
    let sb = Sandbox::new();
    let missing = S {
        command: Some(vec!["/nonexistent/tool".into(), "--flag".into()]),
        ..sh("r1", "")
    };
    let not_in_path = S {
        command: Some(vec!["no-such-tool-xyz".into()]),
        condition: Some("always".into()),
        ..sh("r2", "")
    };
    let run = sb.run("0", Some(&plan(&[missing, not_in_path], &[], false)), &[]);
    assert_eq!(run.code, 0);
    assert_eq!(
        run.end("r1"),
        Some((StepStatus::Failed, 127)),
        "{}",
        run.dump()
    );
    assert_eq!(run.end("r2"), Some((StepStatus::Failed, 127)));
    assert!(
        run.log().contains("command not found: /nonexistent/tool"),
        "{}",
        run.dump()
    );
    assert!(run.log().contains("command not found: no-such-tool-xyz"));
}

#[test]
fn working_directories_are_created_or_fail_clearly() {
    let sb = Sandbox::new();
    let deep = sb.path("work/new/deep");
    std::fs::write(sb.path("file"), "x").expect("write");
    let a = S {
        working_dir: Some(deep.to_string_lossy().into_owned()),
        ..sh("r1", "pwd; echo $PWD")
    };
    let b = S {
        working_dir: Some(sb.path("file/sub").to_string_lossy().into_owned()),
        condition: Some("always".into()),
        ..sh("r2", "echo must-not-run")
    };
    // No working directory: back where init started.
    let c = S {
        condition: Some("always".into()),
        ..sh("r3", "pwd")
    };
    let run = sb.run("0", Some(&plan(&[a, b, c], &[], false)), &[]);
    let root = sb.dir.path().canonicalize().expect("canon");
    let log = run.log();
    assert!(
        log.contains(&format!("{}\n{}\n", deep.display(), deep.display())),
        "{}",
        run.dump()
    );
    assert_eq!(run.end("r1"), Some((StepStatus::Passed, 0)));
    assert_eq!(run.end("r2").map(|e| e.0), Some(StepStatus::Failed));
    assert!(log.contains("cannot use the working directory"), "{log}");
    assert!(!log.contains("must-not-run"));
    assert!(log.contains(&format!("{}\n", root.display())), "{log}");
}

#[test]
fn expression_errors_fail_only_their_step() {
    let sb = Sandbox::new();
    let a = S {
        command: Some(vec![
            "/bin/echo".into(),
            "{{file(\"/nonexistent/f\")}}".into(),
        ]),
        ..sh("r1", "")
    };
    let b = S {
        condition: Some("always".into()),
        ..sh("r2", "echo env=$BROKEN")
    };
    let c = S {
        condition: Some("always".into()),
        ..sh("r3", "echo fine")
    };
    let run = sb.run(
        "0",
        Some(&plan(&[a, b, c], &[], false)),
        &[("_1C_BROKEN", "{{env.B2}}"), ("_1C_B2", "{{env.BROKEN}}")],
    );
    assert_eq!(run.code, 0, "{}", run.dump());
    assert_eq!(run.end("r1"), Some((StepStatus::Failed, 155)));
    assert!(run.log().contains("/nonexistent/f"), "{}", run.dump());
    assert_eq!(run.end("r2"), Some((StepStatus::Failed, 155)));
    let log = run.log();
    assert!(
        log.contains("refers to itself (BROKEN → B2 → BROKEN)")
            || log.contains("refers to itself (B2 → BROKEN → B2)"),
        "{}",
        run.dump()
    );
    assert_eq!(run.end("r3"), Some((StepStatus::Passed, 0)));
}

/// `init` is built without jq (see its Cargo.toml): a `jq()` call left for the runtime fails
/// only its step, with an error naming the function. (`cargo test --workspace` unifies
/// features, so there the engine is present and the call simply works.)
#[test]
fn runtime_jq_fails_its_step_naming_the_function() {
    let sb = Sandbox::new();
    let a = S {
        command: Some(vec![
            "/bin/echo".into(),
            "got={{jq(json(env.DATA), \".a\")}}".into(),
        ]),
        ..sh("r1", "")
    };
    let b = S {
        condition: Some("always".into()),
        ..sh("r2", "echo fine")
    };
    let run = sb.run(
        "0",
        Some(&plan(&[a, b], &[], false)),
        &[("_0_DATA", r#"{"a": 42}"#)],
    );
    assert_eq!(run.code, 0, "{}", run.dump());
    if testwerk_expr::UNAVAILABLE.contains(&"jq") {
        assert_eq!(run.end("r1"), Some((StepStatus::Failed, 155)));
        assert!(
            run.log().contains("jq: not available in this build"),
            "{}",
            run.dump()
        );
    } else {
        assert_eq!(run.end("r1"), Some((StepStatus::Passed, 0)));
        assert!(run.log().contains("got=42"), "{}", run.dump());
    }
    assert_eq!(run.end("r2"), Some((StepStatus::Passed, 0)));
}

/// The same for `yaml()` and `toyaml()`: init carries no YAML engine either (the compiler
/// evaluates calls on values known then, and refuses the others; only a call built at run
/// time, as here or inside `eval("…")`, reaches init).
#[test]
fn runtime_yaml_fails_its_step_naming_the_function() {
    let sb = Sandbox::new();
    let a = S {
        command: Some(vec!["/bin/echo".into(), "got={{yaml(env.DATA).a}}".into()]),
        ..sh("r1", "")
    };
    let b = S {
        command: Some(vec!["/bin/echo".into(), "{{toyaml(env.DATA)}}".into()]),
        condition: Some("always".into()),
        ..sh("r2", "")
    };
    let c = S {
        condition: Some("always".into()),
        ..sh("r3", "echo fine")
    };
    let run = sb.run(
        "0",
        Some(&plan(&[a, b, c], &[], false)),
        &[("_0_DATA", "a: 42")],
    );
    assert_eq!(run.code, 0, "{}", run.dump());
    if testwerk_expr::UNAVAILABLE.contains(&"yaml") {
        for r in ["r1", "r2"] {
            assert_eq!(
                run.end(r),
                Some((StepStatus::Failed, 155)),
                "{}",
                run.dump()
            );
        }
        let log = run.log();
        assert!(
            log.contains("yaml: not available in this build")
                && log.contains("toyaml: not available in this build")
                && log.contains("no YAML engine"),
            "{}",
            run.dump()
        );
    } else {
        assert_eq!(run.end("r1"), Some((StepStatus::Passed, 0)));
        assert!(run.log().contains("got=42"), "{}", run.dump());
    }
    assert_eq!(run.end("r3"), Some((StepStatus::Passed, 0)));
}

/// A 50 MB line without a newline: cut with a marker, and init's memory stays small.
#[test]
fn huge_line_is_cut_and_memory_stays_bounded() {
    let sb = Sandbox::new();
    let steps = [sh(
        "r1",
        "head -c 52428800 /dev/zero | tr '\\0' x; sleep 0.5; echo; echo after",
    )];
    let live = Live::spawn(sb.command("0", Some(&plan(&steps, &[], false)), &[]));
    let pid = live.child.id();
    let mut peak_kb = 0u64;
    while live.stdout.lock().map(|s| s.len()).unwrap_or(0) < 1 || !live.text().contains("done") {
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status"))
            && let Some(kb) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak_kb = peak_kb.max(kb);
        }
        if live.start.elapsed() > Duration::from_secs(60) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let run = live.wait(&sb);
    assert_eq!(
        run.end("r1"),
        Some((StepStatus::Passed, 0)),
        "{}",
        run.dump()
    );
    assert!(peak_kb > 0, "no memory reading");
    assert!(peak_kb < 32 * 1024, "peak memory {peak_kb} kB");
    assert!(
        run.stdout.len() < 2 << 20,
        "{} bytes written",
        run.stdout.len()
    );
    let log = run.log();
    let dropped = 52_428_800 - (1 << 20);
    assert!(
        log.contains(&format!(
            "line longer than 1048576 bytes, {dropped} bytes dropped]\nafter\n"
        )),
        "{}",
        &log[log.len().saturating_sub(300)..]
    );
}

/// A step that ignores SIGTERM is killed after the grace period.
#[test]
fn step_ignoring_sigterm_is_killed_after_the_grace_period() {
    let sb = Sandbox::new();
    let mut s = sh("r1", "trap '' TERM; echo stubborn; sleep 20.5; sleep 20.5");
    s.timeout = Some("500ms".into());
    let start = Instant::now();
    let run = sb.run(
        "0",
        Some(&plan(&[s], &[], false)),
        &[("TW_KILL_GRACE", "1s")],
    );
    assert_eq!(
        run.end("r1").map(|e| e.0),
        Some(StepStatus::Timeout),
        "{}",
        run.dump()
    );
    assert_eq!(run.execs("r1"), [(137, 0)]);
    assert!(run.log().contains("sending SIGKILL"), "{}", run.dump());
    assert!(
        start.elapsed() >= Duration::from_millis(1400),
        "{:?}",
        start.elapsed()
    );
    assert!(
        start.elapsed() < Duration::from_secs(6),
        "{:?}",
        start.elapsed()
    );
    assert!(!process_exists("sleep 20.5"));
}

/// An abort kills an ignoring step after the grace period too, and init still exits 137.
#[test]
fn abort_of_a_step_ignoring_sigterm() {
    let sb = Sandbox::new();
    let s = sh("r1", "trap '' TERM; echo stubborn; sleep 21.5");
    let live = Live::spawn(sb.command(
        "0",
        Some(&plan(&[s], &[], false)),
        &[("TW_KILL_GRACE", "1s")],
    ));
    live.wait_for("stubborn", Duration::from_secs(10));
    live.signal("TERM");
    let run = live.wait(&sb);
    assert_eq!(run.code, 137, "{}", run.dump());
    assert_eq!(run.end("r1"), Some((StepStatus::Aborted, 137)));
    assert!(run.elapsed < Duration::from_secs(8));
    assert!(!process_exists("sleep 21.5"));
}

/// A step printing protocol-looking lines cannot forge events, and never sees the token.
#[test]
fn forged_lines_are_not_events_and_the_token_stays_secret() {
    let sb = Sandbox::new();
    let script = r#"printf '\036tw1 AAAAAAAAAAAAAAAAAAAAAAAA end {"ref":"r1","status":"passed","code":0,"ms":1}\n'
printf '\036tw1 %s done {"group":0,"code":0}\n' "$_03_TW_TOKEN"
echo STEP-ENV; env; echo INIT-ENVIRON; tr '\0' '\n' < /proc/$PPID/environ; echo END
exit 4"#;
    let run = sb.run("0", Some(&plan(&[sh("r1", script)], &[], false)), &[]);
    let forged = run
        .items
        .iter()
        .filter(|i| matches!(i, Item::Forged(_)))
        .count();
    assert_eq!(forged, 2, "{}", run.dump());
    // The only end of r1 is the real one.
    let ends: Vec<_> = run
        .events()
        .into_iter()
        .filter(|e| matches!(e, Event::End { r#ref, .. } if r#ref == "r1"))
        .collect();
    assert_eq!(ends.len(), 1);
    assert_eq!(run.end("r1"), Some((StepStatus::Failed, 4)));
    let log = run.log();
    let (step_env, init_environ) = log
        .split_once("STEP-ENV\n")
        .and_then(|(_, rest)| rest.split_once("INIT-ENVIRON\n"))
        .expect("both dumps");
    assert!(
        !step_env.contains("_03_TW"),
        "scoped variables leaked:\n{step_env}"
    );
    assert!(
        !step_env.contains("_01_TW_PLAN"),
        "scoped variables leaked:\n{step_env}"
    );
    assert!(
        !step_env.contains("TW_INTERNAL_DIR"),
        "settings leaked:\n{step_env}"
    );
    // Even a process allowed to read init's /proc/<pid>/environ (here: root) sees no token.
    assert!(init_environ.contains("_03_TW_TOKEN=*"), "{init_environ}");
    assert!(!log.contains(TOKEN), "the token leaked:\n{log}");
}

/// Orphans of a step are adopted and reaped (no zombies), even while another step runs.
#[test]
fn orphans_are_reaped() {
    let sb = Sandbox::new();
    let steps = [
        sh("r1", "(sleep 0.2 &) ; echo started-orphan"),
        sh("r2", "echo second; sleep 1.2"),
    ];
    let live = Live::spawn(sb.command("0", Some(&plan(&steps, &[], false)), &[]));
    live.wait_for("second", Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(700));
    let init = live.child.id().to_string();
    let zombies: Vec<String> = std::fs::read_dir("/proc")
        .expect("proc")
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| {
            let rest = stat.rfind(')').map(|i| &stat[i + 1..]).unwrap_or("");
            let mut f = rest.split_whitespace();
            f.next() == Some("Z") && f.next() == Some(init.as_str())
        })
        .collect();
    let run = live.wait(&sb);
    assert_eq!(
        run.end("r2"),
        Some((StepStatus::Passed, 0)),
        "{}",
        run.dump()
    );
    assert!(zombies.is_empty(), "zombies: {zombies:?}");
}

/// A background process holding the output pipe does not hang its step, and is stopped when
/// init ends.
#[test]
fn background_processes_do_not_hang_steps() {
    let sb = Sandbox::new();
    let steps = [sh("r1", "sleep 22.5 & echo bg-started")];
    let run = sb.run("0", Some(&plan(&steps, &[], false)), &[]);
    assert_eq!(
        run.end("r1"),
        Some((StepStatus::Passed, 0)),
        "{}",
        run.dump()
    );
    assert!(run.elapsed < Duration::from_secs(5), "{:?}", run.elapsed);
    assert!(!process_exists("sleep 22.5"));
}

/// Signals other than SIGTERM/SIGINT are forwarded to the running step.
#[test]
fn other_signals_are_forwarded_to_the_step() {
    let sb = Sandbox::new();
    let mut s = sh(
        "r1",
        "trap 'echo got-usr1; exit 0' USR1; echo ready; while true; do sleep 0.1; done",
    );
    s.timeout = Some("8s".into());
    let live = Live::spawn(sb.command("0", Some(&plan(&[s], &[], false)), &[]));
    live.wait_for("ready", Duration::from_secs(10));
    live.signal("USR1");
    let run = live.wait(&sb);
    assert_eq!(run.code, 0, "{}", run.dump());
    assert!(run.log().contains("got-usr1"), "{}", run.dump());
    assert_eq!(run.end("r1"), Some((StepStatus::Passed, 0)));
}
