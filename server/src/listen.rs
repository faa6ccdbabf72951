//! The accept loop: one HTTP/1 connection task per client, with limits that
//! keep a slow or idle client from holding the server's memory. A request's
//! headers must arrive within `header_timeout` of the connection being ready
//! for one (hyper's own timer: it cuts off a slow-loris trickle and closes
//! a kept-alive connection waiting that long); a connection with no handler
//! running and no byte moving for `idle_timeout` (a client that stopped
//! reading) is closed; and at `max_connections` the connection idle longest
//! makes room for the new one, sockets that never sent a request first, so
//! a flood of idle sockets neither grows memory nor locks out the next real
//! request.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tower::ServiceExt;

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { header_timeout: Duration::from_secs(10), idle_timeout: Duration::from_secs(60), max_connections: 1024 }
    }
}

/// What one connection is doing, for the idle check and for eviction.
struct Activity {
    /// Milliseconds since `epoch` of the last byte read or written.
    last: AtomicU64,
    /// Requests whose handler has not answered yet: a handler may think for
    /// longer than the idle timeout without moving a byte.
    busy: AtomicUsize,
    /// Whether a request ever came: a socket that sent none (a flood's) is
    /// evicted before a live page's quiet event stream.
    served: std::sync::atomic::AtomicBool,
    epoch: Instant,
    evict: Notify,
}

impl Activity {
    fn new(epoch: Instant) -> Activity {
        let activity = Activity {
            last: AtomicU64::new(0),
            busy: AtomicUsize::new(0),
            served: std::sync::atomic::AtomicBool::new(false),
            epoch,
            evict: Notify::new(),
        };
        activity.touch();
        activity
    }

    fn touch(&self) {
        self.last.store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn idle_since(&self) -> Instant {
        self.epoch + Duration::from_millis(self.last.load(Ordering::Relaxed))
    }

    fn idle(&self) -> bool {
        self.busy.load(Ordering::Relaxed) == 0
    }

    /// Resolves once the connection has been idle for `limit`.
    async fn idle_for(&self, limit: Duration) {
        loop {
            let due = self.idle_since() + limit;
            if Instant::now() >= due && self.idle() {
                return;
            }
            tokio::time::sleep_until(due.max(Instant::now() + Duration::from_millis(100))).await;
        }
    }
}

/// The open connections, so that a full house can evict its idlest member.
#[derive(Default)]
struct Registry {
    open: Mutex<HashMap<u64, Arc<Activity>>>,
    next: AtomicU64,
    /// Told when a connection closes, so that shutdown can wait for the last.
    closed: Notify,
}

impl Registry {
    fn add(&self, activity: Arc<Activity>) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.open.lock().expect("not poisoned").insert(id, activity);
        id
    }

    fn remove(&self, id: u64) {
        self.open.lock().expect("not poisoned").remove(&id);
        self.closed.notify_waiters();
    }

    fn len(&self) -> usize {
        self.open.lock().expect("not poisoned").len()
    }

    /// Asks the idle connection that moved no byte longest to close, one that
    /// never sent a request first; false when every connection is serving a
    /// request.
    fn evict_idlest(&self) -> bool {
        let open = self.open.lock().expect("not poisoned");
        let idlest = open
            .values()
            .filter(|a| a.idle())
            .min_by_key(|a| (a.served.load(Ordering::Relaxed), a.last.load(Ordering::Relaxed)));
        match idlest {
            Some(activity) => {
                activity.evict.notify_one();
                true
            }
            None => false,
        }
    }
}

/// A socket that records when bytes last moved.
struct Tracked {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets the
/// requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let registry = Arc::new(Registry::default());
    let (stop, stopping) = watch::channel(false);
    let epoch = Instant::now();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors or memory: wait instead of spinning.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        while registry.len() >= limits.max_connections {
            if registry.evict_idlest() {
                tracing::debug!(max = limits.max_connections, "at the connection limit: closing the idlest connection");
            }
            // Wait for one to close (the evicted one, or any when all are busy).
            let closed = registry.closed.notified();
            if registry.len() < limits.max_connections {
                break;
            }
            let _ = tokio::time::timeout(Duration::from_millis(200), closed).await;
        }
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::new(epoch));
        let id = registry.add(activity.clone());
        let connection = connection(&http, stream, peer, app.clone(), activity, limits, stopping.clone());
        let registry = registry.clone();
        tokio::spawn(async move {
            connection.await;
            registry.remove(id);
        });
    }
    drop(listener);
    let _ = stop.send(true);
    while registry.len() > 0 {
        let closed = registry.closed.notified();
        if registry.len() == 0 {
            break;
        }
        closed.await;
    }
    Ok(())
}

fn connection(
    http: &hyper::server::conn::http1::Builder,
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    activity: Arc<Activity>,
    limits: Limits,
    mut stopping: watch::Receiver<bool>,
) -> impl Future<Output = ()> + Send + 'static {
    let tracker = activity.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        let busy = Busy::start(tracker.clone());
        let app = app.clone();
        async move {
            let response = app.oneshot(request).await;
            drop(busy);
            response
        }
    });
    let conn = http.serve_connection(TokioIo::new(Tracked { stream, activity: activity.clone() }), service);
    async move {
        tokio::pin!(conn);
        let mut draining = false;
        loop {
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                    return;
                }
                () = activity.evict.notified() => return,
                () = activity.idle_for(limits.idle_timeout) => return,
                _ = stopping.wait_for(|stop| *stop), if !draining => {
                    // Finishes the request in flight, then closes.
                    conn.as_mut().graceful_shutdown();
                    draining = true;
                }
            }
        }
    }
}

/// Marks a request in flight on its connection for as long as it lives.
struct Busy(Arc<Activity>);

impl Busy {
    fn start(activity: Arc<Activity>) -> Busy {
        activity.busy.fetch_add(1, Ordering::Relaxed);
        activity.served.store(true, Ordering::Relaxed);
        Busy(activity)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.busy.fetch_sub(1, Ordering::Relaxed);
    }
}
