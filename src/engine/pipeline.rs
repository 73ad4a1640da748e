//! An ordered parallel map with bounded memory: targets are judged on several threads and their
//! verdicts handed on in the order the targets came, as ripgrep's workers hand matches to one
//! printer.
//!
//! Each item gets a sequence number; workers take items from the shared source, judge them and send
//! the result back; the calling thread releases results strictly in sequence. A worker takes a
//! permit before it takes an item and the caller returns the permit when it releases that item's
//! result, so at most `window` items are taken and not yet released: a slow item holds the others
//! back, never the memory bound. Plain threads rather than a work-stealing pool, because network
//! probes block on sockets and must not hold the CPU workers.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, sync_channel};

/// Runs `work` over `items` on `threads` threads (each with its own state from `init`) and hands
/// the results to `emit` in item order. Stops taking items after the first error of `emit`, and
/// returns it; a panic in `work` stops the workers and is resumed on the calling thread.
pub fn ordered<T, S, R, E>(
    items: impl Iterator<Item = T> + Send,
    threads: usize,
    window: usize,
    init: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, T) -> R + Sync,
    mut emit: impl FnMut(R) -> Result<(), E>,
) -> Result<(), E>
where
    T: Send,
    R: Send,
{
    // No threads for nothing: a scan without endpoints would otherwise start and stop a worker per
    // unit of `--concurrency` (64 by default), a few milliseconds of system time.
    let mut items = items.peekable();
    if items.peek().is_none() {
        return Ok(());
    }
    let threads = threads.max(1);
    let window = window.max(threads);
    let (permit_tx, permit_rx) = sync_channel::<()>(window);
    for _ in 0..window {
        permit_tx
            .send(())
            .expect("the channel holds `window` permits");
    }
    let permits = Mutex::new(permit_rx);
    let source = Mutex::new(items.enumerate());
    let stop = AtomicBool::new(false);
    let (result_tx, results) = channel::<(usize, std::thread::Result<R>)>();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let result_tx = result_tx.clone();
            let (permits, source, stop, init, work) = (&permits, &source, &stop, &init, &work);
            scope.spawn(move || {
                let mut state = init();
                loop {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let permit = permits.lock().map(|p| p.recv());
                    if !matches!(permit, Ok(Ok(()))) || stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let next = source.lock().ok().and_then(|mut s| s.next());
                    let Some((seq, item)) = next else { break };
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        work(&mut state, item)
                    }));
                    let panicked = r.is_err();
                    if result_tx.send((seq, r)).is_err() || panicked {
                        break;
                    }
                }
            });
        }
        drop(result_tx);
        let mut pending: BTreeMap<usize, R> = BTreeMap::new();
        let mut next = 0;
        let mut outcome = Ok(());
        let mut panic = None;
        // Dropped on the first error: workers waiting for a permit then stop at once.
        let mut permit_tx = Some(permit_tx);
        for (seq, r) in results {
            match r {
                Ok(r) => {
                    pending.insert(seq, r);
                }
                Err(p) => {
                    stop.store(true, Ordering::Relaxed);
                    permit_tx = None;
                    panic.get_or_insert(p);
                }
            }
            while let Some(r) = pending.remove(&next) {
                next += 1;
                if outcome.is_ok() && panic.is_none() {
                    outcome = emit(r);
                    if outcome.is_err() {
                        stop.store(true, Ordering::Relaxed);
                        permit_tx = None;
                    }
                }
                if let Some(tx) = &permit_tx {
                    // Never blocks: at most `window` permits exist.
                    let _ = tx.try_send(());
                }
            }
        }
        if let Some(p) = panic {
            std::panic::resume_unwind(p);
        }
        outcome
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_in_item_order_whatever_the_threads() {
        for threads in [1, 2, 7] {
            let mut seen = Vec::new();
            ordered(
                0..1000u64,
                threads,
                8,
                || 0u64,
                |calls, i| {
                    *calls += 1;
                    // Uneven work, so that workers finish out of order.
                    if i % 13 == 0 {
                        std::thread::sleep(std::time::Duration::from_micros(200));
                    }
                    i * 2
                },
                |r| {
                    seen.push(r);
                    Ok::<(), ()>(())
                },
            )
            .unwrap();
            assert_eq!(seen, (0..1000).map(|i| i * 2).collect::<Vec<_>>());
        }
    }

    #[test]
    fn no_items_start_no_worker() {
        let started = std::sync::atomic::AtomicUsize::new(0);
        ordered(
            std::iter::empty::<u32>(),
            64,
            64,
            || started.fetch_add(1, Ordering::Relaxed),
            |_, i| i,
            |_| Ok::<(), ()>(()),
        )
        .unwrap();
        assert_eq!(started.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_panic_in_the_work_reaches_the_caller_without_a_hang() {
        let r = std::panic::catch_unwind(|| {
            ordered(
                0..10_000u32,
                3,
                4,
                || (),
                |_, i| {
                    assert!(i != 50, "boom");
                    i
                },
                |_| Ok::<(), ()>(()),
            )
        });
        assert!(r.is_err());
    }

    #[test]
    fn the_first_emit_error_stops_the_work() {
        let taken = std::sync::atomic::AtomicUsize::new(0);
        let r = ordered(
            0..100_000u32,
            2,
            4,
            || (),
            |_, i| {
                taken.fetch_add(1, Ordering::Relaxed);
                i
            },
            |i| if i == 10 { Err(i) } else { Ok(()) },
        );
        assert_eq!(r, Err(10));
        assert!(
            taken.load(Ordering::Relaxed) < 100,
            "work stopped soon after the error"
        );
    }
}
