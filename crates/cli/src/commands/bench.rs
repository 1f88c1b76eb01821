//! `descent bench`: speed, always next to a baseline measured in the same run.

use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use descent_optim::algorithms::Kernel;
use descent_optim::parallel::{apply_kernel, for_each_piece, StateViews};
use descent_optim::{Optimizer, OptimizerConfig, ParamGroup, OPTIMIZER_NAMES};
use serde::Serialize;

use crate::flags::reason;
use crate::{bad_input, table};

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Optimizer step speed on flat f32 buffers, in ns per parameter and GB/s, beside the memory
    /// bandwidth of an in-place a += s·b over arrays as large.
    Optim(OptimBenchArgs),
    /// Training throughput (forward + backward + optimizer step, data in memory) in examples/s,
    /// with the achieved GFLOP/s beside a GEMM peak measured in the same run.
    Train(TrainBenchArgs),
    /// GFLOP/s of each matrix-product kernel this CPU has, on 1024³ and on the shapes of the
    /// MLP's and the conv net's layers, with 1 and 2 threads.
    Gemm(GemmBenchArgs),
    /// All-reduce bandwidth of the job's ranks against message size, as nccl-tests reports it
    /// (run under `mpirun -n N` with the MPI build: one process has nothing to sum over).
    Allreduce(AllreduceBenchArgs),
}

#[derive(Debug, Args)]
pub struct AllreduceBenchArgs {
    /// The largest message, in MiB (sizes from 4 KiB up, ×4 each).
    #[arg(long, default_value_t = 64)]
    max_mib: usize,
    /// Timed calls per size (after two untimed); the median is reported.
    #[arg(long, default_value_t = 20)]
    repeats: usize,
}

#[derive(Debug, Args)]
pub struct GemmBenchArgs {
    /// Thread counts to measure, comma-separated.
    #[arg(long, value_name = "LIST", default_value = "1,2")]
    threads: String,
    /// Timings per measurement; the median is reported.
    #[arg(long, default_value_t = 5)]
    repeats: usize,
}

#[derive(Debug, Args)]
pub struct TrainBenchArgs {
    #[arg(long, default_value = "mnist-mlp", help = crate::flags::trainable_problem_help())]
    problem: String,
    /// Minibatch size.
    #[arg(long, default_value_t = 128)]
    batch: usize,
    /// Optimizer.
    #[arg(long, default_value = "adam")]
    optimizer: String,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "T")]
    threads: Option<usize>,
    /// Training steps per timed run; five runs are timed and the median reported.
    #[arg(long, default_value_t = 60)]
    steps: usize,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Under mpirun: sum the gradient over ranks after the whole backward pass, not layer by
    /// layer while it runs (to measure what the overlap hides).
    #[arg(long)]
    no_overlap: bool,
}

#[derive(Debug, Serialize)]
struct TrainSpeed {
    problem: String,
    optimizer: String,
    /// The global batch (cut into one shard per rank).
    batch: usize,
    /// Processes of the data-parallel job (1 outside MPI).
    ranks: usize,
    /// Threads per rank.
    threads: usize,
    /// Median over the rounds, with the slowest and fastest round.
    examples_per_sec: f64,
    examples_per_sec_min: f64,
    examples_per_sec_max: f64,
    gflops: f64,
    /// Median GEMM peak over the rounds, each measured right after its training run.
    peak_gflops: f64,
    /// Median over rounds of the round's GFLOP/s over the round's peak.
    fraction_of_peak: f64,
    /// CPU time this process used per second of wall time while training: about `threads` on an
    /// idle machine (worker threads spinning between products count too); less when other
    /// processes took a share.
    cores_used: f64,
    /// Throughput per CPU-second used: unchanged when the only loss is CPU taken by others.
    examples_per_cpu_second: f64,
    /// What each round measured, from which every figure above is derived.
    rounds: Vec<Round>,
}

/// One round of `bench train`: a timed training run of `steps` × `batch` examples, then the
/// GEMM peak.
#[derive(Debug, Serialize)]
struct Round {
    /// Wall time of the training run.
    seconds: f64,
    /// CPU time the job used during it (all ranks).
    cpu_seconds: f64,
    peak_gflops: f64,
    #[serde(skip)]
    examples_per_sec: f64,
    #[serde(skip)]
    cores_used: f64,
}

#[derive(Debug, Args)]
pub struct OptimBenchArgs {
    /// Number of f32 parameters.
    #[arg(long, value_name = "N", default_value_t = 10_000_000)]
    params: usize,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "T")]
    threads: Option<usize>,
    /// Timed steps per optimizer (after two warm-up steps); the median is reported.
    #[arg(long, value_name = "R", default_value_t = 15)]
    repeats: usize,
    /// Optimizers to measure, comma-separated (default: all).
    #[arg(long = "optimizer", value_name = "LIST")]
    optimizers: Option<String>,
    /// Convention (book or torch).
    #[arg(long, default_value = "book")]
    convention: String,
    /// Print one JSON array instead of a table.
    #[arg(long)]
    json: bool,
}

/// One optimizer's measurement.
#[derive(Debug, Serialize)]
struct OptimizerSpeed {
    optimizer: String,
    params: usize,
    threads: usize,
    bytes_per_param: usize,
    ns_per_param: f64,
    ns_per_param_min: f64,
    ns_per_param_max: f64,
    gbps: f64,
    baseline_gbps: f64,
    fraction_of_baseline: f64,
    /// ns per parameter of a loop with the same read and write streams and no arithmetic.
    traffic_floor_ns_per_param: f64,
    fraction_of_traffic_floor: f64,
}

pub fn run(command: BenchCommand) -> Result<()> {
    match command {
        BenchCommand::Optim(args) => bench_optim(args),
        BenchCommand::Train(args) => bench_train(args),
        BenchCommand::Gemm(args) => bench_gemm(args),
        BenchCommand::Allreduce(args) => bench_allreduce(args),
    }
}

/// Sum-all-reduce of f32 buffers of growing size over the job's ranks. For each size: the
/// median time of a call, the algorithm bandwidth S/t and the bus bandwidth S/t·2(N−1)/N, the
/// rate each link must sustain in a ring all-reduce (nccl-tests' definition), so that figures
/// for different N compare.
fn bench_allreduce(args: AllreduceBenchArgs) -> Result<()> {
    if args.max_mib == 0 || args.repeats == 0 {
        return Err(bad_input("--max-mib and --repeats must be at least 1"));
    }
    // The message and MPI's copy of it, on every rank of this machine.
    let largest = (args.max_mib as u64).checked_mul(1 << 20);
    descent::files::check_memory(largest.and_then(|b| b.checked_mul(2)), "max-mib", &format!("{} MiB", args.max_mib))
        .map_err(crate::core_error)?;
    let largest = largest.unwrap_or(u64::MAX) as usize;
    let job = crate::ranks::collective();
    let ranks = job.size();
    if ranks == 1 {
        return Err(bad_input(
            "bench allreduce measures a job of several ranks: run it as `mpirun -n 2 descent bench allreduce` \
             with the MPI build (--features mpi)",
        ));
    }
    println!("all-reduce (sum, f32) over {ranks} ranks");
    println!("{:>10}  {:>12}  {:>14}  {:>14}", "bytes", "time (µs)", "algbw (GB/s)", "busbw (GB/s)");
    let mut bytes = 4096;
    while bytes <= largest {
        let mut values = vec![1.0f32; bytes / 4];
        let mut times = Vec::with_capacity(args.repeats);
        for call in 0..args.repeats + 2 {
            job.barrier();
            let started = std::time::Instant::now();
            job.all_reduce_sum_f32(&mut values);
            if call >= 2 {
                times.push(started.elapsed().as_secs_f64());
            }
        }
        // Every rank timed its own calls (each waits for the slowest): the mean of their medians.
        let mut medians = [median(&times)];
        job.all_reduce_sum_f64(&mut medians);
        let seconds = medians[0] / ranks as f64;
        let algbw = bytes as f64 / seconds / 1e9;
        let busbw = algbw * 2.0 * (ranks as f64 - 1.0) / ranks as f64;
        println!("{bytes:>10}  {:>12.1}  {algbw:>14.2}  {busbw:>14.2}", seconds * 1e6);
        bytes *= 4;
    }
    Ok(())
}

/// A line of progress that the next overwrites, on a terminal only (in a captured log the
/// carriage returns would garble the output).
fn status(text: &str) {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() {
        eprint!("{text}\r");
    }
}

/// Shapes (m, k, n) of the products measured, with what they are.
const GEMM_SHAPES: [(&str, (usize, usize, usize)); 5] = [
    ("1024³", (1024, 1024, 1024)),
    ("mnist-mlp layer 1 forward", (128, 784, 1000)),
    ("mnist-mlp layer 1 weight gradient", (1000, 128, 784)),
    ("mnist-2c2d conv 2 forward", (25088, 800, 64)),
    ("mnist-2c2d dense 1 forward", (128, 3136, 1024)),
];

fn bench_gemm(args: GemmBenchArgs) -> Result<()> {
    use descent::linalg::{matmul, Stored, Workspace};
    if args.repeats == 0 {
        return Err(bad_input("--repeats 0: must be at least 1"));
    }
    let threads: Vec<usize> = args
        .threads
        .split(',')
        .map(|t| {
            t.trim()
                .parse::<i64>()
                .map_err(|_| bad_input(format!("--threads {}: expected a list of counts", args.threads)))
        })
        .map(|t| t.and_then(|t| crate::flags::threads("--threads", t)))
        .collect::<Result<_>>()?;
    let kernels = descent::linalg::available_kernels();
    let mut header = vec!["product (m × k × n)".to_string()];
    for kernel in &kernels {
        header.extend(threads.iter().map(|t| format!("{kernel}, {t} thr")));
    }
    eprintln!(
        "descent bench gemm: GFLOP/s, median of {} (f32, A as is, B transposed as in a forward pass)",
        args.repeats
    );
    let mut rows = Vec::new();
    for (name, (m, k, n)) in GEMM_SHAPES {
        let a = vec![0.5f32; m * k];
        let b = vec![0.25f32; k * n];
        let mut c = vec![0.0f32; m * n];
        let mut row = vec![format!("{name}: {m} × {k} × {n}")];
        for kernel in &kernels {
            for &t in &threads {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(t).build().context("thread pool")?;
                let mut workspace = Workspace::with_kernel(t, kernel).expect("an available kernel");
                let samples: Vec<f64> = pool.install(|| {
                    // One product to warm up, then the timed ones.
                    (0..=args.repeats)
                        .map(|_| {
                            let start = Instant::now();
                            matmul(&mut c, &a, Stored::AsIs, &b, Stored::Transposed, (m, k, n), false, &mut workspace);
                            2.0 * (m * k * n) as f64 / start.elapsed().as_secs_f64() / 1e9
                        })
                        .skip(1)
                        .collect()
                });
                row.push(format!("{:.1}", median(&samples)));
            }
        }
        rows.push(row);
    }
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    print!("{}", table::render(&header, &rows));
    Ok(())
}

fn bench_optim(args: OptimBenchArgs) -> Result<()> {
    if args.params == 0 {
        return Err(bad_input("--params 0: must be at least 1"));
    }
    // θ, g and up to three state buffers of f32, plus the traffic floor's arrays.
    let bytes = (args.params as u64).checked_mul(7 * 4);
    descent::files::check_memory(bytes, "params", &format!("{} parameters", args.params))
        .map_err(|e| bad_input(format!("--params {}: {e}", args.params)))?;
    if args.repeats == 0 {
        return Err(bad_input("--repeats 0: must be at least 1"));
    }
    let threads = match args.threads {
        Some(threads) => crate::flags::threads("--threads", threads as i64)?,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let convention =
        args.convention.parse().map_err(|e| bad_input(format!("--convention {}: {}", args.convention, reason(&e))))?;
    let list = args.optimizers.clone().unwrap_or_else(|| OPTIMIZER_NAMES.join(","));
    let configs = list
        .split(',')
        .map(|name| {
            OptimizerConfig::named(name.trim(), convention)
                .map_err(|e| bad_input(format!("--optimizer {name}: {}", reason(&e))))
        })
        .collect::<Result<Vec<_>>>()?;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().context("cannot start worker threads")?;

    let n = args.params;
    let mut params = vec![0.1f32; n];
    let grads: Vec<f32> =
        (0..n).map(|i| ((i.wrapping_mul(2_654_435_761) % 1000) as f32 / 1000.0 - 0.5) * 1e-2).collect();

    eprintln!("descent bench optim: {n} f32 parameters, {threads} threads, median of {} steps", args.repeats);
    let mut baseline_samples = pool.install(|| time_bandwidth_baseline(&mut params, &grads, args.repeats));
    let mut results = Vec::new();
    for config in &configs {
        status(&format!("  {:<18}", config.name));
        // Adafactor and Muon act on matrices: the buffer is cut into MLP-like 128 × 1024 layers
        // (and a vector for the rest), as a model's tensors would be.
        let mut optimizer = Optimizer::<f32>::from_config(config)?.with_groups(bench_groups(config, n))?;
        let samples: Vec<f64> = pool.install(|| -> Result<Vec<f64>> {
            params.fill(0.1);
            for _ in 0..2 {
                optimizer.step(&mut params, &grads, config.lr)?;
            }
            (0..args.repeats)
                .map(|_| {
                    let start = Instant::now();
                    optimizer.step(&mut params, &grads, config.lr)?;
                    Ok(start.elapsed().as_secs_f64())
                })
                .collect()
        })?;
        // State buffers as full-length equivalents (Adafactor's factored moments are rows + cols
        // long, Muon's AdamW buffers empty where every tensor is a matrix).
        let state_elements: usize = optimizer.state_buffers().map(|(_, values)| values.len()).sum();
        let buffers = (state_elements as f64 / n as f64).round() as usize;
        results.push((config.name, buffers, samples));
    }
    let mut floors = [None; 4];
    for (_, buffers, _) in &results {
        if floors[*buffers].is_none() {
            status(&format!("  traffic floor, {buffers} state buffers"));
            floors[*buffers] = Some(pool.install(|| time_traffic_floor(&mut params, &grads, *buffers, args.repeats)));
        }
    }
    // A second baseline after the optimizers, so that drift in the machine's speed shows in the median.
    baseline_samples.extend(pool.install(|| time_bandwidth_baseline(&mut params, &grads, args.repeats)));
    let baseline_gbps = 12.0 * n as f64 / median(&baseline_samples) / 1e9;

    let speeds: Vec<OptimizerSpeed> = results
        .into_iter()
        .map(|(name, buffers, samples)| {
            // Read θ, g and each state buffer; write θ and each state buffer.
            let bytes_per_param = 4 * (3 + 2 * buffers);
            let per_param = |seconds: f64| seconds / n as f64 * 1e9;
            let ns = per_param(median(&samples));
            let gbps = bytes_per_param as f64 / ns;
            let floor = per_param(floors[buffers].expect("measured above"));
            OptimizerSpeed {
                optimizer: name.to_string(),
                params: n,
                threads,
                bytes_per_param,
                ns_per_param: ns,
                ns_per_param_min: per_param(samples.iter().copied().fold(f64::INFINITY, f64::min)),
                ns_per_param_max: per_param(samples.iter().copied().fold(0.0, f64::max)),
                gbps,
                baseline_gbps,
                fraction_of_baseline: gbps / baseline_gbps,
                traffic_floor_ns_per_param: floor,
                fraction_of_traffic_floor: floor / ns,
            }
        })
        .collect();

    if args.json {
        println!("{}", serde_json::to_string_pretty(&speeds)?);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = speeds
        .iter()
        .map(|s| {
            vec![
                s.optimizer.clone(),
                s.bytes_per_param.to_string(),
                format!("{:.3}", s.ns_per_param),
                format!("{:.3}–{:.3}", s.ns_per_param_min, s.ns_per_param_max),
                format!("{:.1}", s.gbps),
                format!("{:.0}%", 100.0 * s.fraction_of_baseline),
                format!("{:.3}", s.traffic_floor_ns_per_param),
                format!("{:.0}%", 100.0 * s.fraction_of_traffic_floor),
            ]
        })
        .collect();
    println!(
        "baseline a += s·b: {baseline_gbps:.1} GB/s (12 bytes per element, median of {} runs)\n",
        baseline_samples.len()
    );
    let header = ["optimizer", "bytes/param", "ns/param", "min–max", "GB/s", "of baseline", "floor ns", "of floor"];
    print!("{}", table::render(&header, &rows));
    println!("\nfloor: a loop with the optimizer's read and write streams and no arithmetic, same run");
    Ok(())
}

fn bench_train(args: TrainBenchArgs) -> Result<()> {
    let mut config = crate::flags::problem_config(&args.problem)?;
    if args.batch == 0 || args.steps == 0 {
        return Err(bad_input("--batch and --steps must be at least 1"));
    }
    config.batch = args.batch;
    config.optimizer = args.optimizer.clone();
    config.lr = descent_optim::OptimizerConfig::named(&args.optimizer, descent_optim::Convention::Book)
        .map_err(|e| bad_input(format!("--optimizer {}: {}", args.optimizer, reason(&e))))?
        .lr;
    if let Some(threads) = args.threads {
        config.threads = crate::flags::threads("--threads", threads as i64)?;
    }
    let threads = config.threads;
    let splits = descent::train::Splits::load(&config).map_err(crate::core_error)?;
    let job = crate::ranks::collective();
    let ranks = job.size();
    let trainer = descent::train::Trainer::new(config, splits).map_err(crate::core_error)?;
    let mut trainer = trainer.with_collective(job.clone()).map_err(crate::core_error)?;
    if args.no_overlap {
        trainer = trainer.without_overlap();
    }
    if job.is_root() {
        eprintln!(
            "descent bench train: {} with {}, batch {}, {ranks} rank{} × {threads} threads, 5 × {} steps",
            args.problem,
            args.optimizer,
            args.batch,
            if ranks == 1 { "" } else { "s" },
            args.steps
        );
    }
    trainer.time_steps(10).map_err(crate::core_error)?;
    let peak_pool =
        rayon::ThreadPoolBuilder::new().num_threads(threads).build().context("cannot start worker threads")?;
    let mut peak = GemmPeak::new(threads);
    peak_pool.install(|| peak.gflops());
    let examples = (args.steps * args.batch) as f64;
    let rounds: Vec<Round> = (0..ROUNDS)
        .map(|_| {
            let cpu_before = process_cpu_seconds();
            let seconds = trainer.time_steps(args.steps)?;
            // A job's CPU time and peak are its ranks' together.
            let mut job_sums = [process_cpu_seconds() - cpu_before, peak_pool.install(|| peak.gflops())];
            job.all_reduce_sum_f64(&mut job_sums);
            let [cpu, peak_gflops] = job_sums;
            let (examples_per_sec, cores_used) = (examples / seconds, cpu / seconds);
            Ok(Round { seconds, cpu_seconds: cpu, peak_gflops, examples_per_sec, cores_used })
        })
        .collect::<Result<_, descent::error::Error>>()
        .map_err(crate::core_error)?;
    let flops = trainer.flops_per_example();
    let column = |f: fn(&Round) -> f64| rounds.iter().map(f).collect::<Vec<f64>>();
    let rates = column(|r| r.examples_per_sec);
    let examples_per_sec = median(&rates);
    let cores_used = median(&column(|r| r.cores_used));
    let speed = TrainSpeed {
        problem: args.problem.clone(),
        optimizer: args.optimizer.clone(),
        batch: args.batch,
        ranks,
        threads,
        examples_per_sec,
        examples_per_sec_min: rates.iter().copied().fold(f64::INFINITY, f64::min),
        examples_per_sec_max: rates.iter().copied().fold(0.0, f64::max),
        gflops: examples_per_sec * flops / 1e9,
        peak_gflops: median(&column(|r| r.peak_gflops)),
        fraction_of_peak: median(
            &rounds.iter().map(|r| r.examples_per_sec * flops / 1e9 / r.peak_gflops).collect::<Vec<_>>(),
        ),
        cores_used,
        examples_per_cpu_second: median(&column(|r| r.examples_per_sec / r.cores_used)),
        rounds,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&speed)?);
    } else {
        println!(
            "{}: {:.0} examples/s (min–max {:.0}–{:.0}), {:.1} GFLOP/s = {:.0}% of the GEMM peak {:.1} GFLOP/s (1024³ f32, measured after each run)",
            speed.problem,
            speed.examples_per_sec,
            speed.examples_per_sec_min,
            speed.examples_per_sec_max,
            speed.gflops,
            100.0 * speed.fraction_of_peak,
            speed.peak_gflops
        );
        println!(
            "CPU: {:.2} of {} cores used while training, {:.0} examples per CPU-second",
            speed.cores_used,
            threads * ranks,
            speed.examples_per_cpu_second
        );
    }
    Ok(())
}

/// Timed training runs (each followed by a GEMM peak measurement), after which the medians are
/// reported.
const ROUNDS: usize = 5;

/// The GEMM peak: GFLOP/s of a 1024×1024×1024 f32 product through descent's matmul, the rate the
/// training products can hope for.
struct GemmPeak {
    a: Vec<f32>,
    b: Vec<f32>,
    c: Vec<f32>,
    workspace: descent::linalg::Workspace<f32>,
}

impl GemmPeak {
    const N: usize = 1024;

    /// Operands, and a workspace for `threads` threads.
    fn new(threads: usize) -> Self {
        let n = Self::N;
        let workspace = descent::linalg::Workspace::new(threads);
        GemmPeak { a: vec![0.5; n * n], b: vec![0.25; n * n], c: vec![0.0; n * n], workspace }
    }

    /// The better of two products (call inside a pool of the workspace's threads).
    fn gflops(&mut self) -> f64 {
        use descent::linalg::{matmul, Stored};
        let n = Self::N;
        let best = (0..2)
            .map(|_| {
                let start = Instant::now();
                matmul(
                    &mut self.c,
                    &self.a,
                    Stored::AsIs,
                    &self.b,
                    Stored::AsIs,
                    (n, n, n),
                    false,
                    &mut self.workspace,
                );
                start.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min);
        2.0 * (n * n * n) as f64 / best / 1e9
    }
}

/// CPU time used so far by all of this process's threads, in seconds.
fn process_cpu_seconds() -> f64 {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec into `now`, which outlives the call.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut now) };
    if status != 0 {
        return f64::NAN;
    }
    now.tv_sec as f64 + now.tv_nsec as f64 * 1e-9
}

/// Times `a += s·b` over the two buffers (the memory traffic of the simplest update: read two
/// arrays, write one), split over threads exactly as an optimizer step is.
fn time_bandwidth_baseline(a: &mut [f32], b: &[f32], repeats: usize) -> Vec<f64> {
    let axpy = |a: &mut [f32], b: &[f32], s: &mut [&mut [f32]]| apply_kernel(&Streams, a, b, s);
    for _ in 0..2 {
        for_each_piece(a, b, StateViews::default(), 0, &axpy);
    }
    (0..repeats)
        .map(|_| {
            let start = Instant::now();
            for_each_piece(a, b, StateViews::default(), 0, &axpy);
            start.elapsed().as_secs_f64()
        })
        .collect()
}

/// The baselines' loops: one fused multiply-add per stream and nothing else (with no state, the
/// in-place a += s·b). A [`Kernel`] like the optimizers', so that it is compiled the same way
/// (for AVX2 and FMA at run time where the build's baseline lacks them).
struct Streams;

impl Kernel<f32> for Streams {
    #[inline(always)]
    fn apply(&self, p: &mut [f32], g: &[f32], s: &mut [&mut [f32]]) {
        match s {
            [] => p.iter_mut().zip(g).for_each(|(p, &g)| *p = 1e-3f32.mul_add(g, *p)),
            [a] => p.iter_mut().zip(g).zip(a.iter_mut()).for_each(|((p, &g), a)| {
                *a = 0.5f32.mul_add(*a, g);
                *p = 1e-3f32.mul_add(*a, *p);
            }),
            [a, b] => p.iter_mut().zip(g).zip(a.iter_mut().zip(b.iter_mut())).for_each(|((p, &g), (a, b))| {
                *a = 0.5f32.mul_add(*a, g);
                *b = 0.5f32.mul_add(*b, g);
                *p = 1e-3f32.mul_add(*a + *b, *p);
            }),
            [a, b, c] => p.iter_mut().zip(g).zip(a.iter_mut().zip(b.iter_mut()).zip(c.iter_mut())).for_each(
                |((p, &g), ((a, b), c))| {
                    *a = 0.5f32.mul_add(*a, g);
                    *b = 0.5f32.mul_add(*b, g);
                    *c = 0.5f32.mul_add(*c, g);
                    *p = 1e-3f32.mul_add(*a + *b + *c, *p);
                },
            ),
            _ => unreachable!("optimizers keep at most three state buffers"),
        }
    }
}

/// Times a loop that reads θ, g and `buffers` state arrays and writes θ and the state arrays, with
/// one fused multiply-add per stream and nothing else: the memory traffic of an optimizer step
/// without its arithmetic. Returns the median seconds per step.
/// The matrix blocks `bench optim` gives the rules that need shapes (none for the others).
const BENCH_MATRIX: (usize, usize) = (128, 1024);

/// Groups over `n` parameters: 128 × 1024 matrices and a vector remainder for Adafactor and
/// Muon, none (one vector) for the elementwise rules.
fn bench_groups(config: &OptimizerConfig, n: usize) -> Vec<ParamGroup> {
    use descent_optim::Algorithm::{Adafactor, Muon};
    if !matches!(config.algorithm, Adafactor(_) | Muon(_)) {
        return Vec::new();
    }
    let (rows, cols) = BENCH_MATRIX;
    let block = rows * cols;
    let mut groups: Vec<ParamGroup> =
        (0..n / block).map(|k| ParamGroup::new(k * block..(k + 1) * block).with_shape(rows, cols)).collect();
    if !n.is_multiple_of(block) {
        groups.push(ParamGroup::new(n / block * block..n));
    }
    groups
}

fn time_traffic_floor(params: &mut [f32], grads: &[f32], buffers: usize, repeats: usize) -> f64 {
    let mut state: Vec<Vec<f32>> = vec![vec![0.0; params.len()]; buffers];
    let stream = |p: &mut [f32], g: &[f32], s: &mut [&mut [f32]]| apply_kernel(&Streams, p, g, s);
    let mut samples = Vec::with_capacity(repeats);
    for run in 0..repeats + 2 {
        let mut views: StateViews<'_, f32> = Default::default();
        for (view, buffer) in views.iter_mut().zip(state.iter_mut()) {
            *view = buffer;
        }
        let start = Instant::now();
        for_each_piece(params, grads, views, buffers, &stream);
        if run >= 2 {
            samples.push(start.elapsed().as_secs_f64());
        }
    }
    median(&samples)
}

pub fn median(samples: &[f64]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    } else {
        sorted[middle]
    }
}
