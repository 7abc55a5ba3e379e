//! `testwerk run`: the local backend end to end, with a real `testwerk-init` in a sandbox.

mod support;

use std::path::Path;
use std::process::Command;

use support::*;
use testwerk_testinputs::workflows::{document, sequential_steps};

fn write(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    let text = format!(
        "apiVersion: testworkflows.testkube.io/v1\nkind: TestWorkflow\nmetadata:\n  name: {}\n{body}",
        name.trim_end_matches(".yaml")
    );
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    path.display().to_string()
}

/// (exit code, stdout and stderr together).
fn testwerk(store: &Path, args: &[&str]) -> (Option<i32>, String) {
    let (code, out, err) = testwerk_with_store(store, args);
    (code, out + &err)
}

#[test]
fn the_example_passes_and_is_recorded() {
    let dir = scratch("example");
    let store = dir.join("db");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello.yaml");
    let (code, out, err) = testwerk_run(&store, &[example.to_str().unwrap_or_default()]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(
        out.contains("PASS") && out.contains("Say hello") && out.contains("PASSED hello-1"),
        "{out}"
    );
    assert!(
        out.contains("hello from"),
        "step output is shown under the step: {out}"
    );
    let (code, list) = testwerk(&store, &["executions"]);
    assert_eq!(code, Some(0));
    assert!(
        list.contains("hello-1") && list.contains("passed"),
        "{list}"
    );
    let (code, show) = testwerk(&store, &["executions", "show", "hello-1"]);
    assert_eq!(code, Some(0));
    assert!(
        show.contains("Say hello") && show.contains("Check the shared volume"),
        "{show}"
    );
    let (code, logs) = testwerk(&store, &["logs", "hello-1", "--step", "Say hello"]);
    assert_eq!(code, Some(0));
    assert!(logs.contains("hello from"), "{logs}");
}

/// Runs of one workflow started at the same moment into one store all run, each with its own
/// number, which its steps see as the stored one.
#[test]
fn runs_of_one_workflow_started_at_once_each_get_their_own_number() {
    let dir = scratch("same-moment");
    let store = dir.join("db");
    let file = write(
        &dir,
        "twin.yaml",
        "spec:\n  steps:\n  - name: Say my name\n    shell: echo \"I am {{ execution.name }} number {{ execution.number }}\"\n",
    );
    let runs: Vec<_> = (0..6)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_testwerk"))
                .args(["run", "--host", "--store"])
                .arg(&store)
                .arg(&file)
                .env("TESTWERK_INIT", init_binary())
                .env("NO_COLOR", "1")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run testwerk: {e}"))
        })
        .collect();
    for run in runs {
        let out = run.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
        assert!(
            out.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for n in 1..=6 {
        let (code, logs) = testwerk(&store, &["logs", &format!("twin-{n}")]);
        assert_eq!(code, Some(0), "{logs}");
        assert!(
            logs.contains(&format!("I am twin-{n} number {n}")),
            "twin-{n} saw another name: {logs}"
        );
    }
}

/// `--tag` marks a run; `executions --tag` finds the runs with every tag asked for; a tag a
/// person may not give is an input error naming the fix.
#[test]
fn tags_given_to_a_run_find_it_again() {
    let dir = scratch("tags");
    let store = dir.join("db");
    let file = write(&dir, "tagged.yaml", "spec:\n  steps:\n  - shell: 'true'\n");
    let (code, out, err) = testwerk_run(
        &store,
        &[
            "--host",
            &file,
            "--tag",
            "team=payments",
            "--tag",
            "rev=a1b2",
        ],
    );
    assert_eq!(code, Some(0), "{out}\n{err}");
    let (code, out, err) = testwerk_run(&store, &["--host", &file, "--tag", "team=search"]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    let (code, list) = testwerk(&store, &["executions", "--tag", "team=payments"]);
    assert_eq!(code, Some(0), "{list}");
    assert!(
        list.contains("tagged-1") && !list.contains("tagged-2"),
        "{list}"
    );
    let (_, show) = testwerk(&store, &["executions", "show", "tagged-1"]);
    assert!(show.contains("tags:     rev=a1b2, team=payments"), "{show}");
    let (_, both) = testwerk(
        &store,
        &["executions", "--tag", "team=payments", "--tag", "rev=zzz"],
    );
    assert!(!both.contains("tagged-"), "{both}");
    let (code, out, err) =
        testwerk_run(&store, &["--host", &file, "--tag", "testwerk.io/parent=x"]);
    assert_eq!(code, Some(2), "{out}\n{err}");
    assert!(err.contains("testwerk's own"), "{err}");
}

#[test]
fn a_failing_step_fails_the_run_and_skips_what_follows() {
    let dir = scratch("failing");
    let wf = write(
        &dir,
        "failing.yaml",
        "spec:\n  steps:\n  - name: Break\n    shell: echo broken; exit 3\n  - name: After\n    shell: echo never\n",
    );
    let (code, out, err) = testwerk_run(&dir.join("db"), &[&wf]);
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(
        out.contains("FAIL") && out.contains("exit code 3") && out.contains("SKIP"),
        "{out}"
    );
    assert!(!out.contains("never"), "{out}");
}

#[test]
fn steps_write_only_inside_the_execution() {
    let dir = scratch("sandbox");
    let marker = format!("/etc/testwerk-{}", std::process::id());
    let wf = write(
        &dir,
        "sandbox.yaml",
        &format!(
            "spec:\n  steps:\n  - name: Host is read-only\n    shell: if touch {marker}; then exit 1; fi\n  - name: Data is writable\n    shell: echo ok > /data/ok && test -s /data/ok && echo tmp > /tmp/t\n"
        ),
    );
    let (code, out, err) = testwerk_run(&dir.join("db"), &[&wf]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(!Path::new(&marker).exists());
}

#[test]
fn the_deadline_aborts_a_long_step() {
    let dir = scratch("deadline");
    let wf = write(
        &dir,
        "deadline.yaml",
        "spec:\n  job:\n    activeDeadlineSeconds: 2\n  steps:\n  - name: Sleep\n    shell: sleep 60\n",
    );
    let started = std::time::Instant::now();
    let (code, out, err) = testwerk_run(&dir.join("db"), &[&wf]);
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(
        started.elapsed().as_secs() < 30,
        "took {:?}",
        started.elapsed()
    );
    assert!(out.contains("activeDeadlineSeconds"), "{out}");
}

#[test]
fn a_runner_killed_mid_run_leaves_no_execution_running() {
    let dir = scratch("killed");
    let store = dir.join("db");
    let wf = write(
        &dir,
        "killed.yaml",
        "spec:\n  steps:\n  - name: Sleep\n    shell: sleep 30\n",
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_testwerk"))
        .args(["run", &wf, "--store"])
        .arg(&store)
        .env("TESTWERK_INIT", init_binary())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(std::time::Duration::from_secs(2));
    let _ = child.kill();
    let _ = child.wait();
    let (code, list) = testwerk(&store, &["executions"]);
    assert_eq!(code, Some(0));
    assert!(
        list.contains("killed-1") && list.contains("aborted"),
        "{list}"
    );
    let (_, show) = testwerk(&store, &["executions", "show", "killed-1"]);
    assert!(
        show.contains("stopped before the execution finished"),
        "{show}"
    );
}

#[test]
fn history_commands_mark_steps_indent_groups_and_print_json() {
    let dir = scratch("history");
    let store = dir.join("db");
    let wf = write(
        &dir,
        "history.yaml",
        "spec:\n  steps:\n  - name: Count\n    shell: seq 1 30000\n  - name: Group\n    steps:\n    - name: Inner\n      shell: echo inner\n",
    );
    let (code, out, err) = testwerk_run(&store, &[&wf]);
    assert_eq!(code, Some(0), "{out}\n{err}");

    let (code, json) = testwerk(&store, &["executions", "--output", "json"]);
    assert_eq!(code, Some(0), "{json}");
    let list: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("not JSON ({e}): {json}"));
    let e = &list[0];
    assert_eq!(e["name"], "history-1");
    assert_eq!(e["workflow"], "history");
    assert_eq!(e["status"], "passed");
    assert!(e["id"].is_string() && e["started_at"].is_string() && e["finished_at"].is_string());

    // `executions <id>` is `executions show <id>`; sub-steps sit under their group.
    let (code, show) = testwerk(&store, &["executions", "history-1"]);
    assert_eq!(code, Some(0), "{show}");
    let line = |name: &str| {
        show.lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no {name} in {show}"))
            .to_owned()
    };
    let column = |l: &str, name: &str| l.find(name).unwrap_or(0);
    assert_eq!(
        column(&line("Inner"), "Inner"),
        column(&line("Group"), "Group") + 2,
        "{show}"
    );

    // Without --step, each step's output is introduced.
    let (_, logs) = testwerk(&store, &["logs", "history-1"]);
    let count = logs.find("── Count").unwrap_or_else(|| panic!("{logs}"));
    let inner = logs.find("── Inner").unwrap_or_else(|| panic!("{logs}"));
    assert!(
        count < logs.find("\n30000\n").unwrap_or(0) && inner > count,
        "{logs}"
    );
    assert!(logs[inner..].contains("inner"), "{logs}");

    // A reader that stops early (`| head -1`) ends it quietly.
    let mut child = Command::new(env!("CARGO_BIN_EXE_testwerk"))
        .args(["logs", "history-1", "--store"])
        .arg(&store)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    {
        use std::io::Read;
        let mut stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let mut first = [0u8; 16];
        stdout
            .read_exact(&mut first)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    let (code, json) = testwerk(
        &store,
        &["logs", "history-1", "--step", "Inner", "--output", "json"],
    );
    assert_eq!(code, Some(0), "{json}");
    let lines: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("not JSON ({e}): {json}"));
    assert_eq!(lines[0]["text"], "inner");
}

#[test]
fn a_missing_init_is_a_setup_error_and_records_nothing() {
    let dir = scratch("noinit");
    let store = dir.join("db");
    let wf = write(&dir, "noinit.yaml", "spec:\n  steps:\n  - shell: echo hi\n");
    let missing = dir.join("no-such-init");
    let out = Command::new(env!("CARGO_BIN_EXE_testwerk"))
        .args(["run", &wf, "--store"])
        .arg(&store)
        .env("TESTWERK_INIT", &missing)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&missing.display().to_string())
            && err.contains("cargo build -p testwerk-init"),
        "{err}"
    );
    let (_, list) = testwerk(&store, &["executions"]);
    assert!(list.contains("no executions yet"), "{list}");
}

/// A directory the sandbox shows (read-only) to steps, unlike `/tmp`: where a run's control
/// file would be readable if it were not hidden.
fn visible_scratch(name: &str) -> std::path::PathBuf {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("local-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    dir
}

fn spawn_run(store: &Path, wf: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_testwerk"))
        .args(["run", wf, "--store"])
        .arg(store)
        .env("TESTWERK_INIT", init_binary())
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Waits until the store shows step `name` of execution `id` as `status`.
fn wait_for_step(store: &Path, id: &str, name: &str, status: &str) {
    let started = std::time::Instant::now();
    loop {
        let (_, json) = testwerk(store, &["executions", id, "--output", "json"]);
        if let Ok(doc) = serde_json::from_str::<serde_json::Value>(&json)
            && doc["steps"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|s| s["name"] == name && s["status"] == status)
        {
            return;
        }
        assert!(
            started.elapsed().as_secs() < 30,
            "{name} never became {status}: {json}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// The host pids of the `init` of each container runc runs with state under `runc_root`.
fn init_pids(runc_root: &Path) -> Vec<u32> {
    std::fs::read_dir(runc_root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("state.json")).ok())
        .filter_map(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .filter_map(|v| v["init_process_pid"].as_u64())
        .map(|p| p as u32)
        .collect()
}

/// The inodes of the sockets process `pid` holds.
fn socket_inodes(pid: u32) -> Vec<u64> {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap_or_else(|e| panic!("{e}"));
    fds.flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().into_owned();
            l.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
        })
        .collect()
}

/// The inodes of every TCP socket listening on this machine's network (the containers').
fn tcp_listen_inodes() -> Vec<u64> {
    let mut out = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // `st` 0A is LISTEN; the inode is the tenth column.
            if f.get(3) == Some(&"0A")
                && let Some(inode) = f.get(9).and_then(|i| i.parse().ok())
            {
                out.push(inode);
            }
        }
    }
    out
}

/// Listening Unix sockets by inode, with the path they are bound to.
fn unix_listen_paths() -> std::collections::HashMap<u64, std::path::PathBuf> {
    let text = std::fs::read_to_string("/proc/net/unix").unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            // Flags 00010000: accepting connections.
            if f.get(3) != Some(&"00010000") {
                return None;
            }
            Some((f.get(6)?.parse().ok()?, std::path::PathBuf::from(f.get(7)?)))
        })
        .collect()
}

#[test]
fn a_paused_local_run_is_resumed_from_another_process_and_only_with_the_token() {
    let dir = visible_scratch("resume");
    let store = dir.join("db");
    let control = dir.join("runs/resume-1/control.json");
    let wf = write(
        &dir,
        "resume.yaml",
        &format!(
            "spec:\n  steps:\n  - name: Cannot read the token\n    shell: \"! cat {}\"\n  - name: Wait\n    paused: true\n    shell: echo resumed-and-ran\n",
            control.display()
        ),
    );
    let child = spawn_run(&store, &wf);
    wait_for_step(&store, "resume-1", "Wait", "paused");

    // The control file is the owner's alone; init accepts on the run's private socket.
    let text = std::fs::read_to_string(&control).unwrap_or_else(|e| panic!("{e}"));
    let file: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    let socket = Path::new(file["socket"].as_str().unwrap_or_default()).to_path_buf();
    assert_eq!(socket, dir.join("runs/resume-1/control.sock"), "{text}");
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    for (path, mode) in [
        (control.clone(), 0o600),
        (socket.clone(), 0o600),
        (dir.join("runs/resume-1"), 0o700),
    ] {
        let meta = std::fs::metadata(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            meta.permissions().mode() & 0o777,
            mode,
            "{}",
            path.display()
        );
        assert_eq!(
            meta.uid(),
            rustix::process::geteuid().as_raw(),
            "{}",
            path.display()
        );
    }
    // init holds that socket, listening, and no TCP socket listens anywhere in the run.
    let inits = init_pids(&dir.join("runc"));
    assert_eq!(inits.len(), 1, "one container runs: {inits:?}");
    if rustix::process::geteuid().is_root() {
        // (init is not dumpable: only root may list its descriptors.)
        let held = socket_inodes(inits[0]);
        let listening_tcp = tcp_listen_inodes();
        assert!(
            held.iter().all(|i| !listening_tcp.contains(i)),
            "init listens on TCP: {held:?}"
        );
        let unix = unix_listen_paths();
        assert!(
            held.iter().any(|i| unix.get(i) == Some(&socket)),
            "init does not hold the run's socket: {held:?} {unix:?}"
        );
    }

    // A client without the token is refused and the step stays paused.
    {
        use std::io::{Read, Write};
        let mut intruder = std::os::unix::net::UnixStream::connect(&socket)
            .unwrap_or_else(|e| panic!("{}: {e}", socket.display()));
        intruder
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap_or_else(|e| panic!("{e}"));
        intruder
            .write_all(b"guess\n\x04")
            .unwrap_or_else(|e| panic!("{e}"));
        let mut answer = Vec::new();
        let _ = intruder.read_to_end(&mut answer);
        assert_eq!(answer, vec![0x15]);
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    wait_for_step(&store, "resume-1", "Wait", "paused");

    let (code, said) = testwerk(&store, &["resume", "resume-1"]);
    assert_eq!(code, Some(0), "{said}");
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("resumed-and-ran"), "{stdout}");
    assert!(
        stdout.contains("PAUSED Wait (resume it with `testwerk resume resume-1 --store"),
        "{stdout}"
    );
    let (_, list) = testwerk(&store, &["executions"]);
    assert!(
        list.contains("resume-1") && list.contains("passed"),
        "{list}"
    );
    assert!(!control.exists(), "the token outlived the run");
    assert!(!socket.exists(), "the socket outlived the run");
    // Over is over.
    let (code, said) = testwerk(&store, &["pause", "resume-1"]);
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains("is over"), "{said}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_local_run_is_aborted_from_another_process() {
    let dir = visible_scratch("abort");
    let store = dir.join("db");
    let wf = write(
        &dir,
        "abort.yaml",
        "spec:\n  steps:\n  - name: Wait\n    paused: true\n    shell: echo never\n  - name: After\n    shell: echo never either\n",
    );
    let child = spawn_run(&store, &wf);
    wait_for_step(&store, "abort-1", "Wait", "paused");
    let (code, said) = testwerk(&store, &["abort", "abort-1"]);
    assert_eq!(code, Some(0), "{said}");
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(!stdout.contains("never"), "{stdout}");
    // The summary says what `executions` says.
    assert!(
        stdout.contains("ABORTED abort-1") && !stdout.contains("FAILED"),
        "{stdout}"
    );
    let (_, show) = testwerk(&store, &["executions", "abort-1"]);
    assert!(show.contains("status:   aborted"), "{show}");
    assert!(show.contains("aborted by the user"), "{show}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_running_local_step_is_paused_and_resumed_from_another_process() {
    let dir = visible_scratch("pause");
    let store = dir.join("db");
    let wf = write(
        &dir,
        "pause.yaml",
        "spec:\n  steps:\n  - name: Tick\n    shell: for i in 1 2 3 4 5 6 7 8 9 10; do echo tick $i; sleep 0.2; done\n",
    );
    let child = spawn_run(&store, &wf);
    wait_for_step(&store, "pause-1", "Tick", "running");
    let (code, said) = testwerk(&store, &["pause", "pause-1"]);
    assert_eq!(code, Some(0), "{said}");
    wait_for_step(&store, "pause-1", "Tick", "paused");
    // Paused for longer than the whole step takes: it must still be unfinished.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    wait_for_step(&store, "pause-1", "Tick", "paused");
    let (code, said) = testwerk(&store, &["resume", "pause-1"]);
    assert_eq!(code, Some(0), "{said}");
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("PAUSED") && stdout.contains("RESUMED") && stdout.contains("tick 10"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn steps_see_the_execution_they_belong_to() {
    let dir = scratch("facts");
    let store = dir.join("db");
    let wf = write(
        &dir,
        "facts.yaml",
        "spec:\n  steps:\n  - name: Facts\n    shell: echo \"facts {{execution.id}} {{execution.name}} {{execution.number}} {{execution.scheduledAt}} {{namespace}} end\"\n",
    );
    for number in 1..=2 {
        let (code, out, err) = testwerk_run(&store, &[&wf]);
        assert_eq!(code, Some(0), "{out}\n{err}");
        let Some(line) = out
            .lines()
            .find(|l| l.contains("facts ") && l.ends_with(" end"))
        else {
            panic!("no facts line in {out}");
        };
        let words: Vec<&str> = line.split_whitespace().collect();
        let at = words.iter().position(|w| *w == "facts").unwrap_or_default();
        let [id, name, n, scheduled, namespace] = [1, 2, 3, 4, 5].map(|i| words[at + i]);
        assert_eq!(
            (name, n, namespace),
            (
                format!("facts-{number}").as_str(),
                number.to_string().as_str(),
                "local"
            )
        );
        assert!(
            id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "execution.id {id}"
        );
        // The same execution the store shows, by that id, with that name and creation time.
        let (code, shown) = testwerk(&store, &["executions", "show", id, "--output", "json"]);
        assert_eq!(code, Some(0), "{shown}");
        let v: serde_json::Value =
            serde_json::from_str(&shown).unwrap_or_else(|e| panic!("{e}: {shown}"));
        let execution = &v;
        assert_eq!(execution["id"], id, "{shown}");
        assert_eq!(execution["name"], name);
        assert_eq!(execution["number"], number);
        // Scheduled (compiled) just before it was recorded.
        let created = execution["created_at"].as_str().unwrap_or_default();
        assert!(
            scheduled.len() == created.len() && scheduled.ends_with('Z') && scheduled <= created,
            "scheduledAt {scheduled}, created {created}"
        );
    }
}

#[test]
fn a_hostile_expression_fails_its_step_fast_in_init() {
    // `env.HOME` keeps it from the compiler: testwerk-init evaluates it when the step starts.
    let dir = scratch("hostile");
    let wf = write(
        &dir,
        "hostile.yaml",
        "spec:\n  steps:\n  - name: Hostile\n    shell: echo {{ len(map(range(1000000 + len(env.HOME) * 0), \"range(1000000)\")) }}\n  - name: After\n    shell: echo after\n",
    );
    let started = std::time::Instant::now();
    let (code, out, err) = testwerk_run(&dir.join("db"), &[&wf]);
    let took = started.elapsed();
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(out.contains("expression too costly"), "{out}\n{err}");
    // Compile, sandbox, init and store included, debug builds: 1.6–2.6 s alone, up to 45 s
    // beside the other local runs on a loaded 2-core machine. Without the budget it did not
    // end at all before memory ran out (3 GB in 8.5 s, then more).
    assert!(took < std::time::Duration::from_secs(60), "took {took:?}");
}

/// Issue 9: 10,000 sequential steps run locally in one container (the plan travels as a
/// compressed file, where upstream's plans broke at about 75 steps and ours at 150 with
/// `Argument list too long`), and `passed` keeps its meaning past the eight refs a condition
/// names. Debug build: 43 s (it was 553 s while the live view and init's termination message
/// rescanned every step at each step, and init was not optimised).
#[test]
fn ten_thousand_steps_run_and_a_failure_far_down_still_skips_what_follows() {
    let dir = scratch("many-steps");
    let path = dir.join("many.yaml");
    std::fs::write(
        &path,
        document("many", &sequential_steps(10_000, true, "-ran")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let (code, out, err) = testwerk_run(&dir.join("db"), &[&path.display().to_string()]);
    assert_eq!(code, Some(0), "{}\n{err}", tail(&out));
    for i in [0, 4_999, 9_999] {
        assert!(out.contains(&format!("{i}-ran")), "step {i}");
    }
    assert!(out.contains("(10000/10000) Step 9999"), "{}", tail(&out));
    assert!(out.contains("10000 passed, 0 failed"), "{}", tail(&out));

    let mut body = String::from("spec:\n  system: {pureByDefault: true}\n  steps:\n");
    for i in 0..12 {
        body.push_str(&format!("  - name: s{i}\n    shell: echo step-{i}-ran\n"));
    }
    body.push_str("  - name: Break\n    shell: exit 4\n");
    for i in 12..24 {
        body.push_str(&format!("  - name: s{i}\n    shell: echo step-{i}-ran\n"));
    }
    body.push_str("  - name: Cleanup\n    condition: failed\n    shell: echo cleanup-ran\n");
    let wf = write(&dir, "breaks.yaml", &body);
    let (code, out, err) = testwerk_run(&dir.join("db2"), &[&wf]);
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(
        out.contains("step-11-ran") && out.contains("cleanup-ran"),
        "{out}"
    );
    assert!(
        !out.contains("step-12-ran") && !out.contains("step-23-ran"),
        "{out}"
    );
}

/// A script over the kernel's 128 KiB limit on one argument (`sh -c <script>` would fail with
/// `Argument list too long`) runs from a file that testwerk-init writes, whole: its first and
/// last lines run. On Kubernetes the plan holding it is too big for an annotation and reaches
/// init as a file of its own ConfigMap.
#[test]
fn a_script_over_the_argument_limit_runs_from_a_file() {
    let dir = scratch("long-script");
    let mut script = String::from("echo first-line-ran\n");
    while script.len() < 160 * 1024 {
        script.push_str(": padding-padding-padding-padding-padding-padding-padding\n");
    }
    script.push_str("echo last-line-ran $((6 * 7))\n");
    let indented: String = script.lines().map(|l| format!("      {l}\n")).collect();
    let wf = write(
        &dir,
        "long.yaml",
        &format!(
            "spec:\n  steps:\n  - name: Long\n    shell: |\n{indented}  - name: After\n    shell: echo after-ran\n"
        ),
    );
    let (code, out, err) = testwerk_run(&dir.join("db"), &[&wf]);
    assert_eq!(code, Some(0), "{}\n{err}", tail(&out));
    for line in ["first-line-ran", "last-line-ran 42", "after-ran"] {
        assert!(out.contains(line), "{line}: {}", tail(&out));
    }

    let compiled = Command::new(env!("CARGO_BIN_EXE_testwerk"))
        .args(["compile", &wf, "--output", "json"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&compiled.stdout);
    assert!(compiled.status.success(), "{text}");
    assert!(
        text.contains("\"_01_TW_PLAN_FILE\"") && text.contains("\"long-1-plan\""),
        "the plan travels in its ConfigMap, as a file"
    );
    assert!(
        !text.contains("\"testwerk.io/plan\""),
        "not in the annotation"
    );
}

/// Issue 9: the API server's limits do not bind a local run. 200 impure steps, each with an
/// 8 KiB variable, make a Job of about 1.8 MB, which etcd refuses (1.5 MiB): `compile` (for
/// Kubernetes) fails at the line of the first step over it, and `run` runs them all, one
/// container each. (10,000 impure steps compile locally too, see the pipeline's tests, but
/// running them here would take a quarter of an hour in a debug build: each of the 10,000
/// containers' init reads and writes the whole execution's state, 55 ms a container at
/// 2,000.)
#[test]
fn impure_steps_over_the_job_limit_run_locally() {
    let dir = scratch("big-job");
    let pad = "p".repeat(8 * 1024);
    let mut spec = String::from("steps:\n");
    for i in 0..200 {
        spec.push_str(&format!(
            "- name: Step {i}\n  container:\n    env: [{{name: PAD, value: {pad}}}]\n  shell: echo $((${{#PAD}} + {i}))-ran\n"
        ));
    }
    let path = dir.join("big.yaml");
    std::fs::write(&path, document("big", &spec)).unwrap_or_else(|e| panic!("{e}"));
    let file = path.display().to_string();

    let compiled = Command::new(env!("CARGO_BIN_EXE_testwerk"))
        .args(["compile", &file])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let err = String::from_utf8_lossy(&compiled.stderr);
    assert_eq!(compiled.status.code(), Some(2), "{err}");
    assert!(err.contains("etcd") && err.contains("pure: true"), "{err}");
    assert!(err.contains(&format!("--> {file}:")), "{err}");

    let (code, out, err) = testwerk_run(&dir.join("db"), &[&file]);
    assert_eq!(code, Some(0), "{}\n{err}", tail(&out));
    for i in [0, 199] {
        assert!(out.contains(&format!("{}-ran", 8192 + i)), "step {i}");
    }
    assert!(out.contains("200 passed, 0 failed"), "{}", tail(&out));
}

/// Every command that takes `--store` takes a PostgreSQL URL too: a run is recorded there and
/// read back by `executions`, `executions show` and `logs`, and the password shows nowhere.
#[test]
fn a_postgres_store_serves_run_executions_and_logs() {
    let Some(server) = testwerk_testpostgres::server() else {
        return;
    };
    let db = server.database();
    let url = db.url.clone();
    let dir = scratch("postgres-store");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello.yaml");
    // Run directories and artifacts live beside the default store path, here in the scratch.
    let testwerk = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_testwerk"))
            .args(args)
            .args(["--store", &url])
            .env("XDG_DATA_HOME", &*dir)
            .env("TESTWERK_INIT", init_binary())
            .env("NO_COLOR", "1")
            .output()
            .unwrap_or_else(|e| panic!("cannot run testwerk: {e}"));
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            !text.contains(testwerk_testpostgres::PASSWORD),
            "the password shows: {text}"
        );
        (out.status.code(), text)
    };
    let (code, out) = testwerk(&["run", example.to_str().unwrap_or_default()]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("PASSED hello-1"), "{out}");
    let (code, list) = testwerk(&["executions"]);
    assert_eq!(code, Some(0), "{list}");
    assert!(
        list.contains("hello-1") && list.contains("passed"),
        "{list}"
    );
    let (code, show) = testwerk(&["executions", "show", "hello-1"]);
    assert_eq!(code, Some(0), "{show}");
    assert!(show.contains("Say hello"), "{show}");
    let (code, logs) = testwerk(&["logs", "hello-1", "--step", "Say hello"]);
    assert_eq!(code, Some(0), "{logs}");
    assert!(logs.contains("hello from"), "{logs}");
    assert_eq!(
        server
            .sql(&db.name, "SELECT status FROM executions")
            .ok()
            .as_deref(),
        Some("passed"),
        "the execution is in PostgreSQL"
    );

    // A wrong password: a clear error that names the store, without either password.
    let wrong = url.replace(testwerk_testpostgres::PASSWORD, "not-the-password");
    let out = Command::new(env!("CARGO_BIN_EXE_testwerk"))
        .args(["executions", "--store", &wrong])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        err.contains(&format!("postgres://testwerk@127.0.0.1:{}/", server.port()))
            && err.contains("password"),
        "{err}"
    );
    assert!(!err.contains("not-the-password"), "{err}");
}
