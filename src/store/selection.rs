//! A [`Selection`] as SQL: one `WHERE` fragment over `items i` with its
//! parameters, so a view is one query that SQLite plans with its indexes
//! (the search index for `query`, `item_mentions_by_symbol` for
//! `symbols`, the sources' and tags' keys for `feeds` and `tags`, the sort
//! index for the order) and pages with `LIMIT` like the merged feed.
//!
//! Query shape: every indexed criterion is a set, `+i.id IN (subquery)`,
//! that SQLite builds once from its index; the page then walks the sort
//! index newest first, tests each id against the sets (the index holds
//! the id, so no row is read) and stops after `LIMIT` hits. The unary `+`
//! is what keeps this plan: without it SQLite drives the query from the
//! set instead (one row read per member, then a sort of them all), which
//! is instant for 50 members and 40-70 ms for the 25,000-60,000 a common
//! symbol, tag or word has over 100,000 items (bench/serve.sh, "Views").
//! The walk costs at most one pass over the sort index (about 5 ms at
//! 100,000 items) when a criterion is rare, and bounds every view.
//! An include rule a view configures is a set too, of the matches the
//! archive keeps for it (`store::rules`); an exclude rule, or an include
//! rule whose matches are still being backfilled, reads the row, so it is
//! tested after the sets.
//!
//! Rules run inside SQLite through [`register_regexp`]'s `regexp(pattern,
//! text)` function, with the `regex` crate (linear time, so no pattern
//! can stall the read connection). The function exists only on
//! tickerfeed's own connections; an analyst's `sqlite3` never needs it,
//! since selections change what outputs show, not what the archive holds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use regex::Regex;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};

use super::{Store, StoreError, op};

use crate::select::{Explained, Field, ItemText, Rule, Selection, fts_query};

/// A `WHERE` fragment and its parameters, in order (`?` placeholders).
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Filter {
    clauses: Vec<String>,
    pub(crate) params: Vec<Value>,
}

impl Filter {
    /// The fragment: clauses joined with AND, or `1` when there are none.
    pub(crate) fn sql(&self) -> String {
        if self.clauses.is_empty() {
            "1".into()
        } else {
            self.clauses.join(" AND ")
        }
    }

    fn push(&mut self, clause: String, params: impl IntoIterator<Item = Value>) {
        self.clauses.push(clause);
        self.params.extend(params);
    }

    /// `clause` with `IN (?, ?, ...)` for `values` in place of `{in}`.
    fn push_in(&mut self, clause: &str, values: &[String]) {
        let marks = vec!["?"; values.len()].join(", ");
        self.push(
            clause.replace("{in}", &format!("({marks})")),
            values.iter().map(|v| Value::Text(v.clone())),
        );
    }

    /// Narrows to items matching a full-text query in the `?q=` syntax;
    /// a query with no words matches nothing.
    pub(crate) fn search(&mut self, text: &str) {
        match fts_query(text) {
            Some(q) => self.push(
                "+i.id IN (SELECT rowid FROM items_fts WHERE items_fts MATCH ?)".into(),
                [Value::Text(q)],
            ),
            None => self.push("0".into(), []),
        }
    }

    /// Narrows to the one item with `uid`.
    pub(crate) fn uid(&mut self, uid: &str) {
        // By rowid, so SQLite looks the one row up rather than walking the
        // sort index to find it.
        self.push(
            "i.id = (SELECT id FROM items WHERE uid = ?)".into(),
            [Value::Text(uid.into())],
        );
    }

    /// Narrows to items older than a page position.
    pub(crate) fn before(&mut self, sort_at: &str, id: i64) {
        self.push(
            "(i.sort_at < ? OR (i.sort_at = ? AND i.id < ?))".into(),
            [
                Value::Text(sort_at.into()),
                Value::Text(sort_at.into()),
                Value::Integer(id),
            ],
        );
    }
}

/// The filter that selects what `selection` shows.
pub(crate) fn filter(selection: &Selection) -> Filter {
    let mut f = Filter::default();
    if !selection.feeds.is_empty() {
        f.push_in(
            "+i.id IN (SELECT s.item_id FROM item_sources s JOIN feeds fe ON fe.id = s.feed_id
                       WHERE fe.name IN {in})",
            &selection.feeds,
        );
    }
    if !selection.tags.is_empty() {
        f.push_in(
            "+i.id IN (SELECT s.item_id FROM item_sources s JOIN feed_tags t ON t.feed_id = s.feed_id
                       WHERE t.tag IN {in})",
            &selection.tags,
        );
    }
    if !selection.symbols.is_empty() {
        f.push_in(
            "+i.id IN (SELECT item_id FROM item_mentions WHERE symbol IN {in})",
            &selection.symbols,
        );
        if let Some(min) = selection.min_move_pct {
            let marks = vec!["?"; selection.symbols.len()].join(", ");
            f.push(
                format!(
                    "EXISTS (SELECT 1 FROM snapshot_quotes sq JOIN quotes q ON q.id = sq.quote_id
                             WHERE sq.item_id = i.id AND sq.mentioned AND sq.symbol IN ({marks})
                               AND abs(CAST(q.change_percent AS REAL)) >= ?)"
                ),
                selection
                    .symbols
                    .iter()
                    .map(|s| Value::Text(s.clone()))
                    .chain([Value::Real(min)]),
            );
        }
    }
    if let Some(q) = &selection.query {
        f.search(q);
    }
    for rule in &selection.include {
        let (sql, params) = include_sql(rule);
        f.push(sql, params);
    }
    for rule in &selection.exclude {
        let (sql, params) = rule_test(rule);
        f.push(format!("NOT {sql}"), params);
    }
    f
}

/// An include rule: its matches from `rule_hits` when the archive keeps
/// them complete (`store::rules`), a set like the indexed criteria; else
/// (not configured in a view, such as a dry run's ad-hoc rule, or still
/// being backfilled) the rule tested on each row. Decided by SQLite once
/// per query, so a render never sees a half-built set.
fn include_sql(rule: &Rule) -> (String, Vec<Value>) {
    let (test, test_params) = rule_test(rule);
    let key = || {
        [
            Value::Text(rule.field.as_str().into()),
            Value::Text(rule.pattern.as_str().into()),
        ]
    };
    (
        format!(
            "(CASE WHEN (SELECT complete FROM rules WHERE field = ? AND pattern = ?)
              THEN +i.id IN (SELECT item_id FROM rule_hits
                             WHERE rule_id = (SELECT id FROM rules WHERE field = ? AND pattern = ?))
              ELSE {test} END)"
        ),
        key().into_iter().chain(key()).chain(test_params).collect(),
    )
}

/// One rule as a parenthesised SQL test of the row's text, and its
/// parameters.
pub(crate) fn rule_test(rule: &Rule) -> (String, Vec<Value>) {
    let pattern = || Value::Text(rule.pattern.as_str().to_string());
    let one = |field: Field| match field {
        Field::Title => "regexp(?, i.title)",
        Field::Content => {
            "(regexp(?, coalesce(i.summary_text, '')) OR regexp(?, coalesce(i.content_text, '')))"
        }
        Field::Author => "EXISTS (SELECT 1 FROM json_each(i.authors) WHERE regexp(?, value))",
        Field::Url => "regexp(?, coalesce(i.url, ''))",
        Field::Category => "EXISTS (SELECT 1 FROM json_each(i.categories) WHERE regexp(?, value))",
        Field::Any => unreachable!("Any is expanded below"),
    };
    let fields = rule.field.covered();
    let sql: Vec<&str> = fields.iter().map(|f| one(*f)).collect();
    let marks = sql.iter().map(|s| s.matches('?').count()).sum::<usize>();
    (
        format!("({})", sql.join(" OR ")),
        (0..marks).map(|_| pattern()).collect(),
    )
}

/// One item a selection shows, with why, for the dry run.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    pub uid: String,
    pub title: String,
    pub url: Option<String>,
    /// Its place in the feeds' order (published, else updated, never later
    /// than first seen).
    pub sort_at: String,
    /// One line per criterion that matched (see `Selection::explain`).
    pub why: Vec<String>,
}

impl Store {
    /// How many archived items `selection` shows.
    pub async fn count_selected(&self, selection: &Selection) -> Result<i64, StoreError> {
        let filter = filter(selection);
        self.read(move |conn| {
            let sql = format!("SELECT count(*) FROM items i WHERE {}", filter.sql());
            conn.prepare_cached(&sql)
                .and_then(|mut s| s.query_row(params_from_iter(filter.params), |r| r.get(0)))
                .map_err(op("count the items a view shows"))
        })
        .await
    }

    /// The newest `limit` items `selection` shows, each with why: the
    /// dry run of `tickerfeed views test`.
    pub async fn dry_run(
        &self,
        selection: &Selection,
        limit: usize,
    ) -> Result<Vec<Match>, StoreError> {
        let selection = selection.clone();
        self.read(move |conn| {
            let filter = filter(&selection);
            let sql = format!(
                "SELECT i.id, i.uid, i.title, i.url, i.sort_at, i.summary_text, i.content_text,
                        i.authors, i.categories
                 FROM items i WHERE {}
                 ORDER BY i.sort_at DESC, i.id DESC LIMIT ?",
                filter.sql()
            );
            let mut params = filter.params;
            params.push(Value::Integer(limit as i64));
            let mut stmt = conn.prepare(&sql).map_err(op("select a view's items"))?;
            let rows = stmt
                .query_map(params_from_iter(params), |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, Option<String>>(5)?,
                        r.get::<_, Option<String>>(6)?,
                        r.get::<_, String>(7)?,
                        r.get::<_, String>(8)?,
                    ))
                })
                .map_err(op("select a view's items"))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(op("read a view's items"))?;
            let list =
                |json: &str| -> Vec<String> { serde_json::from_str(json).unwrap_or_default() };
            let mut out = Vec::with_capacity(rows.len());
            for (id, uid, title, url, sort_at, summary, content, authors, categories) in rows {
                let (authors, categories) = (list(&authors), list(&categories));
                let facts = ItemFacts::of(conn, id)?;
                let why = selection.explain(&Explained {
                    text: ItemText {
                        title: &title,
                        summary: summary.as_deref(),
                        content: content.as_deref(),
                        authors: &authors,
                        url: url.as_deref(),
                        categories: &categories,
                    },
                    feeds: &facts.feeds,
                    tags: &facts.tags,
                    mentions: &facts.mentions,
                    moves: &facts.moves,
                });
                out.push(Match {
                    uid,
                    title,
                    url,
                    sort_at,
                    why,
                });
            }
            Ok(out)
        })
        .await
    }
}

/// What the dry run says about an item beyond its own text.
struct ItemFacts {
    feeds: Vec<String>,
    tags: Vec<String>,
    mentions: Vec<String>,
    /// Mentioned symbols' change percent on the item's snapshot.
    moves: Vec<(String, f64)>,
}

impl ItemFacts {
    fn of(conn: &Connection, id: i64) -> Result<ItemFacts, StoreError> {
        let strings = |sql: &str| -> Result<Vec<String>, StoreError> {
            conn.prepare_cached(sql)
                .and_then(|mut s| {
                    s.query_map([id], |r| r.get::<_, String>(0))?
                        .collect::<Result<Vec<_>, _>>()
                })
                .map_err(op("read what an item is carried by"))
        };
        let moves = conn
            .prepare_cached(
                "SELECT sq.symbol, CAST(q.change_percent AS REAL)
                 FROM snapshot_quotes sq JOIN quotes q ON q.id = sq.quote_id
                 WHERE sq.item_id = ?1 AND sq.mentioned AND q.change_percent IS NOT NULL
                 ORDER BY sq.position",
            )
            .and_then(|mut s| {
                s.query_map([id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, f64>(1)?)))?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(op("read an item's snapshot"))?;
        Ok(ItemFacts {
            feeds: strings(
                "SELECT f.name FROM item_sources s JOIN feeds f ON f.id = s.feed_id
                 WHERE s.item_id = ?1 ORDER BY f.name",
            )?,
            tags: strings(
                "SELECT DISTINCT t.tag FROM item_sources s JOIN feed_tags t ON t.feed_id = s.feed_id
                 WHERE s.item_id = ?1 ORDER BY t.tag",
            )?,
            mentions: strings(
                "SELECT symbol FROM item_mentions WHERE item_id = ?1 ORDER BY symbol",
            )?,
            moves,
        })
    }
}

/// Largest pattern `regexp` compiles; the config's rules are far smaller.
const REGEXP_SIZE_LIMIT: usize = 1 << 20;

/// Registers `regexp(pattern, text)` (and so `text REGEXP pattern`) on
/// `conn`. Each statement compiles its pattern once (SQLite keeps it as
/// the argument's auxiliary data while the pattern is a constant
/// parameter), not once per row.
pub(crate) fn register_regexp(conn: &Connection) -> rusqlite::Result<()> {
    // SQLite keeps a compiled pattern only for one run of a statement, and
    // the writer runs each rule's statement once per commit group: without
    // this cache every group compiled every rule again (two thirds of the
    // writer's rule work, bench/results/poll-200x50-session8.md). Patterns
    // come from the config, so few; the cache is emptied past a bound in
    // case ad-hoc ones (a dry run's) pile up.
    const CACHED_PATTERNS: usize = 256;
    let cache: Mutex<HashMap<String, Arc<Regex>>> = Mutex::default();
    conn.create_scalar_function(
        "regexp",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        move |ctx| {
            let re = ctx.get_or_create_aux(0, |pattern| -> Result<_, regex::Error> {
                let pattern = pattern.as_str().unwrap_or("");
                let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(re) = cache.get(pattern) {
                    return Ok(Arc::clone(re));
                }
                let re = Arc::new(
                    regex::RegexBuilder::new(pattern)
                        .size_limit(REGEXP_SIZE_LIMIT)
                        .build()?,
                );
                if cache.len() >= CACHED_PATTERNS {
                    cache.clear();
                }
                cache.insert(pattern.to_string(), Arc::clone(&re));
                Ok(re)
            })?;
            Ok(match ctx.get_raw(1).as_str() {
                Ok(text) => re.is_match(text),
                // NULL or a blob: nothing to match.
                Err(_) => false,
            })
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_selection_selects_everything() {
        let f = filter(&Selection::default());
        assert_eq!((f.sql().as_str(), f.params.len()), ("1", 0));
    }

    #[test]
    fn each_criterion_adds_one_clause_with_its_values() {
        let selection = Selection {
            feeds: vec!["a".into(), "b".into()],
            symbols: vec!["BP".into()],
            min_move_pct: Some(1.5),
            exclude: vec![Rule::new(Field::Any, "x").unwrap()],
            ..Selection::default()
        };
        let f = filter(&selection);
        assert_eq!(f.clauses.len(), 4);
        assert_eq!(f.sql().matches('?').count(), f.params.len());
        assert!(f.clauses[3].starts_with("NOT ("), "{}", f.clauses[3]);
    }

    #[test]
    fn regexp_matches_in_sql_and_compiles_once_per_statement() {
        let conn = Connection::open_in_memory().unwrap();
        register_regexp(&conn).unwrap();
        let hits: i64 = conn
            .query_row(
                "SELECT count(*) FROM (SELECT 'Sponsored: buy' AS t UNION ALL SELECT 'news' UNION ALL SELECT NULL)
                 WHERE regexp(?1, t)",
                ["(?i)^sponsored"],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(hits, 1);
        assert!(
            conn.query_row("SELECT regexp('(', 'x')", [], |r| r.get::<_, bool>(0))
                .is_err(),
            "a bad pattern is an error, not a silent no-match"
        );
    }
}
