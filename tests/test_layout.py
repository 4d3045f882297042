"""The layout rule of DESIGN.md: ``platform/`` is a source root, never a package."""

import subprocess
import sys
import sysconfig
from pathlib import Path

from django.apps import apps

ROOT = Path(__file__).resolve().parents[1]


def test_platform_folder_is_not_a_package():
    assert (ROOT / "platform" / "lambent" / "__init__.py").exists()
    assert not (ROOT / "platform" / "__init__.py").exists()


def test_stdlib_platform_module_still_wins_next_to_the_folder():
    # As manage.py runs: the repository root and platform/ both on sys.path.
    code = (
        "import sys; sys.path[:0] = ['.', 'platform'];"
        "import platform, uuid, lambent; print(platform.__file__); print(platform.python_version())"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    module_file, version = result.stdout.split()
    assert Path(module_file).parent == Path(sysconfig.get_paths()["stdlib"])
    assert version == ".".join(map(str, sys.version_info[:3]))


def test_no_app_or_top_level_package_is_named_after_a_stdlib_module():
    names = {config.name for config in apps.get_app_configs() if config.name.startswith("lambent")}
    labels = {part for name in names for part in name.split(".")}
    top_level = {path.name for path in ROOT.iterdir() if (path / "__init__.py").exists()}
    top_level |= {path.name for path in (ROOT / "platform").iterdir() if path.is_dir()}
    assert not (labels | top_level) & set(sys.stdlib_module_names)
