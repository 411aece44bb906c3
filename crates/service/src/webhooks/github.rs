//! `POST /webhooks/{id}/{token}/github`: GitHub's webhook deliveries
//! (push, issues and their comments, pull requests, their reviews and
//! review comments, releases, branches and tags made or deleted, forks,
//! stars, commit comments) turned into the embeds Discord posts for them,
//! each naming the repository (`[owner/repo] ...`). Events it does not show (a `ping`,
//! an action it does not announce) post nothing, as Discord's.

use serde_json::{Value, json};

use super::input::ExecuteWebhook;

/// Colors Discord uses.
const PUSH: u32 = 0x7289da;
const OPENED_ISSUE: u32 = 0xeb6420;
const OPENED_PULL: u32 = 0x009800;
const COMMENT: u32 = 0xe68d60;
const CLOSED: u32 = 0x000000;
const RELEASE: u32 = 0x7289da;

/// Commits listed in a push, at most.
const COMMITS_SHOWN: usize = 5;
/// Longest text of an issue, pull request or comment shown.
const BODY_MAX: usize = 500;

fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// `s` cut to `max` characters, with an ellipsis when cut.
fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}...", &s[..at]),
        None => s.to_owned(),
    }
}

/// Who acted, as the embed's author.
fn sender(payload: &Value) -> Value {
    json!({
        "name": text(payload, "/sender/login"),
        "url": text(payload, "/sender/html_url"),
        "icon_url": text(payload, "/sender/avatar_url"),
    })
}

fn embed(
    payload: &Value,
    title: String,
    url: &str,
    description: Option<String>,
    color: u32,
) -> Value {
    let mut embed = json!({
        "title": cut(&title, 256),
        "url": url,
        "color": color,
        "author": sender(payload),
    });
    if let Some(description) = description.filter(|d| !d.trim().is_empty()) {
        embed["description"] = json!(cut(&description, BODY_MAX));
    }
    embed
}

/// The message for a delivery of `event` (the `X-GitHub-Event` header),
/// or `None` when there is nothing to post.
pub fn github_message(event: &str, payload: &Value) -> Option<ExecuteWebhook> {
    let repo = text(payload, "/repository/full_name");
    let action = text(payload, "/action");
    let embed = match event {
        "push" => {
            let commits = payload.get("commits").and_then(Value::as_array)?;
            if commits.is_empty() {
                return None;
            }
            let branch = text(payload, "/ref").trim_start_matches("refs/heads/");
            let count = commits.len();
            let noun = if count == 1 { "commit" } else { "commits" };
            let lines: Vec<String> = commits
                .iter()
                .take(COMMITS_SHOWN)
                .map(|c| {
                    let id = text(c, "/id");
                    let short = id.get(..7).unwrap_or(id);
                    let title = text(c, "/message").lines().next().unwrap_or("");
                    let who = match text(c, "/author/username") {
                        "" => text(c, "/author/name"),
                        name => name,
                    };
                    format!(
                        "[`{short}`]({}) {} - {who}",
                        text(c, "/url"),
                        cut(title, 50)
                    )
                })
                .collect();
            let title = format!("[{repo}:{branch}] {count} new {noun}");
            embed(
                payload,
                title,
                text(payload, "/compare"),
                Some(lines.join("\n")),
                PUSH,
            )
        }
        "issues" => {
            let number = payload.pointer("/issue/number")?;
            let title = text(payload, "/issue/title");
            let url = text(payload, "/issue/html_url");
            match action {
                "opened" => {
                    let heading = format!("[{repo}] Issue opened: #{number} {title}");
                    let body = text(payload, "/issue/body").to_owned();
                    embed(payload, heading, url, Some(body), OPENED_ISSUE)
                }
                "closed" | "reopened" => {
                    let heading = format!("[{repo}] Issue {action}: #{number} {title}");
                    embed(payload, heading, url, None, CLOSED)
                }
                _ => return None,
            }
        }
        "issue_comment" if action == "created" => {
            let number = payload.pointer("/issue/number")?;
            let title = text(payload, "/issue/title");
            let on = match payload.pointer("/issue/pull_request") {
                Some(_) => "pull request",
                None => "issue",
            };
            let heading = format!("[{repo}] New comment on {on} #{number}: {title}");
            let body = text(payload, "/comment/body").to_owned();
            embed(
                payload,
                heading,
                text(payload, "/comment/html_url"),
                Some(body),
                COMMENT,
            )
        }
        "pull_request" => {
            let number = payload.pointer("/pull_request/number")?;
            let title = text(payload, "/pull_request/title");
            let url = text(payload, "/pull_request/html_url");
            match action {
                "opened" => {
                    let heading = format!("[{repo}] Pull request opened: #{number} {title}");
                    let body = text(payload, "/pull_request/body").to_owned();
                    embed(payload, heading, url, Some(body), OPENED_PULL)
                }
                "closed" | "reopened" => {
                    let merged = payload.pointer("/pull_request/merged") == Some(&json!(true));
                    let what = if merged { "merged" } else { action };
                    let heading = format!("[{repo}] Pull request {what}: #{number} {title}");
                    embed(payload, heading, url, None, CLOSED)
                }
                _ => return None,
            }
        }
        "release" if action == "published" => {
            let tag = match text(payload, "/release/name") {
                "" => text(payload, "/release/tag_name"),
                name => name,
            };
            let heading = format!("[{repo}] New release published: {tag}");
            let body = text(payload, "/release/body").to_owned();
            embed(
                payload,
                heading,
                text(payload, "/release/html_url"),
                Some(body),
                RELEASE,
            )
        }
        _ => repository_event(event, action, repo, payload)?,
    };
    Some(ExecuteWebhook {
        embeds: Some(vec![embed]),
        ..ExecuteWebhook::default()
    })
}

/// The events about the repository itself and reviews: branches and tags
/// made and deleted, forks, stars, commit comments and pull request
/// reviews. `None` for `ping` (sent when the hook is set up) and every
/// other event or action.
fn repository_event(event: &str, action: &str, repo: &str, payload: &Value) -> Option<Value> {
    let url = text(payload, "/repository/html_url");
    let (heading, url, body, color) = match event {
        "create" | "delete" => {
            let kind = match text(payload, "/ref_type") {
                "branch" => "branch",
                "tag" => "tag",
                _ => return None,
            };
            let name = text(payload, "/ref");
            let heading = match event {
                "create" => format!("[{repo}] New {kind} created: {name}"),
                _ => format!("[{repo}] {} deleted: {name}", capitalized(kind)),
            };
            (
                heading,
                url,
                None,
                if event == "create" { PUSH } else { CLOSED },
            )
        }
        "fork" => {
            let fork = text(payload, "/forkee/full_name");
            let heading = format!("[{repo}] Fork created: {fork}");
            (heading, text(payload, "/forkee/html_url"), None, PUSH)
        }
        "watch" if action == "started" => (format!("[{repo}] New star added"), url, None, PUSH),
        "commit_comment" if action == "created" => {
            let id = text(payload, "/comment/commit_id");
            let short = id.get(..7).unwrap_or(id);
            let heading = format!("[{repo}] New comment on commit `{short}`");
            let body = text(payload, "/comment/body").to_owned();
            (
                heading,
                text(payload, "/comment/html_url"),
                Some(body),
                COMMENT,
            )
        }
        "pull_request_review" if action == "submitted" => {
            let number = payload.pointer("/pull_request/number")?;
            let title = text(payload, "/pull_request/title");
            let heading = format!("[{repo}] Pull request review submitted: #{number} {title}");
            let body = text(payload, "/review/body").to_owned();
            (
                heading,
                text(payload, "/review/html_url"),
                Some(body),
                COMMENT,
            )
        }
        "pull_request_review_comment" if action == "created" => {
            let number = payload.pointer("/pull_request/number")?;
            let title = text(payload, "/pull_request/title");
            let heading = format!("[{repo}] New review comment on pull request #{number}: {title}");
            let body = text(payload, "/comment/body").to_owned();
            (
                heading,
                text(payload, "/comment/html_url"),
                Some(body),
                COMMENT,
            )
        }
        _ => return None,
    };
    Some(embed(payload, heading, url, body, color))
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn title(message: &ExecuteWebhook) -> &str {
        message.embeds.as_ref().unwrap()[0]["title"]
            .as_str()
            .unwrap()
    }

    #[test]
    fn a_push_lists_its_commits() {
        let payload = json!({
            "ref": "refs/heads/main",
            "compare": "https://github.com/o/r/compare/a...b",
            "repository": {"full_name": "o/r"},
            "sender": {"login": "ada", "html_url": "https://github.com/ada", "avatar_url": "a.png"},
            "commits": [
                {"id": "0123456789", "message": "Fix it\n\nlong", "url": "u1", "author": {"username": "ada"}},
                {"id": "abcdef0123", "message": "Test it", "url": "u2", "author": {"name": "Bob"}},
            ],
        });
        let message = github_message("push", &payload).unwrap();
        assert_eq!(title(&message), "[o/r:main] 2 new commits");
        let embed = &message.embeds.as_ref().unwrap()[0];
        assert_eq!(
            embed["description"],
            "[`0123456`](u1) Fix it - ada\n[`abcdef0`](u2) Test it - Bob"
        );
        assert_eq!(embed["author"]["name"], "ada");
        assert_eq!(embed["url"], "https://github.com/o/r/compare/a...b");
    }

    #[test]
    fn each_event_names_its_repository() {
        let base = |extra: Value| {
            let mut payload =
                json!({"repository": {"full_name": "o/r"}, "sender": {"login": "ada"}});
            payload
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            payload
        };
        let issue = json!({"number": 7, "title": "Bug", "html_url": "i", "body": "broken"});
        let cases = [
            (
                "issues",
                base(json!({"action": "opened", "issue": issue})),
                "[o/r] Issue opened: #7 Bug",
            ),
            (
                "issue_comment",
                base(json!({"action": "created", "issue": issue, "comment": {"body": "+1"}})),
                "[o/r] New comment on issue #7: Bug",
            ),
            (
                "pull_request",
                base(json!({"action": "opened", "pull_request": {"number": 8, "title": "Fix"}})),
                "[o/r] Pull request opened: #8 Fix",
            ),
            (
                "pull_request",
                base(
                    json!({"action": "closed", "pull_request": {"number": 8, "title": "Fix", "merged": true}}),
                ),
                "[o/r] Pull request merged: #8 Fix",
            ),
            (
                "release",
                base(json!({"action": "published", "release": {"tag_name": "v1.0"}})),
                "[o/r] New release published: v1.0",
            ),
            (
                "create",
                base(json!({"ref": "topic", "ref_type": "branch"})),
                "[o/r] New branch created: topic",
            ),
            (
                "delete",
                base(json!({"ref": "v0.9", "ref_type": "tag"})),
                "[o/r] Tag deleted: v0.9",
            ),
            (
                "fork",
                base(json!({"forkee": {"full_name": "bob/r"}})),
                "[o/r] Fork created: bob/r",
            ),
            (
                "watch",
                base(json!({"action": "started"})),
                "[o/r] New star added",
            ),
            (
                "commit_comment",
                base(
                    json!({"action": "created", "comment": {"commit_id": "0123456789", "body": "nice"}}),
                ),
                "[o/r] New comment on commit `0123456`",
            ),
            (
                "pull_request_review",
                base(
                    json!({"action": "submitted", "pull_request": {"number": 8, "title": "Fix"}, "review": {"body": "ok"}}),
                ),
                "[o/r] Pull request review submitted: #8 Fix",
            ),
            (
                "pull_request_review_comment",
                base(
                    json!({"action": "created", "pull_request": {"number": 8, "title": "Fix"}, "comment": {"body": "nit"}}),
                ),
                "[o/r] New review comment on pull request #8: Fix",
            ),
        ];
        for (event, payload, expected) in cases {
            let message = github_message(event, &payload).unwrap();
            assert_eq!(title(&message), expected);
        }
        assert!(github_message("ping", &base(json!({"zen": "Keep it simple."}))).is_none());
        assert!(github_message("watch", &base(json!({"action": "deleted"}))).is_none());
        assert!(
            github_message(
                "issues",
                &base(json!({"action": "labeled", "issue": issue}))
            )
            .is_none()
        );
    }
}
