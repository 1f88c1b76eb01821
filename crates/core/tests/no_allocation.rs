//! The steady-state training step (forward, backward, loss, optimizer step) allocates nothing: a
//! global allocator counts every allocation while steps run, the matrix products' packing memory
//! included.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use descent::network::{Activation, LayerSpec, Network};
use descent::rnn::{Rnn, RnnSpec, Targets};
use descent_optim::{Clip, Convention, Init, Optimizer, OptimizerConfig};

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

#[test]
fn a_training_step_allocates_nothing_after_warm_up() {
    let layer = |inputs, outputs, activation| LayerSpec { inputs, outputs, activation, init: Init::HeUniform };
    let specs = vec![
        layer(784, 256, Activation::Relu),
        layer(256, 128, Activation::Tanh),
        layer(128, 10, Activation::Identity),
    ];
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    let mut network = Network::<f32>::new(specs, 64, 1, 2).unwrap();
    let config = OptimizerConfig::named("adam", Convention::Book).unwrap();
    let mut optimizer = Optimizer::from_config(&config).unwrap().with_clip(Some(Clip::GlobalNorm(1.0))).unwrap();
    let input: Vec<f32> = (0..64 * 784).map(|i| (i % 251) as f32 / 251.0).collect();
    let labels: Vec<u32> = (0..64).map(|i| i % 10).collect();
    let mut step = |network: &mut Network<f32>| {
        network.gradients(&input, &labels);
        let Network { params, grads, .. } = network;
        optimizer.step(params, grads, 1e-3).unwrap();
    };
    pool.install(|| {
        let during = allocations_after_warm_up(|| step(&mut network));
        assert_eq!(during, 0, "{during} allocations in 10 steady-state steps");
    });

    // The recurrent model: forward over 28 steps, back-propagation through time, step. (In the
    // same test, so that no other test's allocations are counted meanwhile.)
    let spec =
        RnnSpec { inputs: 28, hidden: 64, outputs: 10, steps: 28, recurrent_init: Init::Orthogonal { gain: 1.0 } };
    let mut rnn = Rnn::<f32>::new(spec, 64, 1).unwrap();
    let mut optimizer = Optimizer::from_config(&config).unwrap();
    let mut step = |rnn: &mut Rnn<f32>| {
        rnn.gradients(&input, Targets::Classes(&labels), 64);
        let Rnn { params, grads, .. } = rnn;
        optimizer.step(params, grads, 1e-3).unwrap();
    };
    let during = allocations_after_warm_up(|| step(&mut rnn));
    assert_eq!(during, 0, "{during} allocations in 10 steady-state RNN steps");
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
