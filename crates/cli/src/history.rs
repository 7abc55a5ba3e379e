//! `testwerk executions` and `testwerk logs`: reading the results store.

use std::path::Path;

use testwerk_store::{ExecutionFilter, Store};

fn open(path: Option<&Path>) -> Result<Store, String> {
    match path {
        Some(p) => Store::open(p),
        None => Store::open_default(),
    }
    .map_err(|e| format!("results store: {e}"))
}

/// Lists executions, newest first. Returns the exit code.
pub fn list(store: Option<&Path>, workflow: Option<&str>, json: bool) -> u8 {
    let result = open(store).and_then(|s| {
        let _ = s.recover_abandoned();
        let filter = ExecutionFilter {
            workflow: workflow.map(str::to_owned),
            ..Default::default()
        };
        s.list_executions(&filter).map_err(|e| e.to_string())
    });
    match result {
        Ok(list) if json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&list).unwrap_or_default()
            );
            0
        }
        Ok(list) => {
            if list.is_empty() {
                println!("no executions yet; run one with `testwerk run <file>`");
            }
            for e in list {
                let took = match (e.started_at, e.finished_at) {
                    (Some(s), Some(f)) => f
                        .millis_since(s)
                        .map(|ms| format!("{:.2}s", ms as f64 / 1000.0))
                        .unwrap_or_default(),
                    _ => String::new(),
                };
                println!(
                    "{:<32} {:<8} {:>9}  {}  {}",
                    e.name,
                    e.status.as_str(),
                    took,
                    e.created_at,
                    e.id
                );
            }
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}

/// Shows one execution with its steps and outputs.
pub fn show(store: Option<&Path>, id: &str, json: bool) -> u8 {
    let store = match open(store) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    match store.execution(id) {
        Ok(Some(d)) if json => {
            println!("{}", serde_json::to_string_pretty(&d).unwrap_or_default());
            0
        }
        Ok(Some(d)) => {
            let e = &d.execution;
            println!(
                "{} ({})\n  workflow: {}\n  status:   {}",
                e.name,
                e.id,
                e.workflow,
                e.status.as_str()
            );
            if let Some(r) = &e.reason {
                println!("  reason:   {r}");
            }
            println!("  created:  {}", e.created_at);
            println!("  steps:");
            for s in d.steps.iter().filter(|s| s.name.is_some()) {
                let took = s
                    .duration_ms()
                    .map(|ms| format!("{:.3}s", ms as f64 / 1000.0))
                    .unwrap_or_default();
                let code = s
                    .exit_code
                    .filter(|c| *c != 0)
                    .map(|c| format!(" exit {c}"))
                    .unwrap_or_default();
                println!(
                    "    {:<8} {:>9} {}{code}  ({})",
                    s.status.as_str(),
                    took,
                    s.name.as_deref().unwrap_or_default(),
                    s.step_ref
                );
            }
            if !d.outputs.is_empty() {
                println!("  outputs:");
                for o in &d.outputs {
                    println!("    {}.{} = {}", o.step_ref, o.name, o.value);
                }
            }
            // Kubernetes events (agent executions): the warnings explain what steps cannot.
            let warnings: Vec<_> = store
                .events(&e.id)
                .unwrap_or_default()
                .into_iter()
                .filter(|ev| ev.warning)
                .collect();
            if !warnings.is_empty() {
                println!("  cluster warnings:");
                for ev in warnings {
                    let repeated = if ev.count > 1 {
                        format!(" (x{})", ev.count)
                    } else {
                        String::new()
                    };
                    println!(
                        "    {} {}: {}{repeated}  ({})",
                        ev.time, ev.object, ev.message, ev.reason
                    );
                }
            }
            0
        }
        Ok(None) => {
            eprintln!("error: no execution `{id}`; list them with `testwerk executions`");
            2
        }
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}

/// Prints logs; `step` may be a ref, a step id or a step name.
pub fn logs(store: Option<&Path>, id: &str, step: Option<&str>) -> u8 {
    let result = open(store).and_then(|s| {
        let detail = s
            .execution(id)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no execution `{id}`; list them with `testwerk executions`"))?;
        let step_ref = match step {
            None => None,
            Some(wanted) => Some(
                detail
                    .steps
                    .iter()
                    .find(|s| {
                        s.step_ref == wanted
                            || s.id.as_deref() == Some(wanted)
                            || s.name.as_deref() == Some(wanted)
                    })
                    .map(|s| s.step_ref.clone())
                    .ok_or_else(|| {
                        let names: Vec<_> =
                            detail.steps.iter().filter_map(|s| s.name.clone()).collect();
                        format!(
                            "no step `{wanted}` in {id}; its steps: {}",
                            names.join(", ")
                        )
                    })?,
            ),
        };
        s.logs(&detail.execution.id, step_ref.as_deref())
            .map_err(|e| e.to_string())
    });
    match result {
        Ok(lines) => {
            for l in lines {
                println!("{}", l.text);
            }
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}
