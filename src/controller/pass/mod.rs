//! One pass over one object: admission, plan, observe, record, apply, diagnose, status
//! (`reconcile` → `converge`), and its clean-up on deletion. The runtime that schedules
//! passes is `super::runtime`.

pub(super) mod admission;
pub(super) mod cleanup;
pub(super) mod conditions;
pub(super) mod connection_secret;
pub(super) mod converge;
pub(super) mod diagnosis;
pub(super) mod observe;
pub(super) mod part;
pub(super) mod reconcile;
pub(super) mod record;
pub mod status;
