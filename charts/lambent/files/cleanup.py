"""`helm uninstall`: what the executor made at run time goes with the release.

The executor made each tenant's namespace (and in it the sandbox pods and their guard rails) and
its leader Lease; neither is one of the release's objects. Once the release's objects are gone
(this runs as a post-delete hook, the executor stopped), the namespaces labelled with this
installation and the Lease are deleted, and the Job waits until the namespaces are gone.
Standard library only: the API server through the pod's service account.
"""

import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
INSTALLATION = os.environ["LAMBENT_KUBERNETES_INSTALLATION"]
NAMESPACE = os.environ["LAMBENT_KUBERNETES_PLATFORM_NAMESPACE"]
SERVER = f"https://{os.environ['KUBERNETES_SERVICE_HOST']}:{os.environ['KUBERNETES_SERVICE_PORT']}"
CONTEXT = ssl.create_default_context(cafile=f"{ACCOUNT}/ca.crt")
with open(f"{ACCOUNT}/token") as file:
    TOKEN = file.read().strip()
SELECTED = "/api/v1/namespaces?" + urllib.parse.urlencode({"labelSelector": f"lambent.dev/installation={INSTALLATION}"})


def call(method, path):
    """The answer's JSON, or None for a 404."""
    request = urllib.request.Request(SERVER + path, method=method, headers={"Authorization": f"Bearer {TOKEN}"})
    try:
        with urllib.request.urlopen(request, context=CONTEXT, timeout=30) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise


def names():
    return [item["metadata"]["name"] for item in call("GET", SELECTED)["items"]]


lease = f"{INSTALLATION}-executor"
if call("DELETE", f"/apis/coordination.k8s.io/v1/namespaces/{NAMESPACE}/leases/{lease}") is not None:
    print(f"deleted the Lease {lease}", flush=True)
for name in names():
    print(f"deleting the namespace {name}", flush=True)
    call("DELETE", f"/api/v1/namespaces/{name}")
deadline = time.monotonic() + float(os.environ.get("LAMBENT_CLEANUP_SECONDS", "240"))
while left := names():
    if time.monotonic() > deadline:
        sys.exit(f"namespaces still there: {', '.join(left)}")
    time.sleep(2)
print("nothing of the installation is left", flush=True)
