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
for real customer lists; the count is recorded in ``attrs["comparisons"]`` of the result.

Personal customers (``张先生``, ``李女士``, ``个人``) keep their full key and are never fuzzy-matched.
Names in different scripts (``Xingchen Tech Co., Ltd.`` / ``星辰科技有限公司``) share no characters
and are linked only by an explicit id or an alias the user supplies (``aliases=`` of
:func:`link_customers`): pinyin is ambiguous (星辰, 星晨 and 行程 are all *xingchen*).
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping
from typing import NamedTuple

import numpy as np
import pandas as pd
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
_BRACKET_RE = re.compile(r"[(\[【〔{]([^()\[\]【】〔〕{}]*)[)\]】〕}]")
_SUFFIX = "(?:" + "|".join(REGION_SUFFIXES) + ")?"
_ALT = "|".join(sorted(REGIONS, key=len, reverse=True))
_LEAD_REGION_RE = re.compile(f"^({_ALT}){_SUFFIX}")
_TRAIL_REGION_RE = re.compile(f"({_ALT}){_SUFFIX}$")
_REGION_ONLY_RE = re.compile(
    f"^(?:(?:{_ALT}){_SUFFIX}){{1,2}}$|^[{_CJK}]{{2,10}}(?:新区|区|县|市|省)$"
)
_FIND_REGION_RE = re.compile(_ALT)
_PERSONAL_RE = re.compile(
    f"^[{_CJK}*＊]{{1,2}}(?:{'|'.join(PERSONAL_TITLES)})$|^(?:{'|'.join(PERSONAL_WORDS)})$"
)
_CJK_SPACE_RE = re.compile("(?<=[^a-z0-9 ]) +(?=[^a-z0-9 ])")
_LEGAL_CN = tuple(sorted(LEGAL_FORMS, key=len, reverse=True))
_LEGAL_EN = frozenset(LEGAL_FORMS_EN)
_REGIONS_EN = tuple(sorted(REGIONS_EN, key=len, reverse=True))
_FLAT_REGIONS_EN = frozenset(r.replace(" ", "") for r in REGIONS_EN)
_MIN_REMAINDER = 4
_LINKED = ("id", "alias", "name", "core", "fuzzy")
# Reasons that say two names are not the same company (they are not even candidates).
_NOT_THE_SAME = ("personal customer", "numbers differ", "regions differ")


class _Info(NamedTuple):
    """What the matcher knows about one distinct core."""

    core: str
    head: str
    rest: str
    numerals: str
    regions: frozenset
    personal: bool


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
    return _row_infos(_as_series(names, "names"), strip_regions)[0]


def _as_series(values: object, name: str) -> pd.Series:
    if isinstance(values, pd.Series):
        return values
    if isinstance(values, pd.DataFrame) or isinstance(values, str) or np.ndim(values) != 1:
        raise ParameterError(f"{name} must be a Series of names; got {type(values).__name__}")
    return pd.Series(values)


def _infos(names: pd.Series, *, strip_regions: bool) -> list[_Info | None]:
    """Return the core information of each value of ``names`` (None where blank)."""
    base = parsing.normalize_text(names, nfkc=True).str.lower()
    return [None if pd.isna(b) else _parts(b, strip_regions) for b in base.tolist()]


def _parts(base: str, strip_regions: bool) -> _Info:
    """Core, trade name, numbers and regions of one NFKC, lower-case, space-collapsed name."""
    key = base.replace(" ", "")
    if _PERSONAL_RE.match(key):
        return _Info(key, key[:2], key[2:], "", frozenset(), True)
    text = base.replace("&", " and ").replace("'", "").replace("’", "")
    text = _BRACKET_RE.sub(lambda m: _bracket(m.group(1), strip_regions), text)
    text = re.sub(r"[\W_]+", " ", text).strip()
    text = _CJK_SPACE_RE.sub("", text)
    text = " ".join(ABBREVIATIONS_EN.get(w, w) for w in text.split(" "))
    text = _strip_branch(text, strip_regions)
    text = _strip_legal(text)
    lead_free = _strip_lead_region(text)
    if strip_regions:
        text = lead_free
    core = text.replace(" ", "")
    if not core:
        return _Info(key, key[:2], key[2:], _numerals(key), _regions(base), False)
    # the trade name: the first Latin word, else the first two characters, after any region
    m = re.match(r"[a-z0-9]+", lead_free)
    head = m.group(0) if m else lead_free.replace(" ", "")[:2]
    at = core.find(head)
    rest = core[at + len(head) :] if at >= 0 else core[len(head) :]
    return _Info(core, head, rest, _numerals(core), _regions(text), False)


def _bracket(content: str, strip_regions: bool) -> str:
    flat = re.sub(r"[\W_]+", "", content)
    if flat in LEGAL_FORMS or flat in _LEGAL_EN:
        return " "
    if strip_regions and (
        flat in COUNTRY_WORDS or _REGION_ONLY_RE.match(flat) or flat in _FLAT_REGIONS_EN
    ):
        return " "
    return f" {content} "


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


def _strip_legal(text: str) -> str:
    changed = True
    while changed and text:
        changed = False
        for form in _LEGAL_CN:  # longest first: 有限公司 alone strips to nothing, not to 有限
            if text.endswith(form):
                text, changed = text[: -len(form)].rstrip(), True
                break
        words = text.split(" ")
        if words[-1] in _LEGAL_EN:
            text, changed = " ".join(words[:-1]), True
    return text


def _strip_lead_region(text: str) -> str:
    """Strip one leading region (a province and a city), if four characters remain."""
    for stripped in (_lead_region(text, levels=2), _lead_region(text, levels=1)):
        if len(stripped.replace(" ", "")) >= _MIN_REMAINDER:
            return stripped
    return text


def _lead_region(text: str, *, levels: int) -> str:
    for _ in range(levels):
        m = _LEAD_REGION_RE.match(text)
        if m:
            province = m.group(1) in PROVINCES
            text = text[m.end() :].lstrip()
        else:
            word = next((r for r in _REGIONS_EN if text.startswith(r + " ")), None)
            if word is None:
                break
            province = word in _PROVINCES_EN
            text = text[len(word) :].lstrip()
        if not province:
            break
    return text


def _numerals(core: str) -> str:
    return "".join(c for c in core if c in NUMERALS)


def _regions(text: str) -> frozenset:
    found = set(_FIND_REGION_RE.findall(text.replace(" ", "")))
    found.update(w for w in text.split(" ") if w in _FLAT_REGIONS_EN)
    return frozenset(found)


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


def _decide(
    a: _Info, b: _Info, score: float, threshold: float, review_threshold: float
) -> tuple[str | None, str]:
    """Decision and reason for two distinct-or-equal cores with their ratio ``score``."""
    if a.core == b.core:
        return "same_core", "equal cores"
    if a.personal or b.personal:
        return None, "personal customer"
    if a.numerals != b.numerals:
        return None, "numbers differ"
    if a.regions and b.regions and a.regions != b.regions:
        return None, "regions differ"
    if score < review_threshold:
        return None, "below review threshold"
    if a.head != b.head:
        return "review", "trade names differ"
    if score < threshold:
        return "review", "below threshold"
    if min(len(a.core), len(b.core)) < MIN_FUZZY_LENGTH:
        return "review", "short name"
    return "fuzzy", "similar cores"


def _block_keys(info: _Info) -> list[tuple]:
    keys = [("head", info.head)]
    if info.rest and len(info.core) >= MIN_FUZZY_LENGTH:
        keys.append(("first", info.rest, info.head[0]))
        keys.append(("last", info.rest, info.head[-1]))
    return keys


def _blocks(infos: list[_Info]) -> dict[tuple, list[int]]:
    blocks: dict[tuple, list[int]] = {}
    for i, info in enumerate(infos):
        if info.personal:
            continue
        for key in _block_keys(info):
            blocks.setdefault(key, []).append(i)
    return blocks


_CHUNK = 2_000_000  # cells of one score matrix computed at a time


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


def _pairs_within(infos: list[_Info], cutoff: float) -> tuple[dict[tuple[int, int], float], int]:
    """Scores ≥ cutoff between distinct cores sharing a block, and the number of comparisons."""
    found: dict[tuple[int, int], float] = {}
    comparisons = 0
    for _, members in sorted(_blocks(infos).items()):
        n = len(members)
        if n < 2:
            continue
        comparisons += n * (n - 1) // 2
        cores = [infos[i].core for i in members]
        matrix = np.triu(_scores(cores, cores, cutoff), k=1)
        for r, c in zip(*np.nonzero(matrix), strict=True):
            a, b = sorted((members[r], members[c]))
            found[(a, b)] = float(matrix[r, c])
    return found, comparisons


def _pairs_between(
    left: list[_Info], right: list[_Info], cutoff: float
) -> tuple[dict[tuple[int, int], float], int]:
    """Scores ≥ cutoff between cores of ``left`` and ``right`` sharing a block."""
    found: dict[tuple[int, int], float] = {}
    comparisons = 0
    right_blocks = _blocks(right)
    for key, members in sorted(_blocks(left).items()):
        others = right_blocks.get(key)
        if not others:
            continue
        comparisons += len(members) * len(others)
        matrix = _scores([left[i].core for i in members], [right[j].core for j in others], cutoff)
        for r, c in zip(*np.nonzero(matrix), strict=True):
            found[(members[r], others[c])] = float(matrix[r, c])
    return found, comparisons


# --- pairs and groups --------------------------------------------------------------------------


class _Prepared(NamedTuple):
    """A customer list ready for matching."""

    units: pd.DataFrame  # per input row: unit, explicit, core
    infos: list[_Info]  # one per distinct core, sorted by core
    per: pd.DataFrame  # one row per (core, unit): core, unit, name, explicit; sorted
    rep: dict[str, str]  # core -> representative unit (smallest explicit id, else smallest id)
    name_of: dict[tuple[str, str], str]  # (unit, core) -> a name of that unit with that core


def _row_infos(names: pd.Series, strip_regions: bool) -> tuple[pd.Series, dict[str, _Info]]:
    """Each row's core, and one info per core (from the core's smallest name: deterministic)."""
    codes, distinct = pd.factorize(names, use_na_sentinel=True)
    infos = _infos(pd.Series(distinct, dtype="object"), strip_regions=strip_regions)
    cores = np.array([i.core if i is not None else None for i in infos] + [None], dtype=object)
    core = pd.Series(cores[np.where(codes < 0, len(infos), codes)], index=names.index)
    info_of: dict[str, _Info] = {}
    for _, info in sorted(
        ((str(v), i) for v, i in zip(distinct, infos, strict=True) if i is not None),
        key=lambda t: t[0],
    ):
        info_of.setdefault(info.core, info)
    return core.astype("str").where(core.notna()).rename(names.name), info_of


def _derived_ids(names: pd.Series) -> pd.Series:
    """Return the ids cleaning derives from names (a late import: cleaning may import us)."""
    from .cleaning import stable_customer_id

    return stable_customer_id(names)


def _prepare(names: pd.Series, ids: pd.Series | None, strip_regions: bool) -> _Prepared:
    names = _as_series(names, "names")
    display = parsing.normalize_text(names)
    derived = _derived_ids(names).where(display.notna())
    if ids is None:
        explicit = pd.Series(pd.NA, index=names.index, dtype="str")
    else:
        ids = _as_series(ids, "ids")
        if not ids.index.equals(names.index):
            raise ParameterError("ids must have the same index as names")
        explicit = parsing.normalize_text(ids, nfkc=True)
    core, info_of = _row_infos(names, strip_regions)
    units = pd.DataFrame(
        {
            "unit": explicit.fillna(derived),
            "explicit": explicit.notna(),
            "name": display,
            "core": core,
        },
        index=names.index,
    )
    per = (
        units.dropna(subset=["unit", "core"])
        .groupby(["core", "unit"], sort=True)
        .agg(name=("name", "min"), explicit=("explicit", "max"))
        .reset_index()
        .sort_values(["core", "explicit", "unit"], ascending=[True, False, True], kind="stable")
        .reset_index(drop=True)
    )
    firsts = per.drop_duplicates("core")
    rep = dict(zip(firsts["core"], firsts["unit"], strict=True))
    name_of = dict(zip(zip(per["unit"], per["core"], strict=True), per["name"], strict=True))
    infos = [info_of[c] for c in sorted(info_of)]
    return _Prepared(units, infos, per, rep, name_of)


def _pair_frame(records: list[tuple], name_of: dict[tuple[str, str], str]) -> pd.DataFrame:
    """Pairs (unit_a, unit_b, core_a, core_b, score, decision, reason) as a sorted pair table."""
    rows = []
    for a, b, ca, cb, score, decision, reason in records:
        if b < a:
            a, b, ca, cb = b, a, cb, ca
        rows.append((a, b, name_of[(a, ca)], name_of[(b, cb)], ca, cb, score, decision, reason))
    frame = pd.DataFrame(rows, columns=list(PAIR_COLUMNS))
    frame["score"] = frame["score"].astype("float64")
    for col in PAIR_COLUMNS:
        if col != "score":
            frame[col] = frame[col].astype("str")
    order = frame["decision"].map({d: i for i, d in enumerate(DECISIONS)})
    frame = frame.assign(_order=order).sort_values(
        ["_order", "score", "left_id", "right_id", "left_core", "right_core"],
        ascending=[True, False, True, True, True, True],
        kind="stable",
    )
    return frame.drop(columns="_order").reset_index(drop=True)


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
        ``comparisons`` (fuzzy scores computed) and ``cores`` (distinct cores).

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
    per = prep.per
    others = per[per["unit"].to_numpy() != per["core"].map(prep.rep).to_numpy()]
    records = [
        (prep.rep[c], u, c, c, 100.0, "same_core", "equal cores")
        for c, u in zip(others["core"], others["unit"], strict=True)
    ]
    found, comparisons = _pairs_within(prep.infos, review_threshold)
    for (a, b), score in sorted(found.items()):
        ia, ib = prep.infos[a], prep.infos[b]
        decision, reason = _decide(ia, ib, score, threshold, review_threshold)
        if decision is not None:
            records.append(
                (prep.rep[ia.core], prep.rep[ib.core], ia.core, ib.core, score, decision, reason)
            )
    out = _pair_frame(records, prep.name_of)
    out.attrs.update(comparisons=comparisons, cores=len(prep.infos))
    return out


class _Components:
    """Union-find over customers that tracks each component's cores and explicit ids."""

    def __init__(self, explicit: dict[str, bool], cores: dict[str, set[str]]):
        self.parent = {u: u for u in explicit}
        self.cores = {u: set(cores.get(u, ())) for u in explicit}
        self.explicit = {u: int(e) for u, e in explicit.items()}

    def find(self, u: str) -> str:
        while self.parent[u] != u:
            self.parent[u] = self.parent[self.parent[u]]
            u = self.parent[u]
        return u

    def union(self, a: str, b: str) -> None:
        ra, rb = sorted((self.find(a), self.find(b)))
        if ra == rb:
            return
        self.parent[rb] = ra
        self.cores[ra] |= self.cores.pop(rb)
        self.explicit[ra] += self.explicit.pop(rb)


def customer_groups(
    names: pd.Series,
    *,
    ids: pd.Series | None = None,
    threshold: float = THRESHOLD,
    review_threshold: float = REVIEW_THRESHOLD,
    strip_regions: bool = True,
    linkage: str = "complete",
    merge_ids: bool = False,
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
    prep = _prepare(names, ids, strip_regions)
    units, per = prep.units, prep.per
    explicit = units.dropna(subset=["unit"]).groupby("unit")["explicit"].max().to_dict()
    owners: dict[str, list[str]] = {}
    unit_cores: dict[str, set[str]] = {}
    for c, u in zip(per["core"], per["unit"], strict=True):
        owners.setdefault(c, []).append(u)  # explicit ids first, then by id
        unit_cores.setdefault(u, set()).add(c)
    comps = _Components(explicit, unit_cores)
    records: list[tuple] = []

    def allowed(a: str, b: str) -> bool:
        ra, rb = comps.find(a), comps.find(b)
        return merge_ids or ra == rb or comps.explicit[ra] + comps.explicit[rb] <= 1

    # 1. equal cores: every customer of a core joins the core's first customer
    for core, members in owners.items():
        if len(members) < 2:
            continue
        ids_here = [u for u in members if explicit[u]]
        if not merge_ids and len(ids_here) >= 2:
            derived = [u for u in members if not explicit[u]]
            for u in derived[1:]:
                comps.union(derived[0], u)
                records.append((derived[0], u, core, core, 100.0, "same_core", "equal cores"))
            for u in ids_here[1:]:
                records.append((ids_here[0], u, core, core, 100.0, "review", "different ids"))
            if derived:
                records.append((ids_here[0], derived[0], core, core, 100.0, "review", "ambiguous"))
            continue
        for u in members[1:]:
            if allowed(members[0], u):
                comps.union(members[0], u)
                records.append((members[0], u, core, core, 100.0, "same_core", "equal cores"))
            else:
                records.append((members[0], u, core, core, 100.0, "review", "different ids"))

    # 2. similar cores, best score first
    found, comparisons = _pairs_within(prep.infos, review_threshold)
    decided = []
    for (a, b), score in found.items():
        ia, ib = prep.infos[a], prep.infos[b]
        decision, reason = _decide(ia, ib, score, threshold, review_threshold)
        if decision is not None:
            decided.append((-score, ia.core, ib.core, decision, reason))
    info_of = {i.core: i for i in prep.infos}
    for neg_score, ca, cb, decision, reason in sorted(decided):
        ua, ub = prep.rep[ca], prep.rep[cb]
        roots_a = {comps.find(u) for u in owners[ca]}
        roots_b = {comps.find(u) for u in owners[cb]}
        if roots_a == roots_b and len(roots_a) == 1:
            if decision == "review":
                continue  # already one customer (through an id): nothing to decide
        elif decision == "fuzzy":
            if len(roots_a) > 1 or len(roots_b) > 1:
                decision, reason = "review", "ambiguous"
            elif not allowed(ua, ub):
                decision, reason = "review", "different ids"
            elif linkage == "complete" and not _all_fuzzy(
                comps.cores[comps.find(ua)], comps.cores[comps.find(ub)], info_of,
                threshold, review_threshold,
            ):  # fmt: skip
                decision, reason = "review", "would chain"
            else:
                comps.union(ua, ub)
        records.append((ua, ub, ca, cb, -neg_score, decision, reason))

    members_of: dict[str, list[str]] = {}
    for unit in explicit:
        members_of.setdefault(comps.find(unit), []).append(unit)
    label = {
        root: min(members, key=lambda u: (not explicit[u], u))
        for root, members in members_of.items()
    }
    label_of = {u: label[comps.find(u)] for u in explicit}
    group = units["unit"].map(label_of).astype("str").where(units["unit"].notna()).rename("group")
    pairs = _pair_frame(records, prep.name_of)
    pairs.attrs.update(comparisons=comparisons, cores=len(prep.infos))
    return CustomerGroups(group=group, core=units["core"].rename("core"), pairs=pairs)


def _all_fuzzy(
    left: set[str],
    right: set[str],
    info_of: dict[str, _Info],
    threshold: float,
    review_threshold: float,
) -> bool:
    """Whether every core of ``left`` is equal or ``fuzzy`` to every core of ``right``."""
    for x in sorted(left):
        for y in sorted(right):
            score = fuzz.ratio(x, y)
            decision, _ = _decide(info_of[x], info_of[y], score, threshold, review_threshold)
            if decision not in ("same_core", "fuzzy"):
                return False
    return True


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
    row_core, row_info = _row_infos(row_name, strip_regions)

    names = customers[name_col]
    cust_key = parsing.company_key(names)
    cust_core, cust_info = _row_infos(names, strip_regions)
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
        left = [row_info[c] for c in sorted(set(row_core[todo]))]
        right = [cust_info[c] for c in sorted(core_owners)]
        found, comparisons = _pairs_between(left, right, 0.01)
        scored: dict[int, list[tuple[float, str]]] = {}
        for (i, j), s in found.items():
            scored.setdefault(i, []).append((-s, right[j].core))
        best: dict[str, tuple[str, float, str | None]] = {}
        for i, info in enumerate(left):
            verdicts = [
                (-neg, c, *_decide(info, cust_info[c], -neg, threshold, review_threshold))
                for neg, c in sorted(scored.get(i, []))
            ]
            rivals = [v for v in verdicts if v[3] not in _NOT_THE_SAME]
            if not rivals:
                if verdicts:
                    best[info.core] = ("orphan", verdicts[0][0], None)
                continue
            s1, c1, decision, _ = rivals[0]
            owner = core_owners[c1]
            s2 = next((v[0] for v in rivals[1:] if core_owners[v[1]] != owner), 0.0)
            if decision == "fuzzy" and len(owner) == 1 and s1 - s2 >= margin:
                best[info.core] = ("fuzzy", s1, owner[0])
            elif decision in ("fuzzy", "review"):
                best[info.core] = ("review", s1, owner[0])
            else:
                best[info.core] = ("orphan", s1, None)
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
