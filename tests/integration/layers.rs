//! The crate's architecture, checked: imports point one way, down the
//! layers `src/lib.rs` lists, so no two modules import each other (issue
//! 15). Reads the source as text: every `crate::module` path outside
//! comments and `#[cfg(test)]` modules is an import of that module.

use std::collections::BTreeSet;
use std::path::Path;

/// Top-level modules, lowest first: each may import only modules before it.
/// Keep in the order of `src/lib.rs`'s list.
const LAYERS: &[&str] = &[
    "clock",
    "markup",
    "cause",
    "link",
    "politeness",
    "schedule",
    "trust",
    "model",
    "select",
    "config",
    "store",
    "render",
    "opml",
    "quotes",
    "metrics",
    "push",
    "pipeline",
    "scheduler",
    "websub",
    "health",
    "systemd",
    "shutdown",
    "http",
    "app",
    "cli",
];

/// The top-level module a source file belongs to.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main")).then(|| name.to_string())
}

/// Every `crate::name` the code (not comments, not unit tests) mentions.
fn imports(text: &str) -> BTreeSet<String> {
    let code = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => text,
    };
    let mut found = BTreeSet::new();
    for line in code.lines() {
        let line = line.trim_start();
        if line.starts_with("//") {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn imports_point_down_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let rank = |m: &str| LAYERS.iter().position(|l| *l == m);
    let mut wrong = Vec::new();
    let mut modules = BTreeSet::new();
    for file in &files {
        let Some(module) = module_of(&src, file) else {
            continue;
        };
        modules.insert(module.clone());
        let Some(own) = rank(&module) else {
            wrong.push(format!("{module} is not in LAYERS: place it"));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for used in imports(&text) {
            if used == module {
                continue;
            }
            match rank(&used) {
                Some(r) if r < own => {}
                Some(_) => wrong.push(format!(
                    "{} imports {used}, which sits above {module}",
                    file.strip_prefix(&src).unwrap().display()
                )),
                None => wrong.push(format!("{used} is not in LAYERS: place it")),
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let listed: BTreeSet<String> = LAYERS.iter().map(|s| s.to_string()).collect();
    assert_eq!(listed, modules, "LAYERS must name every top-level module");
}

#[test]
fn the_check_sees_an_upward_import() {
    let text = "use crate::model::Entry;\n// crate::app in a comment\nfn f() { crate::http::serve(); }\n#[cfg(test)]\nmod tests {\n use crate::cli;\n}\n";
    let found: Vec<String> = imports(text).into_iter().collect();
    assert_eq!(found, ["http", "model"]);
}
