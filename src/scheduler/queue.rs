//! The daemon's due queue: which feed is polled next, and when.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Feeds (by id) ordered by the time (Unix ms) they are due, earliest
/// first. A feed has at most one entry: it is pushed back after its poll.
#[derive(Debug, Default)]
pub struct DueQueue {
    heap: BinaryHeap<Reverse<(i64, i64)>>,
}

impl DueQueue {
    pub fn push(&mut self, due: i64, feed: i64) {
        self.heap.push(Reverse((due, feed)));
    }

    /// When the earliest feed is due.
    pub fn next_due(&self) -> Option<i64> {
        self.heap.peek().map(|Reverse((t, _))| *t)
    }

    /// Takes every feed due at `now`, earliest first.
    pub fn take_due(&mut self, now: i64) -> Vec<i64> {
        let mut out = Vec::new();
        while let Some(Reverse((t, i))) = self.heap.peek().copied() {
            if t > now {
                break;
            }
            self.heap.pop();
            out.push(i);
        }
        out
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_what_is_due_in_order() {
        let mut q = DueQueue::default();
        q.push(30, 2);
        q.push(10, 0);
        q.push(20, 1);
        assert_eq!(q.next_due(), Some(10));
        assert_eq!(q.take_due(25), [0, 1]);
        assert_eq!(q.take_due(25), Vec::<i64>::new());
        assert_eq!((q.len(), q.next_due()), (1, Some(30)));
    }
}
