//! Communication between the processes of a data-parallel job: what the trainer and the lab need
//! of MPI (sums over ranks, a broadcast, gathering bytes, a barrier), behind one trait, so that
//! the library needs no MPI and a single process is the trivial case.
//!
//! The MPI implementation lives in the `descent` binary behind its `mpi` feature (rsmpi over Open
//! MPI); [`SingleProcess`] is the one-rank job every plain run is.

/// The ranks of a job and the collective operations among them. Every rank must call each
/// operation in the same order (as with MPI); every rank receives the same bits.
pub trait Collective: Send + Sync {
    /// This process's rank, 0 ≤ rank < size.
    fn rank(&self) -> usize;

    /// The number of ranks.
    fn size(&self) -> usize;

    /// Replaces `values` by their elementwise sum over all ranks.
    fn all_reduce_sum_f32(&self, values: &mut [f32]);

    /// Replaces `values` by their elementwise sum over all ranks.
    fn all_reduce_sum_f64(&self, values: &mut [f64]);

    /// Replaces `values` on every rank by those of rank `root`.
    fn broadcast_f32(&self, values: &mut [f32], root: usize);

    /// Every rank's `bytes`, in rank order, on every rank.
    fn all_gather_bytes(&self, bytes: &[u8]) -> Vec<Vec<u8>>;

    /// Every rank's `values` (of one length on every rank), one after another in rank order,
    /// into `out` (`size() × values.len()` long).
    fn all_gather_f32(&self, values: &[f32], out: &mut [f32]);

    /// As [`all_gather_f32`](Self::all_gather_f32), for f64.
    fn all_gather_f64(&self, values: &[f64], out: &mut [f64]);

    /// Returns once every rank has called it.
    fn barrier(&self);

    /// Whether this is rank 0, the one that prints and writes files.
    fn is_root(&self) -> bool {
        self.rank() == 0
    }

    /// Replaces `values` by their sum over ranks added in rank order, ((r₀ + r₁) + r₂) + …: the
    /// same bits whatever the transport, and the bits of one process adding the same shards in
    /// that order (see [`add_in_order`]). `scratch` holds `size() × values.len()` values. It moves
    /// `size() − 1` copies to each rank where MPI's all-reduce moves about two, so it is the
    /// exact mode, not the fast one.
    fn ordered_sum_f32(&self, values: &mut [f32], scratch: &mut [f32]) {
        if self.size() > 1 {
            self.all_gather_f32(values, scratch);
            add_in_order(scratch.chunks_exact(values.len()), values);
        }
    }

    /// As [`ordered_sum_f32`](Self::ordered_sum_f32), for f64.
    fn ordered_sum_f64(&self, values: &mut [f64], scratch: &mut [f64]) {
        if self.size() > 1 {
            self.all_gather_f64(values, scratch);
            add_in_order(scratch.chunks_exact(values.len()), values);
        }
    }

    /// True on every rank when `flag` is true on any.
    fn any(&self, flag: bool) -> bool {
        if self.size() == 1 {
            return flag;
        }
        let mut value = [f64::from(u8::from(flag))];
        self.all_reduce_sum_f64(&mut value);
        value[0] > 0.0
    }
}

/// A job of one process: every operation is the identity.
#[derive(Debug, Clone, Copy, Default)]
pub struct SingleProcess;

impl Collective for SingleProcess {
    fn rank(&self) -> usize {
        0
    }

    fn size(&self) -> usize {
        1
    }

    fn all_reduce_sum_f32(&self, _: &mut [f32]) {}

    fn all_reduce_sum_f64(&self, _: &mut [f64]) {}

    fn broadcast_f32(&self, _: &mut [f32], _: usize) {}

    fn all_gather_bytes(&self, bytes: &[u8]) -> Vec<Vec<u8>> {
        vec![bytes.to_vec()]
    }

    fn all_gather_f32(&self, values: &[f32], out: &mut [f32]) {
        out.copy_from_slice(values);
    }

    fn all_gather_f64(&self, values: &[f64], out: &mut [f64]) {
        out.copy_from_slice(values);
    }

    fn barrier(&self) {}
}

/// The share of `len` items that rank `rank` of `size` takes: a contiguous range, the first
/// `len % size` ranks taking one more (so shards differ by at most one).
pub fn shard(len: usize, rank: usize, size: usize) -> std::ops::Range<usize> {
    let (base, extra) = (len / size, len % size);
    let start = rank * base + rank.min(extra);
    start..start + base + usize::from(rank < extra)
}

/// `out` = the first part, then each later part added to it elementwise, in order: the one
/// association every exact sum over shards uses, on one process or over ranks.
pub fn add_in_order<'a, T>(mut parts: impl Iterator<Item = &'a [T]>, out: &mut [T])
where
    T: Copy + std::ops::AddAssign + 'a,
{
    if let Some(first) = parts.next() {
        out.copy_from_slice(first);
    }
    for part in parts {
        out.iter_mut().zip(part).for_each(|(sum, &value)| *sum += value);
    }
}

/// The bytes of a gradient bucket: what one all-reduce call carries (4 MiB of f32).
pub const BUCKET_VALUES: usize = 1 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_every_item_once_and_differ_by_at_most_one() {
        for len in [0, 1, 7, 80, 128] {
            for size in 1..=5 {
                let shards: Vec<_> = (0..size).map(|rank| shard(len, rank, size)).collect();
                assert_eq!(shards[0].start, 0);
                assert_eq!(shards[size - 1].end, len);
                assert!(shards.windows(2).all(|pair| pair[0].end == pair[1].start));
                let sizes: Vec<usize> = shards.iter().map(|s| s.len()).collect();
                assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1, "{len} over {size}: {sizes:?}");
            }
        }
        // 80 over 3: 27, 27, 26.
        assert_eq!((shard(80, 0, 3), shard(80, 1, 3), shard(80, 2, 3)), (0..27, 27..54, 54..80));
    }
}
