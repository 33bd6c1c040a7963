//! [`Secret`]: an API key that never prints.
//!
//! Config structs holding one are logged whole (`Debug`), so `Debug` and
//! `Display` print `****`. Equality compares the real value: a reload must
//! notice a changed key even though both print the same.

use std::fmt;

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
