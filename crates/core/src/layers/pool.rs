//! Max pooling: the largest value of each window, channel by channel. Backward routes each
//! output's gradient to the input position that won (the first of equal maxima), remembered from
//! forward.

use descent_optim::Float;
use rayon::prelude::*;

use super::conv2d::{Padding, Windows};
use super::{worth_splitting, Layer, Shape, TensorSpec};
use crate::linalg::Workspace;

/// Channels a pooling window compares at once.
const LANES: usize = 8;

/// Max pooling over `size × size` windows (padding never wins: a `same` window that hangs over
/// the edge takes the maximum of the part inside).
pub struct MaxPool2d {
    windows: Windows,
    padding: Padding,
    /// For each output value, the index within its example's input of the value that won.
    winners: Vec<u32>,
}

impl MaxPool2d {
    /// Pooling from `input` to `output` with windows of `size` and `stride`, remembering the
    /// winners of up to `max_batch` examples.
    pub fn new(input: Shape, output: Shape, size: usize, stride: usize, padding: Padding, max_batch: usize) -> Self {
        let windows = Windows::new(input, output, size, stride, padding);
        MaxPool2d { windows, padding, winners: vec![0; max_batch * output.len()] }
    }
}

impl<F: Float> Layer<F> for MaxPool2d {
    fn describe(&self) -> String {
        let w = &self.windows;
        format!("max-pool {k}×{k}, stride {}, {}", w.stride, self.padding, k = w.kernel)
    }

    fn output_shape(&self) -> Shape {
        self.windows.output
    }

    fn tensors(&self) -> Vec<TensorSpec> {
        Vec::new()
    }

    fn forward(&mut self, _: &[F], input: &[F], output: &mut [F], batch: usize, _: &mut Workspace<F>) {
        let w = self.windows;
        let (in_len, out_len) = (w.input.len(), w.output.len());
        let channels = w.input.channels;
        // For each window, every channel at once, eight channels at a time held in local arrays:
        // the inner loop runs over the eight (contiguous in NHWC) with selects, not branches, so
        // it vectorizes. Kept in `best` and `winner` themselves, the compiler made each update a
        // conditional store, element by element.
        let one = |(example, (out, winners)): (usize, (&mut [F], &mut [u32]))| {
            let image = &input[example * in_len..(example + 1) * in_len];
            let pixels = out.chunks_exact_mut(channels).zip(winners.chunks_exact_mut(channels));
            for (o, (best, winner)) in pixels.enumerate() {
                let (oh, ow) = (o / w.output.width, o % w.output.width);
                let blocks = best.chunks_mut(LANES).zip(winner.chunks_mut(LANES));
                for (block, (best, winner)) in blocks.enumerate() {
                    let c0 = block * LANES;
                    let (mut top, mut index) = ([F::ZERO; LANES], [0u32; LANES]);
                    let mut first = true;
                    for i in 0..w.kernel {
                        for j in 0..w.kernel {
                            let Some((r, col)) = w.pixel(oh, ow, i, j) else { continue };
                            let at = (r * w.input.width + col) * channels + c0;
                            // Lanes past the block's channels are read where they exist and ignored.
                            let values: [F; LANES] = match image[at..].first_chunk() {
                                Some(&whole) => whole,
                                None => std::array::from_fn(|l| if l < best.len() { image[at + l] } else { F::ZERO }),
                            };
                            for l in 0..LANES {
                                let wins = first || values[l] > top[l];
                                top[l] = if wins { values[l] } else { top[l] };
                                index[l] = if wins { (at + l) as u32 } else { index[l] };
                            }
                            first = false;
                        }
                    }
                    best.iter_mut().zip(top).for_each(|(b, t)| *b = t);
                    winner.iter_mut().zip(index).for_each(|(w, i)| *w = i);
                }
            }
        };
        let (outputs, winners) = (&mut output[..batch * out_len], &mut self.winners[..batch * out_len]);
        if worth_splitting(batch * in_len) {
            outputs.par_chunks_exact_mut(out_len).zip(winners.par_chunks_exact_mut(out_len)).enumerate().for_each(one);
        } else {
            outputs.chunks_exact_mut(out_len).zip(winners.chunks_exact_mut(out_len)).enumerate().for_each(one);
        }
    }

    fn backward(
        &mut self,
        _: &[F],
        _: &[F],
        _: &[F],
        output_grad: &mut [F],
        _: &mut [F],
        input_grad: Option<&mut [F]>,
        batch: usize,
        _: &mut Workspace<F>,
    ) {
        let Some(input_grad) = input_grad else { return };
        let (in_len, out_len) = (self.windows.input.len(), self.windows.output.len());
        let (winners, output_grad): (&[u32], &[F]) = (&self.winners, output_grad);
        let one = |(example, image): (usize, &mut [F])| {
            image.fill(F::ZERO);
            let range = example * out_len..(example + 1) * out_len;
            for (&winner, &g) in winners[range.clone()].iter().zip(&output_grad[range]) {
                image[winner as usize] += g;
            }
        };
        let images = &mut input_grad[..batch * in_len];
        if worth_splitting(batch * in_len) {
            images.par_chunks_exact_mut(in_len).enumerate().for_each(one);
        } else {
            images.chunks_exact_mut(in_len).enumerate().for_each(one);
        }
    }

    fn scratch_bytes(&self, batch: usize) -> usize {
        batch * self.windows.output.len() * std::mem::size_of::<u32>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One 2×2 window over ten channels (a block of eight and a partial block of two): each
    /// channel's maximum, the first of equal maxima winning, found by hand; backward sends each
    /// channel's gradient to its winner only.
    #[test]
    fn each_channel_takes_its_own_maximum_and_the_first_of_ties() {
        let (input, output) = (Shape::image(2, 2, 10), Shape::image(1, 1, 10));
        let mut pool = MaxPool2d::new(input, output, 2, 2, Padding::Valid, 1);
        // Pixel p, channel c at p·10 + c. Channel c's values over the four pixels, and its winner:
        let channels: [[f32; 4]; 10] = [
            [2.0, 2.0, 2.0, 2.0],     // all tied: pixel 0
            [1.0, 3.0, 2.0, 4.0],     // pixel 3
            [-5.0, -1.0, -3.0, -2.0], // all negative: pixel 1
            [9.0, 1.0, 1.0, 1.0],     // pixel 0
            [0.0, 0.0, 7.0, 7.0],     // tie after the first: pixel 2
            [1.0, 2.0, 3.0, 4.0],     // pixel 3
            [4.0, 3.0, 2.0, 1.0],     // pixel 0
            [1.0, 8.0, 8.0, 1.0],     // pixel 1
            [0.0, 6.0, 5.0, 6.0],     // partial block, tie: pixel 1
            [-4.0, -3.0, -1.0, -2.0], // partial block: pixel 2
        ];
        let winners = [0, 3, 1, 0, 2, 3, 0, 1, 1, 2];
        let x: Vec<f32> = (0..40).map(|i| channels[i % 10][i / 10]).collect();
        let mut y = vec![f32::NAN; 10];
        let mut workspace = Workspace::new(1);
        Layer::<f32>::forward(&mut pool, &[], &x, &mut y, 1, &mut workspace);
        let expected: Vec<f32> = (0..10).map(|c| channels[c][winners[c]]).collect();
        assert_eq!(y, expected);
        let mut output_grad: Vec<f32> = (1..=10).map(|c| c as f32).collect();
        let mut input_grad = vec![f32::NAN; 40];
        Layer::<f32>::backward(
            &mut pool,
            &[],
            &x,
            &y,
            &mut output_grad,
            &mut [],
            Some(&mut input_grad),
            1,
            &mut workspace,
        );
        for (i, &g) in input_grad.iter().enumerate() {
            let (pixel, c) = (i / 10, i % 10);
            let expected = if winners[c] == pixel { (c + 1) as f32 } else { 0.0 };
            assert_eq!(g, expected, "pixel {pixel} channel {c}");
        }
    }
}
