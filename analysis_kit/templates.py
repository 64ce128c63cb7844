"""Excel collection templates: one sheet per table, with the headers the readers map back.

:func:`write_template` writes the workbook a sales team fills in: each table's sheet has the
template headers in row 1 (exactly ``Field.headers[0]``, so :func:`analysis_kit.columns.map_headers`
finds every column), the example row from the templates in row 2, dropdowns for the closed lists
and a 填写说明 sheet that explains every field.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from os import PathLike
from pathlib import Path

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from .columns import CHOICES, STAGES, TABLES, Field, TableSpec
from .errors import SchemaError

__all__ = ["DEFAULT_TEMPLATE_TABLES", "LANGS", "dropdown_values", "write_template"]

#: Tables a collection template holds by default.
DEFAULT_TEMPLATE_TABLES: tuple[str, ...] = ("customers", "followups", "orders", "stages", "market")

#: Languages :func:`write_template` writes.
LANGS: tuple[str, ...] = ("zh", "en")

#: Last row that carries the dropdowns and the column formats.
_LAST_ROW = 1000

_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩"
_SCORES = tuple(f"{i}分" for i in range(1, 6))
_YES_NO = ("是", "否")

# Closed lists by canonical field name. Feedback accepts free text (the sentiment list only helps).
_DROPDOWNS: dict[str, tuple[str, ...]] = {
    "grade": CHOICES["grade"],
    "priority": CHOICES["priority"],
    "value_grade": CHOICES["value_grade"],
    "potential_rating": CHOICES["potential_rating"],
    "company_size": CHOICES["company_size"],
    "contact_method": CHOICES["contact_method"],
    "feedback": CHOICES["sentiment"],
    "stage": tuple(f"{_CIRCLED[i]}{s}" for i, s in enumerate(CHOICES.get("stage", STAGES))),
    "competitor_contact": _YES_NO,
    "match_score": _SCORES,
    "cooperation_score": _SCORES,
}
_FREE_TEXT_DROPDOWNS = frozenset({"feedback"})
# Kinds whose cells Excel must keep as text (leading zeros, 11-digit phones, 2024-03 periods).
_TEXT_KINDS = frozenset({"id", "phone", "period", "timeline"})

_HEADER_FONT = Font(bold=True)
_REQUIRED_FONT = Font(bold=True, color="9C0006")
_OPTIONAL_FILL = PatternFill("solid", start_color="DDEBF7", end_color="DDEBF7")
_REQUIRED_FILL = PatternFill("solid", start_color="FCE4D6", end_color="FCE4D6")
_EXAMPLE_FONT = Font(italic=True, color="7F7F7F")
_THIN = Side(style="thin", color="BFBFBF")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)

_TEXT = {
    "zh": {
        "instructions": "填写说明",
        "columns": ("表", "字段", "英文名", "是否必填", "填写说明", "示例"),
        "yes": "是",
        "no": "否",
        "one_of": "至少填一项：{}",
        "required_comment": "必填。",
        "error_title": "请从下拉列表选择",
        "error": "可选值：{}",
    },
    "en": {
        "instructions": "Instructions",
        "columns": ("Table", "Field", "Canonical name", "Required", "Notes", "Example"),
        "yes": "yes",
        "no": "no",
        "one_of": "at least one of: {}",
        "required_comment": "Required.",
        "error_title": "Choose from the list",
        "error": "Allowed values: {}",
    },
}


def dropdown_values(name: str) -> tuple[str, ...] | None:
    """Return the dropdown list a template shows for canonical field ``name``, or None.

    Parameters
    ----------
    name : str
        Canonical field name, e.g. ``"grade"`` or ``"stage"``.

    Returns
    -------
    tuple of str or None
        The allowed values in template order (stages written ``①初次接洽`` … ``⑥售后维护``,
        scores ``1分`` … ``5分``), or None when the field has no closed list.

    Examples
    --------
    >>> dropdown_values("priority")
    ('高', '中', '低')
    >>> dropdown_values("customer_name") is None
    True
    """
    return _DROPDOWNS.get(name)


def _english_header(f: Field) -> str:
    return next((h for h in f.headers if h.isascii()), f.name)


def _header(f: Field, lang: str) -> str:
    return f.headers[0] if lang == "zh" else _english_header(f)


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _required_text(spec: TableSpec, f: Field, lang: str) -> str:
    words = _TEXT[lang]
    if f.required:
        return words["yes"]
    for group in spec.any_of:
        if f.name in group:
            labels = [_header(spec.field(n), lang) for n in group]
            return words["one_of"].format(" / ".join(labels))
    return words["no"]


def _write_table_sheet(ws: Worksheet, spec: TableSpec, lang: str) -> None:
    words = _TEXT[lang]
    for col, f in enumerate(spec.fields, start=1):
        letter = get_column_letter(col)
        required = _required_text(spec, f, lang) != words["no"]
        header = ws.cell(row=1, column=col, value=_header(f, lang))
        header.font = _REQUIRED_FONT if required else _HEADER_FONT
        header.fill = _REQUIRED_FILL if required else _OPTIONAL_FILL
        header.border = _BORDER
        header.alignment = Alignment(horizontal="center", vertical="center")
        note = f.note
        if required:
            note = f"{words['required_comment']}{note}"
        if note:
            header.comment = Comment(note, "analysis_kit", width=240, height=80)
        if f.kind in _TEXT_KINDS:
            ws.column_dimensions[letter].number_format = "@"
        if f.example:
            example = ws.cell(row=2, column=col, value=f.example)
            example.font = _EXAMPLE_FONT
            if f.kind in _TEXT_KINDS:
                example.number_format = "@"
        width = max(_display_width(header.value), _display_width(f.example), 8) + 2
        ws.column_dimensions[letter].width = min(width, 40)

        values = dropdown_values(f.name)
        if values is not None:
            free = f.name in _FREE_TEXT_DROPDOWNS
            dv = DataValidation(
                type="list",
                formula1='"' + ",".join(values) + '"',
                allow_blank=True,
                showErrorMessage=not free,
                errorTitle=None if free else words["error_title"],
                error=None if free else words["error"].format("/".join(values)),
            )
            dv.add(f"{letter}2:{letter}{_LAST_ROW}")
            ws.add_data_validation(dv)
    ws.freeze_panes = "A2"
    ws.row_dimensions[1].height = 22


def _write_instructions(ws: Worksheet, specs: Iterable[TableSpec], lang: str) -> None:
    words = _TEXT[lang]
    ws.append(list(words["columns"]))
    for cell in ws[1]:
        cell.font = _HEADER_FONT
        cell.fill = _OPTIONAL_FILL
        cell.border = _BORDER
    for spec in specs:
        table = spec.title if lang == "zh" else spec.name
        for f in spec.fields:
            ws.append(
                [table, _header(f, lang), f.name, _required_text(spec, f, lang), f.note, f.example]
            )
    for letter, width in zip("ABCDEF", (16, 20, 20, 26, 60, 30), strict=True):
        ws.column_dimensions[letter].width = width
    wrap = Alignment(wrap_text=True, vertical="top")
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = wrap
    ws.freeze_panes = "A2"


def _check_tables(tables: Iterable[str]) -> tuple[str, ...]:
    if isinstance(tables, str):
        tables = (tables,)
    names = tuple(tables)
    unknown = [t for t in names if t not in TABLES]
    if unknown:
        raise SchemaError(
            f"tables must be names from {sorted(TABLES)}; got unknown {', '.join(map(repr, unknown))}"
        )
    if not names:
        raise SchemaError(f"tables must name at least one of {sorted(TABLES)}; got none")
    if len(set(names)) != len(names):
        raise SchemaError(f"tables must not repeat a table; got {list(names)}")
    return names


def write_template(
    path: str | PathLike[str],
    *,
    tables: Iterable[str] = DEFAULT_TEMPLATE_TABLES,
    lang: str = "zh",
) -> Path:
    """Write an Excel collection template with one sheet per table and a 填写说明 sheet.

    Each table's sheet is named by its Chinese title (客户信息表, 跟进记录, 成交明细, 商机阶段记录,
    市场分析汇总表, …). Row 1 holds the template headers exactly as
    :func:`analysis_kit.columns.map_headers` maps them back (bold, filled, frozen; required columns
    in red on orange, with the 填写说明 text as a cell comment), row 2 the example row. Closed
    lists (客户等级, 跟进优先级, 沟通方式, 当前阶段, 价值等级, 潜力评级, 客户规模, 是否接触竞品,
    需求匹配度, 合作可能性) get dropdowns on rows 2–1000; 客户反馈 offers 积极/中性/消极 but accepts
    any text. Id, phone and period columns are formatted as text so Excel keeps leading zeros and
    all 11 digits. The last sheet lists every field: 表, 字段, 英文名, 是否必填, 填写说明, 示例.

    Parameters
    ----------
    path : str or path-like
        Where to write the ``.xlsx`` file; an existing file is replaced. The folder must exist.
    tables : iterable of str, default=DEFAULT_TEMPLATE_TABLES
        Names from :data:`analysis_kit.columns.TABLES`, in sheet order.
    lang : {"zh", "en"}, default="zh"
        ``"zh"`` writes the Chinese headers (``Field.headers[0]``); ``"en"`` writes each field's
        first English header, names the sheets by canonical table name (``customers``, …) and the
        instructions sheet ``Instructions``. Dropdown values are the same in both languages,
        because they are the values the analyses expect; the notes exist in Chinese only.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    SchemaError
        If ``tables`` names an unknown table (the message lists the allowed ones), is empty or
        repeats a table. A subclass of ValueError.
    ValueError
        If ``lang`` is not one of :data:`LANGS`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> write_template(folder / "客户模板.xlsx", tables=["customers"]).name
    '客户模板.xlsx'
    """
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {list(LANGS)}; got {lang!r}")
    names = _check_tables(tables)
    specs = [TABLES[name] for name in names]
    path = Path(path)

    wb = Workbook()
    wb.remove(wb.active)
    for spec in specs:
        ws = wb.create_sheet(spec.title if lang == "zh" else spec.name)
        _write_table_sheet(ws, spec, lang)
    _write_instructions(wb.create_sheet(_TEXT[lang]["instructions"]), specs, lang)
    wb.active = 0
    wb.save(path)
    return path
