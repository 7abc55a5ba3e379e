//! `services -g <group> --base64 <map name → ServiceSpec>` starts a step's services and waits
//! until each is ready; `kill <group>` stops them when the step ends.
//!
//! Each instance is a child execution of its own with one step that runs the service. Ready
//! means running, and, with a `readinessProbe`, the probe passing: this toolkit probes
//! `tcpSocket` and `httpGet` itself, at the address the backend reports. The addresses become
//! the output `services.<name>` (a list, one entry per instance: `{{ services.db.0.ip }}`).

use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Probe;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{Value, json};
use testwerk_protocol::children::StopGroup;
use testwerk_protocol::line::{self, Event};
use testwerk_protocol::toolkit::ToolkitSettings;

use super::backend::Backend;
use crate::ToolkitError;

/// How long a service may take to be ready when it names no `timeout`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
/// Without a probe, a service whose step runs is watched this long for an immediate failure
/// (upstream: 15 s).
const SETTLE: Duration = Duration::from_secs(3);
/// How often the backend is asked while waiting.
const POLL: Duration = Duration::from_millis(200);

struct Instance {
    service: String,
    index: usize,
    id: String,
    probe: Option<Probe>,
    ports: Vec<Value>,
    deadline: Instant,
    timeout: Duration,
    /// When its step was first seen running.
    running_since: Option<Instant>,
    ip: Option<String>,
    outcome: Option<Result<(), String>>,
}

pub fn run(args: Vec<String>, settings: &ToolkitSettings) -> Result<(), ToolkitError> {
    let (group, encoded) = match args.as_slice() {
        [g, group, b, encoded] if g == "-g" && b == "--base64" => (group.clone(), encoded.clone()),
        _ => {
            return Err(ToolkitError::Usage(
                "usage: services -g <group> --base64 <services as base64 JSON>".into(),
            ));
        }
    };
    let spec = super::payload(&["--base64".into(), encoded], "services")?;
    let Some(services) = spec.as_object() else {
        return Err(ToolkitError::Usage(
            "services: not a map of services".into(),
        ));
    };
    let backend = Backend::from_settings(settings, "`services`")?;
    let mut instances = Vec::new();
    for (name, service) in services {
        instances.extend(start(&backend, settings, &group, name, service)?);
    }
    let mut out = std::io::stdout();
    wait_ready(&backend, &mut instances, &mut out)?;
    // `services.<name>`: one entry per instance, in order.
    let token = std::env::var(testwerk_protocol::env::TOKEN).unwrap_or_default();
    for name in services.keys() {
        let list: Vec<Value> = instances
            .iter()
            .filter(|i| &i.service == name)
            .map(|i| {
                json!({
                    "name": name,
                    "index": i.index,
                    "ip": i.ip.clone().unwrap_or_default(),
                    "status": if matches!(i.outcome, Some(Ok(()))) { "running" } else { "failed" },
                })
            })
            .collect();
        if !token.is_empty() {
            let event = Event::Output {
                r#ref: super::parent_ref(),
                name: format!("services.{name}"),
                value: Value::Array(list),
            };
            let _ = out.write_all(&line::encode(&token, &event));
        }
    }
    let failed: Vec<String> = instances
        .iter()
        .filter_map(|i| match &i.outcome {
            Some(Err(why)) => Some(format!("{} {}: {why}", i.service, i.index)),
            _ => None,
        })
        .collect();
    if failed.is_empty() {
        println!("services: {} ready", instances.len());
        Ok(())
    } else {
        Err(ToolkitError::Failed(format!(
            "{} of {} services failed to start: {}",
            failed.len(),
            instances.len(),
            failed.join("; ")
        )))
    }
}

/// Starts every instance of service `name`.
fn start(
    backend: &Backend,
    settings: &ToolkitSettings,
    group: &str,
    name: &str,
    service: &Value,
) -> Result<Vec<Instance>, ToolkitError> {
    let field = format!("services.{name}");
    let Some(fields) = service.as_object() else {
        return Err(ToolkitError::Usage(format!("{field}: not a map")));
    };
    let probe: Option<Probe> = match fields.get("readinessProbe") {
        Some(p) => Some(
            serde_json::from_value(p.clone())
                .map_err(|e| ToolkitError::Usage(format!("{field}.readinessProbe: {e}")))?,
        ),
        None => None,
    };
    if probe
        .as_ref()
        .is_some_and(|p| p.exec.is_some() || p.grpc.is_some())
    {
        return Err(ToolkitError::Failed(format!(
            "{field}.readinessProbe: only tcpSocket and httpGet probes are supported yet"
        )));
    }
    let timeout = match fields.get("timeout").and_then(Value::as_str) {
        Some(t) => testwerk_spec::duration::parse_go(&t.replace(' ', ""))
            .map_err(|e| ToolkitError::Usage(format!("{field}.timeout: {e}")))?,
        None => DEFAULT_TIMEOUT,
    };
    let ports = fields
        .get("ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    // The files its instances get, packed as artifacts of this step before any starts.
    let step = super::parent_ref();
    for transfer in testwerk_children::services::transfers(name, service)? {
        super::files::pack(&transfer.pack, settings, &step)?;
    }
    let sink = settings
        .artifacts
        .as_ref()
        .and_then(|s| s.shared.as_deref());
    let mut out = Vec::new();
    for instance in testwerk_children::services::instances(group, name, service, &step, sink)? {
        let started = backend.start(&instance.request)?;
        println!("{name} {}: started ({})", instance.index, started.id);
        out.push(Instance {
            service: name.to_owned(),
            index: instance.index,
            id: started.id,
            probe: probe.clone(),
            ports: ports.clone(),
            deadline: Instant::now() + timeout,
            timeout,
            running_since: None,
            ip: None,
            outcome: None,
        });
    }
    Ok(out)
}

/// Waits until every instance is ready or has failed.
fn wait_ready(
    backend: &Backend,
    instances: &mut [Instance],
    out: &mut dyn Write,
) -> Result<(), ToolkitError> {
    while instances.iter().any(|i| i.outcome.is_none()) {
        std::thread::sleep(POLL);
        for i in instances.iter_mut().filter(|i| i.outcome.is_none()) {
            let state = backend.state(&i.id)?;
            if state.is_done() && state.status == "passed" && i.probe.is_none() {
                // A service without a probe that did its work and ended well is not a failure
                // (upstream alike): there is just nothing to reach any more. With a probe, it
                // had to be ready first.
                let _ = writeln!(out, "{} {}: ended, passed", i.service, i.index);
                i.ip = state.ip.clone();
                i.outcome = Some(Ok(()));
            } else if state.is_done() {
                i.outcome = Some(Err(format!(
                    "it ended ({}) before it was ready{}; its log: `testwerk logs {}`",
                    state.status,
                    state.reason.map(|r| format!(": {r}")).unwrap_or_default(),
                    state.name.unwrap_or(state.id),
                )));
            } else if state.status == "running" && state.started {
                // Its step runs: without a probe, it is ready once it has run a moment
                // without failing.
                i.ip = state.ip.clone();
                let since = *i.running_since.get_or_insert_with(Instant::now);
                let ready = match (&i.probe, &i.ip) {
                    (None, _) => since.elapsed() >= SETTLE,
                    (Some(probe), Some(ip)) => {
                        since.elapsed()
                            >= Duration::from_secs(
                                probe.initial_delay_seconds.unwrap_or(0).max(0) as u64
                            )
                            && probe_once(probe, ip, &i.ports)
                    }
                    (Some(_), None) => false,
                };
                if ready {
                    let _ = writeln!(
                        out,
                        "{} {}: ready at {}",
                        i.service,
                        i.index,
                        i.ip.as_deref().unwrap_or("?")
                    );
                    i.outcome = Some(Ok(()));
                }
            }
            if i.outcome.is_none() && Instant::now() >= i.deadline {
                i.outcome = Some(Err(format!(
                    "not ready within {} s{}",
                    i.timeout.as_secs(),
                    if i.probe.is_some() {
                        " (its readinessProbe never passed)"
                    } else {
                        ""
                    }
                )));
            }
        }
    }
    Ok(())
}

/// One readiness check of `probe` against `ip`.
fn probe_once(probe: &Probe, ip: &str, ports: &[Value]) -> bool {
    let timeout = Duration::from_secs(probe.timeout_seconds.unwrap_or(1).max(1) as u64);
    if let Some(tcp) = &probe.tcp_socket {
        let Some(port) = port_number(&tcp.port, ports) else {
            return false;
        };
        let host = tcp.host.clone().unwrap_or_else(|| ip.to_owned());
        return connect(&host, port, timeout).is_some();
    }
    if let Some(http) = &probe.http_get {
        let Some(port) = port_number(&http.port, ports) else {
            return false;
        };
        let host = http.host.clone().unwrap_or_else(|| ip.to_owned());
        let path = http.path.clone().unwrap_or_else(|| "/".into());
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(timeout))
                .build(),
        );
        let scheme = http.scheme.as_deref().unwrap_or("HTTP").to_lowercase();
        return agent
            .get(&format!("{scheme}://{host}:{port}{path}"))
            .call()
            .is_ok_and(|r| (200..400).contains(&r.status().as_u16()));
    }
    false
}

/// A probe's port: a number, or the name of one of the container's `ports`.
fn port_number(port: &IntOrString, ports: &[Value]) -> Option<u16> {
    match port {
        IntOrString::Int(n) => u16::try_from(*n).ok(),
        IntOrString::String(name) => ports
            .iter()
            .find(|p| p["name"].as_str() == Some(name))
            .and_then(|p| p["containerPort"].as_u64())
            .and_then(|n| u16::try_from(n).ok()),
    }
}

fn connect(host: &str, port: u16, timeout: Duration) -> Option<TcpStream> {
    let addr = (host, port).to_socket_addrs().ok()?.next()?;
    TcpStream::connect_timeout(&addr, timeout).ok()
}

/// `kill <group> [-l name=expr]…`: stops the group's services; fails when one had failed
/// before it was stopped. Their logs are always kept, each service an execution of its own,
/// so `-l` changes nothing.
pub fn kill(args: Vec<String>, settings: &ToolkitSettings) -> Result<(), ToolkitError> {
    let Some(group) = args.first() else {
        return Err(ToolkitError::Usage(
            "usage: kill <group> [-l name=expr]…".into(),
        ));
    };
    let backend = Backend::from_settings(settings, "stopping services")?;
    let stopped = backend.stop(&StopGroup {
        parent_ref: group.clone(),
    })?;
    let unhealthy: Vec<String> = stopped
        .children
        .iter()
        .filter(|c| c.status == "failed")
        .map(|c| {
            format!(
                "{}{}",
                c.name.as_deref().unwrap_or(&c.id),
                c.reason
                    .as_ref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            )
        })
        .collect();
    println!("stopped {} service(s)", stopped.children.len());
    if unhealthy.is_empty() {
        Ok(())
    } else {
        Err(ToolkitError::Failed(format!(
            "unhealthy services detected: {}",
            unhealthy.join(", ")
        )))
    }
}
