"""Create the workloads the examples point at, in the AWS emulator: an ECS cluster and a
task definition with execution and task roles, a Step Functions state machine, a Lambda
function, an SQS queue (examples/sqs.yaml), an SNS topic (examples/sns.yaml) a Kinesis stream (examples/kinesis.yaml) a REST API (examples/api-gateway.yaml) and a log group (examples/logs.yaml). The controller never creates these; users bring them. Idempotent."""
import io
import json
import os
import sys
import zipfile

import boto3

REGION = os.environ.get("AWS_REGION", "us-east-1")
ACCOUNT = "123456789012"


def client(name, account=None):
    c = boto3.client(name, region_name=REGION)
    if account:
        # moto selects the account per request from this header.
        c.meta.events.register("before-sign.*.*", lambda request, **_: request.headers.__setitem__("x-moto-account-id", account))
    return c


def ensure_role(iam, name, service):
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}
    try:
        return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        return iam.get_role(RoleName=name)["Role"]["Arn"]


def seed(account=None):
    iam, ecs, sfn, lam = client("iam", account), client("ecs", account), client("stepfunctions", account), client("lambda", account)
    execution = ensure_role(iam, "orders-worker-execution", "ecs-tasks.amazonaws.com")
    task = ensure_role(iam, "orders-worker-task", "ecs-tasks.amazonaws.com")
    ecs.create_cluster(clusterName="demo")
    td = ecs.register_task_definition(
        family="orders-worker", requiresCompatibilities=["FARGATE"], networkMode="awsvpc", cpu="256", memory="512",
        executionRoleArn=execution, taskRoleArn=task,
        containerDefinitions=[{"name": "worker", "image": "public.ecr.aws/docker/library/busybox:latest", "essential": True}],
    )["taskDefinition"]["taskDefinitionArn"]
    sfn_role = ensure_role(iam, "order-pipeline-sfn", "states.amazonaws.com")
    try:
        sm = sfn.create_state_machine(name="order-pipeline", roleArn=sfn_role,
                                      definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}))["stateMachineArn"]
    except sfn.exceptions.StateMachineAlreadyExists:
        sm = f"arn:aws:states:{REGION}:{account or ACCOUNT}:stateMachine:order-pipeline"
    lambda_role = ensure_role(iam, "order-notifier-lambda", "lambda.amazonaws.com")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("handler.py", "def handler(event, context):\n    return {'ok': True}\n")
    try:
        fn = lam.create_function(FunctionName="order-notifier", Runtime="python3.12", Role=lambda_role, Handler="handler.handler",
                                 Code={"ZipFile": buf.getvalue()})["FunctionArn"]
        lam.create_alias(FunctionName="order-notifier", Name="live", FunctionVersion="$LATEST")
    except lam.exceptions.ResourceConflictException:
        fn = lam.get_function(FunctionName="order-notifier")["Configuration"]["FunctionArn"]
    # The queue examples/sqs.yaml sends to, with its consumer's statement, which the
    # controller keeps beside its own. CreateQueue is idempotent for the same attributes.
    sqs = client("sqs", account)
    url = sqs.create_queue(QueueName="order-events")["QueueUrl"]
    queue_arn = f"arn:aws:sqs:{REGION}:{account or ACCOUNT}:order-events"
    consumer = {"Sid": "Consumer", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account or ACCOUNT}:root"},
                "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage"], "Resource": queue_arn}
    policy = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"]).get("Attributes", {}).get("Policy")
    if not policy:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({"Version": "2012-10-17", "Statement": [consumer]})})
    # The topic examples/sns.yaml publishes to, with its subscribers' statement.
    sns = client("sns", account)
    topic_arn = sns.create_topic(Name="order-notifications")["TopicArn"]
    subscribers = {"Sid": "Subscribers", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account or ACCOUNT}:root"},
                   "Action": "sns:Subscribe", "Resource": topic_arn}
    current = json.loads(sns.get_topic_attributes(TopicArn=topic_arn)["Attributes"].get("Policy") or "{}")
    if not any(s.get("Sid") == "Subscribers" for s in current.get("Statement", [])):
        sns.set_topic_attributes(TopicArn=topic_arn, AttributeName="Policy",
                                 AttributeValue=json.dumps({"Version": "2012-10-17", "Statement": [subscribers]}))
    # The FIFO topic examples/schedule-fifo-topic.yaml publishes to (through Scheduler's
    # universal target: its templated SNS target sends no message group).
    sns.create_topic(Name="order-digests.fifo", Attributes={"FifoTopic": "true"})
    # The stream examples/kinesis.yaml puts records in.
    kinesis = client("kinesis", account)
    try:
        kinesis.create_stream(StreamName="order-stream", ShardCount=1)
    except kinesis.exceptions.ResourceInUseException:
        pass
    # The REST API examples/api-gateway.yaml calls (moto takes its ID from the _custom_id_
    # tag): POST /orders, IAM-authorised, deployed to stage prod.
    apigw = client("apigateway", account)
    try:
        apigw.get_rest_api(restApiId="a1b2c3d4e5")
    except apigw.exceptions.NotFoundException:
        apigw.create_rest_api(name="orders-api", tags={"_custom_id_": "a1b2c3d4e5"})
        root = next(r for r in apigw.get_resources(restApiId="a1b2c3d4e5")["items"] if r["path"] == "/")
        orders = apigw.create_resource(restApiId="a1b2c3d4e5", parentId=root["id"], pathPart="orders")
        apigw.put_method(restApiId="a1b2c3d4e5", resourceId=orders["id"], httpMethod="POST", authorizationType="AWS_IAM")
        apigw.put_integration(restApiId="a1b2c3d4e5", resourceId=orders["id"], httpMethod="POST", type="MOCK")
        apigw.create_deployment(restApiId="a1b2c3d4e5", stageName="prod")
    # The log group examples/logs.yaml writes to.
    logs = client("logs", account)
    try:
        logs.create_log_group(logGroupName="/aws/events/orders")
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    if account:
        # The role the controller assumes to act in this account (cross-account tests).
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}
        try:
            iam.create_role(RoleName="eventbridge-integration-provisioner", AssumeRolePolicyDocument=json.dumps(trust))
        except iam.exceptions.EntityAlreadyExistsException:
            pass
    return {"taskDefinitionArn": td, "executionRoleArn": execution, "taskRoleArn": task, "stateMachineArn": sm, "functionArn": fn}


if __name__ == "__main__":
    # The default account, plus any others named: python3 seed_aws.py 222222222222
    accounts = [None] + [a for a in sys.argv[1:] if a != ACCOUNT]
    print(json.dumps({a or ACCOUNT: seed(a) for a in accounts}, indent=2))
