//! A poll request checked as Discord checks it, into the poll its message
//! carries.

use concord_model::records::{Poll, PollAnswer, PollEmoji};
use concord_model::{Permissions, codes, limits};

use super::super::input::{PollEmojiInput, PollInput, PollMediaInput};
use crate::{ChannelView, FormErrors, Service, ServiceError, ServiceResult};

/// The only layout Discord has.
const LAYOUT_DEFAULT: i64 = 1;

const HOUR_MS: u64 = 3_600_000;

/// A poll media's text: required, within `1..=max` characters.
fn check_text(errors: &mut FormErrors, path: &str, media: Option<&PollMediaInput>, max: usize) {
    let path = format!("{path}.text");
    match media.and_then(|m| m.text.as_deref()) {
        None => errors.add(&path, "BASE_TYPE_REQUIRED", "This field is required"),
        Some(text) if !(1..=max).contains(&text.chars().count()) => errors.add(
            &path,
            "BASE_TYPE_BAD_LENGTH",
            format!("Must be between 1 and {max} in length."),
        ),
        Some(_) => {}
    }
}

/// The answers' emoji: a custom one by id, or unicode (no ASCII) by name.
fn emoji(input: &PollEmojiInput) -> Option<PollEmoji> {
    match (input.id, input.name.as_deref()) {
        (Some(id), name) => Some(PollEmoji {
            id: Some(id),
            name: name.map(str::to_owned),
            animated: false,
        }),
        (None, Some(name))
            if !name.is_empty()
                && name.len() <= limits::REACTION_EMOJI_MAX_BYTES
                && !name.chars().any(|c| c.is_ascii()) =>
        {
            Some(PollEmoji {
                id: None,
                name: Some(name.to_owned()),
                animated: false,
            })
        }
        _ => None,
    }
}

/// The poll a request describes, sent at `now_ms`; each field that is
/// wrong is added to `errors` under `poll.…`, and `None` returned.
/// An emoji that is neither a custom one's id nor a unicode name is 520004.
pub(crate) fn poll_from(
    input: PollInput,
    now_ms: u64,
    errors: &mut FormErrors,
) -> ServiceResult<Option<Poll>> {
    let before = errors.clone();
    if let Some(media) = &input.question
        && media.emoji.is_some()
    {
        errors.add(
            "poll.question.emoji",
            "POLL_QUESTION_EMOJI_NOT_SUPPORTED",
            "Only text is supported for a poll's question.",
        );
    }
    check_text(
        errors,
        "poll.question",
        input.question.as_ref(),
        limits::POLL_QUESTION_MAX,
    );
    let answers = input.answers.unwrap_or_default();
    let most = usize::from(limits::POLL_ANSWERS_MAX);
    if !(1..=most).contains(&answers.len()) {
        errors.add(
            "poll.answers",
            "BASE_TYPE_BAD_LENGTH",
            format!("Must be between 1 and {most} in length."),
        );
    }
    for (i, answer) in answers.iter().enumerate() {
        let path = format!("poll.answers.{i}.poll_media");
        if answer.poll_media.is_none() {
            errors.add(&path, "BASE_TYPE_REQUIRED", "This field is required");
            continue;
        }
        check_text(
            errors,
            &path,
            answer.poll_media.as_ref(),
            limits::POLL_ANSWER_TEXT_MAX,
        );
    }
    let (shortest, longest) = limits::POLL_DURATION_HOURS;
    let hours = input
        .duration
        .unwrap_or(f64::from(limits::POLL_DURATION_DEFAULT_HOURS));
    if hours.is_nan() || hours < f64::from(shortest) {
        errors.add(
            "poll.duration",
            "NUMBER_TYPE_MIN",
            format!("int value should be greater than or equal to {shortest}."),
        );
    } else if hours > f64::from(longest) {
        errors.add(
            "poll.duration",
            "NUMBER_TYPE_MAX",
            format!("int value should be less than or equal to {longest}."),
        );
    }
    let layout = input.layout_type.unwrap_or(LAYOUT_DEFAULT);
    if layout != LAYOUT_DEFAULT {
        errors.add(
            "poll.layout_type",
            "ENUM_TYPE_COERCE",
            format!("Value \"{layout}\" is not a valid enum value."),
        );
    }
    if *errors != before {
        return Ok(None);
    }
    let mut checked = Vec::with_capacity(answers.len());
    for (answer_id, answer) in (1..).zip(answers) {
        let media = answer.poll_media.unwrap_or_default();
        let emoji = match &media.emoji {
            Some(input) => {
                Some(emoji(input).ok_or(ServiceError::BadRequest(codes::POLL_EMOJI_INVALID))?)
            }
            None => None,
        };
        checked.push(PollAnswer {
            answer_id,
            text: media.text.unwrap_or_default(),
            emoji,
        });
    }
    let question = input.question.and_then(|q| q.text).unwrap_or_default();
    // Within 1 to 768 hours: the product fits a u64 many times over.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let duration_ms = (hours * HOUR_MS as f64) as u64;
    Ok(Some(Poll {
        question,
        answers: checked,
        expiry_ms: now_ms.saturating_add(duration_ms),
        allow_multiselect: input.allow_multiselect.unwrap_or(false),
        layout_type: 1,
        finalized: false,
    }))
}

impl Service {
    /// The poll a new message in the viewed channel carries, if its request
    /// has one: SEND_POLLS is needed, and a custom emoji must be one of the
    /// channel's guild (520004 otherwise).
    pub(crate) async fn compose_poll(
        &self,
        view: &ChannelView,
        input: Option<PollInput>,
        now_ms: u64,
        errors: &mut FormErrors,
    ) -> ServiceResult<Option<Poll>> {
        let Some(input) = input else {
            return Ok(None);
        };
        view.require(Permissions::SEND_POLLS)?;
        let Some(poll) = poll_from(input, now_ms, errors)? else {
            return Ok(None);
        };
        let custom: Vec<_> = poll
            .answers
            .iter()
            .filter_map(|a| a.emoji.as_ref()?.id)
            .collect();
        if !custom.is_empty() {
            let guild_id = view
                .guild_id()
                .ok_or(ServiceError::BadRequest(codes::POLL_EMOJI_INVALID))?;
            let emojis = self.store.emojis(guild_id).await?;
            if custom.iter().any(|id| !emojis.iter().any(|e| e.id == *id)) {
                return Err(ServiceError::BadRequest(codes::POLL_EMOJI_INVALID));
            }
        }
        Ok(Some(poll))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::input::PollAnswerInput;

    fn media(text: &str) -> Option<PollMediaInput> {
        Some(PollMediaInput {
            text: Some(text.into()),
            emoji: None,
        })
    }

    fn request(answers: usize) -> PollInput {
        PollInput {
            question: media("which?"),
            answers: Some(
                (0..answers)
                    .map(|i| PollAnswerInput {
                        poll_media: media(&format!("answer {i}")),
                    })
                    .collect(),
            ),
            ..PollInput::default()
        }
    }

    fn errors_of(input: PollInput) -> serde_json::Value {
        let mut errors = FormErrors::new();
        let poll = poll_from(input, 0, &mut errors).unwrap();
        assert_eq!(poll.is_none(), !errors.is_empty());
        errors.to_json()
    }

    #[test]
    fn a_poll_runs_a_day_unless_told_and_numbers_its_answers_from_one() {
        let mut errors = FormErrors::new();
        let poll = poll_from(request(3), 1_000, &mut errors).unwrap().unwrap();
        assert!(errors.is_empty());
        assert_eq!(poll.expiry_ms, 1_000 + 24 * HOUR_MS);
        let ids: Vec<u8> = poll.answers.iter().map(|a| a.answer_id).collect();
        assert_eq!(ids, [1, 2, 3]);
        assert_eq!(poll.answers[2].text, "answer 2");
        assert_eq!((poll.layout_type, poll.allow_multiselect), (1, false));
    }

    #[test]
    fn each_wrong_field_is_named() {
        let long = |n: usize| "x".repeat(n);
        let cases: Vec<(PollInput, &str)> = vec![
            (request(0), "answers"),
            (request(11), "answers"),
            (
                PollInput {
                    question: media(&long(301)),
                    ..request(2)
                },
                "question",
            ),
            (
                PollInput {
                    question: None,
                    ..request(2)
                },
                "question",
            ),
            (
                PollInput {
                    duration: Some(0.5),
                    ..request(2)
                },
                "duration",
            ),
            (
                PollInput {
                    duration: Some(769.0),
                    ..request(2)
                },
                "duration",
            ),
            (
                PollInput {
                    layout_type: Some(2),
                    ..request(2)
                },
                "layout_type",
            ),
        ];
        for (input, field) in cases {
            let errors = errors_of(input);
            assert!(errors["poll"][field].is_object(), "{field}: {errors}");
        }
        let mut answer_too_long = request(2);
        answer_too_long.answers.as_mut().unwrap()[1].poll_media = media(&long(56));
        let errors = errors_of(answer_too_long);
        assert!(errors["poll"]["answers"]["1"]["poll_media"]["text"].is_object());
        // At the limits, all is well.
        let mut fits = PollInput {
            question: media(&long(300)),
            duration: Some(768.0),
            ..request(10)
        };
        fits.answers.as_mut().unwrap()[9].poll_media = media(&long(55));
        assert_eq!(errors_of(fits), serde_json::json!({}));
    }

    #[test]
    fn emoji_are_custom_by_id_or_unicode_by_name() {
        let with_emoji = |id: Option<u64>, name: Option<&str>| {
            let mut input = request(1);
            input.answers.as_mut().unwrap()[0]
                .poll_media
                .as_mut()
                .unwrap()
                .emoji = Some(PollEmojiInput {
                id: id.map(concord_model::Snowflake),
                name: name.map(str::to_owned),
            });
            poll_from(input, 0, &mut FormErrors::new())
        };
        let unicode = with_emoji(None, Some("👍")).unwrap().unwrap();
        assert_eq!(
            unicode.answers[0].emoji.as_ref().unwrap().name.as_deref(),
            Some("👍")
        );
        assert!(with_emoji(Some(5), None).unwrap().is_some());
        for refused in [with_emoji(None, Some("smile")), with_emoji(None, None)] {
            assert!(matches!(
                refused,
                Err(ServiceError::BadRequest(codes::POLL_EMOJI_INVALID))
            ));
        }
    }
}
