//! A minimum rate for request bodies, so a client cannot hold a request
//! open by trickling its body.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

/// The grace every body has before its rate counts.
const GRACE: Duration = Duration::from_secs(1);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Set when a body was ended for being too slow, so the request is
/// answered 408 whatever its handler made of the broken body.
#[derive(Clone, Default)]
pub(super) struct Slow(Arc<AtomicBool>);

impl Slow {
    pub(super) fn happened(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// A request body that fails once the time spent waiting for it exceeds
/// one second or its bytes at `rate` per second, whichever is longer.
///
/// Only time the server spends waiting for the client counts: a handler
/// that pauses between reads (queued for a disk or a hash) is not the
/// client's fault.
pub(super) struct MinRate {
    inner: Incoming,
    rate: u64,
    received: u64,
    /// Waiting done before the current wait.
    waited: Duration,
    /// Since when the current wait lasts.
    waiting_since: Option<Instant>,
    timer: Option<Pin<Box<Sleep>>>,
    slow: Slow,
}

impl MinRate {
    /// `rate` 0 means no bound.
    pub(super) fn new(inner: Incoming, rate: u64, slow: Slow) -> MinRate {
        MinRate {
            inner,
            rate,
            received: 0,
            waited: Duration::ZERO,
            waiting_since: None,
            timer: None,
            slow,
        }
    }

    /// How long, in all, the body may keep the server waiting so far.
    fn allowed(&self) -> Duration {
        let for_bytes = Duration::from_secs_f64(self.received as f64 / self.rate as f64);
        for_bytes.max(GRACE)
    }

    fn too_slow(&mut self) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.slow.0.store(true, Ordering::Relaxed);
        metrics::counter!("concord_http_slow_bodies_total").increment(1);
        Poll::Ready(Some(Err("request body too slow".into())))
    }
}

impl Body for MinRate {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            if let Some(since) = this.waiting_since.take() {
                this.waited += since.elapsed();
            }
            if let Some(Ok(data)) = frame.as_ref().map(|f| f.as_ref().map(Frame::data_ref)) {
                this.received += data.map_or(0, |d| d.len() as u64);
            }
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if this.rate == 0 {
            return Poll::Pending;
        }
        let since = *this.waiting_since.get_or_insert_with(Instant::now);
        let due = since + this.allowed().saturating_sub(this.waited);
        if Instant::now() >= due {
            return this.too_slow();
        }
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due)));
        timer.as_mut().reset(due);
        ready!(timer.as_mut().poll(cx));
        this.too_slow()
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
