"""Generate the Python client of the API from its OpenAPI document: ``python -m devtools.sdk [dir]``.

The generator is an independent one (``openapi-python-client``), so the client shows what any
client generator makes of the document; any warning it gives fails the generation. The document is
written by ``manage.py spectacular`` exactly as ``make schema`` validates it. The client is a
package ``unimanager_client`` with a ``setup.py`` beside it (``pip install <dir>``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PACKAGE = "unimanager_client"
ROOT = Path(__file__).resolve().parent.parent
CONFIG = {"project_name_override": "unimanager-client", "package_name_override": PACKAGE, "post_hooks": []}


class GenerationFailed(RuntimeError):
    """The generator refused the document or warned about part of it."""


def write_document(target: Path) -> None:
    """The OpenAPI document as JSON, validated, failing on any generator warning."""
    subprocess.run([sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn",
                    "--format", "openapi-json", "--file", str(target)], cwd=ROOT, check=True)


def generate(document: Path, output: Path) -> Path:
    """Generate the client of ``document`` into ``output`` (replaced); returns ``output``."""
    generator = shutil.which("openapi-python-client", path=str(Path(sys.executable).parent))
    if generator is None:
        raise GenerationFailed("openapi-python-client is not installed (pip install -e '.[dev]')")
    with tempfile.TemporaryDirectory() as scratch:
        config = Path(scratch) / "config.json"
        config.write_text(json.dumps(CONFIG))
        result = subprocess.run(
            [generator, "generate", "--path", str(document), "--meta", "setup", "--output-path", str(output),
             "--config", str(config), "--overwrite", "--fail-on-warning"],
            capture_output=True, text=True)
    said = (result.stdout + result.stderr).strip()
    if result.returncode != 0 or "warning" in said.lower():
        raise GenerationFailed(said or f"openapi-python-client exited {result.returncode}")
    return output


def main(argv: list[str]) -> int:
    output = Path(argv[0] if argv else "var/sdk").resolve()
    with tempfile.TemporaryDirectory() as scratch:
        document = Path(scratch) / "openapi.json"
        write_document(document)
        try:
            generate(document, output)
        except GenerationFailed as exc:
            print(exc, file=sys.stderr)
            return 1
    print(f"{PACKAGE} generated in {output} (import it with {output} on sys.path, or pip install {output})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
