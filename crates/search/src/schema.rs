//! The index's fields. Changing them means bumping [`SCHEMA_VERSION`]: an
//! index written with another version is rebuilt from the store on start.

use tantivy::TantivyDocument;
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};

use crate::document::MessageDoc;
use crate::tokenize::CHAT_TOKENIZER;

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Clone, Copy)]
pub(crate) struct Fields {
    pub(crate) id: Field,
    pub(crate) channel_id: Field,
    pub(crate) guild_id: Field,
    pub(crate) author_id: Field,
    pub(crate) mentions: Field,
    pub(crate) has: Field,
    pub(crate) pinned: Field,
    pub(crate) content: Field,
}

pub(crate) fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let content = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(CHAT_TOKENIZER)
            .set_index_option(IndexRecordOption::WithFreqs),
    );
    let fields = Fields {
        id: b.add_u64_field("id", INDEXED | FAST | STORED),
        channel_id: b.add_u64_field("channel_id", INDEXED | STORED),
        guild_id: b.add_u64_field("guild_id", INDEXED),
        author_id: b.add_u64_field("author_id", INDEXED),
        mentions: b.add_u64_field("mentions", INDEXED),
        has: b.add_text_field("has", STRING),
        pinned: b.add_bool_field("pinned", INDEXED),
        content: b.add_text_field("content", content),
    };
    (b.build(), fields)
}

impl Fields {
    pub(crate) fn document(&self, m: &MessageDoc) -> TantivyDocument {
        let mut doc = TantivyDocument::new();
        doc.add_u64(self.id, m.id.get());
        doc.add_u64(self.channel_id, m.channel_id.get());
        // Private channels have no guild: 0 never matches a guild search.
        doc.add_u64(self.guild_id, m.guild_id.map_or(0, |g| g.get()));
        doc.add_u64(self.author_id, m.author_id.get());
        for user in &m.mentions {
            doc.add_u64(self.mentions, user.get());
        }
        for kind in &m.has {
            doc.add_text(self.has, kind.as_str());
        }
        doc.add_bool(self.pinned, m.pinned);
        doc.add_text(self.content, &m.content);
        doc
    }
}
