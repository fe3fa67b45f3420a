//! The checks of the kinds EventBridge invokes through something other than a role of the
//! rule's account alone, one file per kind (a kind invoked with a role needs none: its
//! module's `FACTS` say which actions the role needs), and direct delivery to another
//! account. The shared evaluation of a resource policy is `super::resource_policies`.

mod api_destination;
pub(super) mod api_gateway;
mod direct;
mod lambda;
mod logs;
mod sns;
mod sqs;
