//! EventBridge's failed calls as CloudTrail records them (`LookupEvents`, the account's
//! management events of the last 90 days), read the way the troubleshooting guides say to
//! check by hand, but once per account, region and delivery window for every integration
//! there, and only when a rule of theirs reports failures (`controller::pass::converge`).
//!
//! `LookupEvents` allows AWS's 2 calls per second per account and region and takes one
//! lookup attribute, none of which selects "made by EventBridge" (AssumeRole is STS's event,
//! the target call the target service's): the read takes the newest management events of
//! the window, at most `MAX_PAGES` pages of 50, and `diagnose::trail` picks EventBridge's
//! failures out of them. A busy account can push them out of those pages: then nothing is
//! found, and the metrics and the other evidence still speak.

use std::time::{Duration, SystemTime};

use super::errors::{classify, AwsError};

/// Pages read at most (50 events each, newest first).
pub const MAX_PAGES: usize = 4;

/// The `CloudTrailEvent` documents of the newest management events of the last `window`.
pub async fn recent_events(
    client: &aws_sdk_cloudtrail::Client,
    window: Duration,
) -> Result<Vec<String>, AwsError> {
    let now = SystemTime::now();
    let since = now.checked_sub(window).unwrap_or(SystemTime::UNIX_EPOCH);
    let mut pages = client
        .lookup_events()
        .start_time(since.into())
        .end_time(now.into())
        .max_results(50)
        .into_paginator()
        .page_size(50)
        .send();
    let mut events = Vec::new();
    for _ in 0..MAX_PAGES {
        let Some(page) = pages.next().await else {
            break;
        };
        let page = page.map_err(|e| classify("cloudtrail:LookupEvents", e))?;
        events.extend(
            page.events()
                .iter()
                .filter_map(|e| e.cloud_trail_event().map(str::to_string)),
        );
    }
    Ok(events)
}
