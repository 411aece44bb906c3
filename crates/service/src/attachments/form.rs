//! A message's body as `multipart/form-data`, as Discord takes it: its
//! JSON in `payload_json` (or, as `curl -F content=...` sends, one text
//! field per JSON key) and its files in `files[n]`, each received to disk
//! as it arrives, within the configured size and at most ten. The routes
//! read requests through it, and interactions the answers of an
//! application's endpoint.

use concord_model::limits;
use serde_json::Value;

use super::{Upload, UploadTurn};
use crate::{Service, ServiceError};

/// What a multipart body carried.
#[derive(Debug, Default)]
pub struct Form {
    /// `payload_json`, as sent.
    pub payload_json: Option<Vec<u8>>,
    /// Text fields, each standing for its JSON key.
    pub text_fields: serde_json::Map<String, Value>,
    pub uploads: Vec<Upload>,
}

impl Form {
    /// The body's JSON: `payload_json`, else the text fields as an object;
    /// `None` when it has neither.
    pub fn json(&self) -> Option<Vec<u8>> {
        match &self.payload_json {
            Some(json) => Some(json.clone()),
            None if self.text_fields.is_empty() => None,
            None => serde_json::to_vec(&self.text_fields).ok(),
        }
    }
}

/// Why a multipart body was not taken.
#[derive(Debug)]
pub enum FormRefusal {
    /// Not a form as Discord takes one (50035), and why.
    Invalid(String),
    /// A file, or the whole body, larger than allowed (413).
    TooLarge,
    Service(ServiceError),
}

impl From<ServiceError> for FormRefusal {
    fn from(e: ServiceError) -> FormRefusal {
        FormRefusal::Service(e)
    }
}

impl From<multer::Error> for FormRefusal {
    fn from(e: multer::Error) -> FormRefusal {
        match e {
            // A body cut short by a limit of the reader, or by the peer.
            multer::Error::FieldSizeExceeded { .. }
            | multer::Error::StreamSizeExceeded { .. }
            | multer::Error::StreamReadFailed(_) => FormRefusal::TooLarge,
            e => FormRefusal::Invalid(e.to_string()),
        }
    }
}

impl Service {
    /// Reads a multipart body, its files into uploads.
    pub async fn receive_form(&self, mut form: multer::Multipart<'_>) -> Result<Form, FormRefusal> {
        let max = self.config.attachment_max_bytes;
        let mut out = Form::default();
        // Taken at the first file: a request carrying files waits while
        // `upload_concurrency` others receive theirs.
        let mut turn: Option<UploadTurn> = None;
        while let Some(mut field) = form.next_field().await? {
            let name = field.name().unwrap_or_default().to_owned();
            if name == "payload_json" {
                out.payload_json = Some(field.bytes().await?.to_vec());
                continue;
            }
            let Some(filename) = field.file_name().map(str::to_owned) else {
                let text = field.text().await?;
                let value = match (name.as_str(), text.as_str()) {
                    ("tts", "true" | "false") => Value::Bool(text == "true"),
                    _ => Value::String(text),
                };
                out.text_fields.insert(name, value);
                continue;
            };
            if out.uploads.len() == limits::ATTACHMENTS_MAX {
                let most = limits::ATTACHMENTS_MAX;
                return Err(FormRefusal::Invalid(format!(
                    "Too many files: at most {most} per message."
                )));
            }
            let turn = match &turn {
                Some(turn) => turn,
                None => turn.insert(self.upload_turn().await?),
            };
            let content_type = field.content_type().map(ToString::to_string);
            // Straight to disk; on any error below the writer is dropped
            // and its file with it.
            let mut file = self.receive_upload(turn, filename, content_type).await?;
            while let Some(chunk) = field.chunk().await? {
                if file.size() + chunk.len() as u64 > max {
                    return Err(FormRefusal::TooLarge);
                }
                file.write(&chunk).await?;
            }
            let mut upload = file.finish().await?;
            upload.index = file_number(&name).unwrap_or(out.uploads.len() as u64);
            out.uploads.push(upload);
        }
        Ok(out)
    }
}

/// `n` of a `files[n]` field's name.
fn file_number(name: &str) -> Option<u64> {
    name.strip_prefix("files[")?.strip_suffix(']')?.parse().ok()
}
