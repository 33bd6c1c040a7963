//! `cargo bench --bench stages -- DIR`: the CPU cost of the parse and
//! normalize stages alone, on one thread, over every feed document in DIR.
//!
//! The poll bench measures the whole pipeline, where parsing shares two
//! cores with the writer and the machine's noise is ±10 %. This one runs
//! the two stages back to back on one thread, with nothing else in the
//! process, so a change to either shows as a few percent even on a noisy
//! machine. Get the poll bench's corpus with
//! `TF_BENCH_SERVE=1 TF_BENCH_PEERS=0 cargo bench --bench poll`, which
//! writes its documents to a `corpus` folder and prints this command.
//!
//! Each run parses and normalises every document once; the report gives
//! the median and range over `TF_STAGES_RUNS` runs (default 9), per stage,
//! for the whole corpus and per item. Two more rows time sanitising alone,
//! on every item's summary and content HTML: `sanitize` (the streaming
//! sanitiser, ammonia behind it for what it does not model) and
//! `ammonia`, the same fragments through ammonia only, for comparison.
//! `hints` times reading every document's polling hints (`<ttl>`,
//! `<skipHours>`...), which the pipeline does beside parsing.

use std::path::PathBuf;
use std::time::Instant;

use tickerfeed::pipeline::{hints, normalize, parse};
use url::Url;

fn main() -> std::process::ExitCode {
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let Some(dir) = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .map(PathBuf::from)
    else {
        eprintln!(
            "usage: cargo bench --bench stages -- DIR (feed documents; \
             `TF_BENCH_SERVE=1 TF_BENCH_PEERS=0 cargo bench --bench poll` writes one)"
        );
        // `cargo test --benches` runs this too, with no corpus: nothing to do.
        return std::process::ExitCode::from(if bench_mode { 2 } else { 0 });
    };
    let runs: usize = std::env::var("TF_STAGES_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(9)
        .max(1);

    let mut docs = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("feed");
        let url = Url::parse(&format!("http://127.0.0.1/feeds/{name}")).expect("a URL");
        docs.push((std::fs::read(&path).expect("read a document"), url));
    }
    assert!(!docs.is_empty(), "no documents in {}", dir.display());
    let bytes: usize = docs.iter().map(|(b, _)| b.len()).sum();

    let fragments = fragments(&docs);
    let (mut parse_s, mut normalize_s) = (Vec::new(), Vec::new());
    let (mut sanitize_s, mut ammonia_s, mut hints_s) = (Vec::new(), Vec::new(), Vec::new());
    let mut items = 0;
    for _ in 0..runs {
        let (mut p, mut n) = (0.0, 0.0);
        items = 0;
        for (body, url) in &docs {
            let start = Instant::now();
            let feed = parse::parse(body, url, Some("application/xml"))
                .unwrap_or_else(|e| panic!("{url}: {e}"));
            let parsed = Instant::now();
            let (_meta, normalized) = normalize::normalize(feed, url);
            items += normalized.len();
            drop(std::hint::black_box(normalized));
            p += (parsed - start).as_secs_f64();
            n += parsed.elapsed().as_secs_f64();
        }
        parse_s.push(p);
        normalize_s.push(n);
        let start = Instant::now();
        for (body, _) in &docs {
            std::hint::black_box(hints::from_document(body));
        }
        hints_s.push(start.elapsed().as_secs_f64());
        for (out, clean) in [
            (
                &mut sanitize_s,
                normalize::sanitize as fn(&str, &Url) -> String,
            ),
            (&mut ammonia_s, normalize::sanitize_with_ammonia),
        ] {
            let start = Instant::now();
            for (html, base) in &fragments {
                std::hint::black_box(clean(html, base));
            }
            out.push(start.elapsed().as_secs_f64());
        }
    }

    println!(
        "{} documents, {items} items, {} HTML fragments, {:.1} MiB, {runs} runs on one thread",
        docs.len(),
        fragments.len(),
        bytes as f64 / (1024.0 * 1024.0)
    );
    println!("stage        median ms   (min-max)        us per item");
    for (name, mut times) in [
        ("parse", parse_s),
        ("normalize", normalize_s),
        ("sanitize", sanitize_s),
        ("ammonia", ammonia_s),
        ("hints", hints_s),
    ] {
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        println!(
            "{name:<10} {:>10.1}   ({:.1}-{:.1}) {:>12.2}",
            median * 1e3,
            times[0] * 1e3,
            times[times.len() - 1] * 1e3,
            median * 1e6 / items as f64
        );
    }
    std::process::ExitCode::SUCCESS
}

/// Every item's summary and content HTML with the base `normalize` would
/// give it (the item's link, else the feed's URL).
fn fragments(docs: &[(Vec<u8>, Url)]) -> Vec<(String, Url)> {
    let mut out = Vec::new();
    for (body, url) in docs {
        let feed = parse::parse(body, url, Some("application/xml"))
            .unwrap_or_else(|e| panic!("{url}: {e}"))
            .feed;
        for e in feed.entries {
            let base = e
                .links
                .first()
                .and_then(|l| url.join(&l.href).ok())
                .unwrap_or_else(|| url.clone());
            if let Some(s) = e
                .summary
                .filter(|t| !t.content_type.as_str().starts_with("text/plain"))
            {
                out.push((s.content, base.clone()));
            }
            if let Some(b) = e.content.and_then(|c| c.body) {
                out.push((b, base));
            }
        }
    }
    out
}
