"""The layers of README's "Layout", as import-linter checks them in make lint: these tests
show the contracts hold for the code as it is and catch the imports they exist to refuse."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
COPIED = ("authentications", "api", "nsconnect", "pyproject.toml")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603  (our own tool, fixed arguments)
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the code whose imports a test may change."""
    for name in COPIED:
        source = Path(settings.BASE_DIR) / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, tmp_path / name)
    return tmp_path


def test_the_code_as_it_is_keeps_every_contract():
    result = lint_imports(Path(settings.BASE_DIR))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "added_import", "broken"),
    [
        # A page that speaks the protocol itself, past the services.
        (
            "authentications/views/dashboard.py",
            "from authentications.netsuite import token_request",
            "reach NetSuite and key material only through services",
        ),
        # A page that reads key material itself.
        (
            "authentications/views/rotation.py",
            "from authentications.keys import private_keys",
            "reach NetSuite and key material only through services",
        ),
        # The protocol calling up into a service.
        (
            "authentications/netsuite/token_request.py",
            "from authentications.services import token_attempt",
            "authentications.netsuite is not allowed to import authentications.services",
        ),
        # Key material reaching for a form.
        (
            "authentications/keys/pasted.py",
            "from authentications.forms import field_rules",
            "authentications.keys is not allowed to import authentications.forms",
        ),
        # A model that knows about the protocol.
        (
            "authentications/models.py",
            "from authentications.netsuite import token_urls",
            "authentications.models is not allowed to import authentications.netsuite",
        ),
    ],
)
def test_an_import_across_the_layers_breaks_a_contract(tree, module, added_import, broken):
    """GIVEN the code with one import added where the layers forbid it
    WHEN make lint's import check runs THEN it fails and names the import."""
    path = tree / module
    path.write_text(path.read_text() + f"\n{added_import}  # noqa: E402, F401\n")

    result = lint_imports(tree)

    assert result.returncode == 1, result.stdout + result.stderr
    assert broken in " ".join(result.stdout.split()), result.stdout
