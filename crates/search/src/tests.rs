use super::*;

fn doc(id: u64, channel: u64, author: u64, content: &str) -> MessageDoc {
    MessageDoc {
        id: Snowflake(id),
        channel_id: Snowflake(channel),
        guild_id: Some(Snowflake(1)),
        author_id: Snowflake(author),
        content: content.into(),
        mentions: Vec::new(),
        has: Vec::new(),
        pinned: false,
    }
}

fn query(channels: &[u64]) -> SearchQuery {
    SearchQuery {
        channel_ids: channels.iter().copied().map(Snowflake).collect(),
        limit: 25,
        ..SearchQuery::default()
    }
}

fn ids(index: &SearchIndex, q: &SearchQuery) -> Vec<u64> {
    index
        .search(q)
        .unwrap()
        .hits
        .iter()
        .map(|h| h.id.get())
        .collect()
}

fn filled() -> (tempfile::TempDir, SearchIndex) {
    let dir = tempfile::tempdir().unwrap();
    let index = SearchIndex::open(dir.path()).unwrap();
    let mut pinned = doc(13, 10, 100, "pinned release notes");
    pinned.pinned = true;
    pinned.mentions = vec![Snowflake(101)];
    pinned.has = vec![Has::Link];
    index
        .apply(&[
            Change::Upsert(doc(11, 10, 100, "Deploy on Friday")),
            Change::Upsert(doc(12, 10, 101, "deployment failed again")),
            Change::Upsert(pinned),
            Change::Add(doc(21, 20, 100, "deploy the other channel")),
        ])
        .unwrap();
    index.commit(Snowflake(21)).unwrap();
    (dir, index)
}

#[test]
fn filters_combine_within_the_given_channels() {
    let (_dir, index) = filled();
    let mut q = query(&[10]);
    assert_eq!(ids(&index, &q), [13, 12, 11]);
    q.content = Some("deploy".into());
    assert_eq!(ids(&index, &q), [12, 11], "the last word is a prefix");
    q.content = Some("deploy friday".into());
    assert_eq!(ids(&index, &q), [11]);
    q.content = None;
    q.author_ids = vec![Snowflake(101)];
    assert_eq!(ids(&index, &q), [12]);
    q.author_ids.clear();
    q.mentions = vec![Snowflake(101)];
    assert_eq!(ids(&index, &q), [13]);
    q.mentions.clear();
    q.has = vec![Has::Link];
    assert_eq!(ids(&index, &q), [13]);
    q.has.clear();
    q.has_not = vec![Has::Link];
    assert_eq!(ids(&index, &q), [12, 11]);
    q.has_not.clear();
    q.pinned = Some(false);
    assert_eq!(ids(&index, &q), [12, 11]);
    q.pinned = None;
    q.min_id = Some(Snowflake(11));
    q.max_id = Some(Snowflake(13));
    assert_eq!(ids(&index, &q), [12], "bounds are exclusive");
    let both = query(&[10, 20]);
    assert_eq!(index.search(&both).unwrap().total, 4);
}

#[test]
fn sorting_and_paging() {
    let (_dir, index) = filled();
    let mut q = query(&[10, 20]);
    q.ascending = true;
    assert_eq!(ids(&index, &q), [11, 12, 13, 21]);
    q.offset = 1;
    q.limit = 2;
    let page = index.search(&q).unwrap();
    assert_eq!(page.total, 4, "the total ignores paging");
    assert_eq!(page.hits.len(), 2);
    assert_eq!(page.hits[0].id, Snowflake(12));
    let mut relevant = query(&[10, 20]);
    relevant.sort = Sort::Relevance;
    relevant.content = Some("deploy".into());
    assert_eq!(index.search(&relevant).unwrap().total, 3);
}

#[test]
fn upserts_replace_and_deletes_remove() {
    let (_dir, index) = filled();
    index
        .apply(&[Change::Upsert(doc(11, 10, 100, "rewritten entirely"))])
        .unwrap();
    index.apply(&[Change::Delete(Snowflake(12))]).unwrap();
    index.commit(Snowflake(21)).unwrap();
    let mut q = query(&[10]);
    q.content = Some("deploy".into());
    assert!(ids(&index, &q).is_empty());
    q.content = Some("rewritten".into());
    assert_eq!(ids(&index, &q), [11]);
    index
        .apply(&[Change::DeleteChannel(Snowflake(10))])
        .unwrap();
    index.commit(Snowflake(21)).unwrap();
    assert_eq!(index.documents(), 1);
    index.apply(&[Change::DeleteGuild(Snowflake(1))]).unwrap();
    index.commit(Snowflake(21)).unwrap();
    assert_eq!(index.documents(), 0);
}

#[test]
fn the_watermark_survives_a_reopen_and_a_new_schema_starts_over() {
    let (dir, index) = filled();
    drop(index);
    let reopened = SearchIndex::open(dir.path()).unwrap();
    assert_eq!(reopened.watermark().unwrap(), Some(Snowflake(21)));
    assert_eq!(reopened.documents(), 4);
    assert!(!reopened.is_ready(), "readiness is the feeder's to declare");
    drop(reopened);
    std::fs::write(dir.path().join(VERSION_FILE), "0").unwrap();
    let rebuilt = SearchIndex::open(dir.path()).unwrap();
    assert_eq!(rebuilt.watermark().unwrap(), None);
    assert_eq!(rebuilt.documents(), 0);
}

#[test]
fn cjk_and_code_are_searchable() {
    let dir = tempfile::tempdir().unwrap();
    let index = SearchIndex::open(dir.path()).unwrap();
    index
        .apply(&[
            Change::Upsert(doc(1, 10, 100, "明日は東京都に行きます")),
            Change::Upsert(doc(2, 10, 100, "call std::mem::take here")),
            Change::Upsert(doc(3, 10, 100, "docs at https://example.com/start")),
        ])
        .unwrap();
    index.commit(Snowflake(3)).unwrap();
    let mut q = query(&[10]);
    for (text, expected) in [
        ("東京", &[1][..]),
        ("京都", &[1]),
        ("都", &[1]),
        ("大阪", &[]),
        ("std::mem::take", &[2]),
        ("mem", &[2]),
        ("example.com", &[3]),
        ("https://example.com/start", &[3]),
        ("EXAMPLE", &[3]),
    ] {
        q.content = Some(text.into());
        assert_eq!(ids(&index, &q), expected, "{text}");
    }
}

#[test]
fn a_copy_opens_with_the_committed_documents_and_watermark() {
    let (_dir, index) = filled();
    let copy_dir = tempfile::tempdir().unwrap();
    let dest = copy_dir.path().join("search");
    let bytes = index.copy_to(&dest).unwrap();
    assert!(bytes > 0);

    let copy = SearchIndex::open(&dest).unwrap();
    assert_eq!(copy.watermark().unwrap(), index.watermark().unwrap());
    assert!(copy.watermark().unwrap().is_some());
    assert_eq!(copy.documents(), index.documents());
    let everything = query(&[10, 11, 12]);
    assert_eq!(ids(&copy, &everything), ids(&index, &everything));
}

#[test]
fn a_follower_sees_the_writers_commits_and_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        SearchIndex::follow(dir.path()),
        Err(SearchError::NotWritten(_))
    ));
    let writer = SearchIndex::open(dir.path()).unwrap();
    let follower = SearchIndex::follow(dir.path()).unwrap();
    assert!(!follower.writes() && writer.writes());
    assert!(!follower.is_ready(), "nothing committed yet");
    writer
        .apply(&[Change::Add(doc(11, 10, 100, "shared index"))])
        .unwrap();
    writer.commit(Snowflake(11)).unwrap();
    assert!(
        follower.is_ready(),
        "the writer's commit carries a watermark"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while follower.documents() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the commit never reached the follower"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(ids(&follower, &query(&[10])), [11]);
    assert!(matches!(follower.apply(&[]), Err(SearchError::ReadOnly)));
    assert!(matches!(
        follower.commit(Snowflake(12)),
        Err(SearchError::ReadOnly)
    ));
}
