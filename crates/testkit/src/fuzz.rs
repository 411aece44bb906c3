//! Mutation fuzzing over real sockets: seeds from the committed corpus in
//! `tests/fuzz/corpus/<target>/`, each changed by a few random edits
//! (proptest strategies, so a failure shrinks to a small case and is
//! printed), then sent to a running server whose answers must stay within
//! the protocol: never a 5xx, never a dropped connection.
//!
//! `CONCORD_FUZZ_CASES` sets the number of cases per target (a short run by
//! default, so the suite stays quick; raise it for a long hunt).

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestRunner};

/// One seed: its file name and bytes.
#[derive(Debug, Clone)]
pub struct Seed {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// The seeds of one target, sorted by name.
pub fn corpus(target: &str) -> Vec<Seed> {
    let dir = corpus_dir().join(target);
    let mut seeds: Vec<Seed> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("corpus entry").path();
            Seed {
                name: path.file_name().unwrap().to_string_lossy().into_owned(),
                bytes: std::fs::read(&path).expect("seed"),
            }
        })
        .collect();
    seeds.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(!seeds.is_empty(), "corpus {} is empty", dir.display());
    seeds
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fuzz/corpus")
}

/// Byte strings that tend to reach the corners of JSON, multipart and the
/// server's own limits.
const TOKENS: &[&[u8]] = &[
    b"\"",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"null",
    b"true",
    b"-1",
    b"0",
    b"1e309",
    b"-9223372036854775809",
    b"18446744073709551616",
    b"\"\\u0000\"",
    b"\"\\ud800\"",
    b"\xff\xfe",
    b"\r\n",
    b"\r\n--fuzzboundary\r\n",
    b"\r\n--fuzzboundary--\r\n",
    b"Content-Disposition: form-data; name=\"files[0]\"; filename=\"../x\"\r\n\r\n",
    b"Content-Disposition: form-data; name=\"payload_json\"\r\n\r\n",
    b"Content-Type: application/json\r\n",
    b"\"op\":",
    b"\"d\":",
    b"\"token\":",
    b"\"id\":\"0\"",
    b"\"permissions\":\"9223372036854775807\"",
];

/// One edit of a seed.
#[derive(Debug, Clone)]
pub enum Edit {
    FlipBit(Index, u8),
    Insert(Index, Vec<u8>),
    InsertToken(Index, Index),
    Delete(Index, usize),
    Duplicate(Index, usize),
    /// A long run of one byte: long strings and deep nesting.
    Repeat(Index, u8, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<Index>(), 0u8..8).prop_map(|(i, b)| Edit::FlipBit(i, b)),
        (any::<Index>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(i, bytes)| Edit::Insert(i, bytes)),
        (any::<Index>(), any::<Index>()).prop_map(|(i, t)| Edit::InsertToken(i, t)),
        (any::<Index>(), 1usize..64).prop_map(|(i, n)| Edit::Delete(i, n)),
        (any::<Index>(), 1usize..64).prop_map(|(i, n)| Edit::Duplicate(i, n)),
        (
            any::<Index>(),
            prop::sample::select(vec![b'[', b'{', b'a', b'9', b'"', b'\\']),
            prop::sample::select(vec![100usize, 5_000, 70_000])
        )
            .prop_map(|(i, b, n)| Edit::Repeat(i, b, n)),
    ]
}

impl Edit {
    fn apply(&self, bytes: &mut Vec<u8>) {
        let at = |i: &Index, len: usize| i.index(len + 1);
        match self {
            Edit::FlipBit(i, bit) if !bytes.is_empty() => {
                let p = i.index(bytes.len());
                bytes[p] ^= 1 << bit;
            }
            Edit::FlipBit(..) => {}
            Edit::Insert(i, new) => {
                let p = at(i, bytes.len());
                bytes.splice(p..p, new.iter().copied());
            }
            Edit::InsertToken(i, t) => {
                let p = at(i, bytes.len());
                let token = TOKENS[t.index(TOKENS.len())];
                bytes.splice(p..p, token.iter().copied());
            }
            Edit::Delete(i, n) => {
                let p = at(i, bytes.len());
                let end = (p + n).min(bytes.len());
                bytes.drain(p..end);
            }
            Edit::Duplicate(i, n) => {
                let p = at(i, bytes.len());
                let end = (p + n).min(bytes.len());
                let copy = bytes[p..end].to_vec();
                bytes.splice(end..end, copy);
            }
            Edit::Repeat(i, byte, n) => {
                let p = at(i, bytes.len());
                bytes.splice(p..p, std::iter::repeat_n(*byte, *n));
            }
        }
    }
}

/// A seed and the edits made to it; `edits` may be empty (the seed as is).
#[derive(Debug, Clone)]
pub struct Case {
    pub seed: usize,
    pub edits: Vec<Edit>,
}

impl Case {
    /// The seed's bytes with the edits applied.
    pub fn bytes(&self, seeds: &[Seed]) -> Vec<u8> {
        let mut bytes = seeds[self.seed].bytes.clone();
        for edit in &self.edits {
            edit.apply(&mut bytes);
        }
        bytes
    }
}

/// How many cases each target runs.
pub fn cases() -> u32 {
    std::env::var("CONCORD_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150)
}

/// Runs `check` on every seed unchanged, then on [`cases`] mutated seeds;
/// `check` returns an error describing what the server did wrong. Panics
/// with the smallest failing case found.
pub fn run(seeds: &[Seed], check: impl Fn(&Case, Vec<u8>) -> Result<(), String>) {
    for seed in 0..seeds.len() {
        let case = Case {
            seed,
            edits: Vec::new(),
        };
        if let Err(e) = check(&case, case.bytes(seeds)) {
            panic!("seed {}: {e}", seeds[seed].name);
        }
    }
    let config = Config {
        cases: cases(),
        failure_persistence: None,
        // Each case talks to a server; shrinking tries stay few.
        max_shrink_iters: 200,
        ..Config::default()
    };
    let strategy = (0..seeds.len(), prop::collection::vec(edit(), 1..5))
        .prop_map(|(seed, edits)| Case { seed, edits });
    let mut runner = TestRunner::new(config);
    let result = runner.run(&strategy, |case| {
        let bytes = case.bytes(seeds);
        check(&case, bytes).map_err(TestCaseError::fail)
    });
    if let Err(e) = result {
        panic!("fuzzing found a failure: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_stay_in_bounds() {
        let seeds = vec![Seed {
            name: "empty".into(),
            bytes: Vec::new(),
        }];
        let mut runner = TestRunner::default();
        let strategy = prop::collection::vec(edit(), 0..8);
        runner
            .run(&strategy, |edits| {
                let case = Case { seed: 0, edits };
                case.bytes(&seeds);
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn every_target_has_seeds() {
        for target in ["json", "multipart", "gateway"] {
            assert!(!corpus(target).is_empty());
        }
    }
}
