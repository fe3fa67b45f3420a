//! The IAM policy language, pure: ARNs, wildcards, documents, and their evaluation.
//! Nothing here performs I/O; the diagnosis engine and the planner both build on it.

pub mod arn;
pub mod documents;
pub mod eval;
pub mod glob;
pub mod ids;
pub mod policy;
pub mod request;

pub use arn::{AccountArn, Arn, FunctionArn, RoleArn, RuleArn};
pub use eval::{Caller, Context, Decision, Evaluation, NamedPolicy, Request};
pub use ids::{AccountId, IdError, Partition, Region, REGION_PATTERN};
pub use policy::{documents_equivalent, PolicyDocument, PolicyError};
