"""Recognise one customer written differently, and link other tables' rows to customers.

A customer id is made from a normalised name (:func:`analysis_kit.parsing.company_key`), so
``星辰科技有限公司``, ``（北京）星辰科技有限公司`` and ``星辰科技股份有限公司`` would be three
customers. This module compares names by their *core* instead: the name without legal form, region
or punctuation (:func:`name_core`). Two names are the same customer when

- their cores are equal (``same_core``), or
- their cores are similar enough (``fuzzy``): the :func:`rapidfuzz.fuzz.ratio` of the cores is at
  least ``threshold`` *and* the names start with the same trade name (字号: the core's first two
  characters, or its first word in a Latin name), neither core is shorter than
  :data:`MIN_FUZZY_LENGTH` characters, and the numbers and regions left in them agree.

A pair scoring at least ``review_threshold`` that is not merged is listed as ``review`` for a person
to decide; it is never merged. A pair whose cores hold different numbers (``星辰1号`` / ``星辰2号``,
also Chinese numerals) or different region names that were not stripped (``星辰北京科技`` /
``星辰上海科技``) is not the same company and is not listed at all.

Regional subsidiaries merge
---------------------------
Leading and bracketed regions are stripped by default (``strip_regions=True``), so ``北京星辰科技``,
``上海星辰科技`` and ``星辰科技(深圳)`` all have the core ``星辰科技`` and are one customer, and a
branch named by a region (``星辰科技有限公司北京分公司``) joins its parent. Pass
``strip_regions=False`` to keep regional companies apart. A leading region is only stripped when at
least four characters remain, so ``青岛啤酒`` and ``北京银行`` keep their region (it *is* their name).

Blocking
--------
Fuzzy scores are only computed within blocks, never over all pairs. Two cores are compared when
they start with the same trade name (block 1), or when everything after the trade name is equal
and the trade names share their first or last character (block 2: a typo in the trade name,
``星辰科技`` / ``星晨科技``). Every pair that can be ``fuzzy`` shares block 1 (a merge needs equal
trade names), so blocking never loses a merge; it can only miss ``review`` pairs whose trade names
and rest both differ. The work is the sum of the blocks' squared sizes, a few comparisons per name
for real customer lists; the count is recorded in ``attrs["comparisons"]`` of the result. Cores
are found once per distinct name, with vectorised string operations over the whole column, so the
time grows with the number of rows and pairs, not with their square.

Personal customers (``张先生``, ``李女士``, ``个人``) keep their full key and are never fuzzy-matched.
Names in different scripts (``Xingchen Tech Co., Ltd.`` / ``星辰科技有限公司``) share no characters
and are linked only by an explicit id or an alias the user supplies (``aliases=`` of
:func:`link_customers`): pinyin is ambiguous (星辰, 星晨 and 行程 are all *xingchen*).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Hashable, Mapping
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import fuzz, process

from . import parsing
from .columns import CUSTOMER_ID, CUSTOMER_NAME
from .errors import ParameterError, SchemaError

__all__ = [
    "LEGAL_FORMS",
    "LEGAL_FORMS_EN",
    "LINK_STATUSES",
    "MIN_FUZZY_LENGTH",
    "REGIONS",
    "REGIONS_EN",
    "REVIEW_THRESHOLD",
    "THRESHOLD",
    "CustomerGroups",
    "customer_groups",
    "link_customers",
    "link_report",
    "match_names",
    "name_core",
]

#: Default similarity (0–100, :func:`rapidfuzz.fuzz.ratio` of the cores) at or above which two
#: names with the same trade name merge. 90 needs ten characters with one differing, or nine
#: shared characters and one extra: a typo in a long name, never a different word in a short one.
THRESHOLD = 90.0
#: Default similarity at or above which a pair that does not merge is listed for review. 80 is one
#: character differing in a five-character core, or ``星辰科技`` / ``星辰科技发展``.
REVIEW_THRESHOLD = 80.0
#: Cores shorter than this never merge by similarity (``星辰`` / ``星辰网`` scores 80).
MIN_FUZZY_LENGTH = 4
#: Default lead, in points, the best customer must have over the next one for a fuzzy link.
LINK_MARGIN = 5.0

#: Chinese legal forms stripped from the end of a name, repeatedly (longest first). ``控股``,
#: ``实业`` and ``厂`` are kept: a holding, a trading arm or a factory is another company than the
#: operating one (``星辰机械厂`` / ``星辰机械有限公司`` lands in review, not merged).
LEGAL_FORMS = (
    "集团股份有限公司",
    "集团有限责任公司",
    "股份有限责任公司",
    "集团有限公司",
    "有限责任公司",
    "股份有限公司",
    "有限公司",
    "集团公司",
    "股份公司",
    "有限合伙",
    "总公司",
    "公司",
    "集团",
    "股份",
)
#: Latin legal forms stripped as whole trailing words, repeatedly (``Co., Ltd.``, ``Inc.``).
LEGAL_FORMS_EN = (
    "co",
    "company",
    "ltd",
    "limited",
    "inc",
    "incorporated",
    "corp",
    "corporation",
    "llc",
    "llp",
    "plc",
    "gmbh",
    "ag",
    "sa",
    "pte",
    "pty",
    "bv",
    "nv",
    "group",
)
#: Branch suffixes. ``<parent 有限公司><region>分公司`` joins its parent when regions are stripped;
#: any other branch keeps its label (``星辰科技有限公司销售分公司`` → ``星辰科技销售``).
BRANCH_FORMS = ("分公司", "办事处", "代表处")
#: Latin words replaced before comparing, so ``Technology`` and ``Tech`` agree.
ABBREVIATIONS_EN = {
    "technology": "tech",
    "technologies": "tech",
    "technological": "tech",
    "intl": "international",
    "mfg": "manufacturing",
}
#: Provinces and autonomous regions. After a leading province one city may follow (``广东深圳``).
PROVINCES = (
    "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江", "安徽", "福建", "江西", "山东",
    "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州", "云南", "陕西", "甘肃", "青海",
    "台湾", "内蒙古", "广西", "西藏", "宁夏", "新疆",
)  # fmt: skip
#: Municipalities and special administrative regions.
MUNICIPALITIES = ("北京", "天津", "上海", "重庆", "香港", "澳门")
#: Provincial capitals, sub-provincial and other large cities.
CITIES = (
    "石家庄", "太原", "沈阳", "长春", "哈尔滨", "南京", "杭州", "合肥", "福州", "南昌", "济南",
    "郑州", "武汉", "长沙", "广州", "海口", "成都", "贵阳", "昆明", "西安", "兰州", "西宁",
    "呼和浩特", "南宁", "拉萨", "银川", "乌鲁木齐", "大连", "青岛", "宁波", "厦门", "深圳",
    "苏州", "无锡", "常州", "南通", "徐州", "扬州", "温州", "嘉兴", "绍兴", "金华", "台州",
    "东莞", "佛山", "珠海", "中山", "惠州", "泉州", "烟台", "潍坊", "淄博", "临沂", "唐山",
    "保定", "洛阳", "襄阳", "宜昌", "芜湖", "绵阳", "柳州", "桂林", "三亚", "包头", "鞍山",
    "大庆", "昆山",
)  # fmt: skip
#: Every region name stripped (with or without a suffix of :data:`REGION_SUFFIXES`).
REGIONS = MUNICIPALITIES + PROVINCES + CITIES
#: Suffixes a region may carry: ``广东省``, ``深圳市``, ``广西壮族自治区``.
REGION_SUFFIXES = ("特别行政区", "壮族自治区", "回族自治区", "维吾尔自治区", "自治区", "省", "市")
#: Region names in Latin script, stripped as a leading word or a bracketed one.
REGIONS_EN = (
    "beijing", "tianjin", "shanghai", "chongqing", "hong kong", "hongkong", "macau", "macao",
    "shenzhen", "guangzhou", "hangzhou", "nanjing", "suzhou", "chengdu", "wuhan", "xian",
    "qingdao", "dalian", "xiamen", "ningbo", "dongguan", "foshan", "zhuhai", "changsha",
    "zhengzhou", "jinan", "hefei", "fuzhou", "kunming", "shenyang", "harbin",
    "guangdong", "zhejiang", "jiangsu", "shandong", "fujian", "sichuan", "hubei", "hunan",
    "henan", "hebei", "anhui", "liaoning", "jilin", "jiangxi", "shaanxi", "shanxi", "yunnan",
    "guizhou", "hainan", "gansu", "guangxi",
)  # fmt: skip
_PROVINCES_EN = (
    "guangdong", "zhejiang", "jiangsu", "shandong", "fujian", "sichuan", "hubei", "hunan",
    "henan", "hebei", "anhui", "liaoning", "jilin", "jiangxi", "shaanxi", "shanxi", "yunnan",
    "guizhou", "hainan", "gansu", "guangxi",
)  # fmt: skip
#: Bracketed words stripped with the regions (``微软(中国)有限公司`` → ``微软``).
COUNTRY_WORDS = ("中国", "china", "prc")
#: Titles that make a name a personal customer (``张先生``, ``王总``); such names are kept whole.
PERSONAL_TITLES = ("先生", "女士", "小姐", "太太", "老师", "总", "经理", "老板", "师傅")
#: Whole names that are personal customers.
PERSONAL_WORDS = ("个人", "个体户", "散客")
#: Characters read as numbers: two cores whose numbers differ are never the same company.
NUMERALS = "0123456789〇一二三四五六七八九十百千"
#: Statuses of :func:`link_customers`, in the order :func:`link_report` lists them.
LINK_STATUSES = ("id", "alias", "name", "core", "fuzzy", "review", "orphan", "no_customer")
#: Decisions of :func:`match_names` and :func:`customer_groups`, in the order they are listed.
DECISIONS = ("same_core", "fuzzy", "review")
#: Columns of the pair tables.
PAIR_COLUMNS = (
    "left_id",
    "right_id",
    "left_name",
    "right_name",
    "left_core",
    "right_core",
    "score",
    "decision",
    "reason",
)

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_SUFFIX = "(?:" + "|".join(REGION_SUFFIXES) + ")?"
_ALT = "|".join(sorted(REGIONS, key=len, reverse=True))
_TRAIL_REGION_RE = re.compile(f"({_ALT}){_SUFFIX}$")
_REGION_ONLY_RE = re.compile(
    f"^(?:(?:{_ALT}){_SUFFIX}){{1,2}}$|^[{_CJK}]{{2,10}}(?:新区|区|县|(?<![超门菜夜集])市|省)$"
)
_PERSONAL_RE = re.compile(
    f"^[{_CJK}*＊]{{1,2}}(?:{'|'.join(PERSONAL_TITLES)})$|^(?:{'|'.join(PERSONAL_WORDS)})$"
)
_LEGAL_CN = tuple(sorted(LEGAL_FORMS, key=len, reverse=True))
_REGIONS_EN = tuple(sorted(REGIONS_EN, key=len, reverse=True))
_FLAT_REGIONS_EN = frozenset(r.replace(" ", "") for r in REGIONS_EN)
_MIN_REMAINDER = 4
_LINKED = ("id", "alias", "name", "core", "fuzzy")
# Reasons that say two names are not the same company (they are not even candidates).
_NOT_THE_SAME = ("personal customer", "numbers differ", "regions differ")


class CustomerGroups(NamedTuple):
    """Result of :func:`customer_groups`.

    Attributes
    ----------
    group : Series
        One label per input row (same index): the customer id the row's company goes by.
    core : Series
        The row's name core (:func:`name_core`).
    pairs : DataFrame
        Every pair that merged (``same_core``, ``fuzzy``) or needs a person (``review``), with the
        columns of :func:`match_names`.
    """

    group: pd.Series
    core: pd.Series
    pairs: pd.DataFrame

    @property
    def review(self) -> pd.DataFrame:
        """The pairs a person should look at; none of them was merged."""
        return self.pairs[self.pairs["decision"] == "review"].reset_index(drop=True)


# --- cores -------------------------------------------------------------------------------------


def name_core(names: pd.Series, *, strip_regions: bool = True) -> pd.Series:
    """Return the matching core of company names.

    The core is the name in NFKC and lower case, with legal forms (:data:`LEGAL_FORMS`,
    :data:`LEGAL_FORMS_EN`) stripped from the end, bracketed regions, country words and legal forms
    stripped anywhere (``（北京）``, ``(深圳)``, ``(中国)``, ``(集团)``; other bracketed text is
    kept), one leading region (:data:`REGIONS`, :data:`REGIONS_EN`, with or without ``省``/``市``;
    a province may be followed by a city) stripped when at least four characters remain, a branch
    named by a region joined to its parent, and punctuation and spaces removed. Personal customers
    (``张先生``) keep their key, and a name that would be stripped to nothing keeps its full key
    (:func:`analysis_kit.parsing.company_key`).

    Parameters
    ----------
    names : Series
        Customer names as typed. Not modified.
    strip_regions : bool, default=True
        Strip regions, so regional subsidiaries (``北京星辰科技``, ``上海星辰科技``) share a core.
        With False, only legal forms, country words and punctuation are stripped.

    Returns
    -------
    Series
        ``str`` dtype on the index of ``names``, missing where the name is blank.

    Examples
    --------
    >>> names = pd.Series(["（北京）星辰科技有限公司", "星辰科技(深圳)有限公司", "Xingchen Tech Co., Ltd.",
    ...                    "青岛啤酒股份有限公司", "张先生", "有限公司"])
    >>> name_core(names).tolist()
    ['星辰科技', '星辰科技', 'xingchentech', '青岛啤酒', '张先生', '有限公司']
    >>> name_core(pd.Series(["北京星辰科技有限公司"]), strip_regions=False).tolist()
    ['北京星辰科技']
    """
    return _row_core(_as_series(names, "names"), strip_regions)[0]


def _as_series(values: object, name: str) -> pd.Series:
    if isinstance(values, pd.Series):
        return values
    if isinstance(values, pd.DataFrame) or isinstance(values, str) or np.ndim(values) != 1:
        raise ParameterError(f"{name} must be a Series of names; got {type(values).__name__}")
    return pd.Series(values)


# Patterns run by Arrow's RE2 engine over whole columns. RE2 reads ``\w``, ``\s`` and ``\b`` as
# ASCII, so Python's ``[\W_]`` is spelled out code point by code point (:func:`_gap`), and the
# lookarounds RE2 lacks become rules applied until nothing matches (:func:`_until_stable`).
# Digits and CJK ideographs are word characters that NFKC and lower-casing leave alone: a name
# made of them only needs none of the clean-up steps, which run on the other names.
_PLAIN = "^[0-9\u3400-\u4dbf\u4e00-\u9fff]+$"
_BRACKET_CHARS = "()[]【】〔〕{}"
_OPEN, _CLOSE = r"[(\[【〔{]", r"[)\]】〕}]"
_INSIDE = "[^" + re.escape(_BRACKET_CHARS) + "]*"
_EN_ALT = "|".join(_REGIONS_EN)
_CN_PROVINCES = "|".join(sorted(PROVINCES, key=len, reverse=True))
_EN_PROVINCES = "|".join(sorted(_PROVINCES_EN, key=len, reverse=True))
# One leading region, or a province and then one more region (REGIONS: none is a prefix of
# another, so which alternative matches says whether it is a province).
_ONE_REGION = f"(?:{_ALT}){_SUFFIX} *|(?:{_EN_ALT}) +"
_LEAD_ONE = f"^(?:{_ONE_REGION})"
_LEAD_TWO = (
    f"^(?:(?:(?:{_CN_PROVINCES}){_SUFFIX} *|(?:{_EN_PROVINCES}) +)(?:{_ONE_REGION})?|{_ONE_REGION})"
)
# Legal forms at the end, stripped repeatedly (the longest Chinese form first, or a whole Latin
# last word): as no form ends with the beginning of a longer one, that is the longest run of them.
_LEGAL_END = f"(?: *(?:{'|'.join(_LEGAL_CN)})|(?:^| )(?:{'|'.join(LEGAL_FORMS_EN)}))+$"
_PERSONAL_PATTERN = _PERSONAL_RE.pattern
_PERSONAL_LENGTH = 2 + max(map(len, PERSONAL_TITLES + PERSONAL_WORDS))
_CJK_SPACE_RULES = (("([^a-z0-9 ]) ([^a-z0-9 ])", r"\1\2"),)
_ABBREVIATION_RULES = tuple(
    (
        f"(^| )(?:{'|'.join(k for k, v in ABBREVIATIONS_EN.items() if v == word)})( |$)",
        rf"\1{word}\2",
    )
    for word in dict.fromkeys(ABBREVIATIONS_EN.values())
)
_ABBREVIATED = f"(?:^| )(?:{'|'.join(ABBREVIATIONS_EN)})(?: |$)"
_FIND_REGIONS = (f"(?s)({_ALT})|.", r"\1|")
_EN_REGION_WORD = f"(?:^| )(?:{'|'.join(sorted(_FLAT_REGIONS_EN))})(?: |$)"


@functools.cache
def _gap_spans() -> tuple[tuple[int, int], ...]:
    r"""Return the code point ranges of Python's ``[\W_]`` (text never holds surrogates)."""
    spans = []
    for lo, hi in ((0, 0xD800), (0xE000, 0x110000)):
        chars = np.arange(lo, hi, dtype="<u4").tobytes().decode("utf-32-le")
        spans += [(lo + m.start(), lo + m.end() - 1) for m in re.finditer(r"[\W_]+", chars)]
    return tuple(spans)


@functools.cache
def _gap(keep: str = "") -> str:
    r"""Return Python's ``[\W_]`` less the characters ``keep``, as a class RE2 reads alike."""
    spans = list(_gap_spans())
    for code in sorted(map(ord, keep)):
        spans = [
            part
            for lo, hi in spans
            for part in (((lo, code - 1), (code + 1, hi)) if lo <= code <= hi else ((lo, hi),))
            if part[0] <= part[1]
        ]
    return "[" + "".join(f"\\x{{{lo:X}}}-\\x{{{hi:X}}}" for lo, hi in spans) + "]"


def _np(values: pa.Array) -> np.ndarray:
    """Return a writable NumPy copy of an Arrow array (strings as objects)."""
    return values.to_numpy(zero_copy_only=False, writable=True)


def _where(values: pa.Array, mask: np.ndarray, step) -> pa.Array:
    """``values`` with ``step`` applied to the entries where ``mask`` is set."""
    if not mask.any():
        return values
    if mask.all():
        return step(values)
    chosen = pa.array(mask)
    return pc.replace_with_mask(values, chosen, step(values.filter(chosen)).cast(values.type))


def _until_stable(text: pa.Array, rules: tuple[tuple[str, str], ...]) -> pa.Array:
    """Apply the (pattern, replacement) rules in turn, again and again, until none matches."""
    changed = True
    while changed:
        changed = False
        for pattern, replacement in rules:
            if pc.any(pc.match_substring_regex(text, pattern)).as_py():
                text = pc.replace_substring_regex(text, pattern, replacement)
                changed = True
    return text


def _without_spaces(text: pa.Array) -> pa.Array:
    return pc.replace_substring(text, " ", "")


def _strip_brackets(text: pa.Array, strip_regions: bool) -> pa.Array:
    """Replace each bracket pair by its content between spaces, or by a space if stripped.

    A pair is an opening bracket and the text up to the next bracket, if that one closes it. Its
    content is stripped when it is a legal form (or, with ``strip_regions``, a region or country
    word) once its spaces are removed. Other non-word characters are single spaces by now, so
    each distinct content is decided once; the pairs are first marked (with control characters
    that are spaces by now too), then the stripped contents replaced, then the others.
    """
    pair = f"{_OPEN}({_INSIDE}){_CLOSE}"
    if not pc.any(pc.match_substring_regex(text, pair)).as_py():
        return text
    text = pc.replace_substring_regex(text, pair, "\x02\\1\x03")
    listed = pc.list_flatten(pc.list_slice(pc.split_pattern(text, "\x02"), 1))
    contents = pc.unique(pc.replace_substring_regex(listed, "(?s)\x03.*", "")).to_pylist()
    stripped = [re.escape(c) for c in contents if _strippable(c.replace(" ", ""), strip_regions)]
    for at in range(0, len(stripped), 500):
        text = pc.replace_substring_regex(
            text, f"\x02(?:{'|'.join(stripped[at : at + 500])})\x03", "  "
        )
    return pc.replace_substring_regex(text, "\x02([^\x02\x03]*)\x03", r" \1 ")


def _strippable(flat: str, strip_regions: bool) -> bool:
    """Whether a bracketed text (without spaces or symbols) is stripped from a name."""
    if flat in LEGAL_FORMS or flat in LEGAL_FORMS_EN:
        return True
    return strip_regions and (
        flat in COUNTRY_WORDS or bool(_REGION_ONLY_RE.match(flat)) or flat in _FLAT_REGIONS_EN
    )


def _tidy(base: pa.Array, strip_regions: bool) -> pa.Array:
    """Symbols, brackets, punctuation and spaces of names that hold more than plain characters."""
    text = base
    for old, new in (("&", " and "), ("'", ""), ("’", "")):
        text = pc.replace_substring(text, old, new)
    text = pc.replace_substring_regex(text, _gap(_BRACKET_CHARS) + "+", " ")
    text = _strip_brackets(text, strip_regions)
    text = pc.utf8_trim(pc.replace_substring_regex(text, _gap() + "+", " "), " ")
    text = _until_stable(text, _CJK_SPACE_RULES)
    if pc.any(pc.match_substring_regex(text, _ABBREVIATED)).as_py():
        text = _until_stable(text, _ABBREVIATION_RULES)
    return text


def _lengths(text: pa.Array, spaced: np.ndarray) -> np.ndarray:
    """Characters in each text but spaces (only entries marked ``spaced`` may hold a space)."""
    lengths = _np(pc.utf8_length(text))
    if spaced.any():
        lengths[spaced] = _np(pc.utf8_length(_without_spaces(text.filter(pa.array(spaced)))))
    return lengths


def _lead_free(text: pa.Array, spaced: np.ndarray) -> pa.Array:
    """``text`` without one leading region (a province and a city) if four characters remain."""
    twice = pc.replace_substring_regex(text, _LEAD_TWO, "")
    short = _lengths(twice, spaced) < _MIN_REMAINDER
    if not short.any():
        return twice
    rest = text.filter(pa.array(short))
    once = pc.replace_substring_regex(rest, _LEAD_ONE, "")
    kept = pc.if_else(pa.array(_lengths(once, spaced[short]) >= _MIN_REMAINDER), once, rest)
    return pc.replace_with_mask(twice, pa.array(short), kept)


class _Texts(NamedTuple):
    """Distinct names (NFKC, lower case) on their way to cores: one entry per name."""

    base: pa.Array
    text: pa.Array  # the name stripped of what is not its core (spaces kept)
    core: pa.Array
    spaced: np.ndarray  # whether text may hold a space
    personal: np.ndarray
    empty: np.ndarray  # stripped to nothing: the core is the key


def _texts(base: pa.Array, plain: np.ndarray, strip_regions: bool) -> _Texts:
    """Cores of NFKC, lower-case names, over the whole column (see :func:`name_core`)."""
    spaced = ~plain
    personal = np.zeros(len(base), dtype=bool)
    short = np.flatnonzero(_lengths(base, spaced) <= _PERSONAL_LENGTH)
    if len(short):
        key = _without_spaces(base.take(pa.array(short)))
        personal[short] = _np(pc.match_substring_regex(key, _PERSONAL_PATTERN))
    text = _where(base, spaced, lambda t: _tidy(t, strip_regions))
    branch = np.zeros(len(base), dtype=bool)
    for form in BRANCH_FORMS:
        branch |= _np(pc.ends_with(text, form))
    if branch.any():
        chosen = pa.array(branch)
        joined = [_strip_branch(t, strip_regions) for t in text.filter(chosen).to_pylist()]
        text = pc.replace_with_mask(text, chosen, pa.array(joined, type=text.type))
    text = pc.replace_substring_regex(text, _LEGAL_END, "")
    if strip_regions:
        text = _lead_free(text, spaced)
    # the core: the text without spaces, or the name's key if stripped to nothing or personal
    empty = _lengths(text, spaced) == 0
    whole = empty | personal
    redo = spaced | whole
    if redo.any():
        at = pa.array(redo)
        kept = pc.if_else(pa.array(whole[redo]), base.filter(at), text.filter(at))
        core = pc.replace_with_mask(text, at, _without_spaces(kept))
    else:
        core = text
    if spaced.any():
        spaced[spaced] = _np(pc.match_substring(text.filter(pa.array(spaced)), " "))
    return _Texts(base, text, core, spaced, personal, empty)


def _facts(texts: _Texts, strip_regions: bool) -> dict[str, np.ndarray]:
    """Trade name, rest, numbers and regions of a few names (whose cores are computed)."""
    text, core, empty, personal = texts.text, texts.core, texts.empty, texts.personal
    lead_free = text if strip_regions else _lead_free(text, texts.spaced)
    # the trade name: the first Latin word, else the first two characters, after any region
    latin = pc.struct_field(pc.extract_regex(lead_free, "^(?P<head>[a-z0-9]+)"), "head")
    is_latin = pc.is_valid(latin)
    free = _without_spaces(lead_free)
    head = pc.if_else(is_latin, latin, pc.utf8_slice_codeunits(free, 0, 2))
    after_latin = _without_spaces(pc.replace_substring_regex(lead_free, "^[a-z0-9]+", ""))
    rest = pc.if_else(is_latin, after_latin, pc.utf8_slice_codeunits(free, 2))
    facts = {"head": _np(head), "rest": _np(rest)}
    cores = _np(core)
    if not strip_regions:  # the trade name is found after the region the core still holds
        for i in np.flatnonzero(_np(pc.not_equal(lead_free, text))):
            c, h = cores[i], facts["head"][i]
            at = c.find(h)
            facts["rest"][i] = c[at + len(h) :] if at >= 0 else c[len(h) :]
    whole = empty | personal  # the core is the key
    facts["head"][whole] = [k[:2] for k in cores[whole]]
    facts["rest"][whole] = [k[2:] for k in cores[whole]]
    facts["numerals"] = np.full(len(core), "", dtype=object)
    counted = _np(pc.match_substring_regex(core, f"[{NUMERALS}]"))
    if counted.any():
        numbers = pc.replace_substring_regex(core.filter(pa.array(counted)), f"[^{NUMERALS}]", "")
        facts["numerals"][counted] = _np(numbers)
    facts["regions"] = _region_keys(pc.if_else(pa.array(empty), texts.base, text))
    facts["numerals"][personal] = ""
    facts["regions"][personal] = ""
    return facts


def _region_keys(text: pa.Array) -> np.ndarray:
    """Return the region names in each text, sorted and joined by ``|`` (``""`` when none).

    Chinese ones as ``re.findall`` finds them in the text without spaces, Latin ones as words.
    """
    found = []
    flat = _without_spaces(text)
    rows = np.flatnonzero(_np(pc.match_substring_regex(flat, _ALT)))
    if len(rows):  # each region is a word, each other character an empty one
        words = pc.split_pattern(pc.replace_substring_regex(flat.take(rows), *_FIND_REGIONS), "|")
        found.append(_known_words(rows, words, REGIONS))
    rows = np.flatnonzero(_np(pc.match_substring_regex(text, _EN_REGION_WORD)))
    if len(rows):
        found.append(_known_words(rows, pc.split_pattern(text.take(rows), " "), _FLAT_REGIONS_EN))
    out = np.full(len(text), "", dtype=object)
    if found:
        frame = pd.concat(found).drop_duplicates().sort_values(["row", "region"])
        joined = frame.groupby("row", sort=False)["region"].agg("|".join)
        out[joined.index.to_numpy()] = joined.to_numpy()
    return out


def _known_words(rows: np.ndarray, lists: pa.Array, known) -> pd.DataFrame:
    """Return the words of ``lists`` (one list per row of ``rows``) that are in ``known``."""
    words = pd.DataFrame(
        {"row": rows[_np(pc.list_parent_indices(lists))], "region": _np(pc.list_flatten(lists))}
    )
    return words[words["region"].isin(list(known))]


def _strip_branch(text: str, strip_regions: bool) -> str:
    kind = next((b for b in BRANCH_FORMS if text.endswith(b)), None)
    if kind is None or len(text) == len(kind):
        return text
    before = text[: -len(kind)].rstrip()
    # the legal form ending last (and the longest of those: 有限公司, not 公司) splits parent and label
    cut = max(
        ((before.rfind(f), f) for f in _LEGAL_CN),
        key=lambda t: (t[0] + len(t[1]) if t[0] >= 0 else -1, len(t[1])),
    )
    if cut[0] > 0:
        parent, label = before[: cut[0]], before[cut[0] + len(cut[1]) :]
    else:
        parent, label = "", before
    if strip_regions:
        if parent and (not label or _REGION_ONLY_RE.match(label.replace(" ", ""))):
            return parent
        if not parent:
            return _TRAIL_REGION_RE.sub("", label).rstrip() or label
    return parent + label


class _Cores(NamedTuple):
    """What the matcher knows about each distinct core; position ``i`` is the ``i``-th core in order."""

    core: np.ndarray  # str objects, sorted
    head: np.ndarray  # the trade name
    rest: np.ndarray  # the core after the trade name
    numerals: np.ndarray  # the characters of NUMERALS in the core
    regions: np.ndarray  # region names left in the name, sorted and joined by "|"; "" when none
    personal: np.ndarray  # bool: a personal customer
    length: np.ndarray  # characters in the core


class _Rows(NamedTuple):
    """A column of names, factorised: what the rows need from the distinct names."""

    codes: np.ndarray  # per row: position of its value in ``values`` (-1 where missing)
    values: pd.Series  # the distinct values, in the column's dtype
    shown: pa.Array  # per distinct value: the name as typed (normalize_text), missing if blank
    core: np.ndarray  # per distinct value: its core's position in ``cores`` (-1 where blank)
    cores: _Cores


def _factorize(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Codes (-1 where missing) and the distinct values, as a Series of the input's dtype."""
    codes, _ = pd.factorize(values, use_na_sentinel=True)
    seen = np.maximum.accumulate(np.r_[-1, codes[:-1]]) if len(codes) else codes
    first = np.flatnonzero(codes > seen)  # codes count up in order of appearance
    return codes, values.iloc[first].reset_index(drop=True)


def _arrow(values: pd.Series) -> pa.Array:
    array = pa.array(values, from_pandas=True, type=pa.large_string())
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _order(values: pa.Array) -> np.ndarray:
    """Positions that sort ``values`` (distinct strings) as Python sorts them: by code point."""
    return _np(pc.sort_indices(values))


def _order_by(keys: list[np.ndarray], bounds: list[int]) -> np.ndarray:
    """Positions that sort by ``keys`` (the first most significant), ties in position order.

    Each key holds integers in ``[0, bound)``. NumPy sorts plain integers far faster than it
    computes an argsort, so the keys are packed with the position into one integer and sorted,
    a few keys at a time from the least significant (a stable radix sort by key groups).
    """
    n = len(keys[0]) if keys else 0
    order = np.arange(n)
    if n < 2:
        return order
    room = (2**63 - 1) // n
    stop = len(keys)
    while stop > 0:
        start, size = stop - 1, max(bounds[stop - 1], 1)
        while start > 0 and size * max(bounds[start - 1], 1) <= room:
            start -= 1
            size *= max(bounds[start], 1)
        if size > room:
            return np.lexsort(keys[::-1])
        packed = np.zeros(n, dtype=np.int64)
        for key, bound in zip(keys[start:stop], bounds[start:stop], strict=True):
            packed = packed * bound + (key if stop == len(keys) else key[order])
        order = order[np.sort(packed * n + np.arange(n)) % n]
        stop = start
    return order


def _descending(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Integer ranks of ``values`` from the largest (0), and the number of distinct values."""
    code, distinct = pd.factorize(values)
    rank = np.empty(len(distinct), dtype=np.int64)
    rank[np.argsort(-distinct, kind="stable")] = np.arange(len(distinct))
    return rank[code], len(distinct)


def _rows(names: pd.Series, strip_regions: bool) -> _Rows:
    """Factorise ``names`` and find the core of each distinct name, and each core's facts.

    A core's facts come from its smallest name (by ``str``), so they do not depend on the order
    of the rows; a core whose names are all plain (no space in what remains, not personal) has
    the same facts whichever name gives them.
    """
    codes, values = _factorize(names)
    if isinstance(values.dtype, pd.StringDtype):
        # a plain name is already as typed (normalize_text), and NFKC, lower case
        shown = base = _arrow(values)
        plain = _np(pc.match_substring_regex(base, _PLAIN))
        if not plain.all():
            other, typed = pa.array(~plain), values[~plain]
            shown = pc.replace_with_mask(shown, other, _arrow(parsing.normalize_text(typed)))
            lower = parsing.normalize_text(typed, nfkc=True).str.lower()
            base = pc.replace_with_mask(base, other, _arrow(lower))
        sort_key = values
    else:
        shown = _arrow(parsing.normalize_text(values))
        as_object = pd.Series(values, dtype="object")
        base = _arrow(parsing.normalize_text(as_object, nfkc=True).str.lower())
        plain = np.zeros(len(values), dtype=bool)
        sort_key = pd.Series([str(v) for v in as_object], dtype="str")
    valid = _np(base.is_valid())
    texts = _texts(base.filter(pa.array(valid)), plain[valid], strip_regions)

    # cores, in order
    encoded = pc.dictionary_encode(texts.core)
    distinct = encoded.dictionary
    rank = np.empty(len(distinct), dtype=np.int64)
    rank[_order(distinct)] = np.arange(len(distinct))
    core_code = rank[_np(encoded.indices)]
    n_cores = len(distinct)
    # each core's name: any name for plain cores, else its smallest name
    uneven = texts.spaced | texts.personal | texts.empty
    uneven = np.bincount(core_code, weights=uneven, minlength=n_cores) > 0
    chosen = np.empty(n_cores, dtype=np.int64)
    chosen[core_code] = np.arange(len(core_code))
    if uneven.any():
        among = np.flatnonzero(uneven[core_code])
        keys = pd.DataFrame(
            {"core": core_code[among], "key": sort_key[valid].iloc[among].to_numpy(), "at": among}
        )
        smallest = keys.sort_values(["core", "key"], kind="stable").drop_duplicates("core")
        chosen[smallest["core"].to_numpy()] = smallest["at"].to_numpy()
    picked = pa.array(chosen)
    few = _Texts(
        *(t.take(picked) for t in (texts.base, texts.text, texts.core)),
        *(t[chosen] for t in (texts.spaced, texts.personal, texts.empty)),
    )
    facts = _facts(few, strip_regions)
    core_strings = _np(few.core)
    cores = _Cores(
        core=core_strings,
        head=facts["head"],
        rest=facts["rest"],
        numerals=facts["numerals"],
        regions=facts["regions"],
        personal=few.personal,
        length=_np(pc.utf8_length(few.core)).astype(np.int64),
    )
    core = np.full(len(values), -1, dtype=np.int64)
    core[valid] = core_code
    return _Rows(codes, values, shown, core, cores)


def _text(values: pa.Array | np.ndarray, codes: np.ndarray, index: pd.Index, name: Hashable):
    """``values[codes]`` as a ``str`` Series (missing where a code is -1)."""
    if not isinstance(values, pa.Array):
        values = pa.array(values, type=pa.large_string())
    taken = values.take(pa.array(codes, mask=codes < 0))
    return pd.Series(pd.array(taken, dtype="str"), index=index, name=name)


def _row_core(names: pd.Series, strip_regions: bool) -> tuple[pd.Series, np.ndarray, _Cores]:
    """Each row's core (a Series, and positions in the cores), and the facts of the cores."""
    rows = _rows(names, strip_regions)
    code = np.append(rows.core, -1)[rows.codes]
    return _text(rows.cores.core, code, names.index, names.name), code, rows.cores


# --- scoring -----------------------------------------------------------------------------------


def _check_thresholds(threshold: float, review_threshold: float) -> None:
    for name, value in (("threshold", threshold), ("review_threshold", review_threshold)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 100:
            raise ParameterError(f"{name} must be a number in (0, 100]; got {value!r}")
    if review_threshold > threshold:
        raise ParameterError(
            f"review_threshold must not exceed threshold; got review_threshold={review_threshold!r}"
            f" and threshold={threshold!r}"
        )


# Decisions are coded by their position in DECISIONS (-1: not a pair), reasons in _REASONS.
_NONE, _SAME, _FUZZY, _REVIEW = -1, 0, 1, 2
_REASONS = (
    "equal cores",
    "personal customer",
    "numbers differ",
    "regions differ",
    "below review threshold",
    "trade names differ",
    "below threshold",
    "short name",
    "similar cores",
    "would chain",
    "different ids",
    "ambiguous",
)
# the decision of each reason _decide gives, in the order it tries them
_RULES = np.array([_SAME, _NONE, _NONE, _NONE, _NONE, _REVIEW, _REVIEW, _REVIEW, _FUZZY])
_EQUAL, _CHAIN, _IDS, _AMBIGUOUS = (
    _REASONS.index(r) for r in ("equal cores", "would chain", "different ids", "ambiguous")
)
_NOT_THE_SAME_CODES = [_REASONS.index(r) for r in _NOT_THE_SAME]


def _same(left: np.ndarray, right: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether ``left[a] == right[b]``, elementwise, through shared integer codes."""
    if left is right:
        codes, _ = pd.factorize(left)
        return codes[a] == codes[b]
    codes, _ = pd.factorize(np.concatenate([left, right]))
    return codes[: len(left)][a] == codes[len(left) :][b]


def _decide(
    left: _Cores,
    right: _Cores,
    a: np.ndarray,
    b: np.ndarray,
    score: np.ndarray,
    threshold: float,
    review_threshold: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Decision and reason codes for the cores ``left[a]`` and ``right[b]`` scoring ``score``."""
    conditions = [
        _same(left.core, right.core, a, b),
        left.personal[a] | right.personal[b],
        ~_same(left.numerals, right.numerals, a, b),
        (left.regions[a] != "")
        & (right.regions[b] != "")
        & ~_same(left.regions, right.regions, a, b),
        score < review_threshold,
        ~_same(left.head, right.head, a, b),
        score < threshold,
        np.minimum(left.length[a], right.length[b]) < MIN_FUZZY_LENGTH,
    ]
    reason = np.select(conditions, np.arange(len(conditions)), len(conditions))
    return _RULES[reason], reason


def _blocks(cores: _Cores, members: np.ndarray) -> tuple[np.ndarray, ...]:
    """Every (block, member) of ``members``: arrays kind, key, character and member.

    A block is a trade name (kind 0), or the rest after the trade name with the trade name's
    first (kind 1) or last (kind 2) character.
    """
    members = members[~cores.personal[members]]
    more = members[(cores.rest[members] != "") & (cores.length[members] >= MIN_FUZZY_LENGTH)]
    heads = cores.head[more].tolist()
    kind = np.repeat([0, 1, 2], [len(members), len(more), len(more)])
    key = np.concatenate([cores.head[members], cores.rest[more], cores.rest[more]])
    char = np.array(
        [""] * len(members) + [h[:1] for h in heads] + [h[-1:] for h in heads], dtype=object
    )
    return kind, key, char, np.concatenate([members, more, more])


def _block_ids(kind: np.ndarray, key: np.ndarray, char: np.ndarray) -> np.ndarray:
    """Return a number for each distinct block (kind, key, char)."""
    key_code, keys = pd.factorize(key)
    char_code, chars = pd.factorize(char)
    return pd.factorize((kind * max(len(keys), 1) + key_code) * max(len(chars), 1) + char_code)[0]


_CHUNK = 2_000_000  # cells of one score matrix computed at a time
_SMALL = 6  # blocks up to this size are scored pair by pair: cheaper than a matrix call


def _scores(left: list[str], right: list[str], cutoff: float) -> np.ndarray:
    rows = max(1, _CHUNK // max(1, len(right)))
    parts = [
        process.cdist(
            left[i : i + rows],
            right,
            scorer=fuzz.ratio,
            score_cutoff=cutoff,
            dtype=np.float64,
            workers=1,
        )
        for i in range(0, len(left), rows)
    ]
    return np.vstack(parts)


def _unique_pairs(parts: list[tuple[np.ndarray, ...]], n: int) -> tuple[np.ndarray, ...]:
    """Concatenate (a, b, score) parts, keeping each (a, b) once."""
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    a, b, score = (np.concatenate(p) for p in zip(*parts, strict=True))
    first = ~pd.Series(a * max(n, 1) + b).duplicated().to_numpy()
    return a[first], b[first], score[first]


def _pairs_within(cores: _Cores, cutoff: float):
    """Scores ≥ cutoff between distinct cores sharing a block, and the number of comparisons.

    Returns ``(a, b, score, comparisons)`` with core positions ``a < b``, each pair once.
    """
    kind, key, char, member = _blocks(cores, np.arange(len(cores.core)))
    block = _block_ids(kind, key, char)
    sizes = np.bincount(block) if len(block) else np.zeros(0, dtype=np.int64)
    comparisons = int((sizes * (sizes - 1) // 2).sum())
    keep = sizes[block] >= 2
    block, member, kind = block[keep], member[keep], kind[keep]
    order = np.lexsort((member, block))
    block, member, kind = block[order], member[order], kind[order]
    starts = np.flatnonzero(np.r_[True, np.diff(block) != 0]) if len(block) else block
    ends = np.r_[starts[1:], len(block)]
    names = cores.core[member].tolist()
    # small blocks: every pair of positions (i < j), scored one by one
    small = ends - starts <= _SMALL
    i, j = _pairs_in(starts[small], ends[small])
    score = np.array(
        [
            fuzz.ratio(names[x], names[y], score_cutoff=cutoff)
            for x, y in zip(i.tolist(), j.tolist(), strict=True)
        ],
        dtype=np.float64,
    )
    found = score > 0
    rows, cols, scores = [i[found]], [j[found]], [score[found]]
    # larger blocks: a score matrix each; those of one size are then read together
    big = ~small
    for size in np.unique(ends[big] - starts[big]).tolist():
        at = starts[big][ends[big] - starts[big] == size]
        matrices = np.stack(
            [_scores(names[lo : lo + size], names[lo : lo + size], cutoff) for lo in at.tolist()]
        )
        k, r, c = np.nonzero(np.triu(matrices, k=1))  # members ascend within a block: a < b
        rows.append(at[k] + r)
        cols.append(at[k] + c)
        scores.append(matrices[k, r, c])
    i, j, score = (np.concatenate(x) for x in (rows, cols, scores))
    a, b = member[i], member[j]
    # a pair in two blocks is kept in the first: the same trade name (kind 0), the same first
    # character (kind 1), the same last one (kind 2)
    head = pd.factorize(cores.head)[0]
    first = pd.factorize(np.array([h[:1] for h in cores.head.tolist()], dtype=object))[0]
    again = ((kind[i] >= 1) & (head[a] == head[b])) | ((kind[i] == 2) & (first[a] == first[b]))
    return a[~again], b[~again], score[~again], comparisons


def _pairs_in(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of positions ``i < j`` within each range ``starts[k]:ends[k]``."""
    sizes = ends - starts
    i_parts, j_parts = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
    for size in np.unique(sizes[sizes >= 2]).tolist():
        at = starts[sizes == size]
        iu, ju = np.triu_indices(size, 1)
        i_parts.append((at[:, None] + iu).ravel())
        j_parts.append((at[:, None] + ju).ravel())
    return np.concatenate(i_parts), np.concatenate(j_parts)


def _pairs_between(left: _Cores, lefts: np.ndarray, right: _Cores, rights: np.ndarray, cutoff):
    """Scores ≥ cutoff between ``left[lefts]`` and ``right[rights]`` sharing a block.

    Returns ``(a, b, score, comparisons)`` with positions in ``left`` and ``right``.
    """
    *keys_l, member_l = _blocks(left, lefts)
    *keys_r, member_r = _blocks(right, rights)
    block = _block_ids(*(np.concatenate(k) for k in zip(keys_l, keys_r, strict=True)))
    kind_l = keys_l[0]
    pairs = pd.DataFrame({"block": block[: len(kind_l)], "a": member_l}).merge(
        pd.DataFrame({"block": block[len(kind_l) :], "b": member_r}), on="block"
    )
    parts = []
    for _, found in pairs.groupby("block", sort=False):
        a, b = np.unique(found["a"].to_numpy()), np.unique(found["b"].to_numpy())
        matrix = _scores(left.core[a].tolist(), right.core[b].tolist(), cutoff)
        rows, cols = np.nonzero(matrix)
        parts.append((a[rows], b[cols], matrix[rows, cols]))
    return (*_unique_pairs(parts, len(right.core)), len(pairs))


# --- pairs and groups --------------------------------------------------------------------------


class _Prepared(NamedTuple):
    """A customer list ready for matching. Customers (units) and cores are positions."""

    index: pd.Index
    core: pd.Series  # per input row: its core
    row_unit: np.ndarray  # per input row: its unit (-1 where it has neither id nor name)
    cores: _Cores
    units: pa.Array  # the units' ids, sorted
    explicit: np.ndarray  # per unit: whether it is an explicit id
    # one entry per (core, unit): by core, explicit ids first, then by unit
    per_core: np.ndarray
    per_unit: np.ndarray
    start: np.ndarray  # per core: its first entry (and the number of entries at the end)
    # the entries again, in order of id (then core), as the pair table reads them
    at: np.ndarray  # per entry: its position in that order
    id_units: pa.Array
    id_names: pa.Array  # the smallest name of the unit with the core, as typed
    id_cores: pa.Array


def _derived_ids(names: pd.Series) -> pd.Series:
    """Return the ids cleaning derives from names (a late import: cleaning may import us)."""
    from .cleaning import stable_customer_id

    return stable_customer_id(names)


def _prepare(
    names: pd.Series,
    ids: pd.Series | None,
    strip_regions: bool,
    derived_ids: pd.Series | None = None,
) -> _Prepared:
    names = _as_series(names, "names")
    ids, derived_ids = (
        None if given is None else _as_series(given, label)
        for label, given in (("ids", ids), ("derived_ids", derived_ids))
    )
    for label, given in (("ids", ids), ("derived_ids", derived_ids)):
        if given is not None and not given.index.equals(names.index):
            raise ParameterError(f"{label} must have the same index as names")
    rows = _rows(names, strip_regions)
    row_core = np.append(rows.core, -1)[rows.codes]
    named = np.append(_np(rows.shown.is_valid()), False)[rows.codes]

    # units: the explicit id, else the id derived from the name
    id_strings = pd.Series([], dtype="str")
    row_id = np.full(len(names), -1, dtype=np.int64)
    if ids is not None:
        id_codes, distinct_ids = _factorize(ids)
        normal = parsing.normalize_text(distinct_ids, nfkc=True)
        if _unchanged(distinct_ids, normal):  # distinct already: no need to count them again
            normal_code, id_strings = np.arange(len(normal)), normal
        else:
            normal_code, id_strings = pd.factorize(normal)
        row_id = np.append(normal_code, -1)[id_codes]
    is_id = row_id >= 0
    need = np.flatnonzero(~is_id & named)
    derived = _derived_ids(names.iloc[need]) if derived_ids is None else derived_ids.iloc[need]
    derived_code, derived = pd.factorize(derived)
    id_strings, derived = _arrow(pd.Series(id_strings)), _arrow(pd.Series(derived))
    units = pa.concat_arrays([id_strings, derived])
    if pc.any(pc.is_in(id_strings, value_set=derived)).as_py():  # an id spelled like a derived one
        unit_code, units = pd.factorize(pd.Series(pd.array(units, dtype="str")))
        units = _arrow(pd.Series(units))
    else:
        unit_code = np.arange(len(units))
    unit_order = _order(units)
    rank = np.empty(len(units), dtype=np.int64)
    rank[unit_order] = np.arange(len(units))
    unit_rank = rank[unit_code]
    row_unit = np.full(len(names), -1, dtype=np.int64)
    row_unit[is_id] = unit_rank[row_id[is_id]]
    has = derived_code >= 0
    row_unit[need[has]] = unit_rank[len(id_strings) + derived_code[has]]
    explicit = np.zeros(len(units), dtype=bool)
    explicit[row_unit[is_id]] = True

    # one entry per (core, unit): whether a row has an explicit id, and the smallest name
    both = (row_unit >= 0) & (row_core >= 0)
    n_units = max(len(units), 1)
    key = row_core[both] * n_units + row_unit[both]
    by_key = _order_by([key], [(len(rows.cores.core) + 1) * n_units])
    sorted_key = key[by_key]
    new = np.r_[True, sorted_key[1:] != sorted_key[:-1]] if len(key) else np.zeros(0, dtype=bool)
    pair = sorted_key[new]
    entry = np.empty(len(key), dtype=np.int64)
    entry[by_key] = np.cumsum(new) - 1
    per_core, per_unit = pair // n_units, pair % n_units
    per_explicit = np.bincount(entry, weights=is_id[both], minlength=len(pair)) > 0
    name = _smallest_names(entry, rows.codes[both], rows.shown, len(pair))
    n_cores = len(rows.cores.core)
    order = _order_by([per_core, ~per_explicit, per_unit], [n_cores, 2, n_units])
    per_core, per_unit, name = per_core[order], per_unit[order], name[order]
    by_id = _order_by([per_unit, per_core], [n_units, max(n_cores, 1)])
    at = np.empty_like(by_id)
    at[by_id] = np.arange(len(by_id))
    units = units.take(pa.array(unit_order))
    cores = pa.array(rows.cores.core, type=pa.large_string())
    return _Prepared(
        index=names.index,
        core=_text(cores, row_core, names.index, "core"),
        row_unit=row_unit,
        cores=rows.cores,
        units=units,
        explicit=explicit,
        per_core=per_core,
        per_unit=per_unit,
        start=np.searchsorted(per_core, np.arange(n_cores + 1)),
        at=at,
        id_units=units.take(pa.array(per_unit[by_id])),
        id_names=rows.shown.take(pa.array(name[by_id])),
        id_cores=cores.take(pa.array(per_core[by_id])),
    )


def _unchanged(values: pd.Series, normal: pd.Series) -> bool:
    """Whether text ``values`` are all present and equal to ``normal``."""
    return (
        isinstance(values.dtype, pd.StringDtype)
        and bool(normal.notna().all())
        and pc.all(pc.equal(_arrow(values), _arrow(normal))).as_py() is not False
    )


def _smallest_names(entry: np.ndarray, value: np.ndarray, shown: pa.Array, n: int) -> np.ndarray:
    """Per entry, the value (position in ``shown``) whose name is smallest among its rows."""
    low = np.full(n, len(shown), dtype=np.int64)
    high = np.full(n, -1, dtype=np.int64)
    np.minimum.at(low, entry, value)
    np.maximum.at(high, entry, value)
    several = low != high
    if several.any():  # several names: compare them
        rows = several[entry]
        names = pd.DataFrame({"entry": entry[rows], "value": value[rows]}).drop_duplicates()
        names["name"] = _np(shown.take(pa.array(names["value"].to_numpy())))
        smallest = names.sort_values(["entry", "name"], kind="stable").drop_duplicates("entry")
        low[smallest["entry"].to_numpy()] = smallest["value"].to_numpy()
    return low


def _records(ea, eb, score, decision, reason) -> tuple[np.ndarray, ...]:
    """Pair records between entries ``ea`` and ``eb``, scalars spread to their length."""
    n = len(ea)
    return tuple(np.broadcast_to(np.asarray(x), (n,)) for x in (ea, eb, score, decision, reason))


def _pair_order(decision, score, a, b, cores, n_units: int, n_cores: int) -> np.ndarray:
    """Order by decision, score (descending), ids, then ``cores`` (needed when a unit has several)."""
    rank, n_scores = _descending(score)
    keys, bounds = [decision, rank, a, b], [len(DECISIONS), n_scores, n_units, n_units]
    if cores is not None:
        keys, bounds = [*keys, *cores], [*bounds, n_cores, n_cores]
    return _order_by(keys, bounds)


def _pair_frame(prep: _Prepared, records: list[tuple[np.ndarray, ...]]) -> pd.DataFrame:
    """Pair records (entry_a, entry_b, score, decision, reason) as a sorted pair table."""
    ea, eb, score, decision, reason = (
        np.concatenate([np.zeros(0, dtype=np.int64), *(r[i] for r in records)]) for i in range(5)
    )
    score, decision, reason = (
        score.astype(np.float64),
        decision.astype(np.int8),
        reason.astype(np.int8),
    )
    # The table can hold millions of pairs: temporaries are dropped as soon as they are used.
    swap = prep.per_unit[eb] < prep.per_unit[ea]  # the smaller id on the left
    ea, eb = np.where(swap, eb, ea), np.where(swap, ea, eb)
    del swap
    a, b = prep.per_unit[ea], prep.per_unit[eb]
    two_cores = (np.bincount(prep.per_unit, minlength=1) > 1).any()  # a unit with two cores
    cores = (prep.per_core[ea], prep.per_core[eb]) if two_cores else None
    order = _pair_order(decision, score, a, b, cores, len(prep.units), len(prep.cores.core))
    del a, b, cores
    left, right = prep.at[ea[order]], prep.at[eb[order]]
    del ea, eb
    score, decision, reason = score[order], decision[order], reason[order]
    del order
    columns = {}
    for name, values in (("id", prep.id_units), ("name", prep.id_names), ("core", prep.id_cores)):
        columns[f"left_{name}"], columns[f"right_{name}"] = _categories(values, left, right)
    return pd.DataFrame(
        {
            **columns,
            "score": score,
            "decision": _labels(decision, DECISIONS),
            "reason": _labels(reason, _REASONS),
        }
    )


def _labels(codes: np.ndarray, labels: tuple[str, ...]) -> pd.Categorical:
    """Return codes as a categorical of the labels that occur (counts list no empty label)."""
    labels = pd.Categorical.from_codes(codes, categories=pd.Index(labels, dtype="str"))
    return labels.remove_unused_categories()


def _categories(
    values: pa.Array, left: np.ndarray, right: np.ndarray
) -> tuple[pd.Categorical, ...]:
    """Return the texts at ``left`` and ``right`` as categoricals sharing one set of categories.

    A pair table repeats a few names many times (a customer with many similar names is in many
    pairs), so each distinct text is stored once; the shared, sorted categories let the two sides
    be compared with ``==`` and sorted as text.
    """
    codes, uniques = pd.factorize(pd.array(values, dtype="str"), sort=True)
    codes = codes.astype(np.int32)  # the width pandas stores them in: no copy per side
    categories = pd.Index(uniques, dtype="str")
    return tuple(
        pd.Categorical.from_codes(codes[at], categories=categories) for at in (left, right)
    )


def match_names(
    names: pd.Series,
    *,
    ids: pd.Series | None = None,
    threshold: float = THRESHOLD,
    review_threshold: float = REVIEW_THRESHOLD,
    strip_regions: bool = True,
) -> pd.DataFrame:
    """List pairs of customers whose names are probably the same company.

    Each customer is an explicit id (``ids``) or, without one, the id
    :func:`analysis_kit.cleaning.stable_customer_id` derives from the name, so cosmetic variants
    (spaces, full-width brackets) are one customer before matching starts. Pairs are decided on
    the names' cores (:func:`name_core`); see the module documentation for the rules and blocking.
    This lists evidence only; :func:`customer_groups` decides what merges.

    Parameters
    ----------
    names : Series
        Customer names. Not modified.
    ids : Series, optional
        Explicit customer ids on the index of ``names``; blanks fall back to derived ids.
    threshold : float, default=THRESHOLD
        Similarity (0–100) from which a pair with the same trade name is ``fuzzy``.
    review_threshold : float, default=REVIEW_THRESHOLD
        Similarity from which a pair that is not ``fuzzy`` is listed as ``review``.
    strip_regions : bool, default=True
        Strip regions from names, so regional subsidiaries share a core.

    Returns
    -------
    DataFrame
        One row per pair, ``left_id`` < ``right_id``: ``left_id``, ``right_id`` (customer ids),
        ``left_name``, ``right_name`` (a name of each, as typed), ``left_core``, ``right_core``,
        ``score`` (``rapidfuzz.fuzz.ratio`` of the cores, 100 for equal cores), ``decision``
        (``same_core``, ``fuzzy`` or ``review``) and ``reason`` (``equal cores``, ``similar
        cores``, ``trade names differ``, ``below threshold``, ``short name``). Customers sharing a
        core are listed against the core's first customer (the smallest explicit id, else the
        smallest id), not pairwise; a fuzzy or review pair of cores is listed once, between the
        cores' first customers. Sorted by decision, score (descending) and ids. ``attrs`` holds
        ``comparisons`` (fuzzy scores computed) and ``cores`` (distinct cores). The text columns
        are categoricals: a long list repeats a few names many times, so each distinct text is
        stored once; a ``left_`` and its ``right_`` column share one sorted set of categories, so
        they compare with ``==`` and sort as text.

    Raises
    ------
    ParameterError
        A threshold outside (0, 100], ``review_threshold`` above ``threshold``, or ``ids`` on
        another index.

    Examples
    --------
    >>> names = pd.Series(["星辰科技有限公司", "北京星辰科技有限公司", "华为技术有限公司", "华润集团",
    ...                    "星辰科技发展有限公司"])
    >>> pairs = match_names(names)
    >>> pairs[["left_core", "right_core", "score", "decision"]]
      left_core right_core  score   decision
    0      星辰科技       星辰科技  100.0  same_core
    1    星辰科技发展       星辰科技   80.0     review
    """
    _check_thresholds(threshold, review_threshold)
    prep = _prepare(names, ids, strip_regions)
    entry = np.arange(len(prep.per_core))
    first = prep.start[prep.per_core]
    later = entry != first  # every customer of a core but its first
    records = [_records(first[later], entry[later], 100.0, _SAME, _EQUAL)]
    a, b, score, comparisons = _pairs_within(prep.cores, review_threshold)
    decision, reason = _decide(prep.cores, prep.cores, a, b, score, threshold, review_threshold)
    kept = decision != _NONE
    records.append(
        _records(
            prep.start[a[kept]], prep.start[b[kept]], score[kept], decision[kept], reason[kept]
        )
    )
    out = _pair_frame(prep, records)
    out.attrs.update(comparisons=comparisons, cores=len(prep.cores.core))
    return out


def _equal_cores(prep: _Prepared, merge_ids: bool) -> tuple[np.ndarray, list[tuple]]:
    """Step 1: customers sharing a core join the core's first one, unless two ids would merge.

    Returns each unit's component (a unit naming it) and the pair records. A core none of whose
    customers shares another core with a customer is decided at once; cores tied to others
    through a customer are replayed one by one, in core order, as their decisions interact.
    """
    per_core, per_unit, start = prep.per_core, prep.per_unit, prep.start
    label = np.arange(len(prep.explicit))
    records: list[tuple] = []
    multi = np.diff(start)[per_core] >= 2  # entries of cores with several customers
    shared = np.bincount(per_unit[multi], minlength=len(label)) >= 2
    tied = np.zeros(len(start) - 1, dtype=bool)
    tied[per_core[multi & shared[per_unit]]] = True

    entries = np.flatnonzero(multi & ~tied[per_core])
    core, unit = per_core[entries], per_unit[entries]
    is_id = prep.explicit[unit]
    ids_here = np.bincount(core, weights=is_id, minlength=len(tied))
    apart = np.zeros(len(entries), dtype=bool) if merge_ids else ids_here[core] >= 2
    # every customer joins the core's first one
    joins = ~apart
    later = joins & (entries != start[core])
    records.append(_records(start[core][later], entries[later], 100.0, _SAME, _EQUAL))
    label[unit[joins]] = per_unit[start[core[joins]]]
    # two ids or more: customers without an id join each other, and none of the ids
    firsts = []
    for mask in (apart & ~is_id, apart & is_id):
        these = entries[mask]
        first_core, first_at = np.unique(per_core[these], return_index=True)
        lead = np.full(len(tied), -1)
        lead[first_core] = these[first_at]
        rest = np.ones(len(these), dtype=bool)
        rest[first_at] = False
        firsts.append((lead, these[rest]))
    (derived_lead, derived_rest), (id_lead, id_rest) = firsts
    label[per_unit[derived_rest]] = per_unit[derived_lead[per_core[derived_rest]]]
    records.append(
        _records(derived_lead[per_core[derived_rest]], derived_rest, 100.0, _SAME, _EQUAL)
    )
    records.append(_records(id_lead[per_core[id_rest]], id_rest, 100.0, _REVIEW, _IDS))
    both = np.flatnonzero((id_lead >= 0) & (derived_lead >= 0))
    records.append(_records(id_lead[both], derived_lead[both], 100.0, _REVIEW, _AMBIGUOUS))

    if tied.any():
        records.extend(_replay_equal_cores(prep, np.flatnonzero(tied), label, merge_ids))
    return label, records


def _replay_equal_cores(prep: _Prepared, cores: np.ndarray, label: np.ndarray, merge_ids: bool):
    """Step 1 for cores tied to others through a customer, one core at a time, in core order.

    Sets ``label`` of their units; returns the pair records.
    """
    explicit = prep.explicit
    parent: dict[int, int] = {}
    count: dict[int, int] = {}

    def find(u: int) -> int:
        while parent.get(u, u) != u:
            parent[u] = parent.get(parent[u], parent[u])
            u = parent[u]
        return u

    def ids_in(root: int) -> int:
        return count.get(root, int(explicit[root]))

    def union(a: int, b: int) -> None:
        ra, rb = sorted((find(a), find(b)))
        if ra != rb:
            count[ra] = ids_in(ra) + ids_in(rb)
            parent[rb] = ra

    def allowed(a: int, b: int) -> bool:
        ra, rb = find(a), find(b)
        return merge_ids or ra == rb or ids_in(ra) + ids_in(rb) <= 1

    rows: list[tuple] = []
    touched: set[int] = set()
    for core in cores.tolist():
        entries = range(prep.start[core], prep.start[core + 1])
        unit = dict(zip(entries, prep.per_unit[entries.start : entries.stop].tolist(), strict=True))
        touched.update(unit.values())
        ids_here = [e for e in entries if explicit[unit[e]]]
        if not merge_ids and len(ids_here) >= 2:
            derived = [e for e in entries if not explicit[unit[e]]]
            for e in derived[1:]:
                union(unit[derived[0]], unit[e])
                rows.append((derived[0], e, 100.0, _SAME, _EQUAL))
            for e in ids_here[1:]:
                rows.append((ids_here[0], e, 100.0, _REVIEW, _IDS))
            if derived:
                rows.append((ids_here[0], derived[0], 100.0, _REVIEW, _AMBIGUOUS))
            continue
        first = entries[0]
        for e in entries[1:]:
            if allowed(unit[first], unit[e]):
                union(unit[first], unit[e])
                rows.append((first, e, 100.0, _SAME, _EQUAL))
            else:
                rows.append((first, e, 100.0, _REVIEW, _IDS))
    for u in touched:
        label[u] = find(u)
    return [tuple(np.array(col) for col in zip(*rows, strict=True))] if rows else []


class _Merges:
    """Union-find over the components of step 1, with their explicit ids and cores.

    ``label`` names each unit's component (by a unit); only components that similarity touches
    are tracked, in Python.
    """

    def __init__(self, prep: _Prepared, label: np.ndarray):
        self.prep, self.label = prep, label
        self.entry_label = label[prep.per_unit]
        self.explicit = np.bincount(label, weights=prep.explicit, minlength=len(label))
        # per core, before any union: the component of its first customer, and whether all its
        # customers are in that one
        self.first_label = self.entry_label[prep.start[:-1]]
        self.one = np.ones(len(self.first_label), dtype=bool)
        self.one[prep.per_core[self.entry_label != self.first_label[prep.per_core]]] = False
        self.parent: dict[int, int] = {}
        self.counts: dict[int, int] = {}
        self.core_sets: dict[int, set[int]] = {}
        self._by_label: np.ndarray | None = None

    def find(self, x: int) -> int:
        parent = self.parent
        while parent.get(x, x) != x:
            parent[x] = parent.get(parent[x], parent[x])
            x = parent[x]
        return x

    def roots(self, core: int) -> set[int]:
        """Return the components holding the customers of ``core``."""
        lo, hi = self.prep.start[core], self.prep.start[core + 1]
        return {self.find(x) for x in self.entry_label[lo:hi].tolist()}

    def explicit_ids(self, root: int) -> int:
        return self.counts.get(root, int(self.explicit[root]))

    def cores(self, root: int) -> set[int]:
        """Return the cores of the customers in a component."""
        if root not in self.core_sets:  # not merged here: as step 1 left it
            if self._by_label is None:
                self._by_label = np.argsort(self.entry_label, kind="stable")
            order = self._by_label
            lo, hi = np.searchsorted(self.entry_label, [root, root + 1], sorter=order)
            self.core_sets[root] = set(self.prep.per_core[order[lo:hi]].tolist())
        return self.core_sets[root]

    def union(self, a: int, b: int) -> None:
        ra, rb = sorted((self.find(a), self.find(b)))
        if ra != rb:
            self.core_sets[ra] = self.cores(ra) | self.cores(rb)
            self.counts[ra] = self.explicit_ids(ra) + self.explicit_ids(rb)
            self.parent[rb] = ra

    def merged(self) -> list[int]:
        """Return the components that took part in a union."""
        return sorted({*self.parent, *map(self.find, self.parent)})

    def final(self) -> np.ndarray:
        """Each unit's component after the unions."""
        relabel = np.arange(len(self.label))
        for x in list(self.parent):
            relabel[x] = self.find(x)
        return relabel[self.label]


def _similar_cores(merges: _Merges, pairs, *, threshold, review_threshold, linkage, merge_ids):
    """Step 2, in order: merge ``fuzzy`` pairs where allowed; record what merged or needs review.

    Until the first pair that may merge two components, nothing changes: those pairs are decided
    at once. From there on, one pair at a time.
    """
    start, cores = merges.prep.start, merges.prep.cores
    a, b, score, decision, reason = pairs
    first, one = merges.first_label, merges.one
    together = one[a] & one[b] & (first[a] == first[b])  # one customer already
    fuzzy = (decision == _FUZZY) & ~together
    several = fuzzy & ~(one[a] & one[b])
    ids = merges.explicit[first[a]] + merges.explicit[first[b]]
    apart = fuzzy & ~several & ~(merge_ids | (first[a] == first[b]) | (ids <= 1))
    may_merge = np.flatnonzero(fuzzy & ~several & ~apart)
    stop = may_merge[0] if len(may_merge) else len(a)
    now = np.flatnonzero(~(together & (decision == _REVIEW))[:stop])
    out = [
        (
            start[a[now]], start[b[now]], score[now],
            np.where(several | apart, _REVIEW, decision)[now],
            np.select([several, apart], [_AMBIGUOUS, _IDS], reason)[now],
        )
    ]  # fmt: skip
    rest = []
    for ca, cb, score, decision, reason in zip(*(p[stop:].tolist() for p in pairs), strict=True):
        roots_a, roots_b = merges.roots(ca), merges.roots(cb)
        if roots_a == roots_b and len(roots_a) == 1:
            if decision == _REVIEW:
                continue  # already one customer (through an id): nothing to decide
        elif decision == _FUZZY:
            ra = merges.find(int(merges.entry_label[start[ca]]))
            rb = merges.find(int(merges.entry_label[start[cb]]))
            if len(roots_a) > 1 or len(roots_b) > 1:
                decision, reason = _REVIEW, _AMBIGUOUS
            elif not (
                merge_ids or ra == rb or merges.explicit_ids(ra) + merges.explicit_ids(rb) <= 1
            ):
                decision, reason = _REVIEW, _IDS
            elif linkage == "complete" and not _all_fuzzy(
                cores, merges.cores(ra), merges.cores(rb), (ca, cb, score),
                threshold, review_threshold,
            ):  # fmt: skip
                decision, reason = _REVIEW, _CHAIN
            else:
                merges.union(ra, rb)
        rest.append((start[ca], start[cb], score, decision, reason))
    if rest:
        out.append(tuple(np.array(col) for col in zip(*rest, strict=True)))
    return out


def _all_fuzzy(
    cores: _Cores,
    left: set[int],
    right: set[int],
    pair: tuple[int, int, float],
    threshold: float,
    review_threshold: float,
) -> bool:
    """Whether every core of ``left`` is equal or ``fuzzy`` to every core of ``right``.

    ``pair`` is the fuzzy pair being applied: when it is all there is to compare and its score
    comes out the same again, the answer is known.
    """
    ca, cb, score = pair
    if left == {ca} and right == {cb} and fuzz.ratio(cores.core[ca], cores.core[cb]) == score:
        return True
    a, b = (np.array(x) for x in zip(*((x, y) for x in left for y in right), strict=True))
    scores = np.array([fuzz.ratio(cores.core[x], cores.core[y]) for x, y in zip(a, b, strict=True)])
    decision, _ = _decide(cores, cores, a, b, scores, threshold, review_threshold)
    return bool(np.isin(decision, (_SAME, _FUZZY)).all())


def customer_groups(
    names: pd.Series,
    *,
    ids: pd.Series | None = None,
    threshold: float = THRESHOLD,
    review_threshold: float = REVIEW_THRESHOLD,
    strip_regions: bool = True,
    linkage: str = "complete",
    merge_ids: bool = False,
    derived_ids: pd.Series | None = None,
) -> CustomerGroups:
    """Label the rows of a customer table so that rows of one company share a label.

    Customers (explicit ids, or ids derived from names) merge when they share a core, or when
    :func:`match_names` calls their cores ``fuzzy``. Merging is transitive, which can chain: with
    ``linkage="single"``, A~B and B~C put A and C together even when A and C are not similar. The
    default ``linkage="complete"`` only merges two groups by similarity when *every* core of one is
    ``fuzzy`` or equal to every core of the other; a fuzzy pair refused for that is listed for
    review (reason ``would chain``). Equal cores always merge (equality does not drift). Similar
    pairs are applied best score first, ties in core order, so the result does not depend on the
    order of the rows.

    Parameters
    ----------
    names : Series
        Customer names, one per row. Not modified.
    ids : Series, optional
        Explicit customer ids on the index of ``names``; rows with an id stay with that id.
    threshold, review_threshold : float
        As in :func:`match_names`.
    strip_regions : bool, default=True
        Strip regions, so regional subsidiaries (``北京星辰科技``, ``上海星辰科技``) merge; False
        keeps them apart.
    linkage : {"complete", "single"}, default="complete"
        How similarity merges chain, as above.
    merge_ids : bool, default=False
        Whether two *different* explicit ids may merge. By default they never do (the source
        system says they are two customers): their pair is listed as ``review`` (reason
        ``different ids``), and rows without an id whose core several ids share join none of them
        (reason ``ambiguous``).

    Returns
    -------
    CustomerGroups
        ``group``: the label of each row, on the index of ``names``: the group's explicit id (the
        smallest, with ``merge_ids``), else its smallest derived id; missing where a row has
        neither id nor name. ``core``: each row's core. ``pairs``: what merged and what needs a
        person, with the columns of :func:`match_names` (``decision`` says what was done; reasons
        add ``would chain``, ``different ids`` and ``ambiguous``) and ``attrs["comparisons"]``.
        ``review``: the pairs with ``decision == "review"``; none of them merged.

    Raises
    ------
    ParameterError
        A threshold out of range, an unknown ``linkage``, or ``ids`` on another index.

    Examples
    --------
    >>> names = pd.Series(["星辰科技有限公司", "（北京）星辰科技有限公司", "星辰科技股份有限公司",
    ...                    "华为技术有限公司", "华润集团"])
    >>> result = customer_groups(names)
    >>> result.group.nunique(), result.group.iloc[0] == result.group.iloc[2]
    (3, True)
    """
    _check_thresholds(threshold, review_threshold)
    if linkage not in ("complete", "single"):
        raise ParameterError(f'linkage must be "complete" or "single"; got {linkage!r}')
    prep = _prepare(names, ids, strip_regions, derived_ids)
    label, records = _equal_cores(prep, merge_ids)

    # 2. similar cores, best score first (ties in core order)
    a, b, score, comparisons = _pairs_within(prep.cores, review_threshold)
    decision, reason = _decide(prep.cores, prep.cores, a, b, score, threshold, review_threshold)
    kept = decision != _NONE
    n_cores = len(prep.cores.core)
    rank, n_scores = _descending(score[kept])
    order = _order_by([rank, a[kept], b[kept]], [n_scores, n_cores, n_cores])
    chosen = np.flatnonzero(kept)[order]
    pairs = tuple(x[chosen] for x in (a, b, score, decision, reason))
    a, b, score, decision, reason = pairs
    options = {
        "threshold": threshold,
        "review_threshold": review_threshold,
        "linkage": linkage,
        "merge_ids": merge_ids,
    }
    # Only fuzzy pairs change the components, so they are applied first, on their own. A review
    # pair is listed unless its cores are one customer already: known from step 1, unless a
    # fuzzy pair merged a component of theirs; those are replayed in order with the fuzzy pairs.
    fuzzy = decision == _FUZZY
    merges = _Merges(prep, label)
    done = _similar_cores(merges, tuple(x[fuzzy] for x in pairs), **options)
    touched = np.zeros(len(label), dtype=bool)
    touched[merges.merged()] = True
    core_touched = np.zeros(len(prep.cores.core), dtype=bool)
    core_touched[prep.per_core[touched[merges.entry_label]]] = True
    replay = fuzzy | core_touched[a] | core_touched[b]
    if (replay & ~fuzzy).any():
        merges = _Merges(prep, label)
        done = _similar_cores(merges, tuple(x[replay] for x in pairs), **options)
    records.extend(done)
    first, one = merges.first_label, merges.one
    listed = ~replay & ~(one[a] & one[b] & (first[a] == first[b]))
    records.append(
        _records(
            prep.start[a[listed]], prep.start[b[listed]], score[listed], decision[listed],
            reason[listed],
        )
    )  # fmt: skip

    # labels: a group's smallest explicit id, else its smallest derived id
    final = merges.final()
    n_units = len(label)
    key = np.where(prep.explicit, 0, n_units) + np.arange(n_units)
    best = np.full(n_units, 2 * n_units, dtype=np.int64)
    np.minimum.at(best, final, key)
    group_unit = best % max(n_units, 1)
    row = np.append(group_unit[final], -1)[prep.row_unit]
    group = _text(prep.units, row, prep.index, "group")
    out = _pair_frame(prep, records)
    out.attrs.update(comparisons=comparisons, cores=len(prep.cores.core))
    return CustomerGroups(group=group, core=prep.core, pairs=out)


# --- linking other tables ----------------------------------------------------------------------


def link_customers(
    rows: pd.DataFrame,
    customers: pd.DataFrame,
    *,
    id_col: str = CUSTOMER_ID,
    name_col: str = CUSTOMER_NAME,
    aliases: Mapping[str, str] | None = None,
    threshold: float = THRESHOLD,
    review_threshold: float = REVIEW_THRESHOLD,
    margin: float = LINK_MARGIN,
    strip_regions: bool = True,
) -> pd.DataFrame:
    """Find the customer each row of an orders, follow-ups or stages table belongs to.

    Tried in order, the first that applies wins:

    ``id``
        the row's id is a customer id in ``customers`` (an explicit id beats the name);
    ``alias``
        the row's name is a key of ``aliases`` (compared by ``company_key``, or by core when no
        customer has the row's exact name), and the alias's value, a customer name (by key or
        core) or id, is found;
    ``name``
        the row's name equals one customer's name after :func:`analysis_kit.parsing.company_key`;
    ``core``
        the row's core (:func:`name_core`) equals one customer's core;
    ``fuzzy``
        the best customer core is ``fuzzy`` (see :func:`match_names`) and at least ``margin``
        points ahead of the next customer's;
    ``review``
        a customer scores at least ``review_threshold`` but the above fails, or a name or core
        belongs to several customers: not linked, the candidate is named for a person to check;
    ``orphan``
        the row names a customer (id or name) that none of the above finds;
    ``no_customer``
        the row has neither id nor name.

    Parameters
    ----------
    rows : DataFrame
        A table with ``id_col`` and/or ``name_col``. Not modified.
    customers : DataFrame
        The customer table, with ``id_col`` and ``name_col``; a blank id is derived from the name
        (:func:`analysis_kit.cleaning.stable_customer_id`), as cleaning does. Not modified.
    id_col, name_col : str
        The id and name columns, in both tables.
    aliases : mapping of str to str, optional
        Names the matcher cannot see as equal (other scripts, trade names), e.g.
        ``{"Xingchen Tech Co., Ltd.": "星辰科技有限公司"}``, so that every spelling of the key
        (``XINGCHEN TECH CO LTD``) links to that customer; a value may also be a customer id.
    threshold, review_threshold : float
        As in :func:`match_names`.
    margin : float, default=LINK_MARGIN
        Points the best customer must lead the second by for a ``fuzzy`` link.
    strip_regions : bool, default=True
        As in :func:`name_core`; with True a row naming ``北京星辰科技`` links to ``星辰科技``.

    Returns
    -------
    DataFrame
        A copy of ``rows`` where ``id_col`` holds the linked customer's id (rows not linked keep
        their own value), plus ``customer_id_raw`` (``id_col`` as it was, missing when ``rows`` had
        no id column), ``link_status`` (one of :data:`LINK_STATUSES`), ``link_score`` (100 for
        ``id``, ``alias``, ``name`` and ``core``, the best similarity for ``fuzzy``, ``review`` and
        ``orphan``, missing when nothing was compared) and ``link_candidate`` (the customer id
        linked or, for ``review``, proposed). ``attrs["comparisons"]`` counts fuzzy scores.

    Raises
    ------
    SchemaError
        ``rows`` has neither ``id_col`` nor ``name_col``, or ``customers`` lacks ``id_col`` and
        ``name_col``.
    ParameterError
        A threshold or ``margin`` out of range.

    Examples
    --------
    >>> customers = pd.DataFrame({"customer_id": ["C1", "C2"],
    ...                           "customer_name": ["星辰科技有限公司", "华为技术有限公司"]})
    >>> orders = pd.DataFrame({"customer_id": ["C1", None, None, "C9", None],
    ...                        "customer_name": [None, "星辰科技", "（北京）星辰科技有限公司",
    ...                                          "华润集团", None]})
    >>> linked = link_customers(orders, customers)
    >>> linked[["customer_id", "link_status"]]
      customer_id  link_status
    0          C1           id
    1          C1         core
    2          C1         core
    3          C9       orphan
    4         NaN  no_customer
    """
    _check_thresholds(threshold, review_threshold)
    if isinstance(margin, bool) or not isinstance(margin, int | float) or not 0 <= margin <= 100:
        raise ParameterError(f"margin must be a number in [0, 100]; got {margin!r}")
    if id_col not in rows.columns and name_col not in rows.columns:
        raise SchemaError(
            f"link_customers: rows need {id_col!r} or {name_col!r}; got columns {list(rows.columns)}"
        )
    lacking = [c for c in (id_col, name_col) if c not in customers.columns]
    if lacking:
        raise SchemaError(f"link_customers: customers lack columns {lacking}")

    n = len(rows)
    empty = pd.Series(pd.NA, index=rows.index, dtype="str")
    has_id_col = id_col in rows.columns
    raw_id = rows[id_col] if has_id_col else empty
    row_id = parsing.normalize_text(raw_id, nfkc=True) if has_id_col else empty
    row_name = rows[name_col] if name_col in rows.columns else empty
    key = parsing.company_key(row_name)
    row_core, row_code, row_cores = _row_core(row_name, strip_regions)

    names = customers[name_col]
    cust_key = parsing.company_key(names)
    cust_core, _, cust_cores = _row_core(names, strip_regions)
    cust_id = parsing.normalize_text(customers[id_col], nfkc=True)
    cust_id = cust_id.fillna(_derived_ids(names).where(cust_key.notna()))
    cust = pd.DataFrame({"id": cust_id, "key": cust_key, "core": cust_core}).dropna(subset=["id"])
    ids = set(cust["id"])

    status = np.full(n, "", dtype=object)
    score = np.full(n, np.nan)
    candidate = np.full(n, None, dtype=object)
    has_id = row_id.notna().to_numpy()
    has_name = key.notna().to_numpy()
    hit = has_id & row_id.isin(ids).to_numpy()
    status[hit], score[hit], candidate[hit] = "id", 100.0, row_id[hit].to_numpy()

    def by_lookup(values: pd.Series, owners: dict[str, list[str]], label: str) -> None:
        """Link rows whose value has owners; several owners make the row a review."""
        todo = np.flatnonzero((status == "") & values.notna().to_numpy())
        found = values.iloc[todo].map(owners)
        hit = found.notna().to_numpy()
        if not hit.any():
            return
        pos, found = todo[hit], found[hit]
        status[pos] = np.where(found.map(len).to_numpy() == 1, label, "review")
        score[pos], candidate[pos] = 100.0, found.map(lambda owner: owner[0]).to_numpy()

    def owners_by(column: str) -> dict[str, list[str]]:
        known = cust.dropna(subset=[column])
        return known.groupby(column)["id"].agg(lambda s: sorted(set(s))).to_dict()

    by_key, core_owners = owners_by("key"), owners_by("core")
    by_alias_key: dict[str, list[str]] = {}
    by_alias_core: dict[str, list[str]] = {}
    if aliases:
        pairs = sorted(aliases.items())
        sources = pd.Series([a for a, _ in pairs], dtype="str")
        targets = pd.Series([t for _, t in pairs], dtype="str")
        target_ids = parsing.normalize_text(targets, nfkc=True)
        items = zip(
            parsing.company_key(sources),
            name_core(sources, strip_regions=strip_regions),
            parsing.company_key(targets),
            name_core(targets, strip_regions=strip_regions),
            target_ids,
            strict=True,
        )
        for alias_key, alias_core, target_key, target_core, target_id in items:
            found = (
                by_key.get(target_key)
                or core_owners.get(target_core)
                or ([target_id] if target_id in ids else [])
            )
            if found and pd.notna(alias_key):
                by_alias_key.setdefault(alias_key, found)
                by_alias_core.setdefault(alias_core, found)
    by_lookup(key, by_alias_key, "alias")
    by_lookup(key, by_key, "name")
    by_lookup(row_core, by_alias_core, "alias")
    by_lookup(row_core, core_owners, "core")

    # fuzzy: the distinct unresolved cores against the customers' cores, within blocks
    todo = (status == "") & has_name
    comparisons = 0
    if todo.any() and core_owners:
        lefts = np.unique(row_code[todo])
        rights = np.flatnonzero(np.isin(cust_cores.core, list(core_owners)))
        a, b, found, comparisons = _pairs_between(row_cores, lefts, cust_cores, rights, 0.01)
        best = _best_customers(
            row_cores, cust_cores, (a, b, found), core_owners, threshold, review_threshold, margin
        )
        pos = np.flatnonzero(todo)
        got = row_core.iloc[pos].map(best)
        pos, got = pos[got.notna().to_numpy()], got.dropna()
        status[pos] = got.map(lambda t: t[0]).to_numpy()
        score[pos] = got.map(lambda t: t[1]).to_numpy(dtype="float64")
        candidate[pos] = got.map(lambda t: t[2]).to_numpy()

    status[(status == "") & (has_id | has_name)] = "orphan"
    status[status == ""] = "no_customer"
    linked = pd.Series(np.isin(status, _LINKED), index=rows.index)
    new_id = pd.Series(candidate, index=rows.index, dtype="object").where(linked)
    if has_id_col:
        new_id = new_id.where(linked, rows[id_col])
    out = rows.copy()
    out[id_col] = new_id.astype("str")
    out["customer_id_raw"] = raw_id.to_numpy()
    out["link_status"] = pd.Series(status, index=rows.index, dtype="str")
    out["link_score"] = score
    shown = np.isin(status, ("orphan", "no_customer"))
    out["link_candidate"] = pd.Series(
        np.where(shown, None, candidate), index=rows.index, dtype="object"
    ).astype("str")
    out.attrs["comparisons"] = comparisons
    return out


def _best_customers(
    left: _Cores,
    right: _Cores,
    found: tuple[np.ndarray, np.ndarray, np.ndarray],
    owners: dict[str, list[str]],
    threshold: float,
    review_threshold: float,
    margin: float,
) -> dict[str, tuple[str, float, str | None]]:
    """Status, score and candidate of each left core from its scored customer cores."""
    a, b, score = found
    decision, reason = _decide(left, right, a, b, score, threshold, review_threshold)
    owner_of = pd.Series([tuple(owners[c]) for c in right.core[b]], dtype="object")
    verdicts = pd.DataFrame(
        {"left": a, "right": b, "score": score, "decision": decision, "owner": owner_of}
    ).sort_values(["left", "score", "right"], ascending=[True, False, True], kind="stable")
    rivals = verdicts[~np.isin(reason[verdicts.index], _NOT_THE_SAME_CODES)]
    top = rivals.drop_duplicates("left").set_index("left")
    others = rivals[rivals["owner"].to_numpy() != rivals["left"].map(top["owner"]).to_numpy()]
    second = others.drop_duplicates("left").set_index("left")["score"]
    best: dict[str, tuple[str, float, str | None]] = {}
    for i, s in verdicts.drop_duplicates("left").set_index("left")["score"].items():
        best[left.core[i]] = ("orphan", s, None)  # nothing that could be the same company
    for i, (s1, chosen, owner) in zip(
        top.index, top[["score", "decision", "owner"]].itertuples(index=False), strict=True
    ):
        s2 = second.get(i, 0.0)
        if chosen == _FUZZY and len(owner) == 1 and s1 - s2 >= margin:
            best[left.core[i]] = ("fuzzy", s1, owner[0])
        elif chosen in (_FUZZY, _REVIEW):
            best[left.core[i]] = ("review", s1, owner[0])
        else:
            best[left.core[i]] = ("orphan", s1, None)
    return best


def link_report(
    linked: Mapping[Hashable, pd.DataFrame | pd.Series], *, status_col: str = "link_status"
) -> pd.DataFrame:
    """Count each table's rows by link status.

    Parameters
    ----------
    linked : mapping of table name to DataFrame or Series
        :func:`link_customers` results (or their ``link_status`` Series), by table name.
    status_col : str, default="link_status"
        The status column of DataFrames.

    Returns
    -------
    DataFrame
        One row per table (index ``table``, in the mapping's order): ``rows``, one column per
        status of :data:`LINK_STATUSES` (0 when absent), ``linked`` (``id`` to ``fuzzy``) and
        ``not_in_customers`` (``review`` + ``orphan``: rows naming a customer that is not, or not
        certainly, in the customer table).

    Raises
    ------
    SchemaError
        A DataFrame lacks ``status_col``.
    ParameterError
        A status is not one of :data:`LINK_STATUSES`.

    Examples
    --------
    >>> report = link_report({"orders": pd.Series(["id", "id", "orphan"]),
    ...                       "stages": pd.Series(["name", "review", "no_customer"])})
    >>> report[["rows", "linked", "not_in_customers", "no_customer"]].to_dict("index")
    {'orders': {'rows': 3, 'linked': 2, 'not_in_customers': 1, 'no_customer': 0}, \
'stages': {'rows': 3, 'linked': 1, 'not_in_customers': 1, 'no_customer': 1}}
    """
    counts = {}
    for table, frame in linked.items():
        if isinstance(frame, pd.DataFrame):
            if status_col not in frame.columns:
                raise SchemaError(f"link_report: table {table!r} lacks column {status_col!r}")
            frame = frame[status_col]
        unknown = sorted(set(frame.dropna()) - set(LINK_STATUSES))
        if unknown:
            raise ParameterError(
                f"link_report: table {table!r} has statuses {unknown}; expected {list(LINK_STATUSES)}"
            )
        counts[table] = frame.value_counts().reindex(list(LINK_STATUSES), fill_value=0)
    out = pd.DataFrame.from_dict(counts, orient="index", columns=list(LINK_STATUSES))
    out = out.fillna(0).astype("int64")
    out.insert(0, "rows", out.sum(axis=1))
    out["linked"] = out[list(_LINKED)].sum(axis=1)
    out["not_in_customers"] = out["review"] + out["orphan"]
    out.index.name = "table"
    return out
