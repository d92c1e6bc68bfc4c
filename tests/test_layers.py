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


THROUGH_SERVICES = "reach NetSuite and key material only through services"


@pytest.mark.parametrize(
    ("module", "added_code", "broken"),
    [
        # A page that speaks the protocol itself, past the services.
        (
            "authentications/views/dashboard.py",
            "from authentications.netsuite import token_request",
            THROUGH_SERVICES,
        ),
        # The same, imported only when a function runs.
        (
            "authentications/views/audit.py",
            "def later():\n    from authentications.netsuite import token_urls",
            THROUGH_SERVICES,
        ),
        # A page that reads key material itself.
        (
            "authentications/views/rotation.py",
            "from authentications.keys import private_keys",
            THROUGH_SERVICES,
        ),
        # A template tag, the token API and the access helper: pages too.
        (
            "authentications/templatetags/authentications_tags.py",
            "from authentications.netsuite import rest_request",
            THROUGH_SERVICES,
        ),
        ("api/ratelimit.py", "from authentications.keys import loaded_keys", THROUGH_SERVICES),
        (
            "authentications/permissions.py",
            "from authentications.netsuite import token_urls",
            THROUGH_SERVICES,
        ),
        # The protocol calling up into a service.
        (
            "authentications/netsuite/token_request.py",
            "from authentications.services import token_attempt",
            "authentications.netsuite is not allowed to import authentications.services",
        ),
        # Key material reaching for a form, or for the protocol above it.
        (
            "authentications/keys/pasted.py",
            "from authentications.forms import field_rules",
            "authentications.keys is not allowed to import authentications.forms",
        ),
        (
            "authentications/keys/private_keys.py",
            "from authentications.netsuite import assertion",
            "authentications.keys is not allowed to import authentications.netsuite",
        ),
        # A service that renders a page.
        (
            "authentications/services/rotation.py",
            "from authentications.views import dashboard",
            "authentications.services is not allowed to import authentications.views",
        ),
        # A model that knows about the protocol.
        (
            "authentications/models.py",
            "from authentications.netsuite import token_urls",
            "authentications.models is not allowed to import authentications.netsuite",
        ),
        # The authentications app depending on the token API built on it.
        (
            "authentications/tasks.py",
            "from api import apikeys",
            "authentications is not allowed to import api",
        ),
    ],
)
def test_an_import_across_the_layers_breaks_a_contract(tree, module, added_code, broken):
    """GIVEN the code with one import added where the layers forbid it
    WHEN make lint's import check runs THEN it fails and names the import."""
    path = tree / module
    path.write_text(path.read_text() + f"\n\n{added_code}  # noqa: E402, F401\n")

    result = lint_imports(tree)

    assert result.returncode == 1, result.stdout + result.stderr
    assert broken in " ".join(result.stdout.split()), result.stdout


def test_a_module_without_a_layer_breaks_the_contract(tree):
    """GIVEN a new module in the app that no layer names WHEN the import check runs THEN it fails
    until the module is given its place, so every module stays under the rules."""
    (tree / "authentications" / "helpers.py").write_text('"""Somewhere new."""\n')

    result = lint_imports(tree)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "- authentications.helpers" in result.stdout
    assert "not listed as layers" in result.stdout
