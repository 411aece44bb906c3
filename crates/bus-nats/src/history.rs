//! Reading the stream back: `replay`, and the fills of subscriptions.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use concord_bus::{BusError, BusResult, Topic};
use concord_model::event::Event;
use futures_util::StreamExt;

use crate::{Shared, unavailable};

/// Stream messages fetched per round trip.
const BATCH: usize = 512;

/// The stored events after `after` on any of `topics`, in id order, or
/// `Gone` when the stream no longer keeps the first of them. The stream's
/// sequences have no holes (it only drops its oldest), so the history
/// reaches back far enough exactly when it still holds `after + 1`.
pub(crate) async fn replay(
    shared: &Shared,
    after: u64,
    topics: &[Topic],
) -> BusResult<Vec<Arc<Event>>> {
    let info = shared.stream.get_info().await.map_err(unavailable)?;
    let (first, last) = (info.state.first_sequence, info.state.last_sequence);
    shared.saw(last);
    if after >= last {
        return Ok(Vec::new());
    }
    if after + 1 < first {
        return Err(BusError::Gone { after });
    }
    let consumer = shared
        .stream
        .create_consumer(pull::Config {
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: after + 1,
            },
            ack_policy: AckPolicy::None,
            inactive_threshold: Duration::from_secs(30),
            memory_storage: true,
            ..Default::default()
        })
        .await
        .map_err(unavailable)?;
    let read = read(&consumer, after, last, topics).await;
    let name = consumer.cached_info().name.clone();
    if let Err(e) = shared.stream.delete_consumer(&name).await {
        tracing::debug!(error = %e, "replay consumer left to expire");
    }
    read
}

/// Reads `consumer` (which starts after `after`) through `last`.
async fn read(
    consumer: &async_nats::jetstream::consumer::Consumer<pull::Config>,
    after: u64,
    last: u64,
    topics: &[Topic],
) -> BusResult<Vec<Arc<Event>>> {
    let wanted = |t: Topic| topics.contains(&t);
    let mut events = Vec::new();
    let mut next = after + 1;
    while next <= last {
        let mut batch = consumer
            .fetch()
            .max_messages(BATCH)
            .messages()
            .await
            .map_err(unavailable)?;
        let mut got = false;
        while let Some(message) = batch.next().await {
            let message = message.map_err(unavailable)?;
            let seq = message.info().map_err(unavailable)?.stream_sequence;
            if seq > next && next == after + 1 {
                // Dropped from the stream since we looked.
                return Err(BusError::Gone { after });
            }
            next = seq + 1;
            got = true;
            if let Some(event) = decode(&message.payload, seq)
                && event.is_on(wanted)
            {
                events.push(Arc::new(event));
            }
        }
        if !got {
            break;
        }
    }
    Ok(events)
}

/// A stored event, its id set to its sequence; `None` (and a warning) for
/// a message that is not one.
pub(crate) fn decode(payload: &[u8], seq: u64) -> Option<Event> {
    match serde_json::from_slice::<Event>(payload) {
        Ok(event) => Some(Event { id: seq, ..event }),
        Err(e) => {
            tracing::warn!(seq, error = %e, "not an event on the event bus; skipped");
            None
        }
    }
}
