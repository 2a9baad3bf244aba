//! Prometheus metrics and the middleware that records every request (count,
//! latency, and one structured log line).

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};

use crate::state::AppState;

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    protocols: IntCounterVec,
    latency: HistogramVec,
    changes: IntCounterVec,
    batch_size: Histogram,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics(..)")
    }
}

impl Metrics {
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new_custom(Some("asa".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by route, method and status",
            ),
            &["route", "method", "status"],
        )?;
        let protocols = IntCounterVec::new(
            Opts::new(
                "http_requests_by_protocol_total",
                "HTTP requests by the protocol version the client said it speaks (Asa-Protocol), to see how many old apps remain",
            ),
            &["protocol"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by route",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["route"],
        )?;
        let changes = IntCounterVec::new(
            Opts::new(
                "changes_total",
                "Pushed changes by outcome (applied, duplicate, rejected)",
            ),
            &["status"],
        )?;
        let batch_size = Histogram::with_opts(
            HistogramOpts::new("push_batch_size", "Changes per push request")
                .buckets(vec![1.0, 10.0, 50.0, 100.0, 200.0, 500.0, 1000.0]),
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(protocols.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(changes.clone()))?;
        registry.register(Box::new(batch_size.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            protocols,
            latency,
            changes,
            batch_size,
        })
    }

    pub fn record_push(&self, batch: usize, applied: usize, duplicates: usize, rejected: usize) {
        self.batch_size.observe(batch as f64);
        self.changes
            .with_label_values(&["applied"])
            .inc_by(applied as u64);
        self.changes
            .with_label_values(&["duplicate"])
            .inc_by(duplicates as u64);
        self.changes
            .with_label_values(&["rejected"])
            .inc_by(rejected as u64);
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

/// A method as a label: label values never come from request data, or any
/// made-up method name would become a series kept forever.
fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The protocol version a client sent in `Asa-Protocol`: none is a version 1
/// client; anything unknown is counted under one label.
fn protocol_label(header: Option<&actix_web::http::header::HeaderValue>) -> &'static str {
    match header.map(|v| v.as_bytes()) {
        None => "1",
        Some(b"1") => "1",
        Some(b"1.1") => "1.1",
        Some(_) => "other",
    }
}

/// Counts, times and logs every request.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    // The matched pattern (`/v1/records/{collection}`), never the path itself.
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = method_label(req.method());
    let protocol = protocol_label(req.headers().get("asa-protocol"));
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let response = next.call(req).await?;
    let status = response.status();
    let elapsed = started.elapsed();
    if let Some(state) = state {
        state
            .metrics
            .requests
            .with_label_values(&[route.as_str(), method, status.as_str()])
            .inc();
        state.metrics.protocols.with_label_values(&[protocol]).inc();
        state
            .metrics
            .latency
            .with_label_values(&[route.as_str()])
            .observe(elapsed.as_secs_f64());
    }
    tracing::info!(
        method = %method,
        route = %route,
        status = status.as_u16(),
        latency_ms = (elapsed.as_secs_f64() * 1e6).round() / 1e3,
        "request"
    );
    Ok(response)
}
