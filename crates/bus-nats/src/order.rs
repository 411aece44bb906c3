//! The order a subscription hands its events out in, and which ids it has
//! handed out.
//!
//! Within a subject, [`Chains`] restores the stream's order. Across
//! subjects nothing can: a node hears only its own subjects, and the
//! stream may republish an event of one subject after a later one of
//! another (as it does within one subject when nodes publish at once). So
//! an event that comes after a higher id was handed out is handed out
//! late rather than passed over: ids rise across what is handed out but
//! for these, and each id is handed out once. The ids handed out are
//! remembered for [`REMEMBER`]; an event later than that is taken for one
//! already handed out.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use crate::chains::Chains;

/// How long the ids handed out are remembered: how late an event may come
/// after a higher one and still be handed out.
const REMEMBER: Duration = Duration::from_secs(5);

pub(crate) struct Order<T> {
    /// Each live subject's messages put in their order.
    chains: Chains<Option<T>>,
    /// Events heard and not handed out yet, by id.
    pending: BTreeMap<u64, T>,
    /// The highest id handed out or passed over.
    last: u64,
    /// Every id up to this one was handed out or passed over.
    floor: u64,
    /// The ids above `floor` handed out, oldest first, with when.
    recent: VecDeque<(Instant, u64)>,
    /// The same ids, to look up.
    handed: HashSet<u64>,
}

impl<T> Order<T> {
    /// Hands out only what comes after `head`.
    pub(crate) fn new(head: u64) -> Order<T> {
        Order {
            chains: Chains::new(),
            pending: BTreeMap::new(),
            last: head,
            floor: head,
            recent: VecDeque::new(),
            handed: HashSet::new(),
        }
    }

    /// The highest id handed out or passed over.
    pub(crate) fn last(&self) -> u64 {
        self.last
    }

    /// Whether `id` may still be handed out.
    fn is_new(&self, id: u64) -> bool {
        id > self.floor && !self.handed.contains(&id)
    }

    /// Takes message `seq` of live `subject`, whose predecessor there is
    /// `previous`; `decode` is called only for an id not handed out yet.
    pub(crate) fn hear(
        &mut self,
        subject: &str,
        seq: u64,
        previous: Option<u64>,
        decode: impl FnOnce() -> Option<T>,
    ) {
        let item = if self.is_new(seq) { decode() } else { None };
        for (seq, item) in self.chains.take(subject, seq, previous, item) {
            if let Some(item) = item {
                self.insert(seq, item);
            }
        }
    }

    /// Takes an event read from the stream.
    pub(crate) fn insert(&mut self, id: u64, item: T) {
        if self.is_new(id) {
            self.pending.insert(id, item);
        }
    }

    /// The stream was read after what waited for a predecessor: what
    /// waited goes on.
    pub(crate) fn release(&mut self) {
        for (seq, item) in self.chains.release() {
            if let Some(item) = item {
                self.insert(seq, item);
            }
        }
    }

    /// When the oldest message waiting for its predecessor came, if any.
    pub(crate) fn waiting_since(&self) -> Option<Instant> {
        self.chains.waiting_since()
    }

    /// The subject is no longer listened on.
    pub(crate) fn forget(&mut self, subject: &str) {
        self.chains.forget(subject);
    }

    /// Every id up to `id` is passed over (what the stream no longer
    /// keeps, or what came before a subscription that holds nothing).
    pub(crate) fn pass(&mut self, id: u64) {
        self.last = self.last.max(id);
        self.floor = self.floor.max(id);
        self.pending = self.pending.split_off(&(self.floor + 1));
    }

    /// The next event to hand out, if one may go now: the lowest pending,
    /// unless a subject still waits for an earlier one.
    pub(crate) fn next(&mut self) -> Option<T> {
        let bound = self.chains.bound();
        while let Some(entry) = self.pending.first_entry() {
            if bound.is_some_and(|bound| *entry.key() > bound) {
                return None;
            }
            let (id, item) = entry.remove_entry();
            if self.is_new(id) {
                self.handed_out(id, Instant::now());
                return Some(item);
            }
        }
        None
    }

    fn handed_out(&mut self, id: u64, now: Instant) {
        self.last = self.last.max(id);
        self.handed.insert(id);
        self.recent.push_back((now, id));
        while let Some(&(at, old)) = self.recent.front() {
            if now.duration_since(at) < REMEMBER {
                break;
            }
            self.recent.pop_front();
            self.handed.remove(&old);
            self.floor = self.floor.max(old);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(order: &mut Order<u64>) -> Vec<u64> {
        std::iter::from_fn(|| order.next()).collect()
    }

    fn hear(order: &mut Order<u64>, subject: &str, seq: u64, previous: u64) {
        order.hear(subject, seq, Some(previous), || Some(seq));
    }

    #[test]
    fn an_event_of_another_subject_that_comes_late_is_handed_out_late() {
        let mut order = Order::new(100);
        hear(&mut order, "g.1", 102, 90);
        assert_eq!(drain(&mut order), [102]);
        // 101 was stored first, on another subject, and republished after.
        hear(&mut order, "many", 101, 80);
        assert_eq!(drain(&mut order), [101], "not passed over");
        assert_eq!(order.last(), 102);
        // Heard again (read from the stream too): handed out once.
        order.insert(101, 101);
        hear(&mut order, "many", 101, 80);
        order.insert(102, 102);
        assert!(drain(&mut order).is_empty());
        hear(&mut order, "g.1", 103, 102);
        assert_eq!(drain(&mut order), [103]);
    }

    #[test]
    fn within_a_subject_the_stream_order_holds() {
        let mut order = Order::new(0);
        hear(&mut order, "g.1", 5, 0);
        hear(&mut order, "g.1", 7, 6);
        hear(&mut order, "g.2", 8, 0);
        assert_eq!(drain(&mut order), [5], "nothing past the missing 6");
        hear(&mut order, "g.1", 6, 5);
        assert_eq!(drain(&mut order), [6, 7, 8]);
    }

    #[test]
    fn what_is_passed_over_is_never_handed_out() {
        let mut order = Order::new(0);
        order.insert(3, 3);
        order.insert(9, 9);
        order.pass(5);
        assert_eq!(drain(&mut order), [9]);
        order.insert(4, 4);
        assert!(drain(&mut order).is_empty());
        assert_eq!(order.last(), 9);
    }

    #[test]
    fn the_ids_handed_out_are_forgotten_after_a_while_and_the_floor_rises() {
        let mut order: Order<u64> = Order::new(0);
        let start = Instant::now();
        order.handed_out(10, start);
        order.handed_out(8, start);
        assert!(!order.is_new(10) && !order.is_new(8) && order.is_new(9));
        order.handed_out(11, start + REMEMBER);
        assert_eq!(order.floor, 10, "9 is now too late");
        assert!(!order.is_new(9) && !order.is_new(11) && order.is_new(12));
        assert_eq!(order.handed.len(), 1, "only what is above the floor");
    }
}
