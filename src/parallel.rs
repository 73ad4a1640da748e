//! Work spread over the cores with the results kept in order (the walk of a host's directories
//! and the compilation of policy files use it), and answers the threads of a scan share.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

/// `f` over `items` on every core, the results in the order of `items`. At most one thread per
/// core, each taking the next item not yet taken, so thousands of items never start thousands of
/// threads; a panic in `f` panics the calling thread.
pub fn in_parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<Option<R>> = (0..items.len()).map(|_| None).collect();
    let slots = std::sync::Mutex::new(&mut results);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let r = f(item);
                    slots.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(r);
                }
            });
        }
    });
    results.into_iter().flatten().collect()
}

/// Answers the threads of one scan share, up to a bound: a question that every file of a host asks
/// (what a directory holds, whether a path lies inside the named paths) is put to the filesystem
/// once. Past `limit` answers it starts again, so memory stays bounded on any tree.
pub struct Remembered<K, V> {
    answers: Mutex<HashMap<K, V>>,
    limit: usize,
}

impl<K: Hash + Eq, V: Clone> Remembered<K, V> {
    /// None yet; at most `limit` kept.
    pub fn new(limit: usize) -> Remembered<K, V> {
        Remembered {
            answers: Mutex::new(HashMap::new()),
            limit,
        }
    }

    /// The answer kept for `key`, or else `ask`'s, which is then kept. `ask` runs without the lock:
    /// two threads may ask at once, and keep the same answer.
    pub fn get_or<Q>(&self, key: &Q, ask: impl FnOnce() -> V) -> V
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let lock = || self.answers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(known) = lock().get(key) {
            return known.clone();
        }
        let answer = ask();
        let mut kept = lock();
        if kept.len() >= self.limit {
            kept.clear();
        }
        kept.insert(key.to_owned(), answer.clone());
        answer
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn answers_are_asked_once_until_the_limit() {
        let kept = super::Remembered::new(3);
        let asked = std::cell::Cell::new(0);
        let ask = |v: u32| {
            asked.set(asked.get() + 1);
            v
        };
        assert_eq!(kept.get_or("a", || ask(1)), 1);
        assert_eq!(kept.get_or("a", || ask(2)), 1, "kept");
        assert_eq!(asked.get(), 1);
        for k in ["b", "c", "d"] {
            kept.get_or(k, || ask(0));
        }
        assert_eq!(
            kept.get_or("a", || ask(5)),
            5,
            "past the limit, asked again"
        );
        assert_eq!(asked.get(), 5);
    }

    #[test]
    fn results_keep_the_order_of_the_items() {
        let items: Vec<u64> = (0..1000).collect();
        let out = super::in_parallel(&items, |i| i * 3);
        assert_eq!(out, items.iter().map(|i| i * 3).collect::<Vec<_>>());
        assert!(super::in_parallel(&[] as &[u64], |i| *i).is_empty());
    }
}
