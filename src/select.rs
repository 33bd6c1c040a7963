//! Selections: which archived items an output shows.
//!
//! A [`Selection`] is built once from the config (`[output] exclude`, each
//! `[[views]]`), with every regex compiled and checked there, and handed
//! to the store, which turns it into one SQL query over the archive (the
//! search index, the mentions index and the sort index do the selecting;
//! rules run in SQLite through a `regexp` function that compiles the same
//! patterns with the same size limit). The archive keeps everything: a
//! selection only decides what an output shows, so it applies at once to
//! every item ever archived and removing a rule brings items back.
//!
//! Criteria combine with AND; the values of one criterion with OR; every
//! `include` rule must match and no `exclude` rule may. [`Rule::hit`] and
//! [`ItemText`] explain a match for the dry run (`tickerfeed views test`).

use std::fmt;

use regex::{Regex, RegexBuilder};

use crate::model::market::ShownChange;

/// Where a rule looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Title,
    /// The item's summary and content, as plain text.
    Content,
    /// Each author's name.
    Author,
    /// The article's link.
    Url,
    /// Each category (tag) the publisher gave.
    Category,
    /// Any of the above.
    Any,
}

impl Field {
    pub const ALL: [Field; 6] = [
        Field::Title,
        Field::Content,
        Field::Author,
        Field::Url,
        Field::Category,
        Field::Any,
    ];

    /// The config key: `{ title = "..." }`.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Content => "content",
            Field::Author => "author",
            Field::Url => "url",
            Field::Category => "category",
            Field::Any => "any",
        }
    }

    pub fn from_key(key: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.as_str() == key)
    }

    /// The fields a rule on this one reads: itself, or for `Any` each
    /// of the others, in the order a hit is reported.
    pub fn covered(self) -> &'static [Field] {
        match self {
            Field::Any => &[
                Field::Title,
                Field::Content,
                Field::Author,
                Field::Category,
                Field::Url,
            ],
            Field::Title => &[Field::Title],
            Field::Content => &[Field::Content],
            Field::Author => &[Field::Author],
            Field::Url => &[Field::Url],
            Field::Category => &[Field::Category],
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Largest compiled pattern: a config cannot make the daemon build an
/// automaton of unbounded size (the regex crate's matching is linear in
/// the text whatever the pattern, so no pattern can make matching hang).
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// One rule: a field and a regular expression (`regex` crate syntax).
#[derive(Debug, Clone)]
pub struct Rule {
    pub field: Field,
    pub pattern: Regex,
}

impl PartialEq for Rule {
    fn eq(&self, other: &Self) -> bool {
        self.field == other.field && self.pattern.as_str() == other.pattern.as_str()
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{ {} = {:?} }}", self.field, self.pattern.as_str())
    }
}

/// Why a rule could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error(
        "unknown field `{0}`: a rule matches one of title, content, author, url, category or any"
    )]
    UnknownField(String),
    #[error("a rule names exactly one field, e.g. {{ title = \"(?i)sponsored\" }}")]
    NotOneField,
    #[error("the pattern of `{0}` must be a string")]
    NotText(String),
    #[error("an empty pattern matches every item; remove the rule instead")]
    Empty,
    #[error("{pattern:?} {fix}")]
    Mistake { pattern: String, fix: &'static str },
    #[error("{pattern:?} is not a valid regular expression: {reason}")]
    Regex { pattern: String, reason: String },
}

impl Rule {
    /// Compiles `pattern` for `field`, refusing patterns that are almost
    /// certainly a mistake (they would silently match nothing, or
    /// everything).
    pub fn new(field: Field, pattern: &str) -> Result<Rule, RuleError> {
        if pattern.is_empty() {
            return Err(RuleError::Empty);
        }
        if let Some(fix) = mistake(pattern) {
            return Err(RuleError::Mistake {
                pattern: pattern.to_string(),
                fix,
            });
        }
        let compiled = RegexBuilder::new(pattern)
            .size_limit(PATTERN_SIZE_LIMIT)
            .build()
            .map_err(|e| RuleError::Regex {
                pattern: pattern.to_string(),
                reason: regex_reason(&e),
            })?;
        Ok(Rule {
            field,
            pattern: compiled,
        })
    }

    /// Reads a rule as written in the config: a table with one key, the
    /// field, whose value is the pattern.
    pub fn from_table<'t, V>(
        entries: impl IntoIterator<Item = (&'t str, Option<&'t V>)>,
        text_of: impl Fn(&'t V) -> Option<&'t str>,
    ) -> Result<Rule, RuleError>
    where
        V: 't + ?Sized,
    {
        let mut entries = entries.into_iter();
        let (Some((key, value)), None) = (entries.next(), entries.next()) else {
            return Err(RuleError::NotOneField);
        };
        let field = Field::from_key(key).ok_or_else(|| RuleError::UnknownField(key.into()))?;
        let pattern = value
            .and_then(text_of)
            .ok_or_else(|| RuleError::NotText(key.into()))?;
        Rule::new(field, pattern)
    }

    /// The first text in `item` this rule matches: the field it was found
    /// in and the matched text.
    pub fn hit<'t>(&self, item: &ItemText<'t>) -> Option<(Field, &'t str)> {
        self.field.covered().iter().find_map(|&field| {
            item.texts(field)
                .find_map(|text| self.pattern.find(text).map(|m| (field, m.as_str())))
        })
    }
}

/// A pattern that compiles but cannot be what its author meant, with the
/// fix. (Patterns that do not compile get the regex crate's own message.)
fn mistake(pattern: &str) -> Option<&'static str> {
    if pattern.contains("(i?)") {
        return Some(
            "has `(i?)`, an optional letter i; for case-insensitive matching write `(?i)` at the start",
        );
    }
    if pattern.starts_with('*') || pattern.starts_with('+') {
        return Some(
            "starts with a repetition, which repeats nothing: this is a regular expression, not a \
             wildcard; write `.*` for anything, or drop it (a rule matches anywhere in the text)",
        );
    }
    if pattern.trim_start_matches("(?i)") == ".*" {
        return Some("matches every item; remove the rule instead");
    }
    None
}

/// The regex crate's error, on one line.
fn regex_reason(e: &regex::Error) -> String {
    match e {
        regex::Error::Syntax(text) => text
            .lines()
            .rev()
            .find(|l| l.starts_with("error:"))
            .map(|l| l.trim_start_matches("error:").trim().to_string())
            .unwrap_or_else(|| text.replace('\n', " ")),
        regex::Error::CompiledTooBig(limit) => {
            format!("the compiled pattern would exceed {limit} bytes")
        }
        other => other.to_string(),
    }
}

/// An item's text as rules see it.
#[derive(Debug, Clone, Copy)]
pub struct ItemText<'a> {
    pub title: &'a str,
    /// Summary and content, plain text.
    pub summary: Option<&'a str>,
    pub content: Option<&'a str>,
    pub authors: &'a [String],
    pub url: Option<&'a str>,
    pub categories: &'a [String],
}

impl<'a> ItemText<'a> {
    fn texts(&self, field: Field) -> Box<dyn Iterator<Item = &'a str> + 'a> {
        match field {
            Field::Title => Box::new(std::iter::once(self.title)),
            Field::Content => Box::new(self.summary.into_iter().chain(self.content)),
            Field::Author => Box::new(self.authors.iter().map(String::as_str)),
            Field::Url => Box::new(self.url.into_iter()),
            Field::Category => Box::new(self.categories.iter().map(String::as_str)),
            Field::Any => Box::new(std::iter::empty()),
        }
    }
}

/// Turns what a person types (`?q=`, a view's `query`) into an FTS5
/// query: each word quoted (so `C++`, `AT&T` or a stray quote cannot be a
/// syntax error), all required; words in double quotes (`"M&A talks"`)
/// are one phrase, found only together and in that order, so a snippet
/// marks the phrase, not its words wherever they are; a trailing `*`
/// keeps prefix search, and `OR` or `NOT` in capitals between two terms
/// is FTS5's operator.
pub fn fts_query(text: &str) -> Option<String> {
    let terms = search_terms(text);
    let is_operator = |t: &SearchTerm<'_>| matches!(t, SearchTerm::Word("OR" | "NOT"));
    let mut out: Vec<String> = Vec::with_capacity(terms.len());
    let mut after_term = false;
    for (i, t) in terms.iter().enumerate() {
        // An operator needs a term on each side; anywhere else the word is
        // searched for like any other.
        if let SearchTerm::Word(w) = t
            && is_operator(t)
            && after_term
            && terms.get(i + 1).is_some_and(|n| !is_operator(n))
        {
            out.push((*w).to_string());
            after_term = false;
            continue;
        }
        out.push(match t {
            SearchTerm::Word(w) => {
                let (word, prefix) = match w.strip_suffix('*') {
                    Some(stem) if !stem.is_empty() => (stem, "*"),
                    _ => (*w, ""),
                };
                format!("\"{}\"{prefix}", word.replace('"', "\"\""))
            }
            // Holds no quote: it ended at the first.
            SearchTerm::Phrase(words) => format!("\"{words}\""),
        });
        after_term = true;
    }
    (!out.is_empty()).then(|| out.join(" "))
}

/// One term of a search as typed.
#[derive(Debug, PartialEq)]
enum SearchTerm<'a> {
    Word(&'a str),
    /// What stood between a pair of double quotes, its words parted by
    /// single spaces.
    Phrase(String),
}

/// `text` as words and quoted phrases. A quote that opens a word and is
/// closed later opens a phrase; any other quote is part of its word.
fn search_terms(text: &str) -> Vec<SearchTerm<'_>> {
    // Control characters part words like spaces: FTS5 refuses a NUL
    // inside a quoted term ("unterminated string").
    let parts = |c: char| c.is_whitespace() || c.is_control();
    let mut terms = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches(parts);
        if rest.is_empty() {
            return terms;
        }
        if let Some(inner) = rest.strip_prefix('"')
            && let Some(end) = inner.find('"')
        {
            let words: Vec<&str> = inner[..end]
                .split(parts)
                .filter(|w| !w.is_empty())
                .collect();
            if !words.is_empty() {
                terms.push(SearchTerm::Phrase(words.join(" ")));
            }
            rest = &inner[end + 1..];
            continue;
        }
        let end = rest.find(parts).unwrap_or(rest.len());
        terms.push(SearchTerm::Word(&rest[..end]));
        rest = &rest[end..];
    }
}

/// Which merged document: the main feed, a tag's feed, or a view's.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Channel {
    Main,
    Tag(String),
    View(String),
}

impl Channel {
    /// Where its page is served, relative to the server's base URL.
    pub fn page_path(&self) -> String {
        match self {
            Channel::Main => String::new(),
            Channel::Tag(t) => format!("tags/{t}"),
            Channel::View(v) => format!("views/{v}"),
        }
    }

    /// Where it is served in the format with file `extension`, relative
    /// to the server's base URL.
    pub fn path(&self, extension: &str) -> String {
        let ext = extension;
        match self {
            Channel::Main => format!("feed.{ext}"),
            Channel::Tag(t) => format!("tags/{t}.{ext}"),
            Channel::View(v) => format!("views/{v}.{ext}"),
        }
    }
}

/// What one channel shows, resolved from the config: its title, its
/// selection and how many items a page holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub title: String,
    pub selection: Selection,
    pub max_items: usize,
}

/// Which items an output shows. Every criterion is optional; an empty
/// selection shows everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    /// Items carried by one of these feeds (by name).
    pub feeds: Vec<String>,
    /// Items carried by a feed with one of these tags.
    pub tags: Vec<String>,
    /// Items mentioning one of these configured symbols.
    pub symbols: Vec<String>,
    /// With `symbols`: only items whose snapshot at ingest shows one of
    /// the mentioned symbols moved at least this many percent (absolute).
    pub min_move_pct: Option<f64>,
    /// Full-text search, FTS5 syntax as `?q=` accepts.
    pub query: Option<String>,
    /// Every rule must match.
    pub include: Vec<Rule>,
    /// No rule may match.
    pub exclude: Vec<Rule>,
}

impl Selection {
    /// True when it selects every item.
    pub fn is_everything(&self) -> bool {
        self == &Selection::default()
    }

    /// The same selection without its excludes: the dry run compares the
    /// two to say how many items the excludes removed.
    pub fn without_excludes(&self) -> Selection {
        Selection {
            exclude: Vec::new(),
            ..self.clone()
        }
    }

    /// Why an item that this selection shows is in it, one line per
    /// criterion, for the dry run. `mentions` are the item's mentioned
    /// symbols, `moves` the change percent of each on its snapshot,
    /// `feeds` and `tags` those of the feeds carrying it.
    pub fn explain(&self, item: &Explained<'_>) -> Vec<String> {
        let mut why = Vec::new();
        let hits = |wanted: &[String], have: &[String]| -> Vec<String> {
            wanted
                .iter()
                .filter(|w| have.contains(w))
                .cloned()
                .collect()
        };
        if !self.feeds.is_empty() {
            why.push(format!(
                "feed: {}",
                hits(&self.feeds, item.feeds).join(", ")
            ));
        }
        if !self.tags.is_empty() {
            why.push(format!("tag: {}", hits(&self.tags, item.tags).join(", ")));
        }
        if !self.symbols.is_empty() {
            why.push(format!(
                "mentions: {}",
                hits(&self.symbols, item.mentions).join(", ")
            ));
        }
        if let Some(min) = self.min_move_pct {
            let moved: Vec<String> = item
                .moves
                .iter()
                .filter(|(s, pct)| self.symbols.contains(s) && pct.abs() >= min)
                // As the pages show it; an infinite move (none is) is left
                // out rather than said as a number it is not.
                .filter_map(|(s, pct)| {
                    let pct = rust_decimal::Decimal::try_from(*pct).ok()?;
                    Some(format!("{s} {}", ShownChange::of(pct)))
                })
                .collect();
            why.push(format!("moved at least {min}%: {}", moved.join(", ")));
        }
        if let Some(q) = &self.query {
            why.push(format!("search: {q}"));
        }
        for rule in &self.include {
            match rule.hit(&item.text) {
                Some((field, text)) => why.push(format!("include {rule}: {text:?} in {field}")),
                None => why.push(format!("include {rule}")),
            }
        }
        why
    }
}

/// What [`Selection::explain`] looks at.
#[derive(Debug, Clone, Copy)]
pub struct Explained<'a> {
    pub text: ItemText<'a>,
    pub feeds: &'a [String],
    pub tags: &'a [String],
    pub mentions: &'a [String],
    pub moves: &'a [(String, f64)],
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text<'a>(title: &'a str, authors: &'a [String]) -> ItemText<'a> {
        ItemText {
            title,
            summary: Some("Quarterly results beat guidance."),
            content: None,
            authors,
            url: Some("https://news.example/live/123"),
            categories: &[],
        }
    }

    #[test]
    fn rules_find_their_field_and_any_finds_each() {
        let authors = vec!["Sponsored content".to_string()];
        let item = text("BP lifts dividend", &authors);
        let title = Rule::new(Field::Title, "(?i)dividend").unwrap();
        assert_eq!(title.hit(&item), Some((Field::Title, "dividend")));
        let author = Rule::new(Field::Author, "(?i)^sponsored").unwrap();
        assert_eq!(author.hit(&item), Some((Field::Author, "Sponsored")));
        let any = Rule::new(Field::Any, "guidance").unwrap();
        assert_eq!(any.hit(&item), Some((Field::Content, "guidance")));
        let url = Rule::new(Field::Url, "/live/").unwrap();
        assert_eq!(url.hit(&item), Some((Field::Url, "/live/")));
        assert_eq!(
            Rule::new(Field::Title, "guidance").unwrap().hit(&item),
            None
        );
    }

    #[test]
    fn common_mistakes_are_refused_with_the_fix() {
        let err = Rule::new(Field::Title, "(i?)sponsored").unwrap_err();
        assert!(err.to_string().contains("(?i)"), "{err}");
        let err = Rule::new(Field::Title, "*sponsored*").unwrap_err();
        assert!(err.to_string().contains("not a wildcard"), "{err}");
        assert_eq!(Rule::new(Field::Title, ""), Err(RuleError::Empty));
        assert!(Rule::new(Field::Title, "(?i).*").is_err());
    }

    #[test]
    fn bad_patterns_say_what_is_wrong_on_one_line() {
        let err = Rule::new(Field::Title, "(unclosed").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("(unclosed") && text.contains("unclosed group"),
            "{text}"
        );
        assert!(!text.contains('\n'), "{text}");
    }

    #[test]
    fn rules_read_from_a_table_name_one_known_field() {
        let table = |pairs: &[(&'static str, &'static str)]| {
            Rule::from_table(pairs.iter().map(|(k, v)| (*k, Some(*v))), |v: &str| Some(v))
        };
        assert!(table(&[("title", "x")]).is_ok());
        assert_eq!(
            table(&[("headline", "x")]),
            Err(RuleError::UnknownField("headline".into()))
        );
        assert_eq!(
            table(&[("title", "x"), ("url", "y")]),
            Err(RuleError::NotOneField)
        );
        assert_eq!(table(&[]), Err(RuleError::NotOneField));
    }

    #[test]
    fn searches_quote_words_and_keep_or_and_not_between_words() {
        assert_eq!(
            fts_query("oil OR refinery").as_deref(),
            Some(r#""oil" OR "refinery""#)
        );
        assert_eq!(
            fts_query("bp NOT oil*").as_deref(),
            Some(r#""bp" NOT "oil"*"#)
        );
        assert_eq!(
            fts_query("OR oil OR").as_deref(),
            Some(r#""OR" "oil" "OR""#)
        );
        assert_eq!(
            fts_query("a OR OR b").as_deref(),
            Some(r#""a" "OR" OR "b""#)
        );
        assert_eq!(
            fts_query("at&t or c++").as_deref(),
            Some(r#""at&t" "or" "c++""#)
        );
        assert_eq!(fts_query("  "), None);
        assert_eq!(fts_query("x\0y\u{1}").as_deref(), Some(r#""x" "y""#));
        assert_eq!(fts_query("\0"), None);
    }

    #[test]
    fn words_in_double_quotes_are_one_phrase() {
        assert_eq!(
            fts_query("\"M&A  talks\" OR \"bid\0 for\" shell").as_deref(),
            Some(r#""M&A talks" OR "bid for" "shell""#)
        );
        // A quote closed nowhere, or inside a word, is part of its word.
        assert_eq!(
            fts_query(r#"say"hi there" "open"#).as_deref(),
            Some(r#""say""hi" "there""" """open""#)
        );
        assert_eq!(fts_query(r#""" " ""#), None);
    }

    #[test]
    fn explanations_name_each_criterion_that_matched() {
        let selection = Selection {
            symbols: vec!["BP".into(), "SHEL".into()],
            min_move_pct: Some(1.5),
            include: vec![Rule::new(Field::Any, "(?i)results|guidance").unwrap()],
            ..Selection::default()
        };
        let authors = Vec::new();
        let why = selection.explain(&Explained {
            text: text("BP lifts dividend", &authors),
            feeds: &["wire".into()],
            tags: &[],
            mentions: &["BP".into()],
            moves: &[("BP".into(), 1.6471), ("RELX".into(), 3.0)],
        });
        assert_eq!(
            why,
            [
                "mentions: BP",
                // Two places, as the pages show a move.
                "moved at least 1.5%: BP ▲ +1.65%",
                r#"include { any = "(?i)results|guidance" }: "results" in content"#,
            ]
        );
    }
}
