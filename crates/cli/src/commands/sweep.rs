//! `descent sweep-batch`: the minibatch size as evidence (SPEC §1). For each size: training
//! throughput, the memory of the activation buffers, and the validation error reached in a fixed
//! number of epochs with the rate scaled by the chosen rule.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use descent::train::{Splits, Trainer};

use super::bench::median;
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
    /// How the rate follows the batch size m: none (the same ε for all), linear (ε·m/m₀, Goyal et
    /// al.) or sqrt (ε·√(m/m₀)), with m₀ = --base-batch.
    #[arg(long, value_name = "RULE", default_value = "linear")]
    lr_rule: String,
    /// The batch size m₀ at which the rate is --lr.
    #[arg(long, default_value_t = 128)]
    base_batch: usize,
    #[command(flatten)]
    optimizer: OptimizerFlags,
    /// Epochs trained at each size.
    #[arg(long, default_value_t = 2, allow_negative_numbers = true)]
    epochs: i64,
    /// Folder with the four MNIST IDX files (default: the bundled subset).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Training examples held out for validation (default: the problem's).
    #[arg(long)]
    val_size: Option<usize>,
    /// Seed of every random draw.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Output folder (default: runs/sweep-batch-PROBLEM): sweep.csv and sweep.svg.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// One row of the sweep.
struct Row {
    batch: usize,
    lr: f64,
    examples_per_second: f64,
    activation_mib: f64,
    val_error: f64,
    seconds: f64,
}

pub fn run(args: SweepArgs) -> Result<()> {
    let sizes = parse_sizes(&args.sizes)?;
    let rule: fn(f64) -> f64 = match args.lr_rule.as_str() {
        "none" => |_| 1.0,
        "linear" => |ratio| ratio,
        "sqrt" => f64::sqrt,
        other => return Err(bad_input(format!("--lr-rule {other}: expected none, linear or sqrt"))),
    };
    if args.base_batch == 0 {
        return Err(bad_input("--base-batch 0: must be at least 1"));
    }
    let epochs = positive("--epochs", args.epochs)? as u32;
    let mut base = crate::flags::problem_config(&args.problem)?;
    let optimizers = args.optimizer.configs("sgd", |_| 0.05)?;
    let [optimizer] = &optimizers[..] else {
        return Err(bad_input("--optimizer: sweep-batch takes one optimizer"));
    };
    base.optimizer = optimizer.name.to_string();
    base.convention = optimizer.convention;
    base.set_overrides(&args.optimizer.overrides());
    base.weight_decay = optimizer.weight_decay;
    base.schedule = args.optimizer.schedule.clone();
    base.clip = args.optimizer.clip()?;
    base.data = args.data.clone();
    base.epochs = epochs;
    if let Some(val_size) = args.val_size {
        base.val_size = val_size;
    }
    base.seed = args.seed;
    if let Some(threads) = args.threads {
        base.threads = crate::flags::threads("--threads", threads as i64)?;
    }
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("runs").join(format!("sweep-batch-{}", args.problem)));
    crate::flags::check_output_folder(&out, ["sweep.csv", "sweep.svg"], CSV_HEADER, "a sweep")?;
    let (train_set, test_set) = Splits::sources(&base).map_err(crate::core_error)?;
    println!(
        "{}: {} at lr {} for m = {}, rule {}, {epochs} epochs each, {} threads",
        args.problem, optimizer.name, optimizer.lr, args.base_batch, args.lr_rule, base.threads
    );
    let percent = descent::problems::named(&args.problem).is_ok_and(|p| p.metric.starts_with("0-1 error"));
    let mut rows = Vec::new();
    for &batch in &sizes {
        let mut config = base.clone();
        config.batch = batch;
        config.lr = optimizer.lr * rule(batch as f64 / args.base_batch as f64);
        let splits = || Splits::from_sets(&config, train_set.clone(), test_set.clone()).map_err(crate::core_error);
        // Throughput: the trainer's own step, after warm-up, median of three timings of ~4,096
        // examples each.
        let mut timed = Trainer::new(config.clone(), splits()?).map_err(crate::core_error)?;
        let steps = (4096 / batch).max(4);
        timed.time_steps(3).map_err(crate::core_error)?;
        let rates: Vec<f64> = (0..3)
            .map(|_| timed.time_steps(steps).map(|s| (steps * batch) as f64 / s))
            .collect::<Result<_, _>>()
            .map_err(crate::core_error)?;
        let activation_mib = timed.model().activation_bytes(batch) as f64 / (1024.0 * 1024.0);
        let mut trainer = Trainer::new(config.clone(), splits()?).map_err(crate::core_error)?;
        let (val_error, seconds) = match trainer.run(None, &mut |_| {}) {
            Ok(summary) => (summary.final_metrics.map_or(f64::NAN, |m| m.val_error), summary.seconds),
            Err(error @ descent::Error::NonFinite { .. }) => {
                println!("m = {batch}: {error}");
                (f64::NAN, f64::NAN)
            }
            Err(error) => return Err(crate::core_error(error)),
        };
        let row = Row { batch, lr: config.lr, examples_per_second: median(&rates), activation_mib, val_error, seconds };
        println!(
            "m = {:>5}: lr {:<9} {:>8.0} examples/s, activations {:>7.2} MiB, val error {}",
            row.batch,
            table::number(row.lr, 3),
            row.examples_per_second,
            row.activation_mib,
            if !row.val_error.is_finite() {
                "diverged".into()
            } else if percent {
                format!("{:.2}%", 100.0 * row.val_error)
            } else {
                table::number(row.val_error, 4)
            }
        );
        rows.push(row);
    }
    std::fs::create_dir_all(&out).with_context(|| format!("{}: cannot create folder", out.display()))?;
    let mut csv = format!("{CSV_HEADER}\n");
    for row in &rows {
        let _ = writeln!(
            csv,
            "{},{:?},{:.1},{:.4},{:?},{:.3}",
            row.batch, row.lr, row.examples_per_second, row.activation_mib, row.val_error, row.seconds
        );
    }
    crate::plot::write_file(&out.join("sweep.csv"), csv.as_bytes())?;
    plot::save_svg(&figure(&rows, &args.lr_rule, epochs), &out.join("sweep.svg"))?;
    println!();
    let table_rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.batch.to_string(),
                table::number(r.lr, 3),
                format!("{:.0}", r.examples_per_second),
                format!("{:.2}", r.activation_mib),
                match (r.val_error.is_finite(), percent) {
                    (false, _) => "diverged".into(),
                    (true, true) => format!("{:.2}%", 100.0 * r.val_error),
                    (true, false) => table::number(r.val_error, 4),
                },
                format!("{:.1}", r.seconds),
            ]
        })
        .collect();
    let header = ["batch", "lr", "examples/s", "activations MiB", &format!("val error after {epochs} ep"), "train s"];
    print!("{}", table::render(&header, &table_rows));
    println!("wrote {0}/sweep.csv and {0}/sweep.svg", out.display());
    Ok(())
}

/// Sizes from `16,32,64`: at least one, each at least 1.
fn parse_sizes(text: &str) -> Result<Vec<usize>> {
    let sizes: Option<Vec<usize>> =
        text.split(',').filter(|s| !s.trim().is_empty()).map(|s| s.trim().parse().ok().filter(|&m| m > 0)).collect();
    match sizes {
        Some(sizes) if !sizes.is_empty() => Ok(sizes),
        Some(_) => Err(bad_input(format!("--sizes '{text}': the list is empty (e.g. 16,32,64)"))),
        None => Err(bad_input(format!("--sizes {text}: expected batch sizes >= 1, comma-separated"))),
    }
}

/// The columns of `sweep.csv`.
const CSV_HEADER: &str = "batch,lr,examples_per_second,activation_mib,val_error,train_seconds";

/// Throughput, activation memory and validation error (in percent) against batch size on a log₂
/// axis.
fn figure(rows: &[Row], rule: &str, epochs: u32) -> String {
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
            &format!("validation error after {epochs} epochs (rate rule: {rule})"),
            "error (%)",
            rows.iter().map(|r| r.val_error).collect(),
            PALETTE[2],
            true,
        ),
    ])
}
