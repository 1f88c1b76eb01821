//! `descent train` through the real binary: its run folder, resume, and bad input.

use std::path::Path;
use std::process::{Command, Output};

fn descent(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_descent")).args(args).current_dir(dir).output().expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A quick run: logistic regression, 2,000 validation images, one epoch.
const QUICK: [&str; 6] = ["--problem", "mnist-logreg", "--val-size", "2000", "--threads", "2"];

#[test]
fn train_writes_its_run_folder_and_resume_continues_it_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let straight = descent(&[&["train"], &QUICK[..], &["--epochs", "2", "--out", "straight"]].concat(), dir.path());
    assert!(straight.status.success(), "{}", text(&straight.stderr));
    let stdout = text(&straight.stdout);
    assert!(stdout.contains("epoch   2/2") && stdout.contains("generalization gap"), "{stdout}");
    for file in ["config.toml", "metrics.csv", "summary.json", "checkpoint.safetensors", "curves.svg"] {
        assert!(dir.path().join("straight").join(file).is_file(), "{file} missing");
    }
    let header = "epoch,step,lr,seconds,train_loss,train_error,val_loss,val_error,test_loss,test_error";
    let metrics = std::fs::read_to_string(dir.path().join("straight/metrics.csv")).unwrap();
    assert!(metrics.starts_with(header), "{metrics}");

    let first = descent(&[&["train"], &QUICK[..], &["--epochs", "1", "--out", "split"]].concat(), dir.path());
    assert!(first.status.success(), "{}", text(&first.stderr));
    let resumed = descent(&["train", "--resume", "split", "--epochs", "2"], dir.path());
    assert!(resumed.status.success(), "{}", text(&resumed.stderr));
    let without_seconds = |name: &str| -> Vec<String> {
        let csv = std::fs::read_to_string(dir.path().join(name).join("metrics.csv")).unwrap();
        csv.lines()
            .map(|line| {
                line.split(',').enumerate().filter(|(i, _)| *i != 3).map(|(_, f)| f).collect::<Vec<_>>().join(",")
            })
            .collect()
    };
    assert_eq!(without_seconds("straight"), without_seconds("split"));
    // The parameters are the same bits: compare the tensor bytes of the two checkpoints' params.
    let params = |name: &str| {
        let bytes = std::fs::read(dir.path().join(name).join("checkpoint.safetensors")).unwrap();
        let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
        let [start, end] = [0, 1].map(|i| header["params"]["data_offsets"][i].as_u64().unwrap() as usize);
        bytes[8 + header_len + start..8 + header_len + end].to_vec()
    };
    assert_eq!(params("straight"), params("split"));
}

#[test]
fn bad_input_names_the_file_or_flag_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let idx = |magic: u32, dims: &[u32], body: usize| {
        let mut bytes = magic.to_be_bytes().to_vec();
        dims.iter().for_each(|d| bytes.extend(d.to_be_bytes()));
        bytes.extend(std::iter::repeat_n(0u8, body));
        bytes
    };
    let write_set = |images: Vec<u8>, labels: Vec<u8>| {
        std::fs::write(data.join("train-images-idx3-ubyte"), &images).unwrap();
        std::fs::write(data.join("train-labels-idx1-ubyte"), &labels).unwrap();
        std::fs::write(data.join("t10k-images-idx3-ubyte"), idx(0x803, &[5, 28, 28], 5 * 784)).unwrap();
        std::fs::write(data.join("t10k-labels-idx1-ubyte"), idx(0x801, &[5], 5)).unwrap();
    };
    let run = |args: &[&str]| descent(&[&["train", "--out", "never"], args].concat(), dir.path());
    let expect = |output: Output, expected: &str| {
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{expected}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(expected), "expected '{expected}' in: {stderr}");
        assert!(!stderr.contains("panicked"));
    };

    write_set(idx(0x803, &[20, 28, 28], 20 * 784 - 100), idx(0x801, &[20], 20));
    expect(
        run(&["--data", "data"]),
        "train-images-idx3-ubyte: truncated: dimensions [20, 28, 28] need 15680 bytes of data, found 15580",
    );
    write_set(idx(0x803, &[20, 28, 28], 20 * 784), idx(0x801, &[19], 19));
    expect(run(&["--data", "data"]), "train-labels-idx1-ubyte: has 19 labels but");
    write_set(idx(0x903, &[20, 28, 28], 20 * 784), idx(0x801, &[20], 20));
    expect(run(&["--data", "data"]), "expected magic 0x00000803 (u8 images, 3 dims), found 0x00000903");

    // A conv net takes 28×28 images: 32×32 ones (or 5 CSV features) are refused with both sizes;
    // a Fashion-MNIST folder whose test images differ in size from its training images names the
    // test file and both sizes.
    write_set(idx(0x803, &[20, 32, 32], 20 * 1024), idx(0x801, &[20], 20));
    std::fs::write(data.join("t10k-images-idx3-ubyte"), idx(0x803, &[5, 32, 32], 5 * 1024)).unwrap();
    expect(
        run(&["--data", "data", "--problem", "mnist-2c2d", "--val-size", "5", "--batch", "4"]),
        "data: examples have 1024 values, but the model takes 784 (28×28×1)",
    );
    std::fs::write(data.join("t10k-images-idx3-ubyte"), idx(0x803, &[5, 28, 28], 5 * 784)).unwrap();
    expect(
        run(&["--data", "data", "--problem", "fmnist-2c2d"]),
        "t10k-images-idx3-ubyte: images are 28×28, but the training images are 32×32",
    );
    let features: String = (0..10).map(|i| format!("0.1,0.2,0.3,0.4,0.5,{}\n", i % 2)).collect();
    std::fs::write(dir.path().join("five.csv"), features).unwrap();
    expect(
        run(&["--data", "five.csv", "--problem", "mnist-autoencoder", "--val-size", "2", "--batch", "2"]),
        "five.csv: examples have 5 values, but the model takes 784",
    );

    std::fs::write(dir.path().join("ragged.csv"), "1,2,0\n3,1\n").unwrap();
    expect(run(&["--data", "ragged.csv"]), "ragged.csv: line 2: expected 3 fields like the first row, found 2");
    std::fs::write(dir.path().join("cell.csv"), "1,2,0\n3,x,1\n").unwrap();
    expect(run(&["--data", "cell.csv"]), "cell.csv: line 2, column 2: 'x' is not a number");

    expect(run(&["--batch", "0"]), "--batch 0: must be at least 1");
    expect(run(&["--shards", "0"]), "--shards 0: must be at least 1");
    expect(run(&["--shards", "5", "--batch", "128"]), "shards must divide the batch");
    expect(
        run(&["--batch", "9000", "--problem", "mnist-logreg"]),
        "batch must not exceed the training examples, got 9000 > 5000",
    );
    expect(run(&["--problem", "cifar"]), "--problem cifar: unknown problem");
    expect(run(&["--optimizer", "adam,sgd"]), "train takes one optimizer");
    expect(run(&["--hidden", "100,0"]), "--hidden 100,0: expected widths >= 1");
    expect(descent(&["train", "--resume", "missing"], dir.path()), "missing: no such run folder");
    std::fs::create_dir(dir.path().join("foreign")).unwrap();
    std::fs::write(dir.path().join("foreign/notes.txt"), "mine").unwrap();
    expect(descent(&["train", "--resume", "foreign"], dir.path()), "not a descent run");
    assert_eq!(std::fs::read_to_string(dir.path().join("foreign/notes.txt")).unwrap(), "mine");
}

#[test]
fn a_torn_checkpoint_is_reported_and_nothing_is_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let first = descent(&[&["train"], &QUICK[..], &["--epochs", "1", "--out", "run"]].concat(), dir.path());
    assert!(first.status.success(), "{}", text(&first.stderr));
    let path = dir.path().join("run/checkpoint.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 3]).unwrap();
    let metrics = std::fs::read(dir.path().join("run/metrics.csv")).unwrap();
    let output = descent(&["train", "--resume", "run", "--epochs", "2"], dir.path());
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("checkpoint.safetensors: damaged"), "{}", text(&output.stderr));
    assert_eq!(std::fs::read(dir.path().join("run/metrics.csv")).unwrap(), metrics);
    // A new run into the same folder is refused rather than overwriting it.
    let again = descent(&[&["train"], &QUICK[..], &["--out", "run"]].concat(), dir.path());
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again.stderr).contains("already holds a run"));
}

#[test]
fn average_is_reported_beside_the_parameters_and_bad_values_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let run = descent(
        &[&["train"], &QUICK[..], &["--epochs", "1", "--average", "ema:0.99", "--out", "run"]].concat(),
        dir.path(),
    );
    assert!(run.status.success(), "{}", text(&run.stderr));
    let stdout = text(&run.stdout);
    assert!(stdout.contains("average of the iterates:  val loss") && stdout.contains("test (average)"), "{stdout}");
    let metrics = std::fs::read_to_string(dir.path().join("run/metrics.csv")).unwrap();
    assert!(metrics.lines().next().unwrap().ends_with(",avg_test_loss,avg_test_error"), "{metrics}");
    let config = std::fs::read_to_string(dir.path().join("run/config.toml")).unwrap();
    assert!(config.contains("average = \"ema:0.99\""), "{config}");

    for (flags, expected) in [
        (&["--average", "ema:1.5"][..], "--average ema:1.5: decay must be in [0, 1), got 1.5"),
        (&["--average", "swa"][..], "--average swa: unknown average 'swa' (expected one of: polyak, ema:DECAY)"),
        (&["--average", "polyak", "--optimizer", "schedule-free-adamw"][..], "average is not for schedule-free-adamw"),
    ] {
        let output = descent(&[&["train", "--out", "never"], flags].concat(), dir.path());
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flags:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(expected), "expected '{expected}' in: {stderr}");
    }
}
