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

/// Errors of a reconcile pass that are retried with backoff.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error(transparent)]
    Aws(#[from] aws::AwsError),
    /// A dependency of the pass is missing (clean-up waits for it rather than guessing).
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
