//! EventBridge integrations as Kubernetes objects, with a diagnosis of every AccessDenied.
//!
//! The pure core — `api` (types), `plan` (spec → desired AWS state), `iam` (policy language),
//! `diagnose` (snapshot → findings) and `tenancy` (what a namespace may ask for), with
//! `simulate` and `input` (strict JSON reading) — never performs I/O. `aws` observes and applies;
//! `controller` runs the reconcile loop around them.

pub mod api;
pub mod audit;
pub mod aws;
pub mod controller;
pub mod diagnose;
pub mod fence;
pub mod iam;
pub mod input;
pub mod locations;
pub mod orphans;
pub mod plan;
pub mod simulate;
mod sync;
pub mod telemetry;
pub mod tenancy;
pub mod why;

/// The field manager of every write the controller makes to Kubernetes (suffixed where one
/// key has a manager of its own).
pub const FIELD_MANAGER: &str = "eventbridge-integration-controller";

/// What a failure means, for the reconciler (how soon to retry), for status (which
/// condition) and for metrics (`ebi_reconciles_total{result}`): one taxonomy for all three.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Category {
    /// Throttling, 5xx, timeouts, resets, conflicts of concurrent writers: retried with
    /// backoff; status says Reconciling.
    Transient,
    /// Something the spec refers to does not exist yet (a task definition, a bus): Ready
    /// False, retried more slowly.
    Dependency,
    /// AWS refused the request itself (validation, malformed policy, a limit): Stalled with
    /// AWS's own message, retried only at the resync interval or on a spec change.
    Rejected,
    /// The controller's own credentials lack a permission: Stalled, naming the action.
    AccessDenied,
    /// The spec is invalid, breaks a guardrail, or names a resource someone else owns.
    InvalidSpec,
    /// The controller's credentials are not valid at all (unknown key, expired token).
    Credentials,
    /// The Kubernetes API failed (status, finalizer, events).
    Kubernetes,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Transient => "transient",
            Category::Dependency => "dependency",
            Category::Rejected => "rejected",
            Category::AccessDenied => "access_denied",
            Category::InvalidSpec => "invalid_spec",
            Category::Credentials => "credentials",
            Category::Kubernetes => "kubernetes",
        }
    }

    pub fn of_aws(kind: aws::ErrorKind) -> Category {
        match kind {
            aws::ErrorKind::Transient | aws::ErrorKind::Conflict => Category::Transient,
            aws::ErrorKind::NotFound => Category::Dependency,
            aws::ErrorKind::AccessDenied => Category::AccessDenied,
            aws::ErrorKind::Rejected => Category::Rejected,
            aws::ErrorKind::Credentials => Category::Credentials,
        }
    }
}

/// How a reconcile pass fails, by what a person or the controller does about it. The pass's
/// steps return it; the apply half turns it into a verdict (conditions, when to retry), the
/// clean-up half and the runtime retry it by its [`Category`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The spec is invalid or breaks a guardrail.
    #[error(transparent)]
    Plan(#[from] plan::PlanError),
    /// No policy selecting the namespace grants what the spec asks for (`tenancy`).
    #[error("{0}")]
    NotPermitted(tenancy::Refusal),
    /// A same-named AWS resource belongs to someone else.
    #[error(transparent)]
    NotOwned(#[from] plan::diff::NotOwned),
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error(transparent)]
    Aws(#[from] aws::AwsError),
    /// Something the spec refers to does not exist yet, or cannot be reached (clean-up waits
    /// for it rather than guessing).
    #[error("{0}")]
    Dependency(String),
    #[error("{0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
}

impl Error {
    /// A stable, bounded label for metrics, logs and Event reasons. A framework's wrapper
    /// (the finalizer helper) is looked through: what failed inside decides.
    pub fn category(&self) -> Category {
        use kube::runtime::finalizer::Error as F;
        match self {
            Error::Plan(_) | Error::NotPermitted(_) | Error::NotOwned(_) => Category::InvalidSpec,
            Error::Kube(_) => Category::Kubernetes,
            Error::Aws(e) => Category::of_aws(e.kind),
            Error::Dependency(_) => Category::Dependency,
            Error::Finalizer(inner) => match inner.as_ref() {
                F::ApplyFailed(e) | F::CleanupFailed(e) => e.category(),
                F::AddFinalizer(_) | F::RemoveFinalizer(_) => Category::Kubernetes,
                F::UnnamedObject | F::InvalidFinalizer => Category::InvalidSpec,
            },
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use kube::runtime::finalizer::Error as F;

    fn not_owned() -> plan::diff::NotOwned {
        plan::diff::NotOwned {
            kind: "role",
            name: "r".into(),
            found: "no owner tag".into(),
            advice: "rename it",
            foreign: false,
        }
    }

    #[test]
    fn every_failure_of_a_pass_has_the_category_its_retry_and_metric_use() {
        let throttled = aws::AwsError::new(
            "iam:GetRole",
            aws::ErrorKind::Transient,
            "Throttling",
            "slow down",
        );
        let invalid = plan::PlanError::Guardrail("no".into());
        assert_eq!(Error::from(invalid).category(), Category::InvalidSpec);
        assert_eq!(Error::from(not_owned()).category(), Category::InvalidSpec);
        assert_eq!(
            Error::from(throttled.clone()).category(),
            Category::Transient
        );
        assert_eq!(
            Error::Dependency("bus".into()).category(),
            Category::Dependency
        );
        // The finalizer's wrapper is looked through: what failed inside decides.
        let wrapped = Error::Finalizer(Box::new(F::CleanupFailed(Error::from(not_owned()))));
        assert_eq!(wrapped.category(), Category::InvalidSpec);
        let wrapped = Error::Finalizer(Box::new(F::ApplyFailed(Error::from(throttled))));
        assert_eq!(wrapped.category(), Category::Transient);
        // Its text is the failure's own, as status and Events show it.
        assert!(Error::from(not_owned())
            .to_string()
            .starts_with("role r exists but is not owned by this object (no owner tag)"));
    }
}
