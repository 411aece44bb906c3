//! The order of each live subject's messages, as the stream stored them.
//!
//! The stream gives every event its sequence when it stores it, but when
//! several nodes publish at once it may republish two events of one
//! subject the other way round (seen: 12824, then 12823 three
//! milliseconds later, on every node's connection). Each republished
//! message names the sequence of the one before it on its subject
//! (`Nats-Last-Sequence`, 0 when there is none or it is gone), so a
//! message whose predecessor has not come yet waits for it here, and the
//! subscription hands out nothing past the first such hole: ids up to the
//! lowest tail of a subject that waits are complete.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

/// Per live subject, where its chain has reached and what waits.
pub(crate) struct Chains<T> {
    /// The sequence of the last message of each subject taken in order.
    tails: HashMap<String, u64>,
    /// Per subject, messages whose predecessor has not come, keyed by it.
    waiting: HashMap<String, BTreeMap<u64, (u64, T)>>,
    /// When the oldest of the waiting messages came.
    since: Option<Instant>,
}

impl<T> Chains<T> {
    pub(crate) fn new() -> Chains<T> {
        Chains {
            tails: HashMap::new(),
            waiting: HashMap::new(),
            since: None,
        }
    }

    /// Takes message `seq` of `subject`, whose predecessor there is
    /// `previous`: returns what is now in order (it, and those that waited
    /// for it), nothing if it waits or was taken before. The first message
    /// of a subject since listening starts its chain.
    pub(crate) fn take(
        &mut self,
        subject: &str,
        seq: u64,
        previous: Option<u64>,
        item: T,
    ) -> Vec<(u64, T)> {
        let tail = self.tails.get(subject).copied();
        if tail.is_some_and(|tail| seq <= tail) {
            return Vec::new();
        }
        let missing = match (tail, previous) {
            (Some(tail), Some(previous)) => previous > tail,
            _ => false,
        };
        if missing {
            let previous = previous.unwrap_or_default();
            let waiting = self.waiting.entry(subject.to_string()).or_default();
            waiting.insert(previous, (seq, item));
            self.since.get_or_insert_with(Instant::now);
            return Vec::new();
        }
        let mut ready = vec![(seq, item)];
        let mut tail = seq;
        if let Some(waiting) = self.waiting.get_mut(subject) {
            while let Some((next, item)) = waiting.remove(&tail) {
                ready.push((next, item));
                tail = next;
            }
            if waiting.is_empty() {
                self.waiting.remove(subject);
            }
        }
        // Per message: the subject's name is copied only the first time.
        match self.tails.get_mut(subject) {
            Some(known) => *known = tail,
            None => {
                self.tails.insert(subject.to_string(), tail);
            }
        }
        if self.waiting.is_empty() {
            self.since = None;
        }
        ready
    }

    /// The highest id that may be handed out: past it, a subject may still
    /// have a message on its way. `None` when nothing waits.
    pub(crate) fn bound(&self) -> Option<u64> {
        self.waiting
            .keys()
            .filter_map(|subject| self.tails.get(subject))
            .min()
            .copied()
    }

    /// When the oldest waiting message came, if any waits.
    pub(crate) fn waiting_since(&self) -> Option<Instant> {
        self.since
    }

    /// Everything that waits, once the stream has been read for what it
    /// waited for: each subject's chain goes on from its last message.
    pub(crate) fn release(&mut self) -> Vec<(u64, T)> {
        let mut released = Vec::new();
        for (subject, waiting) in self.waiting.drain() {
            for (_, (seq, item)) in waiting {
                let tail = self.tails.entry(subject.clone()).or_default();
                *tail = (*tail).max(seq);
                released.push((seq, item));
            }
        }
        self.since = None;
        released
    }

    /// The subject is no longer listened on.
    pub(crate) fn forget(&mut self, subject: &str) {
        self.tails.remove(subject);
        self.waiting.remove(subject);
        if self.waiting.is_empty() {
            self.since = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seqs(ready: Vec<(u64, &str)>) -> Vec<u64> {
        ready.into_iter().map(|(seq, _)| seq).collect()
    }

    #[test]
    fn a_message_before_its_predecessor_waits_for_it() {
        let mut chains = Chains::new();
        assert_eq!(seqs(chains.take("g", 12822, Some(12810), "a")), [12822]);
        assert_eq!(seqs(chains.take("m", 12825, Some(0), "m")), [12825]);
        // 12824 comes first; 12823, on the same subject, is on its way.
        assert!(chains.take("g", 12824, Some(12823), "c").is_empty());
        assert_eq!(chains.bound(), Some(12822), "nothing past the hole");
        assert!(chains.waiting_since().is_some());
        assert_eq!(
            seqs(chains.take("g", 12823, Some(12822), "b")),
            [12823, 12824]
        );
        assert_eq!(chains.bound(), None);
        assert!(chains.waiting_since().is_none());
        // Heard again (a second subscription, a fill): taken once.
        assert!(chains.take("g", 12823, Some(12822), "b").is_empty());
        assert_eq!(seqs(chains.take("g", 12826, Some(12824), "d")), [12826]);
    }

    #[test]
    fn what_waits_is_released_once_the_stream_was_read() {
        let mut chains = Chains::new();
        chains.take("g", 5, None, "a");
        assert!(chains.take("g", 9, Some(7), "c").is_empty());
        assert!(chains.take("g", 11, Some(9), "d").is_empty());
        assert_eq!(chains.bound(), Some(5));
        let mut released = seqs(chains.release());
        released.sort_unstable();
        assert_eq!(released, [9, 11]);
        assert_eq!(chains.bound(), None);
        // The chain goes on from the last released.
        assert_eq!(seqs(chains.take("g", 12, Some(11), "e")), [12]);
        assert!(chains.take("g", 7, Some(5), "b").is_empty(), "too late");
    }

    #[test]
    fn a_subject_forgotten_starts_again() {
        let mut chains = Chains::new();
        chains.take("g", 5, None, "a");
        assert!(chains.take("g", 9, Some(7), "c").is_empty());
        chains.forget("g");
        assert_eq!(chains.bound(), None);
        assert_eq!(seqs(chains.take("g", 20, Some(15), "x")), [20]);
    }
}
