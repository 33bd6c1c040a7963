//! Which configured instruments a news item mentions.
//!
//! Owns [`MentionMatcher`], built once from the configured [`Instrument`]s,
//! and hands the enrich stage a list of our symbols, de-duplicated in the
//! order they first appear, so an item can carry quotes for what it is about
//! on top of the configured board.
//!
//! Sources, most reliable first (`market-providers.md` §5):
//! 1. publisher tags ([`MentionMatcher::find_tagged`]): Nasdaq's
//!    `<nasdaq:tickers>`, Finnhub's `related`;
//! 2. exchange-qualified mentions: `(NASDAQ: SSAT)`, `( NASDAQ:QCOM )`,
//!    `(LSE:BP.)`, `NYSE American: WDGT`, GlobeNewswire's `Nasdaq:EBIX`
//!    category; OTC venues (OTCQB, OTCQX, OTC Pink) are skipped;
//! 3. cashtags: `$BP`, case-sensitive, not followed by a letter or digit;
//! 4. configured names and aliases ("Vodafone"), whole words, any case.
//!
//! Policy: only configured instruments count. A mention never makes us look
//! up a symbol we were not told about, which protects the quote budget and
//! stops a hostile feed steering our lookups. Symbols match exactly, so `BP`
//! is not found in `$BPX`, `NYSE: BPM` or a bare word "BP"; a bare word only
//! counts when it is configured as a name.
//!
//! Inputs are plain text: strip HTML before calling.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::{Regex, RegexBuilder};

/// An instrument as configured: the symbol we use everywhere, plus display
/// names and aliases ("BP plc", "Vodafone") to find it in prose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instrument {
    pub symbol: String,
    pub names: Vec<String>,
}

/// `$` + symbol, not preceded by a word character (`US$5`); the capture runs
/// over every letter and digit (and `.`/`-` joined parts such as `BRK.B`), so
/// `$BPX` yields `BPX` and cannot be mistaken for `BP`.
static CASHTAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[^\w$])\$([A-Za-z][A-Za-z0-9]*(?:[.\-][A-Za-z0-9]+)*)")
        .expect("constant pattern")
});

/// Venue, colon, symbol. The venue list is what press releases and wire
/// categories use; OTC venues are left out on purpose. A trailing `.` (the
/// LSE's `BP.`) is not part of the capture.
static EXCHANGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)
        (?:^|[^\w])
        (?i:
            NYSE\s+American | NYSE\s+Arca | NYSE\s+MKT | NYSE
          | NASDAQ(?:\s*(?:GS|GM|CM))? | AMEX | Cboe(?:\s+BZX)? | BATS
          | LSE | LON | AIM
          | TSX(?:V|-V)? | ASX | NZX | JSE | SGX | HKEX | SEHK | TSE | TYO
          | XETRA | FWB | SIX | BME
          | Euronext(?:\s+(?:Paris|Amsterdam|Brussels|Lisbon|Dublin|Oslo|Milan|Growth))?
          | XNYS | XNAS | XASE | XLON | XETR | XTSE | XASX | XPAR | XAMS
        )
        \s*:\s*
        ([A-Za-z0-9]+(?:[.\-][A-Za-z0-9]+)*)",
    )
    .expect("constant pattern")
});

/// Finds mentions of configured instruments. Build once at startup and
/// share; matching does not allocate regexes.
#[derive(Debug, Clone)]
pub struct MentionMatcher {
    /// Our symbols, in configuration order.
    symbols: Vec<String>,
    /// Exact (case-sensitive) symbol → index into `symbols`.
    by_symbol: HashMap<String, usize>,
    /// One capture group per distinct name, longest first.
    names: Option<Regex>,
    /// For capture group `g`, the instruments named by it: `name_targets[g - 1]`.
    name_targets: Vec<Vec<usize>>,
}

impl MentionMatcher {
    pub fn new(instruments: &[Instrument]) -> Self {
        let mut symbols = Vec::new();
        let mut by_symbol = HashMap::new();
        let mut names: Vec<(String, Vec<usize>)> = Vec::new();
        for instrument in instruments {
            let symbol = instrument.symbol.trim();
            if symbol.is_empty() {
                continue;
            }
            let index = *by_symbol.entry(symbol.to_owned()).or_insert_with(|| {
                symbols.push(symbol.to_owned());
                symbols.len() - 1
            });
            for name in &instrument.names {
                let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
                if name.is_empty() {
                    continue;
                }
                match names
                    .iter_mut()
                    .find(|(n, _)| n.to_lowercase() == name.to_lowercase())
                {
                    Some((_, targets)) if !targets.contains(&index) => targets.push(index),
                    Some(_) => {}
                    None => names.push((name, vec![index])),
                }
            }
        }
        // Longest first, so "Vodafone Group" wins over "Vodafone" where both fit.
        names.sort_by_key(|(n, _)| std::cmp::Reverse(n.chars().count()));
        let pattern = names
            .iter()
            .map(|(n, _)| format!("({})", name_pattern(n)))
            .collect::<Vec<_>>()
            .join("|");
        let regex = (!names.is_empty()).then(|| {
            RegexBuilder::new(&pattern)
                .case_insensitive(true)
                // Unicode word boundaries and case folding over many names
                // can outgrow the 10 MiB default.
                .size_limit(256 << 20)
                .build()
                .expect("escaped literals only fail on size, far above any config")
        });
        MentionMatcher {
            symbols,
            by_symbol,
            names: regex,
            name_targets: names.into_iter().map(|(_, t)| t).collect(),
        }
    }

    /// Mentions in free text (title, plain-text summary or content,
    /// categories), in the order given; our symbols, de-duplicated in
    /// first-seen order.
    pub fn find<S: AsRef<str>>(&self, texts: &[S]) -> Vec<String> {
        let mut found = Found::new(self.symbols.len());
        for text in texts {
            self.find_in(text.as_ref(), &mut found);
        }
        found.into_symbols(&self.symbols)
    }

    /// Publisher ticker tags (`<nasdaq:tickers>TSM,TSM,AAPL</nasdaq:tickers>`,
    /// Finnhub `related`): bare symbols or `Venue:SYMBOL`, comma or semicolon
    /// separated. Trusted more than prose, so bare symbols count here.
    pub fn find_tagged<S: AsRef<str>>(&self, tags: &[S]) -> Vec<String> {
        let mut found = Found::new(self.symbols.len());
        self.tagged_in(tags, &mut found);
        found.into_symbols(&self.symbols)
    }

    /// Tags first, then text: [`find_tagged`](Self::find_tagged) and
    /// [`find`](Self::find) together, de-duplicated.
    pub fn find_all<S: AsRef<str>, T: AsRef<str>>(&self, tags: &[S], texts: &[T]) -> Vec<String> {
        let mut found = Found::new(self.symbols.len());
        self.tagged_in(tags, &mut found);
        for text in texts {
            self.find_in(text.as_ref(), &mut found);
        }
        found.into_symbols(&self.symbols)
    }

    fn tagged_in<S: AsRef<str>>(&self, tags: &[S], found: &mut Found) {
        for tag in tags {
            for token in tag.as_ref().split([',', ';']).map(str::trim) {
                let symbol = match token.rsplit_once(':') {
                    Some((venue, _)) if is_otc(venue) => continue,
                    Some((_, symbol)) => symbol.trim(),
                    None => token,
                };
                if let Some(&i) = self.by_symbol.get(symbol.trim_end_matches('.')) {
                    found.add(i);
                }
            }
        }
    }

    fn find_in(&self, text: &str, found: &mut Found) {
        // (byte offset, instrument): sorted so the text's order decides.
        let mut hits: Vec<(usize, usize)> = Vec::new();
        for re in [&*CASHTAG, &*EXCHANGE] {
            for caps in re.captures_iter(text) {
                let symbol = caps.get(1).expect("the pattern has one group");
                if let Some(&i) = self.by_symbol.get(symbol.as_str()) {
                    hits.push((symbol.start(), i));
                }
            }
        }
        if let Some(names) = &self.names {
            for caps in names.captures_iter(text) {
                let Some(group) = (1..caps.len()).find(|&g| caps.get(g).is_some()) else {
                    continue;
                };
                let start = caps.get(0).map_or(0, |m| m.start());
                for &i in &self.name_targets[group - 1] {
                    hits.push((start, i));
                }
            }
        }
        hits.sort_by_key(|&(at, _)| at);
        for (_, i) in hits {
            found.add(i);
        }
    }
}

/// Over-the-counter venues: thinly regulated, full of lookalike tickers.
fn is_otc(venue: &str) -> bool {
    let venue = venue.trim().to_ascii_lowercase();
    venue.starts_with("otc") || venue.contains("pink")
}

/// A name as a pattern: words escaped and joined by any whitespace, with a
/// word boundary on each side that starts or ends with a word character
/// (`\b` after "Inc." would demand a letter after the dot).
fn name_pattern(name: &str) -> String {
    let body = name
        .split_whitespace()
        .map(regex::escape)
        .collect::<Vec<_>>()
        .join(r"\s+");
    let is_word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let start = if is_word(name.chars().next()) {
        r"\b"
    } else {
        ""
    };
    let end = if is_word(name.chars().last()) {
        r"\b"
    } else {
        ""
    };
    format!("{start}{body}{end}")
}

/// Instruments seen so far, in first-seen order.
struct Found {
    seen: Vec<bool>,
    order: Vec<usize>,
}

impl Found {
    fn new(n: usize) -> Self {
        Found {
            seen: vec![false; n],
            order: Vec::new(),
        }
    }

    fn add(&mut self, i: usize) {
        if !self.seen[i] {
            self.seen[i] = true;
            self.order.push(i);
        }
    }

    fn into_symbols(self, symbols: &[String]) -> Vec<String> {
        self.order.into_iter().map(|i| symbols[i].clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instrument(symbol: &str, names: &[&str]) -> Instrument {
        Instrument {
            symbol: symbol.into(),
            names: names.iter().map(|n| n.to_string()).collect(),
        }
    }

    fn matcher() -> MentionMatcher {
        MentionMatcher::new(&[
            instrument("BP", &["BP plc"]),
            instrument("VOD", &["Vodafone", "Vodafone Group"]),
            instrument("RELX", &[]),
            instrument("AAPL", &["Apple Inc.", "Apple"]),
            instrument("SSAT", &[]),
            instrument("TWO", &[]),
            instrument("OTHR", &[]),
            instrument("WDGT", &[]),
            instrument("QCOM", &[]),
            instrument("EBIX", &[]),
            instrument("BRK.B", &["Berkshire Hathaway"]),
            instrument("F", &["Ford Motor"]),
            instrument("T", &["AT&T"]),
        ])
    }

    #[test]
    fn mentions_in_text() {
        let m = matcher();
        let cases: &[(&str, &[&str])] = &[
            // Cashtags: case-sensitive, whole symbols only.
            ("$BP shares rise", &["BP"]),
            ("Oil majors: $BP.", &["BP"]),
            ("Big day for $BP, $VOD and $RELX!", &["BP", "VOD", "RELX"]),
            ("$BPX and $BPM rally", &[]),
            ("$BP1 is not BP", &[]),
            ("$bp in lower case", &[]),
            ("$BP.L is the London line", &[]),
            ("US$BP", &[]),
            ("Buffett's $BRK.B", &["BRK.B"]),
            ("It cost $5 and $F1 tickets", &[]),
            // Exchange notation.
            ("BP p.l.c. (NYSE: BP)", &["BP"]),
            ("BP (LSE:BP.) results", &["BP"]),
            ("Ebix Inc. NASDAQ:EBIX", &["EBIX"]),
            ("Qualcomm ( NASDAQ:QCOM ) jumps", &["QCOM"]),
            ("Widget Co. (NYSE American: WDGT)", &["WDGT"]),
            ("SmallSat Inc. (NASDAQ: SSAT)", &["SSAT"]),
            (
                "Two Tickers Inc. (NYSE: TWO) and Other Co. (OTCQB: OTHR)",
                &["TWO"],
            ),
            ("(OTCQX: VOD) (OTC: BP) (OTC Pink: RELX)", &[]),
            ("(NYSE: BPX) (NASDAQ: BPM)", &[]),
            ("nyse: bp", &[]),
            ("listed on the NYSE: shares fell", &[]),
            ("Vodafone (Nasdaq: VOD; LSE: VOD)", &["VOD"]),
            // Names: whole words, any case; bare symbols do not count.
            ("BP shares rise", &[]),
            ("bp PLC results", &["BP"]),
            ("Vodafone's results", &["VOD"]),
            ("VODAFONE GROUP plc", &["VOD"]),
            ("Vodafoneland", &[]),
            ("Apple Inc. reported", &["AAPL"]),
            ("pineapple prices", &[]),
            ("The Fed held rates; Ford Motor did not", &["F"]),
            ("AT&T and Apple", &["T", "AAPL"]),
            ("RELX said", &[]),
            // Order of first appearance, de-duplicated.
            ("Vodafone beat $BP; $BP and Vodafone again", &["VOD", "BP"]),
            ("$RELX (NYSE: BP) Apple $RELX", &["RELX", "BP", "AAPL"]),
        ];
        for (text, want) in cases {
            assert_eq!(m.find(&[*text]), *want, "{text}");
        }
    }

    #[test]
    fn order_runs_across_text_parts() {
        let m = matcher();
        let parts = [
            "Vodafone wins contract",
            "Analysts like $BP",
            "NYSE:BP",
            "Nasdaq:EBIX",
        ];
        assert_eq!(m.find(&parts), ["VOD", "BP", "EBIX"]);
        let owned: Vec<String> = parts.iter().map(|s| s.to_string()).collect();
        assert_eq!(m.find(&owned), ["VOD", "BP", "EBIX"]);
        assert!(m.find::<&str>(&[]).is_empty());
    }

    #[test]
    fn tags_count_bare_symbols_but_not_otc() {
        let m = matcher();
        assert_eq!(m.find_tagged(&["VOD,VOD, BP ,NVDA"]), ["VOD", "BP"]);
        assert_eq!(
            m.find_tagged(&["Nasdaq:EBIX", "NYSE American:WDGT"]),
            ["EBIX", "WDGT"]
        );
        assert!(m.find_tagged(&["OTCQB:OTHR", "bp", "BPX"]).is_empty());
        assert_eq!(
            m.find_all(&["RELX"], &["$BP", "Vodafone"]),
            ["RELX", "BP", "VOD"]
        );
    }

    #[test]
    fn an_empty_configuration_finds_nothing() {
        let m = MentionMatcher::new(&[instrument("  ", &["ghost"])]);
        assert!(m.find(&["$BP ghost (NYSE: BP)"]).is_empty());
    }

    #[test]
    fn a_shared_name_mentions_every_instrument_that_lists_it() {
        let m = MentionMatcher::new(&[
            instrument("BP", &["BP plc"]),
            instrument("BP.L", &["bp PLC"]),
        ]);
        assert_eq!(m.find(&["BP plc results"]), ["BP", "BP.L"]);
    }

    /// The first `<tag …>…</tag>` contents of every `<item>`, for the
    /// feed fixtures (a feed parser would hand us the same text; feed-rs
    /// cannot see `<nasdaq:tickers>` at all).
    fn items(xml: &str) -> Vec<String> {
        let re = Regex::new(r"(?s)<item>(.*?)</item>").unwrap();
        re.captures_iter(xml).map(|c| c[1].to_string()).collect()
    }

    fn all_of(item: &str, tag: &str) -> Vec<String> {
        let re = Regex::new(&format!(r"(?s)<{tag}(?:\s[^>]*)?>(.*?)</{tag}>")).unwrap();
        re.captures_iter(item)
            .map(|c| c[1].trim().to_string())
            .collect()
    }

    fn texts(item: &str) -> Vec<String> {
        let mut out = all_of(item, "title");
        out.extend(all_of(item, "description"));
        out.extend(all_of(item, "category"));
        out
    }

    const NASDAQ: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/quotes/mentions/nasdaq_rssoutbound.xml"
    ));
    const YAHOO: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/quotes/mentions/yahoo_headline.xml"
    ));
    const GLOBENEWSWIRE: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/quotes/mentions/globenewswire.xml"
    ));

    #[test]
    fn nasdaq_ticker_tags() {
        let m = MentionMatcher::new(&[
            instrument("AAPL", &[]),
            instrument("AMD", &[]),
            instrument("NVDA", &[]),
            instrument("TSM", &["Taiwan Semiconductor"]),
        ]);
        let items = items(NASDAQ);
        let found: Vec<Vec<String>> = items
            .iter()
            .map(|item| m.find_all(&all_of(item, "nasdaq:tickers"), &texts(item)))
            .collect();
        assert_eq!(found, [vec!["TSM", "AAPL", "NVDA", "AMD"], vec!["AAPL"]]);
        // The prose alone names none of them: "TSMC" is not a configured name.
        assert!(m.find(&texts(&items[0])).is_empty());

        // Only configured instruments count.
        let only_apple = MentionMatcher::new(&[instrument("AAPL", &[])]);
        assert_eq!(
            only_apple.find_tagged(&all_of(&items[0], "nasdaq:tickers")),
            ["AAPL"]
        );
    }

    #[test]
    fn yahoo_headlines_need_names() {
        let item = &items(YAHOO)[0];
        let with_names = MentionMatcher::new(&[instrument("AAPL", &["Apple", "Apple Inc."])]);
        assert_eq!(with_names.find(&texts(item)), ["AAPL"]);
        let symbol_only = MentionMatcher::new(&[instrument("AAPL", &[])]);
        assert!(symbol_only.find(&texts(item)).is_empty());
    }

    #[test]
    fn globenewswire_stock_category_and_release_text() {
        let item = &items(GLOBENEWSWIRE)[0];
        let m = MentionMatcher::new(&[
            instrument("WDGT", &[]),
            instrument("ACME", &[]),
            instrument("OTHR", &[]),
        ]);
        // Title and description come first, the category last.
        assert_eq!(m.find(&texts(item)), ["ACME", "WDGT"]);
        assert_eq!(m.find(&all_of(item, "category")), ["ACME"]);
    }
}
