//! The shape of `src/` as DESIGN and STYLE ask for it, checked on the
//! source itself: the folders are layers and each uses only those before
//! it; no module imports one that imports it back; SQL only in the store;
//! the HTTP layer reaches storage only through the services.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers in `lib.rs`'s order, with what each may use besides itself.
const LAYERS: &[(&str, &[&str])] = &[
    ("domain", &[]),
    ("formats", &["domain"]),
    ("pki", &["domain"]),
    ("store", &["domain", "formats", "pki"]),
    ("runtime", &["domain", "formats", "pki", "store"]),
    ("service", &["domain", "formats", "pki", "store", "runtime"]),
    ("http", &["domain", "formats", "pki", "store", "runtime", "service"]),
    // The agency's client knows the formats, not the hub's insides.
    ("client", &["domain", "formats", "pki"]),
    ("tools", &["domain", "formats", "pki", "store", "runtime", "service", "http", "client"]),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Every module of the crate (`service::documents::submit`) with its source,
/// the unit tests at the end of a file left out.
fn modules() -> BTreeMap<String, String> {
    let mut files = Vec::new();
    rust_files(Path::new("src"), &mut files);
    files
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|f| f != "main.rs" && f != "lib.rs"))
        .map(|p| {
            let rel = p.strip_prefix("src").unwrap().with_extension("");
            let mut parts: Vec<String> = rel.iter().map(|s| s.to_string_lossy().into_owned()).collect();
            if parts.last().is_some_and(|l| l == "mod") {
                parts.pop();
            }
            let text = std::fs::read_to_string(&p).unwrap();
            let text = match text.find("#[cfg(test)]\nmod tests") {
                Some(at) => text[..at].to_owned(),
                None => text,
            };
            (parts.join("::"), text)
        })
        .collect()
}

/// The longest module path that `path` starts with.
fn resolve<'a>(modules: &'a BTreeMap<String, String>, path: &[&str]) -> Option<&'a str> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find_map(|c| modules.get_key_value(&c).map(|(k, _)| k.as_str()))
}

fn ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The modules each module refers to (`crate::…` and `super::…` paths).
fn imports(modules: &BTreeMap<String, String>) -> BTreeMap<&str, BTreeSet<&str>> {
    let mut graph = BTreeMap::new();
    for (name, text) in modules {
        let me: Vec<&str> = name.split("::").collect();
        let mut uses = BTreeSet::new();
        let mut rest = text.as_str();
        while let Some(at) = rest.find(['c', 's']) {
            let tail = &rest[at..];
            let starts_word = at == 0 || !ident(rest[..at].chars().next_back().unwrap());
            let (base, after): (Vec<&str>, &str) = if starts_word && tail.starts_with("crate::") {
                (Vec::new(), &tail[7..])
            } else if starts_word && tail.starts_with("super::") {
                let mut up = me.len();
                let mut t = tail;
                while let Some(s) = t.strip_prefix("super::") {
                    up = up.saturating_sub(1);
                    t = s;
                }
                (me[..up].to_vec(), t)
            } else {
                rest = &rest[at + 1..];
                continue;
            };
            let path: Vec<&str> = after.split("::").map(|s| s.split(|c| !ident(c)).next().unwrap_or("")).collect();
            let len = path.iter().position(|s| s.is_empty() || s.starts_with(char::is_uppercase)).unwrap_or(path.len());
            let full: Vec<&str> = base.iter().copied().chain(path[..len].iter().copied()).collect();
            if let Some(target) = resolve(modules, &full)
                && target != name
                && !name.starts_with(&format!("{target}::"))
            {
                uses.insert(target);
            }
            rest = &rest[at + 1..];
        }
        graph.insert(name.as_str(), uses);
    }
    graph
}

#[test]
fn each_layer_uses_only_the_layers_before_it() {
    let modules = modules();
    let allowed: BTreeMap<&str, &[&str]> = LAYERS.iter().copied().collect();
    let mut wrong = Vec::new();
    for (from, uses) in imports(&modules) {
        let layer = from.split("::").next().unwrap();
        let may = allowed.get(layer).unwrap_or_else(|| panic!("{from} is in no layer of lib.rs"));
        for to in uses {
            let other = to.split("::").next().unwrap();
            if other != layer && !may.contains(&other) {
                wrong.push(format!("{from} uses {to}"));
            }
        }
    }
    assert!(wrong.is_empty(), "dependencies against the layers:\n{}", wrong.join("\n"));
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let modules = modules();
    let graph = imports(&modules);
    // Depth-first search for a cycle, reporting its path.
    fn visit<'a>(
        n: &'a str,
        graph: &BTreeMap<&'a str, BTreeSet<&'a str>>,
        state: &mut BTreeMap<&'a str, u8>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<&'a str>> {
        state.insert(n, 1);
        path.push(n);
        for &m in graph.get(n).into_iter().flatten() {
            match state.get(m) {
                Some(1) => {
                    let at = path.iter().position(|x| *x == m).unwrap();
                    let mut cycle = path[at..].to_vec();
                    cycle.push(m);
                    return Some(cycle);
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(m, graph, state, path) {
                        return Some(c);
                    }
                }
            }
        }
        path.pop();
        state.insert(n, 2);
        None
    }
    let mut state = BTreeMap::new();
    for &n in graph.keys() {
        if !state.contains_key(n)
            && let Some(cycle) = visit(n, &graph, &mut state, &mut Vec::new())
        {
            panic!("an import cycle: {}", cycle.join(" → "));
        }
    }
    assert!(graph.len() > 50, "the modules were found: {}", graph.len());
}

#[test]
fn sql_is_written_only_in_the_store() {
    let outside: Vec<String> = modules()
        .into_iter()
        .filter(|(name, text)| !name.starts_with("store") && text.contains("sqlx::"))
        .map(|(name, _)| name)
        .collect();
    assert!(outside.is_empty(), "SQL outside src/store: {outside:?}");
}

#[test]
fn the_http_layer_reaches_storage_only_through_the_services() {
    let direct: Vec<String> = modules()
        .into_iter()
        .filter(|(name, text)| {
            name.starts_with("http")
                && [".store.", ".store\n", "app.blobs", "app.guard"].iter().any(|s| text.contains(s))
        })
        .map(|(name, _)| name)
        .collect();
    assert!(direct.is_empty(), "HTTP modules using the store directly: {direct:?}");
}
