//! EventBridge integrations as Kubernetes objects, with a diagnosis of every AccessDenied.
//!
//! The pure core — `api` (types), `plan` (spec → desired AWS state), `iam` (policy language)
//! and `diagnose` (snapshot → findings), with `simulate` and `input` (strict JSON reading) —
//! never performs I/O. `aws` observes and applies;
//! `controller` runs the reconcile loop around them.

pub mod api;
pub mod aws;
pub mod controller;
pub mod diagnose;
pub mod iam;
pub mod input;
pub mod plan;
pub mod simulate;
pub mod telemetry;

/// Errors of a reconcile pass that are retried with backoff.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error(transparent)]
    Aws(#[from] aws::AwsError),
    #[error("{0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
}

impl Error {
    /// A stable, bounded label for metrics and Event reasons.
    pub fn category(&self) -> &'static str {
        match self {
            Error::Kube(_) => "kubernetes",
            Error::Aws(_) => "aws",
            Error::Finalizer(_) => "finalizer",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
