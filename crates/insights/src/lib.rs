//! Test insights from a workflow's history, computed from what the store keeps, with no
//! store or I/O of their own (the web UI reads the history and hands it over):
//!
//! - [`health`]: over the last runs of a workflow, its pass rate, flip rate (how often the
//!   outcome changed from one run to the next) and the 50th and 95th percentile durations;
//! - [`case_histories`]: each test case's results across those runs, with the flaky ones
//!   flagged ([`Flaky`]): a case is flaky when it passed and failed on the same inputs (the
//!   same revision and configuration, [`Run::inputs`]), or failed and then passed within one
//!   run (it passed on retry).
//!
//! Only conclusive runs (passed or failed) count towards health: an aborted or canceled run
//! says nothing about the tests.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

/// How a run ended, as far as insights care.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Passed,
    Failed,
    /// Still running, aborted or canceled: not counted.
    Inconclusive,
}

/// How a test case ended in one report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CaseOutcome {
    Passed,
    /// Failed or errored.
    Failed,
    Skipped,
}

/// One run of a workflow, newest first in the slices this crate takes.
#[derive(Clone, Debug)]
pub struct Run {
    /// The execution's name (`<workflow>-<number>`), shown in histories.
    pub name: String,
    pub outcome: Outcome,
    pub duration_ms: Option<u64>,
    /// What the run was given: runs with equal inputs ran the same code with the same
    /// configuration, so a case that passed in one and failed in another is flaky.
    pub inputs: String,
    /// Its test cases in report order; a case listed twice ran twice (it was retried).
    pub cases: Vec<(String, CaseOutcome)>,
}

/// A workflow's health over the runs given.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// Runs given, conclusive or not.
    pub runs: usize,
    pub passed: usize,
    pub failed: usize,
    /// `passed / (passed + failed)`; `None` without a conclusive run.
    pub pass_rate: Option<f64>,
    /// The share of consecutive conclusive runs whose outcome differs; `None` with fewer than
    /// two conclusive runs.
    pub flip_rate: Option<f64>,
    pub p50_ms: Option<u64>,
    pub p95_ms: Option<u64>,
}

/// The health of the runs `runs` (newest first).
pub fn health(runs: &[Run]) -> Health {
    let conclusive: Vec<&Run> = runs
        .iter()
        .filter(|r| r.outcome != Outcome::Inconclusive)
        .collect();
    let passed = conclusive
        .iter()
        .filter(|r| r.outcome == Outcome::Passed)
        .count();
    let failed = conclusive.len() - passed;
    let flips = conclusive
        .windows(2)
        .filter(|pair| pair[0].outcome != pair[1].outcome)
        .count();
    let mut durations: Vec<u64> = conclusive.iter().filter_map(|r| r.duration_ms).collect();
    durations.sort_unstable();
    Health {
        runs: runs.len(),
        passed,
        failed,
        pass_rate: ratio(passed, conclusive.len()),
        flip_rate: ratio(flips, conclusive.len().saturating_sub(1)),
        p50_ms: percentile(&durations, 50),
        p95_ms: percentile(&durations, 95),
    }
}

fn ratio(part: usize, whole: usize) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// The nearest-rank percentile `p` of `sorted`: the smallest value with at least `p`% of the
/// values at or below it.
pub fn percentile(sorted: &[u64], p: u32) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (sorted.len() * p as usize).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// Why a case is flagged flaky: the first evidence found, newest runs first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Flaky {
    /// It passed in run `passed` and failed in run `failed`, both with the same inputs.
    SameInputs { passed: String, failed: String },
    /// It failed and then passed within run `run`.
    PassedOnRetry { run: String },
}

/// One test case across the runs.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseHistory {
    pub case: String,
    /// Its outcome in each run that reported it, newest first: `(run name, outcome)`. A
    /// retried case counts with its last outcome.
    pub results: Vec<(String, CaseOutcome)>,
    pub flaky: Option<Flaky>,
}

impl CaseHistory {
    pub fn failures(&self) -> usize {
        self.results
            .iter()
            .filter(|(_, o)| *o == CaseOutcome::Failed)
            .count()
    }
}

/// The newest run a case passed in and the newest it failed in, for one set of inputs.
type Seen<'a> = (Option<&'a str>, Option<&'a str>);

/// Every test case of `runs` (newest first) with its history: flaky cases first, then the
/// most failed, then by name.
pub fn case_histories(runs: &[Run]) -> Vec<CaseHistory> {
    let mut by_case: BTreeMap<&str, CaseHistory> = BTreeMap::new();
    // For each case and inputs: the newest run it passed in and the newest it failed in.
    let mut seen: HashMap<(&str, &str), Seen> = HashMap::new();
    for run in runs {
        let mut last: BTreeMap<&str, CaseOutcome> = BTreeMap::new();
        let mut retried_to_pass: Vec<&str> = Vec::new();
        for (case, outcome) in &run.cases {
            if *outcome == CaseOutcome::Passed
                && last.get(case.as_str()) == Some(&CaseOutcome::Failed)
            {
                retried_to_pass.push(case);
            }
            last.insert(case, *outcome);
        }
        for (case, outcome) in last {
            let history = by_case.entry(case).or_insert_with(|| CaseHistory {
                case: case.to_owned(),
                results: Vec::new(),
                flaky: None,
            });
            history.results.push((run.name.clone(), outcome));
            let slot = seen.entry((case, run.inputs.as_str())).or_default();
            match outcome {
                CaseOutcome::Passed => {
                    slot.0.get_or_insert(&run.name);
                }
                CaseOutcome::Failed => {
                    slot.1.get_or_insert(&run.name);
                }
                CaseOutcome::Skipped => {}
            }
            if history.flaky.is_none()
                && let (Some(passed), Some(failed)) = *slot
            {
                history.flaky = Some(Flaky::SameInputs {
                    passed: passed.to_owned(),
                    failed: failed.to_owned(),
                });
            }
        }
        for case in retried_to_pass {
            if let Some(history) = by_case.get_mut(case)
                && history.flaky.is_none()
            {
                history.flaky = Some(Flaky::PassedOnRetry {
                    run: run.name.clone(),
                });
            }
        }
    }
    let mut all: Vec<CaseHistory> = by_case.into_values().collect();
    all.sort_by(|a, b| {
        b.flaky
            .is_some()
            .cmp(&a.flaky.is_some())
            .then(b.failures().cmp(&a.failures()))
            .then(a.case.cmp(&b.case))
    });
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use CaseOutcome::{Failed as F, Passed as P, Skipped as S};

    fn run(
        name: &str,
        outcome: Outcome,
        ms: u64,
        inputs: &str,
        cases: &[(&str, CaseOutcome)],
    ) -> Run {
        Run {
            name: name.into(),
            outcome,
            duration_ms: Some(ms),
            inputs: inputs.into(),
            cases: cases.iter().map(|(c, o)| ((*c).to_owned(), *o)).collect(),
        }
    }

    #[test]
    fn health_counts_conclusive_runs_flips_and_percentiles() {
        // Newest first: P F F P P, plus an aborted run that counts for nothing.
        let runs = [
            run("w-6", Outcome::Passed, 100, "a", &[]),
            run("w-5", Outcome::Inconclusive, 999_999, "a", &[]),
            run("w-4", Outcome::Failed, 300, "a", &[]),
            run("w-3", Outcome::Failed, 200, "a", &[]),
            run("w-2", Outcome::Passed, 400, "a", &[]),
            run("w-1", Outcome::Passed, 500, "a", &[]),
        ];
        let h = health(&runs);
        assert_eq!((h.runs, h.passed, h.failed), (6, 3, 2));
        assert_eq!(h.pass_rate, Some(0.6));
        // P→F, F→F, F→P, P→P: 2 flips of 4 pairs.
        assert_eq!(h.flip_rate, Some(0.5));
        // Sorted 100 200 300 400 500: p50 is the 3rd, p95 the 5th.
        assert_eq!(h.p50_ms, Some(300));
        assert_eq!(h.p95_ms, Some(500));
    }

    #[test]
    fn health_of_nothing_conclusive_has_no_rates() {
        let h = health(&[run("w-1", Outcome::Inconclusive, 5, "a", &[])]);
        assert_eq!(h.pass_rate, None);
        assert_eq!(h.flip_rate, None);
        assert_eq!(h.p50_ms, None);
        let one = health(&[run("w-1", Outcome::Failed, 5, "a", &[])]);
        assert_eq!(one.pass_rate, Some(0.0));
        assert_eq!(one.flip_rate, None, "one run cannot flip");
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=20).collect();
        assert_eq!(percentile(&v, 50), Some(10));
        assert_eq!(percentile(&v, 95), Some(19));
        assert_eq!(percentile(&v, 100), Some(20));
        assert_eq!(percentile(&[7], 95), Some(7));
        assert_eq!(percentile(&[], 50), None);
    }

    #[test]
    fn a_case_that_passed_and_failed_on_the_same_inputs_is_flaky() {
        let runs = [
            run(
                "w-3",
                Outcome::Failed,
                1,
                "rev1",
                &[("login", F), ("cart", P)],
            ),
            run(
                "w-2",
                Outcome::Passed,
                1,
                "rev1",
                &[("login", P), ("cart", P)],
            ),
            run(
                "w-1",
                Outcome::Failed,
                1,
                "rev0",
                &[("login", P), ("cart", F)],
            ),
        ];
        let cases = case_histories(&runs);
        let login = cases.iter().find(|c| c.case == "login");
        assert_eq!(
            login.and_then(|c| c.flaky.clone()),
            Some(Flaky::SameInputs {
                passed: "w-2".into(),
                failed: "w-3".into()
            })
        );
        // cart failed only on other inputs (rev0): a real failure then, not a flake.
        let cart = cases.iter().find(|c| c.case == "cart");
        assert_eq!(cart.and_then(|c| c.flaky.clone()), None);
        assert_eq!(cart.map(CaseHistory::failures), Some(1));
        assert_eq!(cases[0].case, "login", "flaky cases come first");
        assert_eq!(
            cases[0].results,
            vec![("w-3".into(), F), ("w-2".into(), P), ("w-1".into(), P)]
        );
    }

    #[test]
    fn a_case_that_failed_then_passed_in_one_run_passed_on_retry() {
        let runs = [run(
            "w-1",
            Outcome::Passed,
            1,
            "a",
            &[("db", F), ("db", P), ("ui", S)],
        )];
        let cases = case_histories(&runs);
        let db = cases.iter().find(|c| c.case == "db");
        assert_eq!(
            db.and_then(|c| c.flaky.clone()),
            Some(Flaky::PassedOnRetry { run: "w-1".into() })
        );
        assert_eq!(db.map(|c| c.results.clone()), Some(vec![("w-1".into(), P)]));
        let ui = cases.iter().find(|c| c.case == "ui");
        assert_eq!(ui.and_then(|c| c.flaky.clone()), None);
    }

    #[test]
    fn passing_after_a_failure_in_a_later_run_is_not_a_retry() {
        let runs = [
            run("w-2", Outcome::Passed, 1, "b", &[("db", P)]),
            run("w-1", Outcome::Failed, 1, "a", &[("db", F)]),
        ];
        assert!(case_histories(&runs).iter().all(|c| c.flaky.is_none()));
    }
}
