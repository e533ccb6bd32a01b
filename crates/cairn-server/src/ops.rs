//! What keeps the server safe to run: CORS for the extension only, security
//! headers, per-token rate limits (and each token's last use), failed sign-ins
//! throttled per username and address, request timeouts, readiness and
//! Prometheus metrics.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::{tokens, AppState};

const ALLOWED_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";
const ALLOWED_HEADERS: &str = "authorization, content-type, cairn-protocol, if-match, prefer, accept";
const EXPOSED_HEADERS: &str = "etag, location, link, retry-after, content-location, allow, cairn-protocol";

/// CORS for exactly one origin, the extension's. A request from any other
/// origin gets no CORS headers at all (the browser then refuses to hand the
/// answer to the page); the `Origin` header is compared, never echoed blindly.
pub async fn cors(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let allowed =
        request.headers().get(header::ORIGIN).is_some_and(|o| o.as_bytes() == state.config.extension_origin.as_bytes());
    let preflight =
        request.method() == Method::OPTIONS && request.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = if allowed && preflight {
        let mut r = StatusCode::NO_CONTENT.into_response();
        let h = r.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(ALLOWED_METHODS));
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static(ALLOWED_HEADERS));
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        r
    } else {
        next.run(request).await
    };
    let h = response.headers_mut();
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    if allowed {
        if let Ok(origin) = HeaderValue::from_str(&state.config.extension_origin) {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSED_HEADERS));
        }
    }
    response
}

/// Headers every response carries: no MIME sniffing, no `Referer` sent on from
/// anything the server returns; `Cache-Control: no-store` when the answer is for
/// one person (the request carried a token) or carries a token (sign-in), so no
/// browser or proxy cache keeps it; HSTS when the server is reached over https.
pub async fn security_headers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let personal = request.headers().contains_key(header::AUTHORIZATION) || request.uri().path() == "/v1/session";
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if personal {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if state.config.public_url.as_deref().is_some_and(|url| url.to_ascii_lowercase().starts_with("https://")) {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    response
}

/// Token buckets, one per bearer token (keyed by its hash, never the token).
#[derive(Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// Takes one request from `key`'s bucket; on refusal, the seconds until one is available.
    pub fn check(&self, key: &str, per_second: f64, burst: f64, now: Instant) -> Result<(), u64> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > 100_000 {
            // Forget full buckets so that a flood of random tokens cannot grow this without bound.
            buckets.retain(|_, (level, at)| *level + now.duration_since(*at).as_secs_f64() * per_second < burst);
        }
        let (level, at) = buckets.entry(key.to_string()).or_insert((burst, now));
        *level = (*level + now.duration_since(*at).as_secs_f64() * per_second).min(burst);
        *at = now;
        if *level >= 1.0 {
            *level -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *level) / per_second).ceil().max(1.0) as u64)
        }
    }
}

/// Failed sign-ins in the last [`SignInThrottle::WINDOW`], per username and per
/// client address (keyed by a hash, so no username is kept in memory). Once a
/// key has [`SignInThrottle::MAX_FAILURES`] in the window every sign-in for it
/// is refused, before any password is checked.
#[derive(Default)]
pub struct SignInThrottle {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl SignInThrottle {
    pub const MAX_FAILURES: usize = 10;
    pub const WINDOW: Duration = Duration::from_secs(15 * 60);

    /// The keys a sign-in is counted under.
    pub fn keys(username: &str, address: Option<std::net::IpAddr>) -> Vec<String> {
        let mut keys = vec![tokens::hash(&format!("user:{}", username.to_lowercase()))];
        keys.extend(address.map(|ip| format!("addr:{ip}")));
        keys
    }

    /// `Err(seconds)` until the first of `keys` that is throttled may try again.
    pub fn check(&self, keys: &[String], now: Instant) -> Result<(), u64> {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let wait = keys
            .iter()
            .filter_map(|key| failures.get(key))
            .filter(|times| times.len() >= Self::MAX_FAILURES)
            .filter_map(|times| (times[0] + Self::WINDOW).checked_duration_since(now))
            .max();
        match wait {
            Some(wait) if !wait.is_zero() => Err(wait.as_secs_f64().ceil().max(1.0) as u64),
            _ => Ok(()),
        }
    }

    pub fn record_failure(&self, keys: &[String], now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() > 100_000 {
            // Forget keys whose failures are all old, so that random usernames cannot grow this without bound.
            failures.retain(|_, times| times.back().is_some_and(|t| now.duration_since(*t) < Self::WINDOW));
        }
        for key in keys {
            let times = failures.entry(key.clone()).or_default();
            times.push_back(now);
            while times.len() > Self::MAX_FAILURES {
                times.pop_front();
            }
        }
    }

    /// A correct password forgets the username's failures (not the address's).
    pub fn forget(&self, key: &str) {
        self.failures.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
    }
}

/// When each token was last recorded as used ([`Store::touch_token`](crate::store::Store::touch_token)),
/// so that a token's `last_used_at` is written at most once per [`TokenUse::EVERY`].
#[derive(Default)]
pub struct TokenUse {
    recorded: Mutex<HashMap<String, Instant>>,
}

impl TokenUse {
    pub const EVERY: Duration = Duration::from_secs(10 * 60);

    /// Whether the use of `token_hash` at `now` should be written (and notes that it is).
    pub fn due(&self, token_hash: &str, now: Instant) -> bool {
        let mut recorded = self.recorded.lock().unwrap_or_else(|p| p.into_inner());
        if recorded.len() > 100_000 {
            recorded.retain(|_, at| now.duration_since(*at) < Self::EVERY);
        }
        match recorded.get(token_hash) {
            Some(at) if now.duration_since(*at) < Self::EVERY => false,
            _ => {
                recorded.insert(token_hash.to_string(), now);
                true
            }
        }
    }
}

/// Per bearer token: the rate limit before the request, and after an answer
/// that accepted the token, its last use (at most every 10 minutes).
pub async fn rate_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let token_hash = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .map(|(_, t)| t.trim())
        .filter(|t| tokens::looks_like_token(t))
        .map(tokens::hash);
    let Some(token_hash) = token_hash else {
        return next.run(request).await;
    };
    let per_second = state.config.rate_per_second;
    if per_second > 0.0 {
        if let Err(retry_after_secs) =
            state.limiter.check(&token_hash, per_second, state.config.rate_burst.max(1.0), Instant::now())
        {
            state.metrics.rate_limited.fetch_add(1, Ordering::Relaxed);
            return ApiError::RateLimited { retry_after_secs }.into_response();
        }
    }
    let response = next.run(request).await;
    if response.status() != StatusCode::UNAUTHORIZED && state.token_use.due(&token_hash, Instant::now()) {
        if let Err(e) = state.store.touch_token(&token_hash, crate::now_ms()).await {
            tracing::warn!(error = %e, "cannot record a token's last use");
        }
    }
    response
}

/// Answers 503 when a request runs longer than the configured timeout. The
/// live stream is meant to stay open and is exempt. A push cut off here rolls
/// back: its transaction is dropped uncommitted.
pub async fn timeout(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.uri().path() == "/v1/events" {
        return next.run(request).await;
    }
    match tokio::time::timeout(state.config.request_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Unavailable("the request took too long; try again".into()).into_response(),
    }
}

/// Request counts by route and status, a latency histogram, and rate-limit refusals.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<HashMap<(String, String, u16), u64>>,
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_us: AtomicU64,
    pub rate_limited: AtomicU64,
    /// Sign-ins refused by [`SignInThrottle`].
    pub sign_ins_throttled: AtomicU64,
}

const LATENCY_BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

impl Metrics {
    pub fn record(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        *self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
        let secs = elapsed.as_secs_f64();
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            if secs <= *bound {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_us.fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    }

    /// The Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP cairn_http_requests_total HTTP requests by method, route and status.\n");
        out.push_str("# TYPE cairn_http_requests_total counter\n");
        let mut rows: Vec<_> =
            self.requests.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|(k, v)| (k.clone(), *v)).collect();
        rows.sort();
        for ((method, route, status), n) in rows {
            let _ = writeln!(
                out,
                "cairn_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                route.replace('\\', "\\\\").replace('"', "\\\"")
            );
        }
        out.push_str("# HELP cairn_http_request_duration_seconds Time to answer a request.\n");
        out.push_str("# TYPE cairn_http_request_duration_seconds histogram\n");
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "cairn_http_request_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                self.buckets[i].load(Ordering::Relaxed)
            );
        }
        let count = self.latency_count.load(Ordering::Relaxed);
        let _ = writeln!(out, "cairn_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "cairn_http_request_duration_seconds_sum {}",
            self.latency_sum_us.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "cairn_http_request_duration_seconds_count {count}");
        out.push_str("# HELP cairn_rate_limited_total Requests refused with 429.\n");
        out.push_str("# TYPE cairn_rate_limited_total counter\n");
        let _ = writeln!(out, "cairn_rate_limited_total {}", self.rate_limited.load(Ordering::Relaxed));
        out.push_str("# HELP cairn_sign_ins_throttled_total Sign-ins refused after too many failures.\n");
        out.push_str("# TYPE cairn_sign_ins_throttled_total counter\n");
        let _ = writeln!(out, "cairn_sign_ins_throttled_total {}", self.sign_ins_throttled.load(Ordering::Relaxed));
        out
    }
}

/// Records every request in [`Metrics`] and logs one line for it, both by route
/// pattern: never the path or query string (which hold page URLs), never bodies
/// or headers. One middleware, so the route and the time are taken once.
pub async fn measure(State(state): State<AppState>, request: Request, next: Next) -> Response {
    // Only the standard methods get their own label: a client may send any token
    // as a method, and each new label would be a new row kept forever.
    let method = match *request.method() {
        Method::GET | Method::HEAD | Method::POST | Method::PUT | Method::PATCH | Method::DELETE | Method::OPTIONS => {
            request.method().as_str().to_owned()
        }
        _ => "other".to_owned(),
    };
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "(unmatched)".into());
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status();
    let elapsed = started.elapsed();
    state.metrics.record(&method, &route, status.as_u16(), elapsed);
    let ms = elapsed.as_millis();
    if status.is_server_error() {
        tracing::warn!(%method, %route, status = status.as_u16(), ms, "request");
    } else if status != axum::http::StatusCode::OK {
        tracing::info!(%method, %route, status = status.as_u16(), ms, "request");
    } else {
        tracing::debug!(%method, %route, status = status.as_u16(), ms, "request");
    }
    response
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"))],
        state.metrics.render()
            + "# HELP cairn_password_checks_waiting Password hashes waiting for a free slot.\n"
            + "# TYPE cairn_password_checks_waiting gauge\n"
            + &format!("cairn_password_checks_waiting {}\n", state.password_slots.waiting.load(Ordering::Relaxed)),
    )
        .into_response()
}

/// Ready when the database answers.
pub async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    state.store.ping().await.map_err(|e| {
        tracing::warn!(error = %e, "not ready");
        ApiError::Unavailable("the database is not reachable".into())
    })?;
    Ok("ready")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_the_rate() {
        let limiter = RateLimiter::default();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.check("k", 1.0, 3.0, t0), Ok(()));
        }
        assert_eq!(limiter.check("k", 1.0, 3.0, t0), Err(1));
        assert_eq!(limiter.check("other", 1.0, 3.0, t0), Ok(()), "buckets are per token");
        assert_eq!(limiter.check("k", 1.0, 3.0, t0 + Duration::from_millis(1100)), Ok(()));
        assert_eq!(limiter.check("k", 0.5, 3.0, t0 + Duration::from_millis(1100)), Err(2));
    }

    #[test]
    fn sign_in_failures_throttle_for_the_rest_of_the_window() {
        let throttle = SignInThrottle::default();
        let t0 = Instant::now();
        let keys = SignInThrottle::keys("Alice", None);
        for i in 0..SignInThrottle::MAX_FAILURES {
            assert_eq!(throttle.check(&keys, t0), Ok(()), "failure {i}");
            throttle.record_failure(&keys, t0 + Duration::from_secs(i as u64));
        }
        assert_eq!(throttle.check(&SignInThrottle::keys("alice", None), t0 + Duration::from_secs(60)), Err(840));
        assert_eq!(throttle.check(&keys, t0 + SignInThrottle::WINDOW), Ok(()), "the oldest failure left the window");
        assert_eq!(throttle.check(&SignInThrottle::keys("bob", None), t0), Ok(()));
    }

    #[test]
    fn metrics_render_counts_and_histogram() {
        let m = Metrics::default();
        m.record("GET", "/v1/me", 200, Duration::from_millis(3));
        m.record("GET", "/v1/me", 200, Duration::from_millis(30));
        let text = m.render();
        assert!(text.contains("cairn_http_requests_total{method=\"GET\",route=\"/v1/me\",status=\"200\"} 2"), "{text}");
        assert!(text.contains("cairn_http_request_duration_seconds_bucket{le=\"0.005\"} 1"), "{text}");
        assert!(text.contains("cairn_http_request_duration_seconds_count 2"), "{text}");
    }
}
