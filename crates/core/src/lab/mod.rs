//! The lab: optimizers side by side on one problem, tuned honestly (SPEC §6).
//!
//! The protocol, after DeepOBS and AlgoPerf ([`experiment::PROTOCOL`]):
//! 1. every setting of each variant's tuning space (its rates, and the momenta, schedules and
//!    clippings it tunes over) runs with the tuning seeds 1, …, T;
//! 2. the setting with the lowest final **validation** error averaged over those seeds is chosen
//!    (ties to the smaller rate; the test set never influences a choice);
//! 3. the chosen setting runs again with the seeds T + 1, …, T + S, and only those are reported
//!    (a mean, a spread, and paired differences between variants seed by seed): no reported
//!    number comes from a seed that took part in the choice.
//!
//! Runs go over a pool of workers, one thread each. Every run keeps its folder under
//! `runs/VARIANT/lr-LR[-momentum-M][-schedule-S][-clip-C]-seed-S/` (config, metrics, and
//! `result.json` once finished), so a comparison that is stopped continues where it was: finished
//! runs are read back, a run cut short resumes from its last epoch's checkpoint. Since a run is
//! named by its setting and seed alone, a report grows by more seeds, rates or tuned values
//! without running again what it has. It grows by epochs (or updates) as well: where the
//! experiment keeps checkpoints (`keep_checkpoints`), a finished run keeps its last one and
//! continues from it to the longer budget (else it runs again from the start), which gives the run a
//! longer experiment makes from scratch, since nothing before the last epoch depends on the
//! budget. Where something does, the run starts again and the lab says why: a schedule stretched
//! over the whole budget (`linear`, `cosine` without their own τ), or a budget of updates that
//! ended inside an epoch. Runs that diverged or stopped early end so under any budget and are read
//! back.

pub mod experiment;
pub mod lr_find;
pub mod profile;
pub mod results;
pub mod stats;
pub mod suite;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub use experiment::{Experiment, ExperimentSpec, LrGrid, OneOrList, Setting, Variant, VariantSpec};
pub use results::{choose_lr, lr_width, Band, PairRow, Results, RunResult, SummaryRow, Width};
pub use suite::{Suite, SuiteResults, SuiteSpec};

use crate::checkpoint::{write_atomically, CHECKPOINT_FILE};
use crate::collective::{Collective, SingleProcess};
use crate::config::TrainConfig;
use crate::data::Dataset;
use crate::train::{self, EpochMetrics, Event, Splits, Trainer};
use crate::trajectory::{self, RunSettings};
use crate::Error;

/// The resolved experiment in a report folder: its presence marks the folder as a report.
pub const EXPERIMENT_FILE: &str = "experiment.toml";
/// Every run, every epoch.
pub const RESULTS_FILE: &str = "results.json";
/// One row per variant.
pub const SUMMARY_CSV: &str = "summary.csv";
/// Paired differences: two rows per pair of variants.
pub const PAIRS_CSV: &str = "pairs.csv";
/// A finished run's result, inside its run folder.
pub const RUN_RESULT_FILE: &str = "result.json";

/// What the lab reports while it works (from its worker threads).
#[derive(Debug)]
pub enum LabEvent<'a> {
    /// The work ahead: runs and epochs in all (finished ones included).
    Planned {
        /// Runs in the comparison.
        runs: usize,
        /// Epochs over all runs.
        epochs: u64,
    },
    /// A run finished an epoch.
    Epoch {
        /// The run's variant.
        variant: &'a str,
        /// Its metrics.
        metrics: &'a EpochMetrics,
    },
    /// A run is done (or was found done on disk).
    Finished {
        /// Its result.
        result: &'a RunResult,
        /// True when it was read back from an earlier invocation.
        from_disk: bool,
        /// Epochs of its budget it did not run (it diverged), or that were already counted.
        epochs_skipped: u64,
    },
    /// A finished or interrupted run of a smaller budget cannot be continued to the grown one and
    /// runs again from the start.
    Rerun {
        /// The run's variant.
        variant: &'a str,
        /// Its setting.
        setting: &'a Setting,
        /// Its seed.
        seed: u64,
        /// Why it cannot be continued.
        reason: &'a str,
    },
    /// A variant's setting was chosen on validation error.
    Chosen {
        /// The variant.
        variant: &'a str,
        /// The setting.
        setting: &'a Setting,
    },
}

/// Checks that `out` may hold `experiment` (it is new, empty, or holds this same experiment or
/// one it grows from: fewer seeds, rates or tuned values, see [`Experiment::growth_difference`])
/// and writes `experiment.toml` into it. Nothing is overwritten otherwise.
pub fn prepare(experiment: &Experiment, out: &Path) -> Result<(), Error> {
    let marker = out.join(EXPERIMENT_FILE);
    if marker.is_file() {
        let text = crate::files::read_text(&marker, crate::files::TEXT_LIMIT, false)?;
        let saved: Experiment =
            toml::from_str(&text).map_err(|e| Error::run(&marker, format!("damaged: {}", e.message())))?;
        crate::problems::named(&saved.problem)
            .map_err(|e| Error::run(&marker, format!("names a problem this descent does not know ({e})")))?;
        if saved.protocol != experiment.protocol {
            return Err(Error::run(
                out,
                format!(
                    "holds a report made with tuning protocol {} (seed 1 chose the rate and was then counted \
                     among the reported seeds); this descent uses protocol {} (the reported seeds exclude the \
                     tuning seeds), so its runs cannot be reused: choose another folder (descent report still \
                     renders this one)",
                    saved.protocol, experiment.protocol
                ),
            ));
        }
        if let Some(difference) = saved.growth_difference(experiment) {
            return Err(Error::run(
                out,
                format!(
                    "holds another experiment ({difference}); a report grows only by seeds, rates, values \
                     tuned over and longer budgets: choose another folder, or repeat its other settings"
                ),
            ));
        }
        if saved == *experiment {
            return Ok(());
        }
        // A grown experiment: the folder's runs stay, the larger experiment is recorded.
        let text = toml::to_string(experiment).map_err(|e| Error::run(&marker, e.to_string()))?;
        return write_atomically(&marker, text.as_bytes());
    }
    let occupied = !crate::files::is_free_folder(out);
    if occupied {
        return Err(Error::run(out, format!("exists and is not a descent report (it has no {EXPERIMENT_FILE})")));
    }
    std::fs::create_dir_all(out).map_err(|e| Error::run(out, format!("cannot create: {e}")))?;
    let text = toml::to_string(experiment).map_err(|e| Error::run(&marker, e.to_string()))?;
    write_atomically(&marker, text.as_bytes())
}

/// One planned run.
#[derive(Debug, Clone, PartialEq)]
struct RunSpec {
    variant: usize,
    setting: Setting,
    seed: u64,
}

/// The folder of one run inside the report folder.
pub fn run_folder(out: &Path, variant: &str, setting: &Setting, seed: u64) -> PathBuf {
    out.join("runs").join(variant).join(setting.folder_name(seed))
}

/// Runs the comparison into `out` (see [`prepare`]) on `jobs` workers, until done or until
/// `stop` is set; writes `results.json` and `summary.csv` and returns the results.
pub fn run(
    experiment: &Experiment,
    out: &Path,
    jobs: usize,
    stop: &Arc<AtomicBool>,
    observe: &(dyn Fn(LabEvent<'_>) + Sync),
) -> Result<Results, Error> {
    run_shared(experiment, out, jobs, stop, observe, &SingleProcess)
}

/// [`run`] as one rank of a job: the runs of each phase are dealt to the ranks in turn (run i to
/// rank i mod N), each rank running its share on its own `jobs` workers in the shared report
/// folder, and every rank then has every result (gathered), so that all make the same choices.
/// Rank 0 alone writes `experiment.toml`, `results.json` and `summary.csv`. A failure or an
/// interruption on any rank ends every rank with it.
pub fn run_shared(
    experiment: &Experiment,
    out: &Path,
    jobs: usize,
    stop: &Arc<AtomicBool>,
    observe: &(dyn Fn(LabEvent<'_>) + Sync),
    collective: &dyn Collective,
) -> Result<Results, Error> {
    let root = collective.is_root();
    agree(collective, if root { prepare(experiment, out) } else { Ok(()) })?;
    // One job writes a report folder at a time.
    let lock = if root { crate::files::FolderLock::acquire(out).map(Some) } else { Ok(None) };
    let _lock = agree(collective, lock)?;
    let problem = experiment.problem();
    let data = if problem.is_classifier() {
        let first = &experiment.variants[0];
        Some(Splits::sources(&experiment.train_config(first, &first.settings()[0], 1))?)
    } else {
        None
    };
    let epochs_of = |specs: &[RunSpec]| -> u64 {
        specs.iter().map(|spec| experiment.epochs_of(&experiment.variants[spec.variant]) as u64).sum()
    };
    let tuning = experiment.tuning_seeds();
    let reported: Vec<u64> = experiment.reported_seeds().into_iter().filter(|seed| !tuning.contains(seed)).collect();
    let each_tuning_seed = |variant: usize, setting: Setting| {
        tuning.iter().map(move |&seed| RunSpec { variant, setting: setting.clone(), seed })
    };
    // Tuning: every setting with every tuning seed, growing auto grids whose best rate lies at an edge.
    let mut pending: Vec<RunSpec> = (experiment.variants.iter().enumerate())
        .flat_map(|(variant, v)| v.settings().into_iter().flat_map(move |setting| each_tuning_seed(variant, setting)))
        .collect();
    let final_epochs: u64 = experiment.variants.iter().map(|v| experiment.epochs_of(v) as u64).sum();
    let (mut runs, mut epochs) = (
        pending.len() + experiment.variants.len() * reported.len(),
        epochs_of(&pending) + final_epochs * reported.len() as u64,
    );
    observe(LabEvent::Planned { runs, epochs });
    let lab = Lab { experiment, out, data: data.as_ref(), stop, observe, collective };

    let mut results = Results {
        experiment: experiment.clone(),
        description: problem.description.into(),
        metric: problem.metric.into(),
        runs: Vec::new(),
    };
    while !pending.is_empty() {
        results.runs.extend(lab.pool(jobs, &pending)?);
        pending = (experiment.variants.iter().enumerate())
            .filter_map(|(variant, v)| results.extension(v).map(|setting| (variant, setting)))
            .flat_map(|(variant, setting)| each_tuning_seed(variant, setting))
            .collect();
        if !pending.is_empty() {
            (runs, epochs) = (runs + pending.len(), epochs + epochs_of(&pending));
            observe(LabEvent::Planned { runs, epochs });
        }
    }
    let mut finals = Vec::new();
    for (index, variant) in experiment.variants.iter().enumerate() {
        let setting = results.chosen(variant).expect("every setting of the space has run");
        observe(LabEvent::Chosen { variant: &variant.name, setting: &setting });
        finals.extend(reported.iter().map(|&seed| RunSpec { variant: index, setting: setting.clone(), seed }));
    }
    results.runs.extend(lab.pool(jobs, &finals)?);
    agree(collective, if root { results.save(out) } else { Ok(()) })?;
    Ok(results)
}

/// `result` of one rank made every rank's: the first rank's error (in rank order) becomes
/// every rank's, so that no rank goes on to wait for one that stopped.
pub(crate) fn agree<T>(collective: &dyn Collective, result: Result<T, Error>) -> Result<T, Error> {
    if collective.size() == 1 {
        return result;
    }
    let message = match &result {
        Ok(_) => String::new(),
        Err(Error::Interrupted { .. }) => INTERRUPTED.to_string(),
        Err(error) => error.to_string(),
    };
    let all = collective.all_gather_bytes(message.as_bytes());
    match (result, all.iter().position(|m| !m.is_empty())) {
        (Err(error), Some(first)) if first == collective.rank() => Err(error),
        (_, Some(first)) if all[first] == INTERRUPTED.as_bytes() => Err(Error::Interrupted { step: 0, epoch: 0 }),
        (_, Some(first)) => Err(Error::Run {
            path: format!("rank {first}"),
            message: String::from_utf8_lossy(&all[first]).into_owned(),
        }),
        (result, None) => result,
    }
}

/// What a run folder holds already (see `Lab::earlier_work`).
enum Earlier {
    /// A finished run for this budget: read back.
    Done(RunResult),
    /// Nothing, or work that continues (from its checkpoint, if it has one).
    Continue,
    /// A run of a smaller budget that cannot be continued, and why.
    Rerun(String),
}

/// Whether the run ended on its budget of updates (rather than of epochs).
fn ended_by_updates(config: &TrainConfig, last: &EpochMetrics) -> bool {
    config.steps.is_some_and(|steps| last.step >= steps)
}

/// Whether the schedule of `config` depends on the run's length (a decay whose τ or period is
/// the whole run): then a run continued to a longer budget would not be the longer run.
fn schedule_spans_the_budget(config: &TrainConfig) -> bool {
    let (short, long) = (config.schedule(1 << 20), config.schedule(1 << 21));
    !matches!((short, long), (Ok(a), Ok(b)) if a == b)
}

/// What a rank says in [`agree`] when it was interrupted.
const INTERRUPTED: &str = "interrupted";

/// What every worker shares.
struct Lab<'a> {
    experiment: &'a Experiment,
    out: &'a Path,
    data: Option<&'a (Dataset, Dataset)>,
    stop: &'a Arc<AtomicBool>,
    observe: &'a (dyn Fn(LabEvent<'_>) + Sync),
    collective: &'a dyn Collective,
}

impl Lab<'_> {
    /// Runs `specs` over the ranks of the job and `jobs` workers of each; returns their results
    /// in the order of `specs`.
    fn pool(&self, jobs: usize, specs: &[RunSpec]) -> Result<Vec<RunResult>, Error> {
        let (rank, ranks) = (self.collective.rank(), self.collective.size());
        if ranks == 1 {
            return self.local_pool(jobs, specs);
        }
        // This rank's share, run here; then every rank's results, in the order of `specs`.
        let mine: Vec<RunSpec> = specs.iter().skip(rank).step_by(ranks).cloned().collect();
        let local = self
            .local_pool(jobs, &mine)
            .and_then(|results| serde_json::to_vec(&results).map_err(|e| Error::run(self.out, e.to_string())));
        let bytes = agree(self.collective, local)?;
        let shares: Vec<Vec<RunResult>> = self
            .collective
            .all_gather_bytes(&bytes)
            .iter()
            .map(|share| {
                serde_json::from_slice(share).map_err(|e| Error::run(self.out, format!("a rank's results: {e}")))
            })
            .collect::<Result<_, _>>()?;
        let mut shares: Vec<std::vec::IntoIter<RunResult>> = shares.into_iter().map(Vec::into_iter).collect();
        Ok((0..specs.len()).filter_map(|index| shares[index % ranks].next()).collect())
    }

    /// Runs `specs` over `jobs` workers of this process, each taking the next spec not yet
    /// taken; returns their results in the order of `specs`. The first failure stops every worker.
    fn local_pool(&self, jobs: usize, specs: &[RunSpec]) -> Result<Vec<RunResult>, Error> {
        let next = AtomicUsize::new(0);
        let slots: Vec<Mutex<Option<Result<RunResult, Error>>>> = specs.iter().map(|_| Mutex::new(None)).collect();
        let failed = AtomicBool::new(false);
        std::thread::scope(|scope| {
            for _ in 0..jobs.clamp(1, specs.len().max(1)) {
                scope.spawn(|| loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= specs.len() || self.stop.load(Ordering::Relaxed) || failed.load(Ordering::Relaxed) {
                        break;
                    }
                    let result = self.run_one(&specs[index]);
                    if result.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    *slots[index].lock().expect("no worker panics holding it") = Some(result);
                });
            }
        });
        let mut results = Vec::with_capacity(specs.len());
        let mut interrupted = None;
        for slot in slots {
            match slot.into_inner().expect("no worker panics holding it") {
                Some(Ok(result)) => results.push(result),
                Some(Err(error @ Error::Interrupted { .. })) => interrupted = Some(error),
                Some(Err(error)) => return Err(error),
                None => interrupted = interrupted.or(Some(Error::Interrupted { step: 0, epoch: 0 })),
            }
        }
        match interrupted {
            Some(error) => Err(error),
            None => Ok(results),
        }
    }

    /// One run: read back if finished, continued if cut short or if its budget grew, else run
    /// from the start.
    fn run_one(&self, spec: &RunSpec) -> Result<RunResult, Error> {
        let variant = &self.experiment.variants[spec.variant];
        let dir = run_folder(self.out, &variant.name, &spec.setting, spec.seed);
        let file = dir.join(RUN_RESULT_FILE);
        let budget = self.experiment.epochs_of(variant) as u64;
        let earlier = if file.is_file() {
            let text = crate::files::read_text(&file, crate::files::TEXT_LIMIT, false)?;
            let result: RunResult =
                serde_json::from_str(&text).map_err(|e| Error::run(&file, format!("damaged: {e}")))?;
            Some(result)
        } else {
            None
        };
        let config = self.experiment.train_config(variant, &spec.setting, spec.seed);
        match self.earlier_work(&dir, &config, earlier)? {
            Earlier::Done(result) => {
                (self.observe)(LabEvent::Finished { result: &result, from_disk: true, epochs_skipped: budget });
                return Ok(result);
            }
            Earlier::Continue => {}
            Earlier::Rerun(reason) => {
                let (variant, setting, seed) = (&variant.name, &spec.setting, spec.seed);
                (self.observe)(LabEvent::Rerun { variant, setting, seed, reason: &reason });
                for stale in [CHECKPOINT_FILE, RUN_RESULT_FILE] {
                    match std::fs::remove_file(dir.join(stale)) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                            return Err(Error::run(dir.join(stale), format!("cannot remove: {e}")))
                        }
                        _ => {}
                    }
                }
            }
        }
        std::fs::create_dir_all(&dir).map_err(|e| Error::run(&dir, format!("cannot create: {e}")))?;
        let (result, resumed_epochs) = match self.data {
            Some(data) => self.train(variant, spec, &dir, data)?,
            None => (self.minimize(variant, spec)?, 0),
        };
        let json = serde_json::to_string(&result).map_err(|e| Error::run(&file, e.to_string()))?;
        write_atomically(&file, json.as_bytes())?;
        // A finished run keeps its checkpoint only where asked to and a longer budget could
        // continue it.
        let stopped_early =
            result.last().is_none_or(|last| last.epoch < config.epochs && !ended_by_updates(&config, last));
        if !self.experiment.keep_checkpoints
            || result.diverged.is_some()
            || stopped_early
            || schedule_spans_the_budget(&config)
        {
            let _ = std::fs::remove_file(dir.join(CHECKPOINT_FILE));
        }
        let epochs_skipped = budget - result.epochs.len() as u64 + resumed_epochs;
        (self.observe)(LabEvent::Finished { result: &result, from_disk: false, epochs_skipped });
        Ok(result)
    }

    /// What the run folder `dir` already holds for a run of `config` (whose `result.json`, if
    /// any, is `result`): a result to read back, work to continue, or a run of a smaller budget
    /// that must start again, and why.
    fn earlier_work(&self, dir: &Path, config: &TrainConfig, result: Option<RunResult>) -> Result<Earlier, Error> {
        let Some(data) = self.data else {
            // A 2-D path: its "epochs" are its updates.
            return Ok(match result {
                Some(r) if r.diverged.is_some() || r.epochs.len() as u64 == config.epochs as u64 => Earlier::Done(r),
                Some(_) => Earlier::Rerun("a 2-D path is computed again from its start (milliseconds)".into()),
                None => Earlier::Continue,
            });
        };
        let config_file = dir.join(train::CONFIG_FILE);
        if !config_file.is_file() {
            return Ok(result.map_or(Earlier::Continue, Earlier::Done));
        }
        let text = crate::files::read_text(&config_file, crate::files::TEXT_LIMIT, false)?;
        let before: TrainConfig =
            toml::from_str(&text).map_err(|e| Error::run(&config_file, format!("damaged: {}", e.message())))?;
        let same_budget = (before.epochs, before.steps) == (config.epochs, config.steps);
        let last = result.as_ref().and_then(RunResult::last).cloned();
        if let Some(result) = result {
            let reached = last.as_ref().is_some_and(|l| l.epoch >= before.epochs || ended_by_updates(&before, l));
            // Divergence and early stopping end a run the same way under any longer budget.
            if same_budget || result.diverged.is_some() || !reached {
                return Ok(Earlier::Done(result));
            }
        } else if same_budget {
            return Ok(Earlier::Continue);
        }
        // The budget grew since this run was made.
        if schedule_spans_the_budget(config) {
            return Ok(Earlier::Rerun(format!(
                "its schedule '{}' is stretched over the whole budget, so a longer one changes its rates from \
                 the first update",
                config.schedule
            )));
        }
        let per_epoch = data.0.len().saturating_sub(config.val_size).div_ceil(config.batch.max(1)) as u64;
        if let Some(last) = last.as_ref().filter(|last| last.step < last.epoch as u64 * per_epoch) {
            return Ok(Earlier::Rerun(format!(
                "its budget of {} updates ended inside epoch {}, which was evaluated as its last",
                last.step, last.epoch
            )));
        }
        if last.is_some() && !dir.join(CHECKPOINT_FILE).is_file() {
            return Ok(Earlier::Rerun(
                "it has no checkpoint to continue from (deleted, or made by an older descent)".into(),
            ));
        }
        Ok(Earlier::Continue)
    }

    /// Trains a classifier run; returns its result and the epochs it had done before (resumed).
    fn train(
        &self,
        variant: &Variant,
        spec: &RunSpec,
        dir: &Path,
        (train, test): &(Dataset, Dataset),
    ) -> Result<(RunResult, u64), Error> {
        let config = self.experiment.train_config(variant, &spec.setting, spec.seed);
        let splits = Splits::from_sets(&config, train.clone(), test.clone())?;
        let trainer = if train::holds_a_run(dir) && dir.join(CHECKPOINT_FILE).is_file() {
            Trainer::resume_with(dir, config, splits)?
        } else {
            Trainer::new(config, splits)?
        };
        let mut trainer = trainer.stop_when(Arc::clone(self.stop));
        let resumed = trainer.metrics().len() as u64;
        let observe = self.observe;
        let name = variant.name.as_str();
        let outcome = trainer.run(Some(dir), &mut |event| {
            if let Event::EpochEnd(metrics) = event {
                observe(LabEvent::Epoch { variant: name, metrics });
            }
        });
        let diverged = match outcome {
            Ok(_) => None,
            Err(error @ Error::NonFinite { .. }) => Some(error.to_string()),
            Err(error) => return Err(error),
        };
        let result = RunResult {
            variant: variant.name.clone(),
            setting: spec.setting.clone(),
            seed: spec.seed,
            diverged,
            epochs: trainer.metrics().to_vec(),
            path: Vec::new(),
        };
        Ok((result, resumed))
    }

    /// Runs a 2-D function problem: every update is an "epoch" whose losses are f and whose errors
    /// are the problem's metric (f − f*, or f where there is no minimum). The path's time is
    /// spread evenly over its updates (each costs the same).
    fn minimize(&self, variant: &Variant, spec: &RunSpec) -> Result<RunResult, Error> {
        let problem = self.experiment.problem();
        let function = problem.function().expect("a 2-D problem has its function");
        let config = self.experiment.train_config(variant, &spec.setting, spec.seed);
        let steps = self.experiment.epochs_of(variant) as u64;
        let settings = RunSettings {
            start: function.default_start(),
            steps,
            schedule: config.schedule(steps)?,
            clip: config.clip,
        };
        let started = Instant::now();
        let path = trajectory::run(&function, &config.optimizer_config()?, &settings)?;
        let seconds = started.elapsed().as_secs_f64();
        let floor = function.minimum_value().unwrap_or(0.0);
        let finite: Vec<_> =
            path.points.iter().take_while(|p| p.x.is_finite() && p.y.is_finite() && p.f.is_finite()).collect();
        let epochs = finite
            .iter()
            .skip(1)
            .map(|point| {
                let gap = point.f - floor;
                EpochMetrics {
                    epoch: point.step as u32,
                    step: point.step,
                    lr: settings.schedule.lr(point.step - 1),
                    seconds: seconds * point.step as f64 / steps as f64,
                    train_loss: point.f,
                    train_error: gap,
                    val_loss: point.f,
                    val_error: gap,
                    test_loss: point.f,
                    test_error: gap,
                    grad_norm_median: None,
                    clipped_fraction: None,
                    averaged: None,
                }
            })
            .collect();
        Ok(RunResult {
            variant: variant.name.clone(),
            setting: spec.setting.clone(),
            seed: spec.seed,
            diverged: path.diverged_at.map(|step| format!("non-finite value at step {step}")),
            epochs,
            path: finite.iter().map(|p| [p.x, p.y]).collect(),
        })
    }
}
