//! Managers' export of the server's merged records (`GET /v1/records/...`).

use reqwest::{Method, StatusCode};
use sync_core::wire::RecordsPage;
use sync_core::Collection;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::http::Meter;
use crate::sync::encode_query;
use crate::types::ExportFormat;

/// What to export: a collection of one centre, `started_at` between two dates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRequest {
    pub collection: Collection,
    pub centre_id: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    pub from: Option<String>,
    pub to: Option<String>,
    pub format: ExportFormat,
}

impl Client {
    /// The server's merged records as CSV or a JSON array (every page).
    pub fn export(&self, req: &ExportRequest) -> Result<String> {
        let mut query = String::new();
        for (name, value) in [
            ("centre_id", &req.centre_id),
            ("from", &req.from),
            ("to", &req.to),
        ] {
            if let Some(v) = value {
                query.push_str(&format!("&{name}={}", encode_query(v)));
            }
        }
        let base = format!("/v1/records/{}?limit=1000{query}", req.collection);
        let mut meter = Meter::default();
        if req.format == ExportFormat::Csv {
            let path = format!("{base}&format=csv");
            let response = self.call(Method::GET, &path, None, "text/csv", &mut meter)?;
            if response.status != StatusCode::OK {
                return Err(response.into_error());
            }
            return String::from_utf8(response.body)
                .map_err(|e| Error::Protocol(format!("the csv is not utf-8: {e}")));
        }
        let mut records = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let path = match &token {
                Some(t) => format!("{base}&page_token={}", encode_query(t)),
                None => base.clone(),
            };
            let response = self.call(Method::GET, &path, None, "application/json", &mut meter)?;
            if response.status != StatusCode::OK {
                return Err(response.into_error());
            }
            let page: RecordsPage = response.json()?;
            records.extend(page.records);
            match page.next_page_token {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        serde_json::to_string_pretty(&records).map_err(|e| Error::Protocol(e.to_string()))
    }
}
