"""Seeded synthetic customer and sales data in the shape of the Chinese sales templates.

:func:`make_tables` returns every table of :data:`analysis_kit.columns.TABLES` (customers,
followups, orders, stages, channel_costs, targets, market) for a made-up book of Chinese B2B
customers, written the way a sales team fills in the templates: ``制造业-机械设备`` industries,
``华东-上海`` regions, company names such as ``上海恒达机械设备有限公司``, one row per contact, stage
text ``②需求确认``, budgets ``30-50万``, scores ``4分``, ISO dates. The tables agree with each other:
orders follow a Pareto curve with Q4 peaks, a Spring-Festival dip, growth and churners; the stage
history reflects funnel attrition; the follow-up log dates the customers' last contact; targets sit
a little above what each rep sold.

``messy=True`` adds the mess real templates carry (dates as ``2024年3月15日`` or Excel serials,
amounts as ``¥1,234.00`` or ``1.28万``, full-width digits, ``+86`` phones, ``2-需求确认`` stages,
stray spaces, duplicate customers, blank rows, an order exported twice) and about 1% of genuinely
bad values a cleaner must quarantine. :func:`make_messy_customers` builds a large messy customers
table quickly for benchmarks, and :func:`to_template` renames canonical columns to the Chinese
template headers.

All randomness goes through ``np.random.default_rng(random_state)``: the same seed gives the same
frames, and the global random state is never touched.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from analysis_kit.columns import STAGES, TABLES

__all__ = ["SAMPLE_FILES", "make_messy_customers", "make_tables", "to_template", "write_sample"]

# ---------------------------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------------------------

# (industry, words used in company names, weight)
_INDUSTRIES: tuple[tuple[str, tuple[str, ...], float], ...] = (
    ("制造业-机械设备", ("机械设备", "机械", "重工"), 0.10),
    ("制造业-汽车零部件", ("汽车零部件", "汽配", "精密部件"), 0.07),
    ("制造业-电子制造", ("电子", "电子科技", "微电子"), 0.08),
    ("制造业-化工材料", ("化工", "新材料", "化学"), 0.05),
    ("信息技术-软件开发", ("软件", "信息技术", "网络科技"), 0.10),
    ("信息技术-系统集成", ("系统集成", "信息系统", "智能科技"), 0.05),
    ("信息技术-互联网服务", ("互联网", "网络", "数字科技"), 0.06),
    ("零售-连锁超市", ("超市", "商业连锁", "百货"), 0.07),
    ("零售-电商", ("电子商务", "电商", "优选"), 0.06),
    ("医疗-医疗器械", ("医疗器械", "医疗设备", "生物医疗"), 0.07),
    ("医疗-医药流通", ("医药", "药业", "医药物流"), 0.05),
    ("金融-银行", ("村镇银行", "农商银行", "商业银行"), 0.04),
    ("金融-保险代理", ("保险代理", "保险经纪", "保险服务"), 0.04),
    ("教育-职业培训", ("职业培训", "职业技能培训", "教育咨询"), 0.06),
    ("教育-在线教育", ("教育科技", "在线教育", "网络教育"), 0.04),
    ("物流-仓储物流", ("物流", "供应链", "仓储"), 0.06),
)
_IND_NAMES = np.array([i[0] for i in _INDUSTRIES])
_IND_WORDS = np.array([i[1] for i in _INDUSTRIES])
_IND_P = np.array([i[2] for i in _INDUSTRIES]) / sum(i[2] for i in _INDUSTRIES)

# (region, city, landline area code, team, weight)
_REGIONS: tuple[tuple[str, str, str, int, float], ...] = (
    ("华东-上海", "上海", "021", 0, 0.14),
    ("华东-杭州", "杭州", "0571", 0, 0.08),
    ("华东-南京", "南京", "025", 0, 0.06),
    ("华东-苏州", "苏州", "0512", 0, 0.07),
    ("华南-深圳", "深圳", "0755", 1, 0.11),
    ("华南-广州", "广州", "020", 1, 0.09),
    ("华南-东莞", "东莞", "0769", 1, 0.04),
    ("华北-北京", "北京", "010", 2, 0.12),
    ("华北-天津", "天津", "022", 2, 0.05),
    ("华北-济南", "济南", "0531", 2, 0.03),
    ("西南-成都", "成都", "028", 3, 0.07),
    ("西南-重庆", "重庆", "023", 3, 0.05),
    ("华中-武汉", "武汉", "027", 3, 0.05),
    ("西北-西安", "西安", "029", 3, 0.04),
)
_REG_NAMES = np.array([r[0] for r in _REGIONS])
_REG_CITY = np.array([r[1] for r in _REGIONS])
_REG_AREA = np.array([r[2] for r in _REGIONS])
_REG_TEAM = np.array([r[3] for r in _REGIONS])
_REG_P = np.array([r[4] for r in _REGIONS]) / sum(r[4] for r in _REGIONS)

_TEAMS = np.array(["华东组", "华南组", "华北组", "中西部组"])
_TEAM_REPS = (("王磊", "陈静", "周杰"), ("李娜", "黄伟"), ("张强", "刘洋"), ("赵敏", "孙浩"))
_TEAM_REP_ARRAY = np.array([list(r) + [r[0]] * (3 - len(r)) for r in _TEAM_REPS])
_TEAM_REP_COUNT = np.array([len(r) for r in _TEAM_REPS])

_BRAND_A = np.array(
    list("恒华鼎泰瑞宏德金新天汇永博中明嘉正腾东云盛长锦润卓宇远信安康万通佳利富海光晨")
)
_BRAND_B = np.array(list("达信盛和丰远隆桥宇成通安创科辉禾元飞方海世城程泽华源兴邦祥鸿翔昌顺"))
_BRAND_C = np.array(list("星诚越鑫峰凯阳晟茂隆"))
_SUFFIX_SMALL = np.array(["有限公司", "有限公司", "有限公司", "股份有限公司"])
_SUFFIX_LARGE = np.array(["集团有限公司", "股份有限公司", "有限公司", "股份有限公司"])

_SURNAMES = np.array(
    list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘")
)
_SURNAME_P = np.linspace(3.0, 0.6, len(_SURNAMES)) / np.linspace(3.0, 0.6, len(_SURNAMES)).sum()
_GIVEN = np.array(
    list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红建文辉力鹏宇浩凯晨欣怡婷雪琳帆博")
)

_TITLES = np.array(
    [
        ("技术总监", "技术选型"),
        ("IT经理", "系统运维"),
        ("信息部主管", "技术选型"),
        ("采购经理", "采购审批"),
        ("财务总监", "预算审批"),
        ("总经理", "最终决策"),
        ("副总经理", "最终决策"),
        ("运营总监", "业务需求"),
        ("销售总监", "业务需求"),
        ("数据分析主管", "业务需求"),
        ("项目经理", "项目实施"),
    ]
)

_NEED_TYPES = np.array(["数据分析系统", "CRM系统", "ERP系统", "营销自动化", "云存储", "OA协同"])
_NEED_P = np.array([0.26, 0.22, 0.18, 0.12, 0.12, 0.10])
_NEED_DESC = np.array(
    [
        ["需要统一的数据分析平台", "希望管理层能实时看经营报表", "搭建销售和财务一体化看板"],
        ["需要管理客户和商机全流程", "希望销售过程可追踪", "统一管理各区域的客户资料"],
        ["需要打通采购、库存和财务", "替换老旧的进销存系统", "多工厂的生产计划协同"],
        ["希望自动化会员营销", "需要线索自动分配和培育", "多渠道营销效果统一评估"],
        ["需要安全可扩展的文件存储", "数据备份和容灾", "替换自建机房的存储设备"],
        ["需要移动审批和流程管理", "统一内部公文和审批流程", "提高跨部门协作效率"],
    ]
)
_PAIN = np.array(
    [
        ["数据分散，报表靠手工", "报表出得慢，口径不一致", "业务数据无法及时汇总"],
        ["客户资料掌握在个人手里", "商机跟进情况不透明", "销售离职带走客户"],
        ["库存数据不准", "财务对账耗时长", "系统之间数据不通"],
        ["获客成本越来越高", "线索转化率低", "营销活动效果说不清"],
        ["存储扩容成本高", "数据安全有隐患", "运维人手不足"],
        ["审批流程慢", "纸质单据难追溯", "异地办公沟通不便"],
    ]
)
_NEED_TAGS = np.array(
    [
        ["降本增效、数据安全", "实时报表、移动端", "数据治理"],
        ["销售管理、移动端", "客户分层", "降本增效"],
        ["业财一体化", "降本增效、系统集成", "库存优化"],
        ["获客、自动化", "会员运营", "渠道分析"],
        ["数据安全、容灾", "弹性扩容", "降本增效"],
        ["移动办公", "流程规范", "降本增效"],
    ]
)
_DECISION = np.array(
    [
        "技术部评估→采购部审批→总经理签字",
        "业务部门提需求→IT评估→总经理审批",
        "采购招标→技术评审→董事会批准",
        "总经理直接决策",
        "信息部评估→财务审批→集团审批",
    ]
)
_EXISTING = np.array(
    ["Excel手工报表", "自建系统", "用友老版本", "无", "纸质流程", "竞品系统", "免费开源软件"]
)
# Budgets by size tier (大型, 中型, 小型, 微型), as the template is filled in.
_BUDGETS = np.array(
    [
        ["50-100万", "50万以上", "100万以上", "80万", "面议"],
        ["20-30万", "30-50万", "30万", "20-50万", "面议"],
        ["10万以内", "10-20万", "20万", "5-10万", "面议"],
        ["5万以内", "10万以内", "3-5万", "5万", "面议"],
    ]
)
_SIZES = np.array(["大型", "中型", "小型", "微型"])
_STAGE_TEXT = np.array([f"{c}{s}" for c, s in zip("①②③④⑤⑥", STAGES, strict=True)])
_STAGE_PLAIN = np.array(STAGES)
_STAGE_WEIGHTS = np.array([0.30, 0.22, 0.16, 0.12, 0.12, 0.08])
_GRADES = np.array(["重点", "潜在", "普通"])
_LEVELS = np.array(["高", "中", "低"])
_RATINGS = np.array(["A", "B", "C"])
_TAGS = np.array(
    ["高价值、决策快", "价格敏感", "技术导向", "老客户", "需求明确", "关系型客户", "预算充足"]
)
_LEAD_SOURCES = np.array(["展会", "线上推广", "转介绍", "电话营销", "官网咨询"])
_LEAD_P = np.array([0.20, 0.25, 0.20, 0.15, 0.20])
_COMPETITORS = np.array(["云图BI", "数智通", "慧策CRM", "橙果ERP", "星河云", "远帆软件"])
_COMPETITOR_NOTES = np.array(
    [
        "我方实施快，价格略高",
        "我方功能全面，品牌知名度不如对方",
        "对方价格低，我方服务好",
        "我方行业案例多，对方定制化强",
    ]
)
_METHODS = np.array(["电话", "面谈", "邮件", "线上会议"])
_METHOD_P = np.array([0.40, 0.25, 0.10, 0.25])
_SUMMARIES = np.array(
    [
        [
            "初次电话沟通，介绍公司和产品",
            "展会上交换名片，了解基本情况",
            "客户官网留言，电话回访了解需求",
        ],
        ["调研业务流程，确认需求范围", "介绍产品功能，客户关注数据安全", "了解现有系统和痛点"],
        ["提交方案并讲解", "演示数据分析平台，客户对报表功能感兴趣", "技术交流，答疑方案细节"],
        ["讨论报价和付款方式", "沟通合同条款", "客户要求再给一些折扣"],
        ["合同签订，安排实施启动", "确认交付计划和验收标准", "签约后对接实施团队"],
        ["回访使用情况，收集改进意见", "上门培训新用户", "沟通续费和扩容需求"],
    ]
)
_FEEDBACK = np.array(
    [
        [
            "满意，认可方案",
            "积极，认可方案，关注实施周期",
            "对演示效果很满意",
            "认可产品价值，希望尽快推进",
        ],
        ["需要内部讨论", "还在比较几家供应商", "等领导决策", "关注实施周期和售后服务"],
        [
            "价格偏高，暂不考虑",
            "预算不足，推迟到明年",
            "对现有系统满意，暂无更换计划",
            "已倾向竞品",
        ],
    ]
)
_NEXT_STEPS = np.array(
    [
        ["一周内电话回访", "发送产品资料", "约时间上门拜访"],
        ["安排技术交流会", "整理需求清单", "约客户高层面谈"],
        ["下周提交详细方案", "发送报价单", "安排产品演示"],
        ["跟进合同审批进度", "申请特价审批", "准备合同文本"],
        ["安排实施启动会", "跟进首笔回款", "确认上线时间"],
        ["一个月后回访", "安排上门培训", "推荐新模块"],
    ]
)
_LOST_REASONS = np.array(
    ["价格高于竞品", "预算取消", "选择了竞品", "需求变更", "决策层否决", "项目延期"]
)

# (product, list price, cost ratio, base quantity)
_PRODUCTS: tuple[tuple[str, float, float, float], ...] = (
    ("数据分析平台-标准版", 120_000, 0.35, 1),
    ("数据分析平台-企业版", 380_000, 0.30, 1),
    ("CRM系统-基础版", 36_000, 0.30, 1),
    ("CRM系统-专业版", 98_000, 0.30, 1),
    ("ERP实施服务(人天)", 2_500, 0.60, 20),
    ("营销自动化套件", 68_000, 0.35, 1),
    ("云存储扩容(TB/年)", 1_200, 0.55, 20),
    ("年度运维服务", 30_000, 0.50, 1),
    ("培训服务(人天)", 3_000, 0.45, 3),
)
_PRODUCT_P = np.array([0.18, 0.06, 0.14, 0.10, 0.10, 0.09, 0.12, 0.14, 0.07])

# Month-of-year seasonality (Spring-Festival dip, Q4 peak) and yearly growth of orders.
_SEASON = np.array([0.75, 0.55, 1.0, 0.95, 1.0, 1.15, 0.9, 0.9, 1.1, 1.05, 1.25, 1.6])
_GROWTH = 0.18

_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
_MESS_RATE = 0.07
_BAD_RATE = 0.01


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def make_tables(
    n_customers: int = 200,
    *,
    as_of: str | pd.Timestamp = "2024-06-30",
    years: int = 3,
    messy: bool = False,
    random_state: int | np.random.Generator | None = 0,
) -> dict[str, pd.DataFrame]:
    """Generate every template table for a synthetic book of customers.

    Parameters
    ----------
    n_customers : int, default=200
        Number of distinct customers.
    as_of : str or Timestamp, default="2024-06-30"
        The day the data is "exported"; no date lies after it.
    years : int, default=3
        Years of order history before ``as_of``.
    messy : bool, default=False
        Inject the template mess of the design (odd date, amount, score and phone formats,
        stray spaces, duplicate customers, blank rows, an order exported twice, ~1% bad values)
        into ``customers``, ``followups`` and ``orders``, at about 5-10% of the affected cells.
    random_state : int, Generator or None, default=0
        Seed or generator passed to :func:`numpy.random.default_rng`.

    Returns
    -------
    dict of str to DataFrame
        One frame per table of :data:`analysis_kit.columns.TABLES`, keyed ``customers``,
        ``followups``, ``orders``, ``stages``, ``channel_costs``, ``targets`` and ``market``, each
        with exactly that table's canonical columns in template order. Values are written as a
        sales team types them (``②需求确认``, ``30-50万``, ``4分``, ISO date strings, plain numbers).
        ``customers`` has one row per contact.

    Examples
    --------
    >>> tables = make_tables(50, random_state=1)
    >>> sorted(tables)
    ['channel_costs', 'customers', 'followups', 'market', 'orders', 'stages', 'targets']
    >>> tables["orders"]["order_id"].is_unique
    True
    """
    n_customers = _check_positive_int(n_customers, "n_customers")
    years = _check_positive_int(years, "years")
    rng = np.random.default_rng(random_state)
    as_of = pd.Timestamp(as_of).normalize()
    start = as_of - pd.DateOffset(years=years) + pd.Timedelta(days=1)

    cols = _profiles(n_customers, rng, as_of)
    prof = pd.DataFrame(cols)
    orders, first_order, churned = _orders(prof, rng, as_of=as_of, start=start)
    stages, acquired = _stage_history(prof, orders, first_order, rng, as_of=as_of, start=start)
    followups, last = _followups(prof, acquired, churned, rng, as_of=as_of)

    # The customer row shows the latest follow-up and a value grade from what they bought.
    for col in ("last_contact_date", "contact_method", "contact_summary", "feedback", "next_step"):
        cols[col] = last[col].to_numpy(dtype=object)
    net = orders.groupby("customer_id")["amount"].sum().reindex(cols["customer_id"]).to_numpy()
    per_year = np.nan_to_num(net) / years
    cols["value_grade"] = np.where(
        per_year >= 500_000, "高", np.where(per_year >= 100_000, "中", cols["value_grade"])
    )
    customers = _frame(_contacts(cols, rng), "customers")

    tables = {
        "customers": customers,
        "followups": followups,
        "orders": orders,
        "stages": stages,
        "channel_costs": _channel_costs(rng, as_of=as_of, start=start),
        "targets": _targets(orders, rng, as_of=as_of, start=start),
        "market": _market(rng),
    }
    if messy:
        tables["customers"] = _mess_customers(tables["customers"], rng)
        tables["followups"] = _mess_followups(tables["followups"], rng)
        tables["orders"] = _mess_orders(tables["orders"], rng)
    return {
        name: tables[name][list(spec.names)].reset_index(drop=True) for name, spec in TABLES.items()
    }


def make_messy_customers(
    n_rows: int,
    *,
    as_of: str | pd.Timestamp = "2024-06-30",
    random_state: int | np.random.Generator | None = 0,
) -> pd.DataFrame:
    """Generate a large messy customers table quickly, for the cleaning benchmark.

    Every step is vectorised with numpy, so a million rows take seconds. The customers are not
    tied to orders or follow-ups (use :func:`make_tables` for consistent tables).

    Parameters
    ----------
    n_rows : int
        Exact number of rows returned.
    as_of : str or Timestamp, default="2024-06-30"
        Latest possible last-contact date.
    random_state : int, Generator or None, default=0
        Seed or generator passed to :func:`numpy.random.default_rng`.

    Returns
    -------
    DataFrame
        The canonical columns of the ``customers`` table, one row per contact, with the mess of
        :func:`make_tables` (``messy=True``): odd date, score, phone, stage and grade formats,
        stray and ideographic spaces, full-width brackets, about 3% duplicate customers typed
        again with a cosmetic name difference and another contact, about 0.5% exact duplicate
        rows, about 0.5% blank rows and about 1% bad values.

    Examples
    --------
    >>> df = make_messy_customers(1_000, random_state=0)
    >>> len(df)
    1000
    """
    n_rows = _check_positive_int(n_rows, "n_rows", minimum=10)
    rng = np.random.default_rng(random_state)
    as_of = pd.Timestamp(as_of).normalize()
    n_blank = max(1, round(0.005 * n_rows))
    n_exact = max(1, round(0.005 * n_rows))
    n_dup = max(1, round(0.03 * n_rows))
    n_main = n_rows - n_blank - n_exact - n_dup

    counts = rng.choice([1, 2, 3], size=n_main, p=[0.45, 0.35, 0.20])
    n_cust = int(np.searchsorted(np.cumsum(counts), n_main)) + 1
    counts = counts[:n_cust]
    counts[-1] -= counts.sum() - n_main

    cols = _profiles(n_cust, rng, as_of)
    stage = cols["_stage"]
    days = rng.integers(0, 400, n_cust).astype("timedelta64[D]")
    cols["last_contact_date"] = _obj(
        np.datetime_as_string(np.datetime64(as_of.date(), "D") - days, unit="D")
    )
    cols["contact_method"] = _pool(_METHODS)[rng.choice(len(_METHODS), n_cust, p=_METHOD_P)]
    cols["contact_summary"] = _pool(_SUMMARIES)[stage, rng.integers(0, 3, n_cust)]
    sentiment = _sentiment(stage, rng, lost=np.zeros(n_cust, dtype=bool))
    cols["feedback"] = _pool(_FEEDBACK)[sentiment, rng.integers(0, 4, n_cust)]
    cols["next_step"] = _pool(_NEXT_STEPS)[stage, rng.integers(0, 3, n_cust)]

    cols = _mess_customer_cells(_contacts(cols, rng, counts=counts), rng)
    extra = [
        _duplicate_customers(cols, rng, n_dup),
        _take(cols, rng.choice(n_main, n_exact, replace=False)),
        _blank_rows(cols, n_blank),
    ]
    extra_cols = {c: np.concatenate([e[c] for e in extra]) for c in cols}
    return _frame(_insert(cols, extra_cols, rng), "customers")


def to_template(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """Rename canonical columns to the Chinese template headers.

    Parameters
    ----------
    df : DataFrame
        A table with canonical column names.
    table : str
        One of :data:`analysis_kit.columns.TABLES`.

    Returns
    -------
    DataFrame
        A copy of ``df`` whose canonical columns carry their template header
        (``Field.headers[0]``, e.g. ``order_date`` → ``成交日期``); unknown columns keep their name.

    Examples
    --------
    >>> to_template(pd.DataFrame({"order_date": ["2024-03-15"], "x": [1]}), "orders").columns
    Index(['成交日期', 'x'], dtype='str')
    """
    if table not in TABLES:
        raise ValueError(f"table must be one of {sorted(TABLES)}; got {table!r}")
    mapping = {f.name: f.headers[0] for f in TABLES[table].fields}
    return df.rename(columns={c: mapping[c] for c in df.columns if c in mapping})


# ---------------------------------------------------------------------------------------------
# Customers
# ---------------------------------------------------------------------------------------------


def _check_positive_int(value: object, name: str, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def _obj(values: object) -> np.ndarray:
    """Return an object array of Python strings (ints and floats are formatted)."""
    arr = np.asarray(values)
    if arr.dtype == object:
        return arr
    if arr.ndim == 0:
        return np.asarray(str(arr.item()), dtype=object)
    if arr.dtype.kind in "iu":
        return pd.Series(arr.ravel()).astype(str).to_numpy(dtype=object).reshape(arr.shape)
    return arr.astype(str).astype(object)


def _cat(*parts: object) -> np.ndarray:
    """Concatenate string arrays and scalars element-wise, as an object array."""
    out = _obj(parts[0])
    for part in parts[1:]:
        out = out + _obj(part)
    return out


def _pool(values: object) -> np.ndarray:
    return np.asarray(values, dtype=object)


def _funnel_stages(n: int, rng: np.random.Generator) -> np.ndarray:
    """Stage index per customer, with exact funnel counts (largest remainder), shuffled."""
    raw = _STAGE_WEIGHTS * n
    counts = np.floor(raw).astype(int)
    rest = n - counts.sum()
    counts[np.argsort(-(raw - counts), kind="stable")[:rest]] += 1
    return rng.permutation(np.repeat(np.arange(len(STAGES)), counts))


def _company_names(
    city: np.ndarray, word: np.ndarray, size_idx: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Draw unique names such as 上海恒达机械设备有限公司 or 恒达机械设备（上海）有限公司."""
    n = len(city)
    suffix = np.where(
        size_idx == 0,
        _pool(_SUFFIX_LARGE)[rng.integers(0, 4, n)],
        _pool(_SUFFIX_SMALL)[rng.integers(0, 4, n)],
    )
    bracketed = rng.random(n) < 0.12

    def build(idx: np.ndarray, three: bool) -> np.ndarray:
        m = len(idx)
        brand = _cat(
            _pool(_BRAND_A)[rng.integers(0, len(_BRAND_A), m)],
            _pool(_BRAND_B)[rng.integers(0, len(_BRAND_B), m)],
        )
        if three:
            brand = _cat(brand, _pool(_BRAND_C)[rng.integers(0, len(_BRAND_C), m)])
        plain = _cat(city[idx], brand, word[idx], suffix[idx])
        paren = _cat(brand, word[idx], "（", city[idx], "）", suffix[idx])
        return np.where(bracketed[idx], paren, plain)

    names = build(np.arange(n), False)
    for round_ in range(100):
        dup = pd.Series(names, dtype=object).duplicated().to_numpy()
        if not dup.any():
            break
        idx = np.flatnonzero(dup)
        names[idx] = build(idx, round_ > 2)
    return names


def _profiles(n: int, rng: np.random.Generator, as_of: pd.Timestamp) -> dict[str, np.ndarray]:
    """One entry per customer for every customer column except the contact ones.

    Helper entries start with ``_``: stage index, size index, team and landline area code.
    """
    ind = rng.choice(len(_INDUSTRIES), n, p=_IND_P)
    reg = rng.choice(len(_REGIONS), n, p=_REG_P)
    employees = np.clip(np.round(rng.lognormal(np.log(80), 1.4, n)), 3, 80_000).astype(np.int64)
    size_idx = np.select([employees >= 500, employees >= 50, employees >= 10], [0, 1, 2], 3)
    word = _pool(_IND_WORDS)[ind, rng.integers(0, 3, n)]
    city = _pool(_REG_CITY)[reg]
    names = _company_names(city, word, size_idx, rng)

    revenue_wan = np.round(employees * rng.lognormal(np.log(60), 0.5, n), -1).astype(np.int64)
    revenue_wan = np.maximum(revenue_wan, 50)
    yi_tenths = np.round(revenue_wan / 1000).astype(np.int64)
    yi = np.where(
        yi_tenths % 10 == 0,
        _cat(yi_tenths // 10, "亿"),
        _cat(yi_tenths // 10, ".", yi_tenths % 10, "亿"),
    )
    revenue = np.where(revenue_wan >= 10_000, yi, _cat(revenue_wan, "万"))
    founded_year = np.clip(as_of.year - np.round(rng.gamma(2.5, 5, n)).astype(int) - 1, 1985, None)
    founded = np.where(rng.random(n) < 0.2, _cat(founded_year, "年"), founded_year)

    stage = _funnel_stages(n, rng)
    team = _REG_TEAM[reg]
    owner = _pool(_TEAM_REP_ARRAY)[
        team, np.floor(rng.random(n) * _TEAM_REP_COUNT[team]).astype(int)
    ]
    need = rng.choice(len(_NEED_TYPES), n, p=_NEED_P)
    pick3 = rng.integers(0, 3, (3, n))

    q = as_of.quarter - 1 + rng.integers(0, 5, n)
    month = as_of.month + rng.integers(1, 10, n)
    timeline_kind = rng.choice(3, n, p=[0.55, 0.2, 0.25])
    timeline = np.where(
        timeline_kind == 0,
        _cat(as_of.year + q // 4, "年Q", q % 4 + 1),
        np.where(
            timeline_kind == 1,
            _cat(as_of.year + (month - 1) // 12, "年", (month - 1) % 12 + 1, "月"),
            "待定",
        ),
    )

    # Grades and scores lean on size and how far the deal has come.
    pull = (3 - size_idx) / 3 + stage / 5 + rng.normal(0, 0.35, n)
    grade = _pool(_GRADES)[np.digitize(-pull, [-1.2, -0.6])]
    priority = _pool(_LEVELS)[np.digitize(-(pull + rng.normal(0, 0.3, n)), [-1.1, -0.5])]
    value = (3 - size_idx) / 3 + rng.normal(0, 0.3, n)
    value_grade = _pool(_LEVELS)[np.digitize(-value, [-0.9, -0.4])]
    match = np.clip(np.round(3 + stage / 3 + rng.normal(0, 0.9, n)), 1, 5).astype(int)
    coop = np.clip(np.round(1.8 + stage * 0.6 + rng.normal(0, 0.8, n)), 1, 5).astype(int)
    potential = _pool(_RATINGS)[np.digitize(-(match + rng.normal(0, 0.7, n)), [-4.2, -3.0])]
    comp = rng.random(n) < 0.25 + 0.06 * stage
    comp_name = _pool(_COMPETITORS)[rng.integers(0, len(_COMPETITORS), n)]
    comp_note = _pool(_COMPETITOR_NOTES)[rng.integers(0, len(_COMPETITOR_NOTES), n)]
    tags = np.where(rng.random(n) < 0.35, np.nan, _pool(_TAGS)[rng.integers(0, len(_TAGS), n)])
    score_text = _pool([f"{k}分" for k in range(6)])

    return {
        "customer_id": _cat("C", np.char.zfill(np.arange(1, n + 1).astype(str), 5)),
        "customer_name": names,
        "industry": _pool(_IND_NAMES)[ind],
        "company_size": _pool(_SIZES)[size_idx],
        "employees": employees,
        "annual_revenue": revenue,
        "founded": founded,
        "region": _pool(_REG_NAMES)[reg],
        "need_type": _pool(_NEED_TYPES)[need],
        "need_description": _pool(_NEED_DESC)[need, pick3[0]],
        "pain_points": _pool(_PAIN)[need, pick3[1]],
        "need_tags": _pool(_NEED_TAGS)[need, pick3[2]],
        "budget": _pool(_BUDGETS)[size_idx, rng.integers(0, 5, n)],
        "purchase_timeline": timeline,
        "decision_process": _pool(_DECISION)[rng.integers(0, len(_DECISION), n)],
        "existing_solution": _pool(_EXISTING)[rng.integers(0, len(_EXISTING), n)],
        "stage": _pool(_STAGE_TEXT)[stage],
        "grade": grade,
        "priority": priority,
        "value_grade": value_grade,
        "potential_rating": potential,
        "tags": tags,
        "match_score": score_text[match],
        "cooperation_score": score_text[coop],
        "competitor_contact": np.where(comp, "是", "否").astype(object),
        "competitor": np.where(comp, comp_name, np.nan),
        "competitor_notes": np.where(comp, comp_note, np.nan),
        "lead_source": _pool(_LEAD_SOURCES)[rng.choice(len(_LEAD_SOURCES), n, p=_LEAD_P)],
        "owner": owner,
        "_stage": stage,
        "_size": size_idx,
        "_team": _pool(_TEAMS)[team],
        "_area": _pool(_REG_AREA)[reg],
    }


def _person_names(n: int, rng: np.random.Generator) -> np.ndarray:
    surname = _pool(_SURNAMES)[rng.choice(len(_SURNAMES), n, p=_SURNAME_P)]
    given = _pool(_GIVEN)
    g1 = given[rng.integers(0, len(given), n)]
    g2 = np.where(rng.random(n) < 0.65, given[rng.integers(0, len(given), n)], "")
    return _cat(surname, g1, g2)


def _phones(area: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mostly mobiles (1[3-9] and 9 digits), some landlines with the city's area code."""
    n = len(area)
    mobile = (10 + rng.integers(3, 10, n)) * 10**9 + rng.integers(0, 10**9, n)
    local = rng.integers(2, 9, n) * 10**7 + rng.integers(0, 10**7, n)
    return np.where(rng.random(n) < 0.85, _obj(mobile), _cat(area, "-", local))


def _contacts(
    prof: dict[str, np.ndarray], rng: np.random.Generator, *, counts: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """One row per contact: customer fields repeated, contact fields differing."""
    if counts is None:
        counts = rng.choice([1, 2, 3], size=len(prof["customer_id"]), p=[0.45, 0.35, 0.20])
    rows = {col: np.repeat(values, counts) for col, values in prof.items()}
    n = len(rows["customer_id"])
    title = _pool(_TITLES)[rng.integers(0, len(_TITLES), n)]
    rows["contact_name"] = _person_names(n, rng)
    rows["contact_title"] = title[:, 0]
    rows["contact_phone"] = _phones(rows["_area"], rng)
    rows["contact_role"] = title[:, 1]
    return rows


def _frame(cols: dict[str, np.ndarray], table: str) -> pd.DataFrame:
    """Build a table's frame from column arrays, in spec order, with inferred dtypes."""
    names = TABLES[table].names
    df = pd.DataFrame({c: cols[c] for c in names}, columns=list(names)).infer_objects()
    # Whole numbers next to a blank row stay whole numbers (``39``, not ``39.0``).
    for col in df.columns[(df.dtypes == "float64").to_numpy()]:
        values = df[col].dropna()
        if (values == values.round()).all():
            df[col] = df[col].astype("Int64")
    return df


def _columns(df: pd.DataFrame) -> dict[str, np.ndarray]:
    return {c: df[c].to_numpy(dtype=object) for c in df.columns}


# ---------------------------------------------------------------------------------------------
# Orders, stage history, follow-ups
# ---------------------------------------------------------------------------------------------


def _orders(
    prof: pd.DataFrame, rng: np.random.Generator, *, as_of: pd.Timestamp, start: pd.Timestamp
) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Order lines; also each buyer's first order date and whether they churned."""
    n = len(prof)
    stage = prof["_stage"].to_numpy()
    buyer = (stage >= 4) | (rng.random(n) < 0.3)
    if not buyer.any():
        buyer[0] = True
    months = pd.period_range(start, as_of, freq="M")
    t = np.arange(len(months))
    weight = _SEASON[months.month - 1] * (1 + _GROWTH) ** (t / 12)
    size_factor = np.array([3.0, 1.5, 0.8, 0.5])[prof["_size"].to_numpy()]
    scale = rng.lognormal(0, 1.2, n) * size_factor

    n_months = len(months)
    late = max(n_months - 10, 1)  # churners' last order lies before the final ~9 months
    first_month = np.where(
        rng.random(n) < 0.3,
        rng.integers(0, n_months, n),
        rng.integers(0, max(int(n_months * 0.6), 1), n),
    )
    first_month = np.where(stage == 4, np.maximum(first_month, n_months - 12), first_month)
    first_month = np.clip(first_month, 0, n_months - 1)
    can_churn = buyer & (stage < 4) & (first_month <= late - 4)
    churn = can_churn & (rng.random(n) < 0.55)
    if can_churn.any() and not churn.any():
        churn[np.flatnonzero(can_churn)[0]] = True

    prices = np.array([p[1] for p in _PRODUCTS])
    cost_ratio = np.array([p[2] for p in _PRODUCTS])
    base_qty = np.array([p[3] for p in _PRODUCTS])
    records: list[tuple] = []
    as_of_day = as_of.normalize()
    for i in np.flatnonzero(buyer):
        last_month = int(rng.integers(first_month[i] + 1, late)) if churn[i] else n_months - 1
        span = np.arange(first_month[i], last_month + 1)
        active_years = len(span) / 12
        k = 1 + rng.poisson(min(1.4 * active_years * np.sqrt(scale[i]), 30))
        p = weight[span] / weight[span].sum()
        chosen = np.concatenate([[first_month[i]], rng.choice(span, k - 1, p=p)])
        for m in chosen:
            period = months[m]
            day = period.start_time + pd.Timedelta(days=int(rng.integers(0, period.days_in_month)))
            day = min(day, as_of_day)
            prod = rng.choice(len(_PRODUCTS), p=_PRODUCT_P)
            qty = max(1, int(round(base_qty[prod] * scale[i] * rng.uniform(0.5, 1.5))))
            if base_qty[prod] == 1:
                qty = min(qty, 12)
            list_price = prices[prod]
            unit = round(list_price * rng.uniform(0.8, 1.0), -2 if list_price >= 10_000 else -1)
            amount = qty * unit
            cost = round(amount * cost_ratio[prod] * rng.uniform(0.9, 1.1))
            records.append((i, day, _PRODUCTS[prod][0], qty, unit, amount, cost))

    orders = pd.DataFrame(
        records,
        columns=["_cust", "order_date", "product", "quantity", "unit_price", "amount", "cost"],
    )
    orders = orders.sort_values(["order_date", "_cust"], kind="stable").reset_index(drop=True)
    m = len(orders)
    age = (as_of_day - orders["order_date"]).dt.days.to_numpy()
    u = rng.random(m)
    share = rng.choice([0.3, 0.5, 0.7], m)
    paid_frac = np.where(
        age < 90,
        np.select([u < 0.4, u < 0.7], [0.0, share], 1.0),
        np.select([u < 0.03, u < 0.1], [0.0, share], 1.0),
    )
    orders["paid_amount"] = np.round(orders["amount"].to_numpy() * paid_frac)
    orders["gross_margin"] = orders["amount"] - orders["cost"]
    seq = orders.groupby("order_date").cumcount() + 1
    orders["order_id"] = (
        "SO" + orders["order_date"].dt.strftime("%Y%m%d") + seq.astype(str).str.zfill(3)
    )

    # A few refunds: same order id with -R, negative quantity and amount, paid back in full.
    n_ref = max(1, round(0.02 * m)) if m >= 10 else 0
    ref = orders.iloc[np.sort(rng.choice(m, n_ref, replace=False))].copy()
    full = rng.random(n_ref) < 0.5
    qty = np.where(full | (ref["quantity"].to_numpy() == 1), ref["quantity"], 1)
    frac = qty / ref["quantity"].to_numpy()
    ref["order_id"] = ref["order_id"] + "-R"
    delay = pd.to_timedelta(rng.integers(7, 45, n_ref), unit="D")
    ref["order_date"] = (ref["order_date"] + delay).clip(upper=as_of_day)
    ref["quantity"] = -qty
    ref["amount"] = -qty * ref["unit_price"]
    ref["cost"] = -np.round(ref["cost"] * frac)
    ref["gross_margin"] = ref["amount"] - ref["cost"]
    ref["paid_amount"] = ref["amount"]
    orders = pd.concat([orders, ref]).sort_values("order_date", kind="stable")

    cust = prof.iloc[orders["_cust"].to_numpy()]
    for col in ("customer_id", "customer_name", "owner", "lead_source"):
        orders[col] = cust[col].to_numpy()
    orders["team"] = cust["_team"].to_numpy()
    orders["region"] = cust["region"].to_numpy()
    first = orders.groupby("_cust")["order_date"].min()
    first_order = pd.Series(pd.NaT, index=range(n), dtype="datetime64[us]")
    first_order.loc[first.index] = first.to_numpy()
    orders["order_date"] = orders["order_date"].dt.strftime("%Y-%m-%d")
    for col in ("quantity", "unit_price", "amount", "cost", "gross_margin", "paid_amount"):
        orders[col] = orders[col].astype(np.int64)
    return orders.reset_index(drop=True), first_order, pd.Series(churn)


def _stage_dates(end: pd.Timestamp, n_stages: int, rng: np.random.Generator) -> list:
    gaps = 7 + rng.exponential(25, n_stages - 1).round().astype(int)
    back = np.concatenate([[0], np.cumsum(gaps[::-1])])[::-1]
    return [end - pd.Timedelta(days=int(b)) for b in back]


def _open_dates(
    stage: int, floor: pd.Timestamp, as_of: pd.Timestamp, rng: np.random.Generator
) -> list:
    """Increasing stage dates of an open or lost deal, after ``floor`` and by ``as_of``."""
    gaps = 7 + rng.exponential(25, stage).round().astype(int)
    total = int(gaps.sum())
    begin = as_of - pd.Timedelta(days=total + int(rng.integers(0, 300)))
    begin = min(max(begin, floor), as_of - pd.Timedelta(days=stage))
    room = (as_of - begin).days
    if total > room:
        gaps = np.maximum(1, np.floor(gaps * room / total)).astype(int)
    offsets = np.concatenate([[0], np.cumsum(gaps)])
    return [min(begin + pd.Timedelta(days=int(o)), as_of) for o in offsets]


def _stage_history(
    prof: pd.DataFrame,
    orders: pd.DataFrame,
    first_order: pd.Series,
    rng: np.random.Generator,
    *,
    as_of: pd.Timestamp,
    start: pd.Timestamp,
) -> tuple[pd.DataFrame, pd.Series]:
    """Stage history of each customer's opportunities; also each customer's first contact day."""
    first_amount = orders.assign(_d=pd.to_datetime(orders["order_date"]))
    first_amount = first_amount[first_amount["amount"] > 0].sort_values("_d", kind="stable")
    first_amount = first_amount.groupby("_cust")["amount"].first()
    size_value = np.array([400_000, 150_000, 60_000, 25_000])
    rows: list[tuple] = []
    acquired = pd.Series(pd.NaT, index=range(len(prof)), dtype="datetime64[us]")
    n_opp = 0
    for i, (stage, size) in enumerate(zip(prof["_stage"], prof["_size"], strict=True)):
        opps: list[tuple[list, str, float, str | float]] = []
        if pd.notna(first_order[i]):
            # The won opportunity closes on the first order; after-sales follows it.
            closed = first_order[i]
            dates = _stage_dates(closed, 5, rng)
            if stage == 5:
                care = closed + pd.Timedelta(days=int(rng.integers(20, 90)))
                dates.append(min(care, as_of))
            opps.append((dates, "won", float(first_amount.get(i, size_value[size])), np.nan))
        if stage < 4:
            # An open or lost opportunity at the customer's current stage.
            amount = round(size_value[size] * rng.lognormal(0, 0.5), -3)
            floor = opps[0][0][-1] + pd.Timedelta(days=30) if opps else start
            dates = _open_dates(stage, floor, as_of, rng)
            lost = rng.random() < 0.3
            reason = _LOST_REASONS[rng.integers(0, len(_LOST_REASONS))] if lost else np.nan
            opps.append((dates, "lost" if lost else "open", amount, reason))
        acquired[i] = opps[0][0][0]
        for dates, outcome, amount, reason in opps:
            n_opp += 1
            for k, day in enumerate(dates):
                rows.append((f"OP{n_opp:05d}", i, _STAGE_TEXT[k], day, amount, outcome, reason))
    stages = pd.DataFrame(
        rows,
        columns=[
            "opportunity_id",
            "_cust",
            "stage",
            "entered_at",
            "amount",
            "outcome",
            "lost_reason",
        ],
    )
    cust = prof.iloc[stages["_cust"].to_numpy()]
    for col in ("customer_id", "customer_name", "owner", "lead_source"):
        stages[col] = cust[col].to_numpy()
    stages["entered_at"] = stages["entered_at"].dt.strftime("%Y-%m-%d")
    stages["amount"] = stages["amount"].astype(np.int64)
    return stages, acquired


def _sentiment(stage: np.ndarray, rng: np.random.Generator, *, lost: np.ndarray) -> np.ndarray:
    """0 positive, 1 neutral, 2 negative; later stages warmer, lost deals colder."""
    u = rng.random(len(stage))
    pos = 0.2 + 0.1 * stage - 0.15 * lost
    neg = 0.2 + 0.3 * lost - 0.03 * stage
    return np.where(u < pos, 0, np.where(u < pos + (1 - pos - neg), 1, 2))


def _followups(
    prof: pd.DataFrame,
    acquired: pd.Series,
    churned: pd.Series,
    rng: np.random.Generator,
    *,
    as_of: pd.Timestamp,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Follow-up log; also each customer's latest follow-up (for the customers table)."""
    stage = prof["_stage"].to_numpy()
    rows: list[tuple] = []
    for i in range(len(prof)):
        first = acquired[i]
        dormant = churned[i] or rng.random() < 0.12
        gap = int(rng.integers(185, 420)) if dormant else int(rng.integers(0, 60))
        last = max(as_of - pd.Timedelta(days=gap), first)
        k = 1 + rng.poisson(1 + 1.0 * stage[i] + (0 if dormant else 1.5))
        span = max((last - first).days, 0)
        offsets = np.sort(rng.integers(0, span + 1, k - 1)) if k > 1 else np.array([], int)
        days = [first + pd.Timedelta(days=int(o)) for o in offsets] + [last]
        at_stage = np.floor(np.linspace(0, stage[i], k + 1)[1:]).astype(int)
        lost = np.full(k, dormant and stage[i] < 4)
        senti = _sentiment(at_stage, rng, lost=lost)
        for day, s, f in zip(days, at_stage, senti, strict=True):
            rows.append(
                (
                    i,
                    day.strftime("%Y-%m-%d"),
                    _METHODS[rng.choice(len(_METHODS), p=_METHOD_P)],
                    _SUMMARIES[s, rng.integers(0, 3)],
                    _FEEDBACK[f, rng.integers(0, 4)],
                    _NEXT_STEPS[s, rng.integers(0, 3)],
                )
            )
    log = pd.DataFrame(
        rows,
        columns=[
            "_cust",
            "followup_date",
            "contact_method",
            "contact_summary",
            "feedback",
            "next_step",
        ],
    )
    cust = prof.iloc[log["_cust"].to_numpy()]
    for col in ("customer_id", "customer_name", "owner"):
        log[col] = cust[col].to_numpy()
    log = log.sort_values(["followup_date", "_cust"], kind="stable").reset_index(drop=True)
    last = log.sort_values(["_cust", "followup_date"], kind="stable").groupby("_cust").last()
    last = last.rename(columns={"followup_date": "last_contact_date"}).reindex(range(len(prof)))
    return log, last


# ---------------------------------------------------------------------------------------------
# Channel costs, targets, market
# ---------------------------------------------------------------------------------------------


def _channel_costs(
    rng: np.random.Generator, *, as_of: pd.Timestamp, start: pd.Timestamp
) -> pd.DataFrame:
    months = pd.period_range(start, as_of, freq="M")
    base = {
        "展会": 15_000,
        "线上推广": 45_000,
        "转介绍": 8_000,
        "电话营销": 25_000,
        "官网咨询": 10_000,
    }
    rows = []
    for t, period in enumerate(months):
        growth = (1 + _GROWTH / 2) ** (t / 12)
        for channel, cost in base.items():
            if channel == "展会" and period.month in (3, 4, 9, 11):
                cost = cost * 8
            value = round(cost * growth * rng.uniform(0.8, 1.2), -2)
            rows.append((channel, period.strftime("%Y-%m"), int(value)))
    return pd.DataFrame(rows, columns=["channel", "period", "cost"])


def _targets(
    orders: pd.DataFrame, rng: np.random.Generator, *, as_of: pd.Timestamp, start: pd.Timestamp
) -> pd.DataFrame:
    quarters = pd.period_range(start, as_of, freq="Q")
    q = pd.PeriodIndex(pd.to_datetime(orders["order_date"]), freq="Q")
    actual = orders.groupby(["owner", q])["amount"].sum()
    reps = [(rep, team) for team, group in zip(_TEAMS, _TEAM_REPS, strict=True) for rep in group]
    rows = []
    for rep, team in reps:
        for period in quarters:
            done = float(actual.get((rep, period), 0.0))
            target = round(max(done, 100_000) * rng.uniform(1.05, 1.3), -4)
            rows.append((rep, team, f"{period.year}Q{period.quarter}", int(target)))
    return pd.DataFrame(rows, columns=["owner", "team", "period", "target"])


def _market(rng: np.random.Generator) -> pd.DataFrame:
    industries = {
        "制造业": (850, "智能制造专项补贴", "工业互联网、设备数据采集"),
        "信息技术": (620, "数字化转型补贴、信创替代", "AI辅助分析、低代码"),
        "零售": (380, "促消费政策", "全渠道会员运营、实时补货"),
        "医疗": (290, "医疗数据安全规范趋严", "医疗数据治理、合规审计"),
        "金融": (540, "金融科技监管规范", "智能风控、数据中台"),
        "教育": (160, "职业教育法修订", "在线学习平台、学员运营"),
    }
    products = {
        "云图BI": ("自助BI", "按用户数订阅，每人每年3000元", "品牌知名度高", "定制化弱"),
        "数智通": ("数据中台", "项目制，50万起", "大客户案例多", "实施周期长"),
        "慧策CRM": ("SaaS CRM", "按账号订阅，每账号每年1200元", "上手快、价格低", "复杂流程支持弱"),
        "橙果ERP": ("中小企业ERP", "买断+年费，10-30万", "财务模块成熟", "界面老旧"),
        "星河云": ("云存储与协同", "按容量计费", "价格低、弹性好", "行业方案少"),
        "远帆软件": ("行业解决方案", "项目制，按需报价", "行业理解深", "产品标准化程度低"),
    }
    moves = [
        "降价促销",
        "推出行业版",
        "发布AI功能",
        "扩充华南销售团队",
        "与云厂商合作",
        "获得新一轮融资",
    ]
    rows = []
    for industry, (size, policy, trend) in industries.items():
        mkt_size = round(size * rng.uniform(0.9, 1.1), 1)
        growth = round(rng.uniform(0.06, 0.22), 2)
        for name in rng.choice(_COMPETITORS, 3, replace=False):
            core, pricing, strength, weakness = products[str(name)]
            rows.append(
                (
                    industry,
                    mkt_size,
                    growth,
                    policy,
                    trend,
                    str(name),
                    f"{int(rng.integers(5, 30))}%",
                    core,
                    pricing,
                    strength,
                    weakness,
                    moves[int(rng.integers(0, len(moves)))],
                    f"{industry}客户数字化预算增加",
                    "竞品价格战压缩利润",
                    "突出实施速度和行业案例，重点客户配专属顾问",
                )
            )
    return pd.DataFrame(rows, columns=list(TABLES["market"].names))


# ---------------------------------------------------------------------------------------------
# Mess
# ---------------------------------------------------------------------------------------------


def _pick(n: int, rng: np.random.Generator, rate: float, minimum: int = 1) -> np.ndarray:
    """Random row positions: about ``rate * n`` of them, at least ``minimum``."""
    m = min(n, max(minimum, round(rate * n)))
    return rng.choice(n, m, replace=False)


def _mess(
    values: np.ndarray,
    rng: np.random.Generator,
    variants: Callable[[pd.Series], list[pd.Series]],
    *,
    n_variants: int,
    bad: tuple[object, ...] = (),
    rate: float = _MESS_RATE,
    eligible: np.ndarray | None = None,
) -> np.ndarray:
    """Rewrite about ``rate`` of ``values`` in other forms, then plant ~1% ``bad`` values.

    ``variants`` receives the chosen cells as a Series and returns one Series per form; the forms
    are cycled over the chosen cells, so each appears whenever enough cells are chosen.
    """
    out = np.array(values, dtype=object)
    pool = np.arange(len(out)) if eligible is None else np.flatnonzero(eligible)
    m = min(len(pool), max(n_variants, round(rate * len(out))))
    idx = rng.choice(pool, m, replace=False)
    forms = variants(pd.Series(out[idx], dtype=object))
    which = np.arange(m) % len(forms)
    new = np.empty(m, dtype=object)
    for k, form in enumerate(forms):
        new[which == k] = form.to_numpy(dtype=object)[which == k]
    out[idx] = new
    if bad:
        bad_idx = _pick(len(out), rng, _BAD_RATE)
        out[bad_idx] = _pool(bad)[np.arange(len(bad_idx)) % len(bad)]
    return out


def _fullwidth(s: pd.Series) -> pd.Series:
    return s.astype(str).str.translate(_FULLWIDTH)


def _mess_dates(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """ISO dates → ``2024/3/15``, ``2024年3月15日``, ``2024.3.15``, Excel serials, with times."""

    def forms(s: pd.Series) -> list[pd.Series]:
        days = np.asarray(s.to_numpy(dtype=str), dtype="datetime64[D]")
        y = days.astype("datetime64[Y]").astype(int) + 1970
        m = days.astype("datetime64[M]").astype(int) % 12 + 1
        d = (days - days.astype("datetime64[M]")).astype(int) + 1
        serial = (days - np.datetime64("1899-12-30", "D")).astype(int)
        hh = np.char.zfill(rng.integers(8, 19, len(s)).astype(str), 2)
        mm = _pool(["00", "15", "30", "45"])[rng.integers(0, 4, len(s))]
        return [
            pd.Series(_cat(y, "/", m, "/", d)),
            pd.Series(_cat(y, "年", m, "月", d, "日")),
            pd.Series(_cat(y, ".", m, ".", d)),
            pd.Series(serial.astype(object)),
            pd.Series(_cat(s.to_numpy(dtype=str), " ", hh, ":", mm)),
        ]

    return _mess(values, rng, forms, n_variants=5, bad=("2024-13-45", "2023-02-30", "2024-00-12"))


def _mess_amounts(values: np.ndarray, rng: np.random.Generator, *, bad: bool = True) -> np.ndarray:
    """Plain amounts → ``¥1,234.00``, ``￥1234``, ``1.28万``, ``1,234元`` (refunds left alone)."""

    def forms(s: pd.Series) -> list[pd.Series]:
        num = pd.to_numeric(s)
        comma = num.map("{:,.0f}".format)
        wan = (num / 10_000).map("{:.4f}".format).str.rstrip("0").str.rstrip(".") + "万"
        return [
            "¥" + num.map("{:,.2f}".format),
            "￥" + num.astype("int64").astype(str),
            wan.where(num >= 10_000, comma + "元"),
            comma + "元",
        ]

    positive = pd.to_numeric(pd.Series(values)).to_numpy() > 0
    return _mess(
        values,
        rng,
        forms,
        n_variants=4,
        bad=("abc", "待定", "1,2,3") if bad else (),
        eligible=positive,
    )


def _mess_phones(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Phones → ``+86-138-0013-8000``, ``138 0013 8000``, ``(0755)88886666``, full-width digits."""

    def forms(s: pd.Series) -> list[pd.Series]:
        v = s.astype(str)
        mobile = ~v.str.contains("-", regex=False)
        area = v.str.split("-").str[0]
        local = v.str.split("-").str[-1]
        return [
            ("+86-" + v.str[:3] + "-" + v.str[3:7] + "-" + v.str[7:]).where(
                mobile, "(" + area + ")" + local
            ),
            (v.str[:3] + " " + v.str[3:7] + " " + v.str[7:]).where(mobile, area + " " + local),
            _fullwidth(v),
            ("+86 " + v).where(mobile, "(" + area + ")-" + local),
        ]

    return _mess(values, rng, forms, n_variants=4, bad=("12345", "138001380", "无"))


def _mess_scores(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``4分`` → full-width ``４``, ``4.0``, ``4``, ``４分``."""

    def forms(s: pd.Series) -> list[pd.Series]:
        digit = s.astype(str).str.replace("分", "", regex=False)
        return [_fullwidth(digit), digit + ".0", digit, _fullwidth(digit) + "分"]

    return _mess(values, rng, forms, n_variants=4, bad=("9分", "0分", "很好"))


def _mess_stages(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``②需求确认`` → ``2-需求确认``, ``需求确认``, ``2.需求确认``."""

    def forms(s: pd.Series) -> list[pd.Series]:
        v = s.astype(str)
        number = v.str[0].map({c: str(k) for k, c in enumerate("①②③④⑤⑥", start=1)})
        plain = v.str[1:]
        return [number + "-" + plain, plain, number + "." + plain]

    return _mess(values, rng, forms, n_variants=3, bad=("暂停",))


def _mess_grades(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``重点`` → ``重点客户`` or with a leading space."""
    return _mess(values, rng, lambda s: [s + "客户", " " + s], n_variants=2)


def _cosmetic_company(values: pd.Series) -> pd.Series:
    """Trailing space, ideographic space, or half-width brackets / a leading space (cycled)."""
    v = values.astype(str)
    k = np.arange(len(v)) % 3
    half = v.str.replace("（", "(", regex=False).str.replace("）", ")", regex=False)
    third = np.where(v.str.contains("（", regex=False), half, " " + v)
    out = np.where(k == 0, v + " ", np.where(k == 1, v + "\u3000", third))
    return pd.Series(out, index=values.index, dtype=object)


def _mess_company(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Stray spaces on some names; half-width brackets on some ``（城市）`` names."""
    out = _mess(values, rng, lambda s: [_cosmetic_company(s)], n_variants=3, rate=_MESS_RATE / 2)
    bracketed = pd.Series(out, dtype=object).astype(str).str.contains("（", regex=False)
    if not bracketed.any():
        return out

    def half_width(s: pd.Series) -> list[pd.Series]:
        return [s.str.replace("（", "(", regex=False).str.replace("）", ")", regex=False)]

    return _mess(out, rng, half_width, n_variants=1, rate=0.03, eligible=bracketed.to_numpy())


def _mess_person(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Trailing spaces and ideographic spaces inside names (``王　磊``)."""

    def forms(s: pd.Series) -> list[pd.Series]:
        v = s.astype(str)
        return [v + " ", v.str[0] + "\u3000" + v.str[1:], v + "\u3000"]

    return _mess(values, rng, forms, n_variants=3)


def _mess_customer_cells(
    cols: dict[str, np.ndarray], rng: np.random.Generator
) -> dict[str, np.ndarray]:
    out = dict(cols)
    out["customer_name"] = _mess_company(out["customer_name"], rng)
    out["contact_name"] = _mess_person(out["contact_name"], rng)
    out["contact_phone"] = _mess_phones(out["contact_phone"], rng)
    out["last_contact_date"] = _mess_dates(out["last_contact_date"], rng)
    out["stage"] = _mess_stages(out["stage"], rng)
    out["grade"] = _mess_grades(out["grade"], rng)
    out["match_score"] = _mess_scores(out["match_score"], rng)
    out["cooperation_score"] = _mess_scores(out["cooperation_score"], rng)
    return out


def _take(cols: dict[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
    return {c: v[idx] for c, v in cols.items()}


def _duplicate_customers(
    cols: dict[str, np.ndarray], rng: np.random.Generator, n: int
) -> dict[str, np.ndarray]:
    """Type customers again: a cosmetic name difference, another contact, often no id."""
    size = len(cols["customer_id"])
    dup = _take(cols, rng.choice(size, min(n, size), replace=False))
    m = len(dup["customer_id"])
    names = pd.Series(dup["customer_name"], dtype=object).astype(str).str.strip()
    dup["customer_name"] = _cosmetic_company(names).to_numpy()
    dup["customer_id"] = np.where(rng.random(m) < 0.5, np.nan, dup["customer_id"])
    title = _pool(_TITLES)[rng.integers(0, len(_TITLES), m)]
    dup["contact_name"] = _person_names(m, rng)
    dup["contact_title"] = title[:, 0]
    dup["contact_phone"] = _phones(_pool(_REG_AREA)[rng.integers(0, len(_REG_AREA), m)], rng)
    dup["contact_role"] = title[:, 1]
    return dup


def _blank_rows(cols: dict[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    return {c: np.full(n, np.nan, dtype=object) for c in cols}


def _insert(
    cols: dict[str, np.ndarray],
    extra: dict[str, np.ndarray],
    rng: np.random.Generator,
    *,
    after: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Insert the ``extra`` rows at random positions (or right after rows ``after``)."""
    n = len(next(iter(cols.values())))
    m = len(next(iter(extra.values())))
    pos = rng.integers(0, n + 1, m) - 0.5 if after is None else np.asarray(after) + 0.5
    order = np.argsort(np.concatenate([np.arange(n, dtype=float), pos]), kind="stable")
    return {
        c: np.concatenate([np.asarray(v, dtype=object), np.asarray(extra[c], dtype=object)])[order]
        for c, v in cols.items()
    }


def _mess_customers(df: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    cols = _mess_customer_cells(_columns(df), rng)
    cols = _insert(cols, _duplicate_customers(cols, rng, max(1, round(0.04 * len(df)))), rng)
    return _frame(_insert(cols, _blank_rows(cols, 1), rng), "customers")


def _mess_followups(df: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    cols = _columns(df)
    cols["followup_date"] = _mess_dates(cols["followup_date"], rng)
    cols["customer_name"] = _mess_company(cols["customer_name"], rng)
    cols["owner"] = _mess_person(cols["owner"], rng)
    return _frame(_insert(cols, _blank_rows(cols, 1), rng), "followups")


def _mess_orders(df: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    cols = _columns(df)
    cols["order_date"] = _mess_dates(cols["order_date"], rng)
    cols["amount"] = _mess_amounts(cols["amount"], rng)
    for col in ("unit_price", "paid_amount", "cost"):
        cols[col] = _mess_amounts(cols[col], rng, bad=False)
    cols["customer_name"] = _mess_company(cols["customer_name"], rng)
    twice = np.sort(_pick(len(df), rng, 0.01))
    cols = _insert(cols, _take(cols, twice), rng, after=twice)
    return _frame(_insert(cols, _blank_rows(cols, 1), rng), "orders")


#: The sample files: table name → (file name, encoding); ``None`` means an Excel workbook.
SAMPLE_FILES: dict[str, tuple[str, str | None]] = {
    "customers": ("客户信息表.csv", "gb18030"),
    "orders": ("成交明细.xlsx", None),
    "followups": ("跟进记录.csv", "utf-8-sig"),
    "stages": ("商机阶段记录.csv", "utf-8-sig"),
    "channel_costs": ("渠道投入.csv", "utf-8-sig"),
    "targets": ("销售目标.csv", "utf-8-sig"),
    "market": ("市场分析汇总表.csv", "utf-8-sig"),
}


def write_sample(tables: dict[str, pd.DataFrame], folder: str | os.PathLike) -> list[Path]:
    """Write tables as a sales team sends them: Chinese headers, GB18030 and BOM CSVs, an xlsx.

    Parameters
    ----------
    tables : dict
        As returned by :func:`make_tables`; tables missing from it are skipped.
    folder : path
        Where to write; created if missing. File names and encodings are :data:`SAMPLE_FILES`.

    Returns
    -------
    list of Path
        The files written.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for table, (file_name, encoding) in SAMPLE_FILES.items():
        if table not in tables:
            continue
        path = folder / file_name
        frame = to_template(tables[table], table)
        if encoding is None:
            frame.to_excel(path, sheet_name=TABLES[table].title, index=False)
        else:
            frame.to_csv(path, index=False, encoding=encoding)
        written.append(path)
    return written
