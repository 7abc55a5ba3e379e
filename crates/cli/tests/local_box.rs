//! The local runner's box (issue 10): every probe a step once got through is refused by the
//! runc confinement, limits hold, and no process outlives `testwerk run`, however it ends.
//! Each test would fail if the confinement it checks were removed.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

fn runc() -> Option<PathBuf> {
    testwerk_testinputs::available(
        testwerk_testinputs::which("runc")
            .or_else(|| Some(PathBuf::from("/usr/sbin/runc")).filter(|p| p.is_file())),
        "runc",
        "apt-get install -y runc",
    )
}

fn workflow(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(format!("{name}.yaml"));
    let text = format!(
        "apiVersion: testworkflows.testkube.io/v1\nkind: TestWorkflow\nmetadata:\n  name: {name}\n{body}"
    );
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    path.display().to_string()
}

/// One step running `shell`; returns (exit code, stdout + stderr).
fn run_step(name: &str, shell: &str) -> (Option<i32>, String) {
    let dir = scratch(name);
    let wf = workflow(
        &dir,
        name,
        &format!(
            "spec:\n  steps:\n  - name: Probe\n    shell: {}\n",
            yaml_string(shell)
        ),
    );
    let (code, out, err) = testwerk_run(&dir.join("db"), &[&wf, "--host"]);
    (code, format!("{out}\n{err}"))
}

fn yaml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

fn unique() -> String {
    format!(
        "tw-probe-{}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos()
    )
}

#[test]
fn remounting_etc_read_write_is_refused() {
    if runc().is_none() {
        return;
    }
    let marker = format!("/etc/{}", unique());
    let (code, out) = run_step(
        "remount",
        &format!(
            "if mount -o remount,rw /etc || mount -o remount,bind,rw /etc || mount -o remount,rw /; then echo REMOUNTED; fi\nif touch {marker}; then echo WROTE; fi\ntest -e /etc/passwd"
        ),
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(
        !out.contains("REMOUNTED") && !out.contains("WROTE"),
        "{out}"
    );
    assert!(!Path::new(&marker).exists());
}

#[test]
fn dev_shm_is_the_containers_own() {
    if runc().is_none() {
        return;
    }
    let name = unique();
    let (code, out) = run_step(
        "shm",
        &format!("echo inside > /dev/shm/{name} && cat /dev/shm/{name}"),
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("inside"), "the write worked in the box: {out}");
    assert!(
        !Path::new("/dev/shm").join(&name).exists(),
        "the host's /dev/shm was written"
    );
}

#[test]
fn host_cgroups_cannot_be_created() {
    if runc().is_none() {
        return;
    }
    let name = unique();
    let (code, out) = run_step(
        "cgroup",
        &format!(
            "for d in /sys/fs/cgroup /sys/fs/cgroup/memory /sys/fs/cgroup/pids /sys/fs/cgroup/unified; do if mkdir $d/{name}; then echo MADE $d; fi; done; true"
        ),
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("MADE"), "{out}");
    for d in ["memory", "pids", "unified", "cpu"] {
        assert!(!Path::new("/sys/fs/cgroup").join(d).join(&name).exists());
    }
}

#[test]
fn host_secrets_are_not_readable_in_host_mode() {
    if runc().is_none() {
        return;
    }
    // The check means something only where the host has a shadow file with content.
    let has_shadow = std::fs::metadata("/etc/shadow").is_ok_and(|m| m.len() > 0);
    assert!(has_shadow, "this machine has no /etc/shadow to hide");
    let (code, out) = run_step(
        "shadow",
        "if [ -s /etc/shadow ]; then echo READ; head -c 20 /etc/shadow; fi; ls /etc/ssh 2>/dev/null | head -3; true",
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("READ") && !out.contains("root:"), "{out}");
    assert!(!out.contains("ssh_host"), "{out}");
}

/// A `sleep` on this machine, killed when the test ends.
struct HostProcess(Child);

impl Drop for HostProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn host_processes_are_invisible_and_unkillable() {
    if runc().is_none() {
        return;
    }
    let mut sleeper = HostProcess(
        Command::new("sleep")
            .arg("300")
            .spawn()
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let pid = sleeper.0.id();
    let (code, out) = run_step(
        "hostpid",
        &format!(
            "if [ -e /proc/{pid} ]; then echo SEEN; fi; if kill -9 {pid}; then echo KILLED; fi; ls /proc | grep -c '^[0-9]'"
        ),
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("SEEN") && !out.contains("KILLED"), "{out}");
    assert!(
        sleeper.0.try_wait().ok().flatten().is_none(),
        "the host's process was killed"
    );
}

#[test]
fn capabilities_no_new_privileges_and_seccomp_are_the_runtime_default() {
    if runc().is_none() {
        return;
    }
    // unshare needs no capability for a user namespace: only seccomp stops it.
    let (code, out) = run_step(
        "confine",
        "grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status; if unshare -U true; then echo UNSHARED; fi; true",
    );
    assert_eq!(code, Some(0), "{out}");
    // CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW
    // SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP: containerd's default set, nothing else.
    assert!(
        out.contains("CapEff:\t00000000a80425fb") && out.contains("CapBnd:\t00000000a80425fb"),
        "{out}"
    );
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");
    assert!(out.contains("Seccomp:\t2"), "{out}");
    assert!(!out.contains("UNSHARED"), "{out}");
}

#[test]
fn a_step_over_its_memory_limit_is_reported_oom_killed() {
    if runc().is_none() {
        return;
    }
    let dir = scratch("oom");
    // `tail` keeps a line it has not seen the end of: 64 MiB of zeros, in a 32 MiB box. The
    // kernel kills it, which fails the step.
    let wf = workflow(
        &dir,
        "oom",
        "spec:\n  container:\n    resources:\n      limits:\n        memory: 32Mi\n  steps:\n  - name: Eat\n    shell: head -c 64m /dev/zero | tail > /dev/null\n",
    );
    let (code, out, err) = testwerk_run(&dir.join("db"), &[&wf, "--host"]);
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(out.contains("OOMKilled; memory limit 32Mi"), "{out}\n{err}");
}

/// CPU seconds a busy loop got in `seconds` of wall time inside a box with `limit`.
fn busy_share(limit: Option<&str>) -> f64 {
    let dir = scratch("cpu");
    let resources = limit
        .map(|l| format!("  container:\n    resources:\n      limits:\n        cpu: {l}\n"))
        .unwrap_or_default();
    // utime + stime of the loop (clock ticks, /proc/<pid>/stat fields 14 and 15) after 2 s.
    let script = "sh -c 'while :; do :; done' & p=$!; sleep 2; t=$(cut -d' ' -f14,15 /proc/$p/stat); kill $p; echo TICKS $t $(getconf CLK_TCK)";
    let wf = workflow(
        &dir,
        "cpu",
        &format!(
            "spec:\n{resources}  steps:\n  - name: Spin\n    shell: {}\n",
            yaml_string(script)
        ),
    );
    let (code, out, err) = testwerk_run(&dir.join("db"), &[&wf, "--host"]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    let line = out
        .lines()
        .find_map(|l| l.split("TICKS ").nth(1))
        .unwrap_or_else(|| panic!("no TICKS in {out}"));
    let n: Vec<f64> = line
        .split_whitespace()
        .filter_map(|t| t.parse().ok())
        .collect();
    assert_eq!(n.len(), 3, "{line}");
    (n[0] + n[1]) / n[2] / 2.0
}

#[test]
fn a_cpu_limit_throttles_a_busy_loop() {
    if runc().is_none() {
        return;
    }
    let limited = busy_share(Some("100m"));
    let free = busy_share(None);
    eprintln!("busy loop: {limited:.2} of a CPU at limits.cpu 100m, {free:.2} without");
    assert!(limited < 0.2, "100m gave {limited:.2} of a CPU");
    assert!(
        free > 2.0 * limited,
        "without the limit {free:.2}, with it {limited:.2}"
    );
}

#[test]
fn the_pids_limit_stops_a_fork_bomb() {
    if runc().is_none() {
        return;
    }
    let dir = scratch("forkbomb");
    let wf = workflow(
        &dir,
        "forkbomb",
        "spec:\n  steps:\n  - name: Bomb\n    shell: |\n      n=0\n      while [ $n -lt 200 ]; do sleep 30 & n=$((n+1)); done\n      echo STARTED $n\n",
    );
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_testwerk"))
        .args(["run", &wf, "--host", "--store"])
        .arg(dir.join("db"))
        .env("TESTWERK_INIT", init_binary())
        .env("TESTWERK_PIDS_LIMIT", "32")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(!text.contains("STARTED 200"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(25), "{text}");
}

/// Host processes whose command line holds `needle`.
fn processes_with(needle: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(cmd) = std::fs::read(entry.path().join("cmdline"))
            && String::from_utf8_lossy(&cmd)
                .replace('\0', " ")
                .contains(needle)
        {
            found.push(pid);
        }
    }
    found
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "{what} after {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Starts a run whose step ignores TERM and sleeps `sleep <seconds>`; returns once the
/// sleep is running.
fn start_stubborn(dir: &Path, seconds: &str) -> Child {
    let wf = workflow(
        dir,
        "stubborn",
        &format!(
            "spec:\n  steps:\n  - name: Ignore TERM\n    shell: trap '' TERM; sleep {seconds}; echo woke\n"
        ),
    );
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_testwerk"));
    cmd.args(["run", &wf, "--host", "--store"])
        .arg(dir.join("db"))
        .env("TESTWERK_INIT", init_binary())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // Like a shell's job: its own process group, which a terminal's Ctrl-C signals.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let child = cmd.spawn().unwrap_or_else(|e| panic!("{e}"));
    wait_for(
        "the step's sleep did not start",
        Duration::from_secs(30),
        || !processes_with(&format!("sleep {seconds}")).is_empty(),
    );
    child
}

#[test]
fn sigkill_of_the_runner_leaves_no_process() {
    if runc().is_none() {
        return;
    }
    let dir = scratch("sigkill");
    let seconds = format!("3{}.5", std::process::id() % 1000);
    let mut child = start_stubborn(&dir, &seconds);
    child.kill().unwrap_or_else(|e| panic!("{e}"));
    let _ = child.wait();
    wait_for(
        "the step's process outlived the killed runner",
        Duration::from_secs(5),
        || processes_with(&format!("sleep {seconds}")).is_empty(),
    );
}

#[test]
fn ctrl_c_aborts_and_leaves_no_process() {
    if runc().is_none() {
        return;
    }
    let dir = scratch("sigint");
    let seconds = format!("4{}.5", std::process::id() % 1000);
    let mut child = start_stubborn(&dir, &seconds);
    // What the terminal does on Ctrl-C: SIGINT to the foreground process group.
    let group = rustix::process::Pid::from_raw(child.id() as i32).unwrap_or_else(|| panic!("pid"));
    rustix::process::kill_process_group(group, rustix::process::Signal::INT)
        .unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    let status = child.wait().unwrap_or_else(|e| panic!("{e}"));
    // TERM is ignored, so the grace (10 s) passes before the cgroup is killed.
    assert!(started.elapsed() < Duration::from_secs(25));
    assert_eq!(status.code(), Some(1));
    assert!(processes_with(&format!("sleep {seconds}")).is_empty());
    let (_, list) = {
        let out = Command::new(env!("CARGO_BIN_EXE_testwerk"))
            .args(["executions", "--store"])
            .arg(dir.join("db"))
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    assert!(list.contains("aborted"), "{list}");
}

#[test]
fn the_deadline_kills_a_step_that_ignores_term() {
    if runc().is_none() {
        return;
    }
    let dir = scratch("deadline-term");
    let seconds = format!("5{}.5", std::process::id() % 1000);
    let wf = workflow(
        &dir,
        "deadline",
        &format!(
            "spec:\n  job:\n    activeDeadlineSeconds: 1\n  steps:\n  - name: Ignore TERM\n    shell: trap '' TERM; sleep {seconds}\n"
        ),
    );
    let started = Instant::now();
    let (code, out, err) = testwerk_run(&dir.join("db"), &[&wf, "--host"]);
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(out.contains("activeDeadlineSeconds"), "{out}");
    assert!(started.elapsed() < Duration::from_secs(25));
    assert!(processes_with(&format!("sleep {seconds}")).is_empty());
}

#[test]
fn an_ordinary_user_runs_rootless_and_is_told_what_is_not_applied() {
    if runc().is_none() {
        return;
    }
    let setpriv = testwerk_testinputs::available(
        testwerk_testinputs::which("setpriv"),
        "setpriv",
        "apt-get install -y util-linux",
    );
    let Some(setpriv) = setpriv else { return };
    let dir = scratch("rootless");
    // nobody must be able to write its store and read the workflow.
    std::fs::set_permissions(&*dir, std::os::unix::fs::PermissionsExt::from_mode(0o777))
        .unwrap_or_else(|e| panic!("{e}"));
    let wf = workflow(
        &dir,
        "rootless",
        "spec:\n  steps:\n  - name: Who\n    shell: |\n      echo UID $(id -u)\n      if touch /etc/tw-rootless-probe; then echo WROTE; fi\n      echo mine > /data/mine\n      cp /data/mine /tmp/mine\n",
    );
    let mut cmd = if rustix::process::geteuid().is_root() {
        let mut c = Command::new(setpriv);
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_testwerk"));
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_testwerk"))
    };
    let out = cmd
        .args(["run", &wf, "--host", "--keep", "--store"])
        .arg(dir.join("db"))
        .env("HOME", &*dir)
        .env("TESTWERK_INIT", init_binary())
        .env("NO_COLOR", "1")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("UID 0"), "the user is root inside: {text}");
    assert!(!text.contains("WROTE"), "{text}");
    assert!(
        text.contains("limits and the pids limit are NOT applied"),
        "cgroup v1 rootless says what it cannot do: {text}"
    );
    let file = dir.join("runs/rootless-1/volumes/tw-data/mine");
    let owner = std::os::unix::fs::MetadataExt::uid(
        &std::fs::metadata(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display())),
    );
    let expected = if rustix::process::geteuid().is_root() {
        65534
    } else {
        rustix::process::geteuid().as_raw()
    };
    assert_eq!(owner, expected, "files belong to the user outside");
}

#[test]
fn without_runc_nothing_runs_and_the_error_names_the_package() {
    let dir = scratch("no-runc");
    let wf = workflow(
        &dir,
        "norunc",
        "spec:\n  steps:\n  - name: Never\n    shell: echo never\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_testwerk"))
        .args(["run", &wf, "--host", "--store"])
        .arg(dir.join("db"))
        .env("TESTWERK_INIT", init_binary())
        .env("TESTWERK_RUNC", dir.join("no-such-runc"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("apt-get install runc") && !text.contains("never"),
        "{text}"
    );
}

#[test]
fn the_next_start_deletes_containers_whose_runner_and_watchdog_died() {
    if runc().is_none() {
        return;
    }
    let dir = scratch("stale");
    let seconds = format!("6{}.5", std::process::id() % 1000);
    let mut child = start_stubborn(&dir, &seconds);
    // The watchdog too, so that nothing but the next start can clean up.
    let watchdogs = processes_with(&format!("watchdog tw-{}-", child.id()));
    assert!(!watchdogs.is_empty(), "no watchdog for the run");
    for pid in watchdogs {
        if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
    child.kill().unwrap_or_else(|e| panic!("{e}"));
    let _ = child.wait();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !processes_with(&format!("sleep {seconds}")).is_empty(),
        "the container should still run: nothing cleaned it yet"
    );
    let wf = workflow(
        &dir,
        "next",
        "spec:\n  steps:\n  - name: Next\n    shell: echo next\n",
    );
    let (code, out, err) = testwerk_run(&dir.join("db"), &[&wf, "--host"]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(out.contains("of a runner that is gone"), "{out}");
    wait_for(
        "the stale container's process is still there",
        Duration::from_secs(5),
        || processes_with(&format!("sleep {seconds}")).is_empty(),
    );
}

#[test]
fn image_mode_refuses_a_dynamically_linked_init_and_says_how_to_build_the_static_one() {
    let dir = scratch("dynamic-init");
    let wf = workflow(
        &dir,
        "dyninit",
        "spec:\n  steps:\n  - name: Never\n    shell: echo never\n",
    );
    // Any glibc program is dynamically linked; it cannot run inside an image's root.
    let out = Command::new(env!("CARGO_BIN_EXE_testwerk"))
        .args(["run", &wf, "--store"])
        .arg(dir.join("db"))
        .env("TESTWERK_INIT", "/bin/sh")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("dynamically linked")
            && text.contains("+crt-static")
            && text.contains("--host")
            && !text.contains("never"),
        "{text}"
    );
}

#[test]
fn an_ordinary_user_pauses_and_resumes_a_rootless_run_through_its_socket() {
    if runc().is_none() {
        return;
    }
    let setpriv = testwerk_testinputs::available(
        testwerk_testinputs::which("setpriv"),
        "setpriv",
        "apt-get install -y util-linux",
    );
    let Some(setpriv) = setpriv else { return };
    let dir = scratch("rootless-pause");
    std::fs::set_permissions(&*dir, std::os::unix::fs::PermissionsExt::from_mode(0o777))
        .unwrap_or_else(|e| panic!("{e}"));
    let wf = workflow(
        &dir,
        "held",
        "spec:\n  steps:\n  - name: Wait\n    paused: true\n    shell: echo resumed-and-ran\n",
    );
    // Everything as the same ordinary user: the store is theirs (root opening it would leave
    // files the run could not write).
    let testwerk = |args: &[&str]| {
        let mut c = if rustix::process::geteuid().is_root() {
            let mut c = Command::new(&setpriv);
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(env!("CARGO_BIN_EXE_testwerk"));
            c
        } else {
            Command::new(env!("CARGO_BIN_EXE_testwerk"))
        };
        c.args(args)
            .arg("--store")
            .arg(dir.join("db"))
            .env("HOME", &*dir)
            .env("TESTWERK_INIT", init_binary())
            .env("NO_COLOR", "1");
        c
    };
    let child = testwerk(&["run", &wf, "--host"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let status = |step: &str| -> String {
        let out = testwerk(&["executions", "held-1", "--output", "json"])
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        doc["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["name"] == step)
            .and_then(|s| s["status"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    wait_for("the step is not paused", Duration::from_secs(30), || {
        status("Wait") == "paused"
    });
    let socket = dir.join("runs/held-1/control.sock");
    let meta = std::fs::metadata(&socket).unwrap_or_else(|e| panic!("{e}"));
    let expected = if rustix::process::geteuid().is_root() {
        65534
    } else {
        rustix::process::geteuid().as_raw()
    };
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), expected);
    let out = testwerk(&["resume", "held-1"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("resumed-and-ran"), "{text}");
    assert!(!socket.exists(), "the socket outlived the run");
}
