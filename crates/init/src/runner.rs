//! The runner: everything one `testwerk-init` process knows while it works through its action
//! group, and the parts of the main loop shared by all actions (signals, the control endpoint,
//! pausing, the exit).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use testwerk_protocol::line::{Event, StepStatus, check_token};
use testwerk_protocol::plan::{Transition, WireAction};

use crate::control::{Control, Request};
use crate::fatal::{EXIT_ABORTED, EXIT_DONE, Fatal};
use crate::machine::Runtime;
use crate::out::Out;
use crate::process;
use crate::scope::SplitEnv;
use crate::settings::{ALL_VARS, Settings};
use crate::state::{Planned, State};
use crate::stepenv::StepEnv;
use crate::sys::{self, SignalPipe};
use crate::{args, groups, termination};
use testwerk_time::{format_rfc3339_millis, now_unix_millis};

/// The signals we handle: abort, child ends, and those we forward to the running step.
const HANDLED_SIGNALS: [i32; 7] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGCHLD,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

/// How long leftovers of finished steps get to stop at the end before SIGKILL, at most.
const LEFTOVER_GRACE: Duration = Duration::from_secs(2);

/// One `testwerk-init` process.
pub struct Runner {
    pub settings: Settings,
    pub env: SplitEnv,
    pub token: String,
    pub group: usize,
    pub actions: Vec<WireAction>,
    pub state: State,
    pub out: Out,
    pub signals: SignalPipe,
    pub control: Control,
    /// The index the next container transition's variables have (`_<k>_NAME`).
    pub next_env_group: usize,
    /// The variables group of the current transition (`None` before the first).
    pub env_group: Option<usize>,
    /// The current transition: command, arguments, working directory.
    pub transition: Transition,
    /// Why the current transition's working directory cannot be used.
    pub container_error: Option<String>,
    /// The directory we started in (a transition without working directory goes back there).
    pub original_cwd: PathBuf,
    /// The steps paused by the control endpoint (`None`: not paused).
    pub paused: Option<Vec<String>>,
    /// We received SIGTERM or SIGINT.
    pub aborting: bool,
    termination_warned: bool,
    /// What the termination message reports, found once.
    termination: termination::Reported,
    /// The termination message last written, so unchanged messages are not written again.
    termination_written: Option<String>,
}

impl Runner {
    /// Reads arguments, environment, plan or state. Nothing has run yet when this fails.
    pub fn prepare(
        args: Vec<OsString>,
        vars: impl IntoIterator<Item = (OsString, OsString)>,
    ) -> Result<Runner, Fatal> {
        let group = args::group_index(&args)?;
        let mut env = SplitEnv::split(vars);
        let settings = Settings::from_env(|name| env.base_var(name).map(ToOwned::to_owned))?;
        env.remove_base(&ALL_VARS);
        let token = env
            .scoped("03", "TW_TOKEN")
            .ok_or_else(|| {
                Fatal::input(format!(
                    "{} is not set: without it the log cannot be trusted",
                    testwerk_protocol::env::TOKEN
                ))
            })?
            .to_owned();
        check_token(&token)
            .map_err(|e| Fatal::input(format!("{}: {e}", testwerk_protocol::env::TOKEN)))?;
        let groups_file = groups::path(&settings.state_file);
        let fresh = match (
            env.scoped("01", "TW_PLAN"),
            env.scoped("01", "TW_PLAN_FILE"),
        ) {
            (Some(plan), _) => Some(State::from_plan_json(plan)?),
            // A plan too big for a variable comes as a file (its ConfigMap, mounted).
            (None, Some(file)) => Some(State::from_plan_file(Path::new(file))?),
            (None, None) => None,
        };
        let (state, actions) = match fresh {
            Some(Planned { state, mut groups }) => {
                // Later containers read their group from this file, not from the plan.
                groups::write(&groups_file, &groups)?;
                if group >= groups.len() {
                    return Err(groups::unknown_group(group, groups.len()));
                }
                (state, groups.swap_remove(group))
            }
            None => (
                State::load(&settings.state_file)?,
                groups::read(&groups_file, group)?,
            ),
        };
        let signals = SignalPipe::install(&HANDLED_SIGNALS)
            .map_err(|e| Fatal::internal(format!("cannot handle signals: {e}")))?;
        if let Err(e) = sys::set_child_subreaper() {
            eprintln!("testwerk-init: warning: cannot adopt orphaned processes: {e}");
        }
        let control = match &settings.control_addr {
            None => Control::disabled(),
            Some(addr) => Control::listen(addr, &token).unwrap_or_else(|e| {
                eprintln!(
                    "testwerk-init: warning: no control endpoint on {addr} (pause and resume will not work): {e}"
                );
                Control::disabled()
            }),
        };
        let mut out = Out::new(std::io::stdout(), &token);
        for secret in env.plain_secrets() {
            out.masker.add(secret);
        }
        // Only toolkit steps get the token; should one ever print it, it does not reach the log.
        out.masker.add(&token);
        let original_cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        let termination = termination::Reported::of(&actions);
        Ok(Runner {
            settings,
            env,
            token,
            group,
            actions,
            state,
            out,
            signals,
            control,
            next_env_group: 0,
            env_group: None,
            transition: Transition::default(),
            container_error: None,
            original_cwd,
            paused: None,
            aborting: false,
            termination_warned: false,
            termination,
            termination_written: None,
        })
    }

    /// Runs the action group; returns the exit code.
    pub fn run(&mut self) -> i32 {
        // The first container creates the state file, so later ones find the plan.
        let mut result = self.save();
        for (i, action) in self.actions.clone().into_iter().enumerate() {
            if result.is_err() {
                break;
            }
            self.pump();
            result = self.dispatch(action);
            if self.termination.may_change(i) {
                self.write_termination();
            }
        }
        let code = match result {
            Ok(()) if self.aborted() => EXIT_ABORTED,
            Ok(()) => EXIT_DONE,
            Err(fatal) => {
                self.out.end_of_output();
                eprintln!("testwerk-init: {fatal}");
                fatal.code
            }
        };
        self.finish(code)
    }

    /// Kills leftovers, saves the state, writes the termination message and the last event.
    fn finish(&mut self, mut code: i32) -> i32 {
        self.out.end_of_output();
        self.resume_now();
        self.stop_leftovers();
        if let Err(fatal) = self.save() {
            eprintln!("testwerk-init: {fatal}");
            if code == EXIT_DONE {
                code = fatal.code;
            }
        }
        self.write_termination();
        self.out.event(&Event::Done {
            group: u32::try_from(self.group).unwrap_or(u32::MAX),
            code,
        });
        code
    }

    /// SIGTERM to every process still around, SIGKILL to those that stay.
    fn stop_leftovers(&mut self) {
        let me = std::process::id();
        if process::descendants(me).is_empty() {
            return;
        }
        process::signal_all(libc::SIGTERM);
        process::signal_all(libc::SIGCONT);
        let deadline = Instant::now() + self.settings.kill_grace.min(LEFTOVER_GRACE);
        while Instant::now() < deadline {
            while sys::reap_one().is_some() {}
            if process::descendants(me).is_empty() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        process::signal_all(libc::SIGKILL);
        std::thread::sleep(Duration::from_millis(20));
        while sys::reap_one().is_some() {}
    }

    pub fn save(&self) -> Result<(), Fatal> {
        self.state.save(&self.settings.state_file)
    }

    /// Rewrites the termination message (after every action, so it is right whenever we die).
    pub fn write_termination(&mut self) {
        let message = self.termination.message(&self.state);
        if self.termination_written.as_deref() == Some(message.as_str()) {
            return;
        }
        self.termination_written = Some(message.clone());
        if let Err(e) = std::fs::write(&self.settings.termination_log, message)
            && !self.termination_warned
        {
            self.termination_warned = true;
            eprintln!(
                "testwerk-init: warning: cannot write the termination message to {}: {e}",
                self.settings.termination_log.display()
            );
        }
    }

    /// Whether the execution is being aborted (here or in an earlier container).
    pub fn aborted(&self) -> bool {
        self.aborting || self.state.aborted
    }

    /// Runs `f` with the runtime machine of the current transition, for step `current`.
    pub fn with_machine<T>(&self, current: &str, f: impl FnOnce(&Runtime<'_>) -> T) -> T {
        let group = self.env_group.map(|g| g.to_string());
        let step_env = StepEnv::new(&self.env, group.as_deref());
        let machine = Runtime::new(&self.state, &step_env, &self.settings, current);
        f(&machine)
    }

    /// Handles what arrived without waiting: signals, finished children, control requests.
    pub fn pump(&mut self) {
        self.handle_signals(None);
        self.handle_control();
    }

    /// Handles pending signals and reaps every finished child (ours or adopted, so none stays
    /// a zombie). `step` is the running step's main process, to forward signals to. Returns
    /// whether an abort started now, and the step's exit if it was reaped.
    pub fn handle_signals(&mut self, step: Option<u32>) -> (bool, Option<sys::Exit>) {
        let mut abort_started = false;
        for signal in self.signals.take() {
            match signal {
                libc::SIGCHLD => {}
                libc::SIGTERM | libc::SIGINT => {
                    if !self.aborting {
                        self.aborting = true;
                        self.state.aborted = true;
                        abort_started = true;
                        let name = if signal == libc::SIGTERM {
                            "SIGTERM"
                        } else {
                            "SIGINT"
                        };
                        self.out
                            .message(&format!("testwerk-init: {name} received, aborting"));
                        // Stopped processes cannot handle SIGTERM.
                        self.resume_now();
                    }
                }
                other => {
                    if let Some(pid) = step {
                        process::signal_step(pid, other);
                    }
                }
            }
        }
        let mut step_exit = None;
        while let Some((pid, exit)) = sys::reap_one() {
            if Some(pid) == step {
                step_exit = Some(exit);
            }
        }
        (abort_started, step_exit)
    }

    /// Serves control requests.
    pub fn handle_control(&mut self) {
        for (client, request) in self.control.poll() {
            match request {
                Request::Pause => self.pause_now(),
                Request::Resume => self.resume_now(),
            }
            self.control.answer(client);
        }
    }

    /// The current step and its parents, innermost first.
    fn current_chain(&self) -> Vec<String> {
        let current = self.state.current.clone();
        if current.is_empty() {
            return Vec::new();
        }
        let mut chain = vec![current.clone()];
        if let Some(step) = self.state.step(&current) {
            chain.extend(step.parents.iter().rev().cloned());
        }
        chain
    }

    /// Stops every process we started and the clock of the current step's timeouts.
    pub fn pause_now(&mut self) {
        if self.paused.is_some() || self.aborting {
            return;
        }
        process::signal_all(libc::SIGSTOP);
        let now = now_unix_millis();
        let chain = self.current_chain();
        for r in &chain {
            if let Some(step) = self.state.steps.get_mut(r) {
                step.paused_since = Some(now);
            }
            self.out.event(&Event::Pause {
                r#ref: r.clone(),
                at: format_rfc3339_millis(i64::try_from(now).unwrap_or(i64::MAX)),
            });
        }
        self.paused = Some(chain);
    }

    /// Continues what `pause_now` stopped.
    pub fn resume_now(&mut self) {
        let Some(chain) = self.paused.take() else {
            return;
        };
        process::signal_all(libc::SIGCONT);
        let now = now_unix_millis();
        for r in &chain {
            if let Some(step) = self.state.steps.get_mut(r)
                && let Some(since) = step.paused_since.take()
            {
                step.paused_ms += now.saturating_sub(since);
            }
            self.out.event(&Event::Resume {
                r#ref: r.clone(),
                at: format_rfc3339_millis(i64::try_from(now).unwrap_or(i64::MAX)),
            });
        }
    }

    /// Waits (between commands) until resumed or aborted.
    pub fn wait_while_paused(&mut self) {
        while self.paused.is_some() && !self.aborting {
            let mut fds = vec![self.signals.fd()];
            fds.extend(self.control.fds());
            let _ = sys::wait_readable(&fds, Some(Duration::from_secs(1)));
            self.pump();
        }
    }

    /// Ends a step that could not run.
    pub fn fail_step(&mut self, r: &str, code: i32, why: &str) -> Result<(), Fatal> {
        self.out.message(&format!("testwerk-init: {why}"));
        let iteration = self.state.step(r).map_or(0, |s| s.iteration);
        let step = self.state.step_mut(r)?;
        step.status = Some(StepStatus::Failed);
        step.code = code;
        self.out.event(&Event::Exec {
            r#ref: r.to_owned(),
            code,
            iteration,
            details: Some(why.to_owned()),
        });
        Ok(())
    }
}
