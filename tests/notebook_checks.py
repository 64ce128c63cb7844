"""What the notebook tests read back from an executed notebook and a cleaned sample."""

from pathlib import Path

import nbformat
import pandas as pd

#: Clean tables and the columns in them that hold people's names.
PEOPLE = {
    "customers": ("contact_name", "owner"),
    "orders": ("owner",),
    "stages": ("owner",),
    "followups": ("owner",),
    "targets": ("owner",),
}


def _outputs(executed, keep) -> str:
    """The text of every output of an executed notebook for which ``keep(output)`` holds."""
    nb = nbformat.read(executed, as_version=4)
    return "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if keep(o))


def stderr_of(executed) -> str:
    """Everything an executed notebook wrote to stderr, and its error outputs."""
    return _outputs(
        executed, lambda o: o.get("name") == "stderr" or o.get("output_type") == "error"
    )


def stdout_of(executed) -> str:
    """Everything an executed notebook printed to stdout."""
    return _outputs(executed, lambda o: o.get("name") == "stdout")


def people_names(clean_dir: Path) -> list[str]:
    """Every contact and sales-rep name in the clean tables, one name per entry."""
    columns = []
    for table, wanted in PEOPLE.items():
        path = clean_dir / f"{table}.parquet"
        if path.exists():
            frame = pd.read_parquet(path)
            columns += [frame[c] for c in wanted if c in frame.columns]
    names = pd.concat(columns).dropna().astype(str)
    return list(names.str.split("; ").explode().str.strip().unique())


def reader_artifacts(page: str, *, lang: str = "zh") -> dict[str, int]:
    """Count what a reader should never see in a page's tables and printed output.

    scientific notation (``1.53e+02``), floats with four or more decimals, ``NaN``/``None``/
    ``NaT`` cells, a 0..n index column, snake_case or unlabelled lower-case English headers on a
    Chinese page, and Python
    reprs (``{…}``, ``[…]`` of quoted items, ``PosixPath('…')``, ``<… object at 0x…>``) in cells
    or printed text.
    """
    import re

    cells = re.findall(r"<t[dh](?:\s[^>]*)?>(.*?)</t[dh]>", page, flags=re.S)
    headers = re.findall(r"<th(?:\s[^>]*)?>(.*?)</th>", page, flags=re.S)
    text = re.sub(r"<style.*?</style>|<script.*?</script>", "", page, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    counts = {
        "scientific": len(re.findall(r"\b\d(?:\.\d+)?e[+-]\d+\b", text)),
        "long_floats": len(re.findall(r"(?<![\d.])\d+\.\d{4,}\b", text)),
        "missing": sum(
            c.strip() in ("NaN", "nan", "None", "NaT", "<NA>", "&lt;NA&gt;") for c in cells
        ),
        "index_column": len(re.findall(r"<tr[^>]*>\s*<th[^>]*>\s*0\s*</th>", page))
        + sum(h.strip() == "index" for h in headers),
        "snake_case_headers": 0,
        "python_reprs": len(re.findall(r"[\[{]\s*'[^']*'\s*[,:\]]", text))
        + len(re.findall(r"\b(?:Posix|Windows)?Path\(|<[\w.]+ object at 0x", text)),
    }
    if lang == "zh":  # snake_case, or a column name without a label (``cycle days median``)
        counts["snake_case_headers"] = sum(
            bool(re.fullmatch(r"\s*[a-z][a-z0-9]*(?:[_ ][a-z0-9]+)*\s*", h)) for h in headers
        )
    return counts


def visible_text(page: str) -> str:
    """The text a reader sees in an HTML page: no tags, styles, scripts or embedded images."""
    import html
    import re

    text = re.sub(r"<style.*?</style>|<script.*?</script>", " ", page, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    return html.unescape(text)


def data_values(frames) -> list[str]:
    """Every text value of ``frames``, its pieces (``a; b``, ``a、b``) and its masked form."""
    import re

    from analysis_kit.privacy import mask_names

    values = set()
    for frame in frames:
        for column in frame.columns:
            if frame[column].dtype.kind in "biufcmM":
                continue
            texts = frame[column].dropna().astype(str).unique().tolist()
            values.update(texts)
            for text in texts:
                values.update(p.strip() for p in re.split(r"[;；、,，/|]", text) if p.strip())
            values.update(str(v) for v in mask_names(pd.Series(texts)).dropna())
    return sorted(values, key=len, reverse=True)


def han_outside_data(text: str, values, *, not_data=()) -> list[str]:
    """Han characters of ``text`` left once every data value is taken out, with context.

    ``not_data`` are values the kit itself writes (stage names …): they count even when the
    data holds them, because an English page must translate them.
    """
    import re

    keep = set(not_data)
    for value in values:
        if value not in keep and re.search(r"[\u4e00-\u9fff]", value):
            text = text.replace(value, " ")
    return [
        text[max(0, m.start() - 30) : m.end() + 30].replace("\n", " ")
        for m in re.finditer(r"[\u4e00-\u9fff]+", text)
    ]
