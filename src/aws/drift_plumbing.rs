//! The drift-events plumbing of a cluster in one account and region (a rule and a queue,
//! tagged as the cluster's): how it is recognised and removed. The controller's
//! `drift_events` creates and polls it; the orphan report removes what no live object uses.

use std::collections::BTreeMap;

use super::errors::classify;
use super::{apply, observe, AwsError, Clients};
use crate::plan::drift;
use crate::plan::CLUSTER_TAG;

/// Whether `tags` say the resource is `cluster`'s drift plumbing.
pub fn is_clusters(tags: &BTreeMap<String, String>, cluster: &str) -> bool {
    tags.get(CLUSTER_TAG).map(String::as_str) == Some(cluster)
        && tags.get(drift::PURPOSE_TAG).map(String::as_str) == Some(drift::PURPOSE)
}

/// A queue's tags (SQS has no tags in `GetQueueAttributes`).
pub async fn queue_tags(c: &Clients, url: &str) -> Result<BTreeMap<String, String>, AwsError> {
    let out = c
        .sqs
        .list_queue_tags()
        .queue_url(url)
        .send()
        .await
        .map_err(|e| classify("sqs:ListQueueTags", e))?;
    Ok(out
        .tags()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .collect())
}

/// Removes the drift rule and queue `name` of `c`'s region, each only when its tags say it
/// is `cluster`'s drift plumbing (also for the orphan report). Gone already is success.
pub async fn remove(c: &Clients, name: &str, cluster: &str, account: &str) -> Result<(), AwsError> {
    let ours = |tags: &BTreeMap<String, String>| is_clusters(tags, cluster);
    if let Some(r) = observe::rule(c, name, "default").await? {
        if ours(&r.tags) {
            apply::delete_rule(c, name, "default").await?;
        } else {
            tracing::warn!("drift events: rule {name} is not tagged as ours; left alone");
        }
    }
    if let Some(q) = observe::queue(c, name, account).await? {
        if ours(&queue_tags(c, &q.url).await?) {
            apply::ignore_not_found(
                c.sqs
                    .delete_queue()
                    .queue_url(&q.url)
                    .send()
                    .await
                    .map_err(|e| classify("sqs:DeleteQueue", e)),
            )?;
        } else {
            tracing::warn!("drift events: queue {name} is not tagged as ours; left alone");
        }
    }
    Ok(())
}
