"""environment.yml and pyproject.toml list the same dependencies; importing has no side effects."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _spec(requirement: str) -> str:
    rest = requirement.strip()[len(_name(requirement)) :].replace(" ", "")
    return re.sub(r"^\[[^\]]*\]", "", rest)  # pip extras such as psycopg[binary]


def test_environment_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pip_deps = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        pip_deps += extra
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    conda_only = {"python", "pip", "font-ttf-noto-cjk"}
    conda_deps = {_name(d): _spec(d) for d in conda if _name(d) not in conda_only}
    pip_map = {_name(d): _spec(d) for d in pip_deps}
    assert conda_deps == pip_map
    pip_section = next(d for d in env["dependencies"] if isinstance(d, dict))
    assert pip_section["pip"] == ["-e ."]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "bash scripts/test.sh" in readme and "bash scripts/test.sh" in ci
    assert "bash scripts/report.sh" in readme


def test_import_has_no_global_side_effects():
    code = (
        "import warnings, logging, pandas as pd, matplotlib;"
        "before = (pd.get_option('display.max_columns'), len(warnings.filters),"
        " dict(matplotlib.rcParams), len(logging.root.handlers));"
        "import analysis_kit, analysis_kit.cleaning, analysis_kit.io, analysis_kit.privacy,"
        " analysis_kit.templates, analysis_kit.datasets, analysis_kit.reports, analysis_kit.cli;"
        "after = (pd.get_option('display.max_columns'), len(warnings.filters),"
        " dict(matplotlib.rcParams), len(logging.root.handlers));"
        "assert before == after, (before, after)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
