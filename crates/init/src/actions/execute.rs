//! `execute`: run the step's command, with retries, timeouts, pause and abort.
//!
//! One single-threaded loop waits (`poll`) on the command's output, the signal pipe and the
//! control endpoint, with a timeout computed from the step's (and its parents') time left, so
//! nothing needs a thread or an async runtime.

use std::ffi::OsString;
use std::io::{ErrorKind, Read};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use testwerk_protocol::line::{Event, Item, Parser, StepStatus};

use crate::actions::lifecycle::CODE_NOT_RUN;
use crate::fatal::{EXIT_ABORTED, Fatal};
use crate::outputs;
use crate::process::{self, StartError};
use crate::runner::Runner;
use crate::stepenv::EnvVars;
use crate::sys::{self, Exit};
use testwerk_time::now_unix_millis;

/// After the command exits, its output is read until the pipe closes, or until it has been
/// quiet this long (a background process it started may keep the pipe open)…
const DRAIN_QUIET: Duration = Duration::from_millis(100);
/// …but not longer than this.
const DRAIN_MAX: Duration = Duration::from_secs(2);
/// Output read at once before looking at signals and timeouts again.
const READ_BUDGET: usize = 1 << 20;
/// The longest one argument (with its NUL) the kernel passes to a new program.
const MAX_ARG_STRLEN: usize = 128 * 1024;
/// Wake up at least this often, whatever happens.
const MAX_WAIT: Duration = Duration::from_millis(500);

/// How one run of the command ended.
enum Outcome {
    Exited(Exit),
    NotStarted(StartError),
    /// `by` (the step or a parent) ran out of time.
    TimedOut {
        by: String,
        exit: Option<Exit>,
    },
    Aborted,
}

/// Why we are killing the command.
#[derive(Clone, PartialEq)]
enum KillReason {
    Timeout(String),
    Abort,
}

struct Kill {
    reason: KillReason,
    deadline: Instant,
    escalated: bool,
}

fn exit_code(exit: Exit) -> i32 {
    match exit {
        Exit::Code(c) => c,
        Exit::Signal(s) => 128 + s,
    }
}

impl Runner {
    pub(super) fn execute(&mut self, r: &str, negative: bool, toolkit: bool) -> Result<(), Fatal> {
        if self.state.step_mut(r)?.status.is_some() {
            return Ok(());
        }
        if self.aborted() {
            let step = self.state.step_mut(r)?;
            step.status = Some(StepStatus::Aborted);
            step.code = EXIT_ABORTED;
            return Ok(());
        }
        if let Some(why) = self.container_error.clone() {
            return self.fail_step(r, CODE_NOT_RUN, &why);
        }
        let (argv, env) = match self.prepare_command(r, toolkit) {
            Ok(prepared) => prepared,
            Err(why) => return self.fail_step(r, CODE_NOT_RUN, &why),
        };

        // `paused: true` on the step or a group around it: wait for a resume first.
        let mut chain = self.state.step_mut(r)?.parents.clone();
        chain.push(r.to_owned());
        let mut pause = false;
        for p in &chain {
            if let Some(s) = self.state.steps.get_mut(p)
                && std::mem::take(&mut s.pause_on_start)
            {
                pause = true;
            }
        }
        if pause {
            self.pause_now();
        }
        self.wait_while_paused();
        if self.aborted() {
            let step = self.state.step_mut(r)?;
            step.status = Some(StepStatus::Aborted);
            step.code = EXIT_ABORTED;
            return Ok(());
        }
        if let Some(by) = self.expired(r, true) {
            self.apply_timeout(&by, 0);
            return Ok(());
        }

        let id = self.state.step_mut(r)?.id.clone();
        loop {
            if let Some(id) = &id {
                self.state.step_outputs.remove(id);
                if let Err(e) = outputs::reset(&self.settings.outputs_dir) {
                    self.out.message(&format!(
                        "testwerk-init: warning: cannot prepare the outputs directory {}: {e}",
                        self.settings.outputs_dir.display()
                    ));
                }
            }
            let outcome = self.run_command(r, &argv, &env, toolkit);
            let iteration = self.state.step_mut(r)?.iteration;
            let (status, code, details) = match outcome {
                Outcome::Exited(exit) => {
                    let code = exit_code(exit);
                    let passed = (code == 0) != negative;
                    let details = match exit {
                        Exit::Signal(libc::SIGKILL) => {
                            Some("killed by SIGKILL (out of memory?)".to_owned())
                        }
                        Exit::Signal(s) => Some(format!("killed by signal {s}")),
                        Exit::Code(_) => None,
                    };
                    let status = if passed {
                        StepStatus::Passed
                    } else {
                        StepStatus::Failed
                    };
                    (status, code, details)
                }
                Outcome::NotStarted(e) => {
                    self.out.message(&format!("testwerk-init: {}", e.message));
                    let status = if (e.code == 0) != negative {
                        StepStatus::Passed
                    } else {
                        StepStatus::Failed
                    };
                    (status, e.code, Some(e.message))
                }
                Outcome::TimedOut { by, exit } => {
                    let code = exit.map_or(0, exit_code);
                    let what = if by == r {
                        "the step".to_owned()
                    } else {
                        format!("step {by}")
                    };
                    self.out.message(&format!(
                        "testwerk-init: timed out ({what} ran out of time)"
                    ));
                    if by != r {
                        let step = self.state.step_mut(r)?;
                        step.status = Some(StepStatus::Timeout);
                        step.code = code;
                        self.apply_timeout(&by, code);
                    }
                    (
                        StepStatus::Timeout,
                        code,
                        Some(format!("timed out: {what}")),
                    )
                }
                Outcome::Aborted => (StepStatus::Aborted, EXIT_ABORTED, Some("aborted".into())),
            };
            let step = self.state.step_mut(r)?;
            step.status = Some(status);
            step.code = code;
            self.out.event(&Event::Exec {
                r#ref: r.to_owned(),
                code,
                iteration,
                details,
            });
            if !self.should_retry(r)? {
                break;
            }
            let step = self.state.step_mut(r)?;
            step.iteration += 1;
            step.status = None;
            step.started_at = Some(now_unix_millis());
            step.paused_ms = 0;
            let (attempt, of) = (step.iteration, step.retry.as_ref().map_or(0, |x| x.count));
            let why = if status == StepStatus::Timeout {
                "Timed out".to_owned()
            } else {
                format!("Exit code: {code}")
            };
            self.out.message(&format!(
                "\n{why} • Retrying: attempt #{attempt} (of {of}):"
            ));
            self.out.event(&Event::Iteration {
                r#ref: r.to_owned(),
                attempt,
                of,
            });
        }
        if let Some(id) = id {
            self.collect_outputs(r, &id);
        }
        Ok(())
    }

    /// Whether another attempt is due: attempts left, no parent timed out, not aborted, and
    /// `until` (default `passed`, with the step's own status) does not hold.
    fn should_retry(&mut self, r: &str) -> Result<bool, Fatal> {
        let aborted = self.aborted();
        let step = self.state.step_mut(r)?;
        let Some(retry) = step.retry.clone() else {
            return Ok(false);
        };
        let parent_done = step.parents.clone();
        if step.iteration >= retry.count || aborted || step.status == Some(StepStatus::Aborted) {
            return Ok(false);
        }
        if parent_done
            .iter()
            .any(|p| self.state.step(p).is_some_and(|s| s.status.is_some()))
        {
            return Ok(false);
        }
        let until = retry.until.unwrap_or_else(|| "passed".to_owned());
        match self.with_machine(r, |m| Runner::until_holds(m, &until)) {
            Ok(done) => Ok(!done),
            Err(e) => {
                self.out.message(&format!(
                    "testwerk-init: cannot evaluate retry.until of step {r}, not retrying: {e}"
                ));
                Ok(false)
            }
        }
    }

    fn until_holds(m: &crate::machine::Runtime<'_>, until: &str) -> Result<bool, String> {
        let own = crate::machine::Runtime::new(m.state, m.env, m.settings, m.current).for_until();
        own.condition(until)
    }

    /// The command line and environment of the step, from the current transition.
    fn prepare_command(
        &mut self,
        r: &str,
        toolkit: bool,
    ) -> Result<(Vec<String>, EnvVars), String> {
        let mut items = self.transition.command.clone().unwrap_or_default();
        items.extend(self.transition.args.clone().unwrap_or_default());
        let (argv, mut env, secrets) = self.with_machine(r, |m| {
            let (env, secrets) = m.finalize_env()?;
            let argv = m.expand(&items)?;
            Ok::<_, String>((argv, env, secrets))
        })?;
        for secret in &secrets {
            self.out.masker.add(secret);
        }
        if argv.is_empty() || argv[0].is_empty() {
            return Err(format!("step {r} has no command to run"));
        }
        let argv = self.long_script_as_file(r, argv)?;
        let set = |env: &mut Vec<(OsString, OsString)>, name: &str, value: OsString| {
            env.retain(|(k, _)| k != name);
            env.push((OsString::from(name), value));
        };
        if !env.iter().any(|(k, _)| k == "PWD")
            && let Ok(cwd) = std::env::current_dir()
        {
            set(&mut env, "PWD", cwd.into_os_string());
        }
        // Our copied busybox comes last: the image's own tools win.
        let bin = self.settings.copied_bin_dir().into_os_string();
        let path = match env.iter().find(|(k, _)| k == "PATH") {
            Some((_, p)) if !p.is_empty() => {
                let mut p = p.clone();
                p.push(":");
                p.push(&bin);
                p
            }
            _ => {
                let mut p =
                    OsString::from("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:");
                p.push(&bin);
                p
            }
        };
        set(&mut env, "PATH", path);
        if toolkit {
            // The toolkit is ours: it reports outputs as events, so it needs the token and the
            // execution config under the same names we got them.
            for var in self.env.group("03") {
                set(
                    &mut env,
                    &format!("_03_{}", var.name),
                    OsString::from(&var.value),
                );
            }
            set(&mut env, "TW_REF", OsString::from(r));
        }
        Ok((argv, env))
    }

    /// The kernel refuses to start a program with any one argument of 128 KiB or more
    /// (`MAX_ARG_STRLEN`, "Argument list too long"). A shell script that long (`sh -c
    /// <script>`, as `shell` steps run) is written to a file and run as `sh <file>`: the same
    /// shell, the same script, `set -e` included, only `$0` names the file.
    fn long_script_as_file(&self, r: &str, argv: Vec<String>) -> Result<Vec<String>, String> {
        let Some((i, long)) = argv
            .iter()
            .enumerate()
            .find(|(_, a)| a.len() + 1 > MAX_ARG_STRLEN)
        else {
            return Ok(argv);
        };
        if !(argv.len() == 3 && argv[1] == "-c" && i == 2) {
            return Err(format!(
                "argument {i} of step {r} is {} bytes, over the kernel's limit of {MAX_ARG_STRLEN} for one argument; pass it as a file instead",
                long.len()
            ));
        }
        let dir = self.settings.internal_dir.join("scripts");
        let file = dir.join(format!("{r}.sh"));
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(&dir)?;
            std::fs::write(&file, long.as_bytes())
        };
        write().map_err(|e| {
            format!(
                "the script of step {r} is {} bytes, too long for an argument, and cannot be written to {}: {e}",
                long.len(),
                file.display()
            )
        })?;
        Ok(vec![argv[0].clone(), file.to_string_lossy().into_owned()])
    }

    /// Runs the command once.
    fn run_command(
        &mut self,
        r: &str,
        argv: &[String],
        env: &[(OsString, OsString)],
        toolkit: bool,
    ) -> Outcome {
        let started = match process::start(argv, env) {
            Ok(s) => s,
            Err(e) => return Outcome::NotStarted(e),
        };
        let pid = started.pid;
        let mut pipe = Some(started.output);
        let mut parser = toolkit.then(|| Parser::new(&self.token));
        let mut exit: Option<Exit> = None;
        let mut exited_at: Option<Instant> = None;
        let mut last_output = Instant::now();
        let mut kill: Option<Kill> = None;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // How long we may sleep.
            let now = Instant::now();
            let mut wait = MAX_WAIT;
            if kill.is_none()
                && self.paused.is_none()
                && let Some(left) = self.time_left(r)
            {
                wait = wait.min(left);
            }
            if let Some(k) = &kill
                && !k.escalated
            {
                wait = wait.min(k.deadline.saturating_duration_since(now));
            }
            if let Some(at) = exited_at {
                let quiet_end = last_output + DRAIN_QUIET;
                let hard_end = at + DRAIN_MAX;
                wait = wait.min(quiet_end.min(hard_end).saturating_duration_since(now));
            }
            let mut fds = vec![self.signals.fd()];
            if let Some(p) = &pipe {
                fds.push(p.as_raw_fd());
            }
            fds.extend(self.control.fds());
            let _ = sys::wait_readable(&fds, Some(wait));

            let (abort_started, reaped) = self.handle_signals(Some(pid));
            if let Some(e) = reaped {
                exit = Some(e);
                exited_at = Some(Instant::now());
            }
            if abort_started
                || (self.aborting && kill.as_ref().is_none_or(|k| k.reason != KillReason::Abort))
            {
                process::signal_all(libc::SIGTERM);
                process::signal_all(libc::SIGCONT);
                kill = Some(Kill {
                    reason: KillReason::Abort,
                    deadline: Instant::now() + self.settings.kill_grace,
                    escalated: false,
                });
            }
            self.handle_control();

            // Output.
            let mut budget = READ_BUDGET;
            while let Some(p) = pipe.as_mut() {
                match p.read(&mut buf) {
                    Ok(0) => pipe = None,
                    Ok(n) => {
                        last_output = Instant::now();
                        self.forward_output(r, &buf[..n], parser.as_mut());
                        budget = budget.saturating_sub(n);
                        if budget == 0 {
                            break;
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(_) => pipe = None,
                }
            }

            // Time.
            if kill.is_none()
                && self.paused.is_none()
                && exit.is_none()
                && let Some(by) = self.expired(r, true)
            {
                process::signal_step(pid, libc::SIGTERM);
                kill = Some(Kill {
                    reason: KillReason::Timeout(by),
                    deadline: Instant::now() + self.settings.kill_grace,
                    escalated: false,
                });
            }
            if let Some(k) = kill.as_mut()
                && !k.escalated
                && Instant::now() >= k.deadline
            {
                k.escalated = true;
                self.out.message(&format!(
                    "testwerk-init: still running {}s after SIGTERM, sending SIGKILL",
                    self.settings.kill_grace.as_secs_f32()
                ));
                match k.reason {
                    KillReason::Abort => process::signal_all(libc::SIGKILL),
                    KillReason::Timeout(_) if exit.is_none() => {
                        process::signal_step(pid, libc::SIGKILL)
                    }
                    KillReason::Timeout(_) => {
                        sys::kill_group(pid, libc::SIGKILL);
                    }
                }
            }

            // Done: the command ended and its output is drained.
            if let Some(at) = exited_at {
                let now = Instant::now();
                let drained = pipe.is_none()
                    || now >= last_output.max(at) + DRAIN_QUIET
                    || now >= at + DRAIN_MAX;
                if drained {
                    break;
                }
            }
        }
        if let Some(parser) = parser.as_mut() {
            let mut items = Vec::new();
            parser.finish(|i| items.push(i));
            for item in items {
                match item {
                    Item::Log(line) | Item::Forged(line) | Item::LogPart(line) => {
                        self.out.log(&line)
                    }
                    Item::Event(e) => self.toolkit_event(r, e),
                }
            }
        }
        self.out.end_of_output();
        match kill.map(|k| k.reason) {
            Some(KillReason::Abort) => Outcome::Aborted,
            Some(KillReason::Timeout(by)) => Outcome::TimedOut { by, exit },
            None if self.aborting => Outcome::Aborted,
            None => Outcome::Exited(exit.unwrap_or(Exit::Code(0))),
        }
    }

    /// A chunk of the command's output: to the log (through the event parser for toolkit
    /// steps, whose outputs we capture).
    fn forward_output(&mut self, r: &str, chunk: &[u8], parser: Option<&mut Parser>) {
        let Some(parser) = parser else {
            self.out.log(chunk);
            return;
        };
        let mut items = Vec::new();
        parser.push(chunk, |i| items.push(i));
        for item in items {
            match item {
                Item::Log(mut line) | Item::Forged(mut line) => {
                    line.push(b'\n');
                    self.out.log(&line);
                }
                Item::LogPart(piece) => self.out.log(&piece),
                Item::Event(e) => self.toolkit_event(r, e),
            }
        }
    }

    /// An event printed by the toolkit: outputs are kept (`output.<name>`) and passed on.
    fn toolkit_event(&mut self, r: &str, event: Event) {
        match event {
            Event::Output { name, value, .. } => {
                self.state.outputs.insert(name.clone(), value.clone());
                self.out.event(&Event::Output {
                    r#ref: r.to_owned(),
                    name,
                    value,
                });
            }
            other => self.out.message(&format!(
                "testwerk-init: warning: ignored a {} event from the toolkit",
                other.kind()
            )),
        }
    }

    /// Files left in the outputs directory become the step's outputs.
    fn collect_outputs(&mut self, r: &str, id: &str) {
        let (found, warnings) = outputs::collect(&self.settings.outputs_dir);
        for w in warnings {
            self.out.message(&format!("testwerk-init: warning: {w}"));
        }
        for (name, value) in found {
            let value = serde_json::Value::String(value);
            self.state
                .step_outputs
                .entry(id.to_owned())
                .or_default()
                .insert(name.clone(), value.clone());
            self.out.event(&Event::Output {
                r#ref: r.to_owned(),
                name,
                value,
            });
        }
    }
}
