//! An optimizer's state as an owned value you can keep, serialize and load back: what PyTorch's
//! `state_dict()` and Optax's state pytree give, so that a run continues exactly where it stopped.
//!
//! The state is tagged with the rule's family and, where the meaning of the state depends on it,
//! its convention; loading into another rule is refused rather than silently misread. Values are
//! kept as f64, which holds every f32 exactly, so one state serves both precisions.

use serde::{Deserialize, Serialize};

use crate::error::StateError;
use crate::{Convention, Float, Optimizer};

/// The state of an [`Optimizer`]: its step count, its scalars and its per-parameter buffers.
///
/// ```
/// use descent_optim::{Optimizer, OptimizerConfig, OptimizerState, Convention};
///
/// let config = OptimizerConfig::named("adam", Convention::Torch)?;
/// let mut optimizer = Optimizer::<f32>::from_config(&config)?;
/// let mut params = vec![1.0f32, -2.0];
/// optimizer.step(&mut params, &[0.5, 0.25], 1e-3)?;
///
/// let saved: String = serde_json::to_string(&optimizer.state()).unwrap();
/// let mut again = Optimizer::<f32>::from_config(&config)?;
/// again.load(&serde_json::from_str::<OptimizerState>(&saved).unwrap())?;
/// assert_eq!(again.state(), optimizer.state());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptimizerState {
    /// The rule's family ([`Algorithm::name`](crate::Algorithm::name)).
    pub algorithm: String,
    /// The convention, where the state's meaning depends on it (`None` where it changes only
    /// defaults).
    #[serde(default, with = "convention_text", skip_serializing_if = "Option::is_none")]
    pub convention: Option<Convention>,
    /// The parameters the state is for (0 before the first step).
    #[serde(default)]
    pub params: usize,
    /// Scalars by name, the step count first.
    pub scalars: Vec<(String, f64)>,
    /// Per-parameter buffers by name (empty before the first step).
    pub buffers: Vec<(String, Vec<f64>)>,
}

impl<F: Float> Optimizer<F> {
    /// A copy of the state: enough, with the same configuration, to continue exactly.
    pub fn state(&self) -> OptimizerState {
        OptimizerState {
            algorithm: self.algorithm().name().to_string(),
            convention: self.algorithm().convention(),
            params: self.parameter_count().unwrap_or(0),
            scalars: self.state_scalars().into_iter().map(|(name, value)| (name.to_string(), value)).collect(),
            buffers: self
                .state_buffers()
                .map(|(name, values)| (name.to_string(), values.iter().map(|v| v.to_f64()).collect()))
                .collect(),
        }
    }

    /// Replaces the state by `state`, checked against this optimizer's rule: the same family and
    /// convention, every buffer and scalar it keeps and no other, buffers of one length.
    pub fn load(&mut self, state: &OptimizerState) -> Result<(), StateError> {
        let (algorithm, convention) = (self.algorithm().name(), self.algorithm().convention());
        if state.algorithm != algorithm || state.convention != convention {
            let tag = |name: &str, convention: Option<Convention>| match convention {
                Some(convention) => format!("{name} ({convention})"),
                None => name.to_string(),
            };
            return Err(StateError::OtherRule {
                expected: tag(algorithm, convention),
                found: tag(&state.algorithm, state.convention),
            });
        }
        let steps = state.scalars.iter().find(|(name, _)| name == crate::STEP_STATE_NAME).map(|(_, v)| *v);
        if state.params == 0 && steps == Some(0.0) {
            // Saved before the first step: nothing is allocated yet.
            self.reset_state();
            return Ok(());
        }
        // Not a buffer's length: plain SGD keeps none, Adafactor's are row and column factors.
        let len = state.params;
        let buffers: Vec<(&str, Vec<F>)> = state
            .buffers
            .iter()
            .map(|(name, values)| (name.as_str(), values.iter().map(|&v| F::from_f64(v)).collect()))
            .collect();
        let buffers: Vec<(&str, &[F])> = buffers.iter().map(|(name, values)| (*name, &values[..])).collect();
        let scalars: Vec<(&str, f64)> = state.scalars.iter().map(|(name, value)| (name.as_str(), *value)).collect();
        self.load_state(len, &buffers, &scalars)
    }
}

/// A convention as its text form (`book`, `torch`).
mod convention_text {
    use serde::{de, Deserialize, Deserializer, Serializer};

    use crate::Convention;

    pub fn serialize<S: Serializer>(value: &Option<Convention>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(convention) => serializer.serialize_str(convention.name()),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Convention>, D::Error> {
        Option::<String>::deserialize(deserializer)?.map(|text| text.parse().map_err(de::Error::custom)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OptimizerConfig;

    /// Ten steps on a fixed gradient field, g = θ − target.
    fn steps(optimizer: &mut Optimizer<f32>, params: &mut [f32], count: usize) {
        for _ in 0..count {
            let grads: Vec<f32> = params.iter().enumerate().map(|(i, &p)| p - i as f32 * 0.3).collect();
            optimizer.step(params, &grads, 0.01).unwrap();
        }
    }

    #[test]
    fn a_state_saved_as_json_and_loaded_continues_bit_for_bit() {
        // NAdam keeps a scalar (the running μ product) beside its buffers; Adam only buffers.
        // Plain SGD keeps no buffer at all; Lion one; Adafactor factors, not per-parameter values.
        for name in ["adam", "nadam", "momentum", "adadelta", "sgd", "lion", "adafactor", "muon"] {
            let config = OptimizerConfig::named(name, Convention::Torch).unwrap();
            let mut straight = Optimizer::<f32>::from_config(&config).unwrap();
            let mut params = vec![1.0f32, -0.5, 2.0, 0.25];
            steps(&mut straight, &mut params, 10);

            let mut first = Optimizer::<f32>::from_config(&config).unwrap();
            let mut resumed = vec![1.0f32, -0.5, 2.0, 0.25];
            steps(&mut first, &mut resumed, 4);
            let json = serde_json::to_string(&first.state()).unwrap();
            let mut second = Optimizer::<f32>::from_config(&config).unwrap();
            second.load(&serde_json::from_str(&json).unwrap()).unwrap();
            steps(&mut second, &mut resumed, 6);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&resumed), bits(&params), "{name}");
            assert_eq!(second.steps_taken(), 10);
        }
    }

    #[test]
    fn a_state_from_before_the_first_step_loads_as_fresh() {
        let config = OptimizerConfig::named("adam", Convention::Book).unwrap();
        let fresh = Optimizer::<f64>::from_config(&config).unwrap().state();
        assert!(fresh.buffers.is_empty() && fresh.params == 0);
        let mut used = Optimizer::<f64>::from_config(&config).unwrap();
        used.step(&mut [1.0, 2.0], &[0.5, 0.5], 0.1).unwrap();
        used.load(&fresh).unwrap();
        assert_eq!(used.state(), fresh);
        // And it allocates again for another length.
        used.step(&mut [1.0, 2.0, 3.0], &[0.5, 0.5, 0.5], 0.1).unwrap();
        assert_eq!(used.state().buffers[0].1.len(), 3);
    }

    #[test]
    fn a_state_of_another_rule_or_convention_is_refused() {
        let state_of = |name, convention| {
            let mut optimizer =
                Optimizer::<f64>::from_config(&OptimizerConfig::named(name, convention).unwrap()).unwrap();
            optimizer.step(&mut [1.0], &[1.0], 0.1).unwrap();
            optimizer.state()
        };
        let mut adam =
            Optimizer::<f64>::from_config(&OptimizerConfig::named("adam", Convention::Book).unwrap()).unwrap();
        let error = adam.load(&state_of("rmsprop", Convention::Book)).unwrap_err();
        assert_eq!(error.to_string(), "the state is of rmsprop (book), this optimizer is adam (book)");
        let error = adam.load(&state_of("adam", Convention::Torch)).unwrap_err();
        assert_eq!(error.to_string(), "the state is of adam (torch), this optimizer is adam (book)");
        let mut damaged = state_of("adam", Convention::Book);
        damaged.buffers[1].1.push(0.0);
        assert!(matches!(adam.load(&damaged), Err(StateError::WrongLength { .. })));
        // Only a state with no parameters and no step loads as fresh: one that counts a step
        // but no parameters is damaged.
        let mut damaged = state_of("adam", Convention::Book);
        damaged.params = 0;
        assert!(matches!(adam.load(&damaged), Err(StateError::WrongLength { .. })));
    }
}
