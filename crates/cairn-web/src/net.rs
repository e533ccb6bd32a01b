//! Calls to the Cairn server. Only the background uses this (extension pages ask
//! the background), so the token never leaves the service worker.

use cairn_protocol::api::{ErrorBody, PROTOCOL_HEADER, PROTOCOL_VERSION};
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Request, RequestInit, Response};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(request: &Request) -> js_sys::Promise;
    #[wasm_bindgen(js_namespace = AbortSignal, js_name = timeout)]
    fn abort_signal_timeout(ms: u32) -> web_sys::AbortSignal;
}

/// Why a server call failed, worded so the popup can show it as is.
#[derive(Debug, Clone, PartialEq)]
pub enum NetError {
    /// No answer: offline, server down, wrong URL, timeout. Worth retrying.
    Unreachable(String),
    /// 401: the token is wrong, expired or revoked. Signing in again fixes it.
    Unauthorized(String),
    /// 429 or 503: come back later.
    Busy(String),
    /// Any other error answer, with the server's code and message.
    Refused { status: u16, code: String, message: String },
    /// An answer we could not read: probably not a Cairn server.
    BadAnswer(String),
}

impl NetError {
    pub fn is_transient(&self) -> bool {
        matches!(self, NetError::Unreachable(_) | NetError::Busy(_))
    }
}

impl std::fmt::Display for NetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NetError::Unreachable(server) => {
                write!(f, "Cannot reach the Cairn server at {server}; changes stay queued and are sent when it answers")
            }
            NetError::Unauthorized(m) => {
                write!(f, "The server did not accept your sign-in ({m}); sign in again in Cairn's options")
            }
            NetError::Busy(m) => write!(f, "The server is busy ({m}); Cairn will retry"),
            NetError::Refused { status, code, message } => {
                write!(f, "The server refused the request ({status} {code}): {message}")
            }
            NetError::BadAnswer(m) => {
                write!(f, "The server's answer could not be read ({m}); is this the URL of a Cairn server?")
            }
        }
    }
}

pub struct Server<'a> {
    pub base_url: &'a str,
    pub token: Option<&'a str>,
}

const TIMEOUT_MS: u32 = 15_000;

impl Server<'_> {
    /// Follows a server-sent event stream until it ends, calling `on_event` with
    /// each event. Ends with `Ok` when the server closed it, an error when it could
    /// not be opened (`Unauthorized` once the token is revoked) or broke off.
    pub async fn follow(
        &self,
        path: &str,
        mut on_event: impl FnMut(cairn_protocol::sse::StreamEvent),
    ) -> Result<(), NetError> {
        let unreachable = || NetError::Unreachable(self.base_url.to_string());
        // No timeout: the stream stays open as long as the server keeps it.
        let response = self.fetch("GET", path, "text/event-stream", None, None).await?;
        match response.status() {
            200 => {}
            401 => return Err(NetError::Unauthorized("the live stream refused the token".into())),
            429 | 502 | 503 | 504 => return Err(NetError::Busy(format!("HTTP {}", response.status()))),
            status => {
                return Err(NetError::Refused { status, code: "http".into(), message: format!("HTTP {status}") });
            }
        }
        // The body's reader, through Reflect: one call site, no extra web-sys features.
        let get = |target: &JsValue, name: &str| js_sys::Reflect::get(target, &JsValue::from_str(name));
        let body = get(&response, "body").map_err(|_| unreachable())?;
        let reader = get(&body, "getReader")
            .and_then(|f| f.dyn_into::<js_sys::Function>())
            .and_then(|f| f.call0(&body))
            .map_err(|_| unreachable())?;
        let read = get(&reader, "read").and_then(|f| f.dyn_into::<js_sys::Function>()).map_err(|_| unreachable())?;
        let mut parser = cairn_protocol::sse::EventParser::default();
        let mut events = Vec::new();
        loop {
            let promise: js_sys::Promise = read.call0(&reader).map_err(|_| unreachable())?.unchecked_into();
            let chunk = JsFuture::from(promise).await.map_err(|_| unreachable())?;
            if get(&chunk, "done").ok().and_then(|d| d.as_bool()).unwrap_or(true) {
                return Ok(());
            }
            let bytes = js_sys::Uint8Array::new(&get(&chunk, "value").map_err(|_| unreachable())?).to_vec();
            parser.feed(&bytes, &mut events);
            for e in events.drain(..) {
                on_event(e);
            }
        }
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str, timeout_ms: Option<u32>) -> Result<T, NetError> {
        self.call("GET", path, None, timeout_ms).await
    }

    pub async fn delete(&self, path: &str) -> Result<(), NetError> {
        self.call("DELETE", path, None, None).await
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, NetError> {
        self.send_json("POST", path, body).await
    }

    pub async fn put<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, NetError> {
        self.send_json("PUT", path, body).await
    }

    async fn send_json<B: Serialize, T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: &B,
    ) -> Result<T, NetError> {
        let json = serde_json::to_string(body).map_err(|e| NetError::BadAnswer(e.to_string()))?;
        self.call(method, path, Some(json), None).await
    }

    /// Sends one request to the server with the protocol header and the token
    /// (never cookies) and returns the response, whatever its status.
    async fn fetch(
        &self,
        method: &str,
        path: &str,
        accept: &str,
        json_body: Option<&str>,
        signal: Option<&web_sys::AbortSignal>,
    ) -> Result<Response, NetError> {
        let unreachable = || NetError::Unreachable(self.base_url.to_string());
        let headers = Headers::new().map_err(|_| unreachable())?;
        let _ = headers.set("accept", accept);
        let _ = headers.set(PROTOCOL_HEADER, &PROTOCOL_VERSION.to_string());
        if let Some(token) = self.token {
            let _ = headers.set("authorization", &format!("Bearer {token}"));
        }
        let init = RequestInit::new();
        init.set_method(method);
        init.set_headers(&headers);
        // Never send cookies to the server: the bearer token is the only credential.
        init.set_credentials(web_sys::RequestCredentials::Omit);
        init.set_signal(signal);
        if let Some(body) = json_body {
            let _ = headers.set("content-type", "application/json");
            init.set_body(&JsValue::from_str(body));
        }
        let url = format!("{}{}", self.base_url.trim_end_matches('/'), path);
        let request = Request::new_with_str_and_init(&url, &init).map_err(|_| unreachable())?;
        JsFuture::from(global_fetch(&request)).await.map_err(|_| unreachable())?.dyn_into().map_err(|_| unreachable())
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<String>,
        timeout_ms: Option<u32>,
    ) -> Result<T, NetError> {
        let unreachable = || NetError::Unreachable(self.base_url.to_string());
        let timeout = abort_signal_timeout(timeout_ms.unwrap_or(TIMEOUT_MS));
        let response = self.fetch(method, path, "application/json", body.as_deref(), Some(&timeout)).await?;
        let text = JsFuture::from(response.text().map_err(|_| unreachable())?)
            .await
            .map_err(|_| unreachable())?
            .as_string()
            .unwrap_or_default();
        let status = response.status();
        if (200..300).contains(&status) {
            // An empty answer (204) reads as JSON null, which is what `()` expects.
            let body = if text.trim().is_empty() { "null" } else { text.as_str() };
            return serde_json::from_str(body).map_err(|e| NetError::BadAnswer(e.to_string()));
        }
        let (code, message) = match serde_json::from_str::<ErrorBody>(&text) {
            Ok(b) => (b.error.code, b.error.message),
            Err(_) => ("http".to_string(), format!("HTTP {status}")),
        };
        Err(match status {
            401 => NetError::Unauthorized(message),
            429 | 502 | 503 | 504 => NetError::Busy(message),
            _ => NetError::Refused { status, code, message },
        })
    }
}
