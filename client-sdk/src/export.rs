//! Managers' export of the server's merged records (`GET /v1/records/...`).

use reqwest::{Method, StatusCode};
use sync_core::wire::RecordsPage;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::http::Meter;
use crate::sync::encode_query;
use crate::types::{Collection, ExportFormat};

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// What to export: a collection of one centre, `started_at` between two dates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRequest {
    pub collection: Collection,
    pub centre_id: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    pub from: Option<String>,
    pub to: Option<String>,
    pub format: ExportFormat,
    /// Only records with at least one key in conflict.
    pub conflicts_only: bool,
    /// Whether deleted records are in the export; `None` keeps the format's
    /// default ([`ExportFormat::includes_deleted_by_default`]).
    pub include_deleted: Option<bool>,
}

impl ExportRequest {
    /// Every record of `collection` in the caller's scope, with the format's
    /// default for deleted records.
    pub fn new(collection: Collection, format: ExportFormat) -> ExportRequest {
        ExportRequest {
            collection,
            centre_id: None,
            from: None,
            to: None,
            format,
            conflicts_only: false,
            include_deleted: None,
        }
    }
}

impl Client {
    /// The server's merged records, as the file's bytes: CSV (UTF-8), a JSON
    /// array (every page), or an xlsx workbook.
    pub fn export(&self, req: &ExportRequest) -> Result<Vec<u8>> {
        let include_deleted = req
            .include_deleted
            .unwrap_or(req.format.includes_deleted_by_default());
        // Both choices are sent, so the file does not depend on the server's defaults.
        let mut query = format!(
            "&deleted={}",
            if include_deleted {
                "include"
            } else {
                "exclude"
            }
        );
        if req.conflicts_only {
            query.push_str("&conflicts=only");
        }
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
        match req.format {
            ExportFormat::Csv => {
                let path = format!("{base}&format=csv");
                let body = self.file(&path, "text/csv", "csv", &mut meter)?;
                std::str::from_utf8(&body)
                    .map_err(|e| Error::Protocol(format!("the csv is not utf-8: {e}")))?;
                Ok(body)
            }
            ExportFormat::Xlsx => {
                let path = format!("{base}&format=xlsx");
                self.file(&path, XLSX, "xlsx", &mut meter)
            }
            ExportFormat::Json => self.json_pages(&base, &mut meter),
        }
    }

    /// One file in one answer, whose Content-Type must be `accept`: a server
    /// that does not know the format answers something else (JSON).
    fn file(
        &self,
        path: &str,
        accept: &'static str,
        name: &str,
        meter: &mut Meter,
    ) -> Result<Vec<u8>> {
        let response = self.call(Method::GET, path, None, accept, 0, meter)?;
        if response.status != StatusCode::OK {
            return Err(response.into_error());
        }
        let media_type = response
            .content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim();
        if !media_type.eq_ignore_ascii_case(accept) {
            return Err(Error::Protocol(format!(
                "it sent {:?}, not {name}; it may not offer {name} exports yet",
                response.content_type
            )));
        }
        Ok(response.body)
    }

    fn json_pages(&self, base: &str, meter: &mut Meter) -> Result<Vec<u8>> {
        let mut records = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let path = match &token {
                Some(t) => format!("{base}&page_token={}", encode_query(t)),
                None => base.to_owned(),
            };
            let response = self.call(Method::GET, &path, None, "application/json", 0, meter)?;
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
        let mut out =
            serde_json::to_vec_pretty(&records).map_err(|e| Error::Protocol(e.to_string()))?;
        out.push(b'\n');
        Ok(out)
    }
}
