//! The steady-state training step (gather, forward, backward, loss, optimizer step) allocates
//! nothing, for every model of the registry: a global allocator counts every allocation while
//! steps run, the matrix products' packing memory and the convolutions' patches included.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use descent::config::TrainConfig;
use descent::train::{Splits, Trainer};

struct Counting;
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Every model in one test, so that no other test's allocations are counted meanwhile: dense
/// (mnist-mlp, with clipping), convolutional (mnist-2c2d), the autoencoder (sigmoid
/// cross-entropy against the inputs), the noisy quadratic (a layer of its own) and the RNN; the
/// averages of the iterates (Polyak's and the EMA), updated after every step; and a batch summed
/// over shards in order.
#[test]
fn a_training_step_allocates_nothing_after_warm_up() {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    // (problem, optimizer, average of the iterates, shards of each batch summed in order)
    let runs = [
        ("mnist-mlp", "adam", None, None),
        ("mnist-2c2d", "adam", None, None),
        ("mnist-autoencoder", "adam", None, None),
        ("quadratic-deep", "adam", None, None),
        ("mnist-rnn", "adam", None, None),
        ("mnist-mlp", "adafactor", None, None),
        ("mnist-mlp", "muon", None, None),
        ("mnist-rnn", "muon", None, None),
        ("mnist-mlp", "momentum", Some("polyak"), None),
        ("quadratic-deep", "adam", Some("ema:0.999"), None),
        ("mnist-mlp", "adam", None, Some(4)),
    ];
    for (problem, optimizer, average, shards) in runs {
        let mut config = TrainConfig::for_problem(problem).unwrap();
        config.optimizer = optimizer.into();
        config.average = average.map(|text| text.parse().unwrap());
        config.shards = shards;
        if optimizer == "muon" && problem == "mnist-mlp" {
            // Matrices still (784 → 64 → 32 → 10), but Newton–Schulz on the default 1000 × 784
            // layer would cost seconds per step.
            config.hidden = vec![64, 32];
        }
        config.batch = 32;
        config.threads = 2;
        if problem == "mnist-mlp" {
            config.clip = Some(descent::optim::Clip::GlobalNorm(1.0));
        }
        let splits = Splits::load(&config).unwrap();
        let mut trainer = Trainer::new(config, splits).unwrap();
        let mut index = 0;
        let during = pool.install(|| {
            allocations_after_warm_up(|| {
                trainer.train_on_batch(index).unwrap();
                index += 1;
            })
        });
        assert_eq!(
            during, 0,
            "{problem} with {optimizer} ({average:?}, {shards:?} shards): {during} allocations in 10 steady-state steps"
        );
    }
}

/// Allocations made by 10 calls of `step` after 3 warm-up calls.
fn allocations_after_warm_up(mut step: impl FnMut()) -> usize {
    for _ in 0..3 {
        step();
    }
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    for _ in 0..10 {
        step();
    }
    ALLOCATIONS.load(Ordering::SeqCst) - before
}
