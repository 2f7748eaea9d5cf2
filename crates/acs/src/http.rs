//! The HTTP/1.1 shell of the ACS (hyper 1): one task per TCP connection,
//! one CWMP session per connection, found again by its cookie when a CPE
//! reconnects mid-session (TR-069 3.4.1).
//!
//! Per request: only `POST` (405 otherwise); CPE authentication before the
//! body is read (so an `Expect: 100-continue` client gets its 401 at once
//! and sends the body only when authenticated: hyper sends `100 Continue`
//! when the body is first polled); the body is read with a size limit
//! (413) and a timeout (408); then [`Acs::handle_post`] runs in the
//! connection's task. Idle connections are closed by hyper's header-read
//! timeout and idle sessions by a reaper, which requeues their tasks.
//!
//! `handle_post` hands the session's writes to the data directory's
//! timeline writer and awaits their commit. A task the session asks for
//! (`NeedTasks`) comes from those claimed with the Inform when it can, and
//! is otherwise claimed on the blocking pool; the short reads that
//! identify the CPE run inline: a hop to the blocking pool per POST cost
//! more than that work
//! (two thread wake-ups per message; the Inform benchmark of issue 6
//! measured it). The reaper and shutdown, which walk every session, stay
//! on the blocking pool.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::header::{
    ALLOW, AUTHORIZATION, CONTENT_TYPE, COOKIE, RETRY_AFTER, SET_COOKIE, WWW_AUTHENTICATE,
};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use phoneprov_cwmp::session::{cookie_from_header, set_cookie_header, CONTENT_TYPE as CWMP_CT};
use tokio::net::{TcpListener, TcpStream};

use crate::acs::{Acs, SessionEntry};
use crate::auth::AuthOutcome;

/// What one connection knows.
struct ConnCtx {
    peer: SocketAddr,
    /// The MAC of the verified client certificate (HTTPS only).
    cert_mac: Option<phoneprov_store::Mac>,
    authenticated: AtomicBool,
    entry: Mutex<Option<Arc<SessionEntry>>>,
}

fn respond(status: u16, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r
}

/// Any stream an ACS connection can run on (plain TCP, TLS).
pub trait AcsIo: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> AcsIo for T {}

/// A connection after its [`Upgrade`]: the stream, and the MAC of the
/// client certificate the handshake verified (R-HTTPS-5), if any: every
/// Inform on it must then be that device's.
pub struct Upgraded {
    /// The stream to serve.
    pub io: Box<dyn AcsIo>,
    /// The verified client certificate's MAC.
    pub cert_mac: Option<phoneprov_store::Mac>,
}

/// Turns an accepted TCP connection into the stream to serve: the HTTPS
/// listener's TLS handshake (`[listen] acs_tls`), given by the server so
/// the ACS uses its certificates and client-certificate policy. `None`
/// drops the connection (the handshake failed; the server logs why).
pub type Upgrade = Arc<
    dyn Fn(TcpStream, SocketAddr) -> Pin<Box<dyn Future<Output = Option<Upgraded>> + Send>>
        + Send
        + Sync,
>;

/// Accepts on `l`, or never when there is no such listener.
async fn accept_on(l: Option<&TcpListener>) -> std::io::Result<(TcpStream, SocketAddr)> {
    match l {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

impl Acs {
    /// Serves CPEs on `listener` until `shutdown` completes, then stops
    /// accepting, lets open requests finish (up to 5 s) and requeues the
    /// tasks of every unfinished session.
    pub async fn serve(self, listener: TcpListener, shutdown: impl Future<Output = ()>) {
        self.serve_listeners(Some(listener), None, shutdown).await;
    }

    /// [`serve`](Self::serve) on a plain listener and/or an HTTPS one
    /// (`tls`: the listener and its [`Upgrade`]); one session table, one
    /// reaper, one shutdown for both, so a CPE may move between them.
    pub async fn serve_listeners(
        self,
        plain: Option<TcpListener>,
        tls: Option<(TcpListener, Upgrade)>,
        shutdown: impl Future<Output = ()>,
    ) {
        let graceful = GracefulShutdown::new();
        let idle = self.inner.settings.idle_timeout();
        let reaper = {
            let acs = self.clone();
            let tick = (idle / 4).clamp(Duration::from_millis(50), Duration::from_secs(5));
            tokio::spawn(async move {
                let mut iv = tokio::time::interval(tick);
                loop {
                    iv.tick().await;
                    let acs = acs.clone();
                    let _ = tokio::task::spawn_blocking(move || acs.reap()).await;
                }
            })
        };
        tokio::pin!(shutdown);
        loop {
            let (accepted, upgrade) = tokio::select! {
                a = accept_on(plain.as_ref()) => (a, None),
                a = accept_on(tls.as_ref().map(|t| &t.0)) => (a, tls.as_ref().map(|t| t.1.clone())),
                () = &mut shutdown => break,
            };
            match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let acs = self.clone();
                    let watcher = graceful.watcher();
                    tokio::spawn(async move {
                        let up = match upgrade {
                            None => Upgraded {
                                io: Box::new(stream),
                                cert_mac: None,
                            },
                            Some(up) => match up(stream, peer).await {
                                Some(up) => up,
                                None => return,
                            },
                        };
                        acs.serve_connection(up, peer, idle, watcher).await;
                    });
                }
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "ACS accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        drop(plain);
        drop(tls);
        reaper.abort();
        let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
        let acs = self.clone();
        let _ = tokio::task::spawn_blocking(move || acs.end_all()).await;
    }

    /// One CPE connection: HTTP/1.1 until it closes, then its session is
    /// let go.
    async fn serve_connection(
        &self,
        up: Upgraded,
        peer: SocketAddr,
        idle: Duration,
        watcher: hyper_util::server::graceful::Watcher,
    ) {
        let Upgraded { io, cert_mac } = up;
        let ctx = Arc::new(ConnCtx {
            peer,
            cert_mac,
            authenticated: AtomicBool::new(false),
            entry: Mutex::new(None),
        });
        let acs = self.clone();
        let svc_ctx = ctx.clone();
        let service = service_fn(move |req| {
            let acs = acs.clone();
            let ctx = svc_ctx.clone();
            async move { Ok::<_, Infallible>(acs.handle(req, &ctx).await) }
        });
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(idle)
            .serve_connection(TokioIo::new(io), service);
        if let Err(e) = watcher.watch(conn).await {
            tracing::debug!(peer = %ctx.peer, error = %e, "CWMP connection ended");
        }
        let entry = ctx.entry.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(entry) = entry {
            self.connection_closed(&entry);
        }
    }

    async fn handle(&self, req: Request<Incoming>, ctx: &ConnCtx) -> Response<Full<Bytes>> {
        if req.method() != Method::POST {
            let mut r = respond(405, b"the ACS URL takes CWMP POSTs only\n".to_vec());
            r.headers_mut()
                .insert(ALLOW, "POST".parse().expect("static"));
            return r;
        }
        let auth = &self.inner.auth;
        let header = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|h| h.to_str().ok());
        if auth.required() && (header.is_some() || !ctx.authenticated.load(Ordering::Acquire)) {
            const DOOR: &str = "acs";
            let ip = ctx.peer.ip();
            let guard = self.inner.guard.get();
            // The throttle (issue 12 item 3): an address past its free
            // failures is refused unchecked until its delay has passed.
            if let (Some(g), Some(_)) = (guard, header) {
                if let Some(wait) = g.gate(DOOR, ip) {
                    let mut r = respond(
                        429,
                        b"too many failed authentications from this address; retry later\n"
                            .to_vec(),
                    );
                    r.headers_mut().insert(
                        RETRY_AFTER,
                        phoneprov_httpauth::retry_after_secs(wait).into(),
                    );
                    return r;
                }
            }
            let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
            match auth.check("POST", target, header) {
                AuthOutcome::Ok(_) => {
                    if let (Some(g), Some(_)) = (guard, header) {
                        g.succeeded(ip);
                    }
                    ctx.authenticated.store(true, Ordering::Release);
                }
                AuthOutcome::Challenge(values, stale) => {
                    // Wrong credentials (not a first leg without any, nor
                    // a stale nonce): logged, counted, the 401 held back.
                    if let (Some(g), Some(h), false) = (guard, header, stale) {
                        let user = phoneprov_httpauth::throttle::claimed_user(h);
                        let hold = g.failed(DOOR, ip, user.as_deref());
                        if !hold.is_zero() {
                            tokio::time::sleep(hold).await;
                        }
                    }
                    ctx.authenticated.store(false, Ordering::Release);
                    let mut r = respond(401, Vec::new());
                    for v in values {
                        if let Ok(v) = v.parse() {
                            r.headers_mut().append(WWW_AUTHENTICATE, v);
                        }
                    }
                    return r;
                }
            }
        }
        let cookie = req
            .headers()
            .get_all(COOKIE)
            .iter()
            .filter_map(|h| h.to_str().ok())
            .find_map(|h| cookie_from_header(h).map(str::to_string));
        let limit = self.inner.settings.body_limit;
        let idle = self.inner.settings.idle_timeout();
        let body = match tokio::time::timeout(idle, Limited::new(req.into_body(), limit).collect())
            .await
        {
            Ok(Ok(b)) => b.to_bytes(),
            Ok(Err(e)) if e.is::<LengthLimitError>() => {
                return respond(413, format!("CWMP body over {limit} bytes\n").into_bytes())
            }
            Ok(Err(_)) => return respond(400, Vec::new()),
            Err(_) => return respond(408, Vec::new()),
        };
        // Session: this connection's, else the cookie's, else a new one.
        let (entry, new) = {
            let mut slot = ctx.entry.lock().unwrap_or_else(|e| e.into_inner());
            let live = slot.clone().filter(|e| !e.dead.load(Ordering::Acquire));
            let found = live.or_else(|| cookie.as_deref().and_then(|c| self.lookup_session(c)));
            let (entry, new) = match found {
                Some(e) => (e, false),
                None => (self.new_session(), true),
            };
            *slot = Some(entry.clone());
            (entry, new)
        };
        let out = self
            .handle_post(
                &entry,
                &body,
                ctx.peer,
                ctx.cert_mac,
                auth.required() && ctx.authenticated.load(Ordering::Acquire),
            )
            .await;
        let empty = out.body.is_empty();
        let mut r = respond(out.status, out.body);
        if !empty {
            r.headers_mut()
                .insert(CONTENT_TYPE, CWMP_CT.parse().expect("static"));
        }
        if new && !entry.dead.load(Ordering::Acquire) {
            if let Ok(v) = set_cookie_header(&entry.cookie).parse() {
                r.headers_mut().insert(SET_COOKIE, v);
            }
        }
        r
    }
}
