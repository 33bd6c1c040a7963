//! Which configured instruments a news item mentions, and how we know.
//!
//! Owns [`MentionMatcher`], built once from the configured [`Instrument`]s,
//! and hands the enrich stage a list of [`Mention`]s: our symbols,
//! de-duplicated in the order they first appear, each with how it was found
//! ([`MatchedBy`]), so an item can carry quotes for what it is about on top
//! of the configured board and an analyst can filter by confidence.
//!
//! Sources, most reliable first (`market-providers.md` §5):
//! 1. publisher tags: an SEC EDGAR filer's CIK where the instrument
//!    configures `cik`. The matcher also reads Nasdaq's `<nasdaq:tickers>`
//!    and Finnhub's `related` lists when given them
//!    ([`MentionMatcher::find_tagged`]), but no feed hands them over: the
//!    parser drops elements it does not know. A feed's categories are read
//!    like its text;
//! 2. exchange-qualified mentions: `(NASDAQ: SSAT)`, `( NASDAQ:QCOM )`,
//!    `(LSE:BP.)`, `NYSE American: WDGT`, GlobeNewswire's `Nasdaq:EBIX`
//!    category. The venue chooses the listing (see *Venues* below); OTC
//!    venues (OTCQB, OTCQX, OTC Pink) are skipped;
//! 3. cashtags: `$BP`, case-sensitive, not followed by a letter or digit;
//! 4. configured names and aliases, under the rules below.
//!
//! # Names
//!
//! Measured on real headlines (`tests/fixtures/mentions/eval.jsonl`), a
//! literal name match gets one mention in seven wrong: "BP" is also Border
//! Patrol, blood pressure and "before present"; "BCE" is the era; "BAT" is an
//! animal, a cricket bat and "Baidu, Alibaba, Tencent". So aliases come in
//! two kinds:
//!
//! - **Unambiguous** names, several words or one long mixed-case word
//!   ("AstraZeneca", "Rio Tinto", "British American Tobacco"), match alone,
//!   in any case: headlines capitalise freely. Except that one word in
//!   lower case, in a text that uses capitals, is the word, not the
//!   company ("the shell company", "apple growers"). And one word beside
//!   a capitalised word, in a sentence whose capitals mark names (some
//!   other word in it is in lower case), is part of another proper noun
//!   ("Apple Daily", "Big Apple", "Apple Valley", "Vodafone Idea"): it
//!   counts only with the company's own corroboration (another of its
//!   names, its tag, notation or cashtag), as finance words fit a
//!   namesake too. A company form, another of its names, a function word
//!   ("When Apple"), a day or month, a word of company news ("Drugmaker
//!   AstraZeneca"), an acronym ("Apple CEO") or a country ("Vodafone
//!   Spain": the company's unit there) beside it proves nothing, unless
//!   with the name it starts another instrument's configured name, in
//!   any case ("Airtel Africa" beside a parent "Airtel" is not the
//!   parent's where a unit is configured as "Airtel Africa Holdings";
//!   configured whole, or with a legal form, "Airtel Africa plc", the
//!   longer name takes the hit anyway). Where capitals say nothing (Title Case,
//!   all capitals), the item's own sentences can show the longer name:
//!   "Vodafone Idea Shares Fall" over "Vodafone Idea shares dropped" is
//!   the namesake too (by the word that makes the longer name there, not
//!   the one on its other side).
//!
//!   A one-word name that is also an English word ("Apple", "Shell"; SCOWL's
//!   small word lists, `words.txt`) counts alone only where its capital is
//!   its own: not at a sentence's start, in Title Case, in capitals or in
//!   lower case ("Apple growers fear frost", "Apple Pie Recipes"), unless
//!   what follows is what a subject takes and the word without an article
//!   does not ("Apple to unveil", "Apple is", "Apple's", a headline's verb:
//!   "Apple unveils"; not in a text all in lower case, see below); a particle is not ("Shell out for a laptop", "Apple
//!   up 3%"), and after one only the company's own signals or a price
//!   move right after it ("up 3%") vouch, not a sum or a finance word
//!   ("Shell out $2,000 for a laptop"), nor, in Title Case or capitals, a
//!   preposition that makes a thing of the word ("in", "with", "from":
//!   "Apple In Bloom Across The Valley", but "Apple In Court Again": a
//!   company's proceedings; "In" before an article is read as below),
//!   while the others still show the subject ("Apple At WWDC", "Shell On
//!   Track…", "Apple Over Samsung…"); nor, in any case, a preposition
//!   ("on", "at", "in") that places it, before an article, where a thing
//!   lies ("Shell On The Beach", "Apple On The Tree", and at a sentence's
//!   start "Shell on the beach: five places to find…", as that capital is
//!   the sentence's). Any other noun after the article ("Shell in the
//!   North Sea", "Apple in the EU", "Apple at the top of its game",
//!   "Shell On The Hook For…"), or none ("Shell on track to…", "Shell in
//!   talks"), keeps the company, except in a text all in lower case
//!   (below). Where nothing shows the subject, the word needs
//!   corroboration like an ambiguous alias. Coined names ("Vodafone") and
//!   names with capitals inside ("AstraZeneca") are no words.
//! - **Ambiguous** aliases, one short word (four letters or fewer) or one
//!   all-capitals word ("BP", "BAT", "RELX"), must match case-exactly
//!   (unless the text is all capitals, where case says nothing), must not be
//!   vetoed, and must be corroborated.
//!
//! Vetoes (each makes the alias something else for the whole item):
//! - a number or a word for years right before it: `3200 BP`, `300 BCE`,
//!   `cal BP`, `10th century BCE` are dates, not companies;
//! - the alias defined as other words: `BP (before present)`,
//!   `Before Present (BP)`, or capitalised words elsewhere in the item whose
//!   initials spell it ("Border Patrol", "Baidu, Alibaba, Tencent"). When
//!   those words are another configured name of the same instrument
//!   ("British American Tobacco (BAT)") they corroborate instead.
//!
//! Corroboration (any one):
//! - another configured name of the same instrument anywhere in the item;
//! - a tag, exchange notation or cashtag for the same symbol;
//! - a company-form word right after the alias: `plc`, `p.l.c.`, `Inc.`,
//!   `Group`, `Ltd`, `Holdings`, `Industries`…;
//! - finance context: a word from [`FINANCE_WORDS`] within
//!   [`CONTEXT_WORDS`] words either side, in the same text part.
//!
//! A configured name ending in a legal form ("Airtel Africa plc",
//! "Samsung Electronics Co., Ltd.") also counts without it, as news
//! writes it, where what is left is two words or more (an unambiguous
//! name); one word left ("BP" of "BP plc", "Apple" of "Apple Inc.")
//! counts only where it is configured itself, under its own rules. A
//! name configured as written keeps its own instruments.
//!
//! A text all in lower case (some feeds lower-case everything) shows no
//! name by its capitals: there a word-name ("shell is…", "apple
//! prices…") or a name without its legal form ("airtel africa") counts
//! only with the company's own signals (another of its names, its tag,
//! notation or cashtag) or a price move right after it ("airtel africa
//! up 4%"); a subject's word or a finance word fits the word or the
//! phrase as well. A case-sensitive instrument's names never count there.
//!
//! Per instrument, configuration adds what rules cannot know: `exclude`
//! regexes (an item one matches mentions the symbol only by tag, exchange,
//! cashtag or CIK: "Rio Tinto river", another country's "national grid"),
//! and `case_sensitive` (every name counts only as configured or in
//! capitals: "National Grid", not "the national grid").
//!
//! Policy: only configured instruments count. A mention never makes us look
//! up a symbol we were not told about, which protects the quote budget and
//! stops a hostile feed steering our lookups. Symbols match exactly, so `BP`
//! is not found in `$BPX`, `NYSE: BPM` or `BPI`.
//!
//! # Venues
//!
//! A ticker means a listing only on its own market: `BA.` in London is BAE
//! Systems and `BA` in New York is Boeing; `(LSE: BP)` is BP's London
//! line, not its New York ADR. So notation counts for the symbols listed
//! on the market its venue belongs to, each symbol placed where it
//! evidently trades (`calendar::evidently_listed_on`: its `exchange`, else
//! London for a `.L`/`.uk`/`.LON` provider symbol, New York for a plain
//! US ticker). The US exchanges (NYSE, Nasdaq, NYSE American, Cboe, ...)
//! share one ticker space, so `(Nasdaq: BP)` still finds the NYSE's `BP`;
//! venues are matched whole, so `Nasdaq Stockholm` and `Cboe Canada` are
//! not US venues. A symbol's ticker there is the symbol or its provider
//! spelling, without a London suffix or the LSE's trailing dot: `BP.L`
//! and `{ symbol = "BAE", provider_symbol = "BA.L" }` are London's `BP`
//! and `BA`.
//!
//! When no configured symbol is listed on the venue's market, the notation
//! mentions nothing, even if a symbol elsewhere has the same letters:
//! across markets the same letters are often another company (`LSE: AAL`
//! is Anglo American, Nasdaq's `AAL` American Airlines). Every other
//! market (TSX, ASX, Euronext, ...) is one space here, as no calendar
//! tells them apart: a symbol whose spelling shows no market of ours
//! (`SHOP.TO`, an `exchange` without a calendar) is named there by its
//! own letters, and never by a US or London venue. The company can still
//! be found by its names; cashtags carry no venue and match the symbol as
//! written.
//!
//! Inputs are plain text: strip HTML before calling.

use std::cell::OnceCell;
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use aho_corasick::AhoCorasick;
use regex::{Regex, RegexBuilder};

mod names;

use super::calendar;
use crate::config::InstrumentConfig;
use crate::markup::collapse_whitespace;
pub use crate::model::{MatchedBy, Mention};
use names::{
    COINED_BEFORE, COMPANY_FORM, DATE_BEFORE, WIRE_PREFIX, adjacent_words, definitions,
    finance_near, followed_as_subject, followed_by_particle, in_sentence_case, is_ambiguous,
    is_common_word, is_shouting, is_title_case, name_pattern, names_something_else,
    price_move_follows, starts_sentence, tail, without_legal_form,
};
pub use names::{CONTEXT_WORDS, FINANCE_WORDS};

/// An instrument as configured: the symbol we use everywhere, plus display
/// names and aliases ("BP plc", "Vodafone") to find it in prose.
#[derive(Debug, Clone, Default)]
pub struct Instrument {
    pub symbol: String,
    pub names: Vec<String>,
    /// Patterns that, matching anywhere in an item, stop its names counting.
    pub exclude: Vec<Regex>,
    /// Names count only as configured or in capitals.
    pub case_sensitive: bool,
    /// SEC EDGAR CIK, digits without leading zeros.
    pub cik: Option<String>,
    /// Where it trades, as configured (`exchange`); `None`: implied by the
    /// provider symbol. Exchange notation counts only on its market.
    pub exchange: Option<String>,
    /// The provider's spelling (`BP.L`, `bp.uk`); `None`: the symbol.
    pub provider_symbol: Option<String>,
}

impl From<&InstrumentConfig> for Instrument {
    /// The configured names plus the display name, and the per-symbol rules.
    fn from(i: &InstrumentConfig) -> Self {
        Instrument {
            symbol: i.symbol.clone(),
            names: i.names.iter().chain(i.name.iter()).cloned().collect(),
            // `config` compiled each pattern when it loaded the file.
            exclude: i
                .exclude
                .iter()
                .filter_map(|p| Regex::new(p).ok())
                .collect(),
            case_sensitive: i.case_sensitive,
            cik: i.cik.clone(),
            exchange: i.exchange.clone(),
            provider_symbol: Some(i.provider_symbol.clone()),
        }
    }
}

/// `$` + symbol, not preceded by a word character (`US$5`); the capture runs
/// over every letter and digit (and `.`/`-` joined parts such as `BRK.B`), so
/// `$BPX` yields `BPX` and cannot be mistaken for `BP`.
static CASHTAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[^\w$])\$(?P<symbol>[A-Za-z][A-Za-z0-9]*(?:[.\-][A-Za-z0-9]+)*)")
        .expect("constant pattern")
});

/// Venue, colon, symbol. The venue list is what press releases and wire
/// categories use; OTC venues are left out on purpose. A trailing `.` (the
/// LSE's `BP.`) is not part of the capture. Venues are written as they
/// are (`NYSE`, `Nasdaq` or `NASDAQ`), never in lower case: "Their aim: BP
/// must..." names no venue. The venue is captured too: it decides which
/// listing the symbol is ([`Market::of_venue`]). Another market's venue
/// whose name begins with a US one's (`Cboe Canada`, `Nasdaq Stockholm`)
/// is listed whole, or the notation would name no venue at all.
///
/// One venue may list several tickers, as wire releases write a company's
/// classes (`(NASDAQ: GOOG, GOOGL)`, `(NYSE: BRK.A, BRK.B)`): the rest
/// (`more`) count only in capitals and only when the parenthesis closes
/// after them, so "NYSE: BP, SHELL said" names BP alone.
///
/// `\b` rather than "start or a non-word character" before the venue
/// (the same thing, since every venue starts with a letter): a pattern
/// that opens with a character class has no literal to look for first,
/// so it ran its automaton over every text with a colon, 35 times slower.
static EXCHANGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)
        \b
        (?P<venue>
            NYSE\s+American | NYSE\s+Arca | NYSE\s+MKT | NYSE
          | (?:NASDAQ|Nasdaq)(?:\s*(?:GS|GM|CM))? | AMEX | (?:Cboe|CBOE)(?:\s+BZX)? | BATS
          | (?:Cboe|CBOE)\s+Canada
          | (?:NASDAQ|Nasdaq)\s+(?:Stockholm|Helsinki|Copenhagen|Iceland|Tallinn|Riga|Vilnius)
          | LSE | LON | AIM
          | TSX(?:V|-V)? | ASX | NZX | JSE | SGX | HKEX | SEHK | TSE | TYO
          | XETRA | Xetra | FWB | SIX | BME
          | (?:Euronext|EURONEXT)(?:\s+(?:Paris|Amsterdam|Brussels|Lisbon|Dublin|Oslo|Milan|Growth))?
          | XNYS | XNAS | XASE | XLON | XETR | XTSE | XASX | XPAR | XAMS
        )
        \s*:\s*
        (?P<symbol>[A-Za-z0-9]+(?:[.\-][A-Za-z0-9]+)*)
        (?P<more>\.?(?:\s*,\s*[A-Z0-9]+(?:[.\-][A-Z0-9]+)*\.?)+\s*\))?",
    )
    .expect("constant pattern")
});

/// A CIK as EDGAR writes it: ten digits in parentheses after the filer's
/// name (`6-K - BP PLC (0000313807) (Filer)`), or after `CIK`.
static CIK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:\((\d{10})\)|\bCIK\W{0,3}(\d{1,10})\b)").expect("constant pattern")
});

#[derive(Debug, Clone)]
struct Alias {
    /// As configured, whitespace collapsed.
    text: String,
    ambiguous: bool,
    /// Made from a configured name by leaving its legal form out
    /// ("National Grid" of "National Grid plc"): without the form the
    /// words may be a phrase ("the national grid", "first solar farm"), so
    /// they count only capitalised as configured, and where capitals say
    /// nothing (a Title Case headline) with corroboration; in a text all
    /// in lower case only with the company's own signals or a price move.
    derived: bool,
    /// One word that is also an English word ("Apple", "Shell").
    common_word: bool,
    /// Index into `symbols`.
    instruments: Vec<usize>,
}

/// Finds mentions of configured instruments. Build once at startup and
/// share; matching does not compile regexes.
#[derive(Debug, Clone)]
pub struct MentionMatcher {
    /// Our symbols, in configuration order.
    symbols: Vec<String>,
    /// Per symbol: exclude patterns, case sensitivity, CIK.
    rules: Vec<Rules>,
    /// Exact (case-sensitive) symbol → index into `symbols`.
    by_symbol: HashMap<String, usize>,
    /// A market and a ticker on it (in capitals, no London suffix or
    /// trailing dot) → the symbols listed as that: what exchange notation
    /// names.
    by_listing: HashMap<(Market, String), Vec<usize>>,
    /// CIK → indexes into `symbols`.
    by_cik: HashMap<String, Vec<usize>>,
    /// One capture group per distinct alias, longest first.
    names: Option<Regex>,
    /// The longest word of every alias, ASCII case-insensitive, when every
    /// alias is ASCII: an ASCII text none of them occurs in cannot match
    /// `names`, and most texts name nothing. The regex's own prefilter,
    /// built from case-folded prefixes of the names, lets nearly every
    /// position through; this one costs a tenth of it.
    screen: Option<AhoCorasick>,
    /// The first two words (in lower case) of every configured name of two
    /// words or more → the instruments it names: which one-word name with
    /// the word beside it starts another instrument's name.
    name_starts: HashMap<String, Vec<usize>>,
    /// For capture group `g`, the alias: `aliases[g - 1]`.
    aliases: Vec<Alias>,
}

#[derive(Debug, Clone, Default)]
struct Rules {
    exclude: Vec<Regex>,
    case_sensitive: bool,
}

/// An item's text as the matcher reads it. What its case says is worked
/// out only when an ambiguous alias was found in it: most texts match no
/// name at all, and classifying every one of them was half the matcher's
/// time.
struct Part<'a> {
    text: &'a str,
    shouting: OnceCell<bool>,
    title_case: OnceCell<bool>,
    lower_case: OnceCell<bool>,
}

impl<'a> Part<'a> {
    fn new(text: &'a str) -> Self {
        Part {
            text,
            shouting: OnceCell::new(),
            title_case: OnceCell::new(),
            lower_case: OnceCell::new(),
        }
    }

    /// No lower-case letters to speak of: case says nothing here.
    fn shouting(&self) -> bool {
        *self.shouting.get_or_init(|| is_shouting(self.text))
    }

    /// Most words capitalised (a headline in title case): capitals mark
    /// no names here.
    fn title_case(&self) -> bool {
        *self.title_case.get_or_init(|| is_title_case(self.text))
    }

    /// No capitals at all: case says nothing here either. Kept, as a
    /// name's every hit asks and a long text has thousands.
    fn lower_case(&self) -> bool {
        *self
            .lower_case
            .get_or_init(|| !self.text.chars().any(char::is_uppercase))
    }
}

/// What an item says about an alias once, however many of its hits ask:
/// an item can name a company (or the word it shares a name with)
/// thousands of times, and asking the whole item again at every hit made
/// matching it quadratic.
#[derive(Default)]
struct ItemFacts {
    /// Whether the item defines the alias as words (alias, instrument).
    definitions: HashMap<(usize, usize), Option<Definition>>,
    /// Whether another name of the instrument is in the item (alias,
    /// instrument).
    other_name: HashMap<(usize, usize), bool>,
    /// Whether the item coins the alias as a name for something (alias).
    coined: HashMap<usize, bool>,
    /// The words (in lower case) beside the alias's hits where, with it,
    /// they make a longer proper noun (alias, instrument).
    longer: HashMap<(usize, usize), HashSet<(Side, String)>>,
}

/// Which side of a name a word is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Side {
    Before,
    After,
}

/// A ticker space: where the same letters mean the same listing. The US
/// exchanges share one (a symbol is unique across NYSE, Nasdaq and the
/// others); London has its own. Every other market (Toronto, Sydney,
/// Xetra...) is `Other`: no calendar here tells them apart, so a symbol
/// whose spelling shows no market of ours is named there by its own
/// letters, as before venues counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Market {
    Us,
    London,
    Other,
}

impl Market {
    /// Where a configured symbol evidently trades
    /// (`calendar::evidently_listed_on`): `SHOP.TO` is not a US ticker.
    fn of_symbol(exchange: Option<&str>, provider_symbol: &str) -> Market {
        match calendar::evidently_listed_on(exchange, provider_symbol).map(|e| e.mic) {
            Some("XNYS" | "XNAS") => Market::Us,
            Some("XLON") => Market::London,
            _ => Market::Other,
        }
    }

    /// The market of a venue as notation or a tag writes it (`NYSE
    /// American`, `Nasdaq GS`, `NASDAQGS`, `Cboe BZX`, `LSE`, `AIM`,
    /// `XLON`), matched whole: `Nasdaq Stockholm` and `Cboe Canada` are
    /// not US venues. `None` for OTC venues: thinly regulated, full of
    /// lookalike tickers.
    fn of_venue(venue: &str) -> Option<Market> {
        // Spaces and punctuation aside: `NASDAQ-GS`, `Nasdaq GS`, `NASDAQGS`.
        let venue: String = venue
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_uppercase();
        const US: &[&str] = &[
            "NYSE",
            "NYSEAMERICAN",
            "NYSEARCA",
            "NYSEMKT",
            "NASDAQ",
            "NASDAQGS",
            "NASDAQGM",
            "NASDAQCM",
            "NASDAQGLOBALSELECT",
            "NASDAQGLOBALSELECTMARKET",
            "NASDAQGLOBALMARKET",
            "NASDAQCAPITALMARKET",
            "NYSEAMEX",
            "AMEX",
            "CBOE",
            "CBOEBZX",
            "BATS",
            "XNYS",
            "XNAS",
            "XASE",
        ];
        if venue.starts_with("OTC") {
            None
        } else if US.contains(&venue.as_str()) {
            Some(Market::Us)
        } else if ["LSE", "LON", "AIM", "XLON"].contains(&venue.as_str()) {
            Some(Market::London)
        } else {
            Some(Market::Other)
        }
    }
}

/// A symbol or provider spelling as the exchange writes its ticker:
/// without a London suffix (`BP.L`, `bp.uk`) or the LSE's trailing dot
/// (`NG.`), in capitals.
fn listing_ticker(symbol: &str) -> String {
    calendar::without_london_suffix(symbol)
        .unwrap_or(symbol)
        .trim_end_matches('.')
        .to_ascii_uppercase()
}

/// One place an alias matched.
struct NameHit {
    part: usize,
    start: usize,
    end: usize,
    alias: usize,
}

impl MentionMatcher {
    pub fn new(instruments: &[Instrument]) -> Self {
        let mut symbols = Vec::new();
        let mut rules: Vec<Rules> = Vec::new();
        let mut by_symbol = HashMap::new();
        let mut by_listing: HashMap<(Market, String), Vec<usize>> = HashMap::new();
        let mut by_cik: HashMap<String, Vec<usize>> = HashMap::new();
        let mut aliases: Vec<Alias> = Vec::new();
        for instrument in instruments {
            let symbol = instrument.symbol.trim();
            if symbol.is_empty() {
                continue;
            }
            let index = *by_symbol.entry(symbol.to_owned()).or_insert_with(|| {
                symbols.push(symbol.to_owned());
                rules.push(Rules::default());
                symbols.len() - 1
            });
            rules[index]
                .exclude
                .extend(instrument.exclude.iter().cloned());
            rules[index].case_sensitive |= instrument.case_sensitive;
            let provider_symbol = instrument.provider_symbol.as_deref().unwrap_or(symbol);
            let market = Market::of_symbol(instrument.exchange.as_deref(), provider_symbol);
            for ticker in [symbol, provider_symbol].map(|s| (market, listing_ticker(s))) {
                let listed = by_listing.entry(ticker).or_default();
                if !listed.contains(&index) {
                    listed.push(index);
                }
            }
            if let Some(cik) = &instrument.cik {
                let cik = cik.trim().trim_start_matches('0').to_owned();
                if !cik.is_empty() {
                    by_cik.entry(cik).or_default().push(index);
                }
            }
            for name in &instrument.names {
                let name = collapse_whitespace(name).into_owned();
                if name.is_empty() {
                    continue;
                }
                // Ambiguous aliases are kept apart per spelling: "BP" and
                // "bp" are different claims.
                let ambiguous = is_ambiguous(&name);
                let same = |a: &Alias| {
                    if ambiguous || a.ambiguous {
                        a.text == name
                    } else {
                        a.text.to_lowercase() == name.to_lowercase()
                    }
                };
                match aliases.iter_mut().find(|a| same(a)) {
                    Some(a) if !a.instruments.contains(&index) => a.instruments.push(index),
                    Some(_) => {}
                    None => aliases.push(Alias {
                        common_word: !ambiguous && is_common_word(&name),
                        text: name,
                        ambiguous,
                        derived: false,
                        instruments: vec![index],
                    }),
                }
            }
        }
        // A legal form is the registry's, not the news's: "Airtel Africa
        // plc" is written "Airtel Africa". Without it the name counts where
        // what is left is distinctive, two words or more; one word ("BP"
        // of "BP plc") counts only where it is configured itself, under
        // its own rules. A name configured as written keeps its own
        // instruments.
        let mut derived: Vec<Alias> = Vec::new();
        for a in &aliases {
            let Some(rest) =
                without_legal_form(&a.text).filter(|rest| rest.split_whitespace().count() >= 2)
            else {
                continue;
            };
            let same = |b: &Alias| b.text.to_lowercase() == rest.to_lowercase();
            if aliases.iter().any(same) {
                continue;
            }
            match derived.iter_mut().find(|b| same(b)) {
                Some(b) => {
                    for &i in &a.instruments {
                        if !b.instruments.contains(&i) {
                            b.instruments.push(i);
                        }
                    }
                }
                None => derived.push(Alias {
                    text: rest,
                    ambiguous: false,
                    common_word: false,
                    derived: true,
                    instruments: a.instruments.clone(),
                }),
            }
        }
        aliases.extend(derived);
        // Longest first, so "Vodafone Group" wins over "Vodafone" where both
        // fit. The regex is case-insensitive; case rules are applied per hit.
        aliases.sort_by_key(|a| std::cmp::Reverse(a.text.chars().count()));
        let mut seen = std::collections::HashSet::new();
        let pattern = aliases
            .iter()
            .map(|a| {
                // Two spellings of one ambiguous alias share a pattern; the
                // later group never fires, and the hit checks both.
                let p = name_pattern(&a.text);
                if seen.insert(p.to_lowercase()) {
                    format!("({p})")
                } else {
                    format!("({p}(?:[^\\s\\S]))")
                }
            })
            .collect::<Vec<_>>()
            .join("|");
        let regex = (!aliases.is_empty()).then(|| {
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
            rules,
            by_symbol,
            by_listing,
            by_cik,
            names: regex,
            screen: screen(&aliases),
            name_starts: name_starts(&aliases),
            aliases,
        }
    }

    /// Mentions in an item: publisher `tags` first, then the title, then the
    /// text (summary, content or the fetched article); our symbols,
    /// de-duplicated in first-seen order, each with the most reliable way it
    /// was found anywhere in the item.
    pub fn find<S: AsRef<str>>(&self, title: &str, text: &str, tags: &[S]) -> Vec<Mention> {
        self.find_all(tags, &[title, text])
    }

    /// Mentions in a feed's item: its `categories` and its `texts`. A
    /// category is read like the text, under the same rules: a bare `BP` is
    /// a word a health blog files posts under too, and GlobeNewswire's
    /// `Nasdaq:EBIX` is exchange notation, its venue checked (where
    /// "Health: BP" is not).
    pub fn find_in_feed_item<S: AsRef<str>>(
        &self,
        categories: &[S],
        texts: &[&str],
    ) -> Vec<Mention> {
        let all: Vec<&str> = texts
            .iter()
            .copied()
            .chain(categories.iter().map(AsRef::as_ref))
            .collect();
        self.find_all::<&str, _>(&[], &all)
    }

    /// [`find`](Self::find) over any number of text parts, in order.
    pub fn find_all<S: AsRef<str>, T: AsRef<str>>(&self, tags: &[S], texts: &[T]) -> Vec<Mention> {
        let mut found = Found::new(self.symbols.len());
        self.tagged_in(tags, &mut found);
        let parts: Vec<Part<'_>> = texts.iter().map(|t| Part::new(t.as_ref())).collect();
        // Tags, exchange notation and cashtags, in text order.
        let mut strong: Vec<(usize, usize, usize, MatchedBy)> = Vec::new();
        for (p, part) in parts.iter().enumerate() {
            // Notation has a character most text lacks; looking for it
            // first skips the regexes' scans of nearly every part.
            for (re, how, mark) in [
                (&*EXCHANGE, MatchedBy::Exchange, b':'),
                (&*CASHTAG, MatchedBy::Cashtag, b'$'),
            ] {
                if memchr::memchr(mark, part.text.as_bytes()).is_none() {
                    continue;
                }
                for caps in re.captures_iter(part.text) {
                    let symbol = caps.name("symbol").expect("both patterns name it");
                    let Some(venue) = caps.name("venue") else {
                        for &i in self.exactly(symbol.as_str()) {
                            strong.push((p, symbol.start(), i, how));
                        }
                        continue;
                    };
                    // The first ticker, then any others the venue lists
                    // (placed in text order after it).
                    let more = caps.name("more");
                    let others = more.map_or("", |m| m.as_str()).split(',').skip(1);
                    let after = more.map_or(0, |m| m.start());
                    let tickers = std::iter::once((symbol.start(), symbol.as_str())).chain(
                        others
                            .enumerate()
                            .map(|(k, t)| (after + k, t.trim_end_matches(')').trim())),
                    );
                    for (at, ticker) in tickers {
                        for &i in self.listed_on(venue.as_str(), ticker) {
                            strong.push((p, at, i, how));
                        }
                    }
                }
            }
            for caps in CIK.captures_iter(part.text) {
                let Some(m) = caps.get(1).or_else(|| caps.get(2)) else {
                    continue;
                };
                for &i in self
                    .by_cik
                    .get(m.as_str().trim_start_matches('0'))
                    .into_iter()
                    .flatten()
                {
                    strong.push((p, m.start(), i, MatchedBy::Tag));
                }
            }
        }
        // Which symbols tags or notation already vouch for: corroboration
        // for an ambiguous alias anywhere in the item.
        let mut vouched: Vec<bool> = (0..self.symbols.len()).map(|i| found.has(i)).collect();
        for &(_, _, i, _) in &strong {
            vouched[i] = true;
        }
        let hits = self.name_hits(&parts);
        let mut named: Vec<(usize, usize, usize, MatchedBy)> = Vec::new();
        let mut facts = ItemFacts::default();
        for hit in &hits {
            let alias = &self.aliases[hit.alias];
            for &i in &alias.instruments {
                if let Some(how) = self.judge(hit, i, &parts, &hits, vouched[i], &mut facts) {
                    named.push((hit.part, hit.start, i, how));
                }
            }
        }
        let excluded: Vec<bool> = (0..self.symbols.len())
            .map(|i| {
                self.rules[i]
                    .exclude
                    .iter()
                    .any(|re| parts.iter().any(|p| re.is_match(p.text)))
            })
            .collect();
        named.retain(|&(_, _, i, _)| !excluded[i]);
        // Everything in text order, so the symbols keep the order they
        // first appear in.
        strong.extend(named);
        strong.sort_by_key(|&(p, at, _, _)| (p, at));
        for (_, _, i, how) in strong {
            found.add(i, how);
        }
        found.into_mentions(&self.symbols)
    }

    /// Publisher ticker tags (`<nasdaq:tickers>TSM,TSM,AAPL</nasdaq:tickers>`,
    /// Finnhub `related`): bare symbols or `Venue:SYMBOL` (the venue chooses
    /// the listing, as in notation), comma or semicolon separated. Trusted
    /// more than prose, so bare symbols count here.
    pub fn find_tagged<S: AsRef<str>>(&self, tags: &[S]) -> Vec<Mention> {
        let mut found = Found::new(self.symbols.len());
        self.tagged_in(tags, &mut found);
        found.into_mentions(&self.symbols)
    }

    fn tagged_in<S: AsRef<str>>(&self, tags: &[S], found: &mut Found) {
        for tag in tags {
            for token in tag.as_ref().split([',', ';']).map(str::trim) {
                let listed = match token.rsplit_once(':') {
                    Some((venue, symbol)) => self.listed_on(venue, symbol.trim()),
                    None => self.exactly(token.trim_end_matches('.')),
                };
                for &i in listed {
                    found.add(i, MatchedBy::Tag);
                }
            }
        }
    }

    /// The symbol written exactly so, if configured: a cashtag or a bare tag.
    fn exactly(&self, symbol: &str) -> &[usize] {
        self.by_symbol
            .get(symbol)
            .map(std::slice::from_ref)
            .unwrap_or_default()
    }

    /// The symbols listed as `ticker` on `venue`'s market (see *Venues* in
    /// the module doc): none for an OTC venue.
    fn listed_on(&self, venue: &str, ticker: &str) -> &[usize] {
        Market::of_venue(venue)
            .and_then(|m| {
                // Keyed in capitals, as exchanges write tickers: a ticker
                // in lower case (`NYSE: bp`) names nothing, as before.
                let ticker = ticker.trim_end_matches('.');
                self.by_listing.get(&(m, ticker.to_owned()))
            })
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Every place an alias matches, before any rule: case-insensitive.
    fn name_hits(&self, parts: &[Part<'_>]) -> Vec<NameHit> {
        let Some(names) = &self.names else {
            return Vec::new();
        };
        let mut hits = Vec::new();
        for (p, part) in parts.iter().enumerate() {
            if let Some(screen) = &self.screen
                && part.text.is_ascii()
                && !screen.is_match(part.text)
            {
                continue;
            }
            for caps in names.captures_iter(part.text) {
                let Some(group) = (1..caps.len()).find(|&g| caps.get(g).is_some()) else {
                    continue;
                };
                let m = caps.get(0).expect("a match");
                // The group that fired, or another spelling of the same
                // ambiguous alias whose case fits.
                let matched = collapse_whitespace(m.as_str());
                let alias = self
                    .aliases
                    .iter()
                    .position(|a| a.text == matched)
                    .unwrap_or(group - 1);
                hits.push(NameHit {
                    part: p,
                    start: m.start(),
                    end: m.end(),
                    alias,
                });
            }
        }
        hits
    }

    /// Whether `hit` mentions instrument `i`, and how.
    fn judge(
        &self,
        hit: &NameHit,
        i: usize,
        parts: &[Part<'_>],
        hits: &[NameHit],
        vouched: bool,
        facts: &mut ItemFacts,
    ) -> Option<MatchedBy> {
        let alias = &self.aliases[hit.alias];
        let part = &parts[hit.part];
        let written = collapse_whitespace(&part.text[hit.start..hit.end]);
        // Case: ambiguous aliases, names without their legal form, and
        // every name of a case-sensitive instrument, count only as
        // configured or in capitals, unless the whole text shouts (or,
        // for a name without its legal form, is all in lower case: see
        // below).
        if (alias.ambiguous || alias.derived || self.rules[i].case_sensitive)
            && !part.shouting()
            && !(alias.derived && !self.rules[i].case_sensitive && part.lower_case())
            && written != alias.text
            && written != alias.text.to_uppercase()
        {
            return None;
        }
        // One word in lower case, in a text that uses capitals, is a word,
        // not the company: "the shell company", "apple growers",
        // "prudential rules". (A text all in capitals or all in lower case
        // says nothing by its case.)
        if !alias.ambiguous
            && !alias.text.contains(' ')
            && !part.shouting()
            && !part.lower_case()
            && !written.starts_with(char::is_uppercase)
        {
            return None;
        }
        let other_name = |facts: &mut ItemFacts| {
            *facts.other_name.entry((hit.alias, i)).or_insert_with(|| {
                hits.iter().any(|h| {
                    let a = &self.aliases[h.alias];
                    h.alias != hit.alias
                        && a.instruments.contains(&i)
                        && (!a.ambiguous || {
                            let w = collapse_whitespace(&parts[h.part].text[h.start..h.end]);
                            w == a.text || parts[h.part].shouting()
                        })
                })
            })
        };
        if !alias.ambiguous {
            // A text all in lower case (some feeds lower-case everything)
            // shows no name by its capitals, so a word-name ("shell",
            // "next") or a name without its legal form ("airtel africa"
            // of "Airtel Africa plc") may be the word or the phrase, and
            // what a subject takes ("shell is", "apple to") or a finance
            // word ("apple prices", "first solar farm wins contract") fits
            // those as well as the company. There only the company's own
            // signals vouch, or a price move right after the name
            // ("airtel africa up 4%").
            if part.lower_case() && (alias.common_word || alias.derived) {
                return (vouched || other_name(facts) || price_move_follows(&part.text[hit.end..]))
                    .then_some(MatchedBy::Corroborated);
            }
            if alias.text.contains(' ') {
                // "Visa Bets Big On Global Payments": where every word is
                // capitalised, a name without its legal form may be the
                // phrase; the item must say it is the company.
                if alias.derived && (part.shouting() || part.title_case()) {
                    return (vouched || other_name(facts) || Self::in_company_context(hit, parts))
                        .then_some(MatchedBy::Corroborated);
                }
                return Some(MatchedBy::Name);
            }
            // Where capitals say nothing: a title in title case or in
            // capitals, a text in lower case. (Asked only when it matters:
            // finding the sentence costs a scan of the text.)
            let case_says_nothing = || {
                part.shouting()
                    || part.lower_case()
                    || !in_sentence_case(part.text, hit.start, hit.end)
            };
            // One word inside a longer proper noun is some other named
            // thing ("Apple Daily", "Big Apple", "Vodafone Idea"). Finance
            // words cannot tell a namesake from the company (a town's
            // contract, a newspaper's fine, a namesake's shares), so only
            // the company's own signals count here. Where capitals say
            // nothing, the item's own sentences can still show the longer
            // name ("Vodafone Idea Shares Fall", "Vodafone Idea shares
            // dropped"). And the configuration shows it in any case where
            // the word beside it starts another instrument's name: "Airtel
            // Africa" of a unit configured as "Airtel Africa Holdings" is
            // not the parent's unit in Africa.
            if self.starts_another_name(part.text, hit, &written, i)
                || (!part.shouting() && self.in_longer_proper_noun(part.text, hit, &written, i))
                || (self.shown_longer(hit, i, parts, hits, facts) && case_says_nothing())
            {
                return (vouched || other_name(facts)).then_some(MatchedBy::Corroborated);
            }
            // A name that is also a word reads as the word wherever its
            // capital is not the name's own, and at a sentence's start it
            // is the sentence's ("Apple growers fear frost", "Apple Pie
            // Recipes"): like an ambiguous alias, it needs corroboration
            // there, unless what follows it is what a subject takes ("Apple
            // to unveil", "Apple is", "Apple's"), which the word is not
            // without an article.
            if alias.common_word
                && (starts_sentence(part.text, hit.start) || case_says_nothing())
                && !followed_as_subject(
                    part.text,
                    hit.start,
                    hit.end,
                    part.shouting() || part.title_case(),
                )
            {
                // After a particle the word is a phrasal verb's ("Shell out
                // $2,000 for a new laptop"): a sum or a finance word fits
                // what the verb spends as well as a company, so only the
                // company's own signals vouch there, or a price move right
                // after the particle ("Apple up 3%").
                let context = if followed_by_particle(part.text, hit.start, hit.end) {
                    price_move_follows(&part.text[hit.end..])
                } else {
                    Self::in_company_context(hit, parts)
                };
                return (vouched || other_name(facts) || context)
                    .then_some(MatchedBy::Corroborated);
            }
            return Some(MatchedBy::Name);
        }
        if DATE_BEFORE.is_match(tail(part.text, hit.start, 64)) {
            return None;
        }
        let defined = *facts
            .definitions
            .entry((hit.alias, i))
            .or_insert_with(|| self.definition(&alias.text, i, parts));
        match defined {
            Some(Definition::Other) => return None,
            Some(Definition::Own) => return Some(MatchedBy::Corroborated),
            None => {}
        }
        let other_name = other_name(facts);
        // A name the text coins applies throughout the item.
        let coined = *facts.coined.entry(hit.alias).or_insert_with(|| {
            hits.iter().any(|h| {
                h.alias == hit.alias
                    && COINED_BEFORE.is_match(tail(parts[h.part].text, h.start, 80))
            })
        });
        if coined && !other_name {
            return None;
        }
        (other_name || vouched || Self::in_company_context(hit, parts))
            .then_some(MatchedBy::Corroborated)
    }

    /// Whether the words around `hit` say a company: a company form right
    /// after it, finance words near it, or a business-wire headline.
    fn in_company_context(hit: &NameHit, parts: &[Part<'_>]) -> bool {
        let part = &parts[hit.part];
        // The headline (the first part) frames the whole item: its finance
        // words count for an alias in the description too.
        let headline = parts.first().filter(|_| hit.part != 0);
        COMPANY_FORM.is_match(&part.text[hit.end..])
            || finance_near(part.text, hit.start, hit.end)
            || WIRE_PREFIX.is_match(part.text)
            || headline.is_some_and(|h| {
                finance_near(h.text, h.text.len(), h.text.len()) || WIRE_PREFIX.is_match(h.text)
            })
    }

    /// Whether the item shows, where its capitals mark names, that the
    /// one-word name at `hit` makes a longer proper noun with the word
    /// beside it: another place writes the name with the same word on the
    /// same side, and that word makes a longer proper noun there
    /// ("Vodafone Idea shares dropped" for the title "Vodafone Idea Shares
    /// Fall"). Only that word counts, not the one on the other side
    /// ("Shares of Vodafone Idea" shows nothing about "Shares Of
    /// Vodafone").
    fn shown_longer(
        &self,
        hit: &NameHit,
        i: usize,
        parts: &[Part<'_>],
        hits: &[NameHit],
        facts: &mut ItemFacts,
    ) -> bool {
        let beside = facts.longer.entry((hit.alias, i)).or_insert_with(|| {
            hits.iter()
                .filter(|h| h.alias == hit.alias && !parts[h.part].shouting())
                .flat_map(|h| {
                    let text = parts[h.part].text;
                    let [before, after] = self.longer_proper_noun(
                        text,
                        h,
                        &collapse_whitespace(&text[h.start..h.end]),
                        i,
                    );
                    [
                        before.map(|w| (Side::Before, w.to_ascii_lowercase())),
                        after.map(|w| (Side::After, w.to_ascii_lowercase())),
                    ]
                })
                .flatten()
                .collect()
        });
        let [before, after] = adjacent_words(parts[hit.part].text, hit.start, hit.end);
        before.is_some_and(|w| beside.contains(&(Side::Before, w.to_ascii_lowercase())))
            || after.is_some_and(|w| beside.contains(&(Side::After, w.to_ascii_lowercase())))
    }

    /// Whether the one-word name `written`, at `text[hit.start..hit.end]`,
    /// with the word right before or after it, starts a configured name of
    /// an instrument other than `i`: "Airtel Africa" beside a parent named
    /// "Airtel" is not the parent's where a unit is configured as "Airtel
    /// Africa Holdings", in any case. (Where the whole name is written, or
    /// it without a legal form, the longer name already won the hit.) The
    /// configuration says it, so no capital has to.
    fn starts_another_name(&self, text: &str, hit: &NameHit, written: &str, i: usize) -> bool {
        let others = |first: &str, second: &str| {
            let second = second.trim_end_matches("'s").trim_end_matches("’s");
            self.name_starts
                .get(&format!("{first} {second}").to_lowercase())
                .is_some_and(|named| named.iter().any(|&j| j != i))
        };
        let [before, after] = adjacent_words(text, hit.start, hit.end);
        before.is_some_and(|w| others(w, written)) || after.is_some_and(|w| others(written, w))
    }

    /// Whether the one-word name `written`, at `text[hit.start..hit.end]`,
    /// is evidently part of a longer proper noun (see
    /// [`longer_proper_noun`](Self::longer_proper_noun)).
    fn in_longer_proper_noun(&self, text: &str, hit: &NameHit, written: &str, i: usize) -> bool {
        self.longer_proper_noun(text, hit, written, i)
            .iter()
            .any(Option::is_some)
    }

    /// The words right before and right after the one-word name `written`,
    /// at `text[hit.start..hit.end]`, that make it part of a longer proper
    /// noun: a capitalised word beside it in a sentence whose capitals
    /// mark names. Not a company form after it ("Apple Inc"), nor a word
    /// that with it makes up another name of instrument `i` ("Dutch Shell"
    /// of "Royal Dutch Shell"), nor another name of it ("Facebook Meta").
    fn longer_proper_noun<'t>(
        &self,
        text: &'t str,
        hit: &NameHit,
        written: &str,
        i: usize,
    ) -> [Option<&'t str>; 2] {
        let in_capitals = !written.chars().any(char::is_lowercase);
        let own = |word: &str, phrase: String| {
            let word = word.to_lowercase();
            let phrase = format!(" {} ", phrase.to_lowercase());
            self.aliases.iter().any(|a| {
                let name = a.text.to_lowercase();
                a.instruments.contains(&i)
                    && (name == word || format!(" {name} ").contains(&phrase))
            })
        };
        let [before, after] = adjacent_words(text, hit.start, hit.end);
        let before = before
            .filter(|w| names_something_else(w, in_capitals) && !own(w, format!("{w} {written}")));
        let after = after.filter(|w| {
            names_something_else(w, in_capitals)
                && !COMPANY_FORM.is_match(&text[hit.end..])
                && !own(w, format!("{written} {w}"))
        });
        if (before.is_some() || after.is_some()) && in_sentence_case(text, hit.start, hit.end) {
            [before, after]
        } else {
            [None, None]
        }
    }

    /// Whether the item defines `alias` as words: words whose initials spell
    /// it, in parentheses right after it (`BP (before present)`), right
    /// before `(ALIAS)`, or anywhere as capitalised words ("Border Patrol",
    /// "Baidu, Alibaba, Tencent"). `Own` when those words are a configured
    /// name of instrument `i` itself.
    fn definition(&self, alias: &str, i: usize, parts: &[Part<'_>]) -> Option<Definition> {
        let letters: Vec<char> = alias
            .chars()
            .filter(|c| c.is_alphabetic())
            .flat_map(char::to_lowercase)
            .collect();
        if letters.len() < 2 {
            return None;
        }
        let own = |words: &[&str]| {
            let phrase = words.join(" ").to_lowercase();
            self.aliases.iter().any(|a| {
                a.instruments.contains(&i) && {
                    let t = a.text.to_lowercase();
                    phrase == t || phrase.starts_with(&format!("{t} ")) || t.starts_with(&phrase)
                }
            })
        };
        let mut result = None;
        for part in parts {
            let capitals_mean_names = !part.shouting() && !part.title_case();
            for words in definitions(part.text, alias, &letters, capitals_mean_names) {
                if own(&words) {
                    result = Some(Definition::Own);
                } else {
                    return Some(Definition::Other);
                }
            }
        }
        result
    }
}

/// The first two words of every name of two words or more, in lower case,
/// and the instruments it names (see `MentionMatcher::name_starts`).
fn name_starts(aliases: &[Alias]) -> HashMap<String, Vec<usize>> {
    let mut starts: HashMap<String, Vec<usize>> = HashMap::new();
    for a in aliases {
        let mut words = a.text.split_whitespace();
        if let (Some(first), Some(second)) = (words.next(), words.next()) {
            let named = starts
                .entry(format!("{first} {second}").to_lowercase())
                .or_default();
            for &i in &a.instruments {
                if !named.contains(&i) {
                    named.push(i);
                }
            }
        }
    }
    starts
}

/// The screen in front of the names regex (see `MentionMatcher::screen`),
/// or `None` when an alias is not ASCII: case folding could then match
/// ASCII text the screen would not (the Kelvin sign and `k`).
fn screen(aliases: &[Alias]) -> Option<AhoCorasick> {
    if aliases.is_empty() || !aliases.iter().all(|a| a.text.is_ascii()) {
        return None;
    }
    let words = aliases.iter().map(|a| {
        a.text
            .split_whitespace()
            .max_by_key(|w| w.len())
            .unwrap_or(&a.text)
    });
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build(words)
        .ok()
}

#[derive(Debug, Clone, Copy)]
enum Definition {
    /// The alias abbreviates one of the instrument's own names.
    Own,
    /// The alias abbreviates something else.
    Other,
}

/// Instruments seen so far, in first-seen order, each with the most
/// reliable way it was found.
struct Found {
    how: Vec<Option<MatchedBy>>,
    order: Vec<usize>,
}

impl Found {
    fn new(n: usize) -> Self {
        Found {
            how: vec![None; n],
            order: Vec::new(),
        }
    }

    fn add(&mut self, i: usize, how: MatchedBy) {
        match self.how[i] {
            None => {
                self.how[i] = Some(how);
                self.order.push(i);
            }
            // MatchedBy orders most reliable first.
            Some(old) if how < old => self.how[i] = Some(how),
            Some(_) => {}
        }
    }

    fn has(&self, i: usize) -> bool {
        self.how[i].is_some()
    }

    fn into_mentions(self, symbols: &[String]) -> Vec<Mention> {
        self.order
            .into_iter()
            .map(|i| Mention {
                symbol: symbols[i].clone(),
                matched_by: self.how[i].expect("ordered means found"),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instrument(symbol: &str, names: &[&str]) -> Instrument {
        Instrument {
            symbol: symbol.into(),
            names: names.iter().map(|n| n.to_string()).collect(),
            ..Instrument::default()
        }
    }

    fn symbols(mentions: Vec<Mention>) -> Vec<String> {
        mentions.into_iter().map(|m| m.symbol).collect()
    }

    /// Symbols found in `texts`, with no tags.
    fn find<T: AsRef<str>>(m: &MentionMatcher, texts: &[T]) -> Vec<String> {
        symbols(m.find_all::<&str, T>(&[], texts))
    }

    /// The screen in front of the names regex skips only texts the regex
    /// could not match: over every text of the evaluation set, and over
    /// text where Unicode case folding matches what ASCII folding would not
    /// (the Kelvin sign), the matcher finds what it finds without it.
    #[test]
    fn the_screen_never_hides_a_name() {
        let screened = MentionMatcher::new(&[
            instrument("BP", &["BP", "BP plc"]),
            instrument("VOD", &["Vodafone", "Vodafone Group"]),
            instrument("GSK", &["GSK", "GlaxoSmithKline"]),
            instrument("AZN", &["AstraZeneca"]),
            instrument("RIO", &["Rio Tinto"]),
            instrument("NG.", &["National Grid"]),
            instrument("RELX", &["RELX", "Reed Elsevier"]),
            instrument("BATS", &["British American Tobacco", "BAT"]),
            instrument("TSCO", &["Tesco"]),
            instrument("HSBA", &["HSBC"]),
            instrument("AAPL", &["Apple Inc.", "Apple"]),
            instrument("KLG", &["Kellogg"]),
        ]);
        assert!(screened.screen.is_some(), "every alias is ASCII");
        let mut unscreened = screened.clone();
        unscreened.screen = None;
        let eval = include_str!("../../../tests/fixtures/mentions/eval.jsonl");
        let mut texts: Vec<String> = eval
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .flat_map(|r| {
                ["title", "text"].map(|k| r.get(k).and_then(|v| v.as_str()).map(str::to_owned))
            })
            .flatten()
            .collect();
        assert!(texts.len() > 400, "the evaluation set is read");
        // Only Unicode case folding reads this as "Kellogg".
        texts.push("\u{212A}ELLOGG raises its outlook".into());
        let mut named = 0;
        for text in &texts {
            let found = find(&screened, &[text]);
            named += usize::from(!found.is_empty());
            assert_eq!(found, find(&unscreened, &[text]), "{text}");
        }
        assert!(
            named > 20,
            "the comparison covers texts that name something: {named}"
        );
        // A non-ASCII alias turns the screen off.
        let m = MentionMatcher::new(&[instrument("NESN", &["Nestl\u{e9}"])]);
        assert!(m.screen.is_none());
        assert_eq!(find(&m, &["NESTL\u{c9} results"]), ["NESN"]);
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
            // London's BP is not configured here, only New York's.
            ("BP (LSE:BP.) results", &[]),
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
            // A venue's name in lower case is a word, not a venue.
            ("Their aim: BP must leave the Arctic", &[]),
            ("On the six: VOD", &[]),
            // Names: whole words, any case; bare symbols do not count.
            ("BP shares rise", &[]),
            ("bp PLC results", &["BP"]),
            ("Vodafone's results", &["VOD"]),
            ("VODAFONE GROUP plc", &["VOD"]),
            ("Vodafoneland", &[]),
            ("Apple Inc. reported", &["AAPL"]),
            ("pineapple prices", &[]),
            ("The Fed held rates; Ford Motor did not", &["F"]),
            // "AT&T" is short: alone it needs corroboration.
            ("AT&T and Apple Inc.", &["AAPL"]),
            ("AT&T shares and Apple", &["T", "AAPL"]),
            ("RELX said", &[]),
            // Order of first appearance, de-duplicated.
            ("Vodafone beat $BP; $BP and Vodafone again", &["VOD", "BP"]),
            ("$RELX (NYSE: BP) Apple $RELX", &["RELX", "BP", "AAPL"]),
        ];
        for (text, want) in cases {
            assert_eq!(find(&m, &[*text]), *want, "{text}");
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
        assert_eq!(find(&m, &parts), ["VOD", "BP", "EBIX"]);
        let owned: Vec<String> = parts.iter().map(|s| s.to_string()).collect();
        assert_eq!(find(&m, &owned), ["VOD", "BP", "EBIX"]);
        assert!(find::<&str>(&m, &[]).is_empty());
    }

    /// `symbol` with a provider spelling and an `exchange`, as configured.
    fn listing(symbol: &str, provider_symbol: Option<&str>, exchange: Option<&str>) -> Instrument {
        Instrument {
            symbol: symbol.into(),
            provider_symbol: provider_symbol.map(Into::into),
            exchange: exchange.map(Into::into),
            ..Instrument::default()
        }
    }

    /// An analyst's report: with both `BP` (NYSE) and `BP.L` (London)
    /// configured, "(LSE: BP)" was recorded as the NYSE's `BP`. Notation
    /// goes to the listing on its venue's market, and to nothing when
    /// only another market's symbol has those letters.
    #[test]
    fn exchange_notation_goes_to_the_listing_on_its_venue() {
        let m = MentionMatcher::new(&[
            listing("BP", None, None),
            // London by its suffix, by its provider spelling, by `exchange`.
            listing("BP.L", None, None),
            listing("BAE", Some("BA.L"), None),
            listing("NG.", None, Some("LSE")),
            listing("BA", None, None),
            listing("VOD", None, Some("XNAS")),
        ]);
        let cases: &[(&str, &[&str])] = &[
            ("BP p.l.c. (LSE: BP)", &["BP.L"]),
            ("BP (LSE:BP.) results", &["BP.L"]),
            ("BP p.l.c. (NYSE: BP)", &["BP"]),
            // The US exchanges share one ticker space.
            ("(Nasdaq: BP)", &["BP"]),
            ("BP p.l.c. (NYSE: BP; LON: BP.)", &["BP", "BP.L"]),
            // One venue, several tickers, as releases list share classes.
            ("BP and Boeing (NYSE: BP, BA)", &["BP", "BA"]),
            ("(NYSE: BA , BP )", &["BA", "BP"]),
            ("(LSE: BP., BA.)", &["BP.L", "BAE"]),
            // Unclosed, or not in capitals: a sentence goes on.
            ("NYSE: BP, BA said", &["BP"]),
            ("(NYSE: BP, ba)", &["BP"]),
            ("(XLON: BP) (AIM: BP)", &["BP.L"]),
            // The same letters, another company on each market.
            ("BAE Systems (LSE: BA.)", &["BAE"]),
            ("Boeing (NYSE: BA)", &["BA"]),
            ("National Grid (LSE: NG.)", &["NG."]),
            ("(NYSE: NG)", &[]),
            // Only Vodafone's Nasdaq line is configured: London's VOD is
            // none of ours.
            ("Vodafone (LSE: VOD)", &[]),
            ("Vodafone (NASDAQ: VOD)", &["VOD"]),
            // Markets without a calendar list none of our symbols.
            ("(TSX: BP) (ASX: BA) (Euronext Paris: BP)", &[]),
            // A cashtag has no venue: the symbol as written.
            ("$BP and $BP.L", &["BP", "BP.L"]),
        ];
        for (text, want) in cases {
            assert_eq!(find(&m, &[*text]), *want, "{text}");
        }
        // Venue-qualified tags choose the same way.
        assert_eq!(
            symbols(m.find_tagged(&["LSE:BP", "NYSE:BA", "TSX:BP"])),
            ["BP.L", "BA"]
        );
        // Stooq's spelling of a London line, under our own symbol.
        let stooq = MentionMatcher::new(&[listing("BP", Some("bp.uk"), None)]);
        assert_eq!(find(&stooq, &["(LSE: BP.)"]), ["BP"]);
        assert!(find(&stooq, &["(NYSE: BP)"]).is_empty());
        // A symbol of another market is named by that market's venues.
        let elsewhere = MentionMatcher::new(&[
            listing("7203", None, Some("XTKS")),
            listing("SHOP", Some("SHOP.TO"), None),
            listing("SAND", None, None),
        ]);
        assert_eq!(
            find(&elsewhere, &["Toyota (TYO: 7203) (NYSE: 7203)"]),
            ["7203"]
        );
        assert_eq!(find(&elsewhere, &["Shopify (TSX: SHOP)"]), ["SHOP"]);
        assert!(find(&elsewhere, &["(NYSE: SHOP)"]).is_empty());
        // Another market's venues of more than one word are read whole in
        // text and in categories as they are in tags: `Cboe Canada` is
        // Canada's, not the US `Cboe`, and named SHOP.TO nowhere before.
        assert_eq!(
            find(&elsewhere, &["Shopify files (Cboe Canada: SHOP)"]),
            ["SHOP"]
        );
        assert_eq!(
            symbols(elsewhere.find_in_feed_item(&["Cboe Canada:SHOP"], &["Shopify files"])),
            ["SHOP"]
        );
        let sandvik = MentionMatcher::new(&[listing("SAND", Some("SAND.ST"), None)]);
        assert_eq!(
            find(&sandvik, &["Sandvik (Nasdaq Stockholm: SAND)"]),
            ["SAND"]
        );
        assert!(find(&sandvik, &["(Nasdaq: SAND)"]).is_empty());
        let us = MentionMatcher::new(&[listing("SHOP", None, None)]);
        assert!(find(&us, &["(Cboe Canada: SHOP) (Nasdaq Stockholm: SHOP)"]).is_empty());
        assert_eq!(find(&us, &["(Cboe: SHOP)"]), ["SHOP"]);
        // Venues are matched whole, however spelled: Nasdaq's Nordic
        // market is not the US.
        let us = MentionMatcher::new(&[listing("SAND", None, None)]);
        assert_eq!(
            symbols(us.find_tagged(&["NASDAQ-GS:SAND", "Nasdaq Global Select:SAND"])),
            ["SAND"]
        );
        assert!(
            elsewhere
                .find_tagged(&["Nasdaq Stockholm:SAND", "OTC Pink:SHOP"])
                .is_empty()
        );
        assert_eq!(
            symbols(elsewhere.find_tagged(&["Cboe Canada:SHOP"])),
            ["SHOP"]
        );
    }

    #[test]
    fn tags_count_bare_symbols_but_not_otc() {
        let m = matcher();
        assert_eq!(
            symbols(m.find_tagged(&["VOD,VOD, BP ,NVDA"])),
            ["VOD", "BP"]
        );
        assert_eq!(
            symbols(m.find_tagged(&["Nasdaq:EBIX", "NYSE American:WDGT"])),
            ["EBIX", "WDGT"]
        );
        assert!(m.find_tagged(&["OTCQB:OTHR", "bp", "BPX"]).is_empty());
        assert_eq!(
            symbols(m.find_all(&["RELX"], &["$BP", "Vodafone"])),
            ["RELX", "BP", "VOD"]
        );
    }

    #[test]
    fn an_empty_configuration_finds_nothing() {
        let m = MentionMatcher::new(&[instrument("  ", &["ghost"])]);
        assert!(find(&m, &["$BP ghost (NYSE: BP)"]).is_empty());
    }

    #[test]
    fn a_shared_name_mentions_every_instrument_that_lists_it() {
        let m = MentionMatcher::new(&[
            instrument("BP", &["BP plc"]),
            instrument("BP.L", &["bp PLC"]),
        ]);
        assert_eq!(find(&m, &["BP plc results"]), ["BP", "BP.L"]);
    }

    /// The issue's configuration style: short aliases beside full names.
    fn issue_matcher() -> MentionMatcher {
        let mut bp = instrument("BP", &["BP", "BP plc"]);
        bp.cik = Some("313807".into());
        let mut ngg = instrument("NGG", &["National Grid"]);
        ngg.case_sensitive = true;
        ngg.exclude = vec![Regex::new(r"(?i)\bnigeria").unwrap()];
        MentionMatcher::new(&[
            bp,
            instrument("BTI", &["BAT", "British American Tobacco"]),
            instrument("BCE", &["BCE", "Bell Canada"]),
            instrument("RELX", &["RELX"]),
            instrument("AZN", &["AstraZeneca"]),
            ngg,
        ])
    }

    /// Symbols and how each was found, as [`how`] returns them.
    fn owned<'a>(want: &[(&str, &'a str)]) -> Vec<(String, &'a str)> {
        want.iter().map(|(s, h)| (s.to_string(), *h)).collect()
    }

    /// A headline alone and the symbols it should give, with how each was
    /// found.
    type TitleOnly<'a> = (&'a str, &'a [(&'a str, &'a str)]);

    /// Asserts what each headline alone gives.
    fn assert_titles(m: &MentionMatcher, cases: &[TitleOnly]) {
        for (title, want) in cases {
            assert_eq!(how(m, title, ""), owned(want), "{title}");
        }
    }

    fn how(m: &MentionMatcher, title: &str, text: &str) -> Vec<(String, &'static str)> {
        m.find::<&str>(title, text, &[])
            .into_iter()
            .map(|x| (x.symbol, x.matched_by.as_str()))
            .collect()
    }

    #[test]
    fn ambiguous_aliases_need_exact_case_and_corroboration() {
        let m = issue_matcher();
        let cases: &[(&str, &str, &[&str])] = &[
            // Alone, a short alias is not enough; finance words, a company
            // form or another name of the company are.
            ("BP agents stop a truck", "", &[]),
            ("BP profit rises", "", &["BP"]),
            ("In 2023, BP profit fell", "", &["BP"]),
            ("Q2 BP profit tops forecasts", "", &["BP"]),
            ("Results from BP p.l.c. today", "", &["BP"]),
            ("BAT Industries", "", &["BTI"]),
            ("BAT", "British American Tobacco said so", &["BTI"]),
            // Case-exact outside all-capitals text.
            ("bp profit rises", "", &[]),
            ("Bat profits", "", &[]),
            ("Cricket bat sales soar", "", &[]),
            // All capitals: case says nothing, the rules still apply.
            ("BP ANNOUNCES SECOND QUARTER RESULTS", "", &["BP"]),
            ("BAT FOUND IN ATTIC", "", &[]),
            // Mentions only in the description, with the headline's context.
            (
                "RESULTS FOR THE YEAR",
                "RELX, the global provider of analytics",
                &["RELX"],
            ),
            // Unambiguous names match alone, in any case.
            ("ASTRAZENECA WINS APPROVAL", "", &["AZN"]),
            ("astrazeneca wins", "", &["AZN"]),
            ("Astrazeneca Wins", "", &["AZN"]),
            // But one word in lower case among capitals is the word.
            ("Police say astrazeneca vials were stolen", "", &[]),
        ];
        for (title, text, want) in cases {
            assert_eq!(
                symbols(m.find::<&str>(title, text, &[])),
                *want,
                "{title} / {text}"
            );
        }
    }

    #[test]
    fn vetoes_make_an_alias_something_else() {
        let m = issue_matcher();
        let cases: &[(&str, &str)] = &[
            // A number or a word for years before it: a date.
            ("Charcoal dated to 3200 BP shows oil use", ""),
            ("Around 300 BCE, traders sold oil", ""),
            ("calibrated to cal BP, the price of", ""),
            ("the 4th century BCE market", ""),
            // Defined as other words, next to it or in capitals elsewhere.
            ("BP (before present) dates and market prices", ""),
            (
                "Market share of the BAT",
                "Baidu, Alibaba and Tencent lead the market",
            ),
            ("Border Patrol (BP) budget of $2 billion", ""),
            (
                "BP agents seized $1 million in drugs",
                "U.S. Border Patrol agents said",
            ),
            // A name the text coins for what it describes.
            ("Chinese tech firms known as BAT gain market share", ""),
        ];
        for (title, text) in cases {
            assert!(
                m.find::<&str>(title, text, &[]).is_empty(),
                "{title} / {text}"
            );
        }
        // Title case capitalises everything: "Business Payouts" defines nothing.
        assert_eq!(
            symbols(m.find::<&str>(
                "BP Seeks to Get Back Some Gulf Oil Spill Business Payouts",
                "",
                &[]
            )),
            ["BP"]
        );
        // Its own full name defining it corroborates.
        assert_eq!(
            how(&m, "British American Tobacco (BAT) results", ""),
            [("BTI".to_string(), "name")]
        );
        assert_eq!(
            how(
                &m,
                "Shares in BAT rose",
                "British American Tobacco (BAT) said"
            ),
            [("BTI".to_string(), "name")]
        );
    }

    #[test]
    fn long_articles_are_read_near_each_alias() {
        let m = issue_matcher();
        // Non-ASCII filler, so the look-behind window starts mid-letter.
        let filler = "Der Fluss führt rötliches Wasser über Steine. ".repeat(2000);
        let late = |s: &str| format!("{filler}{s}");
        assert!(
            m.find::<&str>("Notes", &late("charcoal dated to 3200 BP"), &[])
                .is_empty()
        );
        assert!(
            m.find::<&str>("Notes", &late("Tech firms known as BAT"), &[])
                .is_empty()
        );
        assert_eq!(
            symbols(m.find::<&str>("Notes", &late("BP profit rose"), &[])),
            ["BP"]
        );
        // Finance words far away from the alias do not count.
        let far = format!("Shares and profits. {filler}BP agents stopped a truck");
        assert!(m.find::<&str>("Notes", &far, &[]).is_empty());
    }

    #[test]
    fn per_symbol_exclude_and_case_sensitivity() {
        let m = issue_matcher();
        assert_eq!(
            symbols(m.find::<&str>("National Grid profit up 15%", "", &[])),
            ["NGG"]
        );
        assert_eq!(
            symbols(m.find::<&str>("NATIONAL GRID plc", "", &[])),
            ["NGG"]
        );
        assert!(
            m.find::<&str>("the national grid collapsed", "", &[])
                .is_empty()
        );
        assert!(
            m.find::<&str>(
                "National Grid collapses",
                "Nigeria plunged into darkness",
                &[]
            )
            .is_empty()
        );
        // Exclusion stops names, not publisher tags or notation.
        assert_eq!(
            how(&m, "Nigeria and National Grid (NYSE: NGG)", ""),
            [("NGG".to_string(), "exchange")]
        );
    }

    #[test]
    fn each_mention_says_how_it_was_found_in_order_of_appearance() {
        let m = issue_matcher();
        let found = m.find(
            "AstraZeneca beats BP; $RELX up",
            "BCE Inc. (NYSE: BCE) and BP plc",
            &["BTI"],
        );
        let got: Vec<(&str, &str)> = found
            .iter()
            .map(|x| (x.symbol.as_str(), x.matched_by.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("BTI", "tag"),
                ("AZN", "name"),
                // "BP" alone was corroborated by "BP plc" later; the full
                // name is the more reliable way and wins.
                ("BP", "name"),
                ("RELX", "cashtag"),
                ("BCE", "exchange"),
            ]
        );
        // EDGAR filings: the filer's CIK is a tag.
        assert_eq!(
            how(&m, "6-K - BP PLC (0000313807) (Filer)", ""),
            [("BP".to_string(), "tag")]
        );
        assert_eq!(
            how(&m, "Filed by CIK 313807", ""),
            [("BP".to_string(), "tag")]
        );
        assert!(m.find::<&str>("CIK 0000313808", "", &[]).is_empty());
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

    /// A feed's categories are read like its text: `Nasdaq:EBIX` is
    /// exchange notation, a bare `BP` a topic (blood pressure on a health
    /// blog), and one-word names in lower case are words.
    #[test]
    fn a_feeds_categories_are_read_like_its_text() {
        let m = MentionMatcher::new(&[
            instrument("BP", &["BP plc"]),
            instrument("EBIX", &[]),
            instrument("SHEL", &["Shell"]),
            instrument("AAPL", &["Apple"]),
        ]);
        let how = |categories: &[&str], texts: &[&str]| -> Vec<(String, &'static str)> {
            m.find_in_feed_item(categories, texts)
                .into_iter()
                .map(|x| (x.symbol, x.matched_by.as_str()))
                .collect()
        };
        assert_eq!(
            how(
                &["BP", "Heart"],
                &[
                    "Home monitors help patients",
                    "Daily checks of blood pressure work."
                ]
            ),
            []
        );
        assert_eq!(
            how(
                &["Nasdaq:EBIX", "Press releases"],
                &["Ebix wins a contract"]
            ),
            [("EBIX".to_string(), "exchange")]
        );
        assert_eq!(how(&["Health: BP"], &["Readings at home"]), []);
        assert_eq!(
            how(&["BP"], &["BP plc raises its dividend"]),
            [("BP".to_string(), "name")]
        );
        assert_eq!(
            how(
                &[],
                &[
                    "Police say the shell company moved the money offshore",
                    "Washington apple growers expect a record harvest",
                ]
            ),
            []
        );
        assert_eq!(
            how(&[], &["Shell and Apple report results"]),
            // "Shell" starts the sentence, where its capital says nothing:
            // the finance words vouch for it.
            [
                ("SHEL".to_string(), "corroborated"),
                ("AAPL".to_string(), "name")
            ]
        );
    }

    /// A reviewer's report: with `names = ["Apple"]`, a newspaper, a city
    /// and a town were recorded as Apple by name. A one-word name beside a
    /// capitalised word is part of another proper noun and needs the
    /// company's own corroboration; where capitals say nothing (title
    /// case, all capitals) or mark a company form, another of its names, a
    /// function word or an acronym, the name still counts alone.
    #[test]
    fn a_one_word_name_inside_a_longer_proper_noun_is_not_the_company() {
        let m = MentionMatcher::new(&[
            instrument("AAPL", &["Apple"]),
            instrument("SHEL", &["Shell", "Royal Dutch Shell"]),
            instrument("VOD", &["Vodafone"]),
        ]);
        let cases: &[(&str, &str, &[&str])] = &[
            // A Hong Kong newspaper, New York, a town.
            ("Apple Daily founder Jimmy Lai jailed", "", &[]),
            ("Big Apple tourism hits record", "", &[]),
            ("Apple Valley man arrested", "", &[]),
            (
                "Hong Kong media tycoon jailed",
                "The Apple Daily founder is sentenced to 13 months.",
                &[],
            ),
            // A dateline in capitals in a text in mixed case.
            (
                "Town renews police contract",
                "APPLE VALLEY, Calif. — Earlier this week the Apple Valley Town Council announced the renewal of the Town's $15.5 million contract.",
                &[],
            ),
            // Still the company. (Where "Apple" starts a sentence or
            // capitals say nothing, the word needs more: see
            // a_name_that_is_also_a_word_needs_corroboration_where_its_capital_is_not_its_own.)
            ("Apple to unveil new iPhone", "", &["AAPL"]),
            ("Apple Inc shares rise", "", &["AAPL"]),
            ("APPLE CUTS PRICES", "", &["AAPL"]),
            ("Vodafone And Google Face New Rules", "", &["VOD"]),
            ("Vodafone Unveils New Tariffs", "", &["VOD"]),
            (
                "When Apple launched the iPhone, rivals followed",
                "",
                &["AAPL"],
            ),
            ("Apple CEO Tim Cook visits Beijing", "", &["AAPL"]),
            ("Berkshire's Apple stake grows", "", &["AAPL"]),
            ("Vodafone Tuesday unveiled a cheaper plan", "", &["VOD"]),
            ("Analysts say Dutch Shell faces a reckoning", "", &["SHEL"]),
            // A product of the company, and the company named plainly.
            (
                "Apple Watch shipments suffer sharp summer decline",
                "Apple Watch shipments declined this summer, with Apple shifting just 1.1 million units.",
                &["AAPL"],
            ),
        ];
        for (title, text, want) in cases {
            assert_eq!(
                symbols(m.find::<&str>(title, text, &[])),
                *want,
                "{title} / {text}"
            );
        }
    }

    /// Finance words do not vouch for a name inside a longer proper noun:
    /// a namesake has shares, fines and contracts too. The company's own
    /// signals (its tag, cashtag, notation, another of its names) do.
    #[test]
    fn a_name_inside_a_longer_proper_noun_needs_the_companys_own_corroboration() {
        let m = MentionMatcher::new(&[
            instrument("AAPL", &["Apple", "AAPL"]),
            instrument("VOD", &["Vodafone", "Vodafone Group"]),
        ]);
        assert!(how(&m, "Apple Daily shares surge 300% in Hong Kong", "").is_empty());
        assert!(how(&m, "Vodafone Idea shares slump on dues ruling", "").is_empty());
        assert_eq!(
            how(&m, "Vodafone Spain sale agreed", "Vodafone Group said"),
            [("VOD".to_string(), "name")]
        );
        assert_eq!(
            how(&m, "Apple Music price rise", "AAPL stock fell"),
            [("AAPL".to_string(), "corroborated")]
        );
        assert_eq!(
            symbols(m.find("Apple Valley shares slump", "", &["AAPL"])),
            ["AAPL"]
        );
    }

    /// A known weakness: "Apple growers…" and "Apple pie…" starting a
    /// headline were Apple by name, as the capital there is the
    /// sentence's, and a Title Case headline capitalises every word. A
    /// name that is also an English word counts alone only where its
    /// capital is its own, or where what follows is what a subject takes;
    /// elsewhere it needs corroboration like an ambiguous alias. Coined
    /// names are not words and are read as before.
    #[test]
    fn a_name_that_is_also_a_word_needs_corroboration_where_its_capital_is_not_its_own() {
        let m = MentionMatcher::new(&[
            instrument("AAPL", &["Apple"]),
            instrument("SHEL", &["Shell"]),
            instrument("VOD", &["Vodafone"]),
            instrument("AZN", &["AstraZeneca"]),
        ]);
        // Title, text, and each symbol found with how.
        type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);
        let cases: &[Case] = &[
            // The word: starting a sentence, in Title Case, in capitals,
            // in lower case.
            ("Apple growers fear early frost", "", &[]),
            ("Apple pie recipes for autumn", "", &[]),
            ("Shell collectors flock to the beach", "", &[]),
            ("Apple Pie Recipes For Autumn", "", &[]),
            ("Frost Impacts Apple Crop", "", &[]),
            ("APPLE PIE RECIPES", "", &[]),
            ("apple pie recipes", "", &[]),
            (
                "Orchards report a late harvest",
                "Apple and pear growers lost half their crop.",
                &[],
            ),
            // The company: what follows is a subject's, finance words vouch
            // for it, or the item names it where its capital is its own.
            ("Apple to unveil new iPhone", "", &[("AAPL", "name")]),
            (
                "Apple Is Expected To Unveil A New iPhone",
                "",
                &[("AAPL", "name")],
            ),
            ("Apple's new headset disappoints", "", &[("AAPL", "name")]),
            ("Apple shares fall", "", &[("AAPL", "corroborated")]),
            (
                "Apple unveils new iPhone",
                "Analysts expect Apple to sell fewer phones.",
                &[("AAPL", "name")],
            ),
            (
                "Berkshire Bought Apple Stake",
                "",
                &[("AAPL", "corroborated")],
            ),
            // A headline's verb after it: the word is followed by a noun.
            ("Apple unveils new iPhone", "", &[("AAPL", "name")]),
            ("Apple Unveils New iPhone 17", "", &[("AAPL", "name")]),
            (
                "Shell sells Nigerian onshore assets",
                "",
                &[("SHEL", "name")],
            ),
            (
                "APPLE SAID TO PLAN CHEAPER MACBOOK",
                "",
                &[("AAPL", "name")],
            ),
            ("Apple crop falls short", "", &[]),
            // ... but not one a thing takes too: a prize, a passive.
            ("Apple Named Best Fruit", "", &[]),
            ("Apple Wins Best In Show", "", &[]),
            ("Apple adds crunch to autumn salads", "", &[]),
            ("Shell sold to a collector", "", &[]),
            ("Apple Recalls Widen", "", &[]),
            // The price: nothing here says which it is.
            ("Apple, Google face probe", "", &[]),
            // Names that are no word read as before.
            ("Vodafone unveils new tariffs", "", &[("VOD", "name")]),
            ("AstraZeneca Unveils New Drug", "", &[("AZN", "name")]),
        ];
        for (title, text, want) in cases {
            let got = how(&m, title, text);
            let want = owned(want);
            assert_eq!(got, want, "{title} / {text}");
        }
    }

    /// A Title Case headline capitalises every word, so it cannot show
    /// that "Vodafone Idea" is one name; the item's own sentences can.
    /// Where capitals say nothing, a one-word name beside the word that
    /// the item elsewhere writes as part of a longer proper noun with it
    /// is that longer name too.
    #[test]
    fn a_title_case_headline_reads_a_longer_name_from_the_items_own_sentences() {
        let m = MentionMatcher::new(&[instrument("VOD", &["Vodafone", "Vodafone Group"])]);
        let idea = "On Friday, Vodafone Idea shares dropped close to 4%.";
        assert!(
            how(
                &m,
                "Vodafone Idea Shares Fall Nearly 4% as Court Hears Plea",
                idea
            )
            .is_empty()
        );
        assert!(how(&m, "VODAFONE IDEA SHARES FALL", idea).is_empty());
        // The company's own name still vouches for it.
        assert_eq!(
            how(
                &m,
                "Vodafone Idea Shares Fall",
                "Vodafone Group holds a stake in Vodafone Idea."
            ),
            [("VOD".to_string(), "name")]
        );
        // Only the same word beside it: the group's own results are not
        // its namesake's.
        assert_eq!(
            how(
                &m,
                "Vodafone Results Beat Forecasts",
                "Vodafone Idea shares fell."
            ),
            [("VOD".to_string(), "name")]
        );
        // Nothing in the item shows the longer name: the headline alone
        // cannot tell.
        assert_eq!(
            how(
                &m,
                "Vodafone Idea Shares Fall Nearly 4% as Court Hears Plea",
                ""
            ),
            [("VOD".to_string(), "name")]
        );
    }

    /// "Shell out for a new laptop" was Shell plc by name: "out" is a
    /// function word, and a function word after a word-name read as what a
    /// subject takes. A particle after the word makes a phrasal verb of it
    /// ("shell out") or a price move ("Apple up 3%", which its figure
    /// vouches for anyway), so the word needs corroboration there, in any
    /// case; other function words still show the subject ("over" too: see
    /// `over_after_a_word_name_sets_the_company_against_another`).
    #[test]
    fn a_particle_after_a_word_name_makes_a_phrasal_verb_not_a_subject() {
        let m = MentionMatcher::new(&[
            instrument("SHEL", &["Shell"]),
            instrument("AAPL", &["Apple"]),
        ]);
        assert_titles(
            &m,
            &[
                (
                    "Shell out for a new laptop before the back-to-school rush",
                    &[],
                ),
                ("Shell Out Or Wait? When To Replace An Ageing Phone", &[]),
                ("Apple off the tree is the sweetest", &[]),
                // A price move, vouched for by its figure.
                (
                    "Apple up 3% after strong iPhone sales",
                    &[("AAPL", "corroborated")],
                ),
                // Other function words after it still show a subject.
                (
                    "Shell in talks to sell Nigerian onshore unit",
                    &[("SHEL", "name")],
                ),
                (
                    "Shell on Monday said it would cut output",
                    &[("SHEL", "name")],
                ),
            ],
        );
    }

    /// "Shell out $2,000 for a new laptop" was Shell plc: the particle
    /// made it need corroboration, and the `$` of the sum gave it. After a
    /// particle a sum or a finance word is what the phrasal verb spends;
    /// only the company's own signals (a cashtag, notation, another of its
    /// names) vouch there, or a price move right after the particle
    /// ("Apple up 3%", "Apple off 2.5 per cent").
    #[test]
    fn after_a_particle_only_the_companys_own_signals_or_a_price_move_vouch_for_a_word_name() {
        let m = MentionMatcher::new(&[
            instrument("SHEL", &["Shell", "Royal Dutch Shell"]),
            instrument("AAPL", &["Apple"]),
        ]);
        type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);
        let cases: &[Case] = &[
            ("Shell out $2,000 for a new laptop", "", &[]),
            (
                "Shell Out $2,000 For A New Laptop? Read This First",
                "",
                &[],
            ),
            (
                "Shell out billions for a stadium, fans tell owners",
                "",
                &[],
            ),
            ("SHELL OUT £50 A MONTH FOR BROADBAND", "", &[]),
            // A price move right after the particle is the company's.
            (
                "Apple up 3% after strong iPhone sales",
                "",
                &[("AAPL", "corroborated")],
            ),
            (
                "Apple off 2.5 per cent in early trade",
                "",
                &[("AAPL", "corroborated")],
            ),
            // Agency styles: Reuters' "pct", and pence.
            (
                "Apple up 2 pct in Frankfurt",
                "",
                &[("AAPL", "corroborated")],
            ),
            (
                "Shell up 12p as oil climbs",
                "",
                &[("SHEL", "corroborated")],
            ),
            // The company's own signals still vouch for it.
            (
                "Shell out $2bn for a rival? Investors doubt it",
                "Royal Dutch Shell is said to weigh a bid.",
                &[("SHEL", "name")],
            ),
            (
                "Shell out $2bn for a rival? Investors doubt it",
                "Traders sold $SHEL on the report.",
                &[("SHEL", "cashtag")],
            ),
        ];
        for (title, text, want) in cases {
            assert_eq!(how(&m, title, text), owned(want), "{title} / {text}");
        }
    }

    /// "Apple In Bloom Across The Valley" was Apple Inc. by name: "In" is a
    /// function word. In a headline in title case or in capitals, a
    /// preposition that makes a thing of a word-name reads as well with
    /// the thing ("Apple In Bloom", "Apple With Cinnamon") as with the
    /// company ("Apple In Talks To Buy…"), so the word needs corroboration
    /// there; "To" and the other prepositions still show the subject (see
    /// `a_title_case_preposition_that_makes_no_thing_of_a_word_name_shows_its_subject`),
    /// and in sentence case agency style ("Apple in talks", "Apple on
    /// Thursday sent") is read as before.
    #[test]
    fn a_preposition_after_a_word_name_in_a_title_case_headline_shows_no_subject() {
        let m = MentionMatcher::new(&[
            instrument("AAPL", &["Apple"]),
            instrument("VOD", &["Vodafone"]),
        ]);
        type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);
        let cases: &[Case] = &[
            ("Apple In Bloom Across The Valley", "", &[]),
            ("Apple With Cinnamon: A Simple Autumn Crumble", "", &[]),
            ("APPLE IN BLOOM AT THE COUNTY FAIR", "", &[]),
            // The company: in talks (see
            // `in_a_title_case_headline_a_place_is_a_thing_and_proceedings_are_the_company`),
            // or vouched for by its own sentences.
            (
                "Apple In Talks To Buy Music App Shazam",
                "",
                &[("AAPL", "name")],
            ),
            (
                "Apple In Tribute To Its Late Founder",
                "Apple is marking ten years since Steve Jobs died.",
                &[("AAPL", "name")],
            ),
            (
                "Apple To Unveil New iPhone On September 9",
                "",
                &[("AAPL", "name")],
            ),
            // Sentence case reads as before.
            ("Apple in talks with music labels", "", &[("AAPL", "name")]),
            (
                "Apple on Thursday sent out invitations",
                "",
                &[("AAPL", "name")],
            ),
            // A name that is no word needs nothing.
            ("Vodafone In Talks With Three", "", &[("VOD", "name")]),
        ];
        for (title, text, want) in cases {
            let want = owned(want);
            assert_eq!(how(&m, title, text), want, "{title} / {text}");
        }
    }

    /// "Apple over Samsung in latest smartphone rankings" was missed: "over"
    /// counted as a particle, as "out" in "Shell out for a new laptop".
    /// After a noun it sets the thing against another, as a company's
    /// headline does; no word-name makes a phrasal verb with it. The
    /// particles that do ("shell out", "Next up") still need corroboration.
    #[test]
    fn over_after_a_word_name_sets_the_company_against_another() {
        let m = MentionMatcher::new(&[
            instrument("AAPL", &["Apple"]),
            instrument("SHEL", &["Shell"]),
            instrument("NXT", &["Next"]),
        ]);
        assert_titles(
            &m,
            &[
                (
                    "Apple over Samsung in latest smartphone rankings",
                    &[("AAPL", "name")],
                ),
                (
                    "Shell out for a new laptop before the back-to-school rush",
                    &[],
                ),
                ("Next up: the week's big films", &[]),
            ],
        );
    }

    /// Title-only items such as "Apple At WWDC: Everything Announced
    /// Today" and "Shell On Track To Meet 2030 Emissions Goal" were missed
    /// once every preposition but "to" in a title case headline stopped
    /// showing the subject. Only those that make a thing of the word (where
    /// it is, what it comes with or from: "In", "With", "From") do; "At",
    /// "For", "On", "Against" and "Over" read as a headline's shorthand for
    /// what the company does, in title case and in capitals.
    #[test]
    fn a_title_case_preposition_that_makes_no_thing_of_a_word_name_shows_its_subject() {
        let m = MentionMatcher::new(&[
            instrument("AAPL", &["Apple"]),
            instrument("SHEL", &["Shell"]),
        ]);
        assert_titles(
            &m,
            &[
                (
                    "Apple At WWDC: Everything Announced Today",
                    &[("AAPL", "name")],
                ),
                (
                    "Apple For Business Gets A New Device Manager",
                    &[("AAPL", "name")],
                ),
                (
                    "Shell On Track To Meet 2030 Emissions Goal",
                    &[("SHEL", "name")],
                ),
                (
                    "Apple Against The FBI: The Encryption Fight Returns",
                    &[("AAPL", "name")],
                ),
                (
                    "Apple Over Samsung In Latest Smartphone Rankings",
                    &[("AAPL", "name")],
                ),
                (
                    "APPLE AT WWDC: EVERYTHING ANNOUNCED TODAY",
                    &[("AAPL", "name")],
                ),
                // The prepositions that make a thing of it still need
                // corroboration, and "Of" joins it to a thing.
                ("Apple From Seed: Why Pips Never Grow True", &[]),
                ("Apple Of My Eye: Growing Heritage Varieties At Home", &[]),
                ("Apple In Bloom Across The Valley", &[]),
            ],
        );
    }

    /// "Shell On The Beach" was Shell plc and "Apple In Court Again" was
    /// missed, each alone in its item: in Title Case every preposition
    /// but "In", "With" and "From" showed the subject, and those three
    /// never did. A place preposition before an article says where a
    /// thing is; "In" before proceedings (court, talks…) says what a
    /// company is in. The title-only headlines the last review restored
    /// stay the company.
    #[test]
    fn in_a_title_case_headline_a_place_is_a_thing_and_proceedings_are_the_company() {
        let m = MentionMatcher::new(&[
            instrument("AAPL", &["Apple"]),
            instrument("SHEL", &["Shell"]),
        ]);
        assert_titles(
            &m,
            &[
                ("Shell On The Beach", &[]),
                ("Shell On The Beach: A Collector's Guide", &[]),
                ("Apple In The Orchard Wins A Ribbon", &[]),
                ("SHELL ON THE BEACH AT LOW TIDE", &[]),
                ("Apple In Court Again", &[("AAPL", "name")]),
                ("APPLE IN COURT AGAIN", &[("AAPL", "name")]),
                ("Apple In Talks With Music Labels", &[("AAPL", "name")]),
                (
                    "Shell In Dispute With Nigerian Regulator",
                    &[("SHEL", "name")],
                ),
                // Restored last time, and still the company.
                (
                    "Apple At WWDC: Everything Announced Today",
                    &[("AAPL", "name")],
                ),
                (
                    "Shell On Track To Meet 2030 Emissions Goal",
                    &[("SHEL", "name")],
                ),
                (
                    "Apple Over Samsung In Latest Smartphone Rankings",
                    &[("AAPL", "name")],
                ),
                (
                    "Apple Against The FBI: The Encryption Fight Returns",
                    &[("AAPL", "name")],
                ),
                // Still things.
                ("Apple In Bloom Across The Valley", &[]),
                ("Apple With Cinnamon: A Simple Autumn Crumble", &[]),
            ],
        );
        // The item's own sentences still vouch for the company.
        assert_eq!(
            how(
                &m,
                "Shell On The Beach",
                "Shell said on Monday it would pay for the clean-up."
            ),
            [("SHEL".to_string(), "name")]
        );
    }

    /// "Shell on the beach: five places to find…" was Shell plc: at a
    /// sentence's start the capital is the sentence's, and "on" read as
    /// the subject's ("Shell on Monday said"). A place preposition before
    /// an article places a thing there as it does in Title Case; without
    /// the article the company keeps the mention, and mid-sentence the
    /// capital is the name's own.
    #[test]
    fn at_a_sentences_start_a_place_preposition_before_an_article_places_a_thing() {
        let m = MentionMatcher::new(&[
            instrument("AAPL", &["Apple"]),
            instrument("SHEL", &["Shell"]),
        ]);
        assert_titles(
            &m,
            &[
                (
                    "Shell on the beach: five places to find the best shells",
                    &[],
                ),
                ("Apple in the garden: how to grow your own", &[]),
                ("Apple on the shelf: how long a harvest keeps", &[]),
                ("Shell onto the sand as the tide turns", &[]),
                // The company: no article, or its capital is its own.
                (
                    "Shell on track to meet 2030 emissions goal",
                    &[("SHEL", "name")],
                ),
                (
                    "Shell in talks to sell Nigerian onshore unit",
                    &[("SHEL", "name")],
                ),
                (
                    "Apple on Thursday sent out invitations",
                    &[("AAPL", "name")],
                ),
                (
                    "Greenpeace confronts Shell on the Arctic",
                    &[("SHEL", "name")],
                ),
            ],
        );
        // A sentence of the text starts the same way.
        assert_eq!(
            how(
                &m,
                "Five places to find the best shells",
                "Shell on the beach is best after a storm."
            ),
            []
        );
        // The item's own signals still vouch for the company.
        assert_eq!(
            how(
                &m,
                "Shell on the beach: a clean-up",
                "Cleaners paid by $SHEL."
            ),
            [("SHEL".to_string(), "cashtag")]
        );
    }

    /// "Shell On The Hook For Nigerian Clean-Up" was missed, and "Shell
    /// On The Hook For Spill" counted only by its finance word: a place
    /// preposition before an article placed a thing whatever the noun. A
    /// company's standing in an idiom ("the hook", "the defensive", "the
    /// spotlight") is no place a shell or an apple is, so there the
    /// preposition shows the subject, in any case; a place still places
    /// a thing.
    #[test]
    fn a_companys_standing_after_a_place_preposition_and_an_article_shows_its_subject() {
        let m = MentionMatcher::new(&[
            instrument("AAPL", &["Apple"]),
            instrument("SHEL", &["Shell"]),
        ]);
        assert_titles(
            &m,
            &[
                (
                    "Shell On The Hook For Nigerian Clean-Up",
                    &[("SHEL", "name")],
                ),
                ("Shell On The Hook For Spill", &[("SHEL", "name")]),
                ("SHELL ON THE HOOK FOR CLEAN-UP", &[("SHEL", "name")]),
                (
                    "Apple on the defensive over encryption",
                    &[("AAPL", "name")],
                ),
                (
                    "Apple In The Spotlight At Its Developer Conference",
                    &[("AAPL", "name")],
                ),
                (
                    "Shell at the forefront of the hydrogen push",
                    &[("SHEL", "name")],
                ),
                // Places.
                ("Shell On The Beach: What The Tide Leaves Behind", &[]),
                ("Shell on the rocks at low tide", &[]),
                ("Apple On The Tree: When To Pick", &[]),
                ("Apple In The Garden", &[]),
            ],
        );
    }

    /// "Shell in the North Sea: decommissioning begins", "Apple in the EU:
    /// new rules" and "Shell at the AGM…" lost the company (or kept it
    /// only by a finance word): a place preposition before an article
    /// placed a thing whatever the noun, unless it was one of eleven
    /// idioms. Only a place a thing lies in or on (the beach, the tree,
    /// the kitchen: `THING_PLACES`) places it now; a proper noun or any
    /// other noun keeps the company, in any case and in the item's text
    /// too.
    #[test]
    fn a_place_preposition_before_an_article_places_a_thing_only_where_a_thing_lies() {
        let m = MentionMatcher::new(&[
            instrument("AAPL", &["Apple"]),
            instrument("SHEL", &["Shell"]),
        ]);
        assert_titles(
            &m,
            &[
                // The company: a proper noun or another noun after the
                // article.
                (
                    "Shell in the North Sea: decommissioning begins",
                    &[("SHEL", "name")],
                ),
                ("Apple in the EU: new rules", &[("AAPL", "name")]),
                (
                    "Shell in the Netherlands: court orders emissions cut",
                    &[("SHEL", "name")],
                ),
                ("Apple at the top of its game", &[("AAPL", "name")]),
                (
                    "Shell at the AGM: activists heckle board",
                    &[("SHEL", "name")],
                ),
                (
                    "Apple In The EU: New Rules For App Stores",
                    &[("AAPL", "name")],
                ),
                (
                    "SHELL IN THE NORTH SEA: DECOMMISSIONING BEGINS",
                    &[("SHEL", "name")],
                ),
                // The cost: a thing somewhere the list does not name.
                (
                    "Apple at the county fair wins a ribbon",
                    &[("AAPL", "name")],
                ),
                // A thing where it lies, in any case.
                (
                    "Shell on the beach: five places to find the best shells",
                    &[],
                ),
                ("Shell On The Beach", &[]),
                ("Apple On The Tree: When To Pick", &[]),
                ("Apple in the kitchen: ten autumn recipes", &[]),
                ("SHELL ON THE SEABED AT LOW TIDE", &[]),
            ],
        );
        // A sentence of the item's text reads the same way.
        assert_eq!(
            how(
                &m,
                "Platforms close off Aberdeen",
                "Shell in the North Sea has cut 200 jobs."
            ),
            [("SHEL".to_string(), "name")]
        );
        assert_eq!(
            how(
                &m,
                "Five places to find the best shells",
                "Shell on the sand is best after a storm."
            ),
            []
        );
    }

    /// Some feeds lower-case everything. There "shell is the best find on
    /// a winter beach walk" was Shell plc (a subject's "is" vouched) and
    /// "apple prices rise at farmers' markets" Apple (a finance word),
    /// while "airtel africa up 4%…" never counted, as a name without its
    /// legal form had to be capitalised. In a text all in lower case a
    /// word-name or a name without its legal form counts only with the
    /// company's own signals or a price move right after it; a
    /// case-sensitive instrument's names never do.
    #[test]
    fn in_an_all_lower_case_text_a_word_name_or_a_name_without_its_form_needs_the_companys_own_signals()
     {
        let mut grid = instrument("NGG", &["National Grid plc"]);
        grid.case_sensitive = true;
        let m = MentionMatcher::new(&[
            instrument("AAPL", &["Apple"]),
            instrument("SHEL", &["Shell", "Royal Dutch Shell"]),
            instrument("NXT", &["Next"]),
            instrument("BHARTIARTL.NS", &["Airtel", "Bharti Airtel"]),
            instrument("AAF.L", &["Airtel Africa plc"]),
            grid,
        ]);
        assert_titles(
            &m,
            &[
                // The word or the phrase.
                ("shell is the best find on a winter beach walk", &[]),
                ("apple to be planted in every school garden", &[]),
                ("apple prices rise at farmers' markets", &[]),
                ("next is the school run", &[]),
                ("airtel africa posts record profit", &[]),
                ("national grid up 2% on the hottest day", &[]),
                // The cost: a headline's verb or a place's noun shows
                // the subject no more than "is" does.
                ("apple unveils new iphone", &[]),
                ("shell sells gas unit", &[]),
                ("shell in the north sea: decommissioning begins", &[]),
                // A price move right after the name.
                (
                    "airtel africa up 4% after mobile money unit sale",
                    &[("AAF.L", "corroborated")],
                ),
                ("shell up 2% as oil climbs", &[("SHEL", "corroborated")]),
                // Names that are neither count as before.
                ("bharti airtel raises tariffs", &[("BHARTIARTL.NS", "name")]),
                ("royal dutch shell is the old name", &[("SHEL", "name")]),
            ],
        );
        // The company's own signals (its cashtag here) name it anyway.
        assert_eq!(
            how(&m, "airtel africa posts record profit", "$AAF.L"),
            [("AAF.L".to_string(), "cashtag")]
        );
        // Where the text uses capitals, the capital still decides.
        assert_eq!(
            how(&m, "Airtel Africa posts record profit", ""),
            [("AAF.L".to_string(), "name")]
        );
    }

    /// A country after a name is the company's unit ("Vodafone Spain"),
    /// but not where the configuration names that longer name for another
    /// instrument: "Airtel Africa" is Airtel Africa plc, listed apart from
    /// its parent Bharti Airtel. Configured whole, the longer name takes
    /// the hit (longest first, as "Vodafone Group" over "Vodafone"), and
    /// so does the name without its legal form (see
    /// `a_legal_form_is_optional_in_the_text_where_the_rest_of_the_name_is_distinctive`).
    #[test]
    fn a_longer_name_configured_for_another_instrument_is_not_the_parents_unit() {
        let parent = || instrument("BHARTIARTL.NS", &["Airtel", "Bharti Airtel"]);
        let m = MentionMatcher::new(&[parent(), instrument("AAF.L", &["Airtel Africa"])]);
        for (title, text) in [
            ("Airtel Africa shares rise after mobile money unit sale", ""),
            (
                "Airtel Africa Profit Rises As Data Use Grows",
                "Airtel Africa said on Thursday its half-year profit rose.",
            ),
            ("AIRTEL AFRICA PROFIT RISES", ""),
            ("Telecoms results", "Airtel Africa's profit rose."),
        ] {
            assert_eq!(
                symbols(m.find::<&str>(title, text, &[])),
                ["AAF.L"],
                "{title}"
            );
        }
        // Configured with a word the text leaves out, the words written
        // start its name, so they are not the parent's either.
        let holdings =
            MentionMatcher::new(&[parent(), instrument("AAF.L", &["Airtel Africa Holdings"])]);
        for title in [
            "Airtel Africa shares rise after mobile money unit sale",
            "Regulators fine Airtel Africa's Nigerian arm",
        ] {
            assert!(how(&holdings, title, "").is_empty(), "{title}");
        }
        // A unit nothing else is configured as is still the parent's.
        let alone = MentionMatcher::new(&[parent()]);
        assert_eq!(
            how(&alone, "Airtel Africa shares rise", ""),
            [("BHARTIARTL.NS".to_string(), "name")]
        );
    }

    /// With only "Airtel Africa plc" configured, "Airtel Africa" in a text
    /// was not its mention: news drops the legal form the registry keeps.
    /// Without it a name counts where what is left is distinctive: two
    /// words or more, or one configured itself ("Shell" beside "Shell
    /// plc"). One word nobody configured ("BP" of "BP plc", "Apple" of
    /// "Apple Inc.") is no name, as it could be anything.
    #[test]
    fn a_legal_form_is_optional_in_the_text_where_the_rest_of_the_name_is_distinctive() {
        let parent = || instrument("BHARTIARTL.NS", &["Airtel", "Bharti Airtel"]);
        let plc = MentionMatcher::new(&[parent(), instrument("AAF.L", &["Airtel Africa plc"])]);
        for (title, text) in [
            ("Airtel Africa plc results", ""),
            ("Airtel Africa shares rise after mobile money unit sale", ""),
            ("Telecoms results", "Airtel Africa said its profit rose."),
        ] {
            assert_eq!(
                how(&plc, title, text),
                [("AAF.L".to_string(), "name")],
                "{title} / {text}"
            );
        }
        // Where every word is capitalised the item says it is the company.
        for title in [
            "Airtel Africa Profit Rises As Data Use Grows",
            "AIRTEL AFRICA PROFIT RISES",
            // Most of its words capitalised: read as Title Case too.
            "Regulators fine Airtel Africa's Nigerian arm",
        ] {
            assert_eq!(
                how(&plc, title, ""),
                [("AAF.L".to_string(), "corroborated")],
                "{title}"
            );
        }
        // The parent, named too, is mentioned too.
        assert_eq!(
            how(
                &plc,
                "Airtel Africa shares rise",
                "Bharti Airtel owns most of it."
            ),
            [
                ("AAF.L".to_string(), "name"),
                ("BHARTIARTL.NS".to_string(), "name")
            ]
        );
        // Other legal forms, and two of them.
        let m = MentionMatcher::new(&[
            instrument("005930.KS", &["Samsung Electronics Co., Ltd."]),
            instrument("NESN", &["Nestle S.A."]),
            instrument("SIE", &["Siemens Energy AG"]),
            instrument("BP", &["BP plc"]),
            instrument("AAPL", &["Apple Inc."]),
            instrument("SHEL", &["Shell plc", "Shell"]),
        ]);
        assert_titles(
            &m,
            &[
                ("Samsung Electronics profit falls", &[("005930.KS", "name")]),
                ("Siemens Energy wins turbine order", &[("SIE", "name")]),
                // One word left: only where configured itself.
                ("BP shares rise after results", &[]),
                ("Nestle raises prices", &[]),
                ("Apple unveils new iPhone", &[]),
                ("Shell sells Nigerian onshore assets", &[("SHEL", "name")]),
            ],
        );
        // Without its form a name may be a phrase: it counts only
        // capitalised as configured, and in a Title Case headline only
        // with corroboration. A form joined by `&` goes with it.
        let phrases = MentionMatcher::new(&[
            instrument("NG.L", &["National Grid plc"]),
            instrument("FSLR", &["First Solar, Inc."]),
            instrument("JPM", &["JPMorgan Chase & Co."]),
        ]);
        assert_titles(
            &phrases,
            &[
                ("Germany's national grid is strained by the cold", &[]),
                ("Britain's first solar farm opens", &[]),
                ("Storm Knocks Out National Grid Lines", &[]),
                ("National Grid raises its dividend", &[("NG.L", "name")]),
                ("First Solar wins panel order", &[("FSLR", "name")]),
                ("JPMorgan Chase shares fell", &[("JPM", "name")]),
            ],
        );
        // A name configured as written keeps its own instrument.
        let both = MentionMatcher::new(&[
            instrument("AAF.L", &["Airtel Africa"]),
            instrument("OTHER", &["Airtel Africa plc"]),
        ]);
        assert_eq!(
            symbols(both.find::<&str>("Airtel Africa shares rise", "", &[])),
            ["AAF.L"]
        );
    }

    /// A Title Case headline reads a longer name from the item's own
    /// sentences, but only the word that makes the longer name there: the
    /// item recorded the words on both sides of "Vodafone Idea", so
    /// "shares in Vodafone Idea" made "Shares In Vodafone Fall…" the
    /// namesake too, and the group's own headline was refused.
    #[test]
    fn only_the_word_that_makes_a_longer_name_is_read_from_the_items_sentences() {
        let m = MentionMatcher::new(&[instrument("VOD", &["Vodafone"])]);
        assert_eq!(
            how(
                &m,
                "Shares In Vodafone Fall After Profit Warning",
                "The group also wrote down its holding of shares in Vodafone Idea, the Indian operator."
            ),
            [("VOD".to_string(), "name")]
        );
        // The longer name's own word still shows it.
        assert!(
            how(
                &m,
                "Shares In Vodafone Idea Fall",
                "The group wrote down its shares in Vodafone Idea."
            )
            .is_empty()
        );
    }

    /// A long item that names a company, or the word it shares a name
    /// with, thousands of times (a recipe's full text, a wire's list of
    /// trades) is matched in time linear in its length: each hit asked the
    /// whole item again (its other hits, its sentences from the start),
    /// minutes for these 60 KB and quadratic in an item's size.
    #[test]
    fn an_item_naming_a_company_thousands_of_times_is_matched_in_linear_time() {
        let m = MentionMatcher::new(&[
            instrument("AAPL", &["Apple"]),
            instrument("BP", &["BP", "BP plc"]),
        ]);
        for (text, want) in [
            ("Apple pie is sweet. ".repeat(3000), vec![]),
            ("Tree rings dated to 3200 BP agree. ".repeat(2000), vec![]),
            (
                format!(
                    "{}Apple to unveil a phone.",
                    "Apple Valley is warm. ".repeat(3000)
                ),
                vec!["AAPL"],
            ),
        ] {
            let started = std::time::Instant::now();
            let found = symbols(m.find::<&str>("Notes", &text, &[]));
            let took = started.elapsed();
            assert_eq!(found, want, "{}", &text[..40]);
            // Linear: a second or two in a debug build; quadratic: over a
            // minute. The margin is for a loaded machine, not a speed target.
            assert!(took < std::time::Duration::from_secs(30), "{took:?}");
        }
    }

    /// The same in a text without capitals (a plain-text recipe, a
    /// lower-case feed): whether the text uses capitals was asked again,
    /// from its start, at every hit of the name; a text with its only
    /// capital at the end took 45 seconds for these 120 KB, one with none a
    /// minute.
    #[test]
    fn a_long_item_in_lower_case_is_matched_in_linear_time() {
        let m = MentionMatcher::new(&[instrument("AAPL", &["Apple"])]);
        let lower = "apple pie is sweet. ".repeat(6000);
        for (text, want) in [
            (lower.clone(), vec![]),
            (format!("{lower}Apple to unveil a phone."), vec!["AAPL"]),
        ] {
            let started = std::time::Instant::now();
            let found = symbols(m.find::<&str>("notes", &text, &[]));
            let took = started.elapsed();
            assert_eq!(found, want);
            // Linear: a few seconds in a debug build; quadratic: close to a
            // minute. The margin is for a loaded machine.
            assert!(took < std::time::Duration::from_secs(30), "{took:?}");
        }
    }

    /// A company names its unit in a country after it ("Vodafone Spain",
    /// "Shell Nigeria"), and news of the unit is news of the company: the
    /// country beside the name does not make another proper noun of it,
    /// as "Idea" or "Valley" do.
    #[test]
    fn a_companys_unit_in_a_country_is_the_company() {
        let m = MentionMatcher::new(&[
            instrument("VOD", &["Vodafone"]),
            instrument("SHEL", &["Shell"]),
            instrument("AAPL", &["Apple"]),
        ]);
        let cases: &[(&str, &[&str])] = &[
            (
                "CNMC greenlights Zegona’s acquisition of Vodafone Spain",
                &["VOD"],
            ),
            ("Vodafone Germany cuts 2,000 jobs", &["VOD"]),
            (
                "Regulators in Accra fine Vodafone Ghana over outages",
                &["VOD"],
            ),
            ("Villagers sue Shell Nigeria over oil spills", &["SHEL"]),
            // Namesakes are still namesakes.
            ("Vodafone Idea shares slump on dues ruling", &[]),
            ("Apple Valley man arrested", &[]),
        ];
        for (title, want) in cases {
            assert_eq!(symbols(m.find::<&str>(title, "", &[])), *want, "{title}");
        }
    }

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
            .map(|item| symbols(m.find_all(&all_of(item, "nasdaq:tickers"), &texts(item))))
            .collect();
        assert_eq!(found, [vec!["TSM", "AAPL", "NVDA", "AMD"], vec!["AAPL"]]);
        // The prose alone names none of them: "TSMC" is not a configured name.
        assert!(find(&m, &texts(&items[0])).is_empty());

        // Only configured instruments count.
        let only_apple = MentionMatcher::new(&[instrument("AAPL", &[])]);
        assert_eq!(
            symbols(only_apple.find_tagged(&all_of(&items[0], "nasdaq:tickers"))),
            ["AAPL"]
        );
    }

    #[test]
    fn yahoo_headlines_need_names() {
        let item = &items(YAHOO)[0];
        let with_names = MentionMatcher::new(&[instrument("AAPL", &["Apple", "Apple Inc."])]);
        assert_eq!(find(&with_names, &texts(item)), ["AAPL"]);
        let symbol_only = MentionMatcher::new(&[instrument("AAPL", &[])]);
        assert!(find(&symbol_only, &texts(item)).is_empty());
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
        assert_eq!(find(&m, &texts(item)), ["ACME", "WDGT"]);
        assert_eq!(find(&m, &all_of(item, "category")), ["ACME"]);
    }
}
