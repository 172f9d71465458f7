//! The HTTP server every listener runs: poem's endpoints on hyper connections, with
//! the limits a public edge needs and poem's own server lacks.
//!
//! - **Headers**: a request head (request line and headers) larger than
//!   [`EdgeLimits::max_header_bytes`] is answered `431` by hyper and the connection
//!   closed (HTTP/2: the same bound as `SETTINGS_MAX_HEADER_LIST_SIZE`).
//! - **Header-read timeout**: from a request's first byte to the end of its head;
//!   past it the connection is closed (slowloris).
//! - **Idle timeout**: a connection with no request in flight (a silent new one, or a
//!   keep-alive one between requests, or one whose client stopped reading) is closed
//!   after it.
//! - **Connection cap**: at most [`EdgeLimits::max_connections`] connections across
//!   all listeners of the process, never more than the open-file limit allows. At the
//!   cap, a new connection makes room by closing the connection that has been quiet
//!   the longest (no request in flight for at least [`QUIET`]); when every connection
//!   is busy it is answered `503` with `Retry-After` and closed.
//! - **Accept errors**: running out of file descriptors (`EMFILE`, `ENFILE`) or kernel
//!   memory closes quiet connections and backs off (10 ms, doubling to 1 s) instead of
//!   spinning on the error.
//!
//! The timeouts are kept by a watchdog beside each connection's hyper future: the
//! socket notes when a request's first byte arrives, the service when a request starts
//! and its response is written (atomics only, nothing on the request path wakes it),
//! and the watchdog looks at least every half header-read timeout (none runs while a
//! request is in flight: its body read has its own timeout).
//!
//! Request bodies are bounded where they are read: [`super::body`].

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use poem::http::uri::Scheme;
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Endpoint, Request, Response};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

/// HTTP/2 streams open at once on one connection.
pub const MAX_STREAMS: u32 = 16;

/// How long a connection must have had no request in flight before it may be closed
/// to make room for a new one (so that a response just handed to hyper is written).
pub const QUIET: Duration = Duration::from_millis(250);

/// The limits of every listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeLimits {
    /// Largest request head, in bytes (at least 8 KiB: hyper's smallest buffer).
    pub max_header_bytes: usize,
    /// From a request's first byte to the end of its head.
    pub header_read_timeout: Duration,
    /// How long a connection may stay open with no request in flight.
    pub idle_timeout: Duration,
    /// Connections open at once across all listeners.
    pub max_connections: usize,
}

impl Default for EdgeLimits {
    fn default() -> Self {
        EdgeLimits {
            max_header_bytes: 16 * 1024,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 10_000,
        }
    }
}

/// The connections of every listener of one process: the cap, and who to close to
/// make room.
#[derive(Clone)]
pub struct Connections {
    inner: Arc<Registry>,
}

struct Registry {
    limits: EdgeLimits,
    /// The cap in effect: `max_connections`, lowered to what the open-file limit allows.
    cap: usize,
    epoch: Instant,
    next_id: AtomicU64,
    live: Mutex<HashMap<u64, Arc<ConnState>>>,
    count: AtomicUsize,
    /// Signalled when the last connection closes.
    drained: Notify,
}

/// What the registry, the service, the socket and the watchdog know of one
/// connection. Times are milliseconds since the registry's epoch.
struct ConnState {
    /// Requests being answered.
    in_flight: AtomicUsize,
    /// When a request last started or finished (or the connection opened).
    last_active_ms: AtomicU64,
    /// When the first byte of the next request arrived, while none is in flight
    /// (0: none yet). Cleared when the request starts.
    head_started_ms: AtomicU64,
    /// Signalled to close it now (eviction, end of the shutdown grace).
    close: Notify,
}

impl ConnState {
    /// When the connection times out, if nothing happens before: none while a request
    /// is in flight (its body read has its own timeout).
    fn deadline_ms(&self, limits: &EdgeLimits) -> Option<u64> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let head = self.head_started_ms.load(Ordering::Acquire);
        let idle = self.last_active_ms.load(Ordering::Acquire) + limits.idle_timeout.as_millis() as u64;
        if head == 0 { Some(idle) } else { Some(head + limits.header_read_timeout.as_millis() as u64) }
    }
}

impl Connections {
    /// A registry with `limits`; the cap is lowered to the process's open-file limit
    /// (raised to its hard limit first) minus `reserved_fds`, what the rest of the
    /// process needs (database pool, webhook deliveries, listeners, logs).
    pub fn new(limits: EdgeLimits, reserved_fds: usize) -> Connections {
        let fds = raise_open_file_limit();
        let cap = match fds {
            Some(fds) => limits.max_connections.min(fds.saturating_sub(reserved_fds).max(16)),
            None => limits.max_connections,
        };
        if cap < limits.max_connections {
            tracing::info!(
                "at most {cap} connections at once: the open-file limit is {} (http.max_connections = {})",
                fds.unwrap_or_default(),
                limits.max_connections
            );
        }
        Connections {
            inner: Arc::new(Registry {
                limits,
                cap,
                epoch: Instant::now(),
                next_id: AtomicU64::new(0),
                live: Mutex::new(HashMap::new()),
                count: AtomicUsize::new(0),
                drained: Notify::new(),
            }),
        }
    }

    /// The cap in effect.
    pub fn cap(&self) -> usize {
        self.inner.cap
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.inner.count.load(Ordering::Acquire)
    }

    /// Serves `endpoint` on `listener` until `shutdown` completes, then lets requests in
    /// flight finish for up to `grace` and closes what is left.
    pub async fn serve<E>(
        &self,
        mut listener: impl Accept,
        endpoint: E,
        shutdown: impl Future<Output = ()> + Send,
        grace: Duration,
    ) -> io::Result<()>
    where
        E: Endpoint + 'static,
    {
        let endpoint = Arc::new(endpoint);
        let local = listener.local_addr()?;
        let mut backoff = Backoff::default();
        let builder = Arc::new(self.builder());
        let (stop, stopped) = watch::channel(false);
        tokio::pin!(shutdown);
        loop {
            let accepted = tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => accepted,
            };
            let (socket, peer) = match accepted {
                Ok(accepted) => {
                    backoff.reset();
                    accepted
                }
                Err(err) => {
                    let Some(pause) = backoff.after(&err) else {
                        tracing::debug!(error = %err, "accept failed");
                        continue;
                    };
                    if pause == Backoff::FIRST {
                        tracing::warn!(error = %err, "cannot accept connections: closing quiet ones and backing off");
                    }
                    self.evict_quiet(8);
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(pause) => continue,
                    }
                }
            };
            let Some((id, state)) = self.admit() else {
                refuse(socket);
                continue;
            };
            let _ = socket.set_nodelay(true);
            let connection = Connection {
                registry: self.inner.clone(),
                id,
                state,
                endpoint: endpoint.clone(),
                builder: builder.clone(),
                local: LocalAddr(poem::Addr::SocketAddr(local)),
                remote: RemoteAddr(poem::Addr::SocketAddr(peer)),
                stopped: stopped.clone(),
            };
            tokio::spawn(connection.run(socket));
        }
        drop(listener);
        let _ = stop.send(true);
        let drained = self.inner.drained.notified();
        tokio::pin!(drained);
        // Registered before looking, so that the last connection closing in between is seen.
        drained.as_mut().enable();
        if self.open() > 0 && tokio::time::timeout(grace, drained).await.is_err() {
            let live: Vec<_> = self.inner.live.lock().expect("registry lock").values().cloned().collect();
            for conn in live {
                conn.close.notify_one();
            }
        }
        Ok(())
    }

    fn builder(&self) -> auto::Builder<TokioExecutor> {
        let limits = &self.inner.limits;
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            // The head must fit in the read buffer: a larger one is answered 431.
            .max_buf_size(limits.max_header_bytes.max(8192))
            // Hyper's own timer starts while a connection is idle: ours tells the two apart.
            .header_read_timeout(None);
        builder
            .http2()
            .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
            // Each stream may hold a body being read: a connection gets a few, not 200.
            .max_concurrent_streams(MAX_STREAMS);
        builder
    }

    /// Registers a new connection, making room at the cap; `None` when every
    /// connection is busy.
    fn admit(&self) -> Option<(u64, Arc<ConnState>)> {
        let registry = &self.inner;
        if registry.count.load(Ordering::Acquire) >= registry.cap && self.evict_quiet(1) == 0 {
            return None;
        }
        let state = Arc::new(ConnState {
            in_flight: AtomicUsize::new(0),
            last_active_ms: AtomicU64::new(registry.now_ms()),
            head_started_ms: AtomicU64::new(0),
            close: Notify::new(),
        });
        let id = registry.next_id.fetch_add(1, Ordering::Relaxed);
        registry.live.lock().expect("registry lock").insert(id, state.clone());
        registry.count.fetch_add(1, Ordering::AcqRel);
        Some((id, state))
    }

    /// Closes up to `n` connections that have had no request in flight for at least
    /// [`QUIET`], the longest quiet first; returns how many.
    fn evict_quiet(&self, n: usize) -> usize {
        let registry = &self.inner;
        let quiet_since = registry.now_ms().saturating_sub(QUIET.as_millis() as u64);
        let mut live = registry.live.lock().expect("registry lock");
        let mut quiet: Vec<(u64, u64)> = live
            .iter()
            .filter(|(_, c)| c.in_flight.load(Ordering::Acquire) == 0)
            .map(|(id, c)| (c.last_active_ms.load(Ordering::Acquire), *id))
            .filter(|(at, _)| *at <= quiet_since)
            .collect();
        quiet.sort_unstable();
        let mut evicted = 0;
        for (_, id) in quiet.into_iter().take(n) {
            // Out of the count now, not when its task gets to run: the next admission
            // must not pick the same victim again.
            if let Some(conn) = live.remove(&id) {
                conn.close.notify_one();
                registry.release();
                evicted += 1;
            }
        }
        evicted
    }
}

impl Registry {
    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// One connection fewer.
    fn release(&self) {
        if self.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.drained.notify_waiters();
        }
    }
}

/// Answers a connection the cap has no room for: 503, then the write side closed and
/// what the client sent drained for a moment, so that the answer is not lost to a
/// reset. At most [`REFUSING`] at once; past that the connection is just closed.
fn refuse(socket: TcpStream) {
    const BUSY: &[u8] =
        b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
    static REFUSING_NOW: AtomicUsize = AtomicUsize::new(0);
    if REFUSING_NOW.fetch_add(1, Ordering::AcqRel) >= REFUSING {
        REFUSING_NOW.fetch_sub(1, Ordering::AcqRel);
        return;
    }
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut socket = socket;
        let _ = tokio::time::timeout(Duration::from_millis(500), async {
            socket.write_all(BUSY).await?;
            socket.shutdown().await?;
            let mut sink = [0u8; 1024];
            while socket.read(&mut sink).await? > 0 {}
            Ok::<_, io::Error>(())
        })
        .await;
        REFUSING_NOW.fetch_sub(1, Ordering::AcqRel);
    });
}

/// Connections being refused at once, at most.
const REFUSING: usize = 64;

/// Where connections come from: a TCP listener (or, in tests, a failing one).
pub trait Accept: Send {
    /// The next connection.
    fn accept(&mut self) -> impl Future<Output = io::Result<(TcpStream, SocketAddr)>> + Send;
    /// The address it listens on.
    fn local_addr(&self) -> io::Result<SocketAddr>;
}

impl Accept for TcpListener {
    fn accept(&mut self) -> impl Future<Output = io::Result<(TcpStream, SocketAddr)>> + Send {
        TcpListener::accept(self)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        TcpListener::local_addr(self)
    }
}

/// The pause after an accept error: none for a client's own failure (a connection
/// reset before it was accepted) unless eight come in a row, 10 ms doubling to 1 s
/// while the process is out of file descriptors or kernel memory, where retrying at
/// once would spin.
#[derive(Debug, Default)]
struct Backoff {
    current: Option<Duration>,
    others_in_a_row: u32,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(10);
    const MAX: Duration = Duration::from_secs(1);

    fn after(&mut self, err: &io::Error) -> Option<Duration> {
        if !matches!(err.raw_os_error(), Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)) {
            self.others_in_a_row += 1;
            return (self.others_in_a_row >= 8).then_some(Self::FIRST);
        }
        let next = self.current.map_or(Self::FIRST, |d| (d * 2).min(Self::MAX));
        self.current = Some(next);
        Some(next)
    }

    fn reset(&mut self) {
        self.current = None;
        self.others_in_a_row = 0;
    }
}

/// Raises the soft open-file limit to the hard one (as Go's runtime does); returns the
/// limit in effect.
fn raise_open_file_limit() -> Option<usize> {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let (soft, _hard) = rlimit::Resource::NOFILE.get().ok()?;
    usize::try_from(soft).ok()
}

/// One accepted connection until it closes.
struct Connection<E> {
    registry: Arc<Registry>,
    id: u64,
    state: Arc<ConnState>,
    endpoint: Arc<E>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    local: LocalAddr,
    remote: RemoteAddr,
    stopped: watch::Receiver<bool>,
}

impl<E: Endpoint + 'static> Connection<E> {
    async fn run(self, socket: TcpStream) {
        let Connection { registry, id, state, endpoint, builder, local, remote, mut stopped } = self;
        let _registered = Registered { registry: registry.clone(), id };
        let io = Guarded { inner: socket, state: state.clone(), registry: registry.clone() };
        let service = hyper::service::service_fn({
            let state = state.clone();
            let registry = registry.clone();
            move |req: hyper::Request<Incoming>| {
                let request = Request::from((req, local.clone(), remote.clone(), Scheme::HTTP));
                let endpoint = endpoint.clone();
                let busy = Busy::start(&registry, &state);
                async move {
                    let response: Response = endpoint.get_response(request).await;
                    let (parts, body) = hyper::Response::<BoxBody<Bytes, io::Error>>::from(response).into_parts();
                    // In flight until hyper has written the whole body, not just until
                    // the handler returned.
                    Ok::<_, Infallible>(hyper::Response::from_parts(parts, Tracked { body, _busy: busy }))
                }
            }
        });
        let conn = builder.serve_connection(TokioIo::new(io), service);
        tokio::pin!(conn);
        tokio::select! {
            _ = conn.as_mut() => return,
            () = state.close.notified() => return,
            () = watchdog(&registry, &state) => return,
            _ = stopped.wait_for(|stop| *stop) => {}
        }
        // Shutting down: finish what is in flight, unless told to close.
        conn.as_mut().graceful_shutdown();
        tokio::select! {
            _ = conn => {}
            () = state.close.notified() => {}
            () = watchdog(&registry, &state) => {}
        }
    }
}

/// Completes when the connection has been idle, or in a request head, for longer than
/// allowed. It looks at the connection's state at least every half header-read
/// timeout instead of being woken by every request: requests touch only atomics, and
/// a head that began is cut within one and a half header-read timeouts.
async fn watchdog(registry: &Registry, state: &ConnState) {
    let limits = &registry.limits;
    let look_every = (limits.header_read_timeout / 2).max(Duration::from_millis(10));
    loop {
        let now = registry.now_ms();
        let wait = match state.deadline_ms(limits) {
            Some(at) if at <= now => {
                let phase = if state.head_started_ms.load(Ordering::Acquire) == 0 { "idle" } else { "header-read" };
                tracing::debug!("closing a connection: {phase} timeout");
                return;
            }
            Some(at) => Duration::from_millis(at - now).min(look_every),
            None => look_every,
        };
        tokio::time::sleep(wait).await;
    }
}

/// Unregisters a connection when its task ends, however it ends.
struct Registered {
    registry: Arc<Registry>,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        // An evicted connection left the count when it was chosen.
        let removed = self.registry.live.lock().expect("registry lock").remove(&self.id);
        if removed.is_some() {
            self.registry.release();
        }
    }
}

/// A request in flight on a connection, until its handler finishes or is dropped.
struct Busy {
    registry: Arc<Registry>,
    state: Arc<ConnState>,
}

impl Busy {
    fn start(registry: &Arc<Registry>, state: &Arc<ConnState>) -> Busy {
        state.in_flight.fetch_add(1, Ordering::AcqRel);
        state.head_started_ms.store(0, Ordering::Release);
        state.last_active_ms.store(registry.now_ms(), Ordering::Release);
        Busy { registry: registry.clone(), state: state.clone() }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.state.last_active_ms.store(self.registry.now_ms(), Ordering::Release);
        self.state.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request in flight until it is written (or dropped).
struct Tracked {
    body: BoxBody<Bytes, io::Error>,
    _busy: Busy,
}

impl hyper::body::Body for Tracked {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, io::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

/// The socket of a connection: notes when the first byte of a request head arrives,
/// so that the watchdog applies the header-read timeout from then on.
struct Guarded {
    inner: TcpStream,
    state: Arc<ConnState>,
    registry: Arc<Registry>,
}

impl AsyncRead for Guarded {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let read = ready!(Pin::new(&mut this.inner).poll_read(cx, buf));
        let state = &this.state;
        if buf.filled().len() > before
            && state.in_flight.load(Ordering::Acquire) == 0
            && state.head_started_ms.load(Ordering::Acquire) == 0
        {
            state.head_started_ms.store(this.registry.now_ms().max(1), Ordering::Release);
        }
        Poll::Ready(read)
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A listener that is always out of file descriptors, counting the tries.
    struct Exhausted(Arc<AtomicUsize>);

    impl Accept for Exhausted {
        fn accept(&mut self) -> impl Future<Output = io::Result<(TcpStream, SocketAddr)>> + Send {
            self.0.fetch_add(1, Ordering::Relaxed);
            std::future::ready(Err(io::Error::from_raw_os_error(libc::EMFILE)))
        }

        fn local_addr(&self) -> io::Result<SocketAddr> {
            Ok(SocketAddr::from(([127, 0, 0, 1], 0)))
        }
    }

    #[tokio::test]
    async fn out_of_file_descriptors_the_accept_loop_backs_off_instead_of_spinning() {
        let tries = Arc::new(AtomicUsize::new(0));
        let connections = Connections::new(EdgeLimits::default(), 64);
        let endpoint = poem::endpoint::make_sync(|_| "ok");
        let stop = tokio::time::sleep(Duration::from_millis(500));
        connections.serve(Exhausted(tries.clone()), endpoint, stop, Duration::ZERO).await.unwrap();
        // 10 + 20 + 40 + 80 + 160 ms: six tries in half a second, not millions.
        let tries = tries.load(Ordering::Relaxed);
        assert!((4..=8).contains(&tries), "{tries} accept calls in 500 ms");
    }

    #[test]
    fn only_resource_exhaustion_pauses_and_the_pause_doubles_to_a_second() {
        let mut backoff = Backoff::default();
        let aborted = || io::Error::from(io::ErrorKind::ConnectionAborted);
        assert_eq!((0..7).filter_map(|_| backoff.after(&aborted())).count(), 0, "a client's failure: at once");
        assert_eq!(backoff.after(&aborted()), Some(Backoff::FIRST), "but not eight in a row");
        backoff.reset();
        let pauses: Vec<_> =
            (0..9).filter_map(|_| backoff.after(&io::Error::from_raw_os_error(libc::EMFILE))).collect();
        let ms: Vec<_> = pauses.iter().map(|d| d.as_millis()).collect();
        assert_eq!(ms, [10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        backoff.reset();
        assert_eq!(backoff.after(&io::Error::from_raw_os_error(libc::ENFILE)), Some(Backoff::FIRST));
    }
}
