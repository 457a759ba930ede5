//! The fuzz targets' seed corpora (`fuzz/corpus/<target>`) and every input
//! a fuzzer once crashed on (`fuzz/regressions/<target>`), replayed through
//! the same entry points (`gwx::formats::fuzz`) as ordinary tests on stable
//! Rust. A failure names the file; `fuzz/README.md` says how to fuzz.

use std::path::Path;

fn inputs(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut v: Vec<_> = rd.map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect();
    v.sort();
    v
}

#[test]
fn every_fuzz_target_has_its_source_and_a_seed_corpus() {
    for (name, _) in gwx::formats::fuzz::TARGETS {
        assert!(Path::new(&format!("fuzz/fuzz_targets/{name}.rs")).is_file(), "fuzz/fuzz_targets/{name}.rs");
        let seeds = inputs(Path::new(&format!("fuzz/corpus/{name}")));
        assert!(seeds.len() >= 3, "fuzz/corpus/{name} has {} seeds", seeds.len());
    }
    let declared = std::fs::read_to_string("fuzz/Cargo.toml").unwrap();
    for (name, _) in gwx::formats::fuzz::TARGETS {
        assert!(declared.contains(&format!("name = \"{name}\"")), "fuzz/Cargo.toml lacks {name}");
    }
}

#[test]
fn the_fuzz_corpora_and_past_crashes_replay_without_a_failure() {
    let mut failed = Vec::new();
    let mut replayed = 0;
    for (name, run) in gwx::formats::fuzz::TARGETS {
        for dir in ["corpus", "regressions"] {
            for input in inputs(Path::new(&format!("fuzz/{dir}/{name}"))) {
                let data = std::fs::read(&input).unwrap();
                replayed += 1;
                if std::panic::catch_unwind(|| run(&data)).is_err() {
                    failed.push(input.display().to_string());
                }
            }
        }
    }
    assert!(failed.is_empty(), "inputs that fail their target:\n{}", failed.join("\n"));
    assert!(replayed > 100, "only {replayed} inputs");
}
