//! [`Secret`]: an API key that never prints; [`UnsetSecret`]: one whose
//! environment variable was not set when the config was loaded.
//!
//! Config structs holding one are logged whole (`Debug`), so `Debug` and
//! `Display` print `****`. Equality compares the real value: a reload must
//! notice a changed key even though both print the same.
//!
//! Secrets live in a root-only environment file, so a command that only
//! reads the archive loads the config without them
//! (`Config::load_leaving_unset`): each unset one is kept as an
//! [`UnsetSecret`], saying what needs it, and a command that would use it
//! refuses to start (`Config::require_secrets`) with the problem `check`
//! reports.

use std::fmt;

use super::Problem;

/// An API key. Prints as `****` in `Debug` and `Display`, so it can sit in
/// config structs that get logged; compares by its value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(key: impl Into<String>) -> Self {
        Secret(key.into())
    }

    /// The key itself, for building a request. Never log the result.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(key: String) -> Self {
        Secret(key)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

/// What a secret read from the environment is for, and so which commands
/// need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretUse {
    /// `[market] api_key_env`: every request to the quote provider.
    Market,
    /// A `${NAME}` in this feed's `url`: fetching it. Its `url` holds
    /// `****` where the value would be (`0` in a port, where `****`
    /// cannot stand), so nothing may fetch or register it.
    Feed(String),
    /// This alert's `secret_env`: signing its messages.
    Alert(String),
}

/// A secret whose environment variable was unset (or empty) when the
/// config was loaded: the field that would hold it holds none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsetSecret {
    pub used_by: SecretUse,
    /// What `check` reports: the key, its line and the variable.
    pub problem: Problem,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints() {
        let key = Secret::new("sk_live_123");
        assert_eq!(format!("{key}"), "****");
        assert_eq!(format!("{key:?}"), "****");
        assert_eq!(format!("{:?}", Some(key.clone())), "Some(****)");
        assert_eq!(key.expose(), "sk_live_123");
    }

    #[test]
    fn secrets_compare_by_value() {
        assert_eq!(Secret::new("a"), Secret::new("a"));
        assert_ne!(Secret::new("a"), Secret::new("b"));
    }
}
