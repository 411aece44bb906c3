//! Message search, per guild and per channel, with Discord's parameters.

use axum::extract::Path;
use axum::response::Response;
use concord_service::FormErrors;
use concord_service::search::{Has, MAX_LIMIT, MAX_OFFSET, SearchRequest, Sort};

use super::channels::channel_id;
use super::guilds::guild_id;
use super::ok;
use crate::State;
use crate::error::ApiResult;
use crate::extract::{Auth, QueryMap};

/// Longest `content` Discord accepts in a search.
const MAX_CONTENT: usize = 1024;

pub(super) fn routes() -> super::Routes {
    routes!("Search" {
        get "/guilds/{guild_id}/messages/search" => in_guild, 200 SearchResults | 202 IndexNotReady;
        get "/channels/{channel_id}/messages/search" => in_channel, 200 SearchResults | 202 IndexNotReady;
    })
}

async fn in_guild(
    state: State,
    Auth(caller): Auth,
    Path(g): Path<String>,
    query: QueryMap,
) -> ApiResult<Response> {
    let request = request(&query)?;
    Ok(ok(state
        .service
        .search_guild(caller, guild_id(&g)?, request)
        .await?))
}

async fn in_channel(
    state: State,
    Auth(caller): Auth,
    Path(c): Path<String>,
    query: QueryMap,
) -> ApiResult<Response> {
    let request = request(&query)?;
    Ok(ok(state
        .service
        .search_channel(caller, channel_id(&c)?, request)
        .await?))
}

fn choice_error(errors: &mut FormErrors, name: &str, choices: &str) {
    let message = format!("Value must be one of {choices}.");
    errors.add(name, "BASE_TYPE_CHOICES", message);
}

/// One of `choices` by name, `default` when absent.
fn choice<T: Copy>(
    query: &QueryMap,
    errors: &mut FormErrors,
    name: &str,
    choices: &[(&str, T)],
    default: T,
) -> T {
    let Some(raw) = query.get(name) else {
        return default;
    };
    match choices.iter().find(|(n, _)| *n == raw) {
        Some((_, value)) => *value,
        None => {
            let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
            choice_error(errors, name, &format!("{{{}}}", names.join(", ")));
            default
        }
    }
}

/// The query string as a search request, or every problem with it at once.
fn request(query: &QueryMap) -> ApiResult<SearchRequest> {
    let mut errors = FormErrors::new();
    let content = query.get("content").map(str::to_owned);
    if content
        .as_ref()
        .is_some_and(|c| c.chars().count() > MAX_CONTENT)
    {
        let message = format!("Must be {MAX_CONTENT} or fewer in length.");
        errors.add("content", "BASE_TYPE_MAX_LENGTH", message);
    }
    let mut has = Vec::new();
    let mut has_not = Vec::new();
    for raw in query.all("has") {
        let (negated, name) = match raw.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, raw.as_str()),
        };
        match (Has::parse(name), negated) {
            (Some(kind), false) => has.push(kind),
            (Some(kind), true) => has_not.push(kind),
            (None, _) => {
                let names: Vec<&str> = Has::ALL.iter().map(|h| h.as_str()).collect();
                choice_error(&mut errors, "has", &format!("{{{}}}", names.join(", ")));
            }
        }
    }
    let sort = choice(
        query,
        &mut errors,
        "sort_by",
        &[
            ("timestamp", Sort::Timestamp),
            ("relevance", Sort::Relevance),
        ],
        Sort::Timestamp,
    );
    let ascending = choice(
        query,
        &mut errors,
        "sort_order",
        &[("desc", false), ("asc", true)],
        false,
    );
    let pinned = choice(
        query,
        &mut errors,
        "pinned",
        &[("true", Some(true)), ("false", Some(false))],
        None,
    );
    errors.into_result()?;
    Ok(SearchRequest {
        channel_ids: query.ids("channel_id")?,
        content,
        author_ids: query.ids("author_id")?,
        mentions: query.ids("mentions")?,
        has,
        has_not,
        min_id: query.id("min_id")?,
        max_id: query.id("max_id")?,
        pinned,
        sort,
        ascending,
        offset: query.int("offset", 0, MAX_OFFSET as u64, 0)? as usize,
        limit: query.int("limit", 1, MAX_LIMIT as u64, MAX_LIMIT as u64)? as usize,
    })
}
