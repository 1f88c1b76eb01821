//! `descent sweep-batch`: the minibatch size as an experiment (SPEC §1). Each size m is a variant
//! of the lab with its own rate tuned on validation (a grid, the tuning seeds, the reported seeds
//! after them, exactly as `descent compare` does), under one budget for all: a number of epochs, or
//! a number of updates so that large batches are not starved of steps. A rate that diverges is a
//! result of the sweep (an infinite validation score), never an abort. Beside the lab's report
//! files it writes, per size, the best rate against the linear and square-root scaling rules
//! anchored at the smallest size (`sweep.csv`, `rates.svg`), the validation error of every rate
//! tried (`rates.csv`), and the trainer's throughput and activation memory (`sweep.svg`).

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use descent::lab::{self, ExperimentSpec, OneOrList, Results, Variant, VariantSpec};
use descent::train::{Splits, Trainer};

use super::bench::median;
use super::compare::{lab_outcome, parse_lrs, LabProgress};
use crate::flags::{positive, OptimizerFlags};
use crate::plot::{self, Figure, PALETTE};
use crate::{bad_input, table};

#[derive(Debug, Args)]
pub struct SweepArgs {
    #[arg(long, default_value = "mnist-mlp", help = crate::flags::trainable_problem_help())]
    problem: String,
    /// Batch sizes, comma-separated.
    #[arg(long, value_name = "LIST", default_value = "16,32,64,128,256,512,1024")]
    sizes: String,
    #[command(flatten)]
    optimizer: OptimizerFlags,
    /// Learning-rate grid of every size: auto (a decade either side of the optimizer's default,
    /// grown by a decade where the best rate lies at an edge) or a list, e.g. 0.3,0.1,0.03.
    #[arg(long, value_name = "auto|LIST", default_value = "auto", allow_hyphen_values = true)]
    lrs: String,
    /// The budget of every size: epochs:N, or updates:N (each size takes N updates, the last
    /// epoch cut short where N is not a whole number of epochs).
    #[arg(long, value_name = "epochs:N|updates:N", default_value = "epochs:2")]
    budget: String,
    /// Seeds the chosen rate is reported over, after the tuning seeds.
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    seeds: i64,
    /// Seeds every rate is tuned over, 1 to N (the choice is on their mean validation error).
    #[arg(long, value_name = "N", default_value_t = 1, allow_negative_numbers = true)]
    tuning_seeds: i64,
    /// Folder with the four MNIST IDX files (default: the bundled subset).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Training examples held out for validation (default: the problem's).
    #[arg(long, allow_negative_numbers = true)]
    val_size: Option<i64>,
    /// Runs at a time, one thread each (default: one per core).
    #[arg(long, allow_negative_numbers = true)]
    jobs: Option<i64>,
    /// Keep each finished run's last checkpoint (megabytes per run), so that running again with
    /// more epochs continues every run instead of starting it again.
    #[arg(long)]
    keep_checkpoints: bool,
    /// Threads of the throughput timing (default: one per core).
    #[arg(long, allow_negative_numbers = true)]
    threads: Option<i64>,
    /// Examples in each of the three timings of a size's throughput (at least 4 updates each).
    #[arg(long, value_name = "N", default_value_t = 4096, allow_negative_numbers = true)]
    timing_examples: i64,
    /// Output folder (default: runs/sweep-batch-PROBLEM). Running again with the same folder
    /// continues the sweep, or grows it by sizes' seeds, rates or a longer budget.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// What every size trains for.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Budget {
    Epochs(u32),
    Updates(u64),
}

/// One size's outcome.
struct Row {
    batch: usize,
    updates_per_epoch: u64,
    epochs: u32,
    updates: u64,
    /// The rate chosen on the tuning seeds' mean validation error.
    best_lr: f64,
    /// That mean (+∞ where every rate diverged).
    tuning_val_error: f64,
    /// Means over the reported seeds at the chosen rate.
    val_error: f64,
    test_error: f64,
    /// Rates of the grid at which a tuning seed diverged.
    diverged_rates: usize,
    examples_per_second: f64,
    activation_mib: f64,
}

pub fn run(args: SweepArgs) -> Result<()> {
    let sizes = parse_sizes(&args.sizes)?;
    let budget = parse_budget(&args.budget)?;
    if args.optimizer.lr.is_some() {
        return Err(bad_input("--lr: sweep-batch tunes the rate of every size; give the grid with --lrs"));
    }
    if args.lrs.trim() == "find" {
        return Err(bad_input("--lrs find: sweep-batch takes auto or a list of rates"));
    }
    let optimizers = args.optimizer.configs("sgd", |c| c.lr)?;
    let [optimizer] = &optimizers[..] else {
        return Err(bad_input("--optimizer: sweep-batch takes one optimizer"));
    };
    let mut base = crate::flags::problem_config(&args.problem)?;
    base.clip = args.optimizer.clip()?;
    args.optimizer.schedule(optimizer.lr, 100)?;
    if let Some(dir) = &args.data {
        if !dir.is_dir() {
            return Err(bad_input(format!("--data {}: no such folder (of MNIST IDX files)", dir.display())));
        }
    }
    base.data = args.data.clone();
    if let Some(val_size) = args.val_size {
        base.val_size = positive("--val-size", val_size)? as usize;
    }
    let (train_set, test_set) = Splits::sources(&base).map_err(crate::core_error)?;
    let training = train_set.len().checked_sub(base.val_size).filter(|&n| n > 0).ok_or_else(|| {
        bad_input(format!("--val-size {}: must leave training examples of the {}", base.val_size, train_set.len()))
    })?;
    if let Some(&m) = sizes.iter().find(|&&m| m > training) {
        return Err(bad_input(format!(
            "--sizes {}: {m} is more than the {training} training examples ({} less {} held out for validation)",
            args.sizes,
            train_set.len(),
            base.val_size
        )));
    }
    let variant = |batch: usize| VariantSpec {
        name: Some(format!("m-{batch}")),
        optimizer: optimizer.name.to_string(),
        momentum: args.optimizer.momentum.map(OneOrList::One),
        rho: args.optimizer.rho,
        beta1: args.optimizer.beta1,
        beta2: args.optimizer.beta2,
        eps: args.optimizer.eps,
        eps_root: args.optimizer.eps_root,
        dampening: args.optimizer.dampening,
        lr_decay: args.optimizer.lr_decay,
        initial_accumulator: args.optimizer.initial_accumulator,
        momentum_decay: args.optimizer.momentum_decay,
        centered: args.optimizer.centered.then_some(true),
        decoupled_weight_decay: args.optimizer.decoupled_weight_decay.then_some(true),
        maximize: args.optimizer.maximize,
        weight_decay: args.optimizer.weight_decay,
        clip: args.optimizer.clip.clone().map(OneOrList::One),
        schedule: Some(OneOrList::One(args.optimizer.schedule.clone())),
        batch: Some(batch),
        ..VariantSpec::default()
    };
    let spec = ExperimentSpec {
        problem: Some(args.problem.clone()),
        data: args.data.clone(),
        optimizers: Some(Vec::new()),
        variants: sizes.iter().map(|&m| variant(m)).collect(),
        lrs: Some(parse_lrs(&args.lrs)?),
        seeds: Some(positive("--seeds", args.seeds)? as u32),
        tuning_seeds: Some(positive("--tuning-seeds", args.tuning_seeds)? as u32),
        epochs: Some(match budget {
            Budget::Epochs(epochs) => epochs,
            Budget::Updates(_) => 1,
        }),
        val_size: Some(base.val_size),
        convention: Some(args.optimizer.convention.clone()),
        keep_checkpoints: Some(args.keep_checkpoints),
        ..ExperimentSpec::default()
    };
    let mut experiment = spec.resolve(None).map_err(crate::core_error)?;
    // A budget of updates: each size runs the epochs that hold them, the last one cut short.
    let updates_per_epoch = |batch: usize| training.div_ceil(batch) as u64;
    if let Budget::Updates(updates) = budget {
        for variant in &mut experiment.variants {
            let per_epoch = updates_per_epoch(variant.batch.unwrap_or(experiment.batch));
            let epochs = u32::try_from(updates.div_ceil(per_epoch))
                .map_err(|_| bad_input(format!("--budget updates:{updates}: too many updates")))?;
            (variant.epochs, variant.updates) = ((epochs != experiment.epochs).then_some(epochs), Some(updates));
        }
    }
    let jobs = match args.jobs {
        Some(jobs) => crate::flags::threads("--jobs", jobs)?,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let timing_examples = positive("--timing-examples", args.timing_examples)? as usize;
    let timing_threads = match args.threads {
        Some(threads) => crate::flags::threads("--threads", threads)?,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("runs").join(format!("sweep-batch-{}", args.problem)));
    if !descent::files::is_free_folder(&out) && !out.join(lab::EXPERIMENT_FILE).is_file() {
        return Err(bad_input(format!(
            "--out {}: holds files that are not a sweep of descent's; choose a new or empty folder",
            out.display()
        )));
    }
    lab::prepare(&experiment, &out).map_err(crate::core_error)?;
    println!(
        "{}: {} at batch sizes {}, {} per size, rates {} tuned on {}, reported on {} more seed{}; {} runs \
         planned on {jobs} worker{}; folder {}",
        args.problem,
        optimizer.name,
        args.sizes,
        match budget {
            Budget::Epochs(n) => format!("{n} epoch{}", if n == 1 { "" } else { "s" }),
            Budget::Updates(n) => format!("{n} updates"),
        },
        args.lrs,
        match experiment.tuning_seeds {
            1 => "seed 1".to_string(),
            n => format!("seeds 1-{n}"),
        },
        experiment.seeds,
        if experiment.seeds == 1 { "" } else { "s" },
        experiment.planned_runs(),
        if jobs == 1 { "" } else { "s" },
        out.display()
    );
    let stop = crate::stop_on_ctrl_c("stopping: finishing nothing new");
    let percent = experiment.problem().metric.starts_with("0-1 error");
    let progress = LabProgress::new(experiment.problem());
    let outcome = lab::run(&experiment, &out, jobs, &stop, &|event| progress.show(event));
    progress.bar.finish_and_clear();
    let results = lab_outcome(outcome, &out)?;

    let mut rows = Vec::new();
    for (variant, &batch) in experiment.variants.iter().zip(&sizes) {
        let setting = results.chosen(variant).expect("a finished sweep chose a rate for every size");
        let config = experiment.train_config(variant, &setting, 1);
        let timing = (timing_threads, timing_examples);
        let (examples_per_second, activation_mib) = throughput(&experiment, variant, &results, timing, || {
            Splits::from_sets(&config, train_set.clone(), test_set.clone())
        });
        // Means over the reported seeds that did not diverge (NaN, shown as diverged, where all did).
        let finals: Vec<_> =
            results.final_runs(variant).into_iter().filter(|r| r.diverged.is_none()).filter_map(|r| r.last()).collect();
        let mean = |pick: fn(&descent::train::EpochMetrics) -> f64| {
            finals.iter().map(|m| pick(m)).sum::<f64>() / finals.len() as f64
        };
        let diverged_rates = (results.rates_tried(variant).iter())
            .filter(|&&lr| results.tuning_score(variant, &setting.at(lr)).is_none_or(f64::is_infinite))
            .count();
        let per_epoch = updates_per_epoch(batch);
        rows.push(Row {
            batch,
            updates_per_epoch: per_epoch,
            epochs: config.epochs,
            updates: config.steps.unwrap_or(per_epoch * config.epochs as u64),
            best_lr: setting.lr,
            tuning_val_error: results.tuning_score(variant, &setting).unwrap_or(f64::INFINITY),
            val_error: mean(|m| m.val_error),
            test_error: mean(|m| m.test_error),
            diverged_rates,
            examples_per_second,
            activation_mib,
        });
    }
    write_outputs(&out, &results, &rows, budget)?;
    print_table(&rows, percent);
    println!(
        "wrote {0}/sweep.csv, {0}/rates.csv, {0}/rates.svg and {0}/sweep.svg (the runs: {0}/runs/)",
        out.display()
    );
    Ok(())
}

/// The trainer's own step throughput at `variant`'s batch size on `threads` (median of three
/// timings of about `examples` each, at least 4 updates, after warm-up, at the smallest rate
/// tried) and the MiB of its activation buffers. A timing the rate makes diverge gives no
/// throughput (NaN), never an abort.
fn throughput(
    experiment: &lab::Experiment,
    variant: &Variant,
    results: &Results,
    (threads, examples): (usize, usize),
    splits: impl Fn() -> Result<Splits, descent::Error>,
) -> (f64, f64) {
    let smallest = results.rates_tried(variant).first().copied().unwrap_or(variant.lrs[0]);
    let setting = results.chosen(variant).expect("chosen").at(smallest);
    let mut config = experiment.train_config(variant, &setting, 1);
    config.threads = threads;
    let batch = config.batch;
    let timed = splits().and_then(|splits| Trainer::new(config, splits));
    let Ok(mut timed) = timed else { return (f64::NAN, f64::NAN) };
    let activation_mib = timed.model().activation_bytes(batch) as f64 / (1024.0 * 1024.0);
    let steps = (examples / batch).max(4);
    let rates: Result<Vec<f64>, _> = timed
        .time_steps(3)
        .and_then(|_| (0..3).map(|_| timed.time_steps(steps).map(|s| (steps * batch) as f64 / s)).collect());
    match rates {
        Ok(rates) => (median(&rates), activation_mib),
        Err(error) => {
            println!("m = {batch}: throughput not measured ({error})");
            (f64::NAN, activation_mib)
        }
    }
}

/// `sweep.csv`, `rates.csv`, `sweep.svg` and `rates.svg`.
fn write_outputs(out: &std::path::Path, results: &Results, rows: &[Row], budget: Budget) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("{}: cannot create folder", out.display()))?;
    let smallest = &rows[0];
    let rule = |row: &Row, power: f64| smallest.best_lr * (row.batch as f64 / smallest.batch as f64).powf(power);
    let mut csv = format!("{CSV_HEADER}\n");
    for row in rows {
        let _ = writeln!(
            csv,
            "{},{},{},{},{:?},{:?},{:?},{:?},{:?},{:?},{},{:.1},{:.4}",
            row.batch,
            row.updates_per_epoch,
            row.epochs,
            row.updates,
            row.best_lr,
            row.tuning_val_error,
            row.val_error,
            row.test_error,
            rule(row, 1.0),
            rule(row, 0.5),
            row.diverged_rates,
            row.examples_per_second,
            row.activation_mib
        );
    }
    plot::write_file(&out.join("sweep.csv"), csv.as_bytes())?;
    let mut grid = format!("{RATES_HEADER}\n");
    let tuning = results.experiment.tuning_seeds();
    for variant in &results.experiment.variants {
        let chosen = results.chosen(variant).expect("chosen");
        for lr in results.rates_tried(variant) {
            let runs: Vec<_> =
                tuning.iter().filter_map(|&seed| results.run_at(&variant.name, &chosen.at(lr), seed)).collect();
            let diverged = runs.iter().filter(|r| r.diverged.is_some()).count();
            let score = results.tuning_score(variant, &chosen.at(lr)).unwrap_or(f64::INFINITY);
            let batch = variant.batch.unwrap_or(results.experiment.batch);
            let _ = writeln!(grid, "{batch},{lr:?},{score:?},{diverged},{}", runs.len());
        }
    }
    plot::write_file(&out.join("rates.csv"), grid.as_bytes())?;
    let budget = match budget {
        Budget::Epochs(n) => format!("{n} epochs"),
        Budget::Updates(n) => format!("{n} updates"),
    };
    plot::save(&rates_figure(results, rows, &budget), &out.join("rates.svg"))?;
    plot::save_svg(&figure(rows, &budget), &out.join("sweep.svg"))?;
    Ok(())
}

fn print_table(rows: &[Row], percent: bool) {
    let error = |value: f64| match (value.is_finite(), percent) {
        (false, _) => "diverged".to_string(),
        (true, true) => format!("{:.2}%", 100.0 * value),
        (true, false) => table::number(value, 4),
    };
    let table_rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.batch.to_string(),
                r.updates.to_string(),
                table::number(r.best_lr, 3),
                error(r.tuning_val_error),
                error(r.val_error),
                error(r.test_error),
                r.diverged_rates.to_string(),
                format!("{:.0}", r.examples_per_second),
                format!("{:.2}", r.activation_mib),
            ]
        })
        .collect();
    let header = [
        "batch",
        "updates",
        "best lr",
        "tuning val err",
        "val err",
        "test err",
        "rates diverged",
        "examples/s",
        "activations MiB",
    ];
    println!();
    print!("{}", table::render(&header, &table_rows));
}

/// Sizes from `16,32,64`: at least one, each at least 1, none twice.
fn parse_sizes(text: &str) -> Result<Vec<usize>> {
    let sizes: Option<Vec<usize>> =
        text.split(',').filter(|s| !s.trim().is_empty()).map(|s| s.trim().parse().ok().filter(|&m| m > 0)).collect();
    match sizes {
        Some(sizes) if sizes.is_empty() => {
            Err(bad_input(format!("--sizes '{text}': the list is empty (e.g. 16,32,64)")))
        }
        Some(mut sizes) => {
            let count = sizes.len();
            sizes.sort_unstable();
            sizes.dedup();
            if sizes.len() < count {
                return Err(bad_input(format!("--sizes {text}: a size is listed twice")));
            }
            Ok(sizes)
        }
        None => Err(bad_input(format!("--sizes {text}: expected batch sizes >= 1, comma-separated"))),
    }
}

/// `epochs:N` or `updates:N`, N at least 1.
fn parse_budget(text: &str) -> Result<Budget> {
    let invalid = || bad_input(format!("--budget {text}: expected epochs:N or updates:N with N >= 1"));
    let (kind, count) = text.split_once(':').ok_or_else(invalid)?;
    let count: u64 = count.trim().parse().ok().filter(|&n| n > 0).ok_or_else(invalid)?;
    match kind.trim() {
        "epochs" => Ok(Budget::Epochs(u32::try_from(count).map_err(|_| invalid())?)),
        "updates" => Ok(Budget::Updates(count)),
        _ => Err(invalid()),
    }
}

/// The columns of `sweep.csv`: one row per size. `best_lr` is the rate chosen on
/// `tuning_val_error` (the tuning seeds' mean final validation error); `val_error` and
/// `test_error` are means over the reported seeds at that rate; `linear_rule_lr` and
/// `sqrt_rule_lr` are the smallest size's best rate scaled by m/m₁ and √(m/m₁).
const CSV_HEADER: &str = "batch,updates_per_epoch,epochs,updates,best_lr,tuning_val_error,val_error,test_error,\
                          linear_rule_lr,sqrt_rule_lr,diverged_rates,examples_per_second,activation_mib";

/// The columns of `rates.csv`: every rate tried at every size, with the tuning seeds' mean final
/// validation error (inf where one diverged) and how many of them diverged.
const RATES_HEADER: &str = "batch,lr,tuning_val_error,diverged_seeds,tuning_seeds";

/// The best rate per size against the linear and square-root rules, on log axes (rate against
/// log₂ m); every rate tried is marked (a cross where it diverged).
fn rates_figure(results: &Results, rows: &[Row], budget: &str) -> Figure {
    let x = |batch: usize| (batch as f64).log2();
    let smallest = &rows[0];
    let rule = |batch: usize, power: f64| smallest.best_lr * (batch as f64 / smallest.batch as f64).powf(power);
    let mut tried: Vec<(usize, f64, bool)> = Vec::new();
    for (variant, row) in results.experiment.variants.iter().zip(rows) {
        let chosen = results.chosen(variant).expect("chosen");
        for lr in results.rates_tried(variant) {
            let score = results.tuning_score(variant, &chosen.at(lr)).unwrap_or(f64::INFINITY);
            tried.push((row.batch, lr, score.is_infinite()));
        }
    }
    let ys: Vec<f64> = tried.iter().map(|t| t.1).chain(rows.iter().map(|r| rule(r.batch, 1.0))).collect();
    let (low, high) =
        (ys.iter().copied().fold(f64::INFINITY, f64::min), ys.iter().copied().fold(f64::NEG_INFINITY, f64::max));
    let (left, right) = (x(rows[0].batch), x(rows[rows.len() - 1].batch));
    let span = if right > left { (left - 0.3, right + 0.3) } else { (left - 1.0, left + 1.0) };
    let ticks = rows.iter().map(|r| (x(r.batch), r.batch.to_string())).collect();
    let mut figure = Figure::new(720.0, 420.0, span, (low / 2.0, high * 2.0))
        .labels(
            &format!("best rate per batch size on validation ({budget}), against the scaling rules"),
            "batch size m",
            "learning rate",
        )
        .x_ticks(ticks)
        .log_scale(false, true);
    let line = |power: f64| -> Vec<(f64, f64)> { rows.iter().map(|r| (x(r.batch), rule(r.batch, power))).collect() };
    figure.line(&line(1.0), PALETTE[1], Some(&format!("linear rule from m = {}", smallest.batch)));
    figure.line(&line(0.5), PALETTE[2], Some(&format!("sqrt rule from m = {}", smallest.batch)));
    for &(batch, lr, diverged) in &tried {
        let (shape, colour) = if diverged { ("cross", PALETTE[3]) } else { ("circle", "#bbbbbb") };
        figure.marker((x(batch), lr), shape, colour, 3.0);
    }
    let best: Vec<(f64, f64)> = rows.iter().map(|r| (x(r.batch), r.best_lr)).collect();
    figure.line(&best, PALETTE[0], Some("best rate (tuning seeds' validation error)"));
    for &point in &best {
        figure.marker(point, "circle", PALETTE[0], 4.5);
    }
    figure
}

/// Throughput, activation memory and the reported validation error against log₂ batch size.
fn figure(rows: &[Row], budget: &str) -> String {
    let x: Vec<f64> = rows.iter().map(|r| (r.batch as f64).log2()).collect();
    let span = (x.iter().copied().fold(f64::INFINITY, f64::min), x.iter().copied().fold(f64::NEG_INFINITY, f64::max));
    let span = if span.1 > span.0 { (span.0 - 0.2, span.1 + 0.2) } else { (span.0 - 1.0, span.0 + 1.0) };
    let panel = |title: &str, y_label: &str, values: Vec<f64>, colour: &str, percent: bool| {
        let top = values.iter().copied().filter(|v| v.is_finite()).fold(0.0, f64::max).max(1e-9) * 1.1;
        // On a log₂ axis, ticked at the batch sizes themselves.
        let ticks = rows.iter().map(|r| ((r.batch as f64).log2(), r.batch.to_string())).collect();
        let mut figure =
            Figure::new(720.0, 280.0, span, (0.0, top)).labels(title, "batch size (log scale)", y_label).x_ticks(ticks);
        if percent {
            figure = figure.percent_y();
        }
        let points: Vec<(f64, f64)> = x.iter().copied().zip(values).collect();
        figure.line(&points, colour, None);
        for &point in &points {
            figure.marker(point, "circle", colour, 3.5);
        }
        figure
    };
    plot::stack(&[
        panel(
            "training throughput",
            "examples/s",
            rows.iter().map(|r| r.examples_per_second).collect(),
            PALETTE[0],
            false,
        ),
        panel("activation buffers", "MiB", rows.iter().map(|r| r.activation_mib).collect(), PALETTE[1], false),
        panel(
            &format!("validation error after {budget} at each size's best rate (reported seeds)"),
            "error (%)",
            rows.iter().map(|r| r.val_error).collect(),
            PALETTE[2],
            true,
        ),
    ])
}
