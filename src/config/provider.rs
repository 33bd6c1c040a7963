//! Which quote provider `[market] provider` names.
//!
//! Lives in `config` because resolving the config needs it (the name, and
//! whether a provider needs an API key); `quotes` builds on it. What only
//! the quote client needs to know (batch sizes, billing) is implemented in
//! `quotes`, beside the client that uses it.

use std::fmt;
use std::str::FromStr;

/// The quote providers we have clients for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProviderKind {
    Yahoo,
    Finnhub,
    TwelveData,
    Stooq,
    AlphaVantage,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 5] = [
        ProviderKind::Yahoo,
        ProviderKind::Finnhub,
        ProviderKind::TwelveData,
        ProviderKind::Stooq,
        ProviderKind::AlphaVantage,
    ];

    /// The name used in config, logs and the `provider` attribute of our output.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Yahoo => "yahoo",
            ProviderKind::Finnhub => "finnhub",
            ProviderKind::TwelveData => "twelvedata",
            ProviderKind::Stooq => "stooq",
            ProviderKind::AlphaVantage => "alphavantage",
        }
    }

    /// Whether a request without an API key is pointless. Stooq's key is
    /// sent when configured but not required here: whether it is needed has
    /// changed twice in 2026, and a missing one shows up as `Blocked`.
    pub fn needs_api_key(self) -> bool {
        matches!(
            self,
            ProviderKind::Finnhub | ProviderKind::TwelveData | ProviderKind::AlphaVantage
        )
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A provider name in config that we have no client for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown quote provider {0:?} (expected one of yahoo, finnhub, twelvedata, stooq, alphavantage)"
)]
pub struct UnknownProvider(pub String);

impl FromStr for ProviderKind {
    type Err = UnknownProvider;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProviderKind::ALL
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownProvider(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_names_round_trip() {
        for kind in ProviderKind::ALL {
            assert_eq!(kind.as_str().parse::<ProviderKind>(), Ok(kind));
        }
        assert_eq!("TwelveData".parse(), Ok(ProviderKind::TwelveData));
        assert!("iexcloud".parse::<ProviderKind>().is_err());
    }
}
