//! The mentions evaluation (issue 19): the real matcher, built from a real
//! config file through `Config::load`, over labelled real published text
//! in `tests/fixtures/mentions/eval.jsonl` (see the README beside it for
//! where each record came from and how it was labelled).
//!
//! Prints precision and recall over every (record, symbol) pair, the errors
//! by record class, and fails below 0.95 on either. Records marked
//! `"constructed": true` are scored separately and kept out of the headline
//! figure; so are records in other languages, which the issue allows to stay
//! out of reach.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use tickerfeed::config::Config;
use tickerfeed::quotes::{Instrument, MentionMatcher};

/// The shipped config's symbols plus the issue's aliases: short all-capitals
/// aliases ("BP", "BAT", "BCE", "GSK", "RELX") beside full names, and the
/// per-symbol levers for what rules cannot know.
const CONFIG: &str = r#"
[[feeds]]
name = "wire"
url = "http://127.0.0.1:9/rss"

[market]
provider = "yahoo"
symbols = [
  { symbol = "RELX", names = ["RELX", "RELX plc", "Reed Elsevier"] },
  # Another country's national grid, the grid as a thing (lower case).
  { symbol = "NGG", names = ["National Grid"], case_sensitive = true,
    exclude = ['(?i)\b(?:nigeria|nigerian|ghana|ghanaian|kenya|india|pakistan|transmission company of nigeria|gridco)\b'] },
  { symbol = "GSK", names = ["GSK", "GSK plc", "GlaxoSmithKline", "Glaxo"] },
  { symbol = "BTI", names = ["BAT", "British American Tobacco"] },
  # The river in Spain and the mining town named after it.
  { symbol = "RIO", names = ["Rio Tinto"],
    exclude = ['(?i)\br[ií]o\s+tinto\s+(?:\(river\)|river)', '(?i)\b(?:red|tinto)\s+river\b', '(?i)\bminas\s+de\s+r[ií]o\s+tinto\b', '(?i)\br[ií]o\s+tinto\b[^.]{0,60}\briver\b',
               # "the Rio Tinto" ending a phrase is the river; the company
               # takes no article of its own.
               '(?i)\bthe\s+r[ií]o\s+tinto\s*(?:[.,;:!?)]|$)'] },
  { symbol = "VOD", names = ["Vodafone"] },
  { symbol = "BP", names = ["BP", "BP plc"], cik = "313807" },
  { symbol = "AZN", names = ["AstraZeneca"] },
  { symbol = "BCE", names = ["BCE", "Bell Canada"] },
  # One common word as the whole name: its namesakes (a newspaper, a
  # town, New York) are proper nouns it is part of.
  { symbol = "AAPL", names = ["Apple"] },
  # Another word-name, and a parent and its separately listed unit whose
  # name is the parent's plus a place, configured with its legal form as
  # the registry writes it (news drops the "plc").
  { symbol = "SHEL", names = ["Shell", "Royal Dutch Shell"] },
  { symbol = "BHARTIARTL.NS", names = ["Airtel", "Bharti Airtel"] },
  { symbol = "AAF.L", names = ["Airtel Africa plc"] },
]
"#;

struct Record {
    id: String,
    class: String,
    title: String,
    description: String,
    labels: BTreeSet<String>,
    constructed: bool,
    other_language: bool,
}

fn records() -> Vec<Record> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/mentions/eval.jsonl"
    ))
    .unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
            assert!(
                !s("source").is_empty(),
                "record {} names no source",
                s("id")
            );
            Record {
                id: s("id"),
                class: s("class"),
                title: s("title"),
                description: s("description"),
                labels: v["labels"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| l.as_str().unwrap().to_string())
                    .collect(),
                constructed: v["constructed"].as_bool().unwrap_or(false),
                other_language: s("class").contains("other-language"),
            }
        })
        .collect()
}

fn matcher() -> (MentionMatcher, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, CONFIG).unwrap();
    let config = Config::load(&path).unwrap();
    let market = config.market.expect("the config has a market");
    let instruments: Vec<Instrument> = market.instruments.iter().map(Instrument::from).collect();
    let symbols = instruments.iter().map(|i| i.symbol.clone()).collect();
    (MentionMatcher::new(&instruments), symbols)
}

#[derive(Default)]
struct Score {
    tp: usize,
    fp: usize,
    fn_: usize,
}

impl Score {
    fn precision(&self) -> f64 {
        self.tp as f64 / (self.tp + self.fp).max(1) as f64
    }
    fn recall(&self) -> f64 {
        self.tp as f64 / (self.tp + self.fn_).max(1) as f64
    }
}

#[test]
fn mentions_reach_095_precision_and_recall_on_real_text() {
    let (m, symbols) = matcher();
    let records = records();
    assert!(records.len() >= 300, "{} records", records.len());
    let mut headline = Score::default();
    // Records gathered after the rules were written and not used to refine
    // them: the figure to expect on unseen text.
    let mut held_out = Score::default();
    let mut side: BTreeMap<&str, Score> = BTreeMap::new();
    let mut by_class: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    let mut errors = Vec::new();
    let mut how: BTreeMap<&'static str, usize> = BTreeMap::new();
    for r in &records {
        for label in &r.labels {
            assert!(symbols.contains(label), "{}: unknown label {label}", r.id);
        }
        let found = m.find::<&str>(&r.title, &r.description, &[]);
        for f in &found {
            *how.entry(f.matched_by.as_str()).or_default() += 1;
        }
        let got: BTreeSet<String> = found.iter().map(|f| f.symbol.clone()).collect();
        let score = if r.constructed {
            side.entry("constructed").or_default()
        } else if r.other_language {
            side.entry("other-language").or_default()
        } else {
            &mut headline
        };
        let held = r.class.starts_with("heldout-") && !r.constructed && !r.other_language;
        let class = by_class.entry(r.class.clone()).or_default();
        class.0 += 1;
        for s in got.union(&r.labels) {
            match (got.contains(s), r.labels.contains(s)) {
                (true, true) => {
                    score.tp += 1;
                    held_out.tp += usize::from(held);
                }
                (true, false) => {
                    score.fp += 1;
                    held_out.fp += usize::from(held);
                    class.1 += 1;
                    errors.push(format!("FP {s:5} [{}] {}: {}", r.class, r.id, r.title));
                }
                (false, true) => {
                    score.fn_ += 1;
                    held_out.fn_ += usize::from(held);
                    class.2 += 1;
                    errors.push(format!("FN {s:5} [{}] {}: {}", r.class, r.id, r.title));
                }
                (false, false) => {}
            }
        }
    }
    println!("mentions evaluation: {} records", records.len());
    println!(
        "headline (real text, English): precision {:.3} recall {:.3} (tp {} fp {} fn {})",
        headline.precision(),
        headline.recall(),
        headline.tp,
        headline.fp,
        headline.fn_
    );
    println!(
        "of which held out (gathered after the rules, not used to refine them): precision {:.3} recall {:.3} (tp {} fp {} fn {})",
        held_out.precision(),
        held_out.recall(),
        held_out.tp,
        held_out.fp,
        held_out.fn_
    );
    for (name, s) in &side {
        println!(
            "{name} (not in the headline): precision {:.3} recall {:.3} (tp {} fp {} fn {})",
            s.precision(),
            s.recall(),
            s.tp,
            s.fp,
            s.fn_
        );
    }
    println!("found by: {how:?}");
    println!("per class (records, false positives, false negatives):");
    for (class, (n, fp, fn_)) in &by_class {
        println!("  {class:28} {n:4} {fp:3} {fn_:3}");
    }
    for e in &errors {
        println!("  {e}");
    }
    assert!(
        headline.precision() >= 0.95 && headline.recall() >= 0.95,
        "precision {:.3} recall {:.3}: see the errors above",
        headline.precision(),
        headline.recall()
    );
}

/// The shipped `config.toml`'s instruments, on headlines a new user's
/// first feeds (BBC World and Business) carry: the company, not a
/// country's national grid or India's Vodafone Idea, and the short names
/// people use.
#[test]
fn the_shipped_config_tells_companies_from_lookalikes() {
    let config = Config::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config.toml"
    )))
    .unwrap();
    let market = config.market.expect("the shipped config has a market");
    let instruments: Vec<Instrument> = market.instruments.iter().map(Instrument::from).collect();
    let m = MentionMatcher::new(&instruments);
    for (headline, expected) in [
        (
            "Russian missiles hit Ukraine's national grid overnight",
            None,
        ),
        ("Nigeria's national grid collapses again", None),
        ("Vodafone Idea shares slump in Mumbai", None),
        ("3200 BP radiocarbon dates revised", None),
        ("National Grid raises its dividend", Some("NGG")),
        ("Vodafone shares rise after results", Some("VOD")),
        ("BP cuts dividend as profits fall", Some("BP")),
        ("GSK shares jump after FDA approval", Some("GSK")),
        // The company's own name is its short one.
        ("RELX shares hit record on AI tools", Some("RELX")),
        // As British papers write it, and its old name.
        ("Relx shares rise after results", Some("RELX")),
        ("Reed Elsevier to rename itself", Some("RELX")),
    ] {
        let found: Vec<String> = m
            .find(headline, "", &[] as &[&str])
            .into_iter()
            .map(|m| m.symbol)
            .collect();
        assert_eq!(
            found,
            expected.into_iter().collect::<Vec<_>>(),
            "{headline}"
        );
    }
}
