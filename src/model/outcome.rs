//! How one poll of a feed ended: [`Outcome`], built once where the poll
//! ends (`pipeline::Pipeline::refresh_feed`) and read by the store, the
//! scheduler, metrics, logs and the `feeds` command.
//!
//! The outcome's string forms (the archive's `fetches.result` and
//! `feeds.last_result`, the `result` label of `tickerfeed_fetches_total`,
//! log lines) all come from [`OutcomeKind::as_str`], and failure classes
//! (`fetches.error_class`) from [`FailureKind::as_str`]; docs/schema.md
//! lists the same values, and a test holds the two together.

use chrono::{DateTime, Utc};

/// How one poll of a feed ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A new document, parsed and stored.
    Fresh,
    /// 304 Not Modified: our copy is current.
    NotModified,
    /// 200 with the same bytes as last time: nothing parsed.
    Unchanged,
    /// Anything that went wrong; counts toward backoff.
    Failed(FailureKind),
    /// 429, or 503 with `Retry-After`: the server's domain is paused until
    /// `until`. Not a failure: the server asked us to wait, and we do.
    Throttled { until: DateTime<Utc> },
    /// 410 Gone: the feed is retired until its config changes.
    Gone,
    /// Nothing sent: the server's domain is paused until `until`.
    Deferred { until: DateTime<Utc> },
    /// Nothing sent: the feed answered 410 Gone before.
    Retired,
}

impl Outcome {
    /// The outcome without its details, as the archive stores it.
    pub fn kind(self) -> OutcomeKind {
        match self {
            Outcome::Fresh => OutcomeKind::Fresh,
            Outcome::NotModified => OutcomeKind::NotModified,
            Outcome::Unchanged => OutcomeKind::Unchanged,
            Outcome::Failed(_) => OutcomeKind::Failed,
            Outcome::Throttled { .. } => OutcomeKind::Throttled,
            Outcome::Gone => OutcomeKind::Gone,
            Outcome::Deferred { .. } => OutcomeKind::Deferred,
            Outcome::Retired => OutcomeKind::Retired,
        }
    }

    /// The database value, metric label and log word.
    pub fn as_str(self) -> &'static str {
        self.kind().as_str()
    }

    /// Whether a request went out. Polls that sent none leave no row in
    /// the fetch log and do not touch the feed's failure count.
    pub fn requested(self) -> bool {
        !matches!(self, Outcome::Deferred { .. } | Outcome::Retired)
    }

    /// Whether the poll counts toward backoff.
    pub fn is_failure(self) -> bool {
        matches!(self, Outcome::Failed(_))
    }

    /// Whether the server answered with a feed we hold (new, 304 or the
    /// same bytes).
    pub fn succeeded(self) -> bool {
        matches!(
            self,
            Outcome::Fresh | Outcome::NotModified | Outcome::Unchanged
        )
    }

    /// `fetches.error_class`: the failure's class, or what kept a request
    /// that went out from a feed when it was no failure.
    pub fn error_class(self) -> Option<&'static str> {
        match self {
            Outcome::Failed(kind) => Some(kind.as_str()),
            Outcome::Throttled { .. } => Some("throttled"),
            Outcome::Gone => Some("gone"),
            Outcome::Fresh
            | Outcome::NotModified
            | Outcome::Unchanged
            | Outcome::Deferred { .. }
            | Outcome::Retired => None,
        }
    }
}

/// An [`Outcome`] without its details: what `fetches.result` and
/// `feeds.last_result` hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutcomeKind {
    Fresh,
    NotModified,
    Unchanged,
    Failed,
    Throttled,
    Gone,
    Deferred,
    Retired,
}

impl OutcomeKind {
    /// Every kind, for documentation checks and exhaustive tests.
    pub const ALL: [OutcomeKind; 8] = [
        OutcomeKind::Fresh,
        OutcomeKind::NotModified,
        OutcomeKind::Unchanged,
        OutcomeKind::Failed,
        OutcomeKind::Throttled,
        OutcomeKind::Gone,
        OutcomeKind::Deferred,
        OutcomeKind::Retired,
    ];

    /// The one spelling of each kind. `ok` for a fresh document predates
    /// this type and is what analysts' queries say, so it stays.
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::Fresh => "ok",
            OutcomeKind::NotModified => "not_modified",
            OutcomeKind::Unchanged => "unchanged",
            OutcomeKind::Failed => "error",
            OutcomeKind::Throttled => "throttled",
            OutcomeKind::Gone => "gone",
            OutcomeKind::Deferred => "deferred",
            OutcomeKind::Retired => "retired",
        }
    }

    /// Reads a stored value; `None` for one this version does not know
    /// (written by a newer tickerfeed, or by hand).
    pub fn from_db(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == value)
    }

    /// Whether the archive stores this kind. Polls that sent no request
    /// (`deferred`, `retired`) change only the feed's plan, so those two
    /// appear in metrics and logs but never in `fetches.result` or
    /// `feeds.last_result`.
    pub fn stored(self) -> bool {
        !matches!(self, OutcomeKind::Deferred | OutcomeKind::Retired)
    }

    /// Whether `tickerfeed_fetches_total` counts this kind: every poll
    /// that reached the fetch stage (a retired feed never does).
    pub fn counted(self) -> bool {
        self != OutcomeKind::Retired
    }
}

impl std::fmt::Display for OutcomeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a poll failed, as `fetches.error_class` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// The HTTP client could not be built.
    Client,
    Timeout,
    Connect,
    Http4xx,
    Http5xx,
    /// Too many redirects, or one without a usable `Location`.
    Redirect,
    RedirectLoop,
    TooLarge,
    Decode,
    Transfer,
    /// A `file://` feed could not be read.
    File,
    /// The body was empty.
    Empty,
    /// The body is not a feed (an HTML page, JSON that is no JSON Feed).
    NotAFeed,
    /// A feed that could not be read.
    Parse,
    /// The parser panicked (isolated; the daemon goes on).
    ParserPanic,
}

impl FailureKind {
    pub const ALL: [FailureKind; 15] = [
        FailureKind::Client,
        FailureKind::Timeout,
        FailureKind::Connect,
        FailureKind::Http4xx,
        FailureKind::Http5xx,
        FailureKind::Redirect,
        FailureKind::RedirectLoop,
        FailureKind::TooLarge,
        FailureKind::Decode,
        FailureKind::Transfer,
        FailureKind::File,
        FailureKind::Empty,
        FailureKind::NotAFeed,
        FailureKind::Parse,
        FailureKind::ParserPanic,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Client => "client",
            FailureKind::Timeout => "timeout",
            FailureKind::Connect => "connect",
            FailureKind::Http4xx => "http_4xx",
            FailureKind::Http5xx => "http_5xx",
            FailureKind::Redirect => "redirect",
            FailureKind::RedirectLoop => "redirect_loop",
            FailureKind::TooLarge => "too_large",
            FailureKind::Decode => "decode",
            FailureKind::Transfer => "transfer",
            FailureKind::File => "file",
            FailureKind::Empty => "empty",
            FailureKind::NotAFeed => "not_a_feed",
            FailureKind::Parse => "parse",
            FailureKind::ParserPanic => "parser_panic",
        }
    }

    /// The document came but is no readable feed (the
    /// `tickerfeed_parse_errors_total` counter).
    pub fn is_parse(self) -> bool {
        matches!(
            self,
            FailureKind::Empty
                | FailureKind::NotAFeed
                | FailureKind::Parse
                | FailureKind::ParserPanic
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values docs/schema.md documents for a column, read from the row
    /// of the table that describes it: every backquoted word in the cell.
    fn documented(column: &str) -> Vec<String> {
        let schema = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/schema.md"));
        let row = schema
            .lines()
            .find(|l| l.starts_with(&format!("| `{column}` |")))
            .unwrap_or_else(|| panic!("docs/schema.md has no row for `{column}`"));
        let cell = row.splitn(4, '|').nth(3).unwrap();
        cell.split('`')
            .skip(1)
            .step_by(2)
            .filter(|w| {
                w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
            })
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn every_stored_kind_is_documented_and_every_documented_value_exists() {
        let documented = documented("result");
        let stored: Vec<String> = OutcomeKind::ALL
            .into_iter()
            .filter(|k| k.stored())
            .map(|k| k.as_str().to_string())
            .collect();
        assert_eq!(
            documented, stored,
            "docs/schema.md's fetches.result must list exactly the stored outcomes, in order"
        );
    }

    #[test]
    fn every_failure_class_is_documented() {
        let documented = documented("error_class");
        for kind in FailureKind::ALL {
            assert!(
                documented.iter().any(|d| d == kind.as_str()),
                "docs/schema.md's error_class misses {}",
                kind.as_str()
            );
        }
        for class in ["throttled", "gone"] {
            assert!(documented.iter().any(|d| d == class), "missing {class}");
        }
    }

    #[test]
    fn stored_values_read_back_as_their_kind() {
        for kind in OutcomeKind::ALL {
            assert_eq!(OutcomeKind::from_db(kind.as_str()), Some(kind));
        }
        assert_eq!(OutcomeKind::from_db("exploded"), None);
    }

    #[test]
    fn outcomes_map_to_their_kind_and_request_rules() {
        let t = DateTime::<Utc>::UNIX_EPOCH;
        let cases = [
            (Outcome::Fresh, "ok", true, false),
            (Outcome::NotModified, "not_modified", true, false),
            (Outcome::Unchanged, "unchanged", true, false),
            (Outcome::Failed(FailureKind::Timeout), "error", true, true),
            (Outcome::Throttled { until: t }, "throttled", true, false),
            (Outcome::Gone, "gone", true, false),
            (Outcome::Deferred { until: t }, "deferred", false, false),
            (Outcome::Retired, "retired", false, false),
        ];
        for (outcome, word, requested, failure) in cases {
            assert_eq!(outcome.as_str(), word);
            assert_eq!(outcome.requested(), requested, "{word}");
            assert_eq!(outcome.is_failure(), failure, "{word}");
            assert_eq!(outcome.kind().stored(), requested, "{word}");
        }
    }
}
