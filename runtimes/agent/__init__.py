"""The sandbox agent: serves the Lambda Runtime API inside a sandbox and answers the platform."""
