#!/usr/bin/env python3
"""Writes tests/simulate/cases.json: `simulate` requests, each with the response a person
expects from AWS's documented evaluation logic (`expect`) and the rule it checks (`doc`, a
link to the page that states it). Expectations are written by hand here, never produced by
the engine under test. Run from anywhere: python3 tests/simulate/generate.py"""
import json
import os

A, B = "111111111111", "222222222222"
ROLE = f"arn:aws:iam::{A}:role/app"
SESSION = f"arn:aws:sts::{A}:assumed-role/app/s1"
USER = f"arn:aws:iam::{A}:user/alice"
ROLE_B = f"arn:aws:iam::{B}:role/reader"
SLR = f"arn:aws:iam::{A}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS"
OBJ = "arn:aws:s3:::b/k"
QUEUE = f"arn:aws:sqs:us-east-1:{A}:dlq"
RULE = f"arn:aws:events:us-east-1:{A}:rule/orders"

D = "https://docs.aws.amazon.com/IAM/latest/UserGuide/"
EVAL = D + "reference_policies_evaluation-logic.html"
CROSS = D + "reference_policies_evaluation-logic-cross-account.html"
COND = D + "reference_policies_elements_condition_operators.html"
MULTI = D + "reference_policies_condition-single-vs-multi-valued-context-keys.html"
VARS = D + "reference_policies_variables.html"
BOUND = D + "access_policies_boundaries.html"
SESS = D + "access_policies.html#policies_session"
ACTION = D + "reference_policies_elements_action.html"
NOTACTION = D + "reference_policies_elements_notaction.html"
NOTRES = D + "reference_policies_elements_notresource.html"
PRINC = D + "reference_policies_elements_principal.html"
NOTPRINC = D + "reference_policies_elements_notprincipal.html"
SCP = "https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps_evaluation.html"
SCPX = "https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html"
RCP = "https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps_evaluation.html"
RCPX = "https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html"

def doc(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}

def allow(action="s3:GetObject", resource=OBJ, **extra):
    s = {"Effect": "Allow", "Action": action, "Resource": resource}
    s.update(extra)
    return s

def deny(action="s3:GetObject", resource=OBJ, **extra):
    s = {"Effect": "Deny", "Action": action, "Resource": resource}
    s.update(extra)
    return s

FULL = doc({"Effect": "Allow", "Action": "*", "Resource": "*"})
RCP_FULL = doc({"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"})

CASES = []

def case(name, rule, expect, blocked=None, principal=SESSION, action="s3:GetObject",
         resource=OBJ, account=A, context=None, identity=(), resource_policy=None,
         boundary=(), session=None, scps=None, rcps=None, not_evaluated=False):
    c = {"name": name, "doc": rule,
         "request": {"action": action, "resource": {"resource": resource}, "principal": principal},
         "identityPolicies": list(identity)}
    if account:
        c["request"]["resource"]["accountId"] = account
    if context:
        c["request"]["context"] = context
    if resource_policy:
        c["resourcePolicy"] = resource_policy
    if boundary:
        c["permissionBoundaries"] = list(boundary)
    if session:
        c["sessionPolicy"] = session
    if scps is not None:
        c["serviceControlPolicies"] = [{"orgIdentifier": i, "policies": p} for i, p in scps]
    if rcps is not None:
        c["resourceControlPolicies"] = [{"orgIdentifier": i, "policies": p} for i, p in rcps]
    c["expect"] = {"response": expect}
    if blocked is not None:
        c["expect"]["blockedBy"] = blocked
    if not_evaluated:
        c["expect"]["notEvaluated"] = True
    CASES.append(c)

ALLOWED, EXPLICIT, IMPLICIT = "Allowed", "ExplicitlyDenied", "ImplicitlyDenied"

# --- identity policies: actions, resources, Deny, NotAction, NotResource -------------------
case("identity allows exact action and resource", EVAL + " (identity-based policies grant)", ALLOWED, identity=[doc(allow())])
case("no policy at all is an implicit deny", EVAL + " (by default, all requests are implicitly denied)", IMPLICIT, ["identity"])
case("another action is not granted", ACTION, IMPLICIT, ["identity"], identity=[doc(allow("s3:PutObject"))])
case("action wildcard *", ACTION + " (wildcards in actions)", ALLOWED, identity=[doc(allow("s3:Get*"))])
case("action names are case-insensitive", ACTION + " (action names are not case sensitive)", ALLOWED, identity=[doc(allow("S3:getobject"))])
case("action wildcard ? is one character", ACTION, ALLOWED, identity=[doc(allow("s3:GetObjec?"))])
case("resource wildcard", D + "reference_policies_elements_resource.html", ALLOWED, identity=[doc(allow(resource="arn:aws:s3:::b/*"))])
case("another resource is not granted", D + "reference_policies_elements_resource.html", IMPLICIT, ["identity"], identity=[doc(allow(resource="arn:aws:s3:::other/*"))])
case("resource ARNs are case-sensitive", D + "reference_policies_elements_resource.html (resource ARNs are case sensitive)", IMPLICIT, ["identity"], identity=[doc(allow(resource="arn:aws:s3:::B/K"))])
case("Deny overrides Allow in the same policy", EVAL + " (an explicit deny overrides any allow)", EXPLICIT, ["identity"], identity=[doc(allow(), deny())])
case("Deny in another identity policy", EVAL, EXPLICIT, ["identity"], identity=[doc(allow()), doc(deny("s3:*", "*"))])
case("NotAction allows every other action", NOTACTION, ALLOWED, identity=[doc({"Effect": "Allow", "NotAction": "s3:Delete*", "Resource": "*"})])
case("NotAction does not allow the listed action", NOTACTION, IMPLICIT, ["identity"], action="s3:DeleteObject", identity=[doc({"Effect": "Allow", "NotAction": "s3:Delete*", "Resource": "*"})])
case("Deny with NotResource spares the listed resource", NOTRES, ALLOWED, identity=[doc(allow("s3:*", "*"), {"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::b/*"})])
case("Deny with NotResource catches other resources", NOTRES, EXPLICIT, ["identity"], resource="arn:aws:s3:::other/k", identity=[doc(allow("s3:*", "*"), {"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::b/*"})])
case("a Deny whose condition does not hold does not apply", EVAL + "; " + COND, ALLOWED, context={"aws:SecureTransport": "true"}, identity=[doc(allow(), deny(Condition={"Bool": {"aws:SecureTransport": "false"}}))])

# --- condition operators --------------------------------------------------------------------
c = lambda cond: [doc(allow(Condition=cond))]
case("StringEquals matches", COND + "#Conditions_String", ALLOWED, context={"aws:PrincipalTag/team": "red"}, identity=c({"StringEquals": {"aws:PrincipalTag/team": "red"}}))
case("StringEquals is case-sensitive", COND + "#Conditions_String", IMPLICIT, ["identity"], context={"aws:PrincipalTag/team": "Red"}, identity=c({"StringEquals": {"aws:PrincipalTag/team": "red"}}))
case("StringEqualsIgnoreCase", COND + "#Conditions_String", ALLOWED, context={"aws:PrincipalTag/team": "RED"}, identity=c({"StringEqualsIgnoreCase": {"aws:PrincipalTag/team": "red"}}))
case("StringLike with a wildcard", COND + "#Conditions_String", ALLOWED, context={"s3:prefix": "home/alice/docs"}, identity=c({"StringLike": {"s3:prefix": "home/alice/*"}}))
case("several values of one key are ORed", COND + " (multiple values for a key: logical OR)", ALLOWED, context={"aws:RequestedRegion": "eu-west-1"}, identity=c({"StringEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}}))
case("several keys are ANDed", COND + " (multiple conditions: logical AND)", IMPLICIT, ["identity"], context={"aws:RequestedRegion": "eu-west-1", "aws:PrincipalTag/team": "blue"}, identity=c({"StringEquals": {"aws:RequestedRegion": "eu-west-1", "aws:PrincipalTag/team": "red"}}))
case("a missing key does not match", COND + " (key not present: the condition is false)", IMPLICIT, ["identity"], identity=c({"StringEquals": {"aws:PrincipalTag/team": "red"}}))
case("StringNotEquals with a missing key holds", COND + " (negated operator, key not present: true)", ALLOWED, identity=c({"StringNotEquals": {"aws:PrincipalTag/team": "red"}}))
case("StringNotEquals with another value holds", COND, ALLOWED, context={"aws:PrincipalTag/team": "blue"}, identity=c({"StringNotEquals": {"aws:PrincipalTag/team": "red"}}))
case("StringEqualsIfExists with a missing key holds", COND + "#Conditions_IfExists", ALLOWED, identity=c({"StringEqualsIfExists": {"ec2:InstanceType": "t3.micro"}}))
case("StringEqualsIfExists with another value fails", COND + "#Conditions_IfExists", IMPLICIT, ["identity"], context={"ec2:InstanceType": "m5.large"}, identity=c({"StringEqualsIfExists": {"ec2:InstanceType": "t3.micro"}}))
case("Null true: the key is absent", COND + "#Conditions_Null", ALLOWED, identity=c({"Null": {"aws:TokenIssueTime": "true"}}))
case("Null false: the key must be present", COND + "#Conditions_Null", IMPLICIT, ["identity"], identity=c({"Null": {"aws:TokenIssueTime": "false"}}))
case("Bool Deny on insecure transport", COND + "#Conditions_Boolean", EXPLICIT, ["identity"], context={"aws:SecureTransport": "false"}, identity=[doc(allow(), deny(Condition={"Bool": {"aws:SecureTransport": "false"}}))])
case("NumericLessThan holds", COND + "#Conditions_Numeric", ALLOWED, context={"s3:max-keys": "5"}, identity=c({"NumericLessThan": {"s3:max-keys": "10"}}))
case("NumericGreaterThan fails", COND + "#Conditions_Numeric", IMPLICIT, ["identity"], context={"s3:max-keys": "5"}, identity=c({"NumericGreaterThan": {"s3:max-keys": "10"}}))
case("DateGreaterThan with ISO 8601", COND + "#Conditions_Date", ALLOWED, context={"aws:CurrentTime": "2026-06-01T00:00:00Z"}, identity=c({"DateGreaterThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"}}))
case("DateLessThan fails after the date", COND + "#Conditions_Date", IMPLICIT, ["identity"], context={"aws:CurrentTime": "2026-06-01T00:00:00Z"}, identity=c({"DateLessThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"}}))
# 1767225600 is 2026-01-01T00:00:00Z in seconds since the epoch.
case("DateEquals compares epoch and ISO 8601 as instants", COND + "#Conditions_Date (epoch or ISO 8601)", ALLOWED, context={"aws:CurrentTime": "2026-01-01T00:00:00Z"}, identity=c({"DateEquals": {"aws:CurrentTime": "1767225600"}}))
case("DateLessThanEquals with a date only", COND + "#Conditions_Date", ALLOWED, context={"aws:CurrentTime": "2026-01-01T00:00:00Z"}, identity=c({"DateLessThanEquals": {"aws:CurrentTime": "2026-01-01"}}))
case("DateNotEquals with another instant", COND + "#Conditions_Date", ALLOWED, context={"aws:EpochTime": "1767225601"}, identity=c({"DateNotEquals": {"aws:EpochTime": "2026-01-01T00:00:00Z"}}))
case("DateGreaterThanEquals with an offset", COND + "#Conditions_Date", ALLOWED, context={"aws:CurrentTime": "2026-01-01T02:00:00+02:00"}, identity=c({"DateGreaterThanEquals": {"aws:CurrentTime": "2026-01-01T00:00:00Z"}}))
case("IpAddress within an IPv4 range", COND + "#Conditions_IPAddress", ALLOWED, context={"aws:SourceIp": "10.1.2.3"}, identity=c({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))
case("IpAddress outside the range", COND + "#Conditions_IPAddress", IMPLICIT, ["identity"], context={"aws:SourceIp": "192.0.2.10"}, identity=c({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))
case("IpAddress with a single address", COND + "#Conditions_IPAddress", ALLOWED, context={"aws:SourceIp": "203.0.113.5"}, identity=c({"IpAddress": {"aws:SourceIp": "203.0.113.5"}}))
case("IpAddress within an IPv6 range", COND + "#Conditions_IPAddress (IPv6)", ALLOWED, context={"aws:SourceIp": "2001:db8:1234::1"}, identity=c({"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]}}))
case("an IPv4 address is not in an IPv6 range", COND + "#Conditions_IPAddress", IMPLICIT, ["identity"], context={"aws:SourceIp": "10.1.2.3"}, identity=c({"IpAddress": {"aws:SourceIp": "2001:db8::/32"}}))
case("NotIpAddress Deny from outside the network", COND + "#Conditions_IPAddress", EXPLICIT, ["identity"], context={"aws:SourceIp": "198.51.100.7"}, identity=[doc(allow(), deny("*", "*", Condition={"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))])
case("NotIpAddress Deny spares the network", COND + "#Conditions_IPAddress", ALLOWED, context={"aws:SourceIp": "10.9.9.9"}, identity=[doc(allow(), deny("*", "*", Condition={"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))])
case("ArnLike on aws:SourceArn", COND + "#Conditions_ARN", ALLOWED, context={"aws:SourceArn": RULE}, identity=c({"ArnLike": {"aws:SourceArn": f"arn:aws:events:*:{A}:rule/*"}}))
case("ForAnyValue: one requested tag key is enough", MULTI, ALLOWED, context={"aws:TagKeys": ["env", "owner"]}, identity=c({"ForAnyValue:StringEquals": {"aws:TagKeys": ["env"]}}))
case("ForAllValues: every requested tag key must be listed", MULTI, IMPLICIT, ["identity"], context={"aws:TagKeys": ["env", "secret"]}, identity=c({"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "owner"]}}))
case("ForAllValues holds for an absent key", MULTI + " (ForAllValues returns true when the key is missing)", ALLOWED, identity=c({"ForAllValues:StringEquals": {"aws:TagKeys": ["env"]}}))
case("ForAnyValue fails for an absent key", MULTI, IMPLICIT, ["identity"], identity=c({"ForAnyValue:StringEquals": {"aws:TagKeys": ["env"]}}))
case("a policy variable in the resource", VARS, ALLOWED, resource="arn:aws:s3:::b/home/alice/notes", context={"aws:username": "alice"}, identity=[doc(allow(resource="arn:aws:s3:::b/home/${aws:username}/*"))])
case("a policy variable's default value stands in for an absent key", VARS + "#policy-vars-default-values", ALLOWED, resource="arn:aws:s3:::b/home/shared/notes", identity=[doc(allow(resource="arn:aws:s3:::b/home/${aws:PrincipalTag/team, 'shared'}/*"))])
case("aws:username comes from an IAM user's ARN", VARS + "#policy-vars-infotouse", ALLOWED, principal=USER, resource="arn:aws:s3:::b/home/alice/notes", identity=[doc(allow(resource="arn:aws:s3:::b/home/${aws:username}/*"))])
case("aws:PrincipalType of a role session is AssumedRole", D + "reference_policies_condition-keys.html#condition-keys-principaltype", ALLOWED, identity=c({"StringEquals": {"aws:PrincipalType": "AssumedRole"}}))
case("without Version 2012-10-17 a variable is literal text", D + "reference_policies_elements_version.html (2008-10-17: policy variables do not work)", IMPLICIT, ["identity"], resource="arn:aws:s3:::b/home/alice/notes", context={"aws:username": "alice"}, identity=[{"Statement": [allow(resource="arn:aws:s3:::b/home/${aws:username}/*")]}])
case("under Version 2008-10-17 the literal text itself matches", D + "reference_policies_elements_version.html", ALLOWED, resource="arn:aws:s3:::b/home/${aws:username}/notes", identity=[{"Version": "2008-10-17", "Statement": [allow(resource="arn:aws:s3:::b/home/${aws:username}/*")]}])
case("a policy variable for someone else", VARS, IMPLICIT, ["identity"], resource="arn:aws:s3:::b/home/bob/notes", context={"aws:username": "alice"}, identity=[doc(allow(resource="arn:aws:s3:::b/home/${aws:username}/*"))])
case("aws:PrincipalAccount comes from the principal", D + "reference_policies_condition-keys.html#condition-keys-principalaccount", ALLOWED, identity=c({"StringEquals": {"aws:PrincipalAccount": A}}))
case("an unknown operator is not evaluated, never a grant", COND + " (this engine: reported as notEvaluated)", IMPLICIT, ["identity"], context={"aws:SourceIp": "10.0.0.1"}, identity=c({"IpAddressLike": {"aws:SourceIp": "10.*"}}), not_evaluated=True)

# --- permissions boundaries -------------------------------------------------------------------
case("boundary and identity both allow", BOUND, ALLOWED, identity=[doc(allow())], boundary=[doc(allow("s3:*", "*"))])
case("identity allows, the boundary does not", BOUND + " (effective permissions: the intersection)", IMPLICIT, ["pb"], identity=[doc(allow())], boundary=[doc(allow("ec2:*", "*"))])
case("the boundary alone grants nothing", BOUND + " (a boundary does not grant)", IMPLICIT, ["identity"], boundary=[doc(allow("s3:*", "*"))])
case("a Deny in the boundary", BOUND + "; " + EVAL, EXPLICIT, ["pb"], identity=[doc(allow())], boundary=[doc(allow("*", "*"), deny())])

# --- session policies -------------------------------------------------------------------------
case("session policy and identity both allow", SESS, ALLOWED, identity=[doc(allow())], session=doc(allow("s3:*", "*")))
case("the session policy does not allow", SESS + " (session permissions: the intersection)", IMPLICIT, ["session"], identity=[doc(allow())], session=doc(allow("ec2:*", "*")))
case("same account: a grant to the session ARN is not limited by the session policy", EVAL + " (resource-based policies: role session ARN)", ALLOWED, session=doc(allow("ec2:*", "*")), resource_policy=doc({"Effect": "Allow", "Principal": {"AWS": SESSION}, "Action": "s3:GetObject", "Resource": OBJ}))
case("same account: a grant to the session ARN is not limited by the boundary", EVAL + " (resource-based policies: role session ARN)", ALLOWED, boundary=[doc(allow("ec2:*", "*"))], resource_policy=doc({"Effect": "Allow", "Principal": {"AWS": SESSION}, "Action": "s3:GetObject", "Resource": OBJ}))
# "A resource-based policy can specify the ARN of the session as a principal. In that case,
# the permissions from the resource-based policy are added after the session is created. The
# resource-based policy permissions are not limited by the session policy" (Policies and
# permissions: session policies). An explicit Deny in the session policy still wins.
case("same account: a grant to the session ARN outlives a session policy that allows nothing", SESS + " (a resource-based policy naming the session ARN)", ALLOWED, identity=[doc(allow())], session=doc(allow("s3:PutObject", OBJ)), resource_policy=doc({"Effect": "Allow", "Principal": {"AWS": SESSION}, "Action": "s3:GetObject", "Resource": OBJ}))
case("same account: a session policy's Deny still beats a grant to the session ARN", SESS + "; " + EVAL + " (an explicit deny in any policy)", EXPLICIT, ["session"], session=doc(allow("s3:*", "*"), deny()), resource_policy=doc({"Effect": "Allow", "Principal": {"AWS": SESSION}, "Action": "s3:GetObject", "Resource": OBJ}))
case("same account: a grant to the role ARN is limited by the session policy", EVAL + " (resource-based policies: IAM role ARN)", IMPLICIT, ["session"], session=doc(allow("ec2:*", "*")), resource_policy=doc({"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "s3:GetObject", "Resource": OBJ}))
case("same account: a grant to the role ARN is limited by the boundary", EVAL + " (resource-based policies: IAM role ARN)", IMPLICIT, ["pb"], boundary=[doc(allow("ec2:*", "*"))], resource_policy=doc({"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "s3:GetObject", "Resource": OBJ}))

# --- resource-based policies, same account ----------------------------------------------------
case("same account: a grant to the role ARN suffices without identity policy", EVAL + " (same account: resource-based policy alone can allow)", ALLOWED, resource_policy=doc({"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "s3:GetObject", "Resource": OBJ}))
case("same account: a grant to the user ARN is not limited by the boundary", BOUND + " (resource-based policies: IAM user)", ALLOWED, principal=USER, boundary=[doc(allow("ec2:*", "*"))], resource_policy=doc({"Effect": "Allow", "Principal": {"AWS": USER}, "Action": "s3:GetObject", "Resource": OBJ}))
case("the account's root user has full access in its own account", D + "reference_policies_evaluation-logic_policy-eval-denyallow.html (except the root user, which has full access)", ALLOWED, principal=f"arn:aws:iam::{A}:root")
case("the root user is still bound by a Deny", D + "reference_policies_evaluation-logic_policy-eval-denyallow.html", EXPLICIT, ["resource"], principal=f"arn:aws:iam::{A}:root", resource_policy=doc({"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": OBJ}))
case("another account's root user still needs the resource policy", CROSS, IMPLICIT, ["resource"], principal=f"arn:aws:iam::{B}:root")
case("another account's root user with a grant to its account", CROSS + "; " + PRINC + "#principal-accounts", ALLOWED, principal=f"arn:aws:iam::{B}:root", resource_policy=doc({"Effect": "Allow", "Principal": {"AWS": B}, "Action": "s3:GetObject", "Resource": OBJ}))
case("a service-linked role's session is exempt from SCPs", SCPX + " (SCPs do not affect service-linked roles)", ALLOWED, principal=f"arn:aws:sts::{A}:assumed-role/AWSServiceRoleForECS/ecs", identity=[doc(allow())], scps=[("r-root", [doc(deny("*", "*"))])])
case("the root user of a member account is bound by SCPs", SCPX + " (SCPs affect the root user of member accounts)", IMPLICIT, ["scp"], principal=f"arn:aws:iam::{A}:root", scps=[("r-root", [FULL]), (A, [doc(allow("ec2:*", "*"))])])
case("same account: a grant to the account delegates to identity policies", PRINC + "#principal-accounts", IMPLICIT, ["identity"], resource_policy=doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"}, "Action": "s3:GetObject", "Resource": OBJ}))
case("same account: a grant to the account plus an identity grant", PRINC + "#principal-accounts", ALLOWED, identity=[doc(allow())], resource_policy=doc({"Effect": "Allow", "Principal": {"AWS": A}, "Action": "s3:GetObject", "Resource": OBJ}))
case("same account: Principal * grants on its own", PRINC + "#principal-anonymous", ALLOWED, resource_policy=doc({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": OBJ}))
case("same account: a Deny in the resource policy", EVAL, EXPLICIT, ["resource"], identity=[doc(allow())], resource_policy=doc({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"}))
case("same account: a resource policy about another object leaves identity to decide", EVAL, ALLOWED, identity=[doc(allow())], resource_policy=doc({"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/other"}))
case("same account: a grant to another role does not apply", PRINC, IMPLICIT, ["identity"], resource_policy=doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:role/other"}, "Action": "s3:GetObject", "Resource": OBJ}))
case("NotPrincipal Deny spares the named role", NOTPRINC, ALLOWED, identity=[doc(allow())], resource_policy=doc({"Effect": "Deny", "NotPrincipal": {"AWS": [ROLE, SESSION]}, "Action": "s3:*", "Resource": "*"}))
# "The NotPrincipal element with a Deny effect will always deny any IAM principal that has a
# permissions boundary policy attached, regardless of the values specified in the NotPrincipal
# element" (Permissions boundaries for IAM entities; NotPrincipal, key points).
case("NotPrincipal Deny denies a principal with a boundary even when it names it", BOUND + " (NotPrincipal with Deny and a permissions boundary); " + NOTPRINC, EXPLICIT, ["resource"], identity=[doc(allow())], boundary=[doc(allow("s3:*", "*"))], resource_policy=doc({"Effect": "Deny", "NotPrincipal": {"AWS": [ROLE, SESSION]}, "Action": "s3:*", "Resource": "*"}))
case("NotPrincipal Deny denies a user with a boundary even when it names the user", BOUND + " (NotPrincipal with Deny and a permissions boundary)", EXPLICIT, ["resource"], principal=USER, identity=[doc(allow())], boundary=[doc(allow("s3:*", "*"))], resource_policy=doc({"Effect": "Deny", "NotPrincipal": {"AWS": USER}, "Action": "s3:*", "Resource": "*"}))
case("a NotPrincipal Deny whose action does not match still denies nothing", BOUND + " (NotPrincipal with Deny and a permissions boundary); " + NOTPRINC, ALLOWED, identity=[doc(allow())], boundary=[doc(allow("s3:*", "*"))], resource_policy=doc({"Effect": "Deny", "NotPrincipal": {"AWS": [ROLE, SESSION]}, "Action": "s3:DeleteObject", "Resource": "*"}))
case("NotPrincipal Deny catches everyone else", NOTPRINC, EXPLICIT, ["resource"], principal=USER, identity=[doc(allow())], resource_policy=doc({"Effect": "Deny", "NotPrincipal": {"AWS": [ROLE, SESSION]}, "Action": "s3:*", "Resource": "*"}))

# --- sts:GetCallerIdentity -------------------------------------------------------------------------
# "No permissions are required to perform this operation. If an administrator attaches a policy to
# your identity that explicitly denies access to the sts:GetCallerIdentity action, you can still
# perform this operation" (AWS STS API Reference, GetCallerIdentity).
GCI = "https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html"
case("sts:GetCallerIdentity needs no permission", GCI + " (no permissions are required)", ALLOWED, action="sts:GetCallerIdentity", resource="*")
case("sts:GetCallerIdentity cannot be denied", GCI + " (an explicit deny does not prevent it)", ALLOWED, action="sts:GetCallerIdentity", resource="*", identity=[doc(deny("sts:GetCallerIdentity", "*"))], boundary=[doc(allow("s3:*", "*"))], session=doc(deny("*", "*")))

# --- resource-based policies that are required even in one account ---
KEY = f"arn:aws:kms:us-east-1:{A}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
KMS_DOC = "https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html"
TRUST_DOC = D + "id_roles.html (a role's trust policy is a required resource-based policy)"
case("KMS: an identity policy alone does not open a key", KMS_DOC + " (unless the key policy allows it, IAM policies cannot give access to a KMS key)", IMPLICIT, ["resource"], action="kms:Decrypt", resource=KEY, identity=[doc(allow("kms:Decrypt", "*"))])
case("KMS: a key policy that grants the account lets IAM policies decide", KMS_DOC + "#key-policy-default-allow-root-enable-iam", ALLOWED, action="kms:Decrypt", resource=KEY, identity=[doc(allow("kms:Decrypt", "*"))], resource_policy=doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"}, "Action": "kms:*", "Resource": "*"}))
case("KMS: the account grant without an IAM policy", KMS_DOC + "#key-policy-default-allow-root-enable-iam", IMPLICIT, ["identity"], action="kms:Decrypt", resource=KEY, resource_policy=doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"}, "Action": "kms:*", "Resource": "*"}))
case("KMS: a key policy naming the role grants on its own", KMS_DOC, ALLOWED, action="kms:Decrypt", resource=KEY, resource_policy=doc({"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "kms:Decrypt", "Resource": "*"}))
case("AssumeRole: the trust policy is required in the same account", TRUST_DOC, IMPLICIT, ["resource"], principal=USER, action="sts:AssumeRole", resource=f"arn:aws:iam::{A}:role/target", identity=[doc(allow("sts:AssumeRole", "*"))])
case("AssumeRole: a trust policy naming the user suffices in the same account", TRUST_DOC, ALLOWED, principal=USER, action="sts:AssumeRole", resource=f"arn:aws:iam::{A}:role/target", resource_policy=doc({"Effect": "Allow", "Principal": {"AWS": USER}, "Action": "sts:AssumeRole"}))
case("AssumeRole: a trust policy naming the account needs an identity grant", TRUST_DOC, IMPLICIT, ["identity"], principal=USER, action="sts:AssumeRole", resource=f"arn:aws:iam::{A}:role/target", resource_policy=doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"}, "Action": "sts:AssumeRole"}))

# --- cross account ------------------------------------------------------------------------------
RB = lambda principal: doc({"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "s3:GetObject", "Resource": OBJ})
case("cross account: both policies allow", CROSS, ALLOWED, account=B, identity=[doc(allow())], resource_policy=RB(ROLE))
case("cross account: the resource policy alone is not enough", CROSS + " (identity policy in the trusted account must allow)", IMPLICIT, ["identity"], account=B, resource_policy=RB(ROLE))
case("cross account: the identity policy alone is not enough", CROSS + " (resource-based policy in the trusting account must allow)", IMPLICIT, ["resource"], account=B, identity=[doc(allow())])
case("cross account: a grant to the principal's account", CROSS + "; " + PRINC + "#principal-accounts", ALLOWED, account=B, identity=[doc(allow())], resource_policy=RB(f"arn:aws:iam::{A}:root"))
case("cross account: a grant to a third account", CROSS, IMPLICIT, ["resource"], account=B, identity=[doc(allow())], resource_policy=RB("333333333333"))
case("cross account: the boundary still limits", CROSS + "; " + BOUND, IMPLICIT, ["pb"], account=B, identity=[doc(allow())], resource_policy=RB(ROLE), boundary=[doc(allow("ec2:*", "*"))])
case("cross account: the session policy still limits, even for a session grant", CROSS + "; " + SESS, IMPLICIT, ["session"], account=B, identity=[doc(allow())], resource_policy=RB(SESSION), session=doc(allow("ec2:*", "*")))
case("cross account: the resource account comes from the ARN", CROSS, IMPLICIT, ["resource"], resource=QUEUE.replace(A, B), action="sqs:SendMessage", account=None, identity=[doc(allow("sqs:SendMessage", "*"))])

# --- service control policies -------------------------------------------------------------------
case("SCPs allow at every level", SCP + " (every level must allow)", ALLOWED, identity=[doc(allow())], scps=[("r-root", [FULL]), ("ou-a", [FULL]), (A, [FULL])])
case("an OU without an Allow blocks", SCP + " (an implicit deny at any level)", IMPLICIT, ["scp"], identity=[doc(allow())], scps=[("r-root", [FULL]), ("ou-a", [doc(allow("ec2:*", "*"))]), (A, [FULL])])
case("an SCP Deny at the OU", SCP, EXPLICIT, ["scp"], identity=[doc(allow())], scps=[("r-root", [FULL]), ("ou-a", [FULL, doc(deny("s3:*", "*"))]), (A, [FULL])])
case("SCPs grant nothing", SCPX + " (SCPs do not grant permissions)", IMPLICIT, ["identity"], scps=[("r-root", [FULL]), (A, [FULL])])
case("SCPs limit resource-policy grants too", SCP + "; " + EVAL, IMPLICIT, ["scp"], resource_policy=RB(SESSION), scps=[("r-root", [FULL]), (A, [doc(allow("ec2:*", "*"))])])
case("SCP Deny on the requested region", SCPX, EXPLICIT, ["scp"], context={"aws:RequestedRegion": "ap-south-1"}, identity=[doc(allow())], scps=[("r-root", [FULL, doc(deny("*", "*", Condition={"StringNotEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}}))])])
case("SCPs do not apply to service-linked roles", SCPX + " (SCPs do not affect service-linked roles)", ALLOWED, principal=SLR, identity=[doc(allow())], scps=[("r-root", [doc(deny("*", "*"))])])
case("SCPs do not apply to service principals", SCPX + " (SCPs affect only principals of member accounts)", ALLOWED, principal="events.amazonaws.com", action="sqs:SendMessage", resource=QUEUE, resource_policy=doc({"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage", "Resource": QUEUE, "Condition": {"ArnEquals": {"aws:SourceArn": RULE}}}), context={"aws:SourceArn": RULE}, scps=[("r-root", [doc(deny("*", "*"))])])

# --- resource control policies -------------------------------------------------------------------
ORG_ONLY = doc({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*", "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-mine"}, "BoolIfExists": {"aws:PrincipalIsAWSService": "false"}}})
case("RCPs allow at every level", RCP, ALLOWED, identity=[doc(allow())], rcps=[("r-root", [RCP_FULL]), (A, [RCP_FULL])])
case("an RCP Deny for principals outside the organisation", RCPX, EXPLICIT, ["rcp"], account=B, context={"aws:PrincipalOrgID": "o-other"}, identity=[doc(allow())], resource_policy=RB(ROLE), rcps=[("r-root", [RCP_FULL, ORG_ONLY])])
case("the same RCP spares the organisation", RCPX, ALLOWED, account=B, context={"aws:PrincipalOrgID": "o-mine"}, identity=[doc(allow())], resource_policy=RB(ROLE), rcps=[("r-root", [RCP_FULL, ORG_ONLY])])
# "The RCPFullAWSAccess policy ... is automatically attached to the organization root, every
# OU, and every account ... You cannot detach this policy": no level is ever without an Allow,
# so an RCP can only deny (an OU listed with no policy, or with one allowing S3 alone, still
# carries RCPFullAWSAccess).
case("an RCP level listed without policies still carries RCPFullAWSAccess", RCP + " (RCPFullAWSAccess cannot be detached)", ALLOWED, identity=[doc(allow())], rcps=[("r-root", [RCP_FULL]), ("ou-a", [])])
case("an RCP level that allows only other actions does not block", RCP + " (an RCP can only deny)", ALLOWED, action="sqs:SendMessage", resource=QUEUE, identity=[doc(allow("sqs:SendMessage", QUEUE))], rcps=[("r-root", [RCP_FULL]), ("ou-a", [doc({"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"})])])
case("RCPs apply only to the services that support them", RCPX + " (list of services that support RCPs)", ALLOWED, action="ec2:DescribeInstances", resource="*", identity=[doc(allow("ec2:DescribeInstances", "*"))], rcps=[("r-root", [doc({"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"})])])
case("RCPs do not apply to service-linked roles", RCPX + " (resources and entities not restricted by RCPs)", ALLOWED, principal=SLR, identity=[doc(allow())], rcps=[("r-root", [doc({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"})])])
case("RCPs apply to AWS service principals", RCPX + " (confused deputy protection with RCPs)", EXPLICIT, ["rcp"], principal="events.amazonaws.com", action="sqs:SendMessage", resource=QUEUE, context={"aws:SourceAccount": B}, resource_policy=doc({"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage", "Resource": QUEUE}), rcps=[("r-root", [RCP_FULL, doc({"Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": "*", "Condition": {"StringNotEqualsIfExists": {"aws:SourceAccount": A}, "Bool": {"aws:PrincipalIsAWSService": "true"}}})])])

# --- AWS service principals -----------------------------------------------------------------------
SVC = lambda cond: doc({"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage", "Resource": QUEUE, "Condition": cond})
case("a service principal allowed by the queue policy", D + "reference_policies_elements_principal.html#principal-services", ALLOWED, principal="events.amazonaws.com", action="sqs:SendMessage", resource=QUEUE, context={"aws:SourceArn": RULE}, resource_policy=SVC({"ArnEquals": {"aws:SourceArn": RULE}}))
case("a service principal for another rule", D + "confused-deputy.html", IMPLICIT, ["resource"], principal="events.amazonaws.com", action="sqs:SendMessage", resource=QUEUE, context={"aws:SourceArn": RULE.replace("orders", "refunds")}, resource_policy=SVC({"ArnEquals": {"aws:SourceArn": RULE}}))
case("a service principal with no resource policy", D + "reference_policies_elements_principal.html#principal-services", IMPLICIT, ["resource"], principal="events.amazonaws.com", action="sqs:SendMessage", resource=QUEUE, context={"aws:SourceArn": RULE})

for i, c in enumerate(CASES):
    assert c["name"] not in [d["name"] for d in CASES[:i]], c["name"]

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "cases.json"), "w") as f:
    json.dump(CASES, f, indent=1, sort_keys=True)
    f.write("\n")
print(f"{len(CASES)} cases")
