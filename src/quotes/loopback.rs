//! A canned HTTP server on `127.0.0.1:0` for the quote clients' tests.
//!
//! Owns nothing but test plumbing: it serves fixture bodies with a chosen
//! status and headers, and records every request (target and headers) so a
//! test can check what a client sent, or that it sent nothing. The server
//! task stops when the [`Loopback`] is dropped.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use tokio::task::JoinHandle;
use url::Url;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Path and query, as sent (`/api/v1/quote?symbol=AAPL`).
    pub target: String,
    pub headers: HeaderMap,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

#[derive(Clone)]
struct Canned {
    path_prefix: String,
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

#[derive(Default)]
struct Shared {
    routes: Vec<Canned>,
    requests: Vec<Recorded>,
}

type SharedState = Arc<Mutex<Shared>>;

pub struct Loopback {
    base: Url,
    state: SharedState,
    task: JoinHandle<()>,
}

impl Loopback {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("bound socket has an address");
        let state: SharedState = Arc::default();
        let app = Router::new()
            .fallback(answer)
            .with_state(Arc::clone(&state));
        let task = tokio::spawn(async move {
            // Ends only when the test drops the Loopback and aborts this task.
            let _ = axum::serve(listener, app).await;
        });
        Loopback {
            base: Url::parse(&format!("http://{addr}/")).expect("valid loopback URL"),
            state,
            task,
        }
    }

    pub fn base(&self) -> Url {
        self.base.clone()
    }

    /// Answers requests whose path starts with `path_prefix`; a later call
    /// for the same prefix replaces the earlier answer.
    pub fn serve(&self, path_prefix: &str, status: u16, content_type: &str, body: &[u8]) {
        self.serve_with_headers(path_prefix, status, &[("content-type", content_type)], body);
    }

    pub fn serve_with_headers(
        &self,
        path_prefix: &str,
        status: u16,
        headers: &[(&str, &str)],
        body: &[u8],
    ) {
        let mut shared = self.lock();
        shared.routes.retain(|r| r.path_prefix != path_prefix);
        shared.routes.push(Canned {
            path_prefix: path_prefix.to_owned(),
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.to_vec(),
        });
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Loopback {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(State(state): State<SharedState>, request: Request) -> Response {
    let target = request
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap_or_default();
    let canned = {
        let mut shared = state.lock().unwrap_or_else(|p| p.into_inner());
        shared.requests.push(Recorded {
            target: target.clone(),
            headers: request.headers().clone(),
        });
        shared
            .routes
            .iter()
            .find(|r| request.uri().path().starts_with(&r.path_prefix))
            .cloned()
    };
    let Some(canned) = canned else {
        let mut response = Response::new(Body::from(format!("no canned answer for {target}")));
        *response.status_mut() = StatusCode::NOT_IMPLEMENTED;
        return response;
    };
    let mut response = Response::new(Body::from(canned.body));
    *response.status_mut() = StatusCode::from_u16(canned.status).expect("valid status in test");
    for (name, value) in canned.headers {
        response.headers_mut().insert(
            HeaderName::try_from(name).expect("valid header name in test"),
            HeaderValue::try_from(value).expect("valid header value in test"),
        );
    }
    response
}
