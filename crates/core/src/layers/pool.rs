//! Max pooling: the largest value of each window, channel by channel. Backward routes each
//! output's gradient to the input position that won (the first of equal maxima), remembered from
//! forward.

use descent_optim::Float;
use rayon::prelude::*;

use super::conv2d::{Padding, Windows};
use super::{worth_splitting, Layer, Shape, TensorSpec};
use crate::linalg::Workspace;

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
        // For each window, every channel at once: the inner loops run over the channels, which
        // are contiguous, so they vectorize.
        let one = |(example, (out, winners)): (usize, (&mut [F], &mut [u32]))| {
            let image = &input[example * in_len..(example + 1) * in_len];
            let pixels = out.chunks_exact_mut(channels).zip(winners.chunks_exact_mut(channels));
            for (o, (best, winner)) in pixels.enumerate() {
                let (oh, ow) = (o / w.output.width, o % w.output.width);
                let mut first = true;
                for i in 0..w.kernel {
                    for j in 0..w.kernel {
                        let Some((r, col)) = w.pixel(oh, ow, i, j) else { continue };
                        let at = (r * w.input.width + col) * channels;
                        let values = &image[at..at + channels];
                        if first {
                            best.copy_from_slice(values);
                            winner.iter_mut().enumerate().for_each(|(c, index)| *index = (at + c) as u32);
                            first = false;
                            continue;
                        }
                        for (c, ((b, index), &x)) in best.iter_mut().zip(winner.iter_mut()).zip(values).enumerate() {
                            if x > *b {
                                *b = x;
                                *index = (at + c) as u32;
                            }
                        }
                    }
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
