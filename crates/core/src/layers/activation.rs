//! Nonlinearities: fused into dense and convolutional layers (one pass over the output instead
//! of two), or on their own as an [`ActivationLayer`].

use std::fmt;
use std::str::FromStr;

use descent_optim::Float;
use serde::{Deserialize, Serialize};

use super::{Layer, Shape, TensorSpec};
use crate::linalg::Workspace;
use crate::Error;

/// An elementwise nonlinearity. Each derivative is written in terms of the output y, so backward
/// needs only the stored outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// y = z.
    Identity,
    /// y = max(0, z); y′ = 1 where y > 0, else 0.
    Relu,
    /// y = tanh z; y′ = 1 − y².
    Tanh,
    /// y = 1/(1 + e⁻ᶻ); y′ = y(1 − y).
    Sigmoid,
}

impl Activation {
    /// y for z.
    #[inline(always)]
    pub fn apply<F: Float>(self, z: F) -> F {
        match self {
            Activation::Identity => z,
            Activation::Relu => {
                if z > F::ZERO {
                    z
                } else {
                    F::ZERO
                }
            }
            Activation::Tanh => z.tanh(),
            Activation::Sigmoid => F::ONE / (F::ONE + (-z).fast_exp()),
        }
    }

    /// dy/dz as a function of y.
    #[inline(always)]
    pub fn derivative<F: Float>(self, y: F) -> F {
        match self {
            Activation::Identity => F::ONE,
            Activation::Relu => {
                if y > F::ZERO {
                    F::ONE
                } else {
                    F::ZERO
                }
            }
            Activation::Tanh => F::ONE - y * y,
            Activation::Sigmoid => y * (F::ONE - y),
        }
    }

    /// Multiplies ∂L/∂y by dy/dz in place, turning it into ∂L/∂z.
    pub(crate) fn back<F: Float>(self, grad: &mut [F], outputs: &[F]) {
        if self != Activation::Identity {
            grad.iter_mut().zip(outputs).for_each(|(d, &y)| *d *= self.derivative(y));
        }
    }
}

impl<F: Float> descent_optim::elementwise::Map<F> for Activation {
    #[inline(always)]
    fn apply(&self, z: F) -> F {
        Activation::apply(*self, z)
    }
}

impl FromStr for Activation {
    type Err = Error;
    fn from_str(name: &str) -> Result<Self, Error> {
        match name {
            "identity" => Ok(Activation::Identity),
            "relu" => Ok(Activation::Relu),
            "tanh" => Ok(Activation::Tanh),
            "sigmoid" => Ok(Activation::Sigmoid),
            _ => Err(Error::Invalid {
                field: "activation",
                message: "must be identity, relu, tanh or sigmoid",
                value: name.to_string(),
            }),
        }
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Activation::Identity => "identity",
            Activation::Relu => "relu",
            Activation::Tanh => "tanh",
            Activation::Sigmoid => "sigmoid",
        })
    }
}

/// A nonlinearity as a layer of its own, for compositions that want one between other layers.
#[derive(Debug, Clone)]
pub struct ActivationLayer {
    activation: Activation,
    shape: Shape,
}

impl ActivationLayer {
    /// `activation` on inputs of `shape`.
    pub fn new(activation: Activation, shape: Shape) -> Self {
        ActivationLayer { activation, shape }
    }
}

impl<F: Float> Layer<F> for ActivationLayer {
    fn describe(&self) -> String {
        self.activation.to_string()
    }

    fn output_shape(&self) -> Shape {
        self.shape
    }

    fn tensors(&self) -> Vec<TensorSpec> {
        Vec::new()
    }

    fn forward(&mut self, _: &[F], input: &[F], output: &mut [F], batch: usize, _: &mut Workspace<F>) {
        let len = batch * self.shape.len();
        output[..len].iter_mut().zip(&input[..len]).for_each(|(y, &z)| *y = self.activation.apply(z));
    }

    fn backward(
        &mut self,
        _: &[F],
        _: &[F],
        output: &[F],
        output_grad: &mut [F],
        _: &mut [F],
        input_grad: Option<&mut [F]>,
        batch: usize,
        _: &mut Workspace<F>,
    ) {
        let len = batch * self.shape.len();
        if let Some(input_grad) = input_grad {
            input_grad[..len].copy_from_slice(&output_grad[..len]);
            self.activation.back(&mut input_grad[..len], &output[..len]);
        }
    }
}
