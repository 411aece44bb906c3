//! A search request as the index answers it. Permissions are not decided
//! here: the caller passes the channels the searcher may read, and the
//! query never leaves them.

use std::ops::Bound;

use concord_model::Snowflake;
use tantivy::Term;
use tantivy::query::{
    BooleanQuery, FuzzyTermQuery, Occur, Query, RangeQuery, TermQuery, TermSetQuery,
};
use tantivy::schema::IndexRecordOption;

use crate::document::Has;
use crate::schema::Fields;
use crate::tokenize::query_terms;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    #[default]
    Timestamp,
    Relevance,
}

/// Filters are ANDed; the values of one repeatable filter are ORed (any of
/// these authors), except `has`, where each named kind is required.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    /// The channels searched: those the searcher may read, never empty.
    pub channel_ids: Vec<Snowflake>,
    pub content: Option<String>,
    pub author_ids: Vec<Snowflake>,
    pub mentions: Vec<Snowflake>,
    pub has: Vec<Has>,
    pub has_not: Vec<Has>,
    /// Only messages newer than this id.
    pub min_id: Option<Snowflake>,
    /// Only messages older than this id.
    pub max_id: Option<Snowflake>,
    pub pinned: Option<bool>,
    pub sort: Sort,
    pub ascending: bool,
    pub offset: usize,
    pub limit: usize,
}

/// One matching message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub id: Snowflake,
    pub channel_id: Snowflake,
}

/// A page of results and how many there are in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub total: usize,
    pub hits: Vec<Hit>,
}

fn any_of(field: tantivy::schema::Field, ids: &[Snowflake]) -> Box<dyn Query> {
    Box::new(TermSetQuery::new(
        ids.iter().map(|id| Term::from_field_u64(field, id.get())),
    ))
}

fn term(term: Term) -> Box<dyn Query> {
    Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs))
}

impl SearchQuery {
    /// Whether ranking by relevance means anything: only with words to rank by.
    pub(crate) fn by_relevance(&self) -> bool {
        self.sort == Sort::Relevance
            && self
                .content
                .as_deref()
                .is_some_and(|c| !c.trim().is_empty())
    }

    pub(crate) fn to_query(&self, f: &Fields) -> Box<dyn Query> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> =
            vec![(Occur::Must, any_of(f.channel_id, &self.channel_ids))];
        for word in query_terms(self.content.as_deref().unwrap_or("")) {
            let t = Term::from_field_text(f.content, &word.text);
            let q: Box<dyn Query> = if word.prefix {
                Box::new(FuzzyTermQuery::new_prefix(t, 0, false))
            } else {
                term(t)
            };
            let occur = if word.compound {
                Occur::Should
            } else {
                Occur::Must
            };
            clauses.push((occur, q));
        }
        if !self.author_ids.is_empty() {
            clauses.push((Occur::Must, any_of(f.author_id, &self.author_ids)));
        }
        if !self.mentions.is_empty() {
            clauses.push((Occur::Must, any_of(f.mentions, &self.mentions)));
        }
        for (kinds, occur) in [(&self.has, Occur::Must), (&self.has_not, Occur::MustNot)] {
            for kind in kinds {
                clauses.push((occur, term(Term::from_field_text(f.has, kind.as_str()))));
            }
        }
        if let Some(pinned) = self.pinned {
            clauses.push((Occur::Must, term(Term::from_field_bool(f.pinned, pinned))));
        }
        if self.min_id.is_some() || self.max_id.is_some() {
            let bound = |id: Option<Snowflake>| match id {
                Some(id) => Bound::Excluded(Term::from_field_u64(f.id, id.get())),
                None => Bound::Unbounded,
            };
            let range = RangeQuery::new(bound(self.min_id), bound(self.max_id));
            clauses.push((Occur::Must, Box::new(range)));
        }
        Box::new(BooleanQuery::new(clauses))
    }
}
