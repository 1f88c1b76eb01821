//! The library examples (`examples/*.rs`) run as part of the tests.

#[path = "../examples/optimizer_on_vectors.rs"]
mod optimizer_on_vectors;
#[path = "../examples/own_model.rs"]
mod own_model;
#[path = "../examples/stop_and_resume.rs"]
mod stop_and_resume;

use descent::Model;

fn bits(model: &dyn Model) -> Vec<u32> {
    model.params().iter().map(|x| x.to_bits()).collect()
}

#[test]
fn a_model_of_ones_own_layers_and_loss_trains_stops_resumes_exactly_and_predicts() {
    let (straight, interrupted) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut once = own_model::train(straight.path(), 12, None).unwrap();
    let mut twice = own_model::train(interrupted.path(), 12, Some(50)).unwrap();
    assert_eq!(bits(once.model()), bits(twice.model()), "stopped at update 50 and resumed: not the same parameters");
    let metrics = |t: &descent::Trainer| {
        t.metrics().iter().map(|m| descent::train::EpochMetrics { seconds: 0.0, ..m.clone() }).collect::<Vec<_>>()
    };
    assert_eq!(metrics(&once), metrics(&twice), "the interrupted epoch's running sums continue too");
    // A linear model cannot beat ~50% on two rings; the two swish layers get below 5%.
    let error = once.metrics().last().unwrap().test_error;
    assert!(error < 0.05, "test error {error}");
    // Predictions: the ring of radius 0.5 is class 0, the ring of radius 1 class 1.
    let scores = twice.predict(&[0.5, 0.0, 0.0, -0.5, 1.0, 0.0, 0.0, -1.0]).unwrap();
    let classes: Vec<usize> = scores.chunks(2).map(|s| usize::from(s[1] > s[0])).collect();
    assert_eq!(classes, [0, 0, 1, 1]);
    assert_eq!(once.evaluate(&own_model::rings(100, 2)).unwrap(), twice.evaluate(&own_model::rings(100, 2)).unwrap());
    for file in ["config.toml", "metrics.csv", "checkpoint.safetensors", "summary.json"] {
        assert!(interrupted.path().join(file).is_file(), "{file} missing");
    }
    // The folder records the model as the caller's own; resuming without it says what to do.
    let error = descent::Trainer::resume(interrupted.path(), None).err().unwrap().to_string();
    assert!(error.contains("Trainer::resume_with"), "{error}");
}

#[test]
fn optimizers_on_plain_vectors_save_and_resume_their_state_exactly() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["adam", "nesterov", "rmsprop", "sgd", "lion"] {
        let (straight, resumed) = optimizer_on_vectors::fit(name, &dir.path().join(format!("{name}.json"))).unwrap();
        assert_eq!(
            straight.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            resumed.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            "{name}"
        );
    }
}

#[test]
fn an_observer_stops_the_trainer_and_the_run_resumes_from_its_folder() {
    let dir = tempfile::tempdir().unwrap();
    let (stopped, finished) = stop_and_resume::run(dir.path()).unwrap();
    assert!(stopped.stopped_by_observer && !finished.stopped_by_observer);
    assert!(stopped.steps < finished.steps);
    assert_eq!(finished.epochs, 3);
    // And the resumed run is the run that was never stopped.
    let mut config = descent::TrainConfig::for_problem("mnist-logreg").unwrap();
    (config.epochs, config.threads, config.clip) = (3, 1, Some(descent::optim::Clip::GlobalNorm(5.0)));
    let splits = descent::Splits::load(&config).unwrap();
    let mut straight = descent::Trainer::new(config, splits).unwrap();
    straight.run(None, &mut |_| {}).unwrap();
    let resumed = descent::Trainer::resume(dir.path(), None).unwrap();
    assert_eq!(bits(resumed.model()), bits(straight.model()));
}
