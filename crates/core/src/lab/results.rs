//! What a comparison found: every run's metrics, the setting chosen for each variant, and the
//! numbers the report is made of (summary rows, paired differences, mean curves over seeds,
//! sensitivity to the rate).
//!
//! The choice of setting looks only at validation error on the tuning seeds; the reported numbers
//! come from the other seeds; test error is reported, never used for a choice or a ranking.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::experiment::{Experiment, Setting, Variant};
use super::stats::{self, PairedDifference};
use crate::train::EpochMetrics;
use crate::Error;

/// How far above the best validation error a rate may be and still count as "as good" in the
/// sensitivity width: within 25% of the best (a relative tolerance, so that it means the same on
/// an error of 2% as on f − f* of 10⁻⁶).
pub const LR_TOLERANCE: f64 = 0.25;

/// One finished run: a variant at one setting with one seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// The variant's name.
    pub variant: String,
    /// The rate and whatever else the variant tunes (`lr`, `momentum`, … in the JSON).
    #[serde(flatten)]
    pub setting: Setting,
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

    /// What a setting is judged on: the final validation error, or +∞ for a run that diverged
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

/// How wide, in decades of the rate, the range is over which validation error stays within
/// [`LR_TOLERANCE`] of the best: the best rate's neighbours are followed outwards while they stay
/// within it, and the edge is placed where the curve, linear in log₁₀ rate between two tried
/// rates, crosses the threshold (at the last good rate when the next one diverged). A rate
/// outside the range never changes it, wherever it lies: the width does not depend on the grid
/// beyond the first rate each side that is worse than the tolerance.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Width {
    /// Decades.
    pub decades: f64,
    /// Whether the range reaches the smallest or largest rate tried, so that it may be wider.
    pub open: bool,
}

/// The [`Width`] of a curve of `(lr, validation error)` (+∞ where diverged), in increasing rate;
/// `None` when no rate has a finite error.
pub fn lr_width(curve: &[(f64, f64)], tolerance: f64) -> Option<Width> {
    let best_index = (0..curve.len())
        .filter(|&i| curve[i].1.is_finite())
        .min_by(|&i, &j| curve[i].1.total_cmp(&curve[j].1).then(i.cmp(&j)))?;
    let best = curve[best_index].1;
    let threshold = best + tolerance * best.abs();
    let x = |i: usize| curve[i].0.log10();
    // From the best outwards in one direction: the log-rate where the range ends, and whether it
    // ran off the grid.
    let edge = |step: isize| -> (f64, bool) {
        let mut inside = best_index;
        loop {
            let next = inside as isize + step;
            if next < 0 || next as usize >= curve.len() {
                return (x(inside), true);
            }
            let next = next as usize;
            let (good, bad) = (curve[inside].1, curve[next].1);
            if bad <= threshold {
                inside = next;
                continue;
            }
            let fraction = if bad.is_finite() && bad > good { (threshold - good) / (bad - good) } else { 0.0 };
            return (x(inside) + fraction * (x(next) - x(inside)), false);
        }
    };
    let ((low, open_low), (high, open_high)) = (edge(-1), edge(1));
    Some(Width { decades: high - low, open: open_low || open_high })
}

/// One row of `summary.csv`: a variant at its chosen setting.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SummaryRow {
    /// Variant name.
    pub variant: String,
    /// The algorithm.
    pub optimizer: String,
    /// The rate chosen on validation error.
    pub best_lr: f64,
    /// What else was chosen where the variant tunes more than the rate (`momentum 0.9, …`).
    pub best_setting: String,
    /// Whether that rate is the smallest or largest of the grid (the grid may be too narrow).
    pub best_at_edge: bool,
    /// Seeds the choice was made on.
    pub tuning_seeds: usize,
    /// Seeds reported at the chosen setting.
    pub seeds: usize,
    /// Mean over the reported seeds of the final test error.
    pub test_error_mean: f64,
    /// Sample standard deviation of the final test error over seeds (`None` with one seed).
    pub test_error_std: Option<f64>,
    /// Mean over the reported seeds of the final validation error.
    pub val_error_mean: f64,
    /// Lowest validation error of any epoch, averaged over the reported seeds.
    pub best_val_error: f64,
    /// First epoch at which the mean test error over seeds reaches the target.
    pub epochs_to_target: Option<u32>,
    /// Updates made by the end of that epoch (the same on every seed and machine).
    pub updates_to_target: Option<u64>,
    /// Mean training seconds to that epoch.
    pub seconds_to_target: Option<f64>,
    /// Sensitivity to the rate: [`lr_width`] on each tuning seed's curve at the chosen setting,
    /// averaged (`None` when every rate diverged).
    pub lr_width: Option<f64>,
    /// Its sample standard deviation over the tuning seeds (`None` with one).
    pub lr_width_std: Option<f64>,
    /// Whether the range reached the edge of the grid on some seed (the width is then a lower bound).
    pub lr_width_open: bool,
    /// Runs of this variant (any setting, any seed) that diverged.
    pub diverged_runs: usize,
}

/// The paired difference of two variants over the seeds both reported: a row of `pairs.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct PairRow {
    /// The first variant.
    pub a: String,
    /// The second.
    pub b: String,
    /// Final test error of a minus that of b, seed by seed.
    pub test: PairedDifference,
    /// The same for the final validation error.
    pub val: PairedDifference,
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
pub const SUMMARY_HEADER: &str = "optimizer,algorithm,best_lr,best_setting,best_at_edge,tuning_seeds,seeds,\
test_error_mean,test_error_std,val_error_mean,best_val_error,epochs_to_target,updates_to_target,seconds_to_target,\
lr_width_decades,lr_width_std,lr_width_open,diverged_runs";

/// The columns of `pairs.csv`.
pub const PAIRS_HEADER: &str = "optimizer_a,optimizer_b,metric,seeds,mean_difference,std_difference,ci95_low,\
ci95_high,p_value,significant";

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

fn sample_std(values: &[f64]) -> Option<f64> {
    (values.len() > 1).then(|| {
        let m = mean(values);
        (values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (values.len() - 1) as f64).sqrt()
    })
}

impl Results {
    /// The runs of `variant`.
    pub fn runs_of<'a>(&'a self, variant: &'a str) -> impl Iterator<Item = &'a RunResult> + 'a {
        self.runs.iter().filter(move |r| r.variant == variant)
    }

    /// The run of `variant` at `setting` with `seed`, if it finished.
    pub fn run_at(&self, variant: &str, setting: &Setting, seed: u64) -> Option<&RunResult> {
        self.runs.iter().find(|r| r.variant == variant && r.seed == seed && r.setting == *setting)
    }

    /// The settings of `variant` tried on the tuning seeds, in the order first run.
    pub fn settings_tried(&self, variant: &Variant) -> Vec<Setting> {
        let tuning = self.experiment.tuning_seeds();
        let mut settings: Vec<Setting> = Vec::new();
        for run in self.runs_of(&variant.name).filter(|r| tuning.contains(&r.seed)) {
            let setting = run.setting.clone();
            if !settings.contains(&setting) {
                settings.push(setting);
            }
        }
        settings
    }

    /// The rates tried for `variant` (at any setting), in increasing order.
    pub fn rates_tried(&self, variant: &Variant) -> Vec<f64> {
        let mut rates: Vec<f64> = self.settings_tried(variant).iter().map(|s| s.lr).collect();
        rates.sort_by(f64::total_cmp);
        rates.dedup();
        rates
    }

    /// The mean final validation error of `setting` over the tuning seeds (+∞ if one diverged);
    /// `None` until every tuning seed has run it.
    pub fn tuning_score(&self, variant: &Variant, setting: &Setting) -> Option<f64> {
        let scores: Option<Vec<f64>> = (self.experiment.tuning_seeds().iter())
            .map(|&seed| self.run_at(&variant.name, setting, seed).map(RunResult::tuning_score))
            .collect();
        scores.map(|scores| mean(&scores))
    }

    /// The setting chosen for `variant`: the lowest mean final validation error over the tuning
    /// seeds among the settings tried, ties to the smaller rate and then to the earlier setting.
    /// `None` until every setting of its space has run on every tuning seed.
    pub fn chosen(&self, variant: &Variant) -> Option<Setting> {
        if variant.settings().iter().any(|setting| self.tuning_score(variant, setting).is_none()) {
            return None;
        }
        let tried = self.settings_tried(variant);
        let scored: Vec<(usize, f64)> =
            (tried.iter().enumerate()).filter_map(|(i, s)| Some((i, self.tuning_score(variant, s)?))).collect();
        scored
            .into_iter()
            .min_by(|(i, a), (j, b)| a.total_cmp(b).then(tried[*i].lr.total_cmp(&tried[*j].lr)).then(i.cmp(j)))
            .map(|(i, _)| tried[i].clone())
    }

    /// The rate of the chosen setting.
    pub fn chosen_lr(&self, variant: &Variant) -> Option<f64> {
        self.chosen(variant).map(|setting| setting.lr)
    }

    /// The rates tried at the chosen setting's other values, in increasing order.
    fn rates_at(&self, variant: &Variant, like: &Setting) -> Vec<f64> {
        let mut rates: Vec<f64> =
            self.settings_tried(variant).iter().filter(|s| s.same_but_rate(like)).map(|s| s.lr).collect();
        rates.sort_by(f64::total_cmp);
        rates
    }

    /// The setting to try next for an extensible grid whose best rate lies at an edge (a decade
    /// beyond it, with the chosen setting's other values), or `None` when the best is inside,
    /// the grid is fixed, or a tuning run at the edge rate diverged.
    pub fn extension(&self, variant: &Variant) -> Option<Setting> {
        let best = self.chosen(variant)?;
        let tried = self.rates_at(variant, &best);
        let diverged = self.runs_of(&variant.name).any(|r| r.setting == best && r.diverged.is_some());
        if !variant.extend
            || tried.len() < 2
            || diverged
            || tried.len() >= variant.lrs.len() + super::experiment::MAX_EXTENSIONS
        {
            return None;
        }
        let round = |lr: f64| format!("{lr:.11e}").parse::<f64>().expect("a number");
        if best.lr == tried[tried.len() - 1] {
            Some(best.at(round(best.lr * 10.0)))
        } else if best.lr == tried[0] {
            Some(best.at(round(best.lr / 10.0)))
        } else {
            None
        }
    }

    /// The runs of `variant` at its chosen setting on the reported seeds, in seed order.
    pub fn final_runs(&self, variant: &Variant) -> Vec<&RunResult> {
        let Some(chosen) = self.chosen(variant) else { return Vec::new() };
        (self.experiment.reported_seeds().iter())
            .filter_map(|&seed| self.run_at(&variant.name, &chosen, seed))
            .collect()
    }

    /// Mean and spread over the reported seeds at the chosen setting of `pick`, epoch by epoch,
    /// up to the last epoch every seed reached.
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
                    mean: mean(&values),
                    low: values.iter().copied().fold(f64::INFINITY, f64::min),
                    high: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                }
            })
            .collect()
    }

    /// Final validation error against rate at the chosen setting's other values, on one tuning
    /// seed (`Some(seed)`) or averaged over them (`None`); +∞ where a run diverged.
    pub fn rate_curve(&self, variant: &Variant, seed: Option<u64>) -> Vec<(f64, f64)> {
        let Some(chosen) = self.chosen(variant) else { return Vec::new() };
        (self.rates_at(variant, &chosen).into_iter())
            .filter_map(|lr| {
                let setting = chosen.at(lr);
                let score = match seed {
                    Some(seed) => self.run_at(&variant.name, &setting, seed)?.tuning_score(),
                    None => self.tuning_score(variant, &setting)?,
                };
                Some((lr, score))
            })
            .collect()
    }

    /// Final validation error (mean over the tuning seeds) against rate for `variant`: `None`
    /// where a run diverged.
    pub fn sensitivity_curve(&self, variant: &Variant) -> Vec<(f64, Option<f64>)> {
        (self.rate_curve(variant, None).into_iter()).map(|(lr, e)| (lr, e.is_finite().then_some(e))).collect()
    }

    /// [`lr_width`] on each tuning seed's curve.
    pub fn lr_widths(&self, variant: &Variant) -> Vec<Width> {
        (self.experiment.tuning_seeds().into_iter())
            .filter_map(|seed| lr_width(&self.rate_curve(variant, Some(seed)), LR_TOLERANCE))
            .collect()
    }

    /// The summary row of every variant whose tuning has finished.
    pub fn summary(&self) -> Vec<SummaryRow> {
        let experiment = &self.experiment;
        experiment
            .variants
            .iter()
            .filter_map(|variant| {
                let chosen = self.chosen(variant)?;
                let runs = self.final_runs(variant);
                let finals: Vec<&EpochMetrics> = runs.iter().filter_map(|r| r.last()).collect();
                let tests: Vec<f64> = finals.iter().map(|m| m.test_error).collect();
                let best_val: Vec<f64> =
                    runs.iter().map(|r| r.epochs.iter().map(|m| m.val_error).fold(f64::INFINITY, f64::min)).collect();
                let test = self.band(variant, |m| m.test_error);
                let reached = test.iter().find(|b| b.mean <= experiment.target);
                let tried = self.rates_at(variant, &chosen);
                let widths = self.lr_widths(variant);
                let decades: Vec<f64> = widths.iter().map(|w| w.decades).collect();
                Some(SummaryRow {
                    variant: variant.name.clone(),
                    optimizer: variant.optimizer.clone(),
                    best_lr: chosen.lr,
                    best_setting: chosen.others().join(", "),
                    best_at_edge: tried.len() > 1 && (chosen.lr == tried[0] || chosen.lr == tried[tried.len() - 1]),
                    tuning_seeds: experiment.tuning_seeds().len(),
                    seeds: runs.len(),
                    test_error_mean: mean(&tests),
                    test_error_std: sample_std(&tests),
                    val_error_mean: mean(&finals.iter().map(|m| m.val_error).collect::<Vec<_>>()),
                    best_val_error: mean(&best_val),
                    epochs_to_target: reached.map(|b| b.epoch),
                    updates_to_target: reached
                        .and_then(|b| runs.iter().flat_map(|r| &r.epochs).find(|m| m.epoch == b.epoch).map(|m| m.step)),
                    seconds_to_target: reached.map(|b| b.seconds),
                    lr_width: (!decades.is_empty()).then(|| mean(&decades)),
                    lr_width_std: sample_std(&decades),
                    lr_width_open: widths.iter().any(|w| w.open),
                    diverged_runs: self.runs_of(&variant.name).filter(|r| r.diverged.is_some()).count(),
                })
            })
            .collect()
    }

    /// The paired differences of every two variants whose tuning has finished, over the
    /// reported seeds both ran (a seed is an initialization and a split; a run that diverged
    /// or finished no epoch leaves its seed out of its pairs).
    pub fn pairs(&self) -> Vec<PairRow> {
        let finished: Vec<(&Variant, Vec<&RunResult>)> = (self.experiment.variants.iter())
            .filter(|v| self.chosen(v).is_some())
            .map(|v| (v, self.final_runs(v)))
            .collect();
        let mut rows = Vec::new();
        for (i, (a, runs_a)) in finished.iter().enumerate() {
            for (b, runs_b) in &finished[i + 1..] {
                let mut values: [Vec<f64>; 4] = Default::default();
                for run_a in runs_a {
                    let Some(run_b) = runs_b.iter().find(|r| r.seed == run_a.seed) else { continue };
                    let (Some(x), Some(y)) = (run_a.last(), run_b.last()) else { continue };
                    if run_a.diverged.is_some() || run_b.diverged.is_some() {
                        continue;
                    }
                    for (list, value) in values.iter_mut().zip([x.test_error, y.test_error, x.val_error, y.val_error]) {
                        list.push(value);
                    }
                }
                let [test_a, test_b, val_a, val_b] = &values;
                if let (Some(test), Some(val)) = (stats::paired(test_a, test_b), stats::paired(val_a, val_b)) {
                    rows.push(PairRow { a: a.name.clone(), b: b.name.clone(), test, val });
                }
            }
        }
        rows
    }

    /// The paired difference of `a` and `b` (in either order, signed as a − b).
    pub fn pair(&self, a: &str, b: &str) -> Option<PairRow> {
        self.pairs().into_iter().find_map(|row| {
            if row.a == a && row.b == b {
                Some(row)
            } else if row.a == b && row.b == a {
                let flip = |d: PairedDifference| PairedDifference {
                    mean: -d.mean,
                    interval: d.interval.map(|(low, high)| (-high, -low)),
                    ..d
                };
                Some(PairRow { a: a.into(), b: b.into(), test: flip(row.test), val: flip(row.val) })
            } else {
                None
            }
        })
    }

    /// `summary.csv`: the header, then one row per variant ("not reached" where the target was not).
    pub fn summary_csv(&self) -> String {
        let mut csv = format!("{SUMMARY_HEADER}\n");
        let optional = |value: Option<f64>| value.map_or(String::new(), |v| format!("{v:?}"));
        for row in self.summary() {
            let reached = |value: Option<String>| value.unwrap_or_else(|| "not reached".into());
            csv.push_str(&format!(
                "{},{},{:?},{},{},{},{},{:?},{},{:?},{:?},{},{},{},{},{},{},{}\n",
                row.variant,
                row.optimizer,
                row.best_lr,
                row.best_setting.replace(", ", ";"),
                row.best_at_edge,
                row.tuning_seeds,
                row.seeds,
                row.test_error_mean,
                optional(row.test_error_std),
                row.val_error_mean,
                row.best_val_error,
                reached(row.epochs_to_target.map(|e| e.to_string())),
                reached(row.updates_to_target.map(|u| u.to_string())),
                reached(row.seconds_to_target.map(|s| format!("{s:.3}"))),
                optional(row.lr_width),
                optional(row.lr_width_std),
                row.lr_width_open,
                row.diverged_runs
            ));
        }
        csv
    }

    /// `pairs.csv`: the header, then two rows (test, then validation error) per pair of variants.
    pub fn pairs_csv(&self) -> String {
        let mut csv = format!("{PAIRS_HEADER}\n");
        let optional = |value: Option<f64>| value.map_or(String::new(), |v| format!("{v:?}"));
        for row in self.pairs() {
            for (metric, d) in [("test_error", row.test), ("val_error", row.val)] {
                csv.push_str(&format!(
                    "{},{},{metric},{},{:?},{},{},{},{},{}\n",
                    row.a,
                    row.b,
                    d.n,
                    d.mean,
                    optional(d.std),
                    optional(d.interval.map(|(low, _)| low)),
                    optional(d.interval.map(|(_, high)| high)),
                    optional(d.p_value),
                    d.significant()
                ));
            }
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
        if results.experiment.protocol > super::experiment::PROTOCOL {
            return Err(Error::run(
                &path,
                format!(
                    "was written with tuning protocol {}, newer than this descent's ({}); use a newer descent",
                    results.experiment.protocol,
                    super::experiment::PROTOCOL
                ),
            ));
        }
        Ok(results)
    }

    /// Writes `results.json`, `summary.csv` and `pairs.csv` into `dir`.
    pub fn save(&self, dir: &Path) -> Result<(), Error> {
        let json = serde_json::to_string(self).map_err(|e| Error::run(dir, e.to_string()))?;
        crate::checkpoint::write_atomically(&dir.join(super::RESULTS_FILE), json.as_bytes())?;
        crate::checkpoint::write_atomically(&dir.join(super::SUMMARY_CSV), self.summary_csv().as_bytes())?;
        crate::checkpoint::write_atomically(&dir.join(super::PAIRS_CSV), self.pairs_csv().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::experiment::ExperimentSpec;
    use crate::lab::experiment::{LrGrid, OneOrList, VariantSpec};

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
            grad_norm_median: None,
            clipped_fraction: None,
            averaged: None,
        }
    }

    fn run_of(variant: &str, setting: Setting, seed: u64, rows: &[(f64, f64)]) -> RunResult {
        RunResult {
            variant: variant.into(),
            setting,
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

    fn run(lr: f64, seed: u64, rows: &[(f64, f64)]) -> RunResult {
        run_of("sgd", Setting::rate(lr), seed, rows)
    }

    fn experiment(text_spec: ExperimentSpec) -> Experiment {
        text_spec.resolve(None).unwrap()
    }

    /// A hand-made results file: sgd over rates 0.01, 0.1, 1, tuned on seed 1 (the run at 1
    /// diverged) and reported on seeds 2, 3, 4. Test error favours 0.01, validation favours 0.1:
    /// the choice must follow validation. Seed 1's final test error at 0.1 (0.90) must not count.
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
            experiment: experiment(spec),
            description: String::new(),
            metric: "0-1 error".into(),
            runs: vec![
                run(0.01, 1, &[(0.40, 0.01), (0.30, 0.01)]),
                run(0.1, 1, &[(0.30, 0.30), (0.10, 0.90)]),
                diverged,
                run(0.1, 2, &[(0.20, 0.25), (0.12, 0.10)]),
                run(0.1, 3, &[(0.25, 0.05), (0.08, 0.30)]),
                run(0.1, 4, &[(0.15, 0.20), (0.10, 0.20)]),
            ],
        }
    }

    #[test]
    fn summary_numbers_match_a_hand_computation() {
        let results = hand_made();
        assert_eq!(results.experiment.tuning_seeds(), [1]);
        assert_eq!(results.experiment.reported_seeds(), [2, 3, 4]);
        let [row] = &results.summary()[..] else { panic!("one row") };
        assert_eq!(row.best_lr, 0.1);
        assert!(!row.best_at_edge);
        assert_eq!((row.tuning_seeds, row.seeds), (1, 3));
        // Final test errors of seeds 2, 3, 4: 0.10, 0.30, 0.20: mean 0.2, sample std 0.1 (seed
        // 1's 0.90 chose the rate and is not reported).
        assert!((row.test_error_mean - 0.2).abs() < 1e-12);
        assert!((row.test_error_std.unwrap() - 0.1).abs() < 1e-12);
        assert!((row.val_error_mean - 0.1).abs() < 1e-12);
        // Lowest validation error per seed: 0.12, 0.08, 0.10.
        assert!((row.best_val_error - 0.1).abs() < 1e-12);
        // Mean test error by epoch: (0.25 + 0.05 + 0.20)/3 = 0.167 at epoch 1, under the target 0.21.
        assert_eq!(row.epochs_to_target, Some(1));
        assert_eq!(row.updates_to_target, Some(10)); // 10 updates an epoch in these runs
        assert_eq!(row.seconds_to_target, Some(2.0));
        // Seed 1's curve: 0.30, 0.10, diverged; within 25% of 0.10 means ≤ 0.125. Towards 0.01
        // the line from (−1, 0.10) to (−2, 0.30) crosses 0.125 an eighth of a decade out; towards
        // 1 the next rate diverged, so the range ends at 0.1: 0.125 decades, closed.
        assert!((row.lr_width.unwrap() - 0.125).abs() < 1e-12, "{:?}", row.lr_width);
        assert_eq!((row.lr_width_std, row.lr_width_open), (None, false));
        assert_eq!(row.diverged_runs, 1);
        let csv = results.summary_csv();
        assert!(csv.starts_with(SUMMARY_HEADER));
        assert!(csv.lines().nth(1).unwrap().starts_with("sgd,sgd,0.1,,false,1,3,0.2"), "{csv}");
    }

    #[test]
    fn test_error_never_influences_the_choice() {
        // Validation prefers 0.1 (final 0.10 against 0.30 for 0.01). Whatever the test errors say,
        // and they are made to favour each rate in turn, the choice stays 0.1.
        for favoured in [0.01, 0.1, 1.0] {
            let mut results = hand_made();
            for run in &mut results.runs {
                let test_error = if run.setting.lr == favoured { 0.0 } else { 1.0 };
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
    fn several_tuning_seeds_are_averaged_and_never_reported() {
        let mut results = hand_made();
        results.experiment.tuning_seeds = 2;
        assert_eq!(results.experiment.reported_seeds(), [3, 4, 5]);
        let variant = results.experiment.variants[0].clone();
        // Seed 2 has run only 0.1: the choice waits for every rate on every tuning seed.
        assert_eq!(results.chosen(&variant), None);
        // On seed 2, 0.01 ends at 0.02 and 1 diverges: the means are 0.16 (0.01) against
        // 0.11 (0.1), so 0.1 stays chosen although seed 2 alone prefers 0.01.
        results.runs.push(run(0.01, 2, &[(0.05, 0.0), (0.02, 0.0)]));
        let mut diverged = run(1.0, 2, &[]);
        diverged.diverged = Some("non-finite".into());
        results.runs.push(diverged);
        assert!((results.tuning_score(&variant, &Setting::rate(0.01)).unwrap() - 0.16).abs() < 1e-12);
        assert_eq!(results.chosen_lr(&variant), Some(0.1));
        results.runs.push(run(0.1, 5, &[(0.2, 0.4), (0.2, 0.4)]));
        let seeds: Vec<u64> = results.final_runs(&variant).iter().map(|r| r.seed).collect();
        assert_eq!(seeds, [3, 4, 5]);
        // Final tests of seeds 3, 4, 5: 0.30, 0.20, 0.40.
        assert!((results.summary()[0].test_error_mean - 0.3).abs() < 1e-12);
        // With 0.01 ending at 0.2 on seed 1 and 0.0 on seed 2, its mean 0.10 beats 0.11: 0.01 wins.
        results.runs[0].epochs[1].val_error = 0.2;
        results
            .runs
            .iter_mut()
            .filter(|r| r.setting.lr == 0.01 && r.seed == 2)
            .for_each(|r| r.epochs[1].val_error = 0.0);
        assert_eq!(results.chosen_lr(&variant), Some(0.01));
    }

    #[test]
    fn a_variant_group_tunes_momentum_and_schedule_on_validation() {
        let spec = ExperimentSpec {
            variants: vec![VariantSpec {
                optimizer: "momentum".into(),
                lrs: Some(LrGrid::List(vec![0.01, 0.1])),
                momentum: Some(OneOrList::List(vec![0.5, 0.9])),
                schedule: Some(OneOrList::List(vec!["constant".into(), "cosine".into()])),
                ..VariantSpec::default()
            }],
            seeds: Some(1),
            ..ExperimentSpec::default()
        };
        let experiment = experiment(spec);
        let variant = experiment.variants[0].clone();
        let space = variant.settings();
        assert_eq!(space.len(), 8);
        // The validation error of each setting: the best is 0.1 with momentum 0.5 and cosine;
        // the test error favours another setting, which must not matter.
        let score = |s: &Setting| {
            let mut e = 0.2;
            e -= if s.lr == 0.1 { 0.05 } else { 0.0 };
            e -= if s.momentum == Some(0.5) { 0.02 } else { 0.0 };
            e -= if s.schedule.as_deref() == Some("cosine") { 0.01 } else { 0.0 };
            e
        };
        let runs = space
            .iter()
            .map(|s| {
                let test = if s.momentum == Some(0.9) { 0.0 } else { 0.5 };
                run_of(&variant.name, s.clone(), 1, &[(score(s), test)])
            })
            .collect();
        let mut results = Results { experiment, description: String::new(), metric: "0-1 error".into(), runs };
        let chosen = results.chosen(&variant).unwrap();
        assert_eq!((chosen.lr, chosen.momentum, chosen.schedule.as_deref()), (0.1, Some(0.5), Some("cosine")));
        assert_eq!(chosen.folder_name(2), "lr-0.1-momentum-0.5-schedule-cosine-seed-2");
        let config = results.experiment.train_config(&variant, &chosen, 2);
        assert_eq!((config.momentum, config.schedule.as_str(), config.seed), (Some(0.5), "cosine", 2));
        // The report: seed 2 at the chosen setting only.
        results.runs.push(run_of(&variant.name, chosen.clone(), 2, &[(0.1, 0.3)]));
        results.runs.push(run_of(&variant.name, chosen.at(0.01), 2, &[(0.0, 0.0)]));
        let [row] = &results.summary()[..] else { panic!("one row") };
        assert_eq!(
            (row.best_setting.as_str(), row.seeds, row.test_error_mean),
            ("momentum 0.5, schedule cosine", 1, 0.3)
        );
    }

    #[test]
    fn auto_grids_grow_past_an_edge_and_stop_at_a_divergence() {
        let mut results = hand_made();
        // The fixed list of the hand-made file never grows.
        assert_eq!(results.extension(&results.experiment.variants[0]), None);
        results.experiment.variants[0].extend = true;
        results.experiment.variants[0].lrs = vec![0.01, 0.1];
        results.runs.retain(|r| r.seed == 1 && r.setting.lr != 1.0);
        // Best at the top edge (0.1 beats 0.01): try a decade above.
        assert_eq!(results.extension(&results.experiment.variants[0]), Some(Setting::rate(1.0)));
        // Tried and diverged at 1: 0.1 is inside the tried rates now, so the grid stops growing.
        let mut diverged = run(1.0, 1, &[(0.9, 0.9)]);
        diverged.diverged = Some("non-finite loss".into());
        results.runs.push(diverged);
        assert_eq!(results.extension(&results.experiment.variants[0]), None);
        // Better at 1 and still at the edge: one more decade, then no more (two at most).
        results.runs.last_mut().unwrap().diverged = None;
        results.runs.last_mut().unwrap().epochs[0].val_error = 0.01;
        assert_eq!(results.extension(&results.experiment.variants[0]), Some(Setting::rate(10.0)));
        results.runs.push(run(10.0, 1, &[(0.001, 0.9)]));
        assert_eq!(results.chosen_lr(&results.experiment.variants[0]), Some(10.0));
        assert_eq!(results.extension(&results.experiment.variants[0]), None);
    }

    /// Two variants, one rate each, tuned on seed 1 and reported on seeds 2 to 5.
    fn two_variants(test_a: [f64; 4], test_b: [f64; 4]) -> Results {
        let spec = ExperimentSpec {
            optimizers: Some(vec!["sgd".into(), "adam".into()]),
            lrs: Some(LrGrid::List(vec![0.1])),
            seeds: Some(4),
            ..ExperimentSpec::default()
        };
        let mut runs = vec![run_of("sgd", Setting::rate(0.1), 1, &[(0.1, 0.1)])];
        runs.push(run_of("adam", Setting::rate(0.1), 1, &[(0.1, 0.1)]));
        for (index, seed) in (2..=5).enumerate() {
            runs.push(run_of("sgd", Setting::rate(0.1), seed, &[(test_a[index] / 2.0, test_a[index])]));
            runs.push(run_of("adam", Setting::rate(0.1), seed, &[(test_b[index] / 2.0, test_b[index])]));
        }
        Results { experiment: experiment(spec), description: String::new(), metric: "0-1 error".into(), runs }
    }

    #[test]
    fn paired_differences_match_a_hand_computation() {
        // Differences seed by seed: 0.01, 0.03, 0.02, 0.02 (sgd − adam). Mean 0.02; squares of
        // the deviations 1e-4 + 1e-4 + 0 + 0, s = √(2e-4/3) = 0.0081650; s/√4 = 0.0040825.
        // t_{0.975,3} = 3.182446 (NIST table: 3.182): interval 0.02 ± 0.012992, all above 0:
        // significant. t = 0.02/0.0040825 = 4.899 = 2√6; with ν = 3, p = 0.016265 (A&S 26.7.4
        // for odd ν: p = 1 − (2/π)(θ + sinθ cosθ), θ = atan(t/√3)).
        let results = two_variants([0.11, 0.23, 0.32, 0.42], [0.10, 0.20, 0.30, 0.40]);
        let [pair] = &results.pairs()[..] else { panic!("one pair") };
        assert_eq!((pair.a.as_str(), pair.b.as_str(), pair.test.n), ("sgd", "adam", 4));
        assert!((pair.test.mean - 0.02).abs() < 1e-12);
        assert!((pair.test.std.unwrap() - (2e-4f64 / 3.0).sqrt()).abs() < 1e-12);
        let half = 3.182_446_305_284_263 * (2e-4f64 / 3.0).sqrt() / 2.0;
        let (low, high) = pair.test.interval.unwrap();
        assert!((low - (0.02 - half)).abs() < 1e-9 && (high - (0.02 + half)).abs() < 1e-9, "{low} {high}");
        assert!(pair.test.significant());
        let theta = (2.0 * 6f64.sqrt() / 3f64.sqrt()).atan();
        let p = 1.0 - 2.0 / std::f64::consts::PI * (theta + theta.sin() * theta.cos());
        assert!((pair.test.p_value.unwrap() - p).abs() < 1e-9, "{:?} against {p}", pair.test.p_value);
        // Validation errors are half the test errors: half the difference.
        assert!((pair.val.mean - 0.01).abs() < 1e-12);
        // Asked the other way round, the signs flip.
        let flipped = results.pair("adam", "sgd").unwrap();
        assert!((flipped.test.interval.unwrap().0 + high).abs() < 1e-15);
        let csv = results.pairs_csv();
        assert!(csv.starts_with(PAIRS_HEADER));
        let fields: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
        assert_eq!((fields[..4].join(","), fields[9]), ("sgd,adam,test_error,4".into(), "true"), "{csv}");
        assert!((fields[6].parse::<f64>().unwrap() - low).abs() < 1e-15, "{csv}");

        // Differences 0.03, −0.01, 0.02, −0.02: mean 0.005, the interval holds 0.
        let results = two_variants([0.13, 0.19, 0.32, 0.38], [0.10, 0.20, 0.30, 0.40]);
        let pair = &results.pairs()[0];
        assert!((pair.test.mean - 0.005).abs() < 1e-12 && !pair.test.significant());
    }

    #[test]
    fn the_rate_width_does_not_depend_on_rates_far_away() {
        // Errors at rates 1e-4 … 1e-1: 0.50, 0.12, 0.10, 0.11 (tolerance 25%: ≤ 0.125). Down:
        // 0.12 is inside; from 0.12 to 0.50 the line crosses 0.125 at 0.005/0.38 of a decade.
        // Up: 0.11 inside and the grid ends: open. Width 1 + 1 + 0.005/0.38 decades.
        let curve = [(1e-4, 0.50), (1e-3, 0.12), (1e-2, 0.10), (1e-1, 0.11)];
        let width = lr_width(&curve, LR_TOLERANCE).unwrap();
        assert!((width.decades - (2.0 + 0.005 / 0.38)).abs() < 1e-12, "{width:?}");
        assert!(width.open);
        // Close the top with a rate that is bad (0.87 at 1): a decade on which the line from
        // 0.11 crosses 0.125 at 0.015/0.76 of it.
        let mut closed = curve.to_vec();
        closed.push((1.0, 0.87));
        let width = lr_width(&closed, LR_TOLERANCE).unwrap();
        let expected = 2.0 + 0.005 / 0.38 + 0.015 / 0.76;
        assert!((width.decades - expected).abs() < 1e-12 && !width.open, "{width:?}");
        // Now any rate beyond changes nothing: far above, far below, diverged or not.
        for (lr, error) in [(10.0, 0.9), (100.0, f64::INFINITY), (1e-7, 0.3), (1e-6, 0.9)] {
            let mut grown = closed.clone();
            grown.push((lr, error));
            grown.sort_by(|a, b| a.0.total_cmp(&b.0));
            assert_eq!(lr_width(&grown, LR_TOLERANCE).unwrap(), width, "adding {lr}");
        }
    }

    #[test]
    fn extending_one_grid_leaves_the_other_variants_alone() {
        // sgd nearly flat over 0.01 … 1 (width at least 2, open); adam good at 0.1 only. Adding
        // to sgd's grid a far rate at 87% error changes neither adam's row nor the order of widths.
        let mut results = two_variants([0.1; 4], [0.1; 4]);
        for (lr, val) in [(0.01, 0.11), (1.0, 0.11)] {
            results.runs.push(run_of("sgd", Setting::rate(lr), 1, &[(val, 0.1)]));
        }
        results.experiment.variants[0].lrs = vec![0.01, 0.1, 1.0];
        results.runs.push(run_of("adam", Setting::rate(0.01), 1, &[(0.5, 0.5)]));
        results.experiment.variants[1].lrs = vec![0.01, 0.1];
        let before = results.summary();
        assert!(before[0].lr_width.unwrap() > before[1].lr_width.unwrap());
        results.runs.push(run_of("sgd", Setting::rate(10.0), 1, &[(0.87, 0.87)]));
        let after = results.summary();
        assert_eq!(after[1], before[1]);
        assert!(after[0].lr_width.unwrap() >= before[0].lr_width.unwrap());
        assert!(after[0].lr_width.unwrap() > after[1].lr_width.unwrap());
    }

    #[test]
    fn results_survive_a_round_trip_through_json() {
        let results = hand_made();
        let dir = tempfile::tempdir().unwrap();
        results.save(dir.path()).unwrap();
        assert_eq!(Results::load(dir.path()).unwrap(), results);
        assert!(dir.path().join("pairs.csv").is_file());
    }

    #[test]
    fn a_results_file_of_the_older_protocol_still_loads() {
        // As the previous descent wrote it: no protocol, no tuning seeds; seed 1 chose the rate
        // and counts among the reported seeds 1 and 2.
        let text = r#"{"experiment":{"problem":"mnist-logreg","data":null,"convention":"book","seeds":2,
            "epochs":1,"batch":128,"val_size":2000,"target":0.1,"variants":[{"name":"sgd","optimizer":"sgd",
            "lrs":[0.1],"extend":false,"momentum":null,"rho":null,"beta1":null,"beta2":null,"eps":null,
            "weight_decay":null,"schedule":"constant"}]},"description":"d","metric":"0-1 error","runs":[
            {"variant":"sgd","lr":0.1,"seed":1,"diverged":null,"epochs":[{"epoch":1,"step":10,"lr":0.1,
            "seconds":1.0,"train_loss":1.0,"train_error":0.5,"val_loss":1.0,"val_error":0.2,"test_loss":1.0,
            "test_error":0.3}]},
            {"variant":"sgd","lr":0.1,"seed":2,"diverged":null,"epochs":[{"epoch":1,"step":10,"lr":0.1,
            "seconds":1.0,"train_loss":1.0,"train_error":0.5,"val_loss":1.0,"val_error":0.2,"test_loss":1.0,
            "test_error":0.1}]}]}"#;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("results.json"), text).unwrap();
        let results = Results::load(dir.path()).unwrap();
        assert_eq!(results.experiment.protocol, 1);
        assert_eq!(results.experiment.reported_seeds(), [1, 2]);
        let [row] = &results.summary()[..] else { panic!("one row") };
        assert!((row.test_error_mean - 0.2).abs() < 1e-12 && row.seeds == 2);
        // A file from a newer protocol is refused, naming it.
        std::fs::write(dir.path().join("results.json"), text.replace("\"seeds\":2", "\"protocol\":9,\"seeds\":2"))
            .unwrap();
        let message = Results::load(dir.path()).unwrap_err().to_string();
        assert!(message.contains("tuning protocol 9"), "{message}");
    }
}
