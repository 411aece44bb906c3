//! How chat text becomes terms. Chat is not prose: people paste links and
//! code, write in scripts without spaces, and search for half-typed words.
//! So a whitespace-separated chunk yields its lowercase words, plus the
//! whole chunk when it joins several words (`example.com/a`, `snake_case`,
//! `std::mem`), and runs of CJK characters yield overlapping bigrams (and
//! single characters, so a one-character query still finds them).

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// Longer terms are dropped: nobody searches for them and they bloat the index.
const MAX_TERM_BYTES: usize = 255;

/// The registered name of [`ChatTokenizer`].
pub const CHAT_TOKENIZER: &str = "chat";

/// One term of a search query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryTerm {
    pub text: String,
    /// The last word being typed matches as a prefix.
    pub prefix: bool,
    /// A whole link or identifier: its words are required, the whole form
    /// only ranks exact uses first.
    pub compound: bool,
}

/// Whether a tokenization feeds the index or a query: the index keeps CJK
/// unigrams and bigrams, a query uses the bigrams unless it has only one
/// character.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Index,
    Query,
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF       // Hiragana, Katakana
        | 0x3400..=0x4DBF     // CJK extension A
        | 0x4E00..=0x9FFF     // CJK unified ideographs
        | 0xAC00..=0xD7AF     // Hangul syllables
        | 0xF900..=0xFAFF     // CJK compatibility ideographs
        | 0x20000..=0x2FFFF) // CJK extensions B and later
}

/// A maximal run of word characters inside a chunk.
struct Run<'a> {
    text: &'a str,
    cjk: bool,
}

/// Splits a chunk into runs of letters and digits, CJK runs apart.
fn runs(chunk: &str) -> Vec<Run<'_>> {
    let mut out = Vec::new();
    // Where the current run started, and whether it is CJK.
    let mut current: Option<(usize, bool)> = None;
    for (at, c) in chunk.char_indices() {
        let kind = c.is_alphanumeric().then(|| is_cjk(c));
        if let Some((from, cjk)) = current {
            if kind == Some(cjk) {
                continue;
            }
            out.push(Run {
                text: &chunk[from..at],
                cjk,
            });
        }
        current = kind.map(|cjk| (at, cjk));
    }
    if let Some((from, cjk)) = current {
        out.push(Run {
            text: &chunk[from..],
            cjk,
        });
    }
    out
}

/// What a term is, for the query side.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Word,
    Cjk,
    Compound,
}

/// Calls `emit(chunk_index, term, kind)` for every term of `text`.
fn terms(text: &str, side: Side, mut emit: impl FnMut(usize, String, Kind)) {
    for (index, chunk) in text.split_whitespace().enumerate() {
        let trimmed = chunk.trim_matches(|c: char| !c.is_alphanumeric());
        let runs = runs(trimmed);
        for run in &runs {
            if !run.cjk {
                emit(index, run.text.to_lowercase(), Kind::Word);
                continue;
            }
            let chars: Vec<char> = run.text.chars().collect();
            if side == Side::Index || chars.len() == 1 {
                chars
                    .iter()
                    .for_each(|c| emit(index, c.to_string(), Kind::Cjk));
            }
            for pair in chars.windows(2) {
                emit(index, pair.iter().collect(), Kind::Cjk);
            }
        }
        let compound = runs.len() > 1 && !runs.iter().any(|r| r.cjk);
        if compound {
            emit(index, trimmed.to_lowercase(), Kind::Compound);
        }
    }
}

/// The terms of a query; every word of the last chunk matches as a prefix.
pub fn query_terms(text: &str) -> Vec<QueryTerm> {
    let last = text.split_whitespace().count().saturating_sub(1);
    let mut out: Vec<QueryTerm> = Vec::new();
    terms(text, Side::Query, |chunk, text, kind| {
        let term = QueryTerm {
            prefix: kind != Kind::Cjk && chunk == last,
            compound: kind == Kind::Compound,
            text,
        };
        if term.text.len() <= MAX_TERM_BYTES && !out.contains(&term) {
            out.push(term);
        }
    });
    out
}

/// The tokenizer the index's `content` field is registered with.
#[derive(Clone, Default)]
pub struct ChatTokenizer;

/// The terms of one text, computed up front.
pub struct ChatTokenStream {
    tokens: Vec<Token>,
    next: usize,
}

impl Tokenizer for ChatTokenizer {
    type TokenStream<'a> = ChatTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> ChatTokenStream {
        let mut tokens = Vec::new();
        terms(text, Side::Index, |_, term, _| {
            if term.len() <= MAX_TERM_BYTES {
                tokens.push(Token {
                    position: tokens.len(),
                    text: term,
                    ..Token::default()
                });
            }
        });
        ChatTokenStream { tokens, next: 0 }
    }
}

impl TokenStream for ChatTokenStream {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }

    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn indexed(text: &str) -> Vec<String> {
        let mut tokenizer = ChatTokenizer;
        let mut stream = tokenizer.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            out.push(stream.token().text.clone());
        }
        out
    }

    fn query(text: &str) -> Vec<(String, bool)> {
        query_terms(text)
            .into_iter()
            .filter(|t| !t.compound)
            .map(|t| (t.text, t.prefix))
            .collect()
    }

    #[test]
    fn words_are_case_folded_and_unicode_aware() {
        assert_eq!(
            indexed("Hello, WORLD! Ünïcode straße"),
            ["hello", "world", "ünïcode", "straße"]
        );
    }

    #[test]
    fn links_and_code_keep_their_whole_form_too() {
        assert_eq!(
            indexed("see https://Example.com/a_b."),
            [
                "see",
                "https",
                "example",
                "com",
                "a",
                "b",
                "https://example.com/a_b"
            ]
        );
        assert_eq!(indexed("snake_case"), ["snake", "case", "snake_case"]);
    }

    #[test]
    fn cjk_runs_become_unigrams_and_bigrams() {
        assert_eq!(indexed("東京都"), ["東", "京", "都", "東京", "京都"]);
        assert_eq!(query("京都"), [("京都".to_string(), false)]);
        assert_eq!(query("京"), [("京".to_string(), false)]);
    }

    #[test]
    fn the_last_word_of_a_query_is_a_prefix() {
        assert_eq!(
            query("Deploy fri"),
            [("deploy".to_string(), false), ("fri".to_string(), true)]
        );
        assert!(query("  ").is_empty());
        assert_eq!(
            query("a a"),
            [("a".to_string(), false), ("a".to_string(), true)]
        );
    }
}
