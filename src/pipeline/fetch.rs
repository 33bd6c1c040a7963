//! Fetch stage: a feed URL -> bytes, politely.
//!
//! Owns the HTTP client (one for the whole process, so connections are
//! reused), conditional GET with the validators exactly as the server sent
//! them, the size cap counted after decompression, and timeouts. Knows
//! nothing about XML: it hands a [`Fetched`] to `pipeline::parse`. Never
//! retries; the scheduler owns when to try again.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{
    CONTENT_TYPE, ETAG, HeaderMap, HeaderValue, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
    USER_AGENT,
};
use tokio::io::AsyncReadExt;
use url::Url;

use crate::config::FetchConfig;

/// Validators from the previous response, sent back verbatim.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// What a fetch brought back.
#[derive(Debug)]
pub enum Fetched {
    /// A 2xx body, decompressed.
    Body {
        status: u16,
        body: Vec<u8>,
        content_type: Option<String>,
        validators: Validators,
    },
    /// 304: our copy is current.
    NotModified { validators: Validators },
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("could not build the HTTP client: {0}")]
    Client(String),
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("HTTP {status}{}", reason_suffix(*.status))]
    Status { status: u16 },
    #[error("body larger than the {cap}-byte limit (after decompression)")]
    TooLarge { cap: usize },
    #[error("transfer failed: {0}")]
    Transfer(String),
    #[error("cannot read {path}: {source}")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

fn reason_suffix(status: u16) -> String {
    StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .map(|r| format!(" {r}"))
        .unwrap_or_default()
}

impl FetchError {
    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            FetchError::Status { status } => Some(*status),
            _ => None,
        }
    }
}

/// The process-wide feed fetcher.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    max_body: usize,
    timeout: Duration,
}

impl Fetcher {
    pub fn new(cfg: &FetchConfig) -> Result<Self, FetchError> {
        let client = reqwest::Client::builder()
            .user_agent(cfg.user_agent.clone())
            .connect_timeout(cfg.connect_timeout)
            // The total timeout covers the body too, so a server that drips
            // one byte a second is cut off.
            .timeout(cfg.timeout)
            .redirect(reqwest::redirect::Policy::limited(10))
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .map_err(|e| FetchError::Client(e.to_string()))?;
        Ok(Fetcher {
            client,
            max_body: cfg.max_body_bytes,
            timeout: cfg.timeout,
        })
    }

    /// Fetches `url`, conditionally when `validators` are known.
    pub async fn fetch(
        &self,
        url: &Url,
        validators: &Validators,
        user_agent: Option<&str>,
    ) -> Result<Fetched, FetchError> {
        if url.scheme() == "file" {
            return self.fetch_file(url).await;
        }
        let mut headers = HeaderMap::new();
        let mut put = |name, value: Option<&str>| {
            if let Some(v) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
                headers.insert(name, v);
            }
        };
        put(IF_NONE_MATCH, validators.etag.as_deref());
        put(IF_MODIFIED_SINCE, validators.last_modified.as_deref());
        put(USER_AGENT, user_agent);
        let mut resp = self
            .client
            .get(url.clone())
            .headers(headers)
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        let status = resp.status();
        let header = |name| {
            resp.headers()
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .map(str::to_string)
        };
        let got = Validators {
            etag: header(ETAG),
            last_modified: header(LAST_MODIFIED),
        };
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified { validators: got });
        }
        if !status.is_success() {
            return Err(FetchError::Status {
                status: status.as_u16(),
            });
        }
        let content_type = header(CONTENT_TYPE);
        // Count bytes as they arrive: reqwest has already decompressed them,
        // so a gzip bomb stops at the cap, not at its compressed size.
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.transport_error(e))? {
            if body.len() + chunk.len() > self.max_body {
                return Err(FetchError::TooLarge { cap: self.max_body });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched::Body {
            status: status.as_u16(),
            body,
            content_type,
            validators: got,
        })
    }

    async fn fetch_file(&self, url: &Url) -> Result<Fetched, FetchError> {
        let path = url.to_file_path().map_err(|()| FetchError::File {
            path: url.to_string(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a local path"),
        })?;
        let file_err = |source| FetchError::File {
            path: path.display().to_string(),
            source,
        };
        let file = tokio::fs::File::open(&path).await.map_err(file_err)?;
        let mut body = Vec::new();
        file.take(self.max_body as u64 + 1)
            .read_to_end(&mut body)
            .await
            .map_err(file_err)?;
        if body.len() > self.max_body {
            return Err(FetchError::TooLarge { cap: self.max_body });
        }
        Ok(Fetched::Body {
            status: 200,
            body,
            content_type: None,
            validators: Validators::default(),
        })
    }

    fn transport_error(&self, e: reqwest::Error) -> FetchError {
        if e.is_timeout() {
            FetchError::Timeout(self.timeout)
        } else if e.is_connect() {
            FetchError::Connect(error_chain(&e))
        } else {
            FetchError::Transfer(error_chain(&e))
        }
    }
}

/// reqwest's top-level message is vague ("error sending request"); the
/// cause chain says what actually happened (refused, DNS, TLS...).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}
