//! EventBridge integrations as Kubernetes objects, with a diagnosis of every AccessDenied.
//!
//! The pure core — `api` (types), `plan` (spec → desired AWS state), `iam` (policy language)
//! and `diagnose` (snapshot → findings) — never performs I/O. `aws` observes and applies;
//! `controller` runs the reconcile loop around them.

pub mod api;
pub mod diagnose;
pub mod iam;
