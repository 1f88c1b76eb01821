//! Every reader of untrusted files under random damage: IDX (raw and gzipped), CSV, checkpoints,
//! a run's `config.toml`, experiment files and a report's `results.json`. Each valid file is
//! mutated (bytes flipped, replaced, cut, inserted) and read back; the reader must answer with a
//! value or an error, never a panic, a hang or an allocation beyond what the file justifies.
//! Bounded so that the suite stays fast (64 cases per reader); `tools/fuzz.sh` runs many more.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use descent::checkpoint::{Checkpoint, Progress};
use descent::config::TrainConfig;
use descent::lab::experiment::ExperimentSpec;
use descent::lab::Results;
use proptest::prelude::*;

/// How many damaged files each reader gets (more with DESCENT_FUZZ_CASES, as tools/fuzz.sh sets).
fn cases() -> u32 {
    std::env::var("DESCENT_FUZZ_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(64)
}

/// One kind of damage at a position given as a fraction of the file.
#[derive(Debug, Clone)]
enum Damage {
    Flip(f64, u8),
    Replace(f64, u8),
    Cut(f64),
    Insert(f64, Vec<u8>),
}

fn damage() -> impl Strategy<Value = Vec<Damage>> {
    let one = prop_oneof![
        (0.0..1.0f64, 1..=255u8).prop_map(|(at, bit)| Damage::Flip(at, bit)),
        (0.0..1.0f64, any::<u8>()).prop_map(|(at, byte)| Damage::Replace(at, byte)),
        (0.0..1.0f64).prop_map(Damage::Cut),
        (0.0..1.0f64, prop::collection::vec(any::<u8>(), 1..16)).prop_map(|(at, bytes)| Damage::Insert(at, bytes)),
    ];
    prop::collection::vec(one, 1..4)
}

fn apply(bytes: &[u8], damages: &[Damage]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for d in damages {
        let at = |f: f64, len: usize| ((f * len as f64) as usize).min(len.saturating_sub(1));
        match d {
            Damage::Flip(f, bit) if !out.is_empty() => {
                let i = at(*f, out.len());
                out[i] ^= bit;
            }
            Damage::Replace(f, byte) if !out.is_empty() => {
                let i = at(*f, out.len());
                out[i] = *byte;
            }
            Damage::Cut(f) => out.truncate(at(*f, out.len() + 1)),
            Damage::Insert(f, bytes) => {
                let i = at(*f, out.len() + 1);
                out.splice(i..i, bytes.iter().copied());
            }
            _ => {}
        }
    }
    out
}

fn idx_images() -> Vec<u8> {
    let mut bytes = 0x803u32.to_be_bytes().to_vec();
    for d in [3u32, 4, 4] {
        bytes.extend(d.to_be_bytes());
    }
    bytes.extend((0..48).map(|i| (i * 5) as u8));
    bytes
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn idx_files(damages in damage(), zipped in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("images");
        let valid = if zipped { gzip(&idx_images()) } else { idx_images() };
        std::fs::write(&path, apply(&valid, &damages)).unwrap();
        let _ = descent::data::idx::read_u8(&path, 3);
    }

    #[test]
    fn csv_files(damages in damage()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.csv");
        let valid: String = (0..20).map(|i| format!("{}.5,-{}e-3,{}\n", i, i * 7, i % 3)).collect();
        std::fs::write(&path, apply(valid.as_bytes(), &damages)).unwrap();
        let _ = descent::data::csv::read(&path);
    }

    #[test]
    fn checkpoints(damages in damage()) {
        let dir = tempfile::tempdir().unwrap();
        let checkpoint = Checkpoint {
            tensors: vec![("params".into(), vec![0.5, -1.0, 2.0]), ("optimizer.exp_avg".into(), vec![0.1; 3])],
            progress: Progress {
                epoch: 1,
                step: 4,
                seconds: 0.5,
                best_val_error: 0.2,
                best_epoch: 1,
                bad_epochs: 0,
                optimizer_scalars: vec![("step".into(), 4.0)],
                metrics: vec![],
                partial: None,
                plateau: None,
            },
        };
        checkpoint.save(dir.path()).unwrap();
        let path = dir.path().join("checkpoint.safetensors");
        let valid = std::fs::read(&path).unwrap();
        std::fs::write(&path, apply(&valid, &damages)).unwrap();
        let _ = Checkpoint::load(dir.path());
    }

    #[test]
    fn run_configs(damages in damage()) {
        let valid = toml::to_string(&TrainConfig::for_problem("mnist-mlp").unwrap()).unwrap();
        let text = String::from_utf8_lossy(&apply(valid.as_bytes(), &damages)).into_owned();
        if let Ok(config) = toml::from_str::<TrainConfig>(&text) {
            let _ = config.validate();
        }
    }

    #[test]
    fn experiment_files(damages in damage()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("experiment.toml");
        let valid = "problem = \"quadratic\"\noptimizers = [\"sgd\", \"adam\"]\nlrs = [0.01, 0.1]\nepochs = 5\n\n[[variant]]\nname = \"m\"\noptimizer = \"momentum\"\nclip = \"global-norm:1\"\nschedule = \"warmup:2+cosine\"\n";
        std::fs::write(&path, apply(valid.as_bytes(), &damages)).unwrap();
        if let Ok(spec) = ExperimentSpec::read(&path) {
            let _ = spec.resolve(Some(&path));
        }
    }

    #[test]
    fn results_files(damages in damage()) {
        let valid = results_json();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("results.json"), apply(valid.as_bytes(), &damages)).unwrap();
        if let Ok(results) = Results::load(dir.path()) {
            let _ = results.summary();
        }
    }
}

/// A real `results.json`: a comparison of two optimizers on the quadratic, made once.
fn results_json() -> String {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let spec = ExperimentSpec {
            problem: Some("quadratic".into()),
            optimizers: Some(vec!["sgd".into(), "adam".into()]),
            epochs: Some(5),
            ..ExperimentSpec::default()
        };
        let experiment = spec.resolve(None).unwrap();
        let out = dir.path().join("report");
        descent::lab::run(&experiment, &out, 1, &Arc::new(AtomicBool::new(false)), &|_| {}).unwrap();
        std::fs::read_to_string(Path::new(&out).join("results.json")).unwrap()
    })
    .clone()
}
