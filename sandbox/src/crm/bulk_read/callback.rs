//! The bulk read callback: once a job created with `callback` completes or fails, Zoho posts
//! the job's details to its URL ("Create Bulk Read job": "the callback URL to which the job's
//! details are posted on successful completion or failure of the job"; the SDKs' samples say
//! the same). The sandbox posts what the job's status answers (`{"data":[job]}`'s job), through
//! the notification deliveries' loopback poster, and logs it with them (`channel_id`
//! `bulk-read:<job id>`). Only loopback `http://` URLs are contacted, as for notifications.

use super::{detail, state_of};
use crate::crm::notifications::deliveries::{loopback_target, post};
use crate::state::outbox::{lock, Delivery};
use crate::state::Shared;
use std::sync::Arc;
use std::time::Duration;

/// How often the sandbox looks whether the job ended (its clock may be frozen and moved).
const WATCH_EVERY: Duration = Duration::from_millis(100);
/// How long it watches a job at most.
const WATCH_FOR: Duration = Duration::from_secs(3 * 3600);

/// Watches job `id` and posts its details to `url` once, when it is COMPLETED or FAILURE.
pub(crate) fn post_when_done(shared: &Arc<Shared>, id: &str, url: String) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
    let (shared, id) = (shared.clone(), id.to_string());
    runtime.spawn(async move {
        let started = std::time::Instant::now();
        let body = loop {
            let ended = {
                let jobs = shared.bulk_reads.lock();
                let Some(job) = jobs.jobs.get(&id) else { return };
                let now = shared.clock.now();
                matches!(state_of(job, &jobs.knobs, now), "COMPLETED" | "FAILURE").then(|| detail(&id, job, &jobs.knobs, now))
            };
            if let Some(body) = ended {
                break body;
            }
            if started.elapsed() > WATCH_FOR {
                return;
            }
            tokio::time::sleep(WATCH_EVERY).await;
        };
        let outbox = &shared.outbox;
        let Some(target) = loopback_target(&url) else {
            outbox.refused.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            return;
        };
        let index = {
            let mut log = lock(&outbox.log);
            log.push(Delivery { channel_id: format!("bulk-read:{id}"), url, body: body.clone(), dropped: false, status: None });
            log.len() - 1
        };
        let status = post(&target, &body).await;
        if let Some(entry) = lock(&outbox.log).get_mut(index) {
            entry.status = status;
        }
    });
}
