//! One account's share of a pass, as `converge` builds it and `diagnosis` reads it.

use crate::aws::kms::KeyPolicy;
use crate::aws::organization::OrgPolicies;
use crate::aws::Clients;
use crate::plan::diff::{Change, Observed};
use crate::plan::{Desired, Side};

/// One account's share of a pass.
pub(in crate::controller) struct Part {
    pub side: Side,
    pub clients: Clients,
    pub desired: Desired,
    pub observed: Observed,
    pub changes: Vec<Change>,
}

/// What the diagnosis reads beyond what the diff needs, for one account: the organisation
/// policies that apply to it and the key policies of its queues' KMS keys. Cached
/// per resync interval; a failed read is said in `status.notEvaluated`, never fails a pass.
pub(in crate::controller) struct Evidence {
    pub organization: OrgPolicies,
    /// Each queue's `KmsMasterKeyId` (dead-letter queue, SQS target) and its key policy.
    pub key_policies: Vec<(String, KeyPolicy)>,
}
