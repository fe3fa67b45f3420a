//! An API destination target: its connection must be AUTHORIZED.

use super::super::*;

impl TargetCheck<'_> {
    /// ConnectionNotAuthorized: EventBridge calls an API destination only through an
    /// authorized connection; any other state (deauthorized after a refused token or key,
    /// still authorizing, deleted) fails every call, whatever the role may do.
    pub(in crate::diagnose::checks) fn check_connection(&mut self, arn: &Arn) {
        let Some(d) = self.snapshot.api_destinations.get(&self.target.arn) else {
            return;
        };
        let name = arn
            .resource
            .trim_start_matches("api-destination/")
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let connection_name = d
            .connection_arn
            .rsplit(":connection/")
            .next()
            .and_then(|n| n.split('/').next())
            .unwrap_or_default()
            .to_string();
        let (message, remediation) = match (&d.connection_state, &d.connection_state_reason) {
            (Some(state), _) if state == "AUTHORIZED" => return,
            (None, _) => (
                format!("API destination {name} uses connection {}, which does not exist: EventBridge cannot call the endpoint.", d.connection_arn),
                format!("Create the connection (aws events create-connection --name {connection_name} …) and point the destination at it (aws events update-api-destination --name {name} --connection-arn …)."),
            ),
            (Some(state), reason) => (
                format!(
                    "Connection {connection_name} of API destination {name} is {state}, not AUTHORIZED{}: EventBridge fails every call to the endpoint.",
                    reason.as_ref().map(|r| format!(" (AWS: \"{r}\")")).unwrap_or_default()
                ),
                format!("Fix the credentials the connection holds (for OAuth, the client ID and secret and the token endpoint must be accepted by the authorization server), then write them again: aws events update-connection --name {connection_name} --authorization-type … --auth-parameters …; a controller-managed connection is rewritten when its Secret changes."),
            ),
        };
        self.finding(
            Code::ConnectionNotAuthorized,
            &d.connection_arn.clone(),
            message,
            remediation,
        );
    }
}
