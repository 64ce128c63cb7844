"""The ``analysis-kit`` command: ``report``, ``template`` and ``inspect``.

``report`` runs the notebooks, ``template`` writes a collection template, ``inspect`` takes a
first look at an export (header mapping, unreadable values, a ``column_map`` to paste).

Exit codes a scheduler can use: 0 done, 1 a notebook or input failed, 2 bad command line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from .columns import TABLES
from .errors import AnalysisKitError

__all__ = ["main"]


def _value(text: str) -> object:
    """Read a ``-p name value`` value as JSON when it parses (numbers, lists), else as text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="analysis-kit", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    report = sub.add_parser("report", help="run notebooks with papermill into a report folder")
    report.add_argument(
        "--out",
        default="reports",
        help="folder of reports (default: reports); each run writes into OUT/<as_of date>",
    )
    report.add_argument(
        "--no-date", action="store_true", help="write into OUT itself, not a dated subfolder"
    )
    report.add_argument(
        "--previous",
        default=None,
        help="an earlier report folder to compare with (default: the latest earlier dated one)",
    )
    report.add_argument(
        "--notebooks",
        default=None,
        help="comma-separated notebook numbers (default: all, in order)",
    )
    report.add_argument("--params", help="a YAML or JSON file of parameters")
    report.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="one parameter (repeatable); VALUE is read as JSON when it parses",
    )

    template = sub.add_parser("template", help="write an Excel collection template")
    template.add_argument("path", help="the .xlsx file to write")
    template.add_argument("--lang", default="zh", choices=["zh", "en"])
    template.add_argument(
        "--tables", default=None, help="comma-separated tables (default: the five templates)"
    )

    inspect = sub.add_parser(
        "inspect",
        help="a first look at an export: header mapping, unreadable values, a column_map",
        description="Show which headers map to which field, which do not (with suggestions), "
        "the values the kit cannot read, and a column_map and choices to paste. Nothing is "
        "cleaned or changed; personal data is masked.",
    )
    inspect.add_argument("path", help="the CSV, Excel or Parquet file")
    inspect.add_argument(
        "--table", default=None, choices=sorted(TABLES), help="the table (default: inferred)"
    )
    inspect.add_argument(
        "--sheet", default=None, help="Excel sheet (default: the first data sheet)"
    )
    inspect.add_argument("--encoding", default=None, help="CSV encoding (default: detected)")
    inspect.add_argument("--lang", default="zh", choices=["zh", "en"])
    inspect.add_argument("--json", action="store_true", help="print JSON instead of text")
    inspect.add_argument(
        "--top", type=_positive, default=10, help="values listed per field (default: 10)"
    )
    inspect.add_argument(
        "-m",
        "--map",
        nargs=2,
        action="append",
        default=[],
        metavar=("HEADER", "FIELD"),
        help="map a header to a canonical field (repeatable), as column_map does",
    )
    return parser


def _inspect(args: argparse.Namespace) -> int:
    from .inspection import inspect_export

    found = inspect_export(
        args.path,
        table=args.table,
        sheet_name=args.sheet,
        encoding=args.encoding,
        column_map=dict(args.map),
        top=args.top,
    )
    if args.json:
        print(json.dumps(found.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(found.to_text(lang=args.lang), end="")
    return 0


def _load_params(path: str | None) -> dict[str, object]:
    if not path:
        return {}
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    if path.endswith((".yml", ".yaml")):
        import yaml

        data = yaml.safe_load(text) or {}
    else:
        data = json.loads(text)
    if not isinstance(data, dict):
        raise AnalysisKitError(f"{path}: parameters must be a mapping of name to value")
    return data


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "inspect":
            return _inspect(args)
        if args.command == "template":
            from .templates import DEFAULT_TEMPLATE_TABLES, write_template

            tables = args.tables.split(",") if args.tables else DEFAULT_TEMPLATE_TABLES
            path = write_template(args.path, tables=tables, lang=args.lang)
            print(f"wrote {path}")
            return 0
        from .reports import available_notebooks, run_report

        params = _load_params(args.params)
        params.update({name: _value(value) for name, value in args.parameter})
        if args.notebooks:
            notebooks = [n.strip() for n in args.notebooks.split(",") if n.strip()]
        else:
            notebooks = sorted(available_notebooks())
        metrics = run_report(
            args.out,
            notebooks=notebooks,
            parameters=params,
            progress=sys.stderr.isatty(),
            dated=not args.no_date,
            previous=args.previous,
        )
        print(f"report written to {metrics.parent} (open {metrics.parent / 'index.html'})")
        return 0
    except (AnalysisKitError, OSError) as exc:
        print(f"analysis-kit: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
