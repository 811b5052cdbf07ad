//! A timer with sub-millisecond precision for toxics that must hold data for an exact time.
//!
//! Tokio's timer wheel has a 1 ms tick and rounds deadlines up, so a 100 ms latency toxic would
//! come out 100–102 ms late. One background thread per server sleeps on a condition variable
//! (a futex with a high-resolution timeout) and wakes each waiting task 200 µs before its
//! deadline; the task then yields until the deadline. Measured on a 2-core VM: the OS wakes a
//! thread about 90 µs late and the hand-off to a Tokio worker adds as much again, while the
//! final yield loop lands within a few µs; it costs CPU for those 200 µs only.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long before a deadline the thread wakes a sleep, which then yields until the deadline.
const SPIN: Duration = Duration::from_micros(200);

/// The timer's shared state: registered deadlines and the thread's plan.
#[derive(Default)]
struct State {
    /// Waiting sleeps by (deadline, key).
    entries: BTreeMap<(Instant, u64), Waker>,
    /// Next key to hand out.
    next_key: u64,
    /// When the thread plans to wake up next; `None` while it waits without a deadline.
    sleeping_until: Option<Instant>,
    /// Set when the owner drops the timer thread.
    stopped: bool,
}

/// What the timer thread and the sleeps share.
#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Owns the timer thread; dropping it stops the thread.
pub(crate) struct TimerThread {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl TimerThread {
    /// Starts the timer thread.
    pub(crate) fn spawn() -> std::io::Result<TimerThread> {
        let shared = Arc::new(Shared::default());
        let for_thread = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("clawchaos-proxy-timer".into())
            .spawn(move || run(&for_thread))?;
        Ok(TimerThread {
            shared,
            thread: Some(thread),
        })
    }

    /// A handle that tasks use to sleep.
    pub(crate) fn handle(&self) -> Timer {
        Timer {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl Drop for TimerThread {
    fn drop(&mut self) {
        self.shared.lock().stopped = true;
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The thread: wake every sleep whose deadline has passed, then wait for the next one.
fn run(shared: &Shared) {
    let mut state = shared.lock();
    loop {
        if state.stopped {
            // Wake everything so nothing waits on a timer that no longer runs.
            let wakers: Vec<Waker> = std::mem::take(&mut state.entries).into_values().collect();
            drop(state);
            wakers.into_iter().for_each(Waker::wake);
            return;
        }
        let now = Instant::now();
        let mut due = Vec::new();
        while let Some(entry) = state.entries.first_entry() {
            if entry.key().0 > now {
                break;
            }
            due.push(entry.remove());
        }
        if !due.is_empty() {
            state.sleeping_until = Some(now);
            drop(state);
            due.into_iter().for_each(Waker::wake);
            state = shared.lock();
            continue;
        }
        match state.entries.first_key_value().map(|(key, _)| key.0) {
            Some(deadline) => {
                state.sleeping_until = Some(deadline);
                let wait = deadline.saturating_duration_since(now);
                state = shared
                    .wake
                    .wait_timeout(state, wait)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            None => {
                state.sleeping_until = None;
                state = shared
                    .wake
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        }
    }
}

/// A cheap, cloneable handle to the timer thread.
#[derive(Clone)]
pub(crate) struct Timer {
    shared: Arc<Shared>,
}

impl Timer {
    /// A sleep with no deadline yet (pending until [`Sleep::reset`] gives it one).
    pub(crate) fn sleep(&self) -> Sleep {
        Sleep {
            timer: self.clone(),
            deadline: None,
            key: None,
        }
    }

    /// A sleep that ends at `deadline`.
    #[cfg(test)]
    pub(crate) fn sleep_until(&self, deadline: Instant) -> Sleep {
        let mut sleep = self.sleep();
        sleep.reset(Some(deadline));
        sleep
    }
}

/// A future that completes at its deadline; reusable through [`Sleep::reset`].
pub(crate) struct Sleep {
    timer: Timer,
    deadline: Option<Instant>,
    key: Option<u64>,
}

impl Sleep {
    /// Moves the deadline (`None`: never complete); a no-op when it does not change.
    pub(crate) fn reset(&mut self, deadline: Option<Instant>) {
        if self.deadline != deadline {
            self.deregister();
            self.deadline = deadline;
        }
    }

    fn deregister(&mut self) {
        let wake_at = self
            .deadline
            .and_then(|deadline| deadline.checked_sub(SPIN));
        if let (Some(key), Some(wake_at)) = (self.key.take(), wake_at) {
            self.timer.shared.lock().entries.remove(&(wake_at, key));
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let Some(deadline) = this.deadline else {
            return Poll::Pending;
        };
        let now = Instant::now();
        if now >= deadline {
            this.deregister();
            return Poll::Ready(());
        }
        if deadline - now <= SPIN {
            // The last stretch: yield until the deadline instead of paying a thread hand-off.
            this.deregister();
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let wake_at = deadline - SPIN;
        let shared = &this.timer.shared;
        let mut state = shared.lock();
        if state.stopped {
            return Poll::Ready(());
        }
        let registered = this
            .key
            .and_then(|key| state.entries.get_mut(&(wake_at, key)));
        if let Some(waker) = registered {
            if !waker.will_wake(cx.waker()) {
                waker.clone_from(cx.waker());
            }
            return Poll::Pending;
        }
        let key = state.next_key;
        state.next_key += 1;
        state.entries.insert((wake_at, key), cx.waker().clone());
        this.key = Some(key);
        let earlier = state.sleeping_until.is_none_or(|planned| wake_at < planned);
        drop(state);
        if earlier {
            shared.wake.notify_one();
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.deregister();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn sleeps_end_close_to_their_deadline() {
        let thread = TimerThread::spawn().expect("timer thread");
        let timer = thread.handle();
        let mut lateness = Vec::new();
        for _ in 0..20 {
            let deadline = Instant::now() + Duration::from_millis(5);
            timer.sleep_until(deadline).await;
            let late = Instant::now().saturating_duration_since(deadline);
            lateness.push(late);
        }
        lateness.sort();
        // The median must beat tokio's 1 ms tick; generous for a busy machine.
        assert!(
            lateness[lateness.len() / 2] < Duration::from_micros(700),
            "median lateness {:?}",
            lateness[lateness.len() / 2]
        );
    }

    #[tokio::test]
    async fn earlier_deadline_registered_later_still_fires_first() {
        let thread = TimerThread::spawn().expect("timer thread");
        let timer = thread.handle();
        let start = Instant::now();
        let long = timer.sleep_until(start + Duration::from_secs(5));
        let short = timer.sleep_until(start + Duration::from_millis(20));
        tokio::select! {
            () = long => panic!("the long sleep ended first"),
            () = short => {}
        }
        assert!(start.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn reset_moves_and_clears_the_deadline() {
        let thread = TimerThread::spawn().expect("timer thread");
        let timer = thread.handle();
        let mut sleep = timer.sleep();
        let pending = tokio::time::timeout(Duration::from_millis(20), &mut sleep).await;
        assert!(pending.is_err(), "a sleep without deadline must not end");
        sleep.reset(Some(Instant::now() + Duration::from_millis(5)));
        tokio::time::timeout(Duration::from_secs(2), &mut sleep)
            .await
            .expect("sleep ends after reset");
    }
}
