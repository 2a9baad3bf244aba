//! The proof at the end of the week: the whole log, read by an admin, holds
//! every change the phones made exactly once, and each phone holds exactly
//! the changes of its scope: its user's sessions and its centre's
//! beneficiaries (contract section 2.6). A phone holds its own changes the
//! server acknowledged (`applied` or `duplicate`) and the ones it pulled
//! (a pull leaves out the phone's own), so the two sets are compared as
//! digests: count and sum of ids. With the same changes, replicas are the
//! same merged records: merging is deterministic and order-free (the
//! engine's property tests and the convergence tests prove that part).

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use uuid::Uuid;

use crate::phone::{Digest, Phone};

/// What the log shows.
#[derive(Debug, Default)]
pub struct Proof {
    pub log_changes: u64,
    pub repeated_ids: u64,
    /// Phones whose changes differ from their scope's.
    pub diverged: Vec<String>,
    /// Phones whose whole scope, pulled afresh with their own changes
    /// (`include_own=true`), was compared too, and those that differed.
    pub sampled: usize,
    pub sample_diverged: Vec<String>,
    /// The log against every change the phones had acknowledged.
    pub acknowledged: Digest,
    pub log: Digest,
}

impl Proof {
    pub fn holds(&self) -> bool {
        self.repeated_ids == 0
            && self.diverged.is_empty()
            && self.sample_diverged.is_empty()
            && self.acknowledged == self.log
    }
}

/// One change of the log, as much as the proof needs.
struct Logged {
    id: Uuid,
    record: Uuid,
    beneficiary: bool,
}

/// Every how many phones one pulls its whole scope afresh for the proof
/// ([`scope_afresh`]): a phone pulls its own changes only when it asks, so
/// this checks the server's own reading of a scope (a volunteer's own
/// sessions too), not only what the phones kept.
pub const SAMPLE_EVERY: usize = 97;

/// Reads the whole log from `base` as an admin.
pub async fn check(
    client: &reqwest::Client,
    bases: &[String],
    admin_token: &str,
    phones: &[Phone],
    fresh: &HashMap<usize, Digest>,
) -> anyhow::Result<Proof> {
    let base = &bases[0];
    let mut log = Vec::new();
    // Who each record belongs to: a session's volunteer, a beneficiary's
    // centre (creations carry them; edits follow their creation in the log).
    let mut volunteer_of: HashMap<Uuid, Uuid> = HashMap::new();
    let mut centre_of: HashMap<Uuid, String> = HashMap::new();
    pull_everything(client, base, admin_token, false, |change| {
        let uuid = |v: &Value| v.as_str().and_then(|s| Uuid::parse_str(s).ok());
        let (Some(id), Some(record)) = (uuid(&change["id"]), uuid(&change["record_id"])) else {
            anyhow::bail!("a change without ids in the log: {change}");
        };
        let beneficiary = change["collection"] == "beneficiaries";
        let fields = &change["fields"];
        if let Some(v) = uuid(&fields["volunteer_id"]["value"]) {
            volunteer_of.insert(record, v);
        }
        if let Some(c) = fields["centre_id"]["value"].as_str() {
            centre_of.insert(record, c.to_owned());
        }
        log.push(Logged {
            id,
            record,
            beneficiary,
        });
        Ok(())
    })
    .await?;
    let mut proof = Proof {
        log_changes: log.len() as u64,
        ..Proof::default()
    };
    let mut seen = HashSet::with_capacity(log.len());
    let mut by_volunteer: HashMap<Uuid, Digest> = HashMap::new();
    let mut by_centre: HashMap<&str, Digest> = HashMap::new();
    for change in &log {
        if !seen.insert(change.id) {
            proof.repeated_ids += 1;
        }
        proof.log.add(change.id);
        if change.beneficiary {
            if let Some(c) = centre_of.get(&change.record) {
                by_centre.entry(c.as_str()).or_default().add(change.id);
            }
        } else if let Some(v) = volunteer_of.get(&change.record) {
            by_volunteer.entry(*v).or_default().add(change.id);
        }
    }
    for (i, phone) in phones.iter().enumerate() {
        proof.acknowledged.merge(phone.own);
        let mut expected = by_volunteer.get(&phone.user).copied().unwrap_or_default();
        expected.merge(
            by_centre
                .get(phone.centre.as_str())
                .copied()
                .unwrap_or_default(),
        );
        if let Some(fresh) = fresh.get(&i) {
            proof.sampled += 1;
            if *fresh != expected && proof.sample_diverged.len() < 10 {
                proof.sample_diverged.push(format!(
                    "device {}: its scope pulled afresh holds {} changes, the log's {}",
                    phone.device, fresh.count, expected.count
                ));
            }
        }
        let mut held = phone.own;
        held.merge(phone.pulled);
        if held != expected && proof.diverged.len() < 10 {
            proof.diverged.push(format!(
                "device {}: holds {} changes, its scope {}",
                phone.device, held.count, expected.count
            ));
        }
    }
    Ok(proof)
}

/// Every change a phone's token may read, pulled from the beginning with
/// its own, as a digest.
pub async fn scope_afresh(
    client: &reqwest::Client,
    base: &str,
    token: &str,
) -> anyhow::Result<Digest> {
    let mut digest = Digest::default();
    pull_everything(client, base, token, true, |change| {
        if let Some(id) = change["id"].as_str().and_then(|s| Uuid::parse_str(s).ok()) {
            digest.add(id);
        }
        Ok(())
    })
    .await?;
    Ok(digest)
}

/// Pulls as `token` from the beginning of the log to its end, in pages of
/// 1,000, handing each change to `each`.
async fn pull_everything(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    include_own: bool,
    mut each: impl FnMut(&Value) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut cursor = String::new();
    loop {
        let page: Value = client
            .get(format!(
                "{base}/v1/sync/pull?limit=1000&include_own={include_own}&cursor={cursor}"
            ))
            .bearer_auth(token)
            .header("asa-protocol", "1.1")
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        for change in page["changes"].as_array().into_iter().flatten() {
            each(change)?;
        }
        cursor = page["cursor"].as_str().unwrap_or_default().to_owned();
        if page["has_more"] != true {
            return Ok(());
        }
    }
}
