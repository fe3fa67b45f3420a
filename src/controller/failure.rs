//! How a pass fails, by what a person or the controller does about it: the pass's modules
//! return it, `reconcile` turns it into a verdict (conditions, retry).

use crate::aws::AwsError;
use crate::plan::diff::NotOwned;
use crate::plan::PlanError;

/// Failures of a pass, by what a person or the controller does about them.
pub(super) enum Failure {
    Plan(PlanError),
    /// No policy selecting the namespace grants what the spec asks for (`tenancy`).
    NotPermitted(crate::tenancy::Refusal),
    NotOwned(NotOwned),
    Aws(AwsError),
    /// Something the spec refers to does not exist yet, or cannot be reached.
    Dependency(String),
    Kube(kube::Error),
}

impl From<AwsError> for Failure {
    fn from(e: AwsError) -> Self {
        Failure::Aws(e)
    }
}

impl From<kube::Error> for Failure {
    fn from(e: kube::Error) -> Self {
        Failure::Kube(e)
    }
}

impl Failure {
    /// For Events, status and logs.
    pub(super) fn message(&self) -> String {
        match self {
            Failure::Plan(e) => e.to_string(),
            Failure::NotPermitted(r) => r.to_string(),
            Failure::NotOwned(e) => e.to_string(),
            Failure::Aws(e) => e.to_string(),
            Failure::Dependency(m) => m.clone(),
            Failure::Kube(e) => e.to_string(),
        }
    }
}
