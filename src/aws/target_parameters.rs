//! The one mapping between the planner's [`TargetParameters`] and the parameter blocks of
//! EventBridge's `Target`, both ways: read in `observe`, written in `apply`, and printed as
//! the CLI prints them for bundles. A target kind
//! with a parameter block of its own adds its arm to each function here, and nothing else in
//! `aws/` changes.

use aws_sdk_eventbridge::types as eb;
use serde_json::{json, Value};

use crate::plan::{EcsShape, HttpShape, TargetParameters};

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
}

fn ecs_parameters(e: &EcsShape) -> Result<eb::EcsParameters, String> {
    let network = if e.subnets.is_empty() {
        None
    } else {
        let vpc = eb::AwsVpcConfiguration::builder()
            .set_subnets(Some(e.subnets.clone()))
            .set_security_groups((!e.security_groups.is_empty()).then(|| e.security_groups.clone()))
            .set_assign_public_ip(e.assign_public_ip.as_deref().map(eb::AssignPublicIp::from))
            .build()
            .map_err(|e| e.to_string())?;
        Some(
            eb::NetworkConfiguration::builder()
                .awsvpc_configuration(vpc)
                .build(),
        )
    };
    eb::EcsParameters::builder()
        .task_definition_arn(&e.task_definition_arn)
        .task_count(e.task_count)
        .launch_type(eb::LaunchType::from(e.launch_type.as_str()))
        .set_platform_version(e.platform_version.clone())
        .set_network_configuration(network)
        .build()
        .map_err(|e| e.to_string())
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
