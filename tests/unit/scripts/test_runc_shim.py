"""scripts/kind/offline/runc-shim.sh: CAP_SYS_RESOURCE is removed from what runc is asked
to apply (create/run bundle, exec process file); everything else reaches runc unchanged."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SHIM = REPO / "scripts" / "kind" / "offline" / "runc-shim.sh"
ALL_SETS = ("bounding", "effective", "permitted", "inheritable", "ambient")

pytestmark = pytest.mark.unit  # the shim needs jq: make install puts it there


def _caps(*names: str) -> dict[str, list[str]]:
    return {key: list(names) for key in ALL_SETS}


def _run_shim(tmp_path: Path, *args: str, cwd: Path | None = None) -> list[str]:
    """Run the shim with a fake runc that records its arguments; return them."""
    record = tmp_path / "runc-args"
    fake = tmp_path / "runc"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {record}\n')
    fake.chmod(0o755)
    env = {**os.environ, "RUNC_SHIM_REAL": str(fake)}
    subprocess.run(["bash", str(SHIM), *args], cwd=cwd or tmp_path, env=env, check=True, timeout=30)
    return record.read_text().splitlines()


def _bundle(tmp_path: Path, caps: dict[str, list[str]]) -> Path:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    config = {"ociVersion": "1.0.2", "process": {"args": ["sh"], "capabilities": caps}}
    (bundle / "config.json").write_text(json.dumps(config))
    return bundle


@pytest.mark.parametrize("command", ["create", "run"])
def test_create_and_run_drop_sys_resource_from_every_set(tmp_path: Path, command: str) -> None:
    bundle = _bundle(tmp_path, _caps("CAP_CHOWN", "CAP_SYS_RESOURCE", "CAP_SYS_ADMIN"))
    args = ["--root", "/run/x", "--log", "/tmp/l.json", command, "--bundle", str(bundle), "c1"]

    seen = _run_shim(tmp_path, *args)

    assert seen == args
    config = json.loads((bundle / "config.json").read_text())
    assert config["process"]["capabilities"] == _caps("CAP_CHOWN", "CAP_SYS_ADMIN")
    assert config["process"]["args"] == ["sh"]


def test_bundle_defaults_to_the_working_directory(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path, _caps("CAP_SYS_RESOURCE"))

    _run_shim(tmp_path, "create", "c1", cwd=bundle)

    assert json.loads((bundle / "config.json").read_text())["process"]["capabilities"] == _caps()


def test_exec_process_file_is_stripped(tmp_path: Path) -> None:
    process = tmp_path / "process.json"
    process.write_text(
        json.dumps({"args": ["ls"], "capabilities": _caps("CAP_SYS_RESOURCE", "CAP_KILL")})
    )

    seen = _run_shim(tmp_path, "--root", "/run/x", "exec", "--process", str(process), "c1")

    assert seen == ["--root", "/run/x", "exec", "--process", str(process), "c1"]
    assert json.loads(process.read_text()) == {"args": ["ls"], "capabilities": _caps("CAP_KILL")}


def test_a_container_without_sys_resource_is_left_byte_for_byte(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path, _caps("CAP_CHOWN"))
    before = (bundle / "config.json").read_bytes()

    _run_shim(tmp_path, "create", "--bundle", str(bundle), "c1")

    assert (bundle / "config.json").read_bytes() == before


def test_other_commands_pass_straight_through(tmp_path: Path) -> None:
    assert _run_shim(tmp_path, "--root", "/run/x", "delete", "--force", "c1") == [
        "--root",
        "/run/x",
        "delete",
        "--force",
        "c1",
    ]
