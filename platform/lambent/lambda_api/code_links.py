"""GetFunction's ``Code.Location``: a link that downloads a function's zip without credentials for
``CODE_LINK_SECONDS``, as Lambda's presigned S3 URL does. The link is signed with the secret key
and names the code by its sha256."""

from __future__ import annotations

from urllib.parse import quote

from django.conf import settings
from django.core import signing
from django.http import FileResponse, Http404, HttpRequest

from lambent.functions.code_packages import code_storage
from lambent.functions.models import CodeArtifact
from lambent.lambda_api.protocol import Call

_SALT = "lambent.lambda_api.code"


def code_link(call: Call, artifact: CodeArtifact) -> str:
    token = signing.TimestampSigner(salt=_SALT).sign(f"{call.tenant.account_id}:{artifact.sha256}")
    return f"{call.base_url}/lambda-code/{quote(token, safe='')}"


def code_download(request: HttpRequest, token: str) -> FileResponse:
    try:
        value = signing.TimestampSigner(salt=_SALT).unsign(token, max_age=settings.CODE_LINK_SECONDS)
    except signing.BadSignature:
        raise Http404("This code link is not valid or has expired.") from None
    sha256 = value.partition(":")[2]
    name = CodeArtifact(sha256=sha256).storage_name
    storage = code_storage()
    if not storage.exists(name):
        raise Http404("This code is no longer stored.")
    return FileResponse(storage.open(name, "rb"), content_type="application/zip", as_attachment=True,
                        filename=f"{sha256}.zip")
