"""The environment a runtime starts with, built from the platform's ``init`` frame.

Three layers, later ones winning: defaults a function may override (as on Lambda, where a
function may set ``LANG`` or ``TZ``), the function's own variables, and the variables Lambda
reserves, which describe the sandbox and cannot be overridden. Nothing of the agent's own
environment gets through, and there is no ``HOME``, as on Lambda.
"""

from .protocol import ProtocolError

RUNTIME_DIR = "/var/runtime"
_STRING_FIELDS = (
    "runtime",
    "handler",
    "function_name",
    "function_version",
    "log_group_name",
    "log_stream_name",
    "region",
    "initialization_type",
)


def runtime_environment(init: dict, *, runtime_api: str, task_root: str) -> dict[str, str]:
    """The runtime's whole environment; ``ProtocolError`` if the frame is malformed."""
    _check(init)
    runtime: str = init["runtime"]
    environment = {
        "PATH": "/usr/local/bin:/usr/bin:/bin:/opt/bin",
        "LANG": "C.UTF-8",  # present on every glibc; en_US.UTF-8, Lambda's, often is not
        "TZ": ":UTC",
        "LD_LIBRARY_PATH": f"{task_root}/lib:/opt/lib",
    }
    if runtime.startswith("python"):
        environment["PYTHONUNBUFFERED"] = "1"
    environment.update(init["environment"])
    environment.update(
        {
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": init["function_name"],
            "AWS_LAMBDA_FUNCTION_VERSION": init["function_version"],
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(init["memory_size"]),
            "AWS_LAMBDA_LOG_GROUP_NAME": init["log_group_name"],
            "AWS_LAMBDA_LOG_STREAM_NAME": init["log_stream_name"],
            "AWS_LAMBDA_INITIALIZATION_TYPE": init["initialization_type"],
            "AWS_LAMBDA_RUNTIME_API": runtime_api,
            "AWS_REGION": init["region"],
            "AWS_DEFAULT_REGION": init["region"],
            "_HANDLER": init["handler"],
            "LAMBDA_TASK_ROOT": task_root,
            "LAMBDA_RUNTIME_DIR": RUNTIME_DIR,
        }
    )
    return environment


def _check(init: dict) -> None:
    memory_size = init.get("memory_size")
    if not isinstance(memory_size, int) or isinstance(memory_size, bool) or memory_size <= 0:
        raise ProtocolError("init: memory_size must be an integer")
    variables = init.get("environment")
    if not isinstance(variables, dict) or not all(
        isinstance(name, str) and isinstance(value, str) for name, value in variables.items()
    ):
        raise ProtocolError("init: environment must map strings to strings")
    for name, value in variables.items():
        if not name or "=" in name or "\0" in name or "\0" in value:
            raise ProtocolError(f"init: environment variable {name[:100]!r} cannot be set")
    for field in _STRING_FIELDS:
        value = init.get(field)
        if not isinstance(value, str) or "\0" in value:
            raise ProtocolError(f"init: {field} must be a string")
