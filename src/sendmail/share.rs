//! Several runs of the real sendmail at once (pgpsendmail.toml(5), `handoff_jobs`;
//! docs/interface.md section 6): the copies of one message, every one of them already
//! complete, are shared among a few workers, each taking the next copy in order when it is
//! free. A worker is one run at a time of the real sendmail (one per copy), or one `-bs`
//! session (many copies in turn).
//!
//! Nothing here changes what a copy is or when it counts as handed on: that is the
//! worker's. What it changes is only how many runs are going at once, and so the order in
//! which the MTA receives the copies; results come back in the copies' own order, so what
//! is reported (and the exit status) does not depend on which worker was faster.

use std::sync::Mutex;

/// Fewer copies than this per worker do not get a worker of their own: a second `-bs`
/// session costs a start of the real sendmail, and a message with a few hidden recipients
/// gains nothing measurable from a second run going at once.
pub const MIN_PER_JOB: usize = 8;

/// What a worker did with one item.
pub enum Step<R> {
    /// The result; the worker takes the next item.
    Next(R),
    /// The result; the worker can take no more (its session is gone).
    Last(R),
}

/// How many workers for `items` items: the setting (0: one per CPU this process may run
/// on), so that each has at least [`MIN_PER_JOB`] items, and at least one.
pub fn workers(setting: usize, items: usize) -> usize {
    // Most messages have a few copies: no need to ask how many CPUs there are.
    if items < 2 * MIN_PER_JOB {
        return 1;
    }
    let want = match setting {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    };
    want.min(items / MIN_PER_JOB).max(1)
}

/// What [`share`] comes to: each item a worker took, with its index and result, in index
/// order; and the items no worker took (every worker stopped first), in order.
pub struct Shared<T, R> {
    pub results: Vec<(usize, R)>,
    pub left: Vec<(usize, T)>,
}

/// Gives `items` to at most `jobs` workers, worker 0 in this thread and the others in
/// threads of their own (a thread that cannot be started is a worker less). `make(k)`
/// makes worker `k` in its thread; `None` is a worker that could not start and takes
/// nothing. Each worker takes the next item when it is free, until none is left or it
/// returns [`Step::Last`]; a worker is dropped in its own thread when it stops.
pub fn share<T, R, W, M>(items: Vec<T>, jobs: usize, make: M) -> Shared<T, R>
where
    T: Send,
    R: Send,
    W: FnMut(T) -> Step<R>,
    M: Fn(usize) -> Option<W> + Sync,
{
    let queue = Mutex::new(items.into_iter().enumerate());
    let next = || lock(&queue).next();
    let mut results = std::thread::scope(|s| {
        let others: Vec<_> = (1..jobs.max(1))
            .filter_map(|k| {
                let (make, next) = (&make, &next);
                // A small stack: a worker only waits for its run and copies a file.
                std::thread::Builder::new()
                    .stack_size(256 << 10)
                    .spawn_scoped(s, move || work(make(k), next))
                    .ok()
            })
            .collect();
        let mut all = work(make(0), &next);
        for t in others {
            // A worker that panicked took its item with it; the item is then neither a
            // result nor left, and is reported by the caller as not known to be sent.
            if let Ok(r) = t.join() {
                all.extend(r);
            }
        }
        all
    });
    results.sort_by_key(|(i, _)| *i);
    let left = lock(&queue).by_ref().collect();
    Shared { results, left }
}

/// One worker's loop: its results, each with its item's index.
fn work<T, R, W: FnMut(T) -> Step<R>>(
    worker: Option<W>,
    next: &impl Fn() -> Option<(usize, T)>,
) -> Vec<(usize, R)> {
    let mut out = Vec::new();
    let Some(mut worker) = worker else {
        return out;
    };
    while let Some((i, item)) = next() {
        match worker(item) {
            Step::Next(r) => out.push((i, r)),
            Step::Last(r) => {
                out.push((i, r));
                break;
            }
        }
    }
    out
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn results_in_item_order_whoever_took_them() {
        let items: Vec<usize> = (0..100).collect();
        let busy = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        let out = share(items, 4, |_| {
            Some(|x: usize| {
                let now = busy.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::yield_now();
                busy.fetch_sub(1, Ordering::SeqCst);
                Step::Next(x * 2)
            })
        });
        let want: Vec<(usize, usize)> = (0..100).map(|i| (i, i * 2)).collect();
        assert_eq!(out.results, want);
        assert!(out.left.is_empty());
        assert!(most.load(Ordering::SeqCst) <= 4);
    }

    #[test]
    fn a_stopped_worker_leaves_the_rest_to_the_others_and_all_stopped_leave_them() {
        // Worker 1 stops after its first item; the others take everything else.
        let out = share((0..40).collect::<Vec<u32>>(), 3, |k| {
            let mut n = 0;
            Some(move |x: u32| {
                n += 1;
                if k == 1 && n == 1 {
                    Step::Last(x)
                } else {
                    Step::Next(x)
                }
            })
        });
        assert_eq!(out.results.len(), 40);
        assert!(out.left.is_empty());
        // Every worker stops at once: what no one took is left, in order.
        let out = share((0..40).collect::<Vec<u32>>(), 2, |_| Some(Step::Last));
        assert_eq!(out.results.len() + out.left.len(), 40);
        let left: Vec<usize> = out.left.iter().map(|(i, _)| *i).collect();
        assert!(left.windows(2).all(|w| w[0] < w[1]));
        // No worker could start: everything is left.
        let none: Option<fn(u32) -> Step<u32>> = None;
        let out = share((0..5).collect::<Vec<u32>>(), 2, |_| none);
        assert_eq!(out.left.len(), 5);
    }

    #[test]
    fn workers_per_setting_and_count() {
        assert_eq!(workers(4, 1), 1);
        assert_eq!(workers(4, MIN_PER_JOB), 1);
        assert_eq!(workers(4, 2 * MIN_PER_JOB - 1), 1);
        assert_eq!(workers(4, 2 * MIN_PER_JOB), 2);
        assert_eq!(workers(4, 3 * MIN_PER_JOB), 3);
        assert_eq!(workers(4, 1000), 4);
        assert_eq!(workers(1, 1000), 1);
        assert!(workers(0, 1000) >= 1);
        assert_eq!(workers(3, 0), 1);
    }
}
