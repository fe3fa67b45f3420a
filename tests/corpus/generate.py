#!/usr/bin/env python3
"""Writes the diagnosis corpus: one bundle per case, in the shapes the AWS CLI prints, each
with the finding codes a person expects (`expect`), written by hand here — never produced by
the engine under test. Run from anywhere: python3 tests/corpus/generate.py"""
import copy
import json
import os
import urllib.parse

A = "111122223333"          # the rule's account
B = "444455556666"          # another account
R = "us-east-1"
RULE = f"arn:aws:events:{R}:{A}:rule/orders"
CLUSTER = f"arn:aws:ecs:{R}:{A}:cluster/main"
TD = f"arn:aws:ecs:{R}:{A}:task-definition/orders-worker:3"
EXEC = f"arn:aws:iam::{A}:role/orders-exec"
TASK = f"arn:aws:iam::{A}:role/orders-task"
EBROLE = f"arn:aws:iam::{A}:role/eventbridge-orders"
SM = f"arn:aws:states:{R}:{A}:stateMachine:orders"
FN = f"arn:aws:lambda:{R}:{A}:function:notify"

def doc(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}

def trust_events(cond=True):
    s = {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sts:AssumeRole"}
    if cond:
        s["Condition"] = {"StringEquals": {"aws:SourceAccount": A}, "ArnEquals": {"aws:SourceArn": RULE}}
    return doc(s)

RUN_TASK = {"Effect": "Allow", "Action": "ecs:RunTask", "Resource": f"arn:aws:ecs:{R}:{A}:task-definition/orders-worker:*", "Condition": {"ArnEquals": {"ecs:cluster": CLUSTER}}}
PASS_ROLE = {"Effect": "Allow", "Action": "iam:PassRole", "Resource": [EXEC, TASK], "Condition": {"StringLike": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}}
START = {"Effect": "Allow", "Action": "states:StartExecution", "Resource": SM}

def role(arn, trust, inline=(), attached=(), boundary=None):
    name = arn.rsplit("/", 1)[1]
    r = {"Role": {"Path": "/", "RoleName": name, "RoleId": "AROA" + name.upper()[:12], "Arn": arn, "CreateDate": "2026-01-01T00:00:00Z", "AssumeRolePolicyDocument": trust},
         "RolePolicies": [{"RoleName": name, "PolicyName": n, "PolicyDocument": d} for n, d in inline],
         "AttachedPolicies": [{"PolicyArn": a, "Document": d} for a, d in attached]}
    if boundary:
        r["PermissionsBoundary"] = {"PolicyArn": boundary[0], "Document": boundary[1]}
        r["Role"]["PermissionsBoundary"] = {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": boundary[0]}
    return r

def rule(state="ENABLED", bus="default", name="orders", arn=RULE):
    return {"Name": name, "Arn": arn, "EventPattern": "{\"source\":[\"com.example.orders\"]}", "State": state, "EventBusName": bus}

def ecs_target(role_arn=EBROLE, cluster=CLUSTER, td=TD):
    t = {"Id": "1", "Arn": cluster, "EcsParameters": {"TaskDefinitionArn": td, "TaskCount": 1, "LaunchType": "FARGATE",
         "NetworkConfiguration": {"awsvpcConfiguration": {"Subnets": ["subnet-0a1b2c3d"], "AssignPublicIp": "DISABLED"}}}}
    if role_arn:
        t["RoleArn"] = role_arn
    return t

def task_definitions():
    return {TD: {"taskDefinition": {"taskDefinitionArn": TD, "family": "orders-worker", "revision": 3, "executionRoleArn": EXEC, "taskRoleArn": TASK}}}

def ecs_good():
    return {"rule": rule(), "targets": {"Targets": [ecs_target()]},
            "roles": [role(EBROLE, trust_events(), [("invoke", doc(RUN_TASK, PASS_ROLE))])],
            "taskDefinitions": task_definitions()}

def sfn_good():
    return {"rule": rule(), "targets": {"Targets": [{"Id": "sfn", "Arn": SM, "RoleArn": EBROLE}]},
            "roles": [role(EBROLE, trust_events(), [("invoke", doc(START))])]}

def lambda_policy(resource=FN, source_arn=RULE, source_account=A, extra=()):
    cond = {}
    if source_arn:
        cond["ArnLike"] = {"AWS:SourceArn": source_arn}
    if source_account:
        cond["StringEquals"] = {"AWS:SourceAccount": source_account}
    s = {"Sid": "events-orders", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "lambda:InvokeFunction", "Resource": resource}
    if cond:
        s["Condition"] = cond
    return {"Policy": json.dumps(doc(s, *extra)), "RevisionId": "4f1c0de2-0000-0000-0000-000000000000"}

def lambda_good(target=FN, policy=None):
    return {"rule": rule(), "targets": {"Targets": [{"Id": "fn", "Arn": target}]},
            "lambdaPolicies": {target: policy or lambda_policy(resource=target)}}

CASES = {}

def case(name, description, bundle, errors=(), warnings=()):
    bundle = copy.deepcopy(bundle)
    bundle["description"] = description
    bundle["expect"] = {"errors": sorted(set(errors)), "warnings": sorted(set(warnings))}
    CASES[name] = bundle

def mutate(base, f):
    b = copy.deepcopy(base)
    f(b)
    return b

def set_inline(b, *statements):
    b["roles"][0]["RolePolicies"] = [{"RoleName": "eventbridge-orders", "PolicyName": "invoke", "PolicyDocument": doc(*statements)}] if statements else []

# --- correct configurations: no errors ---
case("ecs-good", "Least-privilege ECS role: RunTask on the family in this cluster, PassRole on the task's two roles.", ecs_good())
case("ecs-good-managed-policy", "The same permissions from an attached customer managed policy.",
     mutate(ecs_good(), lambda b: (set_inline(b), b["roles"][0]["AttachedPolicies"].append({"PolicyArn": f"arn:aws:iam::{A}:policy/orders-invoke", "Document": doc(RUN_TASK, PASS_ROLE)}))))
case("ecs-good-url-encoded", "Documents URL-encoded as IAM's API returns them.",
     mutate(ecs_good(), lambda b: (b["roles"][0]["Role"].__setitem__("AssumeRolePolicyDocument", urllib.parse.quote(json.dumps(trust_events()), safe="")),
                                   b["roles"][0]["RolePolicies"][0].__setitem__("PolicyDocument", urllib.parse.quote(json.dumps(doc(RUN_TASK, PASS_ROLE)), safe="")))))
case("ecs-good-service-list", "Trust lists several service principals, EventBridge among them.",
     mutate(ecs_good(), lambda b: b["roles"][0]["Role"].__setitem__("AssumeRolePolicyDocument", doc({"Effect": "Allow", "Principal": {"Service": ["ecs-tasks.amazonaws.com", "events.amazonaws.com"]}, "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"aws:SourceAccount": A}}}))))
case("ecs-good-wildcards", "Wildcards that do match: every task definition of the account, roles named orders-*.",
     mutate(ecs_good(), lambda b: set_inline(b, {"Effect": "Allow", "Action": "ecs:RunTask", "Resource": f"arn:aws:ecs:{R}:{A}:task-definition/*"},
                                             {"Effect": "Allow", "Action": "iam:PassRole", "Resource": f"arn:aws:iam::{A}:role/orders-*"})))
case("ecs-good-arnlike-rule-wildcard", "Trust condition ArnLike on every rule of the account holds for this rule.",
     mutate(ecs_good(), lambda b: b["roles"][0]["Role"].__setitem__("AssumeRolePolicyDocument", doc({"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sts:AssumeRole", "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:events:{R}:{A}:rule/*"}}}))))
case("ecs-good-s3-arn-without-account", "An S3 ARN in the role's policy legitimately has no account.",
     mutate(ecs_good(), lambda b: set_inline(b, RUN_TASK, PASS_ROLE, {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::orders-config/*"})))
case("ecs-good-boundary", "A permissions boundary that allows what the role needs.",
     mutate(ecs_good(), lambda b: b["roles"].__setitem__(0, role(EBROLE, trust_events(), [("invoke", doc(RUN_TASK, PASS_ROLE))], boundary=(f"arn:aws:iam::{A}:policy/boundary", doc({"Effect": "Allow", "Action": ["ecs:RunTask", "iam:PassRole"], "Resource": "*"}))))))
case("ecs-good-unrelated-deny", "A Deny on other actions does not matter.",
     mutate(ecs_good(), lambda b: set_inline(b, RUN_TASK, PASS_ROLE, {"Effect": "Deny", "Action": "s3:*", "Resource": "*"})))
case("sfn-good", "Step Functions: StartExecution on the state machine.", sfn_good())
case("lambda-good", "Lambda: permission for exactly this rule and account.", lambda_good())
case("lambda-good-alias", "Permission granted on the alias the target invokes.", lambda_good(target=FN + ":live"))
case("lambda-good-custom-bus", "Rule on a custom bus; the permission names rule/BUS/NAME.",
     mutate(lambda_good(policy=lambda_policy(source_arn=f"arn:aws:events:{R}:{A}:rule/orders-bus/orders")), lambda b: b.__setitem__("rule", rule(bus="orders-bus", arn=f"arn:aws:events:{R}:{A}:rule/orders-bus/orders"))))
case("lambda-good-cross-account-same-region", "A function in another account, same region: EventBridge delivers directly.",
     {"rule": rule(), "targets": {"Targets": [{"Id": "fn", "Arn": f"arn:aws:lambda:{R}:{B}:function:notify"}]},
      "lambdaPolicies": {f"arn:aws:lambda:{R}:{B}:function:notify": lambda_policy(resource=f"arn:aws:lambda:{R}:{B}:function:notify")}})
case("chain-good", "Cross-account chain: the target role trusts the source role, which may assume it.",
     {"rule": rule(), "targets": {"Targets": []},
      "roles": [role(f"arn:aws:iam::{A}:role/source", trust_events(), [("assume", doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": f"arn:aws:iam::{B}:role/target"}))]),
                role(f"arn:aws:iam::{B}:role/target", doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:role/source"}, "Action": "sts:AssumeRole"}))],
      "chains": [{"from": f"arn:aws:iam::{A}:role/source", "to": f"arn:aws:iam::{B}:role/target"}]})
case("chain-good-account-root", "The target role trusts the source account's root; the source role's own policy allows the assume.",
     mutate(CASES["chain-good"], lambda b: b["roles"][1]["Role"].__setitem__("AssumeRolePolicyDocument", doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"}, "Action": "sts:AssumeRole"}))))

# --- rule and target ---
case("rule-missing", "The rule does not exist.", mutate(ecs_good(), lambda b: b.__setitem__("rule", None)), ["RuleNotFound"])
case("rule-disabled", "The rule is DISABLED.", mutate(ecs_good(), lambda b: b["rule"].__setitem__("State", "DISABLED")), ["RuleDisabled"])
case("target-not-found", "The expected target ID is not on the rule.", mutate(ecs_good(), lambda b: b.__setitem__("expectTargetId", "worker")), ["TargetNotFound"])
case("ecs-no-role-arn", "The ECS target carries no RoleArn.", mutate(ecs_good(), lambda b: b["targets"]["Targets"][0].pop("RoleArn")), ["TargetRoleMissing"])
case("sfn-no-role-arn", "The Step Functions target carries no RoleArn.", mutate(sfn_good(), lambda b: b["targets"]["Targets"][0].pop("RoleArn")), ["TargetRoleMissing"])
case("ecs-role-not-found", "The RoleArn names a role that does not exist.", mutate(ecs_good(), lambda b: b.__setitem__("roles", [])), ["TargetRoleNotFound"])
case("ecs-role-is-task-role", "The target uses the task's execution role, which trusts only ecs-tasks and has no permissions.",
     mutate(ecs_good(), lambda b: (b["targets"]["Targets"][0].__setitem__("RoleArn", EXEC), b["roles"].append(role(EXEC, doc({"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}))))),
     ["TargetRoleIsTaskRole", "TrustPolicyMissingServicePrincipal", "RunTaskNotAllowed", "PassRoleMissing"])

# --- trust ---
case("trust-missing-events", "The role trusts only ECS tasks.",
     mutate(ecs_good(), lambda b: b["roles"][0]["Role"].__setitem__("AssumeRolePolicyDocument", doc({"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}))),
     ["TrustPolicyMissingServicePrincipal"])
case("trust-wrong-action", "The trust statement allows sts:TagSession, not sts:AssumeRole.",
     mutate(ecs_good(), lambda b: b["roles"][0]["Role"].__setitem__("AssumeRolePolicyDocument", doc({"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sts:TagSession"}))),
     ["TrustPolicyMissingServicePrincipal"])
case("trust-source-arn-mismatch", "Trust is bound to another rule.",
     mutate(ecs_good(), lambda b: b["roles"][0]["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]["ArnEquals"].__setitem__("aws:SourceArn", f"arn:aws:events:{R}:{A}:rule/refunds")),
     ["TrustPolicyConditionMismatch"])
case("trust-source-account-mismatch", "Trust is bound to another account's rules.",
     mutate(ecs_good(), lambda b: b["roles"][0]["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]["StringEquals"].__setitem__("aws:SourceAccount", B)),
     ["TrustPolicyConditionMismatch"])
case("trust-explicit-deny", "The trust policy allows EventBridge but also denies it.",
     mutate(ecs_good(), lambda b: b["roles"][0]["Role"]["AssumeRolePolicyDocument"]["Statement"].append({"Effect": "Deny", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sts:AssumeRole"})),
     ["ExplicitDeny", "TrustPolicyMissingServicePrincipal"])
case("trust-unprotected", "Trust without a source condition works but is a confused-deputy risk.",
     mutate(ecs_good(), lambda b: b["roles"][0]["Role"].__setitem__("AssumeRolePolicyDocument", trust_events(cond=False))), warnings=["ConfusedDeputyUnprotected"])

# --- ECS permissions ---
case("runtask-missing", "The role may pass the roles but not run the task.", mutate(ecs_good(), lambda b: set_inline(b, PASS_ROLE)), ["RunTaskNotAllowed"])
case("runtask-wrong-family", "RunTask is allowed on another task family.",
     mutate(ecs_good(), lambda b: set_inline(b, dict(RUN_TASK, Resource=f"arn:aws:ecs:{R}:{A}:task-definition/billing-worker:*"), PASS_ROLE)), ["RunTaskNotAllowed"])
case("runtask-wrong-cluster", "RunTask is allowed only in another cluster.",
     mutate(ecs_good(), lambda b: set_inline(b, dict(RUN_TASK, Condition={"ArnEquals": {"ecs:cluster": f"arn:aws:ecs:{R}:{A}:cluster/batch"}}), PASS_ROLE)), ["RunTaskNotAllowed"])
case("passrole-missing", "The role may run the task but not pass its roles.", mutate(ecs_good(), lambda b: set_inline(b, RUN_TASK)), ["PassRoleMissing"])
case("passrole-execution-only", "PassRole covers the execution role but not the task role.",
     mutate(ecs_good(), lambda b: set_inline(b, RUN_TASK, dict(PASS_ROLE, Resource=EXEC))), ["PassRoleMissing"])
case("passrole-wrong-service", "PassRole is limited to passing roles to Lambda.",
     mutate(ecs_good(), lambda b: set_inline(b, RUN_TASK, dict(PASS_ROLE, Condition={"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}))), ["PassRoleMissing"])
case("passrole-explicit-deny", "An explicit Deny on iam:PassRole.",
     mutate(ecs_good(), lambda b: set_inline(b, RUN_TASK, PASS_ROLE, {"Effect": "Deny", "Action": "iam:PassRole", "Resource": "*"})), ["ExplicitDeny", "PassRoleMissing"])
case("boundary-blocks-runtask", "The boundary allows only PassRole, so RunTask is blocked.",
     mutate(ecs_good(), lambda b: b["roles"].__setitem__(0, role(EBROLE, trust_events(), [("invoke", doc(RUN_TASK, PASS_ROLE))], boundary=(f"arn:aws:iam::{A}:policy/boundary", doc({"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}))))),
     ["PermissionsBoundaryBlocks"])
case("overly-broad", "RunTask and PassRole on *: works, but any role could be passed.",
     mutate(ecs_good(), lambda b: set_inline(b, {"Effect": "Allow", "Action": ["ecs:RunTask", "iam:PassRole"], "Resource": "*"})), warnings=["OverlyBroadPermission"])

# --- Step Functions ---
case("sfn-start-missing", "No StartExecution permission.", mutate(sfn_good(), lambda b: set_inline(b, {"Effect": "Allow", "Action": "states:DescribeExecution", "Resource": "*"})), ["StartExecutionNotAllowed"])
case("sfn-wrong-machine", "StartExecution on another state machine.", mutate(sfn_good(), lambda b: set_inline(b, dict(START, Resource=f"arn:aws:states:{R}:{A}:stateMachine:billing"))), ["StartExecutionNotAllowed"])
case("sfn-deny", "StartExecution allowed and explicitly denied.", mutate(sfn_good(), lambda b: set_inline(b, START, {"Effect": "Deny", "Action": "states:*", "Resource": "*"})), ["ExplicitDeny", "StartExecutionNotAllowed"])
case("sfn-boundary-blocks", "The boundary does not allow Step Functions.",
     mutate(sfn_good(), lambda b: b["roles"].__setitem__(0, role(EBROLE, trust_events(), [("invoke", doc(START))], boundary=(f"arn:aws:iam::{A}:policy/boundary", doc({"Effect": "Allow", "Action": "ecs:*", "Resource": "*"}))))),
     ["PermissionsBoundaryBlocks"])

# --- Lambda ---
case("lambda-no-policy", "The function has no resource-based policy.", mutate(lambda_good(), lambda b: b.__setitem__("lambdaPolicies", {})), ["LambdaPermissionMissing"])
case("lambda-alias-vs-unqualified", "The target invokes the alias; the permission covers only the unqualified function.",
     mutate(lambda_good(), lambda b: (b["targets"]["Targets"][0].__setitem__("Arn", FN + ":live"), b.__setitem__("lambdaPolicies", {FN + ":live": lambda_policy(resource=FN)}))), ["LambdaPermissionMissing"])
case("lambda-wrong-principal", "The permission is for S3, not EventBridge.",
     lambda_good(policy={"Policy": json.dumps(doc({"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "lambda:InvokeFunction", "Resource": FN}))}), ["LambdaPermissionMissing"])
case("lambda-source-arn-mismatch", "The permission names another rule.", lambda_good(policy=lambda_policy(source_arn=f"arn:aws:events:{R}:{A}:rule/refunds")), ["LambdaPermissionSourceArnMismatch"])
case("lambda-custom-bus-arn-without-bus", "Rule on a custom bus, but the permission uses the default-bus form rule/NAME.",
     mutate(lambda_good(), lambda b: b.__setitem__("rule", rule(bus="orders-bus", arn=f"arn:aws:events:{R}:{A}:rule/orders-bus/orders"))), ["LambdaPermissionSourceArnMismatch"])
case("lambda-source-account-mismatch", "The permission is bound to another account.", lambda_good(policy=lambda_policy(source_account=B)), ["LambdaPermissionSourceAccountMismatch"])
case("lambda-deny", "A Deny for EventBridge in the function policy.",
     lambda_good(policy=lambda_policy(extra=[{"Effect": "Deny", "Principal": {"Service": "events.amazonaws.com"}, "Action": "lambda:*", "Resource": FN}])), ["ExplicitDeny", "LambdaPermissionMissing"])
case("lambda-unprotected", "Permission without SourceArn/SourceAccount: works, but any rule could invoke.",
     lambda_good(policy=lambda_policy(source_arn=None, source_account=None)), warnings=["ConfusedDeputyUnprotected"])

# --- ARNs ---
case("arn-role-without-account", "The target's RoleArn has no account ID.",
     mutate(ecs_good(), lambda b: b["targets"]["Targets"][0].__setitem__("RoleArn", "arn:aws:iam:::role/eventbridge-orders")), ["ArnMissingAccountId"])
case("arn-policy-resource-without-account", "RunTask is granted on an ARN with no account, which matches nothing.",
     mutate(ecs_good(), lambda b: set_inline(b, dict(RUN_TASK, Resource=f"arn:aws:ecs:{R}::task-definition/orders-worker:*"), PASS_ROLE)), ["ArnMissingAccountId", "RunTaskNotAllowed"])
case("arn-lambda-source-without-account", "The function policy's SourceArn has no account.",
     lambda_good(policy=lambda_policy(source_arn=f"arn:aws:events:{R}::rule/orders")), ["ArnMissingAccountId", "LambdaPermissionSourceArnMismatch"])
case("arn-malformed-role", "RoleArn is a bare role name.", mutate(ecs_good(), lambda b: b["targets"]["Targets"][0].__setitem__("RoleArn", "eventbridge-orders")), ["ArnMalformed"])

# --- cross-account ---
case("cross-account-ecs-target", "The cluster is in another account: EventBridge cannot run it directly.",
     mutate(ecs_good(), lambda b: b["targets"]["Targets"][0].__setitem__("Arn", f"arn:aws:ecs:{R}:{B}:cluster/main")), ["CrossAccountUnsupportedTarget"])
case("cross-account-role-arn", "The target's role is in another account: EventBridge does not chain roles.",
     mutate(sfn_good(), lambda b: b["targets"]["Targets"][0].__setitem__("RoleArn", f"arn:aws:iam::{B}:role/eventbridge-orders")), ["CrossAccountUnsupportedTarget"])
case("cross-account-lambda-other-region", "A function in another account and region.",
     {"rule": rule(), "targets": {"Targets": [{"Id": "fn", "Arn": f"arn:aws:lambda:eu-west-1:{B}:function:notify"}]}}, ["CrossAccountUnsupportedTarget"])
case("chain-trust-missing", "The target role does not trust the source role.",
     mutate(CASES["chain-good"], lambda b: b["roles"][1]["Role"].__setitem__("AssumeRolePolicyDocument", doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{B}:root"}, "Action": "sts:AssumeRole"}))),
     ["CrossAccountTrustMissing"])
case("chain-assume-not-allowed", "The source role has no sts:AssumeRole on the target role.",
     mutate(CASES["chain-good"], lambda b: b["roles"][0].__setitem__("RolePolicies", [])), ["CrossAccountAssumeRoleNotAllowed"])
case("chain-target-role-missing", "The target role does not exist in the other account.",
     mutate(CASES["chain-good"], lambda b: b["roles"].pop(1)), ["CrossAccountTrustMissing"])

# --- cross-account shapes the controller builds ---
BUS_B = f"arn:aws:events:{R}:{B}:event-bus/default"
FWD = f"arn:aws:iam::{A}:role/forwarder"
fwd_policy = doc({"Effect": "Allow", "Action": "events:PutEvents", "Resource": BUS_B})
case("forwarding-good", "EventBusForwarding: the rule targets the other account's bus with a role EventBridge may assume.",
     {"rule": rule(), "targets": {"Targets": [{"Id": "1", "Arn": BUS_B, "RoleArn": FWD}]}, "roles": [role(FWD, trust_events(), [("forward", fwd_policy)])]})
case("forwarding-no-role", "A cross-account bus target without a RoleArn.",
     {"rule": rule(), "targets": {"Targets": [{"Id": "1", "Arn": BUS_B}]}}, ["TargetRoleMissing"])
case("forwarding-role-untrusted", "The forwarding role does not trust EventBridge.",
     {"rule": rule(), "targets": {"Targets": [{"Id": "1", "Arn": BUS_B, "RoleArn": FWD}]},
      "roles": [role(FWD, doc({"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}), [("forward", fwd_policy)])]},
     ["TrustPolicyMissingServicePrincipal"])
FN_B = f"arn:aws:lambda:{R}:{B}:function:notify"
EXEC_A = f"arn:aws:iam::{A}:role/invoker"
def role_policy_for_role(principal):
    return {"Policy": json.dumps(doc({"Sid": "cross", "Effect": "Allow", "Principal": {"AWS": principal}, "Action": "lambda:InvokeFunction", "Resource": FN_B}))}
lambda_exec = {"rule": rule(), "targets": {"Targets": [{"Id": "fn", "Arn": FN_B, "RoleArn": EXEC_A}]},
               "roles": [role(EXEC_A, trust_events(), [("invoke", doc({"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": FN_B}))])],
               "lambdaPolicies": {FN_B: role_policy_for_role(EXEC_A)}}
case("lambda-execution-role-good", "A function in another account invoked with the rule account's execution role, which its policy names.", lambda_exec)
case("lambda-execution-role-not-in-function-policy", "The function policy names another role.",
     mutate(lambda_exec, lambda b: b["lambdaPolicies"].__setitem__(FN_B, role_policy_for_role(f"arn:aws:iam::{A}:role/someone-else"))), ["LambdaPermissionMissing"])
case("lambda-execution-role-cannot-invoke", "The execution role's own policy does not allow lambda:InvokeFunction.",
     mutate(lambda_exec, lambda b: b["roles"][0].__setitem__("RolePolicies", [])), ["LambdaPermissionMissing"])
CHAINED_B = f"arn:aws:iam::{B}:role/notify-invoker"
hand_chain = mutate(lambda_exec, lambda b: (
    b["roles"][0].__setitem__("RolePolicies", [{"RoleName": "invoker", "PolicyName": "assume", "PolicyDocument": doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": CHAINED_B})}]),
    b["roles"].append(role(CHAINED_B, doc({"Effect": "Allow", "Principal": {"AWS": EXEC_A}, "Action": "sts:AssumeRole"}),
                           [("invoke", doc({"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": FN_B}))])),
    b["lambdaPolicies"].__setitem__(FN_B, role_policy_for_role(CHAINED_B))))
case("lambda-hand-built-role-chain", "The textbook chain: the execution role may only assume a role of the function's account, which may invoke it. EventBridge never assumes it.",
     hand_chain, ["LambdaPermissionMissing", "RoleChainNotFollowed"])
case("lambda-chain-beside-direct-grant", "An assumable role in the function's account besides a working direct grant: nothing to say.",
     mutate(lambda_exec, lambda b: b["roles"][0]["RolePolicies"].append(
         {"RoleName": "invoker", "PolicyName": "assume", "PolicyDocument": doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": CHAINED_B})})))
case("chain-only-broken", "Only a trust chain to verify (no rule): the target role trusts another role.",
     {"roles": [role(f"arn:aws:iam::{A}:role/source", trust_events(), [("assume", doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": f"arn:aws:iam::{B}:role/target"}))]),
                role(f"arn:aws:iam::{B}:role/target", doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:role/other"}, "Action": "sts:AssumeRole"}))],
      "chains": [{"from": f"arn:aws:iam::{A}:role/source", "to": f"arn:aws:iam::{B}:role/target"}]}, ["CrossAccountTrustMissing"])

# --- more correct configurations: every way of being right must stay silent ---
def with_inline(*statements):
    return mutate(ecs_good(), lambda b: set_inline(b, *statements))
def with_trust(trust):
    return mutate(ecs_good(), lambda b: b["roles"][0]["Role"].__setitem__("AssumeRolePolicyDocument", trust))
events_stmt = {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sts:AssumeRole"}
case("ok-passrole-two-statements", "PassRole granted per role, in two statements.",
     with_inline(RUN_TASK, dict(PASS_ROLE, Resource=EXEC), dict(PASS_ROLE, Resource=TASK)))
case("ok-passrole-stringequals", "PassedToService with StringEquals instead of StringLike.",
     with_inline(RUN_TASK, dict(PASS_ROLE, Condition={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}})))
case("ok-passrole-unconditioned", "PassRole on exactly the two roles, without a service condition.",
     with_inline(RUN_TASK, {"Effect": "Allow", "Action": "iam:PassRole", "Resource": [EXEC, TASK]}))
case("ok-cluster-ifexists", "The cluster condition written with ArnEqualsIfExists.",
     with_inline(dict(RUN_TASK, Condition={"ArnEqualsIfExists": {"ecs:cluster": CLUSTER}}), PASS_ROLE))
case("ok-cluster-arnlike", "Every cluster of the account, by ArnLike.",
     with_inline(dict(RUN_TASK, Condition={"ArnLike": {"ecs:cluster": f"arn:aws:ecs:*:{A}:cluster/*"}}), PASS_ROLE))
case("ok-exact-revision", "RunTask on exactly the revision the target uses.", with_inline(dict(RUN_TASK, Resource=TD), PASS_ROLE))
case("ok-action-wildcard", "ecs:Run* and iam:Pass* on exact resources.",
     with_inline(dict(RUN_TASK, Action="ecs:Run*"), dict(PASS_ROLE, Action="iam:Pass*")))
case("ok-action-case", "Action names in another case.", with_inline(dict(RUN_TASK, Action="ECS:runtask"), dict(PASS_ROLE, Action="IAM:passrole")))
case("ok-notaction", "NotAction on unrelated services with exact resources.",
     with_inline({"Effect": "Allow", "NotAction": ["s3:*", "dynamodb:*"], "Resource": [f"arn:aws:ecs:{R}:{A}:task-definition/orders-worker:*", EXEC, TASK]}))
case("ok-deny-elsewhere", "A Deny for every other cluster does not touch this one.",
     with_inline(RUN_TASK, PASS_ROLE, {"Effect": "Deny", "Action": "ecs:RunTask", "Resource": "*", "Condition": {"ArnNotEquals": {"ecs:cluster": CLUSTER}}}))
case("ok-role-with-path", "The role lives under an IAM path.",
     mutate(ecs_good(), lambda b: (b["targets"]["Targets"][0].__setitem__("RoleArn", f"arn:aws:iam::{A}:role/service-role/eventbridge-orders"),
                                   b["roles"][0]["Role"].__setitem__("Arn", f"arn:aws:iam::{A}:role/service-role/eventbridge-orders"))))
case("ok-trust-sourcearn-only", "Trust bound by aws:SourceArn alone.",
     with_trust(doc(dict(events_stmt, Condition={"ArnEquals": {"aws:SourceArn": RULE}}))))
case("ok-trust-sourceaccount-only", "Trust bound by aws:SourceAccount alone.",
     with_trust(doc(dict(events_stmt, Condition={"StringEquals": {"aws:SourceAccount": A}}))))
case("ok-trust-stringlike-rules", "Trust for the account's orders-* rules by StringLike.",
     with_trust(doc(dict(events_stmt, Condition={"StringLike": {"aws:SourceArn": f"arn:aws:events:{R}:{A}:rule/orders*"}}))))
case("ok-trust-two-statements", "Trust for EventBridge and, separately, for ECS tasks.",
     with_trust(doc(dict(events_stmt, Condition={"StringEquals": {"aws:SourceAccount": A}}), {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"})))
case("ok-aws-managed-policy", "AWS's own managed policy for EventBridge to run ECS tasks (broad by design, not flagged).",
     mutate(ecs_good(), lambda b: (set_inline(b), b["roles"][0]["AttachedPolicies"].append({"PolicyArn": "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceEventsRole",
         "Document": doc({"Effect": "Allow", "Action": ["ecs:RunTask"], "Resource": ["*"]},
                         {"Effect": "Allow", "Action": "iam:PassRole", "Resource": ["*"], "Condition": {"StringLike": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}})}))))
case("ok-boundary-everything", "A boundary that allows everything.",
     mutate(ecs_good(), lambda b: b["roles"].__setitem__(0, role(EBROLE, trust_events(), [("invoke", doc(RUN_TASK, PASS_ROLE))], boundary=(f"arn:aws:iam::{A}:policy/boundary", doc({"Effect": "Allow", "Action": "*", "Resource": "*"}))))))
case("ok-task-without-task-role", "A task with only an execution role needs only that role passed.",
     mutate(ecs_good(), lambda b: (b["taskDefinitions"][TD]["taskDefinition"].pop("taskRoleArn"), set_inline(b, RUN_TASK, dict(PASS_ROLE, Resource=EXEC)))))
case("ok-dead-letter-queue", "A dead-letter queue with a full SQS ARN.",
     mutate(ecs_good(), lambda b: b["targets"]["Targets"][0].__setitem__("DeadLetterConfig", {"Arn": f"arn:aws:sqs:{R}:{A}:orders-dlq"})))
case("ok-rule-enabled-with-cloudtrail", "State ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS is enabled.",
     mutate(ecs_good(), lambda b: b["rule"].__setitem__("State", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")))
case("ok-two-targets", "One rule, an ECS target and a Lambda target, both permitted.",
     mutate(ecs_good(), lambda b: (b["targets"]["Targets"].append({"Id": "fn", "Arn": FN}), b.__setitem__("lambdaPolicies", {FN: lambda_policy()}))))
case("ok-sfn-wildcard", "StartExecution on every orders* state machine.", mutate(sfn_good(), lambda b: set_inline(b, dict(START, Resource=f"arn:aws:states:{R}:{A}:stateMachine:orders*"))))
case("ok-sfn-action-list", "StartExecution among other Step Functions actions.",
     mutate(sfn_good(), lambda b: set_inline(b, dict(START, Action=["states:StartSyncExecution", "states:StartExecution"]))))
case("ok-sfn-managed-policy", "StartExecution from a customer managed policy.",
     mutate(sfn_good(), lambda b: (set_inline(b), b["roles"][0]["AttachedPolicies"].append({"PolicyArn": f"arn:aws:iam::{A}:policy/start", "Document": doc(START)}))))
case("ok-lambda-version", "A numbered version, with its own permission.", lambda_good(target=FN + ":7"))
case("ok-lambda-sourcearn-wildcard", "The permission admits every rule of the account.", lambda_good(policy=lambda_policy(source_arn=f"arn:aws:events:{R}:{A}:rule/*")))
case("ok-lambda-sourcearn-only", "The permission bound by SourceArn alone.", lambda_good(policy=lambda_policy(source_account=None)))
case("ok-lambda-policy-object", "The policy given as an object rather than the CLI's JSON string.",
     lambda_good(policy={"Policy": doc({"Sid": "events", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "lambda:InvokeFunction", "Resource": FN, "Condition": {"ArnLike": {"AWS:SourceArn": RULE}}})}))
case("ok-lambda-other-statements", "Statements for other callers beside EventBridge's.",
     lambda_good(policy=lambda_policy(extra=[{"Sid": "s3", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "lambda:InvokeFunction", "Resource": FN}])))
case("ok-lambda-principal-list", "Several service principals in one statement.",
     lambda_good(policy={"Policy": json.dumps(doc({"Sid": "events", "Effect": "Allow", "Principal": {"Service": ["sns.amazonaws.com", "events.amazonaws.com"]}, "Action": "lambda:InvokeFunction", "Resource": FN, "Condition": {"ArnLike": {"AWS:SourceArn": RULE}}}))}))

# --- dead-letter queues (issue 10, part 1): queue policy, region, KMS key ---
DLQ = f"arn:aws:sqs:{R}:{A}:orders-dlq"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = f"arn:aws:kms:{R}:{A}:key/{KEY_ID}"
DLQ_STATEMENT = {"Sid": "dlq-orders", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage", "Resource": DLQ, "Condition": {"ArnEquals": {"aws:SourceArn": RULE}}}
KEY_ADMIN = {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"}, "Action": "kms:*", "Resource": "*"}
KEY_EVENTS = {"Sid": "events", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": "*"}

def queue(arn=DLQ, policy=None, kms=None, sse=False):
    """`aws sqs get-queue-attributes --attribute-names All`."""
    a = {"QueueArn": arn, "ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0", "ApproximateNumberOfMessagesDelayed": "0",
         "CreatedTimestamp": "1767225600", "LastModifiedTimestamp": "1767225600", "VisibilityTimeout": "30", "MaximumMessageSize": "262144",
         "MessageRetentionPeriod": "1209600", "DelaySeconds": "0", "ReceiveMessageWaitTimeSeconds": "0", "SqsManagedSseEnabled": "true" if sse else "false"}
    if policy:
        a["Policy"] = json.dumps(policy)
    if kms:
        a["KmsMasterKeyId"] = kms
        a["KmsDataKeyReusePeriodSeconds"] = "300"
    return {"Attributes": a}

def key_policy(*statements):
    """`aws kms get-key-policy --key-id … --policy-name default`."""
    return {"Policy": json.dumps({"Version": "2012-10-17", "Id": "key-default-1", "Statement": list(statements)}), "PolicyName": "default"}

def with_dlq(base, queues, dlq=DLQ, keys=None, target=0):
    b = copy.deepcopy(base)
    b["targets"]["Targets"][target]["DeadLetterConfig"] = {"Arn": dlq}
    if queues is not None:
        b["deadLetterQueues"] = queues
    if keys is not None:
        b["keyPolicies"] = keys
    return b

case("dlq-good", "A dead-letter queue whose policy lets EventBridge send for this rule.",
     with_dlq(ecs_good(), {DLQ: queue(policy=doc(DLQ_STATEMENT))}))
case("dlq-good-sse-sqs", "A queue encrypted with SSE-SQS needs no key policy.",
     with_dlq(ecs_good(), {DLQ: queue(policy=doc(DLQ_STATEMENT), sse=True)}))
case("dlq-good-customer-key", "A queue encrypted with a customer managed key whose policy lets EventBridge use it.",
     with_dlq(ecs_good(), {DLQ: queue(policy=doc(DLQ_STATEMENT), kms=KEY_ID)}, keys={KEY_ID: key_policy(KEY_ADMIN, KEY_EVENTS)}))
case("dlq-good-key-by-arn", "The queue names its key by ID, the bundle by ARN: the same key.",
     with_dlq(ecs_good(), {DLQ: queue(policy=doc(DLQ_STATEMENT), kms=KEY_ID)}, keys={KEY_ARN: key_policy(KEY_ADMIN, KEY_EVENTS)}))
case("dlq-good-account-wide", "The queue policy admits every rule of the account (ArnLike rule/*) among other statements.",
     with_dlq(ecs_good(), {DLQ: queue(policy=doc({"Sid": "owner", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"}, "Action": "sqs:*", "Resource": DLQ},
                                                 dict(DLQ_STATEMENT, Condition={"ArnLike": {"aws:SourceArn": f"arn:aws:events:{R}:{A}:rule/*"}})))}))
case("dlq-good-lambda", "A Lambda target's dead-letter queue, permitted.",
     with_dlq(lambda_good(), {DLQ: queue(policy=doc(DLQ_STATEMENT))}))
case("dlq-not-found", "The dead-letter queue does not exist (absent from the gathered queues).",
     with_dlq(ecs_good(), {}), errors=["DeadLetterQueueNotFound"])
case("dlq-no-policy", "The queue has no policy, so EventBridge may not send to it.",
     with_dlq(ecs_good(), {DLQ: queue()}), errors=["DeadLetterQueuePermissionMissing"])
case("dlq-policy-other-rule", "The queue policy admits another rule only.",
     with_dlq(ecs_good(), {DLQ: queue(policy=doc(dict(DLQ_STATEMENT, Condition={"ArnEquals": {"aws:SourceArn": f"arn:aws:events:{R}:{A}:rule/refunds"}})))}), errors=["DeadLetterQueuePermissionMissing"])
case("dlq-policy-wrong-principal", "The queue policy admits SNS, not EventBridge.",
     with_dlq(ecs_good(), {DLQ: queue(policy=doc(dict(DLQ_STATEMENT, Principal={"Service": "sns.amazonaws.com"})))}), errors=["DeadLetterQueuePermissionMissing"])
case("dlq-policy-deny", "A Deny for every service principal in the queue policy.",
     with_dlq(ecs_good(), {DLQ: queue(policy=doc(DLQ_STATEMENT, {"Effect": "Deny", "Principal": "*", "Action": "sqs:SendMessage", "Resource": DLQ, "Condition": {"Bool": {"aws:PrincipalIsAWSService": "true"}}}))}),
     errors=["DeadLetterQueuePermissionMissing"])
case("dlq-other-region", "The dead-letter queue is in another region than the rule (known from its ARN alone).",
     with_dlq(ecs_good(), None, dlq=f"arn:aws:sqs:eu-west-1:{A}:orders-dlq"), errors=["DeadLetterQueueInOtherRegion"])
case("dlq-key-not-permitted", "The queue's customer managed key only trusts the account's IAM policies.",
     with_dlq(ecs_good(), {DLQ: queue(policy=doc(DLQ_STATEMENT), kms=KEY_ARN)}, keys={KEY_ARN: key_policy(KEY_ADMIN)}), errors=["DeadLetterQueueKmsKeyNotPermitted"])
case("dlq-key-decrypt-only", "The key policy lets EventBridge decrypt but not generate data keys.",
     with_dlq(ecs_good(), {DLQ: queue(policy=doc(DLQ_STATEMENT), kms=KEY_ID)}, keys={KEY_ID: key_policy(KEY_ADMIN, dict(KEY_EVENTS, Action="kms:Decrypt"))}), errors=["DeadLetterQueueKmsKeyNotPermitted"])
case("dlq-aws-managed-key", "The queue is encrypted with alias/aws/sqs, whose policy cannot admit EventBridge.",
     with_dlq(ecs_good(), {DLQ: queue(policy=doc(DLQ_STATEMENT), kms="alias/aws/sqs")}), errors=["DeadLetterQueueKmsKeyNotPermitted"])
case("dlq-missing-and-role-broken", "Both a missing queue policy and a role without RunTask: both are named.",
     mutate(with_dlq(ecs_good(), {DLQ: queue()}), lambda b: set_inline(b, PASS_ROLE)), errors=["DeadLetterQueuePermissionMissing", "RunTaskNotAllowed"])

# --- organisation policies (issue 10, part 2): SCPs and RCPs per level ---
FULL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
RCP_FULL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}

def described(name, document, kind="SERVICE_CONTROL_POLICY"):
    """`aws organizations describe-policy --policy-id …`."""
    pid = "p-FullAWSAccess" if name == "FullAWSAccess" else ("p-RCPFullAWSAccess" if name == "RCPFullAWSAccess" else "p-" + name.lower()[:8])
    return {"Policy": {"PolicySummary": {"Id": pid, "Arn": f"arn:aws:organizations::999999999999:policy/o-mine/{kind.lower()}/{pid}", "Name": name, "Type": kind, "AwsManaged": pid.startswith("p-F") or pid.startswith("p-R")},
                       "Content": json.dumps(document)}}

def organization(scps=(), rcps=(), org_id=None):
    o = {"serviceControlPolicies": [{"targetId": t, "policies": [described(n, d) for n, d in ps]} for t, ps in scps],
         "resourceControlPolicies": [{"targetId": t, "policies": [described(n, d, "RESOURCE_CONTROL_POLICY") for n, d in ps]} for t, ps in rcps]}
    if org_id:
        o["Organization"] = {"Id": org_id, "Arn": f"arn:aws:organizations::999999999999:organization/{org_id}", "MasterAccountId": "999999999999", "FeatureSet": "ALL"}
    return o

SCP_LEVELS = lambda ou: [("r-root", [("FullAWSAccess", FULL)]), ("ou-ab12-prod", ou), (A, [("FullAWSAccess", FULL)])]
RCP_LEVELS = lambda ou: [("r-root", [("RCPFullAWSAccess", RCP_FULL)]), ("ou-ab12-prod", ou), (A, [("RCPFullAWSAccess", RCP_FULL)])]
def with_org(base, o):
    b = copy.deepcopy(base)
    b["organization"] = o
    return b

REGION_DENY = doc({"Sid": "OnlyEurope", "Effect": "Deny", "NotAction": ["iam:*", "sts:*", "organizations:*"], "Resource": "*", "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1", "eu-central-1"]}}})
case("org-good", "FullAWSAccess SCPs and RCPFullAWSAccess RCPs at every level.",
     with_org(with_dlq(ecs_good(), {DLQ: queue(policy=doc(DLQ_STATEMENT))}), organization(SCP_LEVELS([("FullAWSAccess", FULL)]), RCP_LEVELS([("RCPFullAWSAccess", RCP_FULL)]))))
case("org-good-region-guardrail", "An SCP that denies regions outside us-east-1 and us-west-2: the rule is in us-east-1.",
     with_org(ecs_good(), organization(SCP_LEVELS([("FullAWSAccess", FULL), ("Regions", doc(dict(REGION_DENY["Statement"][0], Condition={"StringNotEquals": {"aws:RequestedRegion": [R, "us-west-2"]}})))]))))
case("org-good-deny-other-actions", "An SCP that denies leaving the organisation and disabling CloudTrail.",
     with_org(sfn_good(), organization(SCP_LEVELS([("FullAWSAccess", FULL), ("Guardrails", doc({"Effect": "Deny", "Action": ["organizations:LeaveOrganization", "cloudtrail:StopLogging"], "Resource": "*"}))]))))
case("org-good-data-perimeter", "An RCP that keeps STS to the organisation but exempts AWS services: EventBridge may assume the role.",
     with_org(ecs_good(), organization(rcps=RCP_LEVELS([("RCPFullAWSAccess", RCP_FULL), ("Perimeter", doc({"Sid": "OrgOnly", "Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole", "Resource": "*",
         "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-mine"}, "BoolIfExists": {"aws:PrincipalIsAWSService": "false"}}}))]), org_id="o-mine")))
case("org-good-confused-deputy-rcp", "An RCP that lets AWS services act only for the organisation's own accounts: this rule's account is one.",
     with_org(with_dlq(ecs_good(), {DLQ: queue(policy=doc(DLQ_STATEMENT))}), organization(rcps=RCP_LEVELS([("RCPFullAWSAccess", RCP_FULL), ("Deputy", doc({"Sid": "OwnAccountsOnly", "Effect": "Deny", "Principal": "*", "Action": ["sqs:*", "sts:*"], "Resource": "*",
         "Condition": {"StringNotEqualsIfExists": {"aws:SourceAccount": [A, "999999999999"]}, "Bool": {"aws:PrincipalIsAWSService": "true"}}}))]))))
case("org-good-unknown-org-id", "An SCP conditioned on aws:PrincipalOrgID without the organisation's ID in the bundle: not evaluated, so not reported as blocking.",
     with_org(ecs_good(), organization(SCP_LEVELS([("FullAWSAccess", FULL), ("Perimeter", doc({"Effect": "Deny", "Action": "ecs:RunTask", "Resource": "*", "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": "o-mine"}}}))]))))
case("scp-deny-runtask", "An SCP on the OU denies ecs:RunTask.",
     with_org(ecs_good(), organization(SCP_LEVELS([("FullAWSAccess", FULL), ("NoEcs", doc({"Sid": "NoRunTask", "Effect": "Deny", "Action": "ecs:RunTask", "Resource": "*"}))]))),
     errors=["ServiceControlPolicyBlocks"])
case("scp-ou-allows-only-s3", "The OU's only SCP allows S3 alone: ecs:RunTask is implicitly denied at that level.",
     with_org(ecs_good(), organization(SCP_LEVELS([("S3Only", doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}))]))),
     errors=["ServiceControlPolicyBlocks"])
case("scp-region-guardrail", "An SCP allows only European regions; the rule runs in us-east-1.",
     with_org(ecs_good(), organization(SCP_LEVELS([("FullAWSAccess", FULL), ("Regions", REGION_DENY)]))),
     errors=["ServiceControlPolicyBlocks"])
case("scp-deny-states", "An SCP on the account denies Step Functions executions.",
     with_org(sfn_good(), organization([("r-root", [("FullAWSAccess", FULL)]), (A, [("FullAWSAccess", FULL), ("NoStates", doc({"Effect": "Deny", "Action": "states:*", "Resource": "*"}))])])),
     errors=["ServiceControlPolicyBlocks"])
case("scp-org-id-known-other", "The organisation's ID is known and the SCP requires another one.",
     with_org(ecs_good(), organization(SCP_LEVELS([("FullAWSAccess", FULL), ("Perimeter", doc({"Effect": "Deny", "Action": "ecs:RunTask", "Resource": "*", "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": "o-other"}}}))]), org_id="o-mine")),
     errors=["ServiceControlPolicyBlocks"])
case("rcp-deny-assume-role", "An RCP denies sts:AssumeRole to AWS services acting for other accounts, and lists only another account.",
     with_org(ecs_good(), organization(rcps=RCP_LEVELS([("RCPFullAWSAccess", RCP_FULL), ("Deputy", doc({"Sid": "OtherAccountOnly", "Effect": "Deny", "Principal": "*", "Action": "sts:*", "Resource": "*",
         "Condition": {"StringNotEqualsIfExists": {"aws:SourceAccount": B}, "Bool": {"aws:PrincipalIsAWSService": "true"}}}))]))),
     errors=["ResourceControlPolicyBlocks"])
case("rcp-deny-dlq", "An RCP denies sqs:SendMessage to every AWS service: EventBridge cannot use the dead-letter queue.",
     with_org(with_dlq(ecs_good(), {DLQ: queue(policy=doc(DLQ_STATEMENT))}), organization(rcps=RCP_LEVELS([("RCPFullAWSAccess", RCP_FULL), ("NoServices", doc({"Sid": "NoServiceWrites", "Effect": "Deny", "Principal": "*", "Action": "sqs:SendMessage", "Resource": "*", "Condition": {"Bool": {"aws:PrincipalIsAWSService": "true"}}}))]))),
     errors=["ResourceControlPolicyBlocks"])
case("rcp-deny-kms", "An RCP denies KMS use to AWS services: EventBridge cannot encrypt what it sends to the dead-letter queue.",
     with_org(with_dlq(ecs_good(), {DLQ: queue(policy=doc(DLQ_STATEMENT), kms=KEY_ARN)}, keys={KEY_ARN: key_policy(KEY_ADMIN, KEY_EVENTS)}),
              organization(rcps=RCP_LEVELS([("RCPFullAWSAccess", RCP_FULL), ("NoServiceKms", doc({"Sid": "NoServiceKms", "Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*", "Condition": {"Bool": {"aws:PrincipalIsAWSService": "true"}}}))]))),
     errors=["ResourceControlPolicyBlocks"])
case("dlq-good-queue-list", "deadLetterQueues given as a list of get-queue-attributes outputs, with an RCPFullAWSAccess organisation.",
     with_org(mutate(with_dlq(ecs_good(), {DLQ: queue(policy=doc(DLQ_STATEMENT), kms=KEY_ARN)}, keys={KEY_ARN: key_policy(KEY_ADMIN, KEY_EVENTS)}),
                     lambda b: b.__setitem__("deadLetterQueues", list(b["deadLetterQueues"].values()))),
              organization(rcps=RCP_LEVELS([("RCPFullAWSAccess", RCP_FULL)]))))
case("dlq-good-keyed-by-url", "deadLetterQueues keyed by queue URL (what get-queue-attributes takes): the QueueArn attribute names the queue.",
     with_dlq(ecs_good(), {f"https://sqs.{R}.amazonaws.com/{A}/orders-dlq": queue(policy=doc(DLQ_STATEMENT))}))
case("dlq-list-not-found", "deadLetterQueues as a list that does not hold the target's queue.",
     mutate(with_dlq(ecs_good(), {DLQ: queue(arn=DLQ.replace("orders-dlq", "other-dlq"))}),
            lambda b: b.__setitem__("deadLetterQueues", list(b["deadLetterQueues"].values()))),
     errors=["DeadLetterQueueNotFound"])
# "RCPFullAWSAccess ... is automatically attached to the organization root, every OU, and
# every account ... You cannot detach this policy" (AWS Organizations, "RCP evaluation"):
# a level is never without an Allow, so an RCP can only deny.
case("rcp-level-without-allow", "The OU's own RCP allows only S3, but RCPFullAWSAccess (on every level, impossible to detach) still allows STS: an RCP can only deny.",
     with_org(ecs_good(), organization(rcps=RCP_LEVELS([("S3Only", doc({"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}))]))))

# --- SQS targets (issue 19 §1): the queue policy lets EventBridge send for this rule ---
QUEUE = f"arn:aws:sqs:{R}:{A}:orders"
FIFO = f"arn:aws:sqs:{R}:{A}:orders.fifo"
SQS_STATEMENT = {"Sid": "orders-rule", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage", "Resource": QUEUE, "Condition": {"ArnEquals": {"aws:SourceArn": RULE}}}
FOREIGN_SQS = {"Sid": "consumer", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:role/orders-consumer"}, "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage"], "Resource": QUEUE}

def sqs_good(arn=QUEUE, policy=None, group=None):
    t = {"Id": "queue", "Arn": arn}
    if group:
        t["SqsParameters"] = {"MessageGroupId": group}
    statement = dict(SQS_STATEMENT, Resource=arn)
    return {"rule": rule(), "targets": {"Targets": [t]},
            "deadLetterQueues": {arn: queue(arn=arn, policy=policy if policy is not None else doc(FOREIGN_SQS, statement))}}

case("sqs-good", "An SQS target whose queue policy lets EventBridge send for this rule, beside a consumer's statement.", sqs_good())
case("sqs-good-fifo", "A FIFO queue target with its message group, permitted.", sqs_good(arn=FIFO, group="orders"))
case("sqs-good-account-wide", "The queue policy admits every rule of the account (ArnLike rule/*).",
     sqs_good(policy=doc(dict(SQS_STATEMENT, Condition={"ArnLike": {"aws:SourceArn": f"arn:aws:events:{R}:{A}:rule/*"}}))))
case("sqs-not-gathered", "The target queue was not gathered: nothing is said about its policy.",
     mutate(sqs_good(), lambda b: b.pop("deadLetterQueues")))
case("sqs-good-customer-key", "A target queue encrypted with a customer managed key whose policy lets EventBridge use it.",
     mutate(sqs_good(), lambda b: (b["deadLetterQueues"].__setitem__(QUEUE, queue(arn=QUEUE, policy=doc(FOREIGN_SQS, SQS_STATEMENT), kms=KEY_ID)),
                                   b.__setitem__("keyPolicies", {KEY_ID: key_policy(KEY_ADMIN, KEY_EVENTS)}))))
case("sqs-key-not-permitted", "The target queue's customer managed key does not let EventBridge use it.",
     mutate(sqs_good(), lambda b: (b["deadLetterQueues"].__setitem__(QUEUE, queue(arn=QUEUE, policy=doc(FOREIGN_SQS, SQS_STATEMENT), kms=KEY_ID)),
                                   b.__setitem__("keyPolicies", {KEY_ID: key_policy(KEY_ADMIN)}))),
     errors=["SqsQueueKmsKeyNotPermitted"])
case("sqs-aws-managed-key", "The target queue is encrypted with alias/aws/sqs, whose policy cannot admit EventBridge.",
     mutate(sqs_good(), lambda b: b["deadLetterQueues"].__setitem__(QUEUE, queue(arn=QUEUE, policy=doc(FOREIGN_SQS, SQS_STATEMENT), kms="alias/aws/sqs"))),
     errors=["SqsQueueKmsKeyNotPermitted"])
case("sqs-no-policy", "The target queue has no policy, so EventBridge may not send to it.",
     sqs_good(policy={}), errors=["SqsQueuePolicyMissing"])
case("sqs-policy-other-rule", "The queue policy admits another rule only.",
     sqs_good(policy=doc(FOREIGN_SQS, dict(SQS_STATEMENT, Condition={"ArnEquals": {"aws:SourceArn": f"arn:aws:events:{R}:{A}:rule/refunds"}}))),
     errors=["SqsQueuePolicyMissing"])
case("sqs-policy-wrong-principal", "The queue policy admits SNS, not EventBridge.",
     sqs_good(policy=doc(dict(SQS_STATEMENT, Principal={"Service": "sns.amazonaws.com"}))), errors=["SqsQueuePolicyMissing"])
case("sqs-policy-deny", "A Deny for every service principal in the queue policy.",
     sqs_good(policy=doc(SQS_STATEMENT, {"Effect": "Deny", "Principal": "*", "Action": "sqs:SendMessage", "Resource": QUEUE, "Condition": {"Bool": {"aws:PrincipalIsAWSService": "true"}}})),
     errors=["SqsQueuePolicyMissing"])

# SNS targets: the topic's attributes (`aws sns get-topic-attributes`) are gathered with the
# queues, by ARN; EventBridge needs sns:Publish for the rule, and its KMS key if encrypted.
TOPIC = f"arn:aws:sns:{R}:{A}:orders"
FIFO_TOPIC = f"arn:aws:sns:{R}:{A}:orders.fifo"
SNS_STATEMENT = {"Sid": "orders-rule", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sns:Publish", "Resource": TOPIC, "Condition": {"ArnEquals": {"aws:SourceArn": RULE}}}
FOREIGN_SNS = {"Sid": "subscribers", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"}, "Action": "sns:Subscribe", "Resource": TOPIC}

def topic(arn=TOPIC, policy=None, kms=None):
    """`aws sns get-topic-attributes`."""
    a = {"TopicArn": arn, "Owner": A, "DisplayName": "", "SubscriptionsConfirmed": "0", "SubscriptionsPending": "0", "SubscriptionsDeleted": "0",
         "EffectiveDeliveryPolicy": json.dumps({"http": {"defaultHealthyRetryPolicy": {"numRetries": 3}}})}
    if policy:
        a["Policy"] = json.dumps(policy)
    if kms:
        a["KmsMasterKeyId"] = kms
    return {"Attributes": a}

def sns_good(arn=TOPIC, policy=None, group=None, kms=None):
    t = {"Id": "topic", "Arn": arn}
    if group:
        t["SqsParameters"] = {"MessageGroupId": group}
    statement = dict(SNS_STATEMENT, Resource=arn)
    return {"rule": rule(), "targets": {"Targets": [t]},
            "deadLetterQueues": {arn: topic(arn=arn, policy=policy if policy is not None else doc(FOREIGN_SNS, statement), kms=kms)}}

case("sns-good", "An SNS target whose topic policy lets EventBridge publish for this rule, beside the subscribers' statement.", sns_good())
case("sns-good-fifo", "A FIFO topic target with its message group, permitted.", sns_good(arn=FIFO_TOPIC, group="orders"))
case("sns-not-gathered", "The target topic was not gathered: nothing is said about its policy.",
     mutate(sns_good(), lambda b: b.pop("deadLetterQueues")))
case("sns-good-customer-key", "A target topic encrypted with a customer managed key whose policy lets EventBridge use it.",
     mutate(sns_good(kms=KEY_ID), lambda b: b.__setitem__("keyPolicies", {KEY_ID: key_policy(KEY_ADMIN, KEY_EVENTS)})))
case("sns-key-not-permitted", "The target topic's customer managed key does not let EventBridge use it.",
     mutate(sns_good(kms=KEY_ID), lambda b: b.__setitem__("keyPolicies", {KEY_ID: key_policy(KEY_ADMIN)})),
     errors=["SnsTopicKmsKeyNotPermitted"])
case("sns-aws-managed-key", "The target topic is encrypted with alias/aws/sns, whose policy cannot admit EventBridge.",
     sns_good(kms="alias/aws/sns"), errors=["SnsTopicKmsKeyNotPermitted"])
case("sns-no-statement", "The topic policy has no statement for EventBridge (only the subscribers').",
     sns_good(policy=doc(FOREIGN_SNS)), errors=["SnsTopicPolicyMissing"])
case("sns-policy-other-rule", "The topic policy admits another rule only.",
     sns_good(policy=doc(FOREIGN_SNS, dict(SNS_STATEMENT, Condition={"ArnEquals": {"aws:SourceArn": f"arn:aws:events:{R}:{A}:rule/refunds"}}))),
     errors=["SnsTopicPolicyMissing"])
case("sns-policy-deny", "A Deny for every service principal in the topic policy.",
     sns_good(policy=doc(SNS_STATEMENT, {"Effect": "Deny", "Principal": "*", "Action": "sns:Publish", "Resource": TOPIC, "Condition": {"Bool": {"aws:PrincipalIsAWSService": "true"}}})),
     errors=["SnsTopicPolicyMissing"])

# --- Kinesis: a role with kinesis:PutRecord on the stream (EventBridge puts one record per event) ---
STREAM = f"arn:aws:kinesis:{R}:{A}:stream/orders"
PUT_RECORD = {"Effect": "Allow", "Action": "kinesis:PutRecord", "Resource": STREAM}

def kinesis_good(stream=STREAM):
    return {"rule": rule(), "targets": {"Targets": [{"Id": "stream", "Arn": stream, "RoleArn": EBROLE,
                                                     "KinesisParameters": {"PartitionKeyPath": "$.detail.orderId"}}]},
            "roles": [role(EBROLE, trust_events(), [("invoke", doc(dict(PUT_RECORD, Resource=stream)))])]}

case("kinesis-good", "Kinesis: PutRecord on the stream, partitioned by order ID.", kinesis_good())
case("kinesis-good-stream-wildcard", "PutRecord on every stream named orders*.",
     mutate(kinesis_good(), lambda b: set_inline(b, dict(PUT_RECORD, Resource=f"arn:aws:kinesis:{R}:{A}:stream/orders*"))))
case("kinesis-good-other-account-same-region", "A stream of another account in the rule's region: EventBridge puts to it directly with the rule's role.",
     kinesis_good(stream=f"arn:aws:kinesis:{R}:{B}:stream/orders"))
case("kinesis-put-records-only", "PutRecords (the batch call) is granted, PutRecord is not: EventBridge calls PutRecord.",
     mutate(kinesis_good(), lambda b: set_inline(b, dict(PUT_RECORD, Action="kinesis:PutRecords"))), ["PutRecordNotAllowed"])
case("kinesis-wrong-stream", "PutRecord on another stream.",
     mutate(kinesis_good(), lambda b: set_inline(b, dict(PUT_RECORD, Resource=f"arn:aws:kinesis:{R}:{A}:stream/refunds"))), ["PutRecordNotAllowed"])
case("kinesis-no-role", "A Kinesis target without a RoleArn.",
     mutate(kinesis_good(), lambda b: b["targets"]["Targets"][0].pop("RoleArn")), ["TargetRoleMissing"])
case("kinesis-other-account-other-region", "A stream of another account in another region: no direct delivery across regions.",
     kinesis_good(stream=f"arn:aws:kinesis:eu-west-1:{B}:stream/orders"), ["CrossAccountUnsupportedTarget"])

# --- Firehose: a role with firehose:PutRecord and PutRecordBatch on the stream ---
FIREHOSE = f"arn:aws:firehose:{R}:{A}:deliverystream/orders"
PUT_FIREHOSE = {"Effect": "Allow", "Action": ["firehose:PutRecord", "firehose:PutRecordBatch"], "Resource": FIREHOSE}

def firehose_good(stream=FIREHOSE):
    return {"rule": rule(), "targets": {"Targets": [{"Id": "firehose", "Arn": stream, "RoleArn": EBROLE}]},
            "roles": [role(EBROLE, trust_events(), [("invoke", doc(dict(PUT_FIREHOSE, Resource=stream)))])]}

case("firehose-good", "Firehose: PutRecord and PutRecordBatch on the stream.", firehose_good())
case("firehose-good-wildcard-action", "firehose:Put* on the stream.",
     mutate(firehose_good(), lambda b: set_inline(b, dict(PUT_FIREHOSE, Action="firehose:Put*"))))
case("firehose-put-record-only", "PutRecord alone: the rule's role is asked for both actions AWS's own roles hold (its pages disagree on which EventBridge calls).",
     mutate(firehose_good(), lambda b: set_inline(b, dict(PUT_FIREHOSE, Action="firehose:PutRecord"))), ["TargetActionNotAllowed"])
case("firehose-wrong-stream", "Both actions, on another stream.",
     mutate(firehose_good(), lambda b: set_inline(b, dict(PUT_FIREHOSE, Resource=f"arn:aws:firehose:{R}:{A}:deliverystream/refunds"))),
     ["TargetActionNotAllowed", "TargetActionNotAllowed"])
case("firehose-no-role", "A Firehose target without a RoleArn.",
     mutate(firehose_good(), lambda b: b["targets"]["Targets"][0].pop("RoleArn")), ["TargetRoleMissing"])
case("firehose-other-account", "A stream of another account: EventBridge reaches Firehose there only bus to bus.",
     firehose_good(stream=f"arn:aws:firehose:{R}:{B}:deliverystream/orders"), ["CrossAccountUnsupportedTarget"])

# --- API Gateway: a role with execute-api:Invoke on the method the target ARN names ---
METHOD = f"arn:aws:execute-api:{R}:{A}:a1b2c3d4e5/prod/POST/orders"
INVOKE_API = {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": METHOD}

def api_good(resource=METHOD):
    return {"rule": rule(), "targets": {"Targets": [{"Id": "api", "Arn": METHOD, "RoleArn": EBROLE,
                                                     "HttpParameters": {"HeaderParameters": {"X-Source": "eventbridge"}}}]},
            "roles": [role(EBROLE, trust_events(), [("invoke", doc(dict(INVOKE_API, Resource=resource)))])]}

case("api-gateway-good", "API Gateway: execute-api:Invoke on exactly the method the rule calls.", api_good())
case("api-gateway-good-stage-wildcard", "execute-api:Invoke on every method of the stage.",
     api_good(resource=f"arn:aws:execute-api:{R}:{A}:a1b2c3d4e5/prod/*"))
case("api-gateway-other-method", "execute-api:Invoke on GET, the rule calls POST.",
     api_good(resource=f"arn:aws:execute-api:{R}:{A}:a1b2c3d4e5/prod/GET/orders"), ["InvokeApiNotAllowed"])
case("api-gateway-other-stage", "execute-api:Invoke on the test stage, the rule calls prod.",
     api_good(resource=f"arn:aws:execute-api:{R}:{A}:a1b2c3d4e5/test/POST/orders"), ["InvokeApiNotAllowed"])
API_B = f"arn:aws:execute-api:{R}:{B}:a1b2c3d4e5/prod/POST/orders"
case("api-gateway-other-account", "A REST API of another account in the rule's region: EventBridge calls it directly with the rule's role (the API's resource policy is not gathered).",
     mutate(api_good(resource=API_B), lambda b: b["targets"]["Targets"][0].__setitem__("Arn", API_B)))
case("api-gateway-other-account-other-region", "A REST API of another account and another region: no direct delivery across regions.",
     mutate(api_good(resource=API_B.replace(f":{R}:", ":eu-west-1:")), lambda b: b["targets"]["Targets"][0].__setitem__("Arn", API_B.replace(f":{R}:", ":eu-west-1:"))),
     ["CrossAccountUnsupportedTarget"])
case("api-gateway-no-role", "An API Gateway target without a RoleArn.",
     mutate(api_good(), lambda b: b["targets"]["Targets"][0].pop("RoleArn")), ["TargetRoleMissing"])

# --- CloudWatch Logs: the account's logs resource policies must let EventBridge write ---
GROUP = f"arn:aws:logs:{R}:{A}:log-group:/aws/events/orders"
def logs_policy_key(name):
    return f"arn:aws:logs:{R}:{A}:resource-policy:{name}"
LOGS_STATEMENT = {"Sid": "EventBridgeLogsOrders", "Effect": "Allow",
                  "Principal": {"Service": ["events.amazonaws.com", "delivery.logs.amazonaws.com"]},
                  "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": f"{GROUP}:*",
                  "Condition": {"ArnEquals": {"aws:SourceArn": RULE}}}
CONSOLE_LOGS = {"Sid": "TrustEventsToStoreLogEvent", "Effect": "Allow",
                "Principal": {"Service": ["delivery.logs.amazonaws.com", "events.amazonaws.com"]},
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": f"arn:aws:logs:{R}:{A}:log-group:/aws/events/*:*"}

def logs_good(policies=None):
    policies = {"EventBridgeIntegrationController": doc(LOGS_STATEMENT)} if policies is None else policies
    return {"rule": rule(), "targets": {"Targets": [{"Id": "logs", "Arn": GROUP}]},
            "deadLetterQueues": {logs_policy_key(n): {"Attributes": {"Policy": json.dumps(d)} if d else {}} for n, d in policies.items()}}

case("logs-good", "A log group target: our statement in the controller's logs resource policy.", logs_good())
case("logs-good-console-policy", "The policy the console writes (every /aws/events/ group) grants it, among other policies.",
     logs_good({"TrustEventsToStoreLogEvent": doc(CONSOLE_LOGS), "Other": doc(dict(CONSOLE_LOGS, Sid="x", Resource=f"arn:aws:logs:{R}:{A}:log-group:/vpc/*:*"))}))
case("logs-not-gathered", "The account's logs resource policies were not gathered: nothing is said.",
     mutate(logs_good(), lambda b: b.pop("deadLetterQueues")))
case("logs-no-policy", "The account has no logs resource policy at all.",
     logs_good({"EventBridgeIntegrationController": None}), ["LogsResourcePolicyMissing"])
case("logs-other-group", "The policies grant other log groups only.",
     logs_good({"TrustEventsToStoreLogEvent": doc(dict(CONSOLE_LOGS, Resource=f"arn:aws:logs:{R}:{A}:log-group:/aws/lambda/*:*"))}),
     ["LogsResourcePolicyMissing"])
case("logs-other-rule", "Our statement admits another rule only.",
     logs_good({"EventBridgeIntegrationController": doc(dict(LOGS_STATEMENT, Condition={"ArnEquals": {"aws:SourceArn": f"arn:aws:events:{R}:{A}:rule/refunds"}}))}),
     ["LogsResourcePolicyMissing"])
case("logs-other-account", "A log group of another account: EventBridge writes to a log group there only from a rule of that account (bus to bus).",
     mutate(logs_good(), lambda b: b["targets"]["Targets"][0].__setitem__("Arn", GROUP.replace(f":{A}:", f":{B}:"))),
     ["CrossAccountUnsupportedTarget"])

# --- Direct delivery to a queue or topic of another account (same region) ---
QUEUE_B = f"arn:aws:sqs:{R}:{B}:orders"
TOPIC_B = f"arn:aws:sns:{R}:{B}:orders"
STREAM_B = f"arn:aws:kinesis:{R}:{B}:stream/orders"

def stream_policy(arn, policy=None):
    """A stream's resource policy as the controller holds it (`aws kinesis get-resource-policy`'s
    Policy, among the queues); no policy: `{}`, i.e. no Policy attribute."""
    return {"Attributes": dict({"QueueArn": arn}, **({"Policy": json.dumps(policy)} if policy else {}))}
SENDER = f"arn:aws:iam::{A}:role/sender"

def direct_good(target, action, holder, statement_principal=SENDER, role_action=None, target_region=R):
    arn = target.replace(f":{R}:", f":{target_region}:")
    allow = {"Effect": "Allow", "Principal": {"AWS": statement_principal}, "Action": action, "Resource": arn}
    gathered = {"queue": queue, "topic": topic, "stream": stream_policy, "restapi": stream_policy}[holder](arn=arn, policy=doc(allow))
    return {"rule": rule(), "targets": {"Targets": [{"Id": "t", "Arn": arn, "RoleArn": SENDER}]},
            "roles": [role(SENDER, trust_events(), [("send", doc({"Effect": "Allow", "Action": role_action or action, "Resource": arn}))])],
            "deadLetterQueues": {arn: gathered}}

case("direct-sqs-good", "A queue of another account, sent to with the rule account's execution role, which the queue policy names.",
     direct_good(QUEUE_B, "sqs:SendMessage", "queue"))
case("direct-sqs-role-cannot-send", "The execution role may not sqs:SendMessage.",
     direct_good(QUEUE_B, "sqs:SendMessage", "queue", role_action="sqs:GetQueueAttributes"), ["SendMessageNotAllowed"])
case("direct-sqs-policy-names-another-role", "The queue policy names another role of the rule's account.",
     direct_good(QUEUE_B, "sqs:SendMessage", "queue", statement_principal=f"arn:aws:iam::{A}:role/someone-else"), ["SqsQueuePolicyMissing"])
case("direct-sqs-no-role", "A queue of another account with no RoleArn: EventBridge needs the execution role.",
     mutate(direct_good(QUEUE_B, "sqs:SendMessage", "queue"), lambda b: b["targets"]["Targets"][0].pop("RoleArn")), ["TargetRoleMissing"])
case("direct-sqs-other-region", "A queue of another account and another region.",
     direct_good(QUEUE_B, "sqs:SendMessage", "queue", target_region="eu-west-1"), ["CrossAccountUnsupportedTarget"])
case("direct-sns-good", "A topic of another account, published to with the execution role its policy names.",
     direct_good(TOPIC_B, "sns:Publish", "topic"))
case("direct-sns-role-cannot-publish", "The execution role may not sns:Publish.",
     direct_good(TOPIC_B, "sns:Publish", "topic", role_action="sns:Subscribe"), ["PublishNotAllowed"])
case("direct-sns-policy-admits-events-only", "The topic policy admits events.amazonaws.com, not the execution role: the same-account grant does not carry over.",
     mutate(direct_good(TOPIC_B, "sns:Publish", "topic"), lambda b: b["deadLetterQueues"][TOPIC_B].__setitem__("Attributes", topic(arn=TOPIC_B, policy=doc({"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sns:Publish", "Resource": TOPIC_B, "Condition": {"ArnEquals": {"aws:SourceArn": RULE}}}))["Attributes"])),
     ["SnsTopicPolicyMissing"])

case("direct-kinesis-good", "A stream of another account, put to with the execution role its resource policy names.",
     direct_good(STREAM_B, "kinesis:PutRecord", "stream"))
case("direct-kinesis-no-stream-policy", "The stream has no resource policy: the role of another account is refused whatever it may do.",
     mutate(direct_good(STREAM_B, "kinesis:PutRecord", "stream"), lambda b: b["deadLetterQueues"].__setitem__(STREAM_B, stream_policy(STREAM_B))),
     ["KinesisStreamPolicyMissing"])
case("direct-kinesis-policy-grants-putrecords-only", "The stream's policy lets the role kinesis:PutRecords only: EventBridge puts one record per event.",
     mutate(direct_good(STREAM_B, "kinesis:PutRecord", "stream"), lambda b: b["deadLetterQueues"].__setitem__(STREAM_B, stream_policy(STREAM_B, doc({"Effect": "Allow", "Principal": {"AWS": SENDER}, "Action": "kinesis:PutRecords", "Resource": STREAM_B})))),
     ["KinesisStreamPolicyMissing"])
case("direct-kinesis-role-cannot-put", "The execution role may not kinesis:PutRecord on the stream.",
     direct_good(STREAM_B, "kinesis:PutRecord", "stream", role_action="kinesis:DescribeStream"), ["PutRecordNotAllowed"])
case("direct-kinesis-other-region", "A stream of another account and another region: EventBridge puts directly only within the rule's region.",
     direct_good(STREAM_B, "kinesis:PutRecord", "stream", target_region="eu-west-1"), ["CrossAccountUnsupportedTarget"])

# A REST API's policy as the controller holds it (`aws apigateway get-rest-api`'s policy, unescaped),
# among the queues under the method the rule calls.
API_METHOD_B = f"arn:aws:execute-api:{R}:{B}:a1b2c3d4e5/prod/POST/orders"
case("direct-api-gateway-good", "A REST API of another account, called with the execution role its resource policy names for the method.",
     direct_good(API_METHOD_B, "execute-api:Invoke", "restapi"))
case("direct-api-gateway-good-stage-wildcard", "The API's policy lets the role invoke every method of the stage.",
     mutate(direct_good(API_METHOD_B, "execute-api:Invoke", "restapi"), lambda b: b["deadLetterQueues"].__setitem__(API_METHOD_B, stream_policy(API_METHOD_B, doc({"Effect": "Allow", "Principal": {"AWS": SENDER}, "Action": "execute-api:Invoke", "Resource": f"arn:aws:execute-api:{R}:{B}:a1b2c3d4e5/prod/*"})))))
case("direct-api-gateway-no-policy", "The REST API has no resource policy: a role of another account is refused whatever it may do.",
     mutate(direct_good(API_METHOD_B, "execute-api:Invoke", "restapi"), lambda b: b["deadLetterQueues"].__setitem__(API_METHOD_B, stream_policy(API_METHOD_B))),
     ["ApiGatewayPolicyMissing"])
case("direct-api-gateway-policy-other-method", "The API's policy lets the role invoke GET /orders; the rule calls POST.",
     mutate(direct_good(API_METHOD_B, "execute-api:Invoke", "restapi"), lambda b: b["deadLetterQueues"].__setitem__(API_METHOD_B, stream_policy(API_METHOD_B, doc({"Effect": "Allow", "Principal": {"AWS": SENDER}, "Action": "execute-api:Invoke", "Resource": API_METHOD_B.replace("/POST/", "/GET/")})))),
     ["ApiGatewayPolicyMissing"])
case("direct-api-gateway-policy-denies-outside-vpc", "The API's policy allows the role but denies every call not from a VPC endpoint, as private APIs' policies do.",
     mutate(direct_good(API_METHOD_B, "execute-api:Invoke", "restapi"), lambda b: b["deadLetterQueues"].__setitem__(API_METHOD_B, stream_policy(API_METHOD_B, doc(
         {"Effect": "Allow", "Principal": {"AWS": SENDER}, "Action": "execute-api:Invoke", "Resource": API_METHOD_B},
         {"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke", "Resource": f"arn:aws:execute-api:{R}:{B}:a1b2c3d4e5/*", "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-0123456789abcdef0"}}})))),
     ["ApiGatewayPolicyMissing"])
case("direct-api-gateway-role-cannot-invoke", "The execution role may not execute-api:Invoke the method.",
     direct_good(API_METHOD_B, "execute-api:Invoke", "restapi", role_action="execute-api:ManageConnections"), ["InvokeApiNotAllowed"])
case("direct-api-gateway-other-region", "A REST API of another account and another region: EventBridge calls directly only within the rule's region.",
     direct_good(API_METHOD_B, "execute-api:Invoke", "restapi", target_region="eu-west-1"), ["CrossAccountUnsupportedTarget"])

case("direct-sqs-rcp-denies-outside-roles", "A resource control policy lets only principals of the target's own account send to its queues: the rule account's execution role is refused.",
     with_org(direct_good(QUEUE_B, "sqs:SendMessage", "queue"), organization(rcps=RCP_LEVELS([("RCPFullAWSAccess", RCP_FULL), ("OwnPrincipals", doc({"Sid": "OwnAccountOnly", "Effect": "Deny", "Principal": "*", "Action": "sqs:SendMessage", "Resource": "*",
         "Condition": {"StringNotEquals": {"aws:PrincipalAccount": B}}}))]))),
     ["ResourceControlPolicyBlocks"])

# --- API destinations: the role may invoke the destination; its connection must be AUTHORIZED ---
DEST = f"arn:aws:events:{R}:{A}:api-destination/orders/5f1c9a2e-3b4d-4e8f-9a0b-1c2d3e4f5a6b"
CONN = f"arn:aws:events:{R}:{A}:connection/orders/0b9e8d7c-6a5f-4e3d-8c2b-1a0f9e8d7c6b"
INVOKE_DEST = {"Effect": "Allow", "Action": "events:InvokeApiDestination",
               "Resource": f"arn:aws:events:{R}:{A}:api-destination/orders/*"}

def dest_good(resource=INVOKE_DEST["Resource"], state="AUTHORIZED", reason=None, gathered=True):
    b = {"rule": rule(), "targets": {"Targets": [{"Id": "api", "Arn": DEST, "RoleArn": EBROLE}]},
         "roles": [role(EBROLE, trust_events(), [("invoke", doc(dict(INVOKE_DEST, Resource=resource)))])]}
    if gathered:
        connection = None if state is None else dict({"ConnectionArn": CONN, "Name": "orders", "ConnectionState": state,
                                                      "AuthorizationType": "API_KEY"}, **({"StateReason": reason} if reason else {}))
        b["apiDestinations"] = {DEST: {"ApiDestinationArn": DEST, "Name": "orders", "ConnectionArn": CONN,
                                       "InvocationEndpoint": "https://api.example.com/orders", "HttpMethod": "POST",
                                       "ApiDestinationState": "ACTIVE", "Connection": connection}}
    return b

case("api-destination-good", "An API destination: InvokeApiDestination on it (any ID AWS gives it), an AUTHORIZED connection.",
     dest_good())
case("api-destination-exact-arn", "InvokeApiDestination on the destination's full ARN.", dest_good(resource=DEST))
case("api-destination-not-gathered", "The destination's connection was not gathered: only the role is judged.",
     dest_good(gathered=False))
case("api-destination-other-destination", "InvokeApiDestination on another destination only.",
     dest_good(resource=f"arn:aws:events:{R}:{A}:api-destination/refunds/*"), ["InvokeApiDestinationNotAllowed"])
case("api-destination-put-events-only", "The role may put events on the bus, not invoke the destination.",
     mutate(dest_good(), lambda b: set_inline(b, {"Effect": "Allow", "Action": "events:PutEvents", "Resource": f"arn:aws:events:{R}:{A}:event-bus/default"})),
     ["InvokeApiDestinationNotAllowed"])
case("api-destination-deauthorized", "The connection was deauthorized: the token endpoint refused the client credentials.",
     dest_good(state="DEAUTHORIZED", reason="The authorization server responded with 401 Unauthorized"), ["ConnectionNotAuthorized"])
case("api-destination-authorizing", "The connection is still authorizing.", dest_good(state="AUTHORIZING"), ["ConnectionNotAuthorized"])
case("api-destination-connection-gone", "The destination's connection was deleted.", dest_good(state=None), ["ConnectionNotAuthorized"])
case("api-destination-no-role", "An API destination target without a RoleArn.",
     mutate(dest_good(), lambda b: b["targets"]["Targets"][0].pop("RoleArn")), ["TargetRoleMissing"])

# --- What AWS recorded of the rule's deliveries (`collect`'s `delivery`), linked to the causes ---
def metrics(invocations, failed):
    return {"Invocations": invocations, "FailedInvocations": failed, "InvocationsFailedToBeSentToDlq": 0,
            "DeadLetterInvocations": 0, "ThrottledRules": 0}

DENIED_LOG = json.dumps({"resource_arn": f"arn:aws:events:{R}:{A}:event-bus/default", "message_timestamp_ms": "1764900000000",
                         "message_type": "INVOCATION_ATTEMPT_PERMANENT_FAILURE", "log_level": "ERROR",
                         "details": {"rule_arn": RULE, "target_arn": SM},
                         "error": {"http_status_code": 403, "aws_service": "states",
                                   "error_message": f"User: arn:aws:sts::{A}:assumed-role/eventbridge-orders/x is not authorized to perform: states:StartExecution on resource: {SM}"}})

case("delivery-good", "AWS reports invocations and no failures: nothing to say.",
     mutate(sfn_good(), lambda b: b.__setitem__("delivery", {"windowSeconds": 3600, "metrics": metrics(12, 0)})))
case("delivery-failing-predicted", "AWS reports failures and the bus logged AWS's refusal; the static cause is named beside them.",
     mutate(sfn_good(), lambda b: (set_inline(b, {"Effect": "Allow", "Action": "states:DescribeExecution", "Resource": "*"}),
                                   b.__setitem__("delivery", {"windowSeconds": 3600, "metrics": metrics(5, 5), "busLogRecords": [DENIED_LOG]}))),
     ["StartExecutionNotAllowed"], ["DeliveryFailing"])
case("delivery-failing-unpredicted", "AWS reports failures of a rule configured right: said, with no predicted cause.",
     mutate(sfn_good(), lambda b: b.__setitem__("delivery", {"windowSeconds": 3600, "metrics": metrics(5, 2)})),
     [], ["DeliveryFailing"])
case("delivery-metrics-unreadable", "The metrics could not be read: no verdict on delivery, and no finding.",
     mutate(sfn_good(), lambda b: b.__setitem__("delivery", {"windowSeconds": 3600, "unreadable": ["delivery (CloudWatch metrics): cloudwatch:GetMetricData failed (AccessDenied)"]})))

# --- EventBridge Scheduler: a schedule instead of a rule; every target through its role ---
GROUP = f"arn:aws:scheduler:{R}:{A}:schedule-group/reports"
SCHEDULE = f"arn:aws:scheduler:{R}:{A}:schedule/reports/nightly"
SROLE = f"arn:aws:iam::{A}:role/scheduler-nightly"
REPORTS = f"arn:aws:sqs:{R}:{A}:reports"
REPORTS_DLQ = f"arn:aws:sqs:{R}:{A}:reports-dlq"

def trust_scheduler(source_arn=GROUP, cond=True):
    s = {"Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"}, "Action": "sts:AssumeRole"}
    if cond:
        s["Condition"] = {"StringEquals": {"aws:SourceAccount": A}, "ArnEquals": {"aws:SourceArn": source_arn}}
    return doc(s)

def schedule_of(target_arn, state="ENABLED", dlq=None, extra=None):
    t = {"Arn": target_arn, "RoleArn": SROLE, "RetryPolicy": {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}}
    if dlq:
        t["DeadLetterConfig"] = {"Arn": dlq}
    t.update(extra or {})
    return {"Arn": SCHEDULE, "Name": "nightly", "GroupName": "reports", "State": state,
            "ScheduleExpression": "cron(0 9 ? * MON-FRI *)", "ScheduleExpressionTimezone": "Europe/Paris",
            "FlexibleTimeWindow": {"Mode": "OFF"}, "Target": t}

def scheduled(target_arn, *statements, trust=None, **kw):
    return {"schedule": schedule_of(target_arn, **kw),
            "roles": [role(SROLE, trust or trust_scheduler(), [("invoke", doc(*statements))] if statements else [])]}

SCHED_ECS = {"EcsParameters": {"TaskDefinitionArn": TD, "TaskCount": 1, "LaunchType": "FARGATE",
             "NetworkConfiguration": {"awsvpcConfiguration": {"Subnets": ["subnet-0a1b2c3d"]}}}}
INVOKE_FN = {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": FN}
SEND_REPORTS = {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": REPORTS}
SEND_DLQ = {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": REPORTS_DLQ}

case("schedule-sfn-good", "A schedule starting a state machine: its role trusts Scheduler for the schedule's group and may StartExecution.",
     scheduled(SM, START))
case("schedule-lambda-good", "A schedule invoking a function through its role (lambda:InvokeFunction); no function policy is needed.",
     scheduled(FN, INVOKE_FN))
case("schedule-ecs-good", "A schedule running an ECS task: RunTask on the family in the cluster, PassRole on the task's roles.",
     mutate(scheduled(CLUSTER, RUN_TASK, PASS_ROLE, extra=SCHED_ECS), lambda b: b.__setitem__("taskDefinitions", task_definitions())))
case("schedule-sqs-dead-letter-good", "A schedule sending to a queue, with a standard dead-letter queue its role may send to.",
     scheduled(REPORTS, SEND_REPORTS, SEND_DLQ, dlq=REPORTS_DLQ))
case("schedule-kinesis-good", "A schedule putting records to a stream with kinesis:PutRecord.",
     scheduled(f"arn:aws:kinesis:{R}:{A}:stream/ticks", {"Effect": "Allow", "Action": "kinesis:PutRecord", "Resource": f"arn:aws:kinesis:{R}:{A}:stream/ticks"},
               extra={"KinesisParameters": {"PartitionKey": "ticks"}}))
case("schedule-firehose-good", "A schedule putting to a Firehose stream: Scheduler's templated target calls PutRecord only.",
     scheduled(FIREHOSE, {"Effect": "Allow", "Action": "firehose:PutRecord", "Resource": FIREHOSE}))
case("schedule-firehose-batch-only", "PutRecordBatch alone: Scheduler's Firehose target calls PutRecord.",
     scheduled(FIREHOSE, {"Effect": "Allow", "Action": "firehose:PutRecordBatch", "Resource": FIREHOSE}), ["TargetActionNotAllowed"])
case("schedule-trust-group-wildcard-good", "Trust scoped to every schedule group of the account (ArnLike schedule-group/*), as AWS's guide allows.",
     scheduled(SM, START, trust=doc({"Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"}, "Action": "sts:AssumeRole",
                                       "Condition": {"StringEquals": {"aws:SourceAccount": A}, "ArnLike": {"aws:SourceArn": f"arn:aws:scheduler:*:{A}:schedule-group/*"}}})))
case("schedule-not-found", "The schedule does not exist.", {"schedule": None}, ["ScheduleNotFound"])
case("schedule-disabled", "The schedule is DISABLED: Scheduler does not invoke its target.",
     scheduled(SM, START, state="DISABLED"), ["ScheduleDisabled"])
case("schedule-role-trusts-events-only", "A role made for a rule and reused: it trusts events.amazonaws.com, not scheduler.amazonaws.com.",
     scheduled(SM, START, trust=trust_events()), ["SchedulerTrustMissing"])
case("schedule-trust-scoped-to-the-schedule", "Trust's aws:SourceArn names the schedule; Scheduler sends its group's ARN, so it never matches.",
     scheduled(SM, START, trust=trust_scheduler(source_arn=SCHEDULE)), ["TrustPolicyConditionMismatch"])
case("schedule-trust-without-conditions", "Trust for Scheduler with no SourceAccount or SourceArn: works, but any account's schedule could use the role.",
     scheduled(SM, START, trust=trust_scheduler(cond=False)), [], ["ConfusedDeputyUnprotected"])
case("schedule-role-not-found", "The schedule's role does not exist.",
     mutate(scheduled(SM, START), lambda b: b.__setitem__("roles", [])), ["TargetRoleNotFound"])
case("schedule-lambda-function-policy-only", "The function's policy lets events.amazonaws.com invoke it, but Scheduler calls with the role, which may not.",
     mutate(scheduled(FN, START), lambda b: b.__setitem__("lambdaPolicies", {FN: lambda_policy()})), ["InvokeFunctionNotAllowed"])
case("schedule-ecs-pass-role-missing", "A scheduled ECS task whose role may run the task but not pass its roles.",
     mutate(scheduled(CLUSTER, RUN_TASK, extra=SCHED_ECS), lambda b: b.__setitem__("taskDefinitions", task_definitions())), ["PassRoleMissing"])
case("schedule-dead-letter-not-allowed", "The role may send to the target queue but not to the dead-letter queue, where Scheduler sends with that role.",
     scheduled(REPORTS, SEND_REPORTS, dlq=REPORTS_DLQ), ["ScheduleDeadLetterNotAllowed"])
case("schedule-role-in-another-account", "The schedule names a role of another account: Scheduler passes only a role of the schedule's account.",
     mutate(scheduled(SM, START), lambda b: (b["schedule"]["Target"].__setitem__("RoleArn", f"arn:aws:iam::{B}:role/scheduler-nightly"),
                                             b["roles"][0]["Role"].__setitem__("Arn", f"arn:aws:iam::{B}:role/scheduler-nightly"))),
     ["CrossAccountUnsupportedTarget"])
def dated(bundle, collected_at, **fields):
    b = copy.deepcopy(bundle)
    b["schedule"].update(fields)
    b["collectedAt"] = collected_at
    return b

case("schedule-end-date-passed", "The schedule's end date passed before the bundle was collected: it invokes nothing more (a note, not an error).",
     dated(scheduled(SM, START), "2026-06-01T00:00:00Z", EndDate="2026-01-01T00:00:00+00:00"), [], ["ScheduleEnded"])
case("schedule-end-date-ahead-good", "An end date still ahead when collected: nothing to say.",
     dated(scheduled(SM, START), "2026-06-01T00:00:00Z", EndDate="2027-01-01T00:00:00+00:00"))
case("schedule-one-time-passed", "A one-time schedule whose at() time passed more than a day before collection (in any time zone): done.",
     dated(scheduled(SM, START), "2026-03-03T00:00:00Z", ScheduleExpression="at(2026-03-01T09:00:00)"), [], ["ScheduleEnded"])
case("schedule-one-time-ahead-good", "A one-time schedule whose time may not have come yet in its zone (14 hours of zones): not judged ended.",
     dated(scheduled(SM, START), "2026-03-01T20:00:00Z", ScheduleExpression="at(2026-03-01T09:00:00)"))
case("schedule-one-time-ignores-end-date-good", "A one-time schedule ahead, with an end date already past: Scheduler ignores a one-time schedule's end date, so it still fires.",
     dated(scheduled(SM, START), "2026-03-01T00:00:00Z", ScheduleExpression="at(2026-03-05T09:00:00)", EndDate="2026-02-01T00:00:00+01:00"))
case("schedule-end-date-passed-local-offset", "The end date as the CLI prints it on a machine east of UTC (+02:00), passed when collected.",
     dated(scheduled(SM, START), "2026-06-01T00:00:00+02:00", EndDate="2026-05-31T12:00:00+02:00"), [], ["ScheduleEnded"])
case("schedule-dead-letter-fifo", "A FIFO dead-letter queue: Scheduler sends only to standard queues.",
     scheduled(REPORTS, SEND_REPORTS, {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": REPORTS_DLQ + ".fifo"}, dlq=REPORTS_DLQ + ".fifo"),
     ["ScheduleDeadLetterQueueIsFifo"])

ORDERS_FIFO = f"arn:aws:sns:{R}:{A}:orders.fifo"
PUBLISH_FIFO = {"Effect": "Allow", "Action": "sns:Publish", "Resource": ORDERS_FIFO}
UNIVERSAL_PUBLISH = {"Input": json.dumps({"TopicArn": ORDERS_FIFO, "Message": "{}", "MessageGroupId": "nightly",
                                          "MessageDeduplicationId": "nightly@<aws.scheduler.scheduled-time>"})}
case("schedule-fifo-topic-universal-good", "A FIFO topic published to through the universal target aws-sdk:sns:publish, with its group; the role may publish to that topic.",
     scheduled("arn:aws:scheduler:::aws-sdk:sns:publish", PUBLISH_FIFO, extra=UNIVERSAL_PUBLISH))
case("schedule-fifo-topic-universal-not-allowed", "The universal publish names the topic in its input, and the role may publish only to another topic.",
     scheduled("arn:aws:scheduler:::aws-sdk:sns:publish", {"Effect": "Allow", "Action": "sns:Publish", "Resource": f"arn:aws:sns:{R}:{A}:orders"},
               extra=UNIVERSAL_PUBLISH), ["PublishNotAllowed"])
case("schedule-fifo-topic-templated", "A FIFO topic as the templated SNS target: Scheduler sends no message group, so SNS refuses every publish.",
     scheduled(ORDERS_FIFO, PUBLISH_FIFO), ["ScheduleTopicNeedsMessageGroup"])
case("schedule-universal-send-message-good", "A universal SendMessage written by hand: the queue is read from its QueueUrl, and the role may send to it.",
     scheduled("arn:aws:scheduler:::aws-sdk:sqs:sendMessage", SEND_REPORTS,
               extra={"Input": json.dumps({"QueueUrl": f"https://sqs.{R}.amazonaws.com/{A}/reports", "MessageBody": "<aws.scheduler.scheduled-time>"})}))

# A schedule's queue or topic under a KMS key: SQS and SNS use the key as the schedule's role,
# so the key policy must name the role or grant the account (and the role's policy allow it).
USE_KEY = {"Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": KEY_ARN}
KEY_FOR_ROLE = {"Sid": "scheduler-role", "Effect": "Allow", "Principal": {"AWS": SROLE}, "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": "*"}

def keyed(bundle, holders, keys=None):
    b = copy.deepcopy(bundle)
    b["deadLetterQueues"] = {arn: queue(arn=arn, kms=key) for arn, key in holders.items()}
    if keys is not None:
        b["keyPolicies"] = keys
    return b

case("schedule-sqs-customer-key-delegated-good", "The schedule's queue is under a customer managed key whose policy grants the account, and the role's policy lets it use the key.",
     keyed(scheduled(REPORTS, SEND_REPORTS, USE_KEY), {REPORTS: KEY_ID}, {KEY_ID: key_policy(KEY_ADMIN)}))
case("schedule-sqs-customer-key-role-lacks", "The key policy grants the account, so the role's own policy decides, and it does not allow the key.",
     keyed(scheduled(REPORTS, SEND_REPORTS), {REPORTS: KEY_ID}, {KEY_ID: key_policy(KEY_ADMIN)}), ["SqsQueueKmsKeyNotPermitted"])
case("schedule-sqs-customer-key-events-only", "The key policy admits events.amazonaws.com (what a rule needs) but neither the role nor the account: the role's own Allow does not count.",
     keyed(scheduled(REPORTS, SEND_REPORTS, USE_KEY), {REPORTS: KEY_ID}, {KEY_ID: key_policy(KEY_EVENTS)}), ["SqsQueueKmsKeyNotPermitted"])
case("schedule-sqs-aws-managed-key-good", "alias/aws/sqs admits any principal of the account through SQS: fine for a schedule's role (unlike for a rule, which calls as a service).",
     keyed(scheduled(REPORTS, SEND_REPORTS), {REPORTS: "alias/aws/sqs"}))
case("schedule-dead-letter-key-names-role-good", "The dead-letter queue's key policy names the schedule's role: it may use the key without an IAM grant of its own.",
     keyed(scheduled(REPORTS, SEND_REPORTS, SEND_DLQ, dlq=REPORTS_DLQ), {REPORTS_DLQ: KEY_ID}, {KEY_ID: key_policy(KEY_EVENTS, KEY_FOR_ROLE)}))
case("schedule-dead-letter-key-refuses-role", "The dead-letter queue's key admits only EventBridge: Scheduler sends there as the role and cannot.",
     keyed(scheduled(REPORTS, SEND_REPORTS, SEND_DLQ, dlq=REPORTS_DLQ), {REPORTS_DLQ: KEY_ID}, {KEY_ID: key_policy(KEY_EVENTS)}), ["DeadLetterQueueKmsKeyNotPermitted"])
case("schedule-fifo-topic-key-role-lacks", "The FIFO topic of a universal publish is under a key that grants the account; the role may publish but not use the key.",
     keyed(scheduled("arn:aws:scheduler:::aws-sdk:sns:publish", PUBLISH_FIFO, extra=UNIVERSAL_PUBLISH), {ORDERS_FIFO: KEY_ID}, {KEY_ID: key_policy(KEY_ADMIN)}),
     ["SnsTopicKmsKeyNotPermitted"])

KEY_ALIAS = "alias/reports"
def aliased(bundle, key_arn=True):
    b = keyed(bundle, {REPORTS: KEY_ALIAS}, {KEY_ALIAS: key_policy(KEY_ADMIN)})
    if key_arn:
        b["keyPolicies"][KEY_ALIAS]["KeyArn"] = KEY_ARN
    return b
case("schedule-sqs-key-alias-good", "The queue names its key by alias; collect carried the key's ARN, which the role's policy grants (an IAM policy names a key by its ARN).",
     aliased(scheduled(REPORTS, SEND_REPORTS, USE_KEY)))
case("schedule-sqs-key-alias-grant-by-alias", "The role's policy grants the alias's ARN: KMS matches IAM policies against the key's ARN, so the role may not use the key.",
     aliased(scheduled(REPORTS, SEND_REPORTS, dict(USE_KEY, Resource=f"arn:aws:kms:{R}:{A}:alias/reports"))), ["SqsQueueKmsKeyNotPermitted"])
case("schedule-sqs-key-alias-unresolved", "The queue names its key by alias and the key's ARN was not carried: not judged (a note says why), never guessed.",
     aliased(scheduled(REPORTS, SEND_REPORTS), key_arn=False))
BOUNDARY_ARN = f"arn:aws:iam::{A}:policy/scheduler-boundary"
def bounded(bundle, *statements):
    b = copy.deepcopy(bundle)
    r = role(SROLE, trust_scheduler(), [("invoke", doc(SEND_REPORTS, USE_KEY))], boundary=(BOUNDARY_ARN, doc(*statements)))
    b["roles"] = [r]
    return b
case("schedule-sqs-key-boundary-blocks", "The role's policy allows the key but its permissions boundary allows only SQS: the boundary is what to change.",
     bounded(keyed(scheduled(REPORTS, SEND_REPORTS), {REPORTS: KEY_ID}, {KEY_ID: key_policy(KEY_ADMIN)}), {"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}),
     ["SqsQueueKmsKeyNotPermitted"])
case("schedule-dead-letter-is-the-target", "The same queue as target and dead-letter queue, under a key the role may not use: one finding, as the target.",
     keyed(scheduled(REPORTS, SEND_REPORTS, dlq=REPORTS), {REPORTS: KEY_ID}, {KEY_ID: key_policy(KEY_ADMIN)}), ["SqsQueueKmsKeyNotPermitted"])

# RCPs weigh on the schedule's role as on any principal, for SQS and KMS; SNS is outside RCPs.
OUTSIDE_ROLES = {"Effect": "Deny", "Principal": "*", "Resource": "*",
                 "Condition": {"StringNotEquals": {"aws:PrincipalAccount": B}, "Bool": {"aws:PrincipalIsAWSService": "false"}}}
case("schedule-sqs-rcp-denies-the-role", "An RCP lets only another account's principals send to the queues: the schedule's role is refused on its target queue.",
     with_org(scheduled(REPORTS, SEND_REPORTS), organization(rcps=RCP_LEVELS([("RCPFullAWSAccess", RCP_FULL), ("OwnSenders", doc(dict(OUTSIDE_ROLES, Sid="OtherSendersOnly", Action="sqs:SendMessage")))]))),
     ["ResourceControlPolicyBlocks"])
case("schedule-dead-letter-rcp-exempts-the-role-good", "An RCP denies sqs:SendMessage to every role but the schedule's: target and dead-letter queue are both reachable.",
     with_org(scheduled(REPORTS, SEND_REPORTS, SEND_DLQ, dlq=REPORTS_DLQ),
              organization(rcps=RCP_LEVELS([("RCPFullAWSAccess", RCP_FULL), ("OnlyScheduler", doc({"Effect": "Deny", "Principal": "*", "Action": "sqs:SendMessage", "Resource": "*",
                  "Condition": {"ArnNotLike": {"aws:PrincipalArn": SROLE}, "Bool": {"aws:PrincipalIsAWSService": "false"}}}))]))))
case("schedule-dead-letter-rcp-denies-the-role", "A schedule starting a state machine; the RCP exempts another role, so the dead-letter queue, where Scheduler sends with the schedule's role, refuses it.",
     with_org(scheduled(SM, START, SEND_DLQ, dlq=REPORTS_DLQ),
              organization(rcps=RCP_LEVELS([("RCPFullAWSAccess", RCP_FULL), ("OnlyOther", doc({"Effect": "Deny", "Principal": "*", "Action": "sqs:SendMessage", "Resource": "*",
                  "Condition": {"ArnNotLike": {"aws:PrincipalArn": f"arn:aws:iam::{A}:role/other"}, "Bool": {"aws:PrincipalIsAWSService": "false"}}}))]))),
     ["ResourceControlPolicyBlocks"])
case("schedule-topic-outside-rcps-good", "An RCP denies every action to the account's roles: SNS is not a service RCPs apply to, so the schedule still publishes.",
     with_org(scheduled("arn:aws:scheduler:::aws-sdk:sns:publish", PUBLISH_FIFO, extra=UNIVERSAL_PUBLISH),
              organization(rcps=RCP_LEVELS([("RCPFullAWSAccess", RCP_FULL), ("NoRoles", doc(dict(OUTSIDE_ROLES, Action="*")))]))))
case("schedule-sqs-key-rcp-denies-the-role", "The queue's key grants the account and the role's policy allows it, but an RCP denies KMS to the account's roles.",
     with_org(keyed(scheduled(REPORTS, SEND_REPORTS, USE_KEY), {REPORTS: KEY_ID}, {KEY_ID: key_policy(KEY_ADMIN)}),
              organization(rcps=RCP_LEVELS([("RCPFullAWSAccess", RCP_FULL), ("NoKms", doc(dict(OUTSIDE_ROLES, Sid="NoRoleKms", Action="kms:*")))]))),
     ["ResourceControlPolicyBlocks"])
case("schedule-sqs-key-scp-denies-the-role", "The queue's key lets the role use it, but an SCP on the OU lets the account's roles use keys only through S3.",
     with_org(keyed(scheduled(REPORTS, SEND_REPORTS, USE_KEY), {REPORTS: KEY_ID}, {KEY_ID: key_policy(KEY_ADMIN)}),
              organization(SCP_LEVELS([("FullAWSAccess", FULL), ("KeysViaS3", doc({"Sid": "KeysOnlyThroughS3", "Effect": "Deny", "Action": "kms:GenerateDataKey*", "Resource": "*",
                  "Condition": {"StringNotEquals": {"kms:ViaService": f"s3.{R}.amazonaws.com"}}}))]))),
     ["ServiceControlPolicyBlocks"])
case("schedule-sqs-key-scp-deny-on-a-tag-is-said", "An SCP denies KMS on keys without a tag; a key's tags are not in a bundle, so nothing is found, and notEvaluated names the statement that may block.",
     with_org(keyed(scheduled(REPORTS, SEND_REPORTS, USE_KEY), {REPORTS: KEY_ID}, {KEY_ID: key_policy(KEY_ADMIN)}),
              organization(SCP_LEVELS([("FullAWSAccess", FULL), ("TaggedKeys", doc({"Sid": "OnlyApprovedKeys", "Effect": "Deny", "Action": "kms:GenerateDataKey*", "Resource": "*",
                  "Condition": {"StringNotEquals": {"aws:ResourceTag/approved": "true"}}}))]))))
case("schedule-sqs-key-scp-denies-decrypt", "The SCP leaves GenerateDataKey alone but denies kms:Decrypt, which SQS also calls with the sender's role: the schedule cannot send.",
     with_org(keyed(scheduled(REPORTS, SEND_REPORTS, USE_KEY), {REPORTS: KEY_ID}, {KEY_ID: key_policy(KEY_ADMIN)}),
              organization(SCP_LEVELS([("FullAWSAccess", FULL), ("NoDecrypt", doc({"Sid": "NoDecrypt", "Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"}))]))),
     ["ServiceControlPolicyBlocks"])
case("schedule-aws-managed-key-scp-denies", "The queue uses alias/aws/sqs (no key policy to read), and an SCP lets the account's roles use keys only through S3: SCPs weigh on AWS managed keys too.",
     with_org(keyed(scheduled(REPORTS, SEND_REPORTS), {REPORTS: "alias/aws/sqs"}),
              organization(SCP_LEVELS([("FullAWSAccess", FULL), ("KeysViaS3", doc({"Sid": "KeysOnlyThroughS3", "Effect": "Deny", "Action": "kms:*", "Resource": "*",
                  "Condition": {"StringNotEquals": {"kms:ViaService": f"s3.{R}.amazonaws.com"}}}))]))),
     ["ServiceControlPolicyBlocks"])
case("schedule-rcp-blocks-target-and-dead-letter", "One RCP statement refuses the role on both the target queue and the dead-letter queue: one finding for the level, naming both.",
     with_org(scheduled(REPORTS, SEND_REPORTS, SEND_DLQ, dlq=REPORTS_DLQ),
              organization(rcps=RCP_LEVELS([("RCPFullAWSAccess", RCP_FULL), ("OnlyOther", doc({"Sid": "OnlyTheIngestRole", "Effect": "Deny", "Principal": "*", "Action": "sqs:SendMessage", "Resource": "*",
                  "Condition": {"ArnNotLike": {"aws:PrincipalArn": f"arn:aws:iam::{A}:role/ingest"}, "Bool": {"aws:PrincipalIsAWSService": "false"}}}))]))),
     ["ResourceControlPolicyBlocks"])
case("schedule-scp-level-only-allow-unjudged", "The OU's only SCP allows everything to principals tagged team=reports; a role's tags are not in a bundle: nothing is found, and notEvaluated says the level may deny.",
     with_org(scheduled(SM, START), organization(SCP_LEVELS([("TeamOnly", doc({"Sid": "TaggedPrincipals", "Effect": "Allow", "Action": "*", "Resource": "*",
                  "Condition": {"StringEquals": {"aws:PrincipalTag/team": "reports"}}}))]))))

here = os.path.dirname(os.path.abspath(__file__))
for f in os.listdir(here):
    if f.endswith(".json"):
        os.remove(os.path.join(here, f))
for name, bundle in CASES.items():
    with open(os.path.join(here, name + ".json"), "w") as fh:
        json.dump(bundle, fh, indent=2, sort_keys=True)
        fh.write("\n")
print(f"wrote {len(CASES)} bundles")
