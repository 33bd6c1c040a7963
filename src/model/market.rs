//! The market's domain types: which provider a quote came from, which part
//! of the trading day it belongs to, and the quote itself with its one
//! normal form. Config names providers, the quote clients build quotes, the
//! store keeps them and the board reads them back, so they live here where
//! all of them may import them. What only the quote client needs to know
//! about a provider (batch sizes, billing) is implemented in `quotes`.
//! [`ShownChange`] is how every page, feed and command writes a change in
//! percent, here so that a view's dry run (`select`) writes it as the
//! pages do.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rust_decimal::{Decimal, RoundingStrategy};

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

/// Which part of the trading day a quote belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Session {
    Pre,
    Regular,
    Post,
    Closed,
    Unknown,
}

impl Session {
    /// The value of the `session` attribute in our output.
    pub fn as_str(self) -> &'static str {
        match self {
            Session::Pre => "pre",
            Session::Regular => "regular",
            Session::Post => "post",
            Session::Closed => "closed",
            Session::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A point of a price reaction: how long after an item arrived the price
/// is read (`quotes::reactions` defines each in trading time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Horizon {
    /// When the item arrived, or the next open if the market was closed.
    Then,
    /// 15 minutes of trading after `Then`.
    Min15,
    /// One hour of trading after `Then`.
    Hour1,
    /// The same point of the next trading day.
    Day1,
    /// The close of the session `Then` falls in.
    Close,
}

impl Horizon {
    pub const ALL: [Horizon; 5] = [
        Horizon::Then,
        Horizon::Min15,
        Horizon::Hour1,
        Horizon::Day1,
        Horizon::Close,
    ];

    /// The name in the archive's `item_reactions.horizon` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Horizon::Then => "then",
            Horizon::Min15 => "15m",
            Horizon::Hour1 => "1h",
            Horizon::Day1 => "1d",
            Horizon::Close => "close",
        }
    }

    pub fn from_name(name: &str) -> Option<Horizon> {
        Horizon::ALL.into_iter().find(|h| h.as_str() == name)
    }
}

/// One price snapshot of one instrument from one provider.
///
/// Built by a provider's `parse` and passed through [`Quote::normalized`], so
/// prices are in major units and `change`/`change_percent` are filled in
/// whenever a previous close is known. Change is always against the same
/// provider's previous close: providers are never mixed within a quote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    /// Our configured symbol. A provider's `parse` puts the provider symbol
    /// here; [`ProviderClient::fetch`](crate::quotes::client::ProviderClient::fetch)
    /// replaces it with ours.
    pub symbol: String,
    /// The symbol as the provider spells it (`VOD.L`, `vod.uk`, `VOD.LON`).
    pub provider_symbol: String,
    pub provider: ProviderKind,
    pub price: Decimal,
    /// `price - previous_close`, in the same unit as `price`.
    pub change: Option<Decimal>,
    /// Signed, in percent (`2.12` means +2.12 %).
    pub change_percent: Option<Decimal>,
    /// ISO 4217 code when the provider says; `None` when it does not
    /// (Finnhub, Stooq, Alpha Vantage): we never guess.
    pub currency: Option<String>,
    pub previous_close: Option<Decimal>,
    /// The provider's time for this price (last trade, or the trading day for
    /// end-of-day data).
    pub as_of: Option<DateTime<Utc>>,
    /// When we received it.
    pub fetched_at: DateTime<Utc>,
    pub session: Session,
    /// The provider says the price is struck once a day, after the close
    /// (Yahoo's `instrumentType` `MUTUALFUND`: a fund's NAV); the board
    /// judges it by its day, not against the session's clock.
    pub daily: bool,
}

/// Minor currency units some providers quote in, with their major unit.
/// Case matters: `GBp` is pence but `GBP` is pounds.
const MINOR_UNITS: &[(&str, &str)] = &[
    ("GBp", "GBP"),
    ("GBX", "GBP"),
    ("GBx", "GBP"),
    ("ZAc", "ZAR"),
    ("ZAC", "ZAR"),
    ("ILA", "ILS"),
];

/// Decimal places kept when we compute a change percent ourselves; providers
/// that send one use four or five.
const CHANGE_PERCENT_DP: u32 = 4;

impl Quote {
    /// A quote with only the price known; providers fill in the rest and
    /// call [`Quote::normalized`].
    pub fn new(
        provider: ProviderKind,
        provider_symbol: &str,
        price: Decimal,
        fetched_at: DateTime<Utc>,
    ) -> Self {
        Quote {
            symbol: provider_symbol.to_owned(),
            provider_symbol: provider_symbol.to_owned(),
            provider,
            price,
            change: None,
            change_percent: None,
            currency: None,
            previous_close: None,
            as_of: None,
            fetched_at,
            session: Session::Unknown,
            daily: false,
        }
    }

    /// Rescales minor currency units to major ones and fills in the change
    /// and change percent from the previous close when the provider did not
    /// send them. Idempotent.
    pub fn normalized(mut self) -> Self {
        if let Some(currency) = self.currency.as_deref().map(str::trim) {
            if let Some((_, major)) = MINOR_UNITS.iter().find(|(minor, _)| *minor == currency) {
                let hundred = Decimal::ONE_HUNDRED;
                self.price /= hundred;
                self.change = self.change.map(|c| c / hundred);
                self.previous_close = self.previous_close.map(|c| c / hundred);
                // change_percent is a ratio: the unit cancels out.
                self.currency = Some((*major).to_owned());
            } else if currency.is_empty() {
                self.currency = None;
            } else {
                self.currency = Some(currency.to_owned());
            }
        }
        // Checked: a provider's absurd but well-formed figures (1e27)
        // leave the change unknown rather than panic the board's task.
        if let (None, Some(prev)) = (self.change, self.previous_close) {
            self.change = self.price.checked_sub(prev);
        }
        if let (None, Some(change), Some(prev)) =
            (self.change_percent, self.change, self.previous_close)
            && !prev.is_zero()
        {
            self.change_percent = change
                .checked_mul(Decimal::ONE_HUNDRED)
                .and_then(|c| c.checked_div(prev))
                .map(|p| {
                    p.round_dp_with_strategy(
                        CHANGE_PERCENT_DP,
                        RoundingStrategy::MidpointAwayFromZero,
                    )
                });
        }
        self.price = self.price.normalize();
        self.change = self.change.map(|d| d.normalize());
        self.change_percent = self.change_percent.map(|d| d.normalize());
        self.previous_close = self.previous_close.map(|d| d.normalize());
        self
    }
}

/// A change in percent as pages, feeds and commands show it: rounded to
/// two places, with an arrow and a sign (`▲ +0.67%`).
pub struct ShownChange {
    /// ▲, ▼, or ▬ for a change that rounds to zero.
    pub arrow: char,
    /// `+0.67`, `−1.10` (U+2212), `0.00`.
    pub figure: String,
    /// `up`, `down` or `flat`, for styling.
    pub direction: &'static str,
}

impl ShownChange {
    /// `percent` rounded to two places, a half away from zero. The arrow
    /// and sign follow the figure shown: a move that rounds to `0.00` is
    /// flat, not "▲ +0.00".
    pub fn of(percent: Decimal) -> ShownChange {
        const PLACES: u32 = 2;
        let shown = percent.round_dp_with_strategy(PLACES, RoundingStrategy::MidpointAwayFromZero);
        let (arrow, sign, direction) = if shown.is_zero() {
            ('▬', "", "flat")
        } else if shown.is_sign_positive() {
            ('▲', "+", "up")
        } else {
            // U+2212 MINUS SIGN: a hyphen-minus is easy to miss next to
            // an arrow.
            ('▼', "\u{2212}", "down")
        };
        ShownChange {
            arrow,
            figure: format!("{sign}{:.*}", PLACES as usize, shown.abs()),
            direction,
        }
    }
}

/// `▲ +0.67%`: the arrow, the signed figure, the percent sign.
impl std::fmt::Display for ShownChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}%", self.arrow, self.figure)
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
