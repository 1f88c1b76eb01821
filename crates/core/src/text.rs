//! Serde for settings written as text: a type with `Display` and `FromStr` is stored as its text
//! form (`init = "glorot-uniform"`, `clip = "global-norm:1"`), so that files read as the flags
//! are written, and a typed value in memory parses what the command line accepts.
//!
//! Use as `#[serde(with = "crate::text")]`, or [`optional`] for an `Option`.

use std::fmt::Display;
use std::str::FromStr;

use serde::{de, Deserialize, Deserializer, Serializer};

/// Writes the value's text form.
pub fn serialize<T: Display, S: Serializer>(value: &T, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

/// Parses the text form, with the type's own error message.
pub fn deserialize<'de, T, D>(deserializer: D) -> Result<T, D::Error>
where
    T: FromStr,
    T::Err: Display,
    D: Deserializer<'de>,
{
    String::deserialize(deserializer)?.parse().map_err(de::Error::custom)
}

/// The same for an optional value: absent when `None`.
pub mod optional {
    use super::*;

    /// Writes the value's text form, or nothing.
    pub fn serialize<T: Display, S: Serializer>(value: &Option<T>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => serializer.collect_str(value),
            None => serializer.serialize_none(),
        }
    }

    /// Parses the text form if present.
    pub fn deserialize<'de, T, D>(deserializer: D) -> Result<Option<T>, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        Option::<String>::deserialize(deserializer)?.map(|text| text.parse().map_err(de::Error::custom)).transpose()
    }
}
