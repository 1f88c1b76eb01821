//! What a comparison found: every run's metrics, the rate chosen for each variant, and the numbers
//! the report is made of (summary rows, mean curves over seeds, sensitivity to the rate).
//!
//! The choice of rate looks only at validation error; test error is reported, never used.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::experiment::{Experiment, Variant};
use crate::train::EpochMetrics;
use crate::Error;

/// One finished run: a variant at one rate with one seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// The variant's name.
    pub variant: String,
    /// Learning rate ε₀.
    pub lr: f64,
    /// Seed.
    pub seed: u64,
    /// Why the run stopped early on a non-finite value, if it did.
    pub diverged: Option<String>,
    /// One row per epoch completed (per update for a 2-D function, where every loss is f and
    /// every error is the problem's metric).
    pub epochs: Vec<EpochMetrics>,
    /// The iterates (x, y) of a 2-D function, start first; empty for a classifier.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub path: Vec<[f64; 2]>,
}

impl RunResult {
    /// The last epoch's metrics, if any epoch finished.
    pub fn last(&self) -> Option<&EpochMetrics> {
        self.epochs.last()
    }

    /// What the rate is judged on: the final validation error, or +∞ for a run that diverged
    /// or finished no epoch.
    pub fn tuning_score(&self) -> f64 {
        match (&self.diverged, self.last()) {
            (None, Some(m)) if m.val_error.is_finite() => m.val_error,
            _ => f64::INFINITY,
        }
    }
}

/// Everything a comparison produced: `results.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    /// The experiment, resolved.
    pub experiment: Experiment,
    /// The problem's description.
    pub description: String,
    /// The problem's metric ("0-1 error", "f − f*").
    pub metric: String,
    /// Every run, in the order planned.
    pub runs: Vec<RunResult>,
}

/// The rate with the lowest validation score among `(lr, score)` pairs; ties go to the smaller
/// rate. `None` when there are no candidates.
pub fn choose_lr(candidates: &[(f64, f64)]) -> Option<f64> {
    candidates
        .iter()
        .copied()
        .min_by(|(lr_a, a), (lr_b, b)| a.total_cmp(b).then(lr_a.total_cmp(lr_b)))
        .map(|(lr, _)| lr)
}

/// One row of `summary.csv`: a variant at its chosen rate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SummaryRow {
    /// Variant name.
    pub variant: String,
    /// The algorithm.
    pub optimizer: String,
    /// The rate chosen on validation error.
    pub best_lr: f64,
    /// Whether that rate is the smallest or largest of the grid (the grid may be too narrow).
    pub best_at_edge: bool,
    /// Seeds run at the chosen rate.
    pub seeds: usize,
    /// Mean over seeds of the final test error.
    pub test_error_mean: f64,
    /// Sample standard deviation of the final test error over seeds (`None` with one seed).
    pub test_error_std: Option<f64>,
    /// Mean over seeds of the final validation error.
    pub val_error_mean: f64,
    /// Lowest validation error of any epoch, averaged over seeds.
    pub best_val_error: f64,
    /// First epoch at which the mean test error over seeds reaches the target.
    pub epochs_to_target: Option<u32>,
    /// Mean training seconds to that epoch.
    pub seconds_to_target: Option<f64>,
    /// Mean over the grid of how much worse each rate's validation error is than the best
    /// (diverged rates count as error 1): lower means less sensitive to the rate.
    pub sensitivity: f64,
    /// Runs of this variant (any rate, any seed) that diverged.
    pub diverged_runs: usize,
}

/// Mean, lowest and highest of one quantity over seeds, at one epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Band {
    /// Epoch (update for a 2-D function).
    pub epoch: u32,
    /// Mean training seconds at that epoch.
    pub seconds: f64,
    /// Mean over seeds.
    pub mean: f64,
    /// Lowest.
    pub low: f64,
    /// Highest.
    pub high: f64,
}

/// The columns of `summary.csv`.
pub const SUMMARY_HEADER: &str = "optimizer,algorithm,best_lr,best_at_edge,seeds,test_error_mean,test_error_std,\
val_error_mean,best_val_error,epochs_to_target,seconds_to_target,sensitivity,diverged_runs";

impl Results {
    /// The runs of `variant`.
    pub fn runs_of<'a>(&'a self, variant: &'a str) -> impl Iterator<Item = &'a RunResult> + 'a {
        self.runs.iter().filter(move |r| r.variant == variant)
    }

    /// The rates tried for `variant` (its grid and any extension of it), in increasing order.
    pub fn rates_tried(&self, variant: &Variant) -> Vec<f64> {
        let mut rates: Vec<f64> = self.runs_of(&variant.name).filter(|r| r.seed == 1).map(|r| r.lr).collect();
        rates.sort_by(f64::total_cmp);
        rates.dedup();
        rates
    }

    /// The rate chosen for `variant`: the best final validation error of the seed-1 runs over
    /// the rates tried, ties to the smaller rate. `None` until every rate of its grid has run.
    pub fn chosen_lr(&self, variant: &Variant) -> Option<f64> {
        let tried = self.rates_tried(variant);
        if !variant.lrs.iter().all(|lr| tried.contains(lr)) {
            return None;
        }
        let candidates: Vec<(f64, f64)> = tried
            .iter()
            .filter_map(|&lr| self.runs_of(&variant.name).find(|r| r.lr == lr && r.seed == 1))
            .map(|r| (r.lr, r.tuning_score()))
            .collect();
        choose_lr(&candidates)
    }

    /// The rate to try next for an extensible grid whose best rate lies at an edge (a decade
    /// beyond it), or `None` when the best is inside, the grid is fixed, or the edge rate diverged.
    pub fn extension(&self, variant: &Variant) -> Option<f64> {
        let best = self.chosen_lr(variant)?;
        let tried = self.rates_tried(variant);
        let diverged = self.runs_of(&variant.name).any(|r| r.seed == 1 && r.lr == best && r.diverged.is_some());
        if !variant.extend
            || tried.len() < 2
            || diverged
            || tried.len() >= variant.lrs.len() + super::experiment::MAX_EXTENSIONS
        {
            return None;
        }
        let round = |lr: f64| format!("{lr:.11e}").parse::<f64>().expect("a number");
        if best == tried[tried.len() - 1] {
            Some(round(best * 10.0))
        } else if best == tried[0] {
            Some(round(best / 10.0))
        } else {
            None
        }
    }

    /// The runs of `variant` at its chosen rate, one per seed.
    pub fn final_runs(&self, variant: &Variant) -> Vec<&RunResult> {
        match self.chosen_lr(variant) {
            Some(lr) => self.runs.iter().filter(|r| r.variant == variant.name && r.lr == lr).collect(),
            None => Vec::new(),
        }
    }

    /// Mean and spread over seeds at the chosen rate of `pick`, epoch by epoch, up to the last
    /// epoch every seed reached.
    pub fn band(&self, variant: &Variant, pick: impl Fn(&EpochMetrics) -> f64) -> Vec<Band> {
        let runs = self.final_runs(variant);
        let epochs = runs.iter().map(|r| r.epochs.len()).min().unwrap_or(0);
        (0..epochs)
            .map(|index| {
                let values: Vec<f64> = runs.iter().map(|r| pick(&r.epochs[index])).collect();
                let seconds = runs.iter().map(|r| r.epochs[index].seconds).sum::<f64>() / runs.len() as f64;
                Band {
                    epoch: runs[0].epochs[index].epoch,
                    seconds,
                    mean: values.iter().sum::<f64>() / values.len() as f64,
                    low: values.iter().copied().fold(f64::INFINITY, f64::min),
                    high: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                }
            })
            .collect()
    }

    /// Final validation error (seed 1) against rate for `variant`: `None` where the run diverged.
    pub fn sensitivity_curve(&self, variant: &Variant) -> Vec<(f64, Option<f64>)> {
        self.rates_tried(variant)
            .into_iter()
            .filter_map(|lr| {
                let run = self.runs_of(&variant.name).find(|r| r.lr == lr && r.seed == 1)?;
                let score = run.tuning_score();
                Some((lr, score.is_finite().then_some(score)))
            })
            .collect()
    }

    /// The summary row of every variant whose grid has finished.
    pub fn summary(&self) -> Vec<SummaryRow> {
        let experiment = &self.experiment;
        experiment
            .variants
            .iter()
            .filter_map(|variant| {
                let best_lr = self.chosen_lr(variant)?;
                let runs = self.final_runs(variant);
                let finals: Vec<&EpochMetrics> = runs.iter().filter_map(|r| r.last()).collect();
                let n = finals.len().max(1) as f64;
                let test_error_mean = finals.iter().map(|m| m.test_error).sum::<f64>() / n;
                let test_error_std = (finals.len() > 1).then(|| {
                    let ss: f64 = finals.iter().map(|m| (m.test_error - test_error_mean).powi(2)).sum();
                    (ss / (finals.len() - 1) as f64).sqrt()
                });
                let best_val_error = runs
                    .iter()
                    .map(|r| r.epochs.iter().map(|m| m.val_error).fold(f64::INFINITY, f64::min))
                    .sum::<f64>()
                    / runs.len().max(1) as f64;
                let test = self.band(variant, |m| m.test_error);
                let reached = test.iter().find(|b| b.mean <= experiment.target);
                let curve = self.sensitivity_curve(variant);
                let tried = self.rates_tried(variant);
                let best = curve.iter().filter_map(|(_, e)| *e).fold(f64::INFINITY, f64::min);
                let sensitivity =
                    curve.iter().map(|(_, e)| e.unwrap_or(1.0_f64.max(best)) - best).sum::<f64>() / curve.len() as f64;
                Some(SummaryRow {
                    variant: variant.name.clone(),
                    optimizer: variant.optimizer.clone(),
                    best_lr,
                    best_at_edge: tried.len() > 1 && (best_lr == tried[0] || best_lr == tried[tried.len() - 1]),
                    seeds: runs.len(),
                    test_error_mean,
                    test_error_std,
                    val_error_mean: finals.iter().map(|m| m.val_error).sum::<f64>() / n,
                    best_val_error,
                    epochs_to_target: reached.map(|b| b.epoch),
                    seconds_to_target: reached.map(|b| b.seconds),
                    sensitivity,
                    diverged_runs: self.runs_of(&variant.name).filter(|r| r.diverged.is_some()).count(),
                })
            })
            .collect()
    }

    /// `summary.csv`: the header, then one row per variant ("not reached" where the target was not).
    pub fn summary_csv(&self) -> String {
        let mut csv = format!("{SUMMARY_HEADER}\n");
        for row in self.summary() {
            let optional = |value: Option<String>| value.unwrap_or_else(|| "not reached".into());
            csv.push_str(&format!(
                "{},{},{:?},{},{},{:?},{},{:?},{:?},{},{},{:?},{}\n",
                row.variant,
                row.optimizer,
                row.best_lr,
                row.best_at_edge,
                row.seeds,
                row.test_error_mean,
                row.test_error_std.map_or(String::new(), |s| format!("{s:?}")),
                row.val_error_mean,
                row.best_val_error,
                optional(row.epochs_to_target.map(|e| e.to_string())),
                optional(row.seconds_to_target.map(|s| format!("{s:.3}"))),
                row.sensitivity,
                row.diverged_runs
            ));
        }
        csv
    }

    /// Reads `results.json` from a report folder.
    pub fn load(dir: &Path) -> Result<Self, Error> {
        let path = dir.join(super::RESULTS_FILE);
        let text = crate::files::read_text(&path, crate::files::TEXT_LIMIT, false)?;
        let results: Results = serde_json::from_str(&text).map_err(|e| Error::run(&path, format!("damaged: {e}")))?;
        // Everything drawn from the results asks the registry about their problem.
        crate::problems::named(&results.experiment.problem)
            .map_err(|e| Error::run(&path, format!("names a problem this descent does not know ({e})")))?;
        Ok(results)
    }

    /// Writes `results.json` and `summary.csv` into `dir`.
    pub fn save(&self, dir: &Path) -> Result<(), Error> {
        let json = serde_json::to_string(self).map_err(|e| Error::run(dir, e.to_string()))?;
        crate::checkpoint::write_atomically(&dir.join(super::RESULTS_FILE), json.as_bytes())?;
        crate::checkpoint::write_atomically(&dir.join(super::SUMMARY_CSV), self.summary_csv().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::experiment::ExperimentSpec;
    use crate::lab::experiment::LrGrid;

    #[test]
    fn the_best_validation_error_wins_and_ties_go_to_the_smaller_rate() {
        assert_eq!(choose_lr(&[(0.1, 0.05), (0.01, 0.04), (0.001, 0.06)]), Some(0.01));
        assert_eq!(choose_lr(&[(0.1, 0.04), (0.01, 0.04), (1.0, 0.04)]), Some(0.01));
        assert_eq!(choose_lr(&[(0.1, f64::INFINITY), (1.0, 0.5)]), Some(1.0));
        assert_eq!(choose_lr(&[]), None);
    }

    fn metrics(epoch: u32, seconds: f64, val_error: f64, test_error: f64) -> EpochMetrics {
        EpochMetrics {
            epoch,
            step: epoch as u64 * 10,
            lr: 0.1,
            seconds,
            train_loss: 1.0,
            train_error: 0.5,
            val_loss: 1.0,
            val_error,
            test_loss: 1.0,
            test_error,
        }
    }

    fn run(lr: f64, seed: u64, rows: &[(f64, f64)]) -> RunResult {
        RunResult {
            variant: "sgd".into(),
            lr,
            seed,
            diverged: None,
            epochs: rows
                .iter()
                .enumerate()
                .map(|(i, &(val, test))| metrics(i as u32 + 1, (i + 1) as f64 * 2.0, val, test))
                .collect(),
            path: Vec::new(),
        }
    }

    /// A hand-made results file: sgd over rates 0.01, 0.1, 1; the run at 1 diverged. Test error
    /// favours 0.01, validation favours 0.1: the choice must follow validation.
    fn hand_made() -> Results {
        let spec = ExperimentSpec {
            optimizers: Some(vec!["sgd".into()]),
            lrs: Some(LrGrid::List(vec![0.01, 0.1, 1.0])),
            seeds: Some(3),
            epochs: Some(2),
            target: Some(0.21),
            ..ExperimentSpec::default()
        };
        let mut diverged = run(1.0, 1, &[(0.9, 0.9)]);
        diverged.diverged = Some("non-finite loss at step 12 (epoch 2)".into());
        Results {
            experiment: spec.resolve(None).unwrap(),
            description: String::new(),
            metric: "0-1 error".into(),
            runs: vec![
                run(0.01, 1, &[(0.40, 0.01), (0.30, 0.01)]),
                run(0.1, 1, &[(0.30, 0.30), (0.10, 0.20)]),
                diverged,
                run(0.1, 2, &[(0.20, 0.25), (0.12, 0.10)]),
                run(0.1, 3, &[(0.25, 0.05), (0.08, 0.30)]),
            ],
        }
    }

    #[test]
    fn summary_numbers_match_a_hand_computation() {
        let results = hand_made();
        let [row] = &results.summary()[..] else { panic!("one row") };
        assert_eq!(row.best_lr, 0.1);
        assert!(!row.best_at_edge);
        assert_eq!(row.seeds, 3);
        // Final test errors 0.20, 0.10, 0.30: mean 0.2, sample std 0.1.
        assert!((row.test_error_mean - 0.2).abs() < 1e-12);
        assert!((row.test_error_std.unwrap() - 0.1).abs() < 1e-12);
        assert!((row.val_error_mean - 0.1).abs() < 1e-12);
        // Lowest validation error per seed: 0.10, 0.12, 0.08.
        assert!((row.best_val_error - 0.1).abs() < 1e-12);
        // Mean test error by epoch: (0.30 + 0.25 + 0.05)/3 = 0.2 at epoch 1, under the target 0.21.
        assert_eq!(row.epochs_to_target, Some(1));
        assert_eq!(row.seconds_to_target, Some(2.0));
        // Regrets over the grid: 0.30 − 0.10, 0, and 1 − 0.10 for the diverged rate.
        assert!((row.sensitivity - (0.2 + 0.0 + 0.9) / 3.0).abs() < 1e-12);
        assert_eq!(row.diverged_runs, 1);
        let csv = results.summary_csv();
        assert!(csv.starts_with(SUMMARY_HEADER));
        assert!(csv.lines().nth(1).unwrap().starts_with("sgd,sgd,0.1,false,3,0.2"), "{csv}");
    }

    #[test]
    fn test_error_never_influences_the_choice() {
        // Validation prefers 0.1 (final 0.10 against 0.30 for 0.01). Whatever the test errors say,
        // and they are made to favour each rate in turn, the choice stays 0.1.
        for favoured in [0.01, 0.1, 1.0] {
            let mut results = hand_made();
            for run in &mut results.runs {
                let test_error = if run.lr == favoured { 0.0 } else { 1.0 };
                run.epochs.iter_mut().for_each(|m| m.test_error = test_error);
            }
            assert_eq!(results.chosen_lr(&results.experiment.variants[0]), Some(0.1), "test favouring {favoured}");
        }
    }

    #[test]
    fn the_choice_waits_for_the_whole_grid() {
        let mut results = hand_made();
        results.runs.remove(0);
        assert_eq!(results.chosen_lr(&results.experiment.variants[0]), None);
        assert!(results.summary().is_empty());
    }

    #[test]
    fn auto_grids_grow_past_an_edge_and_stop_at_a_divergence() {
        let mut results = hand_made();
        // The fixed list of the hand-made file never grows.
        assert_eq!(results.extension(&results.experiment.variants[0]), None);
        results.experiment.variants[0].extend = true;
        results.experiment.variants[0].lrs = vec![0.01, 0.1];
        results.runs.retain(|r| r.seed == 1 && r.lr != 1.0);
        // Best at the top edge (0.1 beats 0.01): try a decade above.
        assert_eq!(results.extension(&results.experiment.variants[0]), Some(1.0));
        // Tried and diverged at 1: 0.1 is inside the tried rates now, so the grid stops growing.
        let mut diverged = run(1.0, 1, &[(0.9, 0.9)]);
        diverged.diverged = Some("non-finite loss".into());
        results.runs.push(diverged);
        assert_eq!(results.extension(&results.experiment.variants[0]), None);
        // Better at 1 and still at the edge: one more decade, then no more (two at most).
        results.runs.last_mut().unwrap().diverged = None;
        results.runs.last_mut().unwrap().epochs[0].val_error = 0.01;
        assert_eq!(results.extension(&results.experiment.variants[0]), Some(10.0));
        results.runs.push(run(10.0, 1, &[(0.001, 0.9)]));
        assert_eq!(results.chosen_lr(&results.experiment.variants[0]), Some(10.0));
        assert_eq!(results.extension(&results.experiment.variants[0]), None);
    }

    #[test]
    fn results_survive_a_round_trip_through_json() {
        let results = hand_made();
        let dir = tempfile::tempdir().unwrap();
        results.save(dir.path()).unwrap();
        assert_eq!(Results::load(dir.path()).unwrap(), results);
    }
}
