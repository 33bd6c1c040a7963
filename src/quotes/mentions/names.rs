//! The rules for names: which aliases are ambiguous, what vetoes one and
//! what corroborates it (see the parent module's doc for the whole policy).
//! Hands [`MentionMatcher`](super::MentionMatcher) plain predicates over
//! text; it owns no state.

use std::sync::LazyLock;

use crate::markup::collapse_whitespace;
use regex::Regex;

/// How far (in words, either side) finance context may sit from an
/// ambiguous alias: the length of a long headline, so a headline is judged
/// whole while a long article's unrelated paragraphs stay out.
pub const CONTEXT_WORDS: usize = 12;

/// Words of company and market news: results, deals, management, markets,
/// and the products of the industries our configured companies work in
/// (oil and gas, tobacco, pharmaceuticals, telecoms, mining). Any of them
/// near an ambiguous alias says it names a company. Deliberately no
/// general words ("new", "says", "UK") and nothing health-news shares with
/// pharma news besides "drug", which blood-pressure stories use too, so
/// "BP" there still needs the vetoes.
pub const FINANCE_WORDS: &[&str] = &[
    // results and reporting
    "profit",
    "profits",
    "loss",
    "losses",
    "earnings",
    "revenue",
    "revenues",
    "sales",
    "results",
    "quarter",
    "quarterly",
    "q1",
    "q2",
    "q3",
    "q4",
    "h1",
    "h2",
    "half-year",
    "full-year",
    "annual",
    "interim",
    "interims",
    "trading",
    "outlook",
    "guidance",
    "forecast",
    "forecasts",
    "eps",
    "ebitda",
    "dividend",
    "dividends",
    "buyback",
    "capex",
    "spending",
    "writedown",
    "impairment",
    // markets
    "shares",
    "share",
    "stock",
    "stocks",
    "shareholder",
    "shareholders",
    "investor",
    "investors",
    "analyst",
    "analysts",
    "ftse",
    "nyse",
    "nasdaq",
    "lse",
    "listing",
    "listed",
    "valuation",
    "market",
    "markets",
    "price",
    "prices",
    "rating",
    "upgrade",
    "downgrade",
    "billion",
    "million",
    "bn",
    "mln",
    "bln",
    // deals and disputes
    "deal",
    "deals",
    "contract",
    "contracts",
    "acquisition",
    "acquire",
    "acquires",
    "buys",
    "buy",
    "sells",
    "sell",
    "sale",
    "stake",
    "merger",
    "takeover",
    "bid",
    "venture",
    "alliance",
    "partnership",
    "agreement",
    "agrees",
    "settlement",
    "settles",
    "settle",
    "fine",
    "penalty",
    "lawsuit",
    "sue",
    "sues",
    "claims",
    "payout",
    "compensation",
    "licence",
    "license",
    "regulator",
    "regulators",
    "approval",
    "approves",
    // management and staff
    "ceo",
    "chairman",
    "chief",
    "boss",
    "executive",
    "executives",
    "director",
    "board",
    "pay",
    "jobs",
    "job",
    "staff",
    "workers",
    "employees",
    "sponsorship",
    // the industries
    "oil",
    "gas",
    "lng",
    "crude",
    "refinery",
    "pipeline",
    "drilling",
    "exploration",
    "spill",
    "barrels",
    "petrol",
    "fuel",
    "upstream",
    "downstream",
    "tobacco",
    "cigarette",
    "cigarettes",
    "e-cigarette",
    "vaping",
    "nicotine",
    "drug",
    "drugs",
    "drugmaker",
    "vaccine",
    "fda",
    "pharma",
    "telecom",
    "telecoms",
    "broadband",
    "wireless",
    "mining",
    "miner",
    "copper",
    "iron",
    "aluminium",
];

/// Reuters' business-wire prefixes (`UPDATE 1-`, `REFILE-`, `EXCLUSIVE-`,
/// `RPT-`, `BRIEF-`): the headline comes from a company-news desk, which is
/// finance context for the whole headline.
pub(super) static WIRE_PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:UPDATE\s+\d+|REFILE|EXCLUSIVE|RPT|BRIEF|CORRECTED|INSIGHT|ANALYSIS)\s*-")
        .expect("constant pattern")
});

/// Text naming what comes next: `known as`, `known in China as the`,
/// `dubbed`, `called`. An alias there is a name the text gives to what it
/// describes (three Chinese tech companies "known as BAT"), not a company
/// it already has a name for.
pub(super) static COINED_BEFORE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:(?:known|referred\s+to)(?:\s+in\s+[\w ]{1,30}?)?\s+as|dubbed|called|nicknamed)\s+(?:the\s+)?$",
    )
    .expect("constant pattern")
});

/// The legal forms of a company as they follow its name: `plc`, `Inc.`,
/// `Ltd`, `S.A.`, `AG`, `N.V.`… (a pattern's alternatives).
const LEGAL_FORMS: &str = r"plc|PLC|Plc|p\.l\.c\.?|P\.L\.C\.?|Inc\b\.?|INC\b\.?|Ltd\b\.?|LTD\b\.?|Limited|LIMITED|Corp\b\.?|Corporation|S\.A\.|SA\b|AG\b|N\.V\.|NV\b|Co\.";

/// Words naming the form of a company, as they follow its name: a legal
/// form ([`LEGAL_FORMS`]) or a group's (`Group`, `Holdings`, `Industries`).
pub(super) static COMPANY_FORM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"^(?:\s*,)?\s+(?:{LEGAL_FORMS}|Group|GROUP|Holdings|HOLDINGS|Industries|INDUSTRIES)"
    ))
    .expect("constant pattern")
});

/// A configured name ending in a legal form: "Airtel Africa plc",
/// "Samsung Electronics Co., Ltd.".
static ENDS_IN_LEGAL_FORM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"^(?P<rest>.*?)(?:\s*,)?\s+(?:{LEGAL_FORMS})$")).expect("constant pattern")
});

/// A configured name without its legal form or forms ("Airtel Africa" of
/// "Airtel Africa plc", "Samsung Electronics" of "Samsung Electronics
/// Co., Ltd."), or `None` when it ends in none. The form is the
/// registry's; news writes the name without it.
pub(super) fn without_legal_form(name: &str) -> Option<String> {
    let mut rest = name;
    while let Some(caps) = ENDS_IN_LEGAL_FORM.captures(rest) {
        rest = caps.name("rest").expect("the pattern names it").as_str();
    }
    if rest.len() == name.len() {
        return None;
    }
    // "JPMorgan Chase & Co." is "JPMorgan Chase": the `&` joined the form.
    let rest = rest
        .trim_end()
        .trim_end_matches(['&', ','])
        .trim_end()
        .trim_end_matches(" and");
    rest.contains(char::is_alphanumeric)
        .then(|| collapse_whitespace(rest).into_owned())
}

/// A number or a word for years right before an alias: a date or a
/// quantity (`3200 BP`, `300 BCE`, `cal BP`, `4th century BCE`), not a name.
/// Only a whole number with nothing but spaces after it: "In 2023, BP" and
/// "Q2 BP" are not dates of BP.
pub(super) static DATE_BEFORE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?:(?:^|[^\w.])\d(?:[\d,.]*\d)?\s*|\b(?:years?|yrs?|cal|century|centuries|millennium|c\.|ca\.)\s+)$",
    )
    .expect("constant pattern")
});

/// Word runs in `text` whose initials spell `letters`, offered as
/// definitions of `alias`: next to it with parentheses in any case, or
/// anywhere as capitalised words where `capitals_mean_names` (sentence
/// case; in capitals or title case every word is capitalised and
/// "Business Payouts" would spell "BP"). Separators inside a run: spaces,
/// commas, "and", "&".
pub(super) fn definitions<'t>(
    text: &'t str,
    alias: &str,
    letters: &[char],
    capitals_mean_names: bool,
) -> Vec<Vec<&'t str>> {
    static WORD: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"[\p{L}][\p{L}\p{N}'’\-]*").expect("constant pattern"));
    let words: Vec<regex::Match<'t>> = WORD.find_iter(text).collect();
    let mut out = Vec::new();
    let n = letters.len();
    for start in 0..words.len() {
        // Collect n words, skipping "and"/"&" joiners, with only spaces,
        // commas and joiners between them.
        let mut run: Vec<regex::Match<'t>> = Vec::new();
        let mut k = start;
        while k < words.len() && run.len() < n {
            let w = words[k];
            if let Some(prev) = run.last() {
                let gap = text[prev.end()..w.start()].replace("and", "");
                if !gap.chars().all(|c| c == ' ' || c == ',' || c == '&') {
                    break;
                }
            }
            if !run.is_empty() && w.as_str().eq_ignore_ascii_case("and") {
                k += 1;
                continue;
            }
            run.push(w);
            k += 1;
        }
        if run.len() != n {
            continue;
        }
        let initials: Vec<char> = run
            .iter()
            .filter_map(|w| w.as_str().chars().next())
            .flat_map(char::to_lowercase)
            .collect();
        if initials != letters {
            continue;
        }
        let strs: Vec<&str> = run.iter().map(|w| w.as_str()).collect();
        // The alias itself ("BP" spelled "B P") is no definition.
        if strs.join("").eq_ignore_ascii_case(alias) || strs.contains(&alias) {
            continue;
        }
        let first = run[0].start();
        let last = run[n - 1].end();
        let before = text[..first].trim_end();
        let after = text[last..].trim_start();
        // `ALIAS (words)`: the parenthesis opens right after the alias.
        let expanded_here = after.starts_with(')')
            && before.strip_suffix('(').is_some_and(|b| {
                b.trim_end()
                    .strip_suffix(alias)
                    .is_some_and(|r| !r.chars().last().is_some_and(char::is_alphanumeric))
            });
        // `words (ALIAS)`.
        let defined_here = after
            .strip_prefix('(')
            .is_some_and(|a| a.trim_start().starts_with(alias));
        let capitalised = capitals_mean_names
            && strs
                .iter()
                .all(|w| w.chars().next().is_some_and(char::is_uppercase) && w.chars().count() > 1);
        if expanded_here || defined_here || capitalised {
            out.push(strs);
        }
    }
    out
}

/// The end of `text[..end]`, about `bytes` long, starting at whitespace so
/// that a pattern's `^` or `[^\w]` sees a word start: what the look-behind
/// rules read, so each hit costs the same however long the article.
pub(super) fn tail(text: &str, end: usize, bytes: usize) -> &str {
    let prefix = &text[..end];
    if prefix.len() <= bytes {
        return prefix;
    }
    let mut from = prefix.len() - bytes;
    while !prefix.is_char_boundary(from) {
        from += 1;
    }
    match prefix[from..].find(char::is_whitespace) {
        Some(at) => &prefix[from + at..],
        None => "",
    }
}

/// Whether a finance word sits within [`CONTEXT_WORDS`] words of
/// `text[start..end]`.
pub(super) fn finance_near(text: &str, start: usize, end: usize) -> bool {
    static WORD: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"[\p{L}\p{N}][\p{L}\p{N}\-]*|[$£€%]").expect("constant pattern")
    });
    let before: Vec<&str> = WORD
        .find_iter(tail(text, start, 40 * CONTEXT_WORDS))
        .map(|m| m.as_str())
        .collect();
    let after = WORD.find_iter(&text[end..]).map(|m| m.as_str());
    let near = before
        .iter()
        .rev()
        .take(CONTEXT_WORDS)
        .copied()
        .chain(after.take(CONTEXT_WORDS));
    for word in near {
        if matches!(word, "$" | "£" | "€" | "%") {
            return true;
        }
        let lower = word.to_lowercase();
        if FINANCE_WORDS.contains(&lower.as_str()) {
            return true;
        }
    }
    false
}

/// English words in lower case, one a line: the letters-only entries of
/// SCOWL's small British and American lists, the words spell checkers
/// call common (`words.COPYRIGHT` says where they come from).
const ENGLISH_WORDS: &str = include_str!("words.txt");

/// Whether a one-word name is also a common English word ("Apple",
/// "Shell", "Next"): what "apple growers" and "Apple Pie Recipes" use it
/// as. Coined names ("Vodafone", "Glaxo") and names with capitals inside
/// ("AstraZeneca") are no word. Asked once per name, when the matcher is
/// built.
pub(super) fn is_common_word(name: &str) -> bool {
    let mut chars = name.chars();
    if !(chars.next().is_some_and(char::is_alphabetic) && chars.all(char::is_lowercase)) {
        return false;
    }
    let lower = name.to_lowercase();
    ENGLISH_WORDS.lines().any(|w| w == lower)
}

/// One short word or one all-capitals word: something other texts use for
/// other things (acronyms, words), so it needs corroboration.
pub(super) fn is_ambiguous(name: &str) -> bool {
    let words: Vec<&str> = name.split_whitespace().collect();
    if words.len() != 1 {
        return false;
    }
    let letters: Vec<char> = name.chars().filter(|c| c.is_alphabetic()).collect();
    letters.len() <= 4 || letters.iter().all(|c| c.is_uppercase())
}

/// Text in capitals (a press-release title, an EDGAR header): at least six
/// cased letters, under a tenth of them lower case.
pub(super) fn is_shouting(text: &str) -> bool {
    let upper = text.chars().filter(|c| c.is_uppercase()).count();
    let lower = text.chars().filter(|c| c.is_lowercase()).count();
    upper + lower >= 6 && lower * 10 < upper + lower
}

/// A headline in title case: at least four words, and seven in ten of the
/// words of four letters or more start with a capital (sentence case with
/// a few names stays well below).
pub(super) fn is_title_case(text: &str) -> bool {
    let words: Vec<&str> = text
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| w.chars().count() >= 4)
        .collect();
    let capitalised = words
        .iter()
        .filter(|w| w.chars().next().is_some_and(char::is_uppercase))
        .count();
    text.split_whitespace().count() >= 4 && !words.is_empty() && capitalised * 10 >= words.len() * 7
}

/// Words a sentence or a title's style capitalises, never the start or
/// end of a name: "When Apple", "Apple And Google". Also what a title in
/// title case leaves in lower case, so they say nothing about its style.
/// Prepositions are kept apart, in [`PREPOSITIONS`].
const FUNCTION_WORDS: &[&str] = &[
    "a",
    "an",
    "the",
    "and",
    "or",
    "but",
    "nor",
    "so",
    "yet",
    "that",
    "this",
    "these",
    "those",
    "its",
    "it",
    "his",
    "her",
    "their",
    "our",
    "my",
    "your",
    "we",
    "they",
    "he",
    "she",
    "you",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "will",
    "would",
    "can",
    "could",
    "should",
    "shall",
    "may",
    "might",
    "must",
    "do",
    "does",
    "did",
    "has",
    "have",
    "had",
    "not",
    "no",
    "all",
    "any",
    "each",
    "every",
    "some",
    "both",
    "if",
    "when",
    "while",
    "why",
    "how",
    "what",
    "who",
    "where",
    "which",
    "now",
    "then",
    "today",
    "yesterday",
    "tonight",
    "here",
    "there",
    "even",
    "only",
    "also",
    "still",
    "just",
];

/// Prepositions, function words too (see [`is_function_word`]). After a
/// name they may start what a subject does ("Apple in talks to buy",
/// "Apple on Thursday sent") or qualify the name as a thing ("Apple in
/// bloom", "Apple with cinnamon"): see [`followed_as_subject`].
const PREPOSITIONS: &[&str] = &[
    "about", "after", "against", "amid", "as", "at", "before", "by", "despite", "for", "from",
    "in", "into", "like", "of", "off", "on", "onto", "out", "over", "per", "since", "than", "to",
    "unlike", "until", "up", "upon", "via", "vs", "with",
];

/// Prepositions that, after a word, make a phrasal verb or an adverb
/// phrase of it ("Shell out for a laptop", "top up", "back off", "Next
/// up", "Apple off the tree"), never what follows a company doing
/// something. A company's price move reads so too ("Apple up 3%",
/// "Shell off 2%"), and its figure right after the particle vouches for
/// it ([`price_move_follows`]); a sum further on is what the verb spends. Not "over": after a
/// noun it sets it against another thing, as a company's headline does
/// ("Apple over Samsung in latest smartphone rankings"), and no word-name
/// makes a phrasal verb with it.
const PARTICLES: &[&str] = &["off", "out", "up"];

/// Prepositions that, after a word in a headline in title case or in
/// capitals, make a thing of it by saying where it is, what it comes with
/// or where it comes from ("Apple In Bloom", "Apple With Cinnamon",
/// "Apple From Seed"); "of" ("Apple Of My Eye") is a joiner in any case.
/// Other prepositions there read as a headline's shorthand for what the
/// company does: "Apple At WWDC", "Apple For Business", "Shell On Track
/// To Meet…", "Apple Against The FBI". "In" before what only a company
/// is in ([`PROCEEDINGS`]: "Apple In Court Again") shows the subject, and
/// before an article it is a place preposition like "On" and "At": the
/// noun decides ([`PLACE_PREPOSITIONS`]: "Apple In The Garden", but
/// "Apple In The EU", "Apple In The Spotlight").
const THING_PREPOSITIONS: &[&str] = &["from", "in", "with"];

/// Prepositions that, after a word whose capital is not its own and
/// before an article, may say where a thing is: "Shell On The Beach",
/// "Apple on the tree", and starting a sentence "Shell on the beach:
/// five places to find…". The first word of a sentence is capitalised
/// anyway, so the capital there says no more than Title Case does. The
/// noun after the article decides ([`THING_PLACES`]): a company's
/// headline puts a proper noun there ("Shell in the North Sea", "Apple
/// in the EU", "Shell at the AGM") or a noun no thing lies on ("Apple at
/// the top of its game", "Shell On The Hook For…"), and without the
/// article a name or a bare noun ("Apple At WWDC", "Shell on track to
/// meet…", "Shell in talks"); all of those show the subject.
const PLACE_PREPOSITIONS: &[&str] = &["at", "in", "on", "onto", "upon"];

/// Where a shell or an apple lies, on a beach walk or in a kitchen:
/// after a place preposition and an article ([`PLACE_PREPOSITIONS`]) the
/// word-name before them is the thing. Short on purpose: any other noun
/// there keeps the company, so each entry is a place a company's
/// headline never puts it. Left out: "ground" and "table", idioms of a
/// company's presence ("Shell on the ground in the Niger Delta", "Shell
/// at the table with the regulator").
const THING_PLACES: &[&str] = &[
    "beach", "shore", "sand", "rocks", "seabed", "tree", "branch", "orchard", "garden", "kitchen",
    "plate", "bowl", "shelf", "floor",
];

/// What a company is in, in a headline, and a fruit or a shell never is:
/// proceedings ("Apple In Court Again", "Apple In Talks With Music
/// Labels"). After "In" these show the subject, where "In Bloom" makes a
/// thing of the word.
const PROCEEDINGS: &[&str] = &[
    "court",
    "talks",
    "dispute",
    "row",
    "negotiations",
    "discussions",
];

/// The articles: after a place preposition the noun they bring may be
/// where a thing lies ([`PLACE_PREPOSITIONS`]).
const ARTICLES: &[&str] = &["a", "an", "the"];

/// A price move right after a particle: "up 3%", "off 2.5 per cent",
/// "UP 40 POINTS". What makes "Apple up 3%" the company's price, where a
/// sum after "out" ("Shell out $2,000 for a laptop") is the verb's.
static PRICE_MOVE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^[ \t]+(?:up|off)[ \t]+[+\-]?\d[\d.,]*[ \t]*(?:%|(?:percent|per[ \t]+cent|pct|pc|points?|pts|p)\b)",
    )
    .expect("constant pattern")
});

/// Whether the word right after `text[start..end]` is a particle
/// ([`PARTICLES`]): with a word-name before it, a phrasal verb ("Shell
/// out for a laptop") or a price move ("Apple up 3%").
pub(super) fn followed_by_particle(text: &str, start: usize, end: usize) -> bool {
    adjacent_words(text, start, end)[1]
        .is_some_and(|w| PARTICLES.contains(&w.to_lowercase().as_str()))
}

/// Whether `rest` (the text right after a name) starts with a particle
/// and a price move: "up 3%", "off 2 points". A figure further on ("Shell
/// out $2,000") is what the verb spends, not the company's price.
pub(super) fn price_move_follows(rest: &str) -> bool {
    PRICE_MOVE.is_match(rest)
}

/// Whether `lower` (a word in lower case) is a function word: one of
/// [`FUNCTION_WORDS`] or [`PREPOSITIONS`].
fn is_function_word(lower: &str) -> bool {
    FUNCTION_WORDS.contains(&lower) || PREPOSITIONS.contains(&lower)
}

/// Capitalised by the rules of English, not by belonging to a name:
/// "Apple Tuesday unveiled" is agency style for a company.
const CALENDAR_WORDS: &[&str] = &[
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "january",
    "february",
    "march",
    "april",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// Countries and continents, one word each: a company names its unit in
/// one after it ("Vodafone Spain", "Shell Nigeria", "BP America"), and
/// news of that unit is news of the company.
const PLACES: &[&str] = &[
    "afghanistan",
    "africa",
    "albania",
    "algeria",
    "america",
    "americas",
    "andorra",
    "angola",
    "argentina",
    "armenia",
    "asia",
    "australia",
    "austria",
    "azerbaijan",
    "bahamas",
    "bahrain",
    "bangladesh",
    "barbados",
    "belarus",
    "belgium",
    "belize",
    "benin",
    "bhutan",
    "bolivia",
    "bosnia",
    "botswana",
    "brazil",
    "britain",
    "brunei",
    "bulgaria",
    "burundi",
    "cambodia",
    "cameroon",
    "canada",
    "chad",
    "chile",
    "china",
    "colombia",
    "congo",
    "croatia",
    "cuba",
    "cyprus",
    "czechia",
    "denmark",
    "djibouti",
    "ecuador",
    "egypt",
    "england",
    "eritrea",
    "estonia",
    "eswatini",
    "ethiopia",
    "europe",
    "fiji",
    "finland",
    "france",
    "gabon",
    "gambia",
    "georgia",
    "germany",
    "ghana",
    "greece",
    "guatemala",
    "guinea",
    "guyana",
    "haiti",
    "holland",
    "honduras",
    "hungary",
    "iceland",
    "india",
    "indonesia",
    "iran",
    "iraq",
    "ireland",
    "israel",
    "italy",
    "jamaica",
    "japan",
    "jordan",
    "kazakhstan",
    "kenya",
    "kosovo",
    "kuwait",
    "kyrgyzstan",
    "laos",
    "latvia",
    "lebanon",
    "lesotho",
    "liberia",
    "libya",
    "liechtenstein",
    "lithuania",
    "luxembourg",
    "madagascar",
    "malawi",
    "malaysia",
    "maldives",
    "mali",
    "malta",
    "mauritania",
    "mauritius",
    "mexico",
    "moldova",
    "monaco",
    "mongolia",
    "montenegro",
    "morocco",
    "mozambique",
    "myanmar",
    "namibia",
    "nepal",
    "netherlands",
    "nicaragua",
    "niger",
    "nigeria",
    "norway",
    "oman",
    "pakistan",
    "panama",
    "paraguay",
    "peru",
    "philippines",
    "poland",
    "portugal",
    "qatar",
    "romania",
    "russia",
    "rwanda",
    "scotland",
    "senegal",
    "serbia",
    "singapore",
    "slovakia",
    "slovenia",
    "somalia",
    "spain",
    "sudan",
    "sweden",
    "switzerland",
    "syria",
    "taiwan",
    "tajikistan",
    "tanzania",
    "thailand",
    "togo",
    "tunisia",
    "turkey",
    "türkiye",
    "turkmenistan",
    "uganda",
    "ukraine",
    "uruguay",
    "uzbekistan",
    "venezuela",
    "vietnam",
    "wales",
    "yemen",
    "zambia",
    "zimbabwe",
];

/// A sentence boundary: end punctuation, spaces, and a capital starting
/// the next sentence (so "Calif. — Earlier" and "Inc. said" run on).
static SENTENCE_BREAK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"[.!?:]["”’')]*[ \t]+["“‘'(]*\p{Lu}|\n"#).expect("constant pattern")
});

/// A word as a sentence's case is judged by: hyphenated compounds whole,
/// so "full-year" is one word in lower case.
static WORD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[\p{L}][\p{L}'’\-]*").expect("constant pattern"));

/// How far around a name its sentence is looked for, each way. A text
/// can hold thousands of hits of a name that is also a word ("Apple pie"
/// in a recipe's full text), and finding each one's sentence from the
/// text's start made a long item's matching quadratic; a sentence longer
/// than this is cut at the window, which reads it as one in progress.
const SENTENCE_REACH: usize = 1024;

/// The sentence of `text` that `text[start..end]` is in, within
/// [`SENTENCE_REACH`] of it.
fn sentence_around(text: &str, start: usize, end: usize) -> &str {
    let mut lo = start.saturating_sub(SENTENCE_REACH);
    while !text.is_char_boundary(lo) {
        lo -= 1;
    }
    let mut hi = end.saturating_add(SENTENCE_REACH).min(text.len());
    while !text.is_char_boundary(hi) {
        hi += 1;
    }
    let window = &text[lo..hi];
    let (start, end) = (start - lo, end - lo);
    let mut from = 0;
    let mut to = window.len();
    for m in SENTENCE_BREAK.find_iter(window) {
        // The break's last character is the next sentence's capital.
        let next = m.end() - m.as_str().chars().last().map_or(0, char::len_utf8);
        if m.as_str() == "\n" {
            if m.end() <= start {
                from = m.end();
            } else if m.start() >= end {
                to = m.start();
                break;
            }
        } else if next <= start {
            from = next;
        } else if m.start() >= end {
            to = m.start();
            break;
        }
    }
    &window[from..to]
}

/// Whether capitals mark names in the sentence around `text[start..end]`:
/// some word besides function words and names such as "iPhone" is in lower
/// case. A title in title case or in capitals, or a few capitalised words
/// alone, say nothing by their capitals.
pub(super) fn in_sentence_case(text: &str, start: usize, end: usize) -> bool {
    let sentence = sentence_around(text, start, end);
    let offset = sentence.as_ptr() as usize - text.as_ptr() as usize;
    WORD.find_iter(sentence)
        .filter(|w| w.end() + offset <= start || w.start() + offset >= end)
        .map(|w| w.as_str())
        .any(|w| {
            let mut chars = w.chars();
            chars.next().is_some_and(char::is_lowercase)
                && !chars.any(char::is_uppercase)
                && !is_function_word(&w.to_lowercase())
        })
}

/// Whether `text[start..]` starts a sentence (or the text): nothing but
/// quotes, brackets and spaces since the last sentence break. A capital
/// there is the sentence's, and says nothing about a name.
pub(super) fn starts_sentence(text: &str, start: usize) -> bool {
    let sentence = sentence_around(text, start, start);
    let from = sentence.as_ptr() as usize - text.as_ptr() as usize;
    !text[from..start].chars().any(char::is_alphanumeric)
}

/// Verbs a business headline puts right after its subject ("Apple
/// unveils", "Shell sells", "Apple said"). A common noun starting a
/// headline without an article is followed by another noun ("Apple
/// growers", "Apple crop", "Apple pie"), not by one of these. Left out:
/// forms that are also common plural nouns of such a word ("picks",
/// "cuts", "falls", "drops", "recalls"); what a thing does too ("Apple
/// Wins Best in Show", "Apple adds crunch to salads"); and past forms a
/// thing takes as a headline's passive ("Apple named best fruit", "Shell
/// sold at auction", "Target missed by rocket"), where a company
/// headline uses the present. Past forms kept are a company's
/// acts only ("Apple said to plan", "Shell sued").
const SUBJECT_VERBS: &[&str] = &[
    "acquires",
    "acquired",
    "agrees",
    "agreed",
    "announces",
    "announced",
    "appoints",
    "appointed",
    "beats",
    "buys",
    "confirms",
    "confirmed",
    "debuts",
    "delays",
    "denies",
    "denied",
    "expands",
    "expanded",
    "faces",
    "faced",
    "files",
    "filed",
    "halts",
    "hires",
    "hired",
    "introduces",
    "invests",
    "invested",
    "launches",
    "loses",
    "lowers",
    "misses",
    "names",
    "pays",
    "plans",
    "planned",
    "pledges",
    "pledged",
    "posts",
    "posted",
    "raises",
    "releases",
    "reports",
    "reported",
    "reveals",
    "revealed",
    "says",
    "said",
    "seeks",
    "sought",
    "sells",
    "settles",
    "settled",
    "ships",
    "signs",
    "sues",
    "sued",
    "unveils",
    "warns",
    "warned",
];

/// Whether the word after the name at `text[start..end]` reads as what a
/// subject takes: a function word other than a joiner ("Apple to
/// unveil", "Apple is expected", "Apple on Thursday sent", in any case),
/// a headline's verb ([`SUBJECT_VERBS`]: "Apple unveils new iPhone"), or
/// a possessive ("Apple's"). A common noun starting a sentence without an
/// article takes none of these: it modifies the next noun ("Apple growers
/// fear frost", "Apple pie recipes"), or is joined to one ("Apple and
/// pear growers", "Apple of my eye").
///
/// Nor does a particle ([`PARTICLES`]) show a subject: with the word
/// before it, it is a phrasal verb ("Shell out for a new laptop") or a
/// price move that its figure vouches for anyway ("Apple up 3%"). And in
/// a headline in title case or in capitals (`headline_style`) a
/// preposition that makes a thing of the word ([`THING_PREPOSITIONS`])
/// shows none either: there "Apple In Bloom Across The Valley" reads
/// like "Apple In Tribute To…", so the headline needs what vouches for
/// the word elsewhere (a finance word, the item's own sentences), unless
/// the word is in proceedings ([`PROCEEDINGS`]: "Apple In Court Again")
/// or an article follows, where the noun decides as below ("Apple In The
/// EU"). Other prepositions there still show one: "Apple At WWDC",
/// "Shell On Track…", "Apple Against The FBI".
///
/// Nor, in any case, does a place preposition before an article and a
/// place a thing lies in or on ([`PLACE_PREPOSITIONS`], [`THING_PLACES`]):
/// "Shell On The Beach", "Shell on the beach: five places to find…",
/// "Apple in the garden". Any other noun there keeps the subject: "Shell
/// in the North Sea", "Apple at the top of its game", "Shell On The Hook
/// For…".
///
/// The caller asks this only where the word's capital is not its own: at
/// a sentence's start, in the headline or in the item's text, and where
/// capitals mark no names (Title Case, capitals); so "Greenpeace
/// confronts Shell on the Arctic" is not asked. A text all in lower case
/// never gets here: there only the company's own signals vouch for a
/// word-name.
pub(super) fn followed_as_subject(
    text: &str,
    start: usize,
    end: usize,
    headline_style: bool,
) -> bool {
    let rest = &text[end..];
    if ["'s", "’s"].iter().any(|s| {
        rest.strip_prefix(s)
            .is_some_and(|r| !r.starts_with(char::is_alphanumeric))
    }) {
        return true;
    }
    // The word after a word of the text, in lower case: "On The Beach",
    // "In Court".
    let after = |word: &str| {
        let at = word.as_ptr() as usize - text.as_ptr() as usize;
        adjacent_words(text, at, at + word.len())[1]
    };
    let is_in = |list: &[&str], word: Option<&str>| {
        word.is_some_and(|w| list.contains(&w.to_lowercase().as_str()))
    };
    adjacent_words(text, start, end)[1].is_some_and(|word| {
        let w = word.to_lowercase();
        let w = w.as_str();
        let next = after(word);
        let joiner = ["and", "or", "nor", "but", "of"].contains(&w);
        let article = is_in(ARTICLES, next);
        let places_it =
            PLACE_PREPOSITIONS.contains(&w) && article && is_in(THING_PLACES, next.and_then(after));
        let qualifies_a_thing = PARTICLES.contains(&w)
            || places_it
            || (headline_style
                && THING_PREPOSITIONS.contains(&w)
                && !(w == "in" && (article || is_in(PROCEEDINGS, next))));
        (is_function_word(w) && !joiner && !qualifies_a_thing) || SUBJECT_VERBS.contains(&w)
    })
}

/// The words right before and right after `text[start..end]`, with only
/// spaces between: punctuation ("Tuesday. Apple", "Apple, Google",
/// "Apple's") and line breaks part names.
pub(super) fn adjacent_words(text: &str, start: usize, end: usize) -> [Option<&str>; 2] {
    let is_gap = |g: &str| !g.is_empty() && g.chars().all(|c| c == ' ' || c == '\t');
    let before = text[..start].trim_end_matches([' ', '\t']);
    let before = is_gap(&text[before.len()..start])
        .then(|| {
            let word = before.rsplit([' ', '\t', '\n']).next().unwrap_or(before);
            word.trim_start_matches(['(', '[', '"', '“', '‘', '\''])
        })
        // A possessive qualifies the name rather than joining it:
        // "Buffett's Apple stake".
        .filter(|w| {
            w.chars().last().is_some_and(char::is_alphabetic)
                && !w.ends_with("'s")
                && !w.ends_with("’s")
        });
    let after = text[end..].trim_start_matches([' ', '\t']);
    let after = is_gap(&text[end..text.len() - after.len()])
        .then(|| {
            after
                .split([' ', '\t', '\n'])
                .next()
                .unwrap_or(after)
                .trim_end_matches(|c: char| !c.is_alphabetic())
        })
        .filter(|w| w.chars().next().is_some_and(char::is_alphabetic));
    [before, after]
}

/// Whether `word`, next to a name, makes it part of a longer proper noun:
/// a capitalised word ("Big Apple", "Apple Valley", "Apple Daily"), or a
/// word in capitals beside a name itself in capitals (the dateline
/// "APPLE VALLEY, Calif."). Not function words, days and months, words of
/// company news ("Drugmaker AstraZeneca", "Apple Pay"), acronyms beside a
/// name in mixed case (its market, role or product: "Vodafone UK", "Apple
/// CEO"), countries and continents (the company's unit there: "Vodafone
/// Spain", "BP America"), nor a hyphenated word ("Cupertino-based").
pub(super) fn names_something_else(word: &str, name_in_capitals: bool) -> bool {
    let letters = || word.chars().filter(|c| *c != '\'' && *c != '’');
    let lower = word.to_lowercase();
    let lower = lower.trim_end_matches("'s").trim_end_matches("’s");
    letters().count() >= 2
        && letters().all(char::is_alphabetic)
        && word.chars().next().is_some_and(char::is_uppercase)
        && (letters().any(char::is_lowercase) || name_in_capitals)
        && !is_function_word(lower)
        && !CALENDAR_WORDS.contains(&lower)
        && !FINANCE_WORDS.contains(&lower)
        && !PLACES.contains(&lower)
}

/// A name as a pattern: words escaped and joined by any whitespace, with a
/// word boundary on each side that starts or ends with a word character
/// (`\b` after "Inc." would demand a letter after the dot).
pub(super) fn name_pattern(name: &str) -> String {
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
