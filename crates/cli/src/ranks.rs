//! The job this process belongs to: one process, or one rank of an MPI job (`mpirun -n N
//! descent ...`) when the binary is built with `--features mpi`.
//!
//! Rank 0 prints and writes files; the other ranks compute and stay silent on stdout.

use std::sync::{Arc, OnceLock};

use descent::collective::{Collective, SingleProcess};

static JOB: OnceLock<Arc<dyn Collective>> = OnceLock::new();

/// Ends every rank of the job with `code` (MPI_Abort): what a rank that fails alone must do,
/// since the others would wait for it in their next collective call. Outside MPI: nothing.
pub fn abort(code: i32) {
    #[cfg(feature = "mpi")]
    if let Some(mpi) = mpi_job::WORLD.get() {
        mpi.abort(code);
    }
    let _ = code;
}

/// The job's collective operations ([`SingleProcess`] outside MPI).
pub fn collective() -> Arc<dyn Collective> {
    JOB.get().cloned().unwrap_or_else(|| Arc::new(SingleProcess))
}

/// Ranks an MPI launcher (Open MPI, MPICH, Slurm's PMI) says this process's job has.
fn launched_ranks() -> Option<usize> {
    ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"].iter().find_map(|name| std::env::var(name).ok()?.parse().ok())
}

/// What keeps MPI alive until `main` returns (finalized when dropped).
pub struct Job {
    #[cfg(feature = "mpi")]
    _universe: Option<mpi::environment::Universe>,
}

/// Joins the MPI job if this process was launched in one. A binary built without MPI that is
/// launched as one of several ranks says how to build one with it.
pub fn start() -> Result<Job, String> {
    #[cfg(feature = "mpi")]
    {
        if launched_ranks().is_none() {
            return Ok(Job { _universe: None });
        }
        let (universe, threading) = mpi::initialize_with_threading(mpi::Threading::Serialized)
            .ok_or("MPI could not be initialized (was it already?)")?;
        // Calls come from the training thread and the gradient-summing thread, one at a time.
        if threading < mpi::Threading::Serialized {
            return Err(format!("this MPI offers threading level {threading:?}; descent needs Serialized"));
        }
        let world = Arc::new(mpi_job::Mpi::new(universe.world()));
        let _ = mpi_job::WORLD.set(world.clone());
        let _ = JOB.set(world);
        Ok(Job { _universe: Some(universe) })
    }
    #[cfg(not(feature = "mpi"))]
    {
        match launched_ranks() {
            Some(ranks) if ranks > 1 => Err(format!(
                "launched as one of {ranks} MPI ranks, but this descent was built without MPI: build it with \
                 `cargo build --release -p descent-cli --features mpi` (needs libopenmpi-dev and libclang-dev)"
            )),
            _ => Ok(Job {}),
        }
    }
}

#[cfg(feature = "mpi")]
mod mpi_job {
    use std::sync::Mutex;

    use descent::collective::Collective;
    use mpi::collective::SystemOperation;
    use mpi::datatype::PartitionMut;
    use mpi::topology::SimpleCommunicator;
    use mpi::traits::*;
    use mpi::Count;

    /// The job's world, for [`abort`](super::abort).
    pub static WORLD: std::sync::OnceLock<std::sync::Arc<Mpi>> = std::sync::OnceLock::new();

    /// `MPI_COMM_WORLD` with send buffers kept between calls (so that a sum allocates nothing
    /// once they have grown). MPI is initialized with `MPI_THREAD_SERIALIZED`: calls may come
    /// from any thread, one at a time, which `calls` enforces; rank and size are read once.
    pub struct Mpi {
        world: SimpleCommunicator,
        rank: usize,
        size: usize,
        calls: Mutex<(Vec<f32>, Vec<f64>)>,
    }

    // SAFETY: the communicator is a handle that MPI lets any thread use when calls are
    // serialized; `start` refuses an MPI that does not provide MPI_THREAD_SERIALIZED, and every
    // call but abort goes through the `calls` mutex (abort may come from any thread at any time,
    // which MPI allows: it ends the job).
    #[allow(unsafe_code)]
    unsafe impl Send for Mpi {}
    #[allow(unsafe_code)]
    unsafe impl Sync for Mpi {}

    impl Mpi {
        pub fn new(world: SimpleCommunicator) -> Self {
            let (rank, size) = (world.rank() as usize, world.size() as usize);
            Mpi { world, rank, size, calls: Mutex::new((Vec::new(), Vec::new())) }
        }

        /// MPI_Abort on the world: every rank ends with `code`.
        pub fn abort(&self, code: i32) {
            self.world.abort(code)
        }
    }

    impl Collective for Mpi {
        fn rank(&self) -> usize {
            self.rank
        }

        fn size(&self) -> usize {
            self.size
        }

        fn all_reduce_sum_f32(&self, values: &mut [f32]) {
            let mut calls = self.calls.lock().expect("no MPI call panics");
            let send = &mut calls.0;
            send.clear();
            send.extend_from_slice(values);
            self.world.all_reduce_into(&send[..], values, SystemOperation::sum());
        }

        fn all_reduce_sum_f64(&self, values: &mut [f64]) {
            let mut calls = self.calls.lock().expect("no MPI call panics");
            let send = &mut calls.1;
            send.clear();
            send.extend_from_slice(values);
            self.world.all_reduce_into(&send[..], values, SystemOperation::sum());
        }

        fn broadcast_f32(&self, values: &mut [f32], root: usize) {
            let _calls = self.calls.lock().expect("no MPI call panics");
            self.world.process_at_rank(root as i32).broadcast_into(values);
        }

        fn all_gather_bytes(&self, bytes: &[u8]) -> Vec<Vec<u8>> {
            let _calls = self.calls.lock().expect("no MPI call panics");
            let size = self.world.size() as usize;
            let mut counts: Vec<Count> = vec![0; size];
            self.world.all_gather_into(&(bytes.len() as Count), &mut counts[..]);
            let displacements: Vec<Count> = counts
                .iter()
                .scan(0, |offset, &count| {
                    let start = *offset;
                    *offset += count;
                    Some(start)
                })
                .collect();
            let total: usize = counts.iter().map(|&c| c as usize).sum();
            if total == 0 {
                // Nothing to move (every rank agreeing, say): Open MPI refuses empty buffers.
                return vec![Vec::new(); size];
            }
            let mut all = vec![0u8; total];
            {
                let mut partition = PartitionMut::new(&mut all[..], &counts[..], &displacements[..]);
                self.world.all_gather_varcount_into(bytes, &mut partition);
            }
            displacements
                .iter()
                .zip(&counts)
                .map(|(&start, &count)| all[start as usize..][..count as usize].to_vec())
                .collect()
        }

        fn all_gather_f32(&self, values: &[f32], out: &mut [f32]) {
            let _calls = self.calls.lock().expect("no MPI call panics");
            self.world.all_gather_into(values, out);
        }

        fn all_gather_f64(&self, values: &[f64], out: &mut [f64]) {
            let _calls = self.calls.lock().expect("no MPI call panics");
            self.world.all_gather_into(values, out);
        }

        fn barrier(&self) {
            let _calls = self.calls.lock().expect("no MPI call panics");
            self.world.barrier();
        }
    }
}
