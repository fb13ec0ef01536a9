//! `Engine`: a writer thread in front of a `Node`. Callers on any thread submit commands; the
//! writer takes whatever is queued (up to `batch_max`), applies it as one batch with one
//! durable commit, and only then answers each caller (group commit). Reads take the same lock
//! as the writer, so no read sees an effect before it is durable.
//!
//! While it gathers single commands (waiting up to 200 µs for as many as the last batch held)
//! the writer already holds the node and decides each command as it arrives, so the time spent
//! waiting for the last clients is spent deciding the first ones; a large job (an HTTP batch)
//! is gathered whole and decided with its entries sealed on the sealer thread. Large jobs
//! queued behind each other form a stream: each is committed on a thread of its own while the
//! writer decides the next (`Node::submit_stream`), and the writer keeps the node locked until
//! all of them are durable and answered. A reader waiting for the node ends the stream after
//! the batches already taken, and goes before the writer takes the node again.
//!
//! A caller of `submit` (which waits for its answer anyway) that finds the engine idle (the
//! last batch held one command, no job sent to the writer is unanswered, and nobody holds the
//! node) commits its command on its own thread instead: the same `submit_batch` under the same
//! lock, with the same clock, but without the two thread wake-ups of a hand-off to the writer
//! and back (on this project's virtual machines a wake-up costs tens of microseconds, a fifth
//! of a durable commit; docs/BENCHMARKS.md). Under load the writer thread gathers as before,
//! and a queued job never waits behind more than the one direct commit already under way.
//!
//! A caller of `submit` that queues waits for its answer on a condition variable of its own
//! (`Slot`), asleep at once; the channels of `submit_async` spin and yield before they sleep,
//! which with many waiting callers takes the cores the writer needs.
//!
//! After a fatal storage error every later command gets the transient code 7001 (never bound
//! to its id) and the process should restart from the store.

use crate::node::{Answer, Node, NodeError, Outcome, Submission, SEAL_ON_THREAD_MIN};
use crossbeam_channel::{bounded, unbounded, Receiver, Sender};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};
use tanso_core::{Code, Rejection, Timestamp};
use tanso_store::Store;

/// Queued work: one command with its own answer channel, or many (a batch request) answered
/// together on one channel, in order. (Single commands are the common case: they stay
/// unboxed.)
#[allow(clippy::large_enum_variant)]
enum Job {
    One(Submission, Sender<Answer>),
    /// A command whose caller is blocked in `submit` for its answer.
    Wait(Submission, Promise),
    /// Commands answered together, with their ids (copied by the caller, off the writer's
    /// thread: they name the answers if the batch fails).
    Many(Vec<Submission>, Vec<tanso_core::CommandId>, ManyReply),
}

/// Where the answers of a many-command job go, and whether accepted answers keep their events.
struct ManyReply {
    tx: Sender<Vec<Answer>>,
    events: bool,
}

impl Job {
    fn len(&self) -> usize {
        match self {
            Job::One(..) | Job::Wait(..) => 1,
            Job::Many(subs, ..) => subs.len(),
        }
    }
}

/// Where the answers of a gathered batch go: `n` answers to one channel.
enum Reply {
    One(Sender<Answer>),
    Wait(Promise),
    Many(usize, ManyReply),
}

/// One answer for a caller blocked in `submit`, or awaiting [`AnswerFuture`]. A blocked caller
/// sleeps on a condition variable until the answer is put, with no spinning: a channel's
/// receiver spins and yields before it sleeps, and sixteen waiting callers doing so took about
/// a fifth of two cores from the writer (docs/BENCHMARKS.md). An awaiting task is woken through
/// its waker, with no thread of its own.
#[derive(Default)]
struct Slot {
    state: Mutex<SlotInner>,
    ready: std::sync::Condvar,
}

#[derive(Default)]
struct SlotInner {
    state: SlotState,
    /// The task awaiting the answer, if it is awaited.
    waker: Option<std::task::Waker>,
}

#[derive(Default)]
enum SlotState {
    #[default]
    Waiting,
    Answered(Answer),
    /// The job was dropped unanswered (the writer stopped).
    Dropped,
}

impl Slot {
    /// Sets the outcome (if none is set yet) and wakes whoever waits.
    fn put(&self, outcome: SlotState) {
        let waker = {
            let mut inner = lock(&self.state);
            if !matches!(inner.state, SlotState::Waiting) {
                return;
            }
            inner.state = outcome;
            inner.waker.take()
        };
        self.ready.notify_one();
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// The writer's end of a [`Slot`]: dropped unanswered, it wakes the caller, who then answers
/// 7001 itself.
struct Promise(Arc<Slot>);

impl Promise {
    fn answer(self, a: Answer) {
        self.0.put(SlotState::Answered(a));
    }
}

impl Drop for Promise {
    fn drop(&mut self) {
        self.0.put(SlotState::Dropped);
    }
}

impl Slot {
    /// Sleeps until the answer is put (or the promise is dropped: `None`).
    fn wait(&self) -> Option<Answer> {
        let mut inner = lock(&self.state);
        loop {
            match std::mem::take(&mut inner.state) {
                SlotState::Waiting => {
                    inner = self.ready.wait(inner).unwrap_or_else(|p| p.into_inner());
                }
                SlotState::Answered(a) => return Some(a),
                SlotState::Dropped => return None,
            }
        }
    }
}

/// The durable answer to a command queued by [`Engine::submit_future`]: awaiting it takes no
/// thread; the writer wakes the task when the answer is durable (or answers 7001 if it stopped).
pub struct AnswerFuture {
    slot: Arc<Slot>,
    id: tanso_core::CommandId,
}

impl std::future::Future for AnswerFuture {
    type Output = Answer;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Answer> {
        let outcome = {
            let mut inner = lock(&self.slot.state);
            match std::mem::take(&mut inner.state) {
                SlotState::Waiting => {
                    inner.waker = Some(cx.waker().clone());
                    return std::task::Poll::Pending;
                }
                done => done,
            }
        };
        std::task::Poll::Ready(match outcome {
            SlotState::Answered(a) => a,
            _ => transient(self.id.clone(), "the writer has stopped"),
        })
    }
}

/// The writer's clock: UTC microseconds.
pub type Clock = Box<dyn Fn() -> Timestamp + Send>;

pub fn system_clock() -> Clock {
    Box::new(|| {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
    })
}

pub struct Engine<S: Store + 'static> {
    tx: Option<Sender<Job>>,
    node: Arc<Mutex<Node<S>>>,
    writer: Option<JoinHandle<()>>,
    /// The writer's clock, read only with the node locked (so times are read in commit order).
    clock: Arc<Mutex<Clock>>,
    /// Commands in the last batch (the writer's or a direct one): 1 means no one else was
    /// waiting.
    last_len: Arc<AtomicUsize>,
    /// Jobs sent to the writer thread and not yet answered. A direct commit starts only when
    /// there are none, so a queued job never waits behind more than the one direct commit
    /// already under way (a lone client committing in a loop would otherwise barge past the
    /// writer for the lock, again and again).
    pending: Arc<AtomicUsize>,
    /// Callers waiting to lock the node to read: while there are any, the writer takes no
    /// further batch into a stream of commits (`stream_jobs`).
    readers: Arc<AtomicUsize>,
    /// Commands committed on their caller's thread.
    direct: AtomicU64,
}

impl<S: Store + 'static> Engine<S> {
    pub fn start(node: Node<S>, batch_max: usize, clock: Clock) -> Self {
        let node = Arc::new(Mutex::new(node));
        let clock = Arc::new(Mutex::new(clock));
        let last_len = Arc::new(AtomicUsize::new(1));
        let pending = Arc::new(AtomicUsize::new(0));
        let readers = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = unbounded::<Job>();
        let shared = Shared {
            node: Arc::clone(&node),
            clock: Arc::clone(&clock),
            last_len: Arc::clone(&last_len),
            pending: Arc::clone(&pending),
            readers: Arc::clone(&readers),
        };
        let writer = std::thread::Builder::new()
            .name("tanso-writer".into())
            .spawn(move || writer_loop(shared, rx, batch_max.max(1)))
            .ok();
        Engine {
            tx: Some(tx),
            node,
            writer,
            clock,
            last_len,
            pending,
            readers,
            direct: AtomicU64::new(0),
        }
    }

    /// How many commands `submit` committed on its caller's thread (the rest went through the
    /// writer thread): an operator's view of how often the engine was idle.
    pub fn direct_commits(&self) -> u64 {
        self.direct.load(Ordering::Relaxed)
    }

    /// Queues a command; the answer arrives on the returned channel once durable.
    pub fn submit_async(&self, sub: Submission) -> Receiver<Answer> {
        let (reply, rx) = bounded(1);
        if let Some(Job::One(sub, _)) = self.enqueue(Job::One(sub, reply.clone())) {
            let _ = reply.send(transient(sub.id, "the writer has stopped"));
        }
        rx
    }

    /// Sends a job to the writer thread, counted as pending until it is answered; gives the
    /// job back, unsent, if the writer has stopped.
    #[must_use]
    fn enqueue(&self, job: Job) -> Option<Job> {
        self.pending.fetch_add(1, Ordering::SeqCst);
        let unsent = match &self.tx {
            Some(tx) => tx.send(job).err().map(|e| e.0),
            None => Some(job),
        };
        if unsent.is_some() {
            self.pending.fetch_sub(1, Ordering::SeqCst);
        }
        unsent
    }

    /// Queues many commands as one job: they are applied in order in one batch (with whatever
    /// else is queued, up to `batch_max` commands, unless the job alone is larger), and their
    /// answers arrive together, in order, once durable: one channel instead of one per
    /// command.
    pub fn submit_many_async(&self, subs: Vec<Submission>) -> Receiver<Vec<Answer>> {
        self.submit_many(subs, true)
    }

    /// As [`Engine::submit_many_async`], but accepted answers come without their events (the
    /// journal has them), for callers that do not show them. The writer drops them as it
    /// answers: it allocated them, and freeing memory on the thread that allocated it costs
    /// the allocator least.
    pub fn submit_many_async_without_events(&self, subs: Vec<Submission>) -> Receiver<Vec<Answer>> {
        self.submit_many(subs, false)
    }

    fn submit_many(&self, subs: Vec<Submission>, events: bool) -> Receiver<Vec<Answer>> {
        let (reply, rx) = bounded(1);
        if subs.is_empty() {
            let _ = reply.send(Vec::new());
            return rx;
        }
        let ids = subs.iter().map(|s| s.id.clone()).collect();
        let many = ManyReply {
            tx: reply.clone(),
            events,
        };
        if let Some(Job::Many(subs, ..)) = self.enqueue(Job::Many(subs, ids, many)) {
            let _ = reply.send(
                subs.into_iter()
                    .map(|s| transient(s.id, "the writer has stopped"))
                    .collect(),
            );
        }
        rx
    }

    /// Submits a command and waits for its durable answer. When the engine is idle the command
    /// is committed on this thread (see the module doc); otherwise it joins the writer's queue.
    pub fn submit(&self, sub: Submission) -> Answer {
        let id = sub.id.clone();
        if let Some(mut node) = self.idle_node() {
            self.last_len.store(1, Ordering::Relaxed);
            self.direct.fetch_add(1, Ordering::Relaxed);
            let now = read_clock(&self.clock);
            let result = node.submit_batch(vec![sub], now);
            drop(node);
            return answers_of(result, vec![id.clone()])
                .pop()
                .unwrap_or_else(|| transient(id, "the node gave no answer"));
        }
        let slot = Arc::new(Slot::default());
        // An unsent job is dropped here, and its dropped promise wakes the wait below.
        drop(self.enqueue(Job::Wait(sub, Promise(Arc::clone(&slot)))));
        slot.wait()
            .unwrap_or_else(|| transient(id, "the writer has stopped"))
    }

    /// Queues a command for the writer and returns its durable answer as a future: for async
    /// callers (the HTTP API), which then need no blocking thread. Never commits on the
    /// caller's thread.
    pub fn submit_future(&self, sub: Submission) -> AnswerFuture {
        let id = sub.id.clone();
        let slot = Arc::new(Slot::default());
        // An unsent job is dropped here, and its dropped promise answers the future (7001).
        drop(self.enqueue(Job::Wait(sub, Promise(Arc::clone(&slot)))));
        AnswerFuture { slot, id }
    }

    /// The node, locked, if nobody else is waiting or committing: the last batch held one
    /// command, no job sent to the writer thread is unanswered, and the lock is free.
    fn idle_node(&self) -> Option<MutexGuard<'_, Node<S>>> {
        self.tx.as_ref()?;
        if self.last_len.load(Ordering::Relaxed) > 1 || self.pending.load(Ordering::SeqCst) > 0 {
            return None;
        }
        let node = match self.node.try_lock() {
            Ok(g) => g,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return None,
        };
        // Checked again under the lock: a command queued meanwhile goes with the writer's
        // next batch, and this one joins it rather than committing alone ahead of it. (The
        // count covers the channel: it is raised before a job is sent.)
        (self.pending.load(Ordering::SeqCst) == 0).then_some(node)
    }

    /// Runs `f` with the node locked: reads see only durable effects.
    pub fn with_node<T>(&self, f: impl FnOnce(&mut Node<S>) -> T) -> T {
        self.readers.fetch_add(1, Ordering::SeqCst);
        let mut g = lock(&self.node);
        self.readers.fetch_sub(1, Ordering::SeqCst);
        f(&mut g)
    }

    /// Stops taking commands, finishes everything already queued, and returns the node.
    pub fn shutdown(mut self) -> Option<Node<S>> {
        self.tx.take();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
        Arc::try_unwrap(self.node)
            .ok()
            .map(|m| m.into_inner().unwrap_or_else(|p| p.into_inner()))
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a half-applied command (commands are
    // all-or-nothing in the core), and a clock is stateless, so the guard is still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn read_clock(clock: &Mutex<Clock>) -> Timestamp {
    (lock(clock))()
}

fn transient(id: tanso_core::CommandId, why: &str) -> Answer {
    transient_code(id, Code::STORAGE_UNAVAILABLE, why)
}

fn transient_code(id: tanso_core::CommandId, code: Code, why: &str) -> Answer {
    Answer {
        id,
        outcome: Outcome::Rejected(Rejection::one(code, why)),
        replayed: false,
    }
}

/// What the writer thread shares with the engine's callers.
struct Shared<S: Store> {
    node: Arc<Mutex<Node<S>>>,
    clock: Arc<Mutex<Clock>>,
    last_len: Arc<AtomicUsize>,
    pending: Arc<AtomicUsize>,
    readers: Arc<AtomicUsize>,
}

fn writer_loop<S: Store>(shared: Shared<S>, rx: Receiver<Job>, batch_max: usize) {
    // Adaptive group commit: when the last batch held several commands (many clients are
    // waiting on their answers), wait a moment for the clients just answered to send their
    // next command, up to the last batch's size; a lone client never waits.
    let gather = std::time::Duration::from_micros(200);
    while let Ok(first) = rx.recv() {
        if first.len() >= SEAL_ON_THREAD_MIN {
            stream_jobs(&shared, &rx, first, batch_max, gather);
            continue;
        }
        let last_len = shared.last_len.load(Ordering::Relaxed);
        let mut replies: Vec<Reply> = Vec::new();
        let mut ids: Vec<tanso_core::CommandId> = Vec::new();
        let result = {
            // Single commands: each is decided as it arrives, while the writer waits for the
            // rest of the batch, instead of all of them once it is gathered.
            let mut node = lock_after_readers(&shared);
            let now = read_clock(&shared.clock);
            let mut open = node.open_batch(now);
            let n = gather_jobs(&rx, first, batch_max, last_len, gather, |job| {
                split_job(job, &mut replies, &mut ids, |sub| {
                    if let Ok(batch) = &mut open {
                        if let Err(e) = node.decide_into(batch, sub) {
                            open = Err(e);
                        }
                    }
                });
            });
            shared.last_len.store(n, Ordering::Relaxed);
            open.and_then(|batch| node.commit_open(batch))
        };
        // The jobs are durable (or failed) and about to be answered: a caller that finds the
        // engine idle from here on may commit directly.
        shared.pending.fetch_sub(replies.len(), Ordering::SeqCst);
        deliver(answers_of(result, ids), replies);
    }
}

/// A large job (an HTTP batch) and whatever is queued behind it: each batch is decided with its
/// entries sealed on the sealer thread, and committed on a thread of its own while the writer
/// decides the next one (`Node::submit_stream`), as long as jobs are queued and no reader is
/// waiting for the node. The node stays locked until every batch taken is durable and
/// answered, so no read sees an effect before it is durable, and a waiting reader holds up at
/// most the batches already taken.
fn stream_jobs<S: Store>(
    shared: &Shared<S>,
    rx: &Receiver<Job>,
    first: Job,
    batch_max: usize,
    gather: std::time::Duration,
) {
    let mut node = lock_after_readers(shared);
    // The replies and ids of the batches taken and not yet answered, oldest first.
    let unanswered: RefCell<VecDeque<(Vec<Reply>, Vec<tanso_core::CommandId>)>> =
        RefCell::default();
    // Takes a job and whatever is queued behind it as the next batch; its replies wait their
    // turn in `unanswered` from then on, whatever happens to the batch.
    let take = |job: Job| {
        let last_len = shared.last_len.load(Ordering::Relaxed);
        let (mut replies, mut ids, mut subs) = (Vec::new(), Vec::new(), Vec::new());
        let n = gather_jobs(rx, job, batch_max, last_len, gather, |job| match job {
            // A job's vector is taken whole when it comes first (the common case): its
            // commands are not moved.
            Job::Many(many, many_ids, r) if subs.is_empty() => {
                replies.push(Reply::Many(many.len(), r));
                subs = many;
                ids = many_ids;
            }
            job => split_job(job, &mut replies, &mut ids, |sub| subs.push(sub)),
        });
        shared.last_len.store(n, Ordering::Relaxed);
        unanswered.borrow_mut().push_back((replies, ids));
        (subs, read_clock(&shared.clock))
    };
    let first = take(first);
    let batches = std::iter::once(first).chain(std::iter::from_fn(|| {
        if shared.readers.load(Ordering::SeqCst) > 0 {
            return None;
        }
        rx.try_recv().ok().map(take)
    }));
    let result = node.submit_stream(batches, |answers| {
        if let Some((replies, _)) = unanswered.borrow_mut().pop_front() {
            shared.pending.fetch_sub(replies.len(), Ordering::SeqCst);
            deliver(answers, replies);
        }
        true
    });
    // After a failure, the batches taken and not answered get the transient answer (with
    // `Ok`, every batch taken was answered).
    let failed = result.err().unwrap_or(NodeError::Poisoned);
    for (replies, ids) in unanswered.into_inner() {
        shared.pending.fetch_sub(replies.len(), Ordering::SeqCst);
        deliver(failure_answers(&failed, ids), replies);
    }
}

/// The node, locked by the writer once the readers already waiting for it have had it (for
/// up to a millisecond): a mutex does not queue its waiters, and the writer, running, would
/// otherwise take the node again before a reader woken by its release.
fn lock_after_readers<S: Store>(shared: &Shared<S>) -> MutexGuard<'_, Node<S>> {
    let since = std::time::Instant::now();
    while shared.readers.load(Ordering::SeqCst) > 0
        && since.elapsed() < std::time::Duration::from_millis(1)
    {
        std::thread::yield_now();
    }
    lock(&shared.node)
}

/// Takes `first` and whatever else is queued, up to `batch_max` commands (a job is never
/// split), handing each job to `take` as it comes; when the last batch held several commands
/// (`last_len`), waits up to `gather` for that many. Returns the commands taken.
fn gather_jobs(
    rx: &Receiver<Job>,
    first: Job,
    batch_max: usize,
    last_len: usize,
    gather: std::time::Duration,
    mut take: impl FnMut(Job),
) -> usize {
    let mut n = first.len();
    take(first);
    let deadline = std::time::Instant::now() + gather;
    while n < batch_max {
        let next = match rx.try_recv() {
            Ok(j) => j,
            Err(_) if last_len > 1 && n < last_len => {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                match rx.recv_timeout(left) {
                    Ok(j) => j,
                    Err(_) => break,
                }
            }
            Err(_) => break,
        };
        n += next.len();
        take(next);
    }
    n
}

/// Hands each of a job's commands to `each`, in order, and adds where their answers go to
/// `replies` and their ids to `ids`.
fn split_job(
    job: Job,
    replies: &mut Vec<Reply>,
    ids: &mut Vec<tanso_core::CommandId>,
    mut each: impl FnMut(Submission),
) {
    match job {
        Job::One(sub, r) => {
            replies.push(Reply::One(r));
            ids.push(sub.id.clone());
            each(sub);
        }
        Job::Wait(sub, p) => {
            replies.push(Reply::Wait(p));
            ids.push(sub.id.clone());
            each(sub);
        }
        Job::Many(many, many_ids, r) => {
            replies.push(Reply::Many(many.len(), r));
            ids.extend(many_ids);
            many.into_iter().for_each(each);
        }
    }
}

/// A batch's answers: the node's, or after a failed commit the same transient answer for every
/// command (never bound to its id).
fn answers_of(
    result: Result<Vec<Answer>, NodeError>,
    ids: Vec<tanso_core::CommandId>,
) -> Vec<Answer> {
    match result {
        Ok(answers) => answers,
        Err(e) => failure_answers(&e, ids),
    }
}

/// The same transient answer for every command of a batch whose commit failed (never bound to
/// its id).
fn failure_answers(e: &NodeError, ids: Vec<tanso_core::CommandId>) -> Vec<Answer> {
    let (code, why) = match e {
        NodeError::Fenced => (
            Code::WRITER_FENCED,
            "another writer took over; retry at the current writer".to_string(),
        ),
        NodeError::Poisoned => (
            Code::STORAGE_UNAVAILABLE,
            "storage failed earlier; restart the node".to_string(),
        ),
        other => (
            Code::STORAGE_UNAVAILABLE,
            format!("storage failed: {other}"),
        ),
    };
    ids.into_iter()
        .map(|id| transient_code(id, code, &why))
        .collect()
}

/// Sends each job its answers, in order.
fn deliver(answers: Vec<Answer>, replies: Vec<Reply>) {
    let mut answers = answers.into_iter();
    for r in replies {
        match r {
            Reply::One(tx) => {
                if let Some(a) = answers.next() {
                    let _ = tx.send(a);
                }
            }
            Reply::Wait(p) => {
                if let Some(a) = answers.next() {
                    p.answer(a);
                }
            }
            Reply::Many(n, many) => {
                let mut these: Vec<Answer> = answers.by_ref().take(n).collect();
                if !many.events {
                    for a in &mut these {
                        if let Outcome::Accepted(x) = &mut a.outcome {
                            x.events = Vec::new();
                        }
                    }
                }
                let _ = many.tx.send(these);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(id: &str) -> Answer {
        transient(tanso_core::CommandId::parse(id).expect("id"), "test")
    }

    /// A new slot, and a writer thread that does `put` with its promise 20 ms from now.
    fn put_later(
        put: impl FnOnce(Promise) + Send + 'static,
    ) -> (Arc<Slot>, std::thread::JoinHandle<()>) {
        let slot = Arc::new(Slot::default());
        let promise = Promise(Arc::clone(&slot));
        let writer = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            put(promise);
        });
        (slot, writer)
    }

    #[test]
    fn a_waiting_caller_gets_the_answer_put_from_another_thread() {
        let (slot, writer) = put_later(|p| p.answer(answer("a1")));
        assert_eq!(slot.wait().map(|a| a.id.to_string()), Some("a1".into()));
        writer.join().expect("writer");
    }

    #[test]
    fn a_promise_dropped_unanswered_wakes_its_caller_with_nothing() {
        let (slot, writer) = put_later(drop);
        assert!(slot.wait().is_none());
        writer.join().expect("writer");
        // Answered, then dropped: the answer stands.
        let slot = Arc::new(Slot::default());
        Promise(Arc::clone(&slot)).answer(answer("a2"));
        assert_eq!(slot.wait().map(|a| a.id.to_string()), Some("a2".into()));
    }

    /// Runs a future to completion on this thread, parking between polls (what an async
    /// runtime does, without one).
    fn block_on<F: std::future::Future>(f: F) -> (F::Output, usize) {
        struct Unpark(std::thread::Thread);
        impl std::task::Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = std::task::Context::from_waker(&waker);
        let mut f = std::pin::pin!(f);
        let mut polls = 0;
        loop {
            polls += 1;
            if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return (v, polls);
            }
            std::thread::park();
        }
    }

    #[test]
    fn an_awaited_answer_wakes_its_task_once_put_and_a_dropped_promise_gives_7001() {
        // Answered later from another thread: the task sleeps, then gets the answer.
        let (slot, writer) = put_later(|p| p.answer(answer("f1")));
        let id = tanso_core::CommandId::parse("f1").expect("id");
        let (a, polls) = block_on(AnswerFuture { slot, id });
        writer.join().expect("writer");
        assert_eq!(a, answer("f1"));
        assert!(polls >= 2, "the future was ready before the answer was put");
        // Dropped unanswered: 7001 for the awaited id.
        let (slot, writer) = put_later(drop);
        let id = tanso_core::CommandId::parse("f2").expect("id");
        let (a, _) = block_on(AnswerFuture { slot, id });
        writer.join().expect("writer");
        assert_eq!(a.id.as_str(), "f2");
        assert_eq!(a.codes(), [Code::STORAGE_UNAVAILABLE]);
    }
}
