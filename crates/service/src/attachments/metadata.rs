//! A request's `attachments`: for the files it uploads, each named by the
//! `n` of its `files[n]` field (`id`), a `filename` to use instead of the
//! part's and a `description` (alt text). Message create, webhook execute,
//! interaction answers and message edits all read their files' metadata
//! through [`describe_uploads`]. On an edit, the list also names the files
//! the message keeps: those it leaves out are taken off, as on Discord.

use concord_model::Snowflake;
use serde::Deserialize;
use serde_json::Value;

use super::Upload;
use crate::FormErrors;

/// Longest `description` kept.
pub const DESCRIPTION_MAX: usize = 1024;
/// Longest `filename` kept.
const FILENAME_MAX: usize = 1024;

/// One entry of a request's `attachments`.
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
pub struct AttachmentRequest {
    /// The upload's number (`n` of `files[n]`), a string or an integer;
    /// on an edit, an attachment the message already has.
    pub id: Option<Value>,
    pub filename: Option<String>,
    pub description: Option<String>,
}

impl AttachmentRequest {
    /// Whether it names `attachment`, one the edited message has.
    pub(crate) fn names(&self, attachment: Snowflake) -> bool {
        self.number() == Some(attachment.0)
    }

    /// The number `id` gives, whichever way it is written.
    fn number(&self) -> Option<u64> {
        match self.id.as_ref()? {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
    }
}

/// Gives each upload the `filename` and `description` its entry of
/// `requests` names; entries naming no upload (an edit's kept files) are
/// left for the caller. Bad values are refused at their path.
pub(crate) fn describe_uploads(
    errors: &mut FormErrors,
    uploads: &mut [Upload],
    requests: &[AttachmentRequest],
) {
    for (i, request) in requests.iter().enumerate() {
        let path = format!("attachments.{i}");
        let Some(upload) = request
            .number()
            .and_then(|n| uploads.iter_mut().find(|u| u.index == n))
        else {
            continue;
        };
        if let Some(description) = &request.description {
            if description.chars().count() > DESCRIPTION_MAX {
                let message = format!("Must be {DESCRIPTION_MAX} or fewer in length.");
                errors.add(
                    &format!("{path}.description"),
                    "BASE_TYPE_MAX_LENGTH",
                    message,
                );
            }
            upload.description = Some(description.clone()).filter(|d| !d.is_empty());
        }
        if let Some(filename) = &request.filename {
            if filename.trim().is_empty() || filename.chars().count() > FILENAME_MAX {
                let message = format!("Must be between 1 and {FILENAME_MAX} in length.");
                errors.add(&format!("{path}.filename"), "BASE_TYPE_BAD_LENGTH", message);
            }
            upload.filename = filename.clone();
        }
    }
}
