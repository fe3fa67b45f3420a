//! The AccessDenied diagnosis: pure checks from an account snapshot to named causes with
//! fixes. The snapshot comes from the SDK (controller, `diagnose --rule`) or from AWS CLI
//! output (`diagnose --bundle`); the checks do not know which.

pub mod bundle;
pub mod bus_log;
pub mod checks;
pub mod delivery;
pub mod finding;
pub mod remedy;
pub mod snapshot;
pub mod trail;

pub use checks::{
    diagnose, examine, not_evaluated, schedule_sends_to, stage_not_deployed, Diagnosis,
};
pub use finding::{Code, Finding, Severity};
pub use snapshot::{
    ApiDestination, Chain, Expectations, Organization, Queue, Role, Rule, Schedule, Snapshot,
    Target, TaskDefinition,
};
