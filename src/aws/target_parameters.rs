//! The one mapping between the planner's [`TargetParameters`] and the parameter blocks of
//! EventBridge's `Target`, both ways: read in `observe`, written in `apply`, and printed as
//! the CLI prints them for bundles; and the same for a schedule's target (Scheduler's types).
//! A target kind
//! with a parameter block of its own adds its arm to each function here, and nothing else in
//! `aws/` changes.

use aws_sdk_eventbridge::types as eb;
use aws_sdk_scheduler::types as sch;
use serde_json::{json, Value};

use crate::plan::{EcsShape, HttpShape, TargetParameters};

// EventBridge's and Scheduler's `EcsParameters` are two types of one shape (the same
// accessors and builders): one text reads and writes both.
macro_rules! ecs_shape {
    ($e:expr) => {{
        let e = $e;
        let vpc = e
            .network_configuration()
            .and_then(|n| n.awsvpc_configuration());
        EcsShape {
            task_definition_arn: e.task_definition_arn().to_string(),
            task_count: e.task_count().unwrap_or(1),
            launch_type: e
                .launch_type()
                .map(|l| l.as_str().to_string())
                .unwrap_or_default(),
            platform_version: e.platform_version().map(str::to_string),
            subnets: vpc.map(|v| v.subnets().to_vec()).unwrap_or_default(),
            security_groups: vpc
                .map(|v| v.security_groups().to_vec())
                .unwrap_or_default(),
            assign_public_ip: vpc
                .and_then(|v| v.assign_public_ip())
                .map(|a| a.as_str().to_string()),
        }
    }};
}

macro_rules! ecs_parameters {
    ($types:ident, $e:expr) => {{
        let e: &EcsShape = $e;
        let network = if e.subnets.is_empty() {
            None
        } else {
            let vpc = $types::AwsVpcConfiguration::builder()
                .set_subnets(Some(e.subnets.clone()))
                .set_security_groups(
                    (!e.security_groups.is_empty()).then(|| e.security_groups.clone()),
                )
                .set_assign_public_ip(
                    e.assign_public_ip
                        .as_deref()
                        .map($types::AssignPublicIp::from),
                )
                .build()
                .map_err(|e| e.to_string())?;
            Some(
                $types::NetworkConfiguration::builder()
                    .awsvpc_configuration(vpc)
                    .build(),
            )
        };
        $types::EcsParameters::builder()
            .task_definition_arn(&e.task_definition_arn)
            .task_count(e.task_count)
            .launch_type($types::LaunchType::from(e.launch_type.as_str()))
            .set_platform_version(e.platform_version.clone())
            .set_network_configuration(network)
            .build()
            .map_err(|e| e.to_string())
    }};
}

/// The parameter block `t` carries, as the planner compares it.
pub fn observed(t: &eb::Target) -> TargetParameters {
    if let Some(e) = t.ecs_parameters() {
        return TargetParameters::Ecs(ecs_shape(e));
    }
    if let Some(k) = t.kinesis_parameters() {
        return TargetParameters::PartitionKeyPath(k.partition_key_path().to_string());
    }
    if let Some(h) = t.http_parameters() {
        let map = |m: Option<&std::collections::HashMap<String, String>>| {
            m.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default()
        };
        let http = HttpShape {
            path_parameter_values: h.path_parameter_values().to_vec(),
            header_parameters: map(h.header_parameters()),
            query_string_parameters: map(h.query_string_parameters()),
        };
        // An empty block says no more than none (as the planner writes none then).
        if http != HttpShape::default() {
            return TargetParameters::Http(http);
        }
    }
    match t.sqs_parameters().and_then(|p| p.message_group_id()) {
        Some(group) => TargetParameters::MessageGroup(group.to_string()),
        None => TargetParameters::None,
    }
}

/// `b` with the parameter block of `p` set.
pub fn with_parameters(
    b: eb::builders::TargetBuilder,
    p: &TargetParameters,
) -> Result<eb::builders::TargetBuilder, String> {
    Ok(match p {
        TargetParameters::None => b,
        TargetParameters::MessageGroup(group) => {
            b.sqs_parameters(eb::SqsParameters::builder().message_group_id(group).build())
        }
        TargetParameters::Ecs(e) => b.ecs_parameters(ecs_parameters(e)?),
        TargetParameters::Http(h) => b.http_parameters(
            eb::HttpParameters::builder()
                .set_path_parameter_values(
                    (!h.path_parameter_values.is_empty()).then(|| h.path_parameter_values.clone()),
                )
                .set_header_parameters(
                    (!h.header_parameters.is_empty())
                        .then(|| h.header_parameters.clone().into_iter().collect()),
                )
                .set_query_string_parameters(
                    (!h.query_string_parameters.is_empty())
                        .then(|| h.query_string_parameters.clone().into_iter().collect()),
                )
                .build(),
        ),
        TargetParameters::PartitionKeyPath(path) => b.kinesis_parameters(
            eb::KinesisParameters::builder()
                .partition_key_path(path)
                .build()
                .map_err(|e| e.to_string())?,
        ),
        TargetParameters::PartitionKey(_) => {
            return Err(
                "a fixed partition key is a schedule's; a rule's target takes a PartitionKeyPath"
                    .into(),
            )
        }
    })
}

/// The parameter block a schedule's target carries (Scheduler's own types, the same blocks
/// but for Kinesis, whose key is fixed), as the planner compares it.
pub fn scheduled(t: &sch::Target) -> TargetParameters {
    if let Some(e) = t.ecs_parameters() {
        return TargetParameters::Ecs(ecs_shape!(e));
    }
    if let Some(k) = t.kinesis_parameters() {
        return TargetParameters::PartitionKey(k.partition_key().to_string());
    }
    match t.sqs_parameters().and_then(|p| p.message_group_id()) {
        Some(group) => TargetParameters::MessageGroup(group.to_string()),
        None => TargetParameters::None,
    }
}

/// A schedule's target builder `b` with the parameter block of `p` set.
pub fn with_scheduled_parameters(
    b: sch::builders::TargetBuilder,
    p: &TargetParameters,
) -> Result<sch::builders::TargetBuilder, String> {
    let built = |e: aws_smithy_types::error::operation::BuildError| e.to_string();
    Ok(match p {
        TargetParameters::None => b,
        TargetParameters::MessageGroup(group) => b.sqs_parameters(
            sch::SqsParameters::builder()
                .message_group_id(group)
                .build(),
        ),
        TargetParameters::PartitionKey(key) => b.kinesis_parameters(
            sch::KinesisParameters::builder()
                .partition_key(key)
                .build()
                .map_err(built)?,
        ),
        TargetParameters::Ecs(e) => b.ecs_parameters(scheduled_ecs_parameters(e)?),
        TargetParameters::PartitionKeyPath(_) | TargetParameters::Http(_) => {
            return Err("a schedule's target takes no event path or HTTP parameters".into())
        }
    })
}

/// The parameter block as `aws events list-targets-by-rule` prints it (bundles hold this),
/// under its key.
pub fn cli_json(p: &TargetParameters) -> Option<(&'static str, Value)> {
    match p {
        TargetParameters::None => None,
        TargetParameters::MessageGroup(group) => {
            Some(("SqsParameters", json!({"MessageGroupId": group})))
        }
        TargetParameters::PartitionKeyPath(path) => {
            Some(("KinesisParameters", json!({"PartitionKeyPath": path})))
        }
        TargetParameters::PartitionKey(key) => {
            Some(("KinesisParameters", json!({"PartitionKey": key})))
        }
        TargetParameters::Http(h) => {
            let mut http = json!({});
            if !h.path_parameter_values.is_empty() {
                http["PathParameterValues"] = json!(h.path_parameter_values);
            }
            if !h.header_parameters.is_empty() {
                http["HeaderParameters"] = json!(h.header_parameters);
            }
            if !h.query_string_parameters.is_empty() {
                http["QueryStringParameters"] = json!(h.query_string_parameters);
            }
            Some(("HttpParameters", http))
        }
        TargetParameters::Ecs(e) => {
            let mut ecs =
                json!({"TaskDefinitionArn": e.task_definition_arn, "TaskCount": e.task_count});
            if !e.launch_type.is_empty() {
                ecs["LaunchType"] = json!(e.launch_type);
            }
            if let Some(p) = &e.platform_version {
                ecs["PlatformVersion"] = json!(p);
            }
            if !e.subnets.is_empty()
                || !e.security_groups.is_empty()
                || e.assign_public_ip.is_some()
            {
                let mut vpc = json!({"Subnets": e.subnets});
                if !e.security_groups.is_empty() {
                    vpc["SecurityGroups"] = json!(e.security_groups);
                }
                if let Some(a) = &e.assign_public_ip {
                    vpc["AssignPublicIp"] = json!(a);
                }
                ecs["NetworkConfiguration"] = json!({"awsvpcConfiguration": vpc});
            }
            Some(("EcsParameters", ecs))
        }
    }
}

fn ecs_shape(e: &eb::EcsParameters) -> EcsShape {
    ecs_shape!(e)
}

fn ecs_parameters(e: &EcsShape) -> Result<eb::EcsParameters, String> {
    ecs_parameters!(eb, e)
}

fn scheduled_ecs_parameters(e: &EcsShape) -> Result<sch::EcsParameters, String> {
    ecs_parameters!(sch, e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(p: TargetParameters) -> TargetParameters {
        let b = eb::Target::builder()
            .id("1")
            .arn("arn:aws:sqs:us-east-1:123456789012:q");
        observed(&with_parameters(b, &p).unwrap().build().unwrap())
    }

    #[test]
    fn every_parameter_block_reads_back_as_written() {
        let ecs = EcsShape {
            task_definition_arn: "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3".into(),
            task_count: 2,
            launch_type: "FARGATE".into(),
            platform_version: Some("LATEST".into()),
            subnets: vec!["subnet-1".into()],
            security_groups: vec!["sg-1".into()],
            assign_public_ip: Some("DISABLED".into()),
        };
        for p in [
            TargetParameters::None,
            TargetParameters::Ecs(ecs),
            TargetParameters::MessageGroup("orders".into()),
            TargetParameters::PartitionKeyPath("$.detail.orderId".into()),
            TargetParameters::Http(HttpShape {
                path_parameter_values: vec!["$.detail.orderId".into()],
                header_parameters: [("X-Source".into(), "eventbridge".into())].into(),
                query_string_parameters: [("v".into(), "2".into())].into(),
            }),
        ] {
            assert_eq!(round_trip(p.clone()), p);
        }
    }

    #[test]
    fn every_block_a_schedule_takes_reads_back_as_written_and_the_rest_are_refused() {
        let ecs = EcsShape {
            task_definition_arn: "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3".into(),
            task_count: 2,
            launch_type: "FARGATE".into(),
            platform_version: Some("LATEST".into()),
            subnets: vec!["subnet-1".into()],
            security_groups: vec!["sg-1".into()],
            assign_public_ip: Some("DISABLED".into()),
        };
        let builder = || {
            sch::Target::builder()
                .arn("arn:aws:kinesis:us-east-1:123456789012:stream/s")
                .role_arn("arn:aws:iam::123456789012:role/r")
        };
        for p in [
            TargetParameters::None,
            TargetParameters::Ecs(ecs),
            TargetParameters::MessageGroup("orders".into()),
            TargetParameters::PartitionKey("ticks".into()),
        ] {
            let t = with_scheduled_parameters(builder(), &p)
                .unwrap()
                .build()
                .unwrap();
            assert_eq!(scheduled(&t), p);
        }
        for p in [
            TargetParameters::PartitionKeyPath("$.id".into()),
            TargetParameters::Http(HttpShape::default()),
        ] {
            assert!(with_scheduled_parameters(builder(), &p).is_err(), "{p:?}");
        }
        let b = eb::Target::builder()
            .id("1")
            .arn("arn:aws:kinesis:us-east-1:123456789012:stream/s");
        assert!(with_parameters(b, &TargetParameters::PartitionKey("k".into())).is_err());
    }

    #[test]
    fn an_ecs_launch_without_subnets_has_no_network_block() {
        let p = TargetParameters::Ecs(EcsShape {
            task_definition_arn: "arn:aws:ecs:us-east-1:123456789012:task-definition/web".into(),
            task_count: 1,
            launch_type: "EC2".into(),
            ..Default::default()
        });
        let b = eb::Target::builder()
            .id("1")
            .arn("arn:aws:ecs:us-east-1:123456789012:cluster/c");
        let t = with_parameters(b, &p).unwrap().build().unwrap();
        assert!(t
            .ecs_parameters()
            .unwrap()
            .network_configuration()
            .is_none());
    }
}
