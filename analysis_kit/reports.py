"""Run the notebooks with papermill and turn them into a report: HTML without code, metrics.json.

Nothing here is imported by the analyses. papermill and nbconvert are imported when a report runs,
so the package itself works without the ``notebook`` extra.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from .errors import AnalysisKitError

__all__ = [
    "NOTEBOOK_DIR",
    "ReportError",
    "available_notebooks",
    "export_html",
    "record_metrics",
    "run_notebook",
    "run_report",
]

#: Where the kit's notebooks live: ``notebooks/`` beside the package in a source checkout.
NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
#: The bundled sample data, used when no input is given.
DATA_DIR = Path(__file__).resolve().parent.parent / "data"

#: Cell tags removed from the HTML pages (besides every code cell's input).
HIDDEN_TAGS = ("parameters", "injected-parameters", "remove_cell", "bookkeeping")

METRICS_FILE = "metrics.json"


class ReportError(AnalysisKitError, RuntimeError):
    """A notebook failed or was given parameters it does not have."""


def available_notebooks(directory: str | os.PathLike | None = None) -> dict[str, Path]:
    """Return ``{"01": path, ...}`` for every ``NN_topic.ipynb`` in ``directory``."""
    directory = Path(directory or NOTEBOOK_DIR)
    return {
        p.name[:2]: p for p in sorted(directory.glob("[0-9][0-9]_*.ipynb")) if p.name[:2].isdigit()
    }


def record_metrics(metrics: Mapping[str, object], output_dir: str | os.PathLike, name: str) -> Path:
    """Write a notebook's key figures to ``output_dir/metrics.json`` under ``name``.

    The file is merged, not overwritten, so several notebooks can record into one report. Keys
    are sorted and the JSON is written with ``ensure_ascii=False`` so Chinese stays readable; the
    same metrics give the same bytes.

    Returns
    -------
    Path
        The metrics file.
    """
    path = Path(output_dir) / METRICS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    existing = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    existing[name] = _plain(metrics)
    path.write_text(
        json.dumps(existing, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return path


def _plain(value: object) -> object:
    """Convert numpy and pandas scalars inside mappings and lists to JSON-ready Python values."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def run_notebook(
    notebook: str | os.PathLike,
    output_dir: str | os.PathLike,
    parameters: Mapping[str, object] | None = None,
    *,
    progress: bool = False,
) -> Path:
    """Execute one notebook with papermill and export its HTML page.

    Parameters
    ----------
    notebook : path
        The notebook to run.
    output_dir : path
        Where the executed notebook and its HTML page go.
    parameters : mapping, optional
        Values for the notebook's ``parameters`` cell. A name the cell does not define is an error
        before anything runs.
    progress : bool, default=False
        Show papermill's progress bar.

    Returns
    -------
    Path
        The executed notebook.

    Raises
    ------
    ReportError
        Unknown parameters, or a cell failed (the message names the notebook, the cell and the
        error; the executed notebook with the traceback is kept for inspection).
    """
    import papermill as pm

    notebook = Path(notebook)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    parameters = dict(parameters or {})
    known = pm.inspect_notebook(str(notebook))
    unknown = sorted(set(parameters) - set(known))
    if unknown:
        raise ReportError(
            f"{notebook.name}: 未知参数 unknown parameters {unknown}; it takes {sorted(known)}"
        )
    executed = output_dir / notebook.name
    try:
        pm.execute_notebook(
            str(notebook),
            str(executed),
            parameters=parameters,
            cwd=str(notebook.parent),
            progress_bar=progress,
            kernel_name="python3",
            language="python",
        )
    except pm.PapermillExecutionError as exc:
        raise ReportError(
            f"{notebook.name}: cell {exc.exec_count} failed with {exc.ename}: {exc.evalue} "
            f"(executed notebook kept at {executed})"
        ) from None
    export_html(executed, output_dir / (notebook.stem + ".html"))
    return executed


def export_html(executed: str | os.PathLike, html_path: str | os.PathLike) -> Path:
    """Write an executed notebook as HTML with no code: inputs and tagged cells removed.

    The page title is the notebook's first Markdown heading.
    """
    import nbformat
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    nb = nbformat.read(str(executed), as_version=4)
    title = Path(executed).stem
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            heading = next(
                (ln.lstrip("# ").strip() for ln in cell.source.splitlines() if ln.startswith("#")),
                None,
            )
            if heading:
                title = heading
                break
    nb.metadata["title"] = title
    config = Config()
    config.TemplateExporter.exclude_input = True
    config.TemplateExporter.exclude_input_prompt = True
    config.TemplateExporter.exclude_output_prompt = True
    config.TagRemovePreprocessor.remove_cell_tags = set(HIDDEN_TAGS)
    config.TagRemovePreprocessor.enabled = True
    exporter = HTMLExporter(config=config)
    body, _ = exporter.from_notebook_node(nb)
    html_path = Path(html_path)
    html_path.write_text(body, encoding="utf-8")
    return html_path


def run_report(
    output_dir: str | os.PathLike,
    *,
    notebooks: Sequence[str] | None = None,
    parameters: Mapping[str, object] | None = None,
    notebook_dir: str | os.PathLike | None = None,
    progress: bool = False,
) -> Path:
    """Run the chosen notebooks (all when None) in order into ``output_dir``, sharing one parameter set.

    Each notebook receives the parameters it defines (``output_dir`` is always set to
    ``output_dir``); a parameter that no chosen notebook defines is an error before anything runs.

    Returns
    -------
    Path
        ``output_dir/metrics.json``.
    """
    import papermill as pm

    found = available_notebooks(notebook_dir)
    chosen = []
    for key in sorted(found) if notebooks is None else notebooks:
        key = str(key).zfill(2)[:2]
        if key not in found:
            raise ReportError(f"no notebook {key!r}; available: {sorted(found)}")
        chosen.append(found[key])
    output_dir = Path(output_dir).resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    metrics = output_dir / METRICS_FILE
    if metrics.exists():
        metrics.unlink()
    shared = dict(parameters or {})
    known = {p.name: set(pm.inspect_notebook(str(p))) for p in chosen}
    unknown = sorted(set(shared) - set().union(*known.values()))
    if unknown:
        raise ReportError(f"未知参数 unknown parameters {unknown}")
    for path in chosen:
        params = {k: v for k, v in shared.items() if k in known[path.name]}
        if "output_dir" in known[path.name]:
            params["output_dir"] = str(output_dir)
        run_notebook(path, output_dir, params, progress=progress)
    return metrics
