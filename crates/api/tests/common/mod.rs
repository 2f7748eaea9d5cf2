//! Shared test helpers: an API on a temporary data directory, one-shot
//! requests, and a tiny "phone" HTTP listener that records what it gets.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, Uri};
use axum::Router;
use http_body_util::BodyExt as _;
use phoneprov_api::{router, ApiState};
use tower::ServiceExt as _;

pub struct Api {
    pub dir: tempfile::TempDir,
    pub app: Router,
    pub token: String,
}

pub fn api() -> Api {
    let dir = tempfile::tempdir().unwrap();
    let state = ApiState::open(dir.path()).unwrap();
    let token = phoneprov_api::ensure_admin_token(dir.path()).unwrap();
    Api {
        app: router(state),
        dir,
        token,
    }
}

/// [`api`] with its inventory in a fresh database of the test process's
/// PostgreSQL cluster (`phoneprov_testpeers::pg`). Build it outside a
/// tokio runtime and drop it there too: the sync PostgreSQL client runs
/// its own.
pub fn api_pg() -> Api {
    let dir = tempfile::tempdir().unwrap();
    let db = phoneprov_store::Database::Postgres(phoneprov_testpeers::pg().fresh_db());
    let state = ApiState::open_db(dir.path(), &db).unwrap();
    let token = phoneprov_api::ensure_admin_token(dir.path()).unwrap();
    Api {
        app: router(state),
        dir,
        token,
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Api {
    /// A request with the admin token.
    pub async fn call(&self, method: Method, uri: &str, body: Option<(&str, Vec<u8>)>) -> Reply {
        let auth = format!("Bearer {}", self.token);
        self.call_auth(method, uri, Some(&auth), body).await
    }

    pub async fn call_auth(
        &self,
        method: Method,
        uri: &str,
        auth: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let req = match body {
            Some((ctype, bytes)) => req.header("content-type", ctype).body(Body::from(bytes)),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn json(&self, method: Method, uri: &str, v: serde_json::Value) -> Reply {
        self.call(
            method,
            uri,
            Some(("application/json", v.to_string().into_bytes())),
        )
        .await
    }
}

/// One request a fake phone received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    pub uri: Uri,
    pub content_type: Option<String>,
    pub body: Bytes,
}

/// A fake phone web server on 127.0.0.1:free-port answering `status` to
/// everything and recording each request.
pub async fn fake_phone(status: StatusCode) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let rec = seen.clone();
    let app = Router::new().fallback(move |req: Request<Body>| {
        let rec = rec.clone();
        async move {
            let (parts, body) = req.into_parts();
            let body = body.collect().await.unwrap().to_bytes();
            rec.lock().unwrap().push(Seen {
                method: parts.method,
                uri: parts.uri,
                content_type: parts
                    .headers
                    .get("content-type")
                    .map(|v| v.to_str().unwrap().to_string()),
                body,
            });
            (status, "resync accepted")
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr.to_string(), seen)
}
