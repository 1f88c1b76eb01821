//! The library example (`examples/own_model.rs`) runs as part of the tests.

#[path = "../examples/own_model.rs"]
mod own_model;

#[test]
fn the_own_model_example_learns_the_rings_and_saves_its_run() {
    let dir = tempfile::tempdir().unwrap();
    let summary = own_model::train(Some(dir.path()));
    // A linear model cannot beat ~50% on two rings; the two tanh layers get below 5%.
    let error = summary.final_metrics.unwrap().test_error;
    assert!(error < 0.05, "test error {error}");
    for file in ["config.toml", "metrics.csv", "checkpoint.safetensors", "summary.json"] {
        assert!(dir.path().join(file).is_file(), "{file} missing");
    }
}
